//! The `upstart-shim` binary: it prints its ports and serves, refuses a plugin it cannot load
//! (exit code 1), and out of file descriptors pauses accepting and serves again.

#[path = "../../tests/support/mod.rs"]
mod support;

use serde_json::json;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::time::Duration;
use support::{call, fake_node, idle, Conn, WAIT};

/// The arguments naming the upgrade `kv` and its node at `node`, running version 1.
fn kv_node(node: &str) -> [&str; 6] {
    ["--name", "kv", "--node", node, "--node-version", "1"]
}

/// Kills the child on drop.
struct Guard(std::process::Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_binary_prints_its_ports_and_serves() {
    let node = fake_node();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_upstart-shim"))
        .args(kv_node(&node.to_string()))
        .args(["--listen", "127.0.0.1:0", "--listen", "2@127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut guard = Guard(child);
    let stdout = guard.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut lines = Vec::new();
    while lines.last().map(String::as_str) != Some("ready") {
        lines.push(rx.recv_timeout(WAIT).expect("the shim prints its ports"));
    }
    assert!(lines[0].starts_with("listen 127.0.0.1:") && lines[0].ends_with(" version node"));
    assert!(lines[1].ends_with(" version 2"), "{lines:?}");
    let addr: SocketAddr = lines[0].split(' ').nth(1).unwrap().parse().unwrap();
    assert_eq!(
        Conn::open(addr).call("get").unwrap()["result"]["method"],
        json!("get")
    );
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_upstart-shim"))
        .args(kv_node("127.0.0.1:1"))
        .args([
            "--plugin",
            "/nonexistent/plugin.so",
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.starts_with("error: cannot load plugin `/nonexistent/plugin.so`"),
        "{stderr}"
    );
}

/// Out of file descriptors, the shim pauses accepting (backing off, not spinning or dying)
/// and serves again once its deadlines have closed the idle sockets that took them.
#[test]
fn out_of_descriptors_the_shim_pauses_and_serves_again() {
    let node = fake_node();
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -n 64 && exec "$0" "$@""#)
        .arg(env!("CARGO_BIN_EXE_upstart-shim"))
        .args(kv_node(&node.to_string()))
        .args(["--listen", "127.0.0.1:0", "--first-bytes-timeout", "300ms"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut text);
        text
    });
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().unwrap().unwrap();
    let addr: SocketAddr = first.split(' ').nth(1).unwrap().parse().unwrap();
    // More idle sockets than the shim has descriptors.
    let _held = idle(addr, 150);
    let mut answered = None;
    for _ in 0..40 {
        if let Ok(method) = call(addr, None) {
            answered = Some(method);
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let alive = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    let log = log.join().unwrap();
    assert_eq!(answered.as_deref(), Some("get"), "{log}");
    assert!(alive, "the shim is still running: {log}");
    assert!(log.contains("accept failed: pausing this port"), "{log}");
}
