//! The `upstart` binary end to end: keygen, bundle (from the fixture plugin), verify, server,
//! push, status, pause, resume, rollback, enroll, nodes, and their errors (unsigned operator
//! commands among them).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;
use upstart_test_support::fixture;

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

fn ok_v(args: &[String]) -> String {
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

fn fails_v(args: &[String]) -> String {
    fails(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The server process, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn server(db: &Path, trust: &Path, operator: &Path) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_upstart"))
        .args(["server", "--listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .arg("--trust")
        .arg(trust)
        .arg("--operator-key")
        .arg(operator)
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

/// `upstart bundle` of `plugin` and `binary` with `spec`, release 1, signed with `key`, into `out`.
fn bundle_args<'a>(
    plugin: &'a str,
    binary: &'a str,
    spec: &'a str,
    key: &'a str,
    out: &'a str,
) -> [&'a str; 13] {
    [
        "bundle",
        "--plugin",
        plugin,
        "--binary",
        binary,
        "--spec",
        spec,
        "--release",
        "1",
        "--key",
        key,
        "-o",
        out,
    ]
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
    let spec = fixture::spec_1_2();
    let plugin = fixture::plugin_1_2().to_str().unwrap().to_string();
    let spec = spec.to_str().unwrap();
    let binary = d("calc-v2");
    let out = ok(&bundle_args(
        &plugin,
        &binary,
        spec,
        &d("signing"),
        &d("calc.bundle"),
    ));
    assert!(
        out.starts_with(&format!(
            "wrote `{}`: fixture 1 -> 2 release 1, bundle ",
            d("calc.bundle")
        )),
        "{out}"
    );
    let err = fails(&bundle_args(
        &plugin,
        &binary,
        &binary,
        &d("signing"),
        &d("x.bundle"),
    ));
    assert!(err.contains("has spec hash"), "{err}");
    let err = fails(&bundle_args(
        &plugin,
        &binary,
        spec,
        &d("signing.pub"),
        &d("x.bundle"),
    ));
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

    ok(&["keygen", "--out", &d("ops")]);
    let (srv, url) = server(
        &dir.path().join("upstart.db"),
        &dir.path().join("signing.pub"),
        &dir.path().join("ops.pub"),
    );
    let err = fails(&["push", &d("calc.bundle"), "--server", &url]);
    assert_eq!(
        err,
        "error: this command is signed with an operator key: pass `--key KEY` or set `UPSTART_KEY`\n"
    );
    let err = fails(&[
        "push",
        &d("calc.bundle"),
        "--server",
        &url,
        "--key",
        &d("other"),
    ]);
    assert!(
        err.starts_with("error: the server refused (401): key `")
            && err.contains("is not enrolled and is not an operator key this server trusts"),
        "{err}"
    );
    let err = fails(&[
        "push",
        &d("cut.bundle"),
        "--server",
        &url,
        "--key",
        &d("ops"),
    ]);
    assert!(
        err.starts_with("error: the server refused (400): bundle refused: the bundle is truncated"),
        "{err}"
    );
    let out = ok(&[
        "push",
        &d("calc.bundle"),
        "--server",
        &url,
        "--key",
        &d("ops"),
    ]);
    assert!(out.contains("rollout 1 is running"), "{out}");
    let json = ok(&["status", "--server", &url, "--json"]);
    let status: runtime::api::Status = serde_json::from_str(&json).unwrap();
    assert_eq!(status.rollouts[0].system, "fixture");
    let table = ok(&["status", "--server", &url]);
    assert!(
        table.starts_with("rollout 1  fixture 1 -> 2  RUNNING"),
        "{table}"
    );
    let ops = d("ops");
    let with = |args: &[&str]| -> Vec<String> {
        args.iter()
            .map(|a| a.to_string())
            .chain(["--key".to_string(), ops.clone()])
            .collect()
    };
    assert!(ok_v(&with(&["pause", "--server", &url])).contains("is paused"));
    assert!(ok_v(&with(&["resume", "--server", &url, "--rollout", "1"])).contains("is running"));
    assert!(ok_v(&with(&["rollback", "--server", &url])).contains("is rolled_back"));
    let err = fails_v(&with(&["resume", "--server", &url, "--rollout", "1"]));
    assert_eq!(
        err,
        "error: the server refused (409): rollout 1 is rolled_back: there is nothing to resume\n"
    );
    let err = fails_v(&with(&["pause", "--server", &url, "--rollout", "9"]));
    assert_eq!(err, "error: the server refused (404): no rollout 9\n");
    // Nodes: enrolled by the operator with the node's public key, listed, removed.
    ok(&["keygen", "--out", &d("n1.key")]);
    let out = ok_v(&with(&[
        "enroll",
        "--id",
        "n1",
        "--node-key",
        &d("n1.key.pub"),
        "--server",
        &url,
    ]));
    assert!(out.starts_with("enrolled node `n1` with key "), "{out}");
    let err = fails_v(&with(&[
        "enroll",
        "--id",
        "n2",
        "--node-key",
        &d("n1.key.pub"),
        "--server",
        &url,
    ]));
    assert!(
        err.contains("is enrolled for node `n1`: a key speaks for one node"),
        "{err}"
    );
    let table = ok(&["nodes", "--server", &url]);
    assert!(
        table.contains("\nn1 ") && table.contains("never heard from"),
        "{table}"
    );
    let err = fails(&[
        "nodes",
        "remove",
        "n1",
        "--server",
        &url,
        "--key",
        &d("n1.key"),
    ]);
    assert!(
        err.contains("(403): this action needs an operator key"),
        "{err}"
    );
    let out = ok_v(&with(&["nodes", "remove", "n1", "--server", &url]));
    assert!(out.starts_with("removed node `n1`"), "{out}");
    let table = ok(&["nodes", "--server", &url]);
    assert!(table.contains("no node is enrolled"), "{table}");
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
        "keygen", "bundle", "push", "server", "status", "pause", "resume", "rollback", "enroll",
        "nodes",
    ] {
        assert!(help.contains(sub), "{sub} missing from:\n{help}");
    }
}
