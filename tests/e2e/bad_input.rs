//! Bad input and limits at a shim in front of a real `kv-v2` node: each bad frame, request or
//! handshake gets a clear error on its own connection, and the shim and its other connections
//! go on. Also: batches, notifications, length-prefixed framing, unknown protocols passed
//! through, a node that went away, and draining.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
#![allow(clippy::panic, reason = "tests")]

mod support;

use e2e::process::ChildGuard;
use e2e::rpc::{Client, Framing};
use serde_json::{json, Value};
use shim::Shim;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;
use support::{j, WAIT};

const LIMIT: usize = 4096;

/// A v2 node behind a shim with ports for versions 1, 2 and 3 and a 4 KiB frame limit.
struct Single {
    shim: Shim,
    node: ChildGuard,
    _dir: tempfile::TempDir,
    framing: Framing,
    runtime: tokio::runtime::Runtime,
}

impl Single {
    fn start(framing: Framing) -> Single {
        let dir = tempfile::tempdir().unwrap();
        let word = if framing == Framing::Lines {
            "lines"
        } else {
            "length"
        };
        let args = vec!["--framing".to_string(), word.to_string()];
        let (node, addr) = support::start_node(2, &dir.path().join("s.json"), &args, &[]);
        let runtime = support::runtime();
        let mut config = support::node_config(2, addr, &[Some(1), Some(2), Some(3)]);
        config.max_frame = LIMIT;
        config.framing = if framing == Framing::Lines {
            shim::Framing::Lines
        } else {
            shim::Framing::Length
        };
        let shim = support::kv_shim(&runtime, config);
        Single {
            shim,
            node,
            _dir: dir,
            framing,
            runtime,
        }
    }

    fn port(&self, version: u64) -> SocketAddr {
        self.shim.addrs().listeners[(version - 1) as usize].0
    }

    fn client(&self, version: u64) -> Client {
        Client::connect(self.port(version), self.framing, WAIT).unwrap()
    }
}

impl Drop for Single {
    fn drop(&mut self) {
        let _enter = self.runtime.enter();
    }
}

fn error_of(response: &Value) -> (i64, String) {
    let e = &response["error"];
    (
        e["code"]
            .as_i64()
            .unwrap_or_else(|| panic!("no error in {response}")),
        e["message"].as_str().unwrap().to_string(),
    )
}

#[test]
fn oversized_frame_is_refused_on_its_connection_only() {
    let s = Single::start(Framing::Lines);
    let mut other = s.client(1);
    assert_eq!(
        other.call("put", json!(["a", "1"])).unwrap(),
        Ok(Value::Null)
    );

    let mut big = s.client(1);
    let huge = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"put\",\"params\":[\"b\",\"{}\"]}}",
        "x".repeat(LIMIT * 3)
    );
    big.send(huge.as_bytes()).unwrap();
    let answer = big.receive().unwrap();
    let (code, message) = error_of(&answer);
    assert_eq!(code, -32600);
    assert!(
        message.contains("frame too large") && message.contains("the limit is 4096 bytes"),
        "{message}"
    );
    assert_eq!(answer["id"], Value::Null);
    assert!(big.is_closed(), "the oversized connection is closed");

    // No end of line in sight: the limit holds too.
    let mut endless = s.client(1);
    endless
        .send_bytes(
            format!(
                "{{\"jsonrpc\":\"2.0\",\"params\":\"{}",
                "y".repeat(LIMIT * 2)
            )
            .as_bytes(),
        )
        .unwrap();
    assert_eq!(error_of(&endless.receive().unwrap()).0, -32600);

    // The other connection, and new ones, go on.
    assert_eq!(other.call("get", json!(["a"])).unwrap(), Ok(json!("1")));
    assert_eq!(
        s.client(1).call("get", json!(["a"])).unwrap(),
        Ok(json!("1"))
    );
    assert_eq!(
        s.client(2).call("get", json!(["b"])).unwrap(),
        Ok(Value::Null),
        "nothing of the big put was written"
    );
    assert!(s.shim.stats().frame_errors >= 2);
}

