//! Connection hand-off: a real `kv-v2` under the LD_PRELOAD library with
//! `UPSTART_SHIM_HANDOFF` registers its listening socket with the shim, which then passes
//! same-version connections to it (the shim leaves their path) and still translates the
//! others.
#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use e2e::rpc::{Client, Framing};
use serde_json::{json, Value};
use shim::Shim;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use support::WAIT;

/// Waits (bounded) until `ok` holds.
fn eventually(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn same_version_connections_are_handed_to_the_node_and_others_translated() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("shim.sock");
    let runtime = support::runtime();
    // The main port (follows the node's version) and ports pinned to 1 and 2.
    let config = support::handoff_config("kv", 2, &[None, Some(1), Some(2)], &socket);
    let shim = support::kv_shim(&runtime, config);
    let main = shim.addrs().listeners[0].0;
    let ports: Vec<SocketAddr> = shim.addrs().listeners.iter().map(|l| l.0).collect();
    let pinned = move |v: usize| ports[v];

    let env = support::preload_env(&socket);
    let (_node, node_addr) = support::start_node(2, &dir.path().join("kv.json"), &[], &env);
    eventually("the node registers", || shim.handoff_registered(node_addr));
    shim.set_node(node_addr);

    // A version-2 client on its pinned port: handed off, served by the node itself.
    let mut v2 = Client::connect(pinned(2), Framing::Lines, WAIT).unwrap();
    assert_eq!(
        v2.call("put", json!(["a", "1", null])).unwrap(),
        Ok(Value::Null)
    );
    assert_eq!(
        v2.call("get", json!(["a"])).unwrap(),
        Ok(json!({"value": "1", "expires_at": null}))
    );
    assert_eq!(shim.stats().handed_off, 1, "{:?}", shim.stats());
    assert_eq!(shim.stats().fast_path, 0);
    // The shim holds nothing of it.
    eventually("the shim lets go", || shim.active_connections() == 0);

    // A client on the main port: its first bytes are peeked, not a handshake: handed off too.
    let mut plain = Client::connect(main, Framing::Lines, WAIT).unwrap();
    assert_eq!(
        plain.call("delete", json!(["nothing"])).unwrap(),
        Ok(json!(false))
    );
    assert_eq!(shim.stats().handed_off, 2);

    // A version-1 client is translated by the shim, as before.
    let mut v1 = Client::connect(pinned(1), Framing::Lines, WAIT).unwrap();
    assert_eq!(v1.call("get", json!(["a"])).unwrap(), Ok(json!("1")));
    assert_eq!(shim.stats().translated, 1);
    assert_eq!(shim.stats().handed_off, 2);

    // A peer's shim on the main port: its handshake is answered by this shim, not handed off.
    let mut peer = TcpStream::connect(main).unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    peer.write_all(shim::hello("kv", 1).as_bytes()).unwrap();
    let mut reader = BufReader::new(peer.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, shim::hello("kv", 2), "the shim's greeting");
    peer.write_all(b"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"get\",\"params\":[\"a\"]}\n")
        .unwrap();
    line.clear();
    reader.read_line(&mut line).unwrap();
    let answer: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(answer["result"], json!("1"), "{answer}");
    assert_eq!(shim.stats().handed_off, 2);

    // A peer's shim at the node's version: greeted by this shim, then handed to the node.
    let mut peer = TcpStream::connect(main).unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    peer.write_all(shim::hello("kv", 2).as_bytes()).unwrap();
    let mut reader = BufReader::new(peer.try_clone().unwrap());
    line.clear();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, shim::hello("kv", 2));
    eventually("the peer is handed off", || shim.stats().handed_off == 3);
    peer.write_all(b"{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"get\",\"params\":[\"a\"]}\n")
        .unwrap();
    line.clear();
    reader.read_line(&mut line).unwrap();
    let answer: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        answer["result"],
        json!({"value": "1", "expires_at": null}),
        "{answer}"
    );

    // Many connections at once, each handed off, each answered.
    let v2_port = pinned(2);
    let clients: Vec<_> = (0..20)
        .map(|i| {
            std::thread::spawn(move || {
                let mut c = Client::connect(v2_port, Framing::Lines, WAIT).unwrap();
                let key = format!("k{i}");
                assert_eq!(
                    c.call("put", json!([key, "v", null])).unwrap(),
                    Ok(Value::Null)
                );
                c.call("get", json!([key])).unwrap().unwrap()
            })
        })
        .collect();
    for c in clients {
        assert_eq!(c.join().unwrap()["value"], json!("v"));
    }
    assert_eq!(shim.stats().handed_off, 23);

    // The shim stops: handed-off connections are the node's and go on; the registration ends.
    drop(shim);
    assert_eq!(
        v2.call("get", json!(["k3"])).unwrap().unwrap()["value"],
        json!("v")
    );
    // The node accepts on its own socket again (the library let go of the hand-off socket).
    let mut direct = Client::connect(node_addr, Framing::Lines, WAIT).unwrap();
    assert_eq!(
        direct.call("get", json!(["a"])).unwrap().unwrap()["value"],
        json!("1")
    );
    assert!(!socket.exists(), "the shim removes its socket");
}

