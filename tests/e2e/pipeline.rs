//! The translated path pipelined on its link to the node (issue 13, item 6): a caller of
//! another version that pipelines gets its requests' delegate calls sent to the node together,
//! not one round trip at a time, and the node still sees every call in the caller's order (a
//! rule that makes several calls keeps the next request's calls behind its own). A fake `kv`
//! version-2 node records the calls it gets and holds its answers until several calls wait
//! (or a short silence), so it sees how many calls the shim sent before any answer.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

#[path = "support/mod.rs"]
mod support;

use serde_json::{json, Value};
use shim::Shim;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the fake node saw: the calls in order (`get a`), and the most calls that waited for
/// an answer at once.
#[derive(Debug, Default)]
struct Seen {
    calls: Vec<String>,
    most_waiting: usize,
}

/// A `kv` version-2 node answering `get(key)` with the item `{value: key}`. It answers the
/// calls that wait once `hold` of them wait, or when no call came for `silence`.
fn holding_node(hold: usize, silence: Duration) -> (SocketAddr, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let log = Arc::clone(&log);
            std::thread::spawn(move || serve(stream, hold, silence, &log));
        }
    });
    (addr, seen)
}

fn serve(stream: TcpStream, hold: usize, silence: Duration, seen: &Mutex<Seen>) {
    stream.set_read_timeout(Some(silence)).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut waiting: Vec<Value> = Vec::new();
    loop {
        let mut line = String::new();
        let quiet = match reader.read_line(&mut line) {
            Ok(0) => return,
            Ok(_) => false,
            Err(e) if upstart_test_support::timed_out(&e) => true,
            Err(_) => return,
        };
        if !quiet {
            let request: Value = serde_json::from_str(&line).unwrap();
            let key = request["params"]["key"]
                .as_str()
                .or_else(|| request["params"][0].as_str())
                .unwrap_or("?")
                .to_string();
            let method = request["method"].as_str().unwrap_or("?").to_string();
            seen.lock().unwrap().calls.push(format!("{method} {key}"));
            waiting.push(request);
        }
        // More buffered calls are read first: they came together.
        if !quiet && waiting.len() < hold {
            continue;
        }
        if waiting.is_empty() {
            continue;
        }
        {
            let mut s = seen.lock().unwrap();
            s.most_waiting = s.most_waiting.max(waiting.len());
        }
        let mut out = String::new();
        for request in waiting.drain(..) {
            let key = request["params"]["key"]
                .as_str()
                .or_else(|| request["params"][0].as_str())
                .unwrap_or("?")
                .to_string();
            let answer = json!({
                "jsonrpc": "2.0",
                "id": request["id"],
                "result": {"value": key, "expires_at": null},
            });
            out.push_str(&answer.to_string());
            out.push('\n');
        }
        if writer.write_all(out.as_bytes()).is_err() {
            return;
        }
    }
}

/// A shim on `runtime` for a [`holding_node`] (`hold`, `silence`) at version 2, with ports
/// pinned to versions 1 and 3; what the node sees.
fn holding_shim(
    runtime: &tokio::runtime::Runtime,
    hold: usize,
    silence: Duration,
) -> (Shim, Arc<Mutex<Seen>>) {
    let (node, seen) = holding_node(hold, silence);
    let config = support::node_config(2, node, &[Some(1), Some(3)]);
    (support::kv_shim(runtime, config), seen)
}

/// Sends `requests` in one write on a new connection and reads `requests.len()` answers.
fn pipelined(addr: SocketAddr, requests: &[Value]) -> Vec<Value> {
    let mut reader = support::pipeline(addr, requests);
    (0..requests.len())
        .map(|i| {
            let mut line = String::new();
            let n = reader.read_line(&mut line).unwrap();
            assert!(n > 0, "closed before answer {i}");
            serde_json::from_str(&line).unwrap()
        })
        .collect()
}

fn get(id: u64, key: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "get", "params": [key]})
}

#[test]
fn a_pipelining_callers_delegate_calls_reach_the_node_together() {
    let runtime = support::runtime();
    let (shim, seen) = holding_shim(&runtime, 8, Duration::from_millis(300));
    let v1 = shim.addrs().listeners[0].0;
    let keys: Vec<String> = (0..8).map(|i| format!("k{i}")).collect();
    let requests: Vec<Value> = keys.iter().zip(0..).map(|(k, id)| get(id, k)).collect();
    let answers = pipelined(v1, &requests);
    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(answer["id"], json!(i), "answers in order: {answer}");
        assert_eq!(answer["result"], json!(keys[i]), "{answer}");
    }
    let seen = seen.lock().unwrap();
    let expected: Vec<String> = keys.iter().map(|k| format!("get {k}")).collect();
    assert_eq!(seen.calls, expected, "the node sees the caller's order");
    // One round trip per request would have the node see one call at a time.
    assert!(
        seen.most_waiting >= 2,
        "the calls of 8 pipelined requests reached the node one at a time: {seen:?}"
    );
    println!("calls waiting at the node at once: {}", seen.most_waiting);
    let _enter = runtime.enter();
    drop(shim);
}