#[test]
fn malformed_json_unknown_methods_and_bad_params_keep_the_connection() {
    let s = Single::start(Framing::Lines);
    let mut c = s.client(1);
    c.send(b"{\"jsonrpc\": \"2.0\", nope").unwrap();
    let (code, message) = error_of(&c.receive().unwrap());
    assert_eq!(code, -32700);
    assert!(message.starts_with("parse error: "), "{message}");

    let e = c.call("delete", json!(["a"])).unwrap().unwrap_err();
    assert_eq!(
        (e.code, e.message.as_str()),
        (
            -32601,
            "unknown method `delete`: version 1 has no such method"
        )
    );
    let e = c.call("put", json!(["a", "b", "c"])).unwrap().unwrap_err();
    assert_eq!(e.code, -32602);
    assert_eq!(
        e.message,
        "invalid params of `put`: it takes 2 arguments (key, value), got 3"
    );
    let e = c
        .call("put", json!({"key": "a", "value": "b", "ttl_ms": 1}))
        .unwrap()
        .unwrap_err();
    assert_eq!(e.code, -32602, "{e:?}");
    let e = c.call("get", json!([5])).unwrap().unwrap_err();
    assert_eq!(e.code, -32602, "a key that is not a string: {e:?}");

    c.send(br#"{"jsonrpc":"1.0","id":9,"method":"get"}"#)
        .unwrap();
    let answer = c.receive().unwrap();
    assert_eq!(error_of(&answer).0, -32600);
    assert_eq!(answer["id"], json!(9));

    // Still serving, by name, by position and qualified with the service.
    assert_eq!(
        c.call("put", json!({"value": "v", "key": "k"})).unwrap(),
        Ok(Value::Null)
    );
    assert_eq!(c.call("Kv.get", json!(["k"])).unwrap(), Ok(json!("v")));
}

#[test]
fn batches_and_notifications() {
    let s = Single::start(Framing::Lines);
    let mut c = s.client(3);
    c.send(
        br#"[{"jsonrpc":"2.0","id":1,"method":"put","params":["k","v",null]},
               {"jsonrpc":"2.0","method":"put","params":["n","quiet",null]},
               {"jsonrpc":"2.0","id":2,"method":"get","params":["n"]},
               {"jsonrpc":"2.0","id":3,"method":"list_keys","params":["",10]},
               7]"#
        .iter()
        .filter(|b| **b != b'\n')
        .copied()
        .collect::<Vec<u8>>()
        .as_slice(),
    )
    .unwrap();
    let answer = c.receive().unwrap();
    let all = answer.as_array().unwrap();
    assert_eq!(all.len(), 4, "{answer}");
    assert_eq!(all[0], j(r#"{"jsonrpc":"2.0","id":1,"result":0}"#));
    assert_eq!(
        all[1]["result"],
        j(r#"{"value":"quiet","expires_at":null,"revision":0}"#)
    );
    assert_eq!(all[2]["error"]["code"], json!(-32001));
    assert_eq!(all[2]["error"]["data"]["disallowed"], json!(true));
    assert_eq!(all[3]["error"]["code"], json!(-32600));
    c.send(b"[]").unwrap();
    assert_eq!(error_of(&c.receive().unwrap()).0, -32600);
}

#[test]
fn peers_with_unknown_versions_or_upgrades_are_refused() {
    let s = Single::start(Framing::Lines);
    let mut good = s.client(2);
    for (hello, want) in [
        ("UPSTART/1 kv 9\n", "UPSTART/1 error unknown version 9: this node runs version 2 of `kv` and its plugin chain bridges versions 1, 2, 3"),
        ("UPSTART/1 db 2\n", "UPSTART/1 error this shim serves upgrade `db`, not `db`"),
        ("UPSTART/1 kv\n", "UPSTART/1 error the handshake `UPSTART/1 kv` has no version number after the upgrade name"),
    ] {
        let mut raw = TcpStream::connect(s.port(2)).unwrap();
        raw.set_read_timeout(Some(WAIT)).unwrap();
        raw.write_all(hello.as_bytes()).unwrap();
        let mut answer = String::new();
        raw.read_to_string(&mut answer).unwrap();
        let want = want.replace("`db`, not `db`", "`kv`, not `db`");
        assert_eq!(answer.trim_end(), want);
    }
    assert_eq!(s.shim.stats().handshakes_refused, 3);

    // A peer at a known version is greeted and translated.
    let mut raw = TcpStream::connect(s.port(2)).unwrap();
    raw.set_read_timeout(Some(WAIT)).unwrap();
    raw.write_all(
        b"UPSTART/1 kv 1\n{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"get\",\"params\":[\"zz\"]}\n",
    )
    .unwrap();
    let mut reader = BufReader::new(raw);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "UPSTART/1 kv 2\n");
    line.clear();
    reader.read_line(&mut line).unwrap();
    assert_eq!(j(&line), j(r#"{"jsonrpc":"2.0","id":1,"result":null}"#));

    assert_eq!(
        good.call("get", json!(["zz"])).unwrap(),
        Ok(Value::Null),
        "other connections go on"
    );
}

#[test]
fn length_prefixed_framing() {
    let s = Single::start(Framing::Length);
    let mut v1 = s.client(1);
    let mut v3 = s.client(3);
    assert_eq!(v1.call("put", json!(["a", "1"])).unwrap(), Ok(Value::Null));
    assert_eq!(
        v3.call("get", json!(["a"])).unwrap(),
        Ok(json!({"value": "1", "expires_at": null, "revision": 0}))
    );
    assert_eq!(
        s.client(2).call("get", json!(["a"])).unwrap(),
        Ok(json!({"value": "1", "expires_at": null}))
    );
    // A length over the limit is refused before its bytes arrive.
    let mut big = s.client(1);
    big.send_bytes(&(LIMIT as u32 + 1).to_be_bytes()).unwrap();
    let (code, message) = error_of(&big.receive().unwrap());
    assert_eq!(code, -32600);
    assert!(message.contains("4097 bytes"), "{message}");
    assert!(big.is_closed());
    assert_eq!(v1.call("get", json!(["a"])).unwrap(), Ok(json!("1")));
}

/// A node that is not JSON-RPC: it greets first, then echoes lines.
fn echo_node() -> (SocketAddr, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let thread = std::thread::spawn(move || {
        for stream in listener.incoming().take(3) {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let _ = stream.write_all(b"* HELLO\n");
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                    let _ = stream.write_all(line.as_bytes());
                    line.clear();
                }
            });
        }
    });
    (addr, thread)
}

#[test]
fn unknown_protocols_pass_through_untranslated() {
    let (node, _thread) = echo_node();
    let runtime = support::runtime();
    let mut config = support::node_config(2, node, &[Some(1)]);
    config.limits.server_first = true;
    let shim = support::kv_shim(&runtime, config);
    let mut c = TcpStream::connect(shim.addrs().listeners[0].0).unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    let mut reader = BufReader::new(c.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "* HELLO\n", "the node spoke first: copied as is");
    c.write_all(b"PING 1\n").unwrap();
    line.clear();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "PING 1\n");
    assert_eq!(shim.stats().passthrough, 1);
}