#[test]
fn without_a_registration_connections_are_copied() {
    let dir = tempfile::tempdir().unwrap();
    let (_node, _node_addr, _runtime, shim) = unregistered_node(dir.path());
    let mut c = Client::connect(shim.addrs().listeners[0].0, Framing::Lines, WAIT).unwrap();
    assert_eq!(c.call("delete", json!(["x"])).unwrap(), Ok(json!(false)));
    let stats = shim.stats();
    assert_eq!((stats.handed_off, stats.fast_path), (0, 1), "{stats:?}");
}

#[test]
fn a_stale_socket_is_replaced_and_a_live_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("shim.sock");
    let runtime = support::runtime();
    let config = || support::handoff_config("kv", 2, &[None], &socket);
    // A socket file left by a shim that died.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    assert!(socket.exists());
    let first = runtime.block_on(Shim::start(config(), None)).unwrap();
    // A second shim on the same path while the first serves it.
    let err = runtime
        .block_on(Shim::start(config(), None))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("hand-off socket") && err.contains("another shim"),
        "{err}"
    );
    drop(first);
    // A regular file is never removed.
    std::fs::write(&socket, "keep me").unwrap();
    let err = runtime
        .block_on(Shim::start(config(), None))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a socket"), "{err}");
    assert_eq!(std::fs::read_to_string(&socket).unwrap(), "keep me");
}

#[test]
fn a_program_with_a_blocking_accept_loop_gets_handed_connections_too() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("shim.sock");
    let runtime = support::runtime();
    let config = support::handoff_config("echo", 1, &[Some(1)], &socket);
    let shim = runtime.block_on(Shim::start(config, None)).unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_echo-blocking"));
    command.envs(support::preload_env(&socket));
    let mut echo = e2e::process::ChildGuard::spawn("echo-blocking", &mut command).unwrap();
    let node: SocketAddr = echo.line_after("listening", WAIT).unwrap().parse().unwrap();
    eventually("the program registers", || shim.handoff_registered(node));
    shim.set_node(node);

    // The program sits in a blocking `accept` on its own socket; handed connections wake it.
    for i in 0..3 {
        let text = format!("hello {i}");
        assert_eq!(
            echo_once(shim.addrs().listeners[0].0, &text),
            format!("echo {text}\n")
        );
    }
    assert_eq!(shim.stats().handed_off, 3, "{:?}", shim.stats());
    // Its own socket still works (the real `accept`).
    assert_eq!(echo_once(node, "direct"), "echo direct\n");
}

/// Connects to `addr`, sends `text` as a line, returns the line that comes back.
fn echo_once(addr: SocketAddr, text: &str) -> String {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    writeln!(writer, "{text}").unwrap();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    line
}

