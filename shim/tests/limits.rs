//! Hostile clients against the shim's bounds (issue 10, finding 5): idle sockets on a port must
//! not starve the other ports, peers or the node; sockets beyond a port's limit must not block
//! a peer's handshake; a client that never finishes its first bytes or a frame (slowloris) is
//! closed at its deadline. In front of a fake JSON-RPC node, one thread per connection.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

mod support;

use shim::{Shim, ShimConfig};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use support::{call, closed_within, fake_node, idle, request, start, two_ports, WAIT};

/// A shim for `kv` version 1 with a main port (the node's version) and a port pinned to 2.
fn config(node: SocketAddr) -> ShimConfig {
    two_ports(Some(node), 1)
}

/// Finding 5: 1,100 idle sockets on a pinned port (the default limits) took the whole shim:
/// no client on another port and no peer was served any more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sockets_on_a_pinned_port_starve_neither_clients_nor_peers() {
    let (_shim, ports) = start(config(fake_node())).await;
    let (main, pinned) = (ports[0], ports[1]);
    tokio::task::spawn_blocking(move || {
        let _held = idle(pinned, 1_100);
        assert_eq!(
            call(main, None),
            Ok("get".into()),
            "a client on the main port"
        );
        assert_eq!(
            call(main, Some("UPSTART/1 kv 1\n")),
            Ok("get".into()),
            "a peer's shim"
        );
    })
    .await
    .unwrap();
}

/// A port's limit is its own, and sockets beyond it take the place of the oldest unanswered
/// ones: a peer and a new client get in. With every slot held by answered clients, a peer's
/// handshake is still read (peers are counted apart) and a new client is told the port is busy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_beyond_a_ports_limit_do_not_block_peers() {
    let mut c = config(fake_node());
    c.limits.max_connections = 16;
    let shim = Shim::start(c, None).await.unwrap();
    let main = shim.addrs().listeners[0].0;
    tokio::task::spawn_blocking(move || {
        let _held = idle(main, 100);
        assert_eq!(call(main, Some("UPSTART/1 kv 1\n")), Ok("get".into()));
        assert_eq!(call(main, None), Ok("get".into()));
    })
    .await
    .unwrap();
    assert!(shim.stats().evicted >= 84, "{:?}", shim.stats());

    tokio::task::spawn_blocking(move || {
        // Sixteen clients that were answered and stay.
        let answered: Vec<(TcpStream, BufReader<TcpStream>)> = (0..16)
            .map(|_| {
                let s = TcpStream::connect(main).unwrap();
                s.set_read_timeout(Some(WAIT)).unwrap();
                let mut r = BufReader::new(s.try_clone().unwrap());
                (&s).write_all(request("get").as_bytes()).unwrap();
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                assert!(line.contains("\"get\""), "{line}");
                (s, r)
            })
            .collect();
        assert_eq!(call(main, Some("UPSTART/1 kv 1\n")), Ok("get".into()));
        let answer = call(main, None).unwrap_err();
        assert!(
            answer.contains("-32004") && answer.contains("busy"),
            "{answer}"
        );
        drop(answered);
    })
    .await
    .unwrap();
    assert!(shim.stats().refused_busy >= 1, "{:?}", shim.stats());
}

/// Short deadlines, for the tests below.
fn quick(node: SocketAddr) -> ShimConfig {
    let mut c = config(node);
    c.limits.first_bytes_timeout = Duration::from_millis(300);
    c.limits.frame_timeout = Duration::from_millis(300);
    c.limits.idle_timeout = Duration::from_millis(300);
    c
}

/// Sends a request that never ends, one byte every 50 ms, until the shim closes the
/// connection (or 10 s pass); what the shim answered.
fn trickle(addr: SocketAddr) -> Option<String> {
    let mut stream = TcpStream::connect(addr).unwrap();
    let text = r#"{"jsonrpc":"2.0","id":1,"method":"get","params":["a"]"#.repeat(20);
    let started = Instant::now();
    for byte in text.bytes() {
        if started.elapsed() > WAIT || stream.write_all(&[byte]).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        stream.set_nonblocking(true).unwrap();
        let mut answer = [0u8; 512];
        let read = stream.read(&mut answer);
        stream.set_nonblocking(false).unwrap();
        match read {
            Ok(n) => return Some(String::from_utf8_lossy(&answer[..n]).into_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => return Some(String::new()),
        }
    }
    None
}

/// Slowloris: a request trickled a byte at a time is cut, on a decoded port when the frame is
/// not complete in time (with an error saying so), on a copied one when the node has not
/// answered within the idle timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_is_cut_at_its_deadline() {
    let (shim, ports) = start(quick(fake_node())).await;
    let (main, pinned) = (ports[0], ports[1]);
    tokio::task::spawn_blocking(move || {
        let decoded = trickle(pinned).expect("the decoded connection is cut");
        assert!(
            decoded.contains("-32005") && decoded.contains("not complete within 300 ms"),
            "{decoded}"
        );
        assert!(trickle(main).is_some(), "the copied connection is cut");
    })
    .await
    .unwrap();
    assert!(shim.stats().timed_out >= 2, "{:?}", shim.stats());
}

/// A silent socket is closed at the first-bytes deadline, and a connection that was answered
/// and then says nothing at the idle timeout, on a copied port and a decoded one alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_idle_connections_are_closed() {
    let (shim, ports) = start(quick(fake_node())).await;
    let (main, pinned) = (ports[0], ports[1]);
    tokio::task::spawn_blocking(move || {
        for port in [main, pinned] {
            let mut silent = TcpStream::connect(port).unwrap();
            assert!(closed_within(&mut silent, WAIT), "silent on {port}");
            let mut used = TcpStream::connect(port).unwrap();
            used.write_all(request("get").as_bytes()).unwrap();
            let mut reader = BufReader::new(used.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            // Answered (without plugins, a pinned port's answer is an error): then idle.
            assert!(line.contains("\"id\":1"), "{line}");
            assert!(closed_within(&mut used, WAIT), "idle on {port}");
        }
    })
    .await
    .unwrap();
    assert_eq!(shim.stats().timed_out, 4, "{:?}", shim.stats());
}
