//! The drain before an upgrade, by requests and not by a clock: the node's own outgoing peer
//! routes stay open while its program still runs (a write it acknowledges after replicating
//! must reach the peers), its outgoing connections do not hold the drain up, idle client
//! connections are closed between requests, and a request in flight is answered before its
//! connection closes. Each of these failed before the drain was rebuilt.
//!
//! Nodes draining together (one batch of an upgrade): each still takes its peers' replication
//! while its program runs, or their programs, each finishing a write that waits for the
//! other, wait for each other until they are killed.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

mod support;

use serde_json::{json, Value};
use shim::{PeerRoute, Shim};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;
use support::{any, fake_node, one_port, Conn, WAIT};

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

/// A node program that replicates, like the kv example: a `put` waits for the gate to open,
/// is sent to its peer (`replicate` through the node's peer route, known once its shim runs)
/// and answered once the peer took it (or failed); anything else is answered at once. Every
/// answer names the node.
#[derive(Clone)]
struct Replicating {
    name: String,
    addr: SocketAddr,
    route: Arc<OnceLock<SocketAddr>>,
    gate: Gate,
    /// `put`s received.
    puts: Arc<Mutex<usize>>,
    /// What each `put`'s replication got: the peer's name, or what went wrong.
    replicated: Arc<Mutex<Vec<Result<Value, String>>>>,
}

/// Holds the `put`s of every node until the test opens it.
#[derive(Clone, Default)]
struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    fn open(&self) {
        *self.0 .0.lock().unwrap() = true;
        self.0 .1.notify_all();
    }

    fn pass(&self) {
        let mut open = self.0 .0.lock().unwrap();
        while !*open {
            open = self.0 .1.wait(open).unwrap();
        }
    }
}

impl Replicating {
    fn start(name: &str, gate: &Gate) -> Replicating {
        let listener = TcpListener::bind(any()).unwrap();
        let node = Replicating {
            name: name.to_string(),
            addr: listener.local_addr().unwrap(),
            route: Arc::new(OnceLock::new()),
            gate: gate.clone(),
            puts: Arc::default(),
            replicated: Arc::default(),
        };
        let serving = node.clone();
        support::serve_json_lines(listener, move |request| serving.answer(request));
        node
    }

    /// The result of `request`: a `put` passes the gate and replicates to the peer first.
    fn answer(&self, request: &Value) -> Value {
        if request["method"] == "put" {
            *self.puts.lock().unwrap() += 1;
            self.gate.pass();
            let replicated = self.replicate();
            self.replicated.lock().unwrap().push(replicated.clone());
            match replicated {
                Ok(peer) => json!({"node": self.name, "replicated_to": peer}),
                Err(e) => json!({"node": self.name, "not_replicated": e}),
            }
        } else {
            json!({"node": self.name, "method": request["method"]})
        }
    }

    /// Sends `replicate` through the peer route; the peer's name, or what went wrong.
    fn replicate(&self) -> Result<Value, String> {
        let route = *self.route.get().ok_or("no peer route")?;
        let answer = Conn::open(route).call("replicate")?;
        match answer.get("result") {
            Some(result) => Ok(result["node"].clone()),
            None => Err(answer["error"]["message"].to_string()),
        }
    }

    fn puts(&self) -> usize {
        *self.puts.lock().unwrap()
    }

    fn replicated(&self) -> Vec<Result<Value, String>> {
        self.replicated.lock().unwrap().clone()
    }
}

/// `n` nodes in a ring, each behind its shim, each replicating to the next through its shim's
/// peer route: the nodes and their shims.
async fn ring(n: usize, gate: &Gate) -> (Vec<Replicating>, Vec<Shim>) {
    let nodes: Vec<Replicating> = (0..n)
        .map(|i| Replicating::start(&format!("n{i}"), gate))
        .collect();
    let mut shims = Vec::new();
    for node in &nodes {
        shims.push(Shim::start(one_port(node.addr), None).await.unwrap());
    }
    for (i, node) in nodes.iter().enumerate() {
        let next = shims[(i + 1) % n].addrs().listeners[0].0;
        let route = shims[i].add_peer(any(), next).await.unwrap();
        node.route.set(route).unwrap();
    }
    (nodes, shims)
}

