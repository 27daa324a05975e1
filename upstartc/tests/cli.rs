//! The `upstartc` binary facing hostile input: a spec far too large is refused before it is
//! read, a diagnostic on a megabyte-long line shows the line cut around its labels, and output
//! into a closed pipe (`upstartc explain U0060 | head -1`) ends quietly instead of panicking.
#![allow(clippy::unwrap_used, reason = "tests")]

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A fresh directory for one test (parallel-safe: named by test and process).
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("upstartc-cli-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn upstartc() -> Command {
    Command::new(env!("CARGO_BIN_EXE_upstartc"))
}

/// A 50 MB spec (one long line, as found) is refused at once, with the limit in the message;
/// `check`, `verify`, `compile` and `fmt` alike. Before, `check` parsed it for over a minute
/// and echoed the whole line in its diagnostic.
#[test]
fn a_spec_over_the_size_cap_is_refused_before_it_is_read() {
    let dir = scratch("huge");
    let path = dir.join("huge.ups");
    let mut text = String::from("upgrade big 1 -> 2 ");
    text.push_str(&"x".repeat(50_000_000));
    std::fs::write(&path, &text).unwrap();
    for args in [
        vec!["check"],
        vec!["verify"],
        vec!["compile"],
        vec!["fmt", "--check"],
    ] {
        let out = upstartc().args(&args).arg(&path).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let head: String = stderr.chars().take(600).collect();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {head}");
        assert!(
            stderr.contains("is 48 MiB, more than the 8 MiB a spec may have"),
            "{args:?}: {head}"
        );
        assert!(stderr.len() < 1000, "{args:?}: {} bytes", stderr.len());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A diagnostic on a line of a megabyte shows a window of it around the label, with a note
/// saying where the label really is. Before, the whole line was echoed (twice: once per label).
#[test]
fn a_long_line_is_cut_around_the_labels() {
    let dir = scratch("long");
    let path = dir.join("long.ups");
    let line = format!(
        "invariant (old, new) {{ {}old.a == new.a @ }}",
        "old.a == new.a && ".repeat(60_000)
    );
    std::fs::write(&path, format!("upgrade d 1 -> 2\n{line}\n")).unwrap();
    let out = upstartc().arg("check").arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.len() < 4000,
        "{} bytes:\n{}",
        stderr.len(),
        &stderr[..4000.min(stderr.len())]
    );
    assert!(stderr.contains('@'), "{stderr}");
    assert!(stderr.contains("shown cut around the labels"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `upstartc explain U0060 | head -1`: the reader closes the pipe after one line. Every
/// command that writes to stdout ends without a panic (exit 101) when the pipe is closed.
#[test]
fn a_closed_stdout_pipe_is_not_a_panic() {
    let dir = scratch("pipe");
    let spec = dir.join("kv.ups");
    let kv = upstart_test_support::spec("kv/kv-1-2.ups");
    // Not formatted, so `fmt --check` lists it on stdout.
    std::fs::write(&spec, kv.replace("version 1 {", "version 1   {")).unwrap();
    let spec = spec.to_str().unwrap().to_string();
    for args in [
        vec!["explain", "U0060"],
        vec![
            "check",
            "--message-format",
            "json",
            "specs/ui/U0060-non_exhaustive_match.ups",
        ],
        vec!["verify", "--message-format", "json", spec.as_str()],
        vec!["fmt", spec.as_str(), "--check"],
    ] {
        let mut child = upstartc()
            .args(&args)
            .current_dir(upstart_test_support::repo_root())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Close the read end at once: every write of the child fails with EPIPE.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(101), "{args:?} panicked: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        // Status 141 when the child wrote into the closed pipe (128 + SIGPIPE).
        assert!(
            matches!(out.status.code(), Some(0 | 1 | 141)),
            "{args:?}: {:?} {stderr}",
            out.status
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A deliberate `disallow` marked `#[allow(disallowed_method)]` passes `--deny warnings`; the
/// same spec without the mark fails it.
#[test]
fn an_allowed_disallow_passes_deny_warnings() {
    let dir = scratch("allow");
    let root = upstart_test_support::repo_root();
    let text = std::fs::read_to_string(root.join("specs/ui/U0041-disallowed_method.ups")).unwrap();
    let marked = text.replace(
        "  contains(key) = disallow",
        "  #[allow(disallowed_method)]\n  contains(key) = disallow",
    );
    assert_ne!(marked, text);
    for (name, spec, code) in [("plain.ups", &text, 1), ("marked.ups", &marked, 0)] {
        let path = dir.join(name);
        std::fs::write(&path, spec).unwrap();
        let out = upstartc()
            .args(["check", "--deny", "warnings"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