#[test]
fn bad_registrations_are_dropped_and_change_nothing() {
    use std::os::unix::net::UnixStream;
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("shim.sock");
    let (_node, node_addr, _runtime, shim) = unregistered_node(dir.path());
    // Garbage, an overlong line, and a well-formed registration of another address.
    let mut garbage = UnixStream::connect(&socket).unwrap();
    garbage.write_all(b"GET / HTTP/1.1\n").unwrap();
    let mut long = UnixStream::connect(&socket).unwrap();
    let _ = long.write_all(&[b'x'; 4096]);
    let mut other = UnixStream::connect(&socket).unwrap();
    other.write_all(b"UPSTART/1 listen 127.0.0.1:9\n").unwrap();
    // The shim closes the bad ones (reads see the end) and keeps serving.
    for bad in [&mut garbage, &mut long] {
        bad.set_read_timeout(Some(WAIT)).unwrap();
        let mut rest = Vec::new();
        let _ = std::io::Read::read_to_end(bad, &mut rest);
    }
    assert!(!shim.handoff_registered(node_addr));
    let mut c = Client::connect(shim.addrs().listeners[0].0, Framing::Lines, WAIT).unwrap();
    assert_eq!(c.call("delete", json!(["x"])).unwrap(), Ok(json!(false)));
    let stats = shim.stats();
    assert_eq!((stats.handed_off, stats.fast_path), (0, 1), "{stats:?}");
    drop(other);
}

/// A `kv-v2` node *not* under the library, and a shim with a hand-off socket `DIR/shim.sock`
/// and one port pinned to version 2 in front of it.
fn unregistered_node(
    dir: &std::path::Path,
) -> (
    e2e::process::ChildGuard,
    SocketAddr,
    tokio::runtime::Runtime,
    Shim,
) {
    let (node, node_addr) = support::start_node(2, &dir.join("kv.json"), &[], &[]);
    let runtime = support::runtime();
    let mut config = support::node_config(2, node_addr, &[Some(2)]);
    config.handoff = Some(dir.join("shim.sock"));
    let shim = support::kv_shim(&runtime, config);
    (node, node_addr, runtime, shim)
}

/// Silent sockets are not handed to the program (it would hold them for ever): on the main
/// port and on a port pinned to the node's version alike, the shim waits for their first bytes
/// and closes them at the deadline; a client that speaks is still handed off.
#[test]
fn silent_sockets_are_not_handed_off_and_close_at_their_deadline() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("shim.sock");
    let runtime = support::runtime();
    let mut config = support::handoff_config("kv", 2, &[None, Some(2)], &socket);
    config.limits.first_bytes_timeout = Duration::from_millis(300);
    let shim = support::kv_shim(&runtime, config);
    let env = support::preload_env(&socket);
    let (_node, node_addr) = support::start_node(2, &dir.path().join("kv.json"), &[], &env);
    eventually("the node registers", || shim.handoff_registered(node_addr));
    shim.set_node(node_addr);
    for (addr, _) in shim.addrs().listeners.clone() {
        let mut silent: Vec<TcpStream> =
            (0..20).map(|_| TcpStream::connect(addr).unwrap()).collect();
        for s in &mut silent {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = [0u8; 8];
            let read = s.read(&mut buf);
            let open = matches!(&read, Ok(n) if *n > 0)
                || matches!(&read, Err(e) if upstart_test_support::timed_out(e));
            assert!(!open, "a silent socket on {addr} is closed: {read:?}");
        }
        let mut c = Client::connect(addr, Framing::Lines, WAIT).unwrap();
        assert_eq!(c.call("delete", json!(["x"])).unwrap(), Ok(json!(false)));
    }
    let stats = shim.stats();
    assert_eq!((stats.handed_off, stats.timed_out), (2, 40), "{stats:?}");
    let _enter = runtime.enter();
    drop(shim);
}
