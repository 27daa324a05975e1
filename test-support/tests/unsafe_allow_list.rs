//! Where `unsafe` may live, enforced: the workspace denies `unsafe_code`, every member takes
//! the workspace's lints, and only the modules of the allow-list opt out (the plugin loader,
//! `abi::guest`, the LD_PRELOAD library). A new allow of `unsafe_code` anywhere else fails here.
#![allow(clippy::panic, clippy::indexing_slicing, reason = "tests")]

use upstart_test_support::{read, relative, repo_root, rust_sources};

/// The files that may allow `unsafe_code`, and why.
const ALLOWED: &[(&str, &str)] = &[
    (
        "plugin-host/src/loader.rs",
        "the plugin loader: the C boundary of plugins",
    ),
    ("abi/src/guest.rs", "the plugin side of the C ABI"),
    (
        "shim/preload/src/lib.rs",
        "the LD_PRELOAD library's interposed C entry points",
    ),
    (
        "compiler/src/codegen/plugin.rs",
        "generated code's `no_mangle` entry point (quoted, no `unsafe` block)",
    ),
];

/// The start of an allow attribute, in pieces so that this file's own text does not match.
const ALLOW: &str = concat!("[allow", "(");

/// Whether `text` has an `allow(...)` attribute (`#[...]` or `#![...]`) naming `unsafe_code`.
fn allows_unsafe(text: &str) -> bool {
    text.match_indices(ALLOW).any(|(at, _)| {
        let rest = &text[at..];
        let end = rest.find(')').unwrap_or(rest.len());
        rest[..end].contains("unsafe_code")
    })
}

#[test]
fn only_the_allow_list_allows_unsafe_code() {
    let files = rust_sources();
    let found: Vec<String> = files
        .iter()
        .filter(|p| allows_unsafe(&read(p)))
        .map(|p| relative(p))
        .collect();
    let allowed: Vec<String> = ALLOWED.iter().map(|(p, _)| p.to_string()).collect();
    let extra: Vec<&String> = found.iter().filter(|p| !allowed.contains(p)).collect();
    let gone: Vec<&String> = allowed.iter().filter(|p| !found.contains(p)).collect();
    assert!(
        extra.is_empty(),
        "`unsafe_code` allowed outside the allow-list: {extra:?}"
    );
    assert!(
        gone.is_empty(),
        "allow-list entries that no longer allow `unsafe_code` (update the list): {gone:?}"
    );
}

#[test]
fn every_member_takes_the_workspace_lints() {
    let manifest = read(&repo_root().join("Cargo.toml"));
    let members = manifest
        .lines()
        .find(|l| l.trim_start().starts_with("members"))
        .unwrap_or_else(|| panic!("no `members` line in the workspace's Cargo.toml"));
    let names: Vec<&str> = members
        .split('"')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s)
        .collect();
    assert!(names.len() > 5, "too few members: {names:?}");
    for name in names {
        let text = read(&repo_root().join(name).join("Cargo.toml"));
        assert!(
            text.contains("[lints]\nworkspace = true"),
            "`{name}` does not take the workspace's lints (`[lints] workspace = true`)"
        );
    }
}

#[test]
fn the_scan_sees_an_allow_spread_over_lines() {
    // Written in pieces, so that this file does not allow `unsafe_code` in the scan's eyes.
    let allow = ALLOW;
    assert!(allows_unsafe(&format!(
        "#!{allow}\n    unsafe_code,\n    reason = \"x\"\n)]"
    )));
    assert!(allows_unsafe(&format!("#{allow}unsafe_code)]")));
    assert!(!allows_unsafe("#![deny(unsafe_code)]"));
    assert!(!allows_unsafe("#[allow(dead_code)] fn unsafe_code() {}"));
}
