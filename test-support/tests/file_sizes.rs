//! The size of a source file, enforced: no Rust file of the workspace is over
//! [`MAX_LINES`] lines, so that a module that grows past it is split by topic when it does, not
//! found later (ARCHITECTURE.md names this invariant).
#![allow(clippy::panic, reason = "tests")]

use upstart_test_support::{read, relative, rust_sources};

/// The most lines a source file may have.
const MAX_LINES: usize = 800;

#[test]
fn no_rust_file_is_over_the_line_limit() {
    let over: Vec<String> = rust_sources()
        .iter()
        .filter_map(|path| {
            let lines = read(path).lines().count();
            (lines > MAX_LINES).then(|| format!("{} ({lines} lines)", relative(path)))
        })
        .collect();
    assert!(
        over.is_empty(),
        "over {MAX_LINES} lines, split by topic: {}",
        over.join(", ")
    );
}
