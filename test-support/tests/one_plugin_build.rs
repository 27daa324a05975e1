//! Tests build plugins from specs one way, `upstart_test_support::plugins::build`: no test,
//! test support module or benchmark calls the compiler's build or `upstartc compile` itself
//! (the tests of `upstartc compile`, and the benchmark that times it, excepted).
#![allow(clippy::panic, reason = "tests")]

use upstart_test_support::{read, relative, rust_sources};

/// The ways a plugin was built before there was one (in pieces, so that this file does not
/// match).
const OTHER_WAYS: &[&str] = &[concat!("build_plugin", "("), concat!("build::compile", "(")];

/// Files allowed to build plugins otherwise, and why.
const EXCEPTED: &[(&str, &str)] = &[
    ("test-support/src/plugins.rs", "the one way"),
    (
        "compiler/benches/translate.rs",
        "times `upstartc compile` cold, warm and cached, with its own cache",
    ),
];

/// Whether `path` is test code: under a `tests/` or `benches/` folder, or the e2e package.
fn is_test_code(path: &str) -> bool {
    path.starts_with("tests/") || path.contains("/tests/") || path.contains("/benches/")
}

#[test]
fn tests_build_plugins_one_way() {
    let mut others = Vec::new();
    for path in rust_sources() {
        let name = relative(&path);
        if !is_test_code(&name) || EXCEPTED.iter().any(|(p, _)| *p == name) {
            continue;
        }
        let text = read(&path);
        if let Some(way) = OTHER_WAYS.iter().find(|w| text.contains(*w)) {
            others.push(format!("{name} ({way}...)"));
        }
    }
    assert!(
        others.is_empty(),
        "tests building plugins another way than upstart_test_support::plugins::build: {others:?}"
    );
}
