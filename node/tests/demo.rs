//! `upstart demo` end to end: it builds what it needs, upgrades its cluster under load, prints
//! the summary and exits 0.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "tests"
)]

use std::process::Command;

/// `upstart demo --plain ARGS...` in a temporary folder; its stdout, once it exited 0.
fn demo(args: &[&str]) -> String {
    let ws = upstart::demo::build::workspace();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_upstart"))
        .args(["demo", "--plain"])
        .args(args)
        .arg("--dir")
        .arg(dir.path())
        // Its own target directory: the outer cargo holds the lock of the workspace's.
        .arg("--target-dir")
        .arg(ws.join("target").join("node-tests"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Asserts that the demo's closing summary has each node's row end in `version`.
fn summary_says_every_node_runs(stdout: &str, version: char) {
    for node in ["n1", "n2", "n3"] {
        let row = stdout
            .lines()
            .find(|l| l.starts_with(&format!("    {node} ")))
            .unwrap_or_else(|| panic!("no summary row for {node}:\n{stdout}"));
        assert!(row.trim_end().ends_with(version), "{row}");
    }
}

#[test]
fn the_demo_upgrades_its_cluster_without_a_failed_call() {
    let stdout = demo(&["--healthy-for", "1s", "--timeout", "120"]);
    assert!(stdout.contains("[6/6]"), "{stdout}");
    // Authentication and enrollment are on: each node was enrolled with its own key.
    for node in ["n1", "n2", "n3"] {
        assert!(
            stdout.contains(&format!("node {node}: enrolled with key ")),
            "{stdout}"
        );
    }
    assert!(
        stdout.contains("ok: no failed call, no lost write"),
        "{stdout}"
    );
    assert!(stdout.contains("0 failed, 0 wrong"), "{stdout}");
    summary_says_every_node_runs(&stdout, '2');
}

#[test]
fn the_demo_rolls_back_with_every_write_still_there() {
    let stdout = demo(&["--rollback", "--healthy-for", "1s", "--timeout", "150"]);
    assert!(stdout.contains("[7/7]"), "{stdout}");
    assert!(stdout.contains("0 failed, 0 wrong"), "{stdout}");
    assert!(
        stdout.contains("the writes taken at version 2 were carried back (every one read back"),
        "{stdout}"
    );
    // Back at version 1 everywhere.
    summary_says_every_node_runs(&stdout, '1');
}

/// The Python example (state in SQLite) upgraded, then rolled back through the spec's reverse
/// transform of the database.
#[test]
fn the_demo_upgrades_and_rolls_back_the_python_sqlite_example_without_a_failed_call() {
    let stdout = demo(&[
        "--app",
        "kvsql",
        "--rollback",
        "--healthy-for",
        "1s",
        "--timeout",
        "150",
    ]);
    assert!(stdout.contains("[7/7]"), "{stdout}");
    assert!(
        stdout.contains("the writes taken at version 2 were carried back"),
        "{stdout}"
    );
    assert!(stdout.contains("kvsql-1-2"), "{stdout}");
    assert!(
        stdout.contains("ok: no failed call, no lost write"),
        "{stdout}"
    );
    assert!(stdout.contains("0 failed, 0 wrong"), "{stdout}");
}