#[test]
fn a_node_that_went_away_is_reported_and_others_are_not_hurt() {
    let mut s = Single::start(Framing::Lines);
    let mut c = s.client(1);
    assert_eq!(c.call("put", json!(["a", "1"])).unwrap(), Ok(Value::Null));
    drop(std::mem::replace(
        &mut s.node,
        ChildGuard::spawn("true", &mut std::process::Command::new("true")).unwrap(),
    ));
    let e = c.call("get", json!(["a"])).unwrap().unwrap_err();
    assert_eq!(e.code, -32002, "{e:?}");
    assert!(e.message.starts_with("node unavailable: "), "{}", e.message);
}

#[test]
fn drain_closes_idle_connections_and_holds_new_ones_until_resume() {
    let s = Single::start(Framing::Lines);
    let mut translated = s.client(1);
    let mut copied = s.client(2);
    assert_eq!(
        translated.call("put", json!(["a", "1"])).unwrap(),
        Ok(Value::Null)
    );
    assert_eq!(
        copied.call("get", json!(["a"])).unwrap(),
        Ok(json!({"value": "1", "expires_at": null}))
    );
    assert_eq!(s.shim.active_connections(), 2);
    let report = s.runtime.block_on(s.shim.drain(Duration::from_millis(300)));
    // Both were idle between requests: closed at once, nothing cut at the end of the grace.
    assert_eq!((report.finished, report.cut), (2, 0), "{report:?}");
    assert!(translated.is_closed() && copied.is_closed());

    // A client that connects while drained waits (unread, not counted), and is served after
    // resume.
    let port = s.port(1);
    let waiting = std::thread::spawn(move || {
        let mut c = Client::connect(port, Framing::Lines, WAIT).unwrap();
        c.call("get", json!(["a"])).unwrap()
    });
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(s.shim.active_connections(), 0, "not served while drained");
    s.shim.resume();
    assert_eq!(waiting.join().unwrap(), Ok(json!("1")));
}

