//! The drain before an upgrade, by requests and not by a clock: the node's own outgoing peer
//! routes stay open while its program still runs (a write it acknowledges after replicating
//! must reach the peers), its outgoing connections do not hold the drain up, idle client
//! connections are closed between requests, and a request in flight is answered before its
//! connection closes. Each of these failed before the drain was rebuilt.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

mod support;

use serde_json::json;
use shim::{PeerRoute, Shim};
use std::time::Duration;
use support::{any, fake_node, one_port, Conn};

const GRACE: Duration = Duration::from_secs(4);

/// A shim in front of a node, with a peer route to a second shim in front of another node.
async fn two_shims() -> (Shim, Shim) {
    let peer = Shim::start(one_port(fake_node()), None).await.unwrap();
    let mut local = one_port(fake_node());
    local.peers = vec![PeerRoute {
        listen: any(),
        remote: peer.addrs().listeners[0].0,
    }];
    (Shim::start(local, None).await.unwrap(), peer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_routes_stay_open_while_the_node_drains() {
    let (local, _peer) = two_shims().await;
    let route = local.addrs().peers[0].0;
    let client = local.addrs().listeners[0].0;
    // The program's persistent connection to its peer, and a client whose request is in flight
    // (so the drain lasts while the program replicates).
    let (mut replication, mut busy) = tokio::task::spawn_blocking(move || {
        let mut replication = Conn::open(route);
        assert!(replication.call("replicate").is_ok());
        let mut busy = Conn::open(client);
        busy.send("slow");
        (replication, busy)
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let drain = {
        let local = std::sync::Arc::new(local);
        let l = std::sync::Arc::clone(&local);
        (local, tokio::spawn(async move { l.drain(GRACE).await }))
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (open, fresh, answered) = tokio::task::spawn_blocking(move || {
        // During the drain: the open peer connection and a new one both carry calls.
        let open = replication.call("replicate");
        let fresh = Conn::open(route).call("replicate");
        let answered = busy.answer();
        (open, fresh, answered)
    })
    .await
    .unwrap();
    assert_eq!(open.unwrap()["result"]["method"], json!("replicate"));
    assert_eq!(fresh.unwrap()["result"]["method"], json!("replicate"));
    assert_eq!(answered.unwrap()["result"]["method"], json!("slow"));
    let report = drain.1.await.unwrap();
    // The peer connections (still open) did not hold the drain up.
    assert_eq!(report.cut, 0, "{report:?}");
    drop(drain.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drain_closes_idle_connections_and_waits_for_requests_in_flight() {
    let shim = Shim::start(one_port(fake_node()), None).await.unwrap();
    let addr = shim.addrs().listeners[0].0;
    let (mut idle, mut busy) = tokio::task::spawn_blocking(move || {
        let mut idle = Conn::open(addr);
        assert!(idle.call("get").is_ok());
        let mut busy = Conn::open(addr);
        assert!(busy.call("get").is_ok());
        busy.send("slow");
        (idle, busy)
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let report = shim.drain(GRACE).await;
    // Nothing was cut: the idle connection closed between requests, the busy one once its
    // answer was through.
    assert_eq!((report.finished, report.cut), (2, 0), "{report:?}");
    let (idle_after, busy_answer, busy_after) = tokio::task::spawn_blocking(move || {
        let idle_after = idle.answer();
        let busy_answer = busy.answer();
        let busy_after = busy.answer();
        (idle_after, busy_answer, busy_after)
    })
    .await
    .unwrap();
    assert_eq!(idle_after.unwrap_err(), "closed");
    assert_eq!(busy_answer.unwrap()["result"]["method"], json!("slow"));
    assert_eq!(busy_after.unwrap_err(), "closed");
}
