//! Polling before sleeping on a translated connection (`ShimConfig::spin`): with polling on,
//! answers stay right and in order; a caller that pauses longer than the cap between requests
//! is not polled for, nor is a connection with no traffic; after a burst, a caller that starts
//! pausing is polled for once at most. A caller of a version the shim has no plugins for is on
//! the translated path: the connection's own task answers each request with an error. (The
//! poll for the node's answer is tested in `translate.rs`; the bench measures it through real
//! plugins.)

#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

mod support;

use serde_json::{json, Value};
use shim::ShimConfig;
use std::time::Duration;
use support::{fake_node, idle, start, two_ports, Conn};

fn config(spin: Duration) -> ShimConfig {
    let mut config = two_ports(Some(fake_node()), 1);
    config.spin = spin;
    config
}

/// Sends `ids` in one write and reads their answers: each an error for an unbridged version,
/// with its request's id, in order.
fn exchange(conn: &mut Conn, ids: std::ops::Range<u64>) {
    let mut text = String::new();
    for id in ids.clone() {
        let request = json!({"jsonrpc": "2.0", "id": id, "method": "get", "params": ["a"]});
        text.push_str(&format!("{request}\n"));
    }
    conn.write(&text);
    for id in ids {
        let answer: Value = conn.answer().unwrap();
        assert_eq!(answer["id"], json!(id), "{answer}");
        assert_eq!(
            answer["error"]["code"],
            json!(shim::code::VERSION_NOT_BRIDGED),
            "{answer}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_stay_in_order_when_the_shim_polls_for_the_next_frame() {
    // A cap far above a loopback caller's turnaround: the caller is polled for.
    let (shim, ports) = start(config(Duration::from_millis(50))).await;
    let v2 = ports[1];
    tokio::task::spawn_blocking(move || {
        let mut conn = Conn::open(v2);
        for id in 0..200 {
            exchange(&mut conn, id..id + 1);
        }
        // Pipelined: frames read together, answered in order.
        exchange(&mut conn, 200..264);
        for id in 264..300 {
            exchange(&mut conn, id..id + 1);
        }
    })
    .await
    .unwrap();
    let stats = shim.stats();
    assert!(stats.spins_for_caller > 0, "{stats:?}");
    assert!(stats.spins_answered > 0, "{stats:?}");
    assert_eq!(stats.spins_for_node, 0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_or_pausing_caller_is_not_polled_for_and_a_burst_ends_in_one_poll_at_most() {
    let (shim, ports) = start(config(Duration::from_millis(1))).await;
    let v2 = ports[1];
    let pause = Duration::from_millis(20);
    let paced = move |conn: &mut Conn, ids: std::ops::Range<u64>| {
        for id in ids {
            std::thread::sleep(pause);
            exchange(conn, id..id + 1);
        }
    };
    // Connections that send nothing, and a caller that always pauses longer than the cap.
    let silent = idle(v2, 3);
    tokio::task::spawn_blocking(move || {
        let mut conn = Conn::open(v2);
        paced(&mut conn, 0..5);
    })
    .await
    .unwrap();
    drop(silent);
    let stats = shim.stats();
    assert_eq!(
        (
            stats.spins_for_caller,
            stats.spins_for_node,
            stats.spin_micros
        ),
        (0, 0, 0),
        "{stats:?}"
    );
    // A caller that pauses after a burst: whatever the burst was polled for, the pauses after
    // it are polled for once at most (the first pause empties the connection's budget).
    let shim = std::sync::Arc::new(shim);
    let watched = std::sync::Arc::clone(&shim);
    let (before, after) = tokio::task::spawn_blocking(move || {
        let mut conn = Conn::open(v2);
        for id in 0..100 {
            exchange(&mut conn, id..id + 1);
        }
        let before = watched.stats().spins_for_caller;
        paced(&mut conn, 100..106);
        (before, watched.stats().spins_for_caller)
    })
    .await
    .unwrap();
    assert!(after <= before + 1, "{before} then {after}");
}
