//! The test fault hook on peer routes (`ShimConfig::fault_control`, for `upstart test`): off
//! by default (no control socket, nothing to command); on, a command on its socket cuts a
//! route (its open connection closed, new ones closed as they come) or delays it, and the
//! route heals.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

mod support;

use shim::{PeerRoute, Shim, ShimConfig};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::{any, fake_node, one_port, Conn};

/// A shim with a peer route to a second shim in front of a node; `control`: its fault socket.
async fn two_shims(control: Option<PathBuf>) -> (Shim, Shim) {
    let peer = Shim::start(one_port(fake_node()), None).await.unwrap();
    let mut local = one_port(fake_node());
    local.peers = vec![PeerRoute {
        listen: any(),
        remote: peer.addrs().listeners[0].0,
    }];
    local.fault_control = control;
    (Shim::start(local, None).await.unwrap(), peer)
}

/// Sends one command line to the control socket; its answer line.
fn command(socket: &Path, line: &str) -> String {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(support::WAIT)).unwrap();
    writeln!(s, "{line}").unwrap();
    let mut answer = String::new();
    BufReader::new(s).read_line(&mut answer).unwrap();
    answer.trim().to_string()
}

/// A fresh directory for this test's socket (removed at the end).
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("shim-faults-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_control_socket_the_hook_takes_no_command_and_routes_carry() {
    // Off by default: no socket is made, so nothing can be commanded.
    assert_eq!(ShimConfig::new("kv", 1).fault_control, None);
    let (local, _peer) = two_shims(None).await;
    let route = local.addrs().peers[0].0;
    tokio::task::spawn_blocking(move || {
        let mut replication = Conn::open(route);
        for _ in 0..3 {
            assert!(replication.call("replicate").is_ok());
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_closes_the_route_until_it_heals_and_a_delay_holds_its_frames() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("cut");
    let socket = dir.path().join("faults.sock");
    let (local, peer) = two_shims(Some(socket.clone())).await;
    let route = local.addrs().peers[0].0;
    let remote = peer.addrs().listeners[0].0;
    tokio::task::spawn_blocking(move || {
        let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        let mut replication = Conn::open(route);
        assert!(replication.call("replicate").is_ok());
        // Another route is not this one.
        assert_eq!(command(&socket, "cut 127.0.0.1:1 60000"), "ok");
        assert!(replication.call("replicate").is_ok());
        // Cut: the open connection is closed, a new one too.
        assert_eq!(command(&socket, &format!("cut {remote} 60000")), "ok");
        // (Closed, or reset when the request was unread.)
        assert!(replication.answer().is_err());
        assert!(Conn::open(route).call("replicate").is_err());
        // Healed (by command here; by itself when its time is up).
        assert_eq!(command(&socket, "heal *"), "ok");
        let mut replication = Conn::open(route);
        assert!(replication.call("replicate").is_ok());
        assert_eq!(command(&socket, "cut * 300"), "ok");
        std::thread::sleep(Duration::from_millis(400));
        let mut replication = Conn::open(route);
        assert!(replication.call("replicate").is_ok());
        // Delayed: the request and its answer each wait 200 ms.
        assert_eq!(command(&socket, "delay * 200 60000"), "ok");
        let started = Instant::now();
        assert!(replication.call("replicate").is_ok());
        assert!(started.elapsed() >= Duration::from_millis(400));
        // A bad command is refused with the reason.
        let refused = command(&socket, "cut * soon");
        assert!(refused.starts_with("error: `soon`"), "{refused}");
    })
    .await
    .unwrap();
    drop(local);
    assert!(!dir.path().join("faults.sock").exists());
}
