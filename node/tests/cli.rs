//! The `upstart` binary end to end: keygen, bundle (from the fixture plugin), verify, server,
//! push, status, pause, resume, rollback, and their errors.
#![allow(
    clippy::expect_used,
    clippy::panic,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

#[path = "../../runtime/tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

fn upstart(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_upstart"))
        .args(args)
        .env_remove("UPSTART_LOG")
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = upstart(args);
    assert!(
        out.status.success(),
        "upstart {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fails(args: &[&str]) -> String {
    let out = upstart(args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "upstart {args:?}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr).unwrap()
}

/// The server process, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn server(db: &Path, trust: &Path) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_upstart"))
        .args(["server", "--listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .arg("--trust")
        .arg(trust)
        .env("UPSTART_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let s = Server(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the server prints its address");
    let url = line
        .strip_prefix("upstart server listening on ")
        .expect(&line)
        .to_string();
    (s, url)
}

#[test]
fn keys_bundles_server_and_rollout_control() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let out = ok(&["keygen", "--out", &d("signing")]);
    assert!(
        out.starts_with(&format!(
            "wrote `{}` (private: keep it secret) and `{}.pub` (key id ",
            d("signing"),
            d("signing")
        )),
        "{out}"
    );
    let err = fails(&["keygen", "--out", &d("signing")]);
    assert_eq!(
        err,
        format!(
            "error: `{}` already exists: choose another path, or pass `--force` to replace it\n",
            d("signing")
        )
    );
    ok(&["keygen", "--out", &d("other")]);

    std::fs::write(d("calc-v2"), b"#!/bin/sh\necho 2\n").unwrap();
    let spec =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime/tests/fixture-plugin/spec-1-2.ups");
    let plugin = support::plugin_1_2().to_str().unwrap().to_string();
    let out = ok(&[
        "bundle",
        "--plugin",
        &plugin,
        "--binary",
        &d("calc-v2"),
        "--spec",
        spec.to_str().unwrap(),
        "--key",
        &d("signing"),
        "-o",
        &d("calc.bundle"),
    ]);
    assert!(
        out.starts_with(&format!(
            "wrote `{}`: fixture 1 -> 2, bundle ",
            d("calc.bundle")
        )),
        "{out}"
    );
    let err = fails(&[
        "bundle",
        "--plugin",
        &plugin,
        "--binary",
        &d("calc-v2"),
        "--spec",
        &d("calc-v2"),
        "--key",
        &d("signing"),
        "-o",
        &d("x.bundle"),
    ]);
    assert!(err.contains("has spec hash"), "{err}");
    let err = fails(&[
        "bundle",
        "--plugin",
        &plugin,
        "--binary",
        &d("calc-v2"),
        "--spec",
        spec.to_str().unwrap(),
        "--key",
        &d("signing.pub"),
        "-o",
        &d("x.bundle"),
    ]);
    assert!(err.contains("it is a public key"), "{err}");

    let out = ok(&["verify", &d("calc.bundle"), "--trust", &d("signing.pub")]);
    assert!(out.contains("verifies: fixture 1 -> 2"), "{out}");
    let err = fails(&["verify", &d("calc.bundle"), "--trust", &d("other.pub")]);
    assert!(err.contains("which is not trusted"), "{err}");
    let mut bytes = std::fs::read(d("calc.bundle")).unwrap();
    bytes.truncate(bytes.len() - 1);
    std::fs::write(d("cut.bundle"), &bytes).unwrap();
    let err = fails(&["verify", &d("cut.bundle"), "--trust", &d("signing.pub")]);
    assert!(err.starts_with(&format!("error: bundle `{}` does not verify: the bundle is truncated: it ends inside file `calc-v2`", d("cut.bundle"))), "{err}");

    let (srv, url) = server(
        &dir.path().join("upstart.db"),
        &dir.path().join("signing.pub"),
    );
    let err = fails(&["push", &d("cut.bundle"), "--server", &url]);
    assert!(
        err.starts_with("error: the server refused (400): bundle refused: the bundle is truncated"),
        "{err}"
    );
    let out = ok(&["push", &d("calc.bundle"), "--server", &url]);
    assert!(out.contains("rollout 1 is running"), "{out}");
    let json = ok(&["status", "--server", &url, "--json"]);
    let status: runtime::api::Status = serde_json::from_str(&json).unwrap();
    assert_eq!(status.rollouts[0].system, "fixture");
    let table = ok(&["status", "--server", &url]);
    assert!(
        table.starts_with("rollout 1  fixture 1 -> 2  RUNNING"),
        "{table}"
    );
    assert!(ok(&["pause", "--server", &url]).contains("is paused"));
    assert!(ok(&["resume", "--server", &url, "--rollout", "1"]).contains("is running"));
    assert!(ok(&["rollback", "--server", &url]).contains("is rolled_back"));
    let err = fails(&["resume", "--server", &url, "--rollout", "1"]);
    assert_eq!(
        err,
        "error: the server refused (409): rollout 1 is rolled_back: there is nothing to resume\n"
    );
    let err = fails(&["pause", "--server", &url, "--rollout", "9"]);
    assert_eq!(err, "error: the server refused (404): no rollout 9\n");
    drop(srv);
    let err = fails(&["status", "--server", &url, "--json"]);
    assert!(
        err.starts_with(&format!(
            "error: cannot reach the upgrade server at `{url}/v1/status`"
        )),
        "{err}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let out = upstart(&["push"]);
    assert_eq!(out.status.code(), Some(2));
    let out = upstart(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    let help = ok(&["--help"]);
    for sub in [
        "keygen", "bundle", "push", "server", "status", "pause", "resume", "rollback",
    ] {
        assert!(help.contains(sub), "{sub} missing from:\n{help}");
    }
}