#[test]
fn a_rule_of_several_calls_keeps_the_next_requests_calls_behind_its_own() {
    let runtime = support::runtime();
    let (shim, seen) = holding_shim(&runtime, 16, Duration::from_millis(50));
    let v3 = shim.addrs().listeners[1].0;
    // `get_many` (a future rule calling `get` once per key) between one-call `get`s.
    let many = |id: u64, keys: &[&str]| json!({"jsonrpc": "2.0", "id": id, "method": "get_many", "params": [keys]});
    let requests = [
        get(0, "a"),
        many(1, &["b", "c", "d"]),
        get(2, "e"),
        many(3, &["f", "g"]),
        get(4, "h"),
    ];
    let answers = pipelined(v3, &requests);
    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(answer["id"], json!(i), "answers in order: {answer}");
        assert!(answer.get("error").is_none(), "{answer}");
    }
    assert_eq!(answers[1]["result"][2]["value"], json!("d"));
    assert_eq!(answers[4]["result"]["value"], json!("h"));
    let seen = seen.lock().unwrap();
    let calls: Vec<&str> = seen.calls.iter().map(String::as_str).collect();
    assert_eq!(
        calls,
        ["get a", "get b", "get c", "get d", "get e", "get f", "get g", "get h"],
        "the node sees the calls in the caller's order"
    );
    let _enter = runtime.enter();
    drop(shim);
}

/// A translated connection is served by its own task: its requests do not wait for a thread
/// of the runtime's blocking pool, which the node agent shares with the shim (bundle installs,
/// state transforms). Here the pool's only thread is taken for the whole test; one request at
/// a time and pipelined requests are answered all the same. (Before, every translated
/// connection's requests were answered by a job on that pool: they waited until it freed.)
#[test]
fn translated_requests_do_not_wait_for_the_blocking_pool() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (shim, seen) = holding_shim(&runtime, 1, Duration::from_millis(50));
    let (release, held) = std::sync::mpsc::channel::<()>();
    let (taken, is_taken) = std::sync::mpsc::channel::<()>();
    let blocker = runtime.spawn_blocking(move || {
        taken.send(()).unwrap();
        // Until the test ends (or its sender is dropped by a failing test).
        let _ = held.recv();
    });
    is_taken.recv().unwrap();
    let v1 = shim.addrs().listeners[0].0;
    let v3 = shim.addrs().listeners[1].0;
    // One request at a time, a v1 caller (past rules: the value) and a v3 caller (future
    // rules: the item).
    let answer = &pipelined(v1, &[get(0, "one")])[0];
    assert_eq!(
        (&answer["id"], &answer["result"]),
        (&json!(0), &json!("one")),
        "{answer}"
    );
    let answer = &pipelined(v3, &[get(1, "two")])[0];
    assert_eq!(answer["id"], json!(1), "{answer}");
    assert_eq!(answer["result"]["value"], json!("two"), "{answer}");
    let requests: Vec<Value> = (0..4).map(|i| get(i, &format!("p{i}"))).collect();
    let answers = pipelined(v1, &requests);
    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(answer["id"], json!(i), "answers in order: {answer}");
        assert_eq!(answer["result"], json!(format!("p{i}")), "{answer}");
    }
    assert_eq!(seen.lock().unwrap().calls.len(), 6);
    release.send(()).unwrap();
    runtime.block_on(blocker).unwrap();
    let _enter = runtime.enter();
    drop(shim);
}

/// A node that takes the calls and never answers: each request fails with "node unavailable"
/// once the shim's call timeout has passed, and the connection goes on serving (the next
/// request reaches the node again, on a new link).
#[test]
fn a_call_the_node_never_answers_fails_at_the_call_timeout() {
    let runtime = support::runtime();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let node = listener.local_addr().unwrap();
    let (accepted, links) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Holds every connection open, reads nothing and answers nothing.
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            if accepted.send(stream).is_err() {
                return;
            }
        }
    });
    let mut config = support::node_config(2, node, &[Some(1)]);
    config.call_timeout = Duration::from_millis(300);
    let shim = support::kv_shim(&runtime, config);
    let v1 = shim.addrs().listeners[0].0;
    let answers = pipelined(v1, &[get(0, "a")]);
    assert_eq!(answers[0]["error"]["code"], json!(-32002), "{}", answers[0]);
    let message = answers[0]["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("node unavailable: no answer from the node to `get`"),
        "{message}"
    );
    // Two pipelined requests fail together (their calls went on one link); the connection
    // then serves its next request on a new link, which fails the same way.
    let stream = TcpStream::connect(v1).unwrap();
    stream.set_read_timeout(Some(support::WAIT)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut exchange = |requests: &[Value]| -> Vec<Value> {
        let text: String = requests.iter().map(|r| format!("{r}\n")).collect();
        (&stream).write_all(text.as_bytes()).unwrap();
        requests
            .iter()
            .map(|_| {
                let mut line = String::new();
                assert!(reader.read_line(&mut line).unwrap() > 0, "closed");
                serde_json::from_str(&line).unwrap()
            })
            .collect()
    };
    let mut answers = exchange(&[get(1, "b"), get(2, "c")]);
    answers.extend(exchange(&[get(3, "d")]));
    for (answer, id) in answers.iter().zip(1..) {
        assert_eq!(answer["id"], json!(id), "{answer}");
        assert_eq!(answer["error"]["code"], json!(-32002), "{answer}");
    }
    // The first connection's link, the second's, and the one it made after the timeout.
    for _ in 0..3 {
        links.recv_timeout(support::WAIT).unwrap();
    }
    let _enter = runtime.enter();
    drop(shim);
}
