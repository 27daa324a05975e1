//! The shim without plugins, in front of a fake JSON-RPC node: handshakes, the fast path,
//! versions it cannot bridge, outgoing peer routes, the preload port, route swaps, and the
//! configuration checks. (Translation through real plugins is tested end to end in `tests/`.)

mod support;

use serde_json::json;
use shim::{connect_line, ListenerConfig, PeerRoute, Shim, ShimConfig, ShimError};
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;
use support::{any, fake_node, start, two_ports, Conn};

fn config(node: Option<SocketAddr>, version: u64) -> ShimConfig {
    let mut config = two_ports(node, version);
    config.outbound = Some(any());
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_version_peers_take_the_fast_path_and_others_are_refused() {
    let (shim, ports) = start(config(Some(fake_node()), 1)).await;
    let main = ports[0];
    tokio::task::spawn_blocking(move || {
        let mut peer = Conn::open(main);
        peer.write("UPSTART/1 kv 1\n");
        assert_eq!(peer.line(), "UPSTART/1 kv 1\n");
        assert_eq!(
            peer.call("get").unwrap()["result"],
            json!({"method": "get", "params": ["a"]})
        );
        let mut other = Conn::open(main);
        other.write("UPSTART/1 kv 2\n");
        assert_eq!(
            other.line(),
            "UPSTART/1 error unknown version 2: this node runs version 1 of `kv` and its plugin \
             chain bridges versions 1\n"
        );
        let mut client = Conn::open(main);
        assert_eq!(
            client.call("put").unwrap()["result"]["method"],
            json!("put")
        );
    })
    .await
    .unwrap();
    let stats = shim.stats();
    assert_eq!(
        (stats.fast_path, stats.handshakes_refused),
        (2, 1),
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_of_a_version_without_plugins_gets_an_error_per_request() {
    let (_shim, ports) = start(config(Some(fake_node()), 1)).await;
    let v2 = ports[1];
    tokio::task::spawn_blocking(move || {
        let mut c = Conn::open(v2);
        for _ in 0..2 {
            let answer = c.call("get").unwrap();
            assert_eq!(answer["error"]["code"], json!(shim::code::VERSION_NOT_BRIDGED));
            assert_eq!(
                answer["error"]["message"],
                json!("version 2 is not bridged to this node (version 1): its plugin chain knows versions 1")
            );
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outgoing_routes_greet_the_peer_and_carry_the_traffic() {
    let node = fake_node();
    let remote = Shim::start(config(Some(node), 1), None).await.unwrap();
    let mut local_config = config(None, 1);
    local_config.peers = vec![PeerRoute {
        listen: any(),
        remote: remote.addrs().listeners[0].0,
    }];
    let local = Shim::start(local_config, None).await.unwrap();
    let route = local.addrs().peers[0].0;
    let preload = local.addrs().outbound.unwrap();
    let remote_main = remote.addrs().listeners[0].0;
    tokio::task::spawn_blocking(move || {
        // An explicit route.
        let mut c = Conn::open(route);
        assert_eq!(
            c.call("replicate").unwrap()["result"]["method"],
            json!("replicate")
        );
        // The preload port: the destination first, then the traffic.
        let mut c = Conn::open(preload);
        c.write(&connect_line(remote_main));
        assert_eq!(c.line(), "UPSTART/1 ok\n");
        assert_eq!(c.call("get").unwrap()["result"]["method"], json!("get"));
        // An unreachable destination is refused, so that `connect` fails.
        let closed = TcpListener::bind(any()).unwrap().local_addr().unwrap();
        let mut c = Conn::open(preload);
        c.write(&connect_line(closed));
        assert!(c
            .line()
            .starts_with("UPSTART/1 error cannot reach the peer at "));
    })
    .await
    .unwrap();
    assert_eq!(remote.stats().fast_path, 2);

    // After the local node's upgrade (no plugins), the remote refuses its version: the node's
    // requests are answered with the reason.
    local.set_route(None, 2, None).unwrap();
    tokio::task::spawn_blocking(move || {
        let mut c = Conn::open(route);
        let answer = c.call("get").unwrap();
        assert_eq!(
            answer["error"]["code"],
            json!(shim::code::VERSION_NOT_BRIDGED)
        );
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("refused version 2: unknown version 2"),
            "{message}"
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn bad_configurations_are_refused() {
    let mut c = config(None, 1);
    c.max_frame = 0;
    let e = Shim::start(c, None).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "bad shim configuration: the frame limit must be between 1 and 4294967295 bytes, got 0"
    );
    let mut c = ShimConfig::new("kv", 1);
    c.listeners.clear();
    assert!(matches!(
        Shim::start(c, None).await,
        Err(ShimError::Config(_))
    ));
    let taken = TcpListener::bind(any()).unwrap();
    let mut c = config(None, 1);
    c.listeners = vec![ListenerConfig {
        addr: taken.local_addr().unwrap(),
        version: None,
    }];
    let e = Shim::start(c, None).await.unwrap_err();
    assert!(
        e.to_string().starts_with("cannot listen on 127.0.0.1:"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_threaded_fast_path_copies_and_is_cut_by_a_drain() {
    let mut c = config(Some(fake_node()), 1);
    c.fast_path = shim::FastPath::Threads;
    let (shim, ports) = start(c).await;
    let main = ports[0];
    let mut conn = tokio::task::spawn_blocking(move || {
        let mut conn = Conn::open(main);
        for _ in 0..3 {
            assert_eq!(conn.call("get").unwrap()["result"]["method"], json!("get"));
        }
        conn
    })
    .await
    .unwrap();
    let report = shim.drain(Duration::from_millis(100)).await;
    assert_eq!((report.finished, report.cut), (0, 1), "{report:?}");
    let rest = conn.line();
    assert!(rest.is_empty(), "cut: {rest}");
    assert_eq!(shim.active_connections(), 0);
}

/// A peer's shim that closes a connection before answering its handshake (restarting, say)
/// and answers the next ones: accepts connections on `listener`, drops the first, and answers
/// the handshake and every request of the others.
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "a test's fake peer"
)]
fn flaky_peer(listener: TcpListener) {
    use std::io::{BufRead, BufReader, Write};
    std::thread::spawn(move || {
        let mut first = true;
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            if std::mem::take(&mut first) {
                continue;
            }
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().unwrap();
                for (n, line) in BufReader::new(stream).lines().enumerate() {
                    let Ok(line) = line else { return };
                    let answer = if n == 0 {
                        shim::hello("kv", 1)
                    } else {
                        let request: serde_json::Value = serde_json::from_str(&line).unwrap();
                        let result = json!({"method": request["method"]});
                        format!(
                            "{}\n",
                            json!({"jsonrpc": "2.0", "id": request["id"], "result": result})
                        )
                    };
                    if writer.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshake_the_peer_drops_closes_the_nodes_connection_and_the_next_one_reaches_it() {
    let listener = TcpListener::bind(any()).unwrap();
    let remote = listener.local_addr().unwrap();
    flaky_peer(listener);
    let mut local_config = config(None, 1);
    local_config.peers = vec![PeerRoute {
        listen: any(),
        remote,
    }];
    let local = Shim::start(local_config, None).await.unwrap();
    let route = local.addrs().peers[0].0;
    let (dropped, again) = tokio::task::spawn_blocking(move || {
        // Not a refusal of the version: the node sees its connection closed (so it connects
        // again), not an error that every later request on it would get too.
        let dropped = Conn::open(route).call("replicate");
        let again = Conn::open(route).call("replicate");
        (dropped, again)
    })
    .await
    .unwrap();
    assert_eq!(dropped.unwrap_err(), "closed");
    assert_eq!(again.unwrap()["result"]["method"], json!("replicate"));
}