/// The next answer on a pipelined connection; `None` when it closed.
fn next_answer(reader: &mut BufReader<TcpStream>) -> Option<Value> {
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(serde_json::from_str(&line).unwrap()),
    }
}

/// A caller of another version that pipelines: the shim reads its next frames while it answers
/// one, but runs them in their order (a `get` sees the `put` sent just before it) and answers
/// them in that order.
#[test]
fn pipelined_translated_requests_run_and_are_answered_in_order() {
    let s = Single::start(Framing::Lines);
    for version in [1, 3] {
        let mut requests = Vec::new();
        for i in 0..150u64 {
            let key = format!("p{version}-{}", i % 7);
            let value = format!("{i}");
            let put = if version == 1 {
                json!([key, value])
            } else {
                json!([key, value, null])
            };
            requests.push(json!({"jsonrpc": "2.0", "id": 2 * i, "method": "put", "params": put}));
            requests
                .push(json!({"jsonrpc": "2.0", "id": 2 * i + 1, "method": "get", "params": [key]}));
        }
        let mut reader = support::pipeline(s.port(version), &requests);
        for id in 0..300u64 {
            let answer = next_answer(&mut reader)
                .unwrap_or_else(|| panic!("v{version}: closed before the answer to {id}"));
            assert_eq!(answer["id"], json!(id), "v{version}: {answer}");
            assert!(answer.get("error").is_none(), "v{version}: {answer}");
            if id % 2 == 1 {
                let value = json!(format!("{}", id / 2));
                let got = &answer["result"];
                // v1 gets the value; v3's `get` answers an object holding it.
                assert!(
                    *got == value || got["value"] == value,
                    "v{version}: {answer}"
                );
            }
        }
    }
}

/// A drain while a caller of another version has many frames pipelined: the answers already
/// begun come, in order, and the connection closes between requests (nothing cut).
#[test]
fn a_drain_closes_a_pipelining_translated_connection_between_requests() {
    let s = Single::start(Framing::Lines);
    let requests: Vec<Value> = (0..2000u64)
        .map(|id| json!({"jsonrpc": "2.0", "id": id, "method": "get", "params": ["nothing"]}))
        .collect();
    let mut reader = support::pipeline(s.port(1), &requests);
    // The first answer: the connection is being served.
    assert_eq!(next_answer(&mut reader).unwrap()["id"], json!(0));
    let report = s.runtime.block_on(s.shim.drain(Duration::from_secs(5)));
    assert_eq!(report.cut, 0, "{report:?}");
    let mut next = 1u64;
    while let Some(answer) = next_answer(&mut reader) {
        assert_eq!(answer["id"], json!(next), "{answer}");
        assert!(answer.get("error").is_none(), "{answer}");
        next += 1;
    }
    println!("answered {next} of 2000 pipelined requests before the drain closed the connection");
    s.shim.resume();
}