/// Polls `done` (every 10 ms, at most [`WAIT`]): whether it came true.
async fn until(done: impl Fn() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done() {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    true
}

/// Every node of the ring has a client's `put` in flight, its program holding it; then every
/// shim drains, and the programs go on, each replicating to the next node, whose shim drains
/// too. With a `grace` long enough, the drains are under way when the programs replicate and
/// wait for the `put`s; with none, the drains cut the clients first (the programs replicate
/// while they stop, as after SIGTERM). Either way every write reaches the next node.
async fn drain_a_ring_together(n: usize, grace: Duration) {
    let gate = Gate::default();
    let (nodes, shims) = ring(n, &gate).await;
    let clients: Vec<_> = shims
        .iter()
        .map(|s| {
            let addr = s.addrs().listeners[0].0;
            tokio::task::spawn_blocking(move || Conn::open(addr).call("put"))
        })
        .collect();
    assert!(until(|| nodes.iter().all(|n| n.puts() == 1)).await);
    let mut drains: Vec<_> = shims.iter().map(|s| Box::pin(s.drain(grace))).collect();
    let mut reports = Vec::new();
    if grace.is_zero() {
        for drain in drains {
            reports.push(drain.await);
        }
        gate.open();
    } else {
        for drain in &mut drains {
            // One poll: the shim drains from here on (its drain then waits for the `put`).
            tokio::select! {
                biased;
                report = drain => panic!("the drain ended with a request in flight: {report:?}"),
                () = std::future::ready(()) => {}
            }
        }
        gate.open();
        // The drains go on by themselves: awaiting them in turn waits for all.
        for drain in drains {
            reports.push(drain.await);
        }
    }
    assert!(until(|| nodes.iter().all(|n| !n.replicated().is_empty())).await);
    for (i, node) in nodes.iter().enumerate() {
        let next = format!("n{}", (i + 1) % n);
        assert_eq!(
            node.replicated(),
            [Ok(json!(next))],
            "the write on n{i} did not reach {next}"
        );
    }
    let cut = usize::from(grace.is_zero());
    for (report, client) in reports.into_iter().zip(clients) {
        assert_eq!(report.cut, cut, "{report:?}");
        let answer = client.await.unwrap();
        if cut == 0 {
            assert!(answer.unwrap()["result"]["replicated_to"].is_string());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_draining_together_take_each_others_replication() {
    drain_a_ring_together(2, WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_draining_together_take_each_others_replication() {
    drain_a_ring_together(3, WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_whose_drains_cut_their_clients_still_take_each_others_replication() {
    drain_a_ring_together(2, Duration::ZERO).await;
    drain_a_ring_together(3, Duration::ZERO).await;
}

/// Greets the shim on `conn` as a peer's shim at version 1, and reads its answer.
fn greet(conn: &mut Conn) {
    let hello = shim::hello("kv", 1);
    conn.write(&hello);
    assert_eq!(conn.line(), hello);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_shim_serves_peers_until_the_program_stops_and_holds_clients_for_the_next() {
    let gate = Gate::default();
    let (old, new) = (
        Replicating::start("old", &gate),
        Replicating::start("new", &gate),
    );
    let shim = Shim::start(one_port(old.addr), None).await.unwrap();
    let addr = shim.addrs().listeners[0].0;
    // A peer's connection from before the drain.
    let mut before = tokio::task::spawn_blocking(move || {
        let mut conn = Conn::open(addr);
        greet(&mut conn);
        conn
    })
    .await
    .unwrap();
    let report = shim.drain(WAIT).await;
    assert_eq!(report.cut, 0, "{report:?}");
    // A client that comes now sends its request; nothing may answer it before the next program.
    let mut client = tokio::task::spawn_blocking(move || {
        let mut conn = Conn::open(addr);
        conn.send("get");
        conn
    })
    .await
    .unwrap();
    // The program runs on: it serves peers, on the connection from before and on a new one.
    let (mut before, mut during, answers) = tokio::task::spawn_blocking(move || {
        let mut during = Conn::open(addr);
        greet(&mut during);
        let answers = [before.call("replicate"), during.call("replicate")];
        (before, during, answers)
    })
    .await
    .unwrap();
    for answer in answers {
        assert_eq!(answer.unwrap()["result"]["node"], json!("old"));
    }
    // The program stopped: its peers' connections are cut, and a peer that comes now waits
    // like the client (the old program, still listening here, must not get its call).
    assert_eq!(shim.hold().await, 0);
    let mut late = tokio::task::spawn_blocking(move || {
        let mut conn = Conn::open(addr);
        conn.write(&shim::hello("kv", 1));
        conn.send("get");
        conn
    })
    .await
    .unwrap();
    shim.set_route(Some(new.addr), 1, None).unwrap();
    shim.resume();
    let (cut, waited) = tokio::task::spawn_blocking(move || {
        let cut = [before.answer(), during.answer()];
        let hello_back = late.line();
        let waited = [client.answer(), late.answer()];
        assert_eq!(hello_back, shim::hello("kv", 1));
        (cut, waited)
    })
    .await
    .unwrap();
    for c in cut {
        assert_eq!(c.unwrap_err(), "closed");
    }
    for answer in waited {
        assert_eq!(answer.unwrap()["result"]["node"], json!("new"));
    }
    assert_eq!(old.puts() + new.puts(), 0);
}
