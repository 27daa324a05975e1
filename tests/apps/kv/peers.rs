//! The store's peers: one persistent connection each, opened on first use and reopened after a
//! failure. A write is answered only after every peer took it: a peer that cannot be reached
//! (its node is upgrading, its shim closed the connection) is tried again with backoff for up
//! to [`REPLICATION_BOUND`], and only a peer still unreachable then is logged and skipped (a
//! node that is down for longer misses the write: this example has no anti-entropy).

use crate::rpc::{Client, Framing};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(5);

/// How long a write keeps trying a peer before it is answered without it.
pub const REPLICATION_BOUND: Duration = Duration::from_secs(20);

/// The bound of the planted `GivesUpReplicating` variant: a second. Long enough for every
/// outage an upgrade, a restarted program or agent causes (the peer's shim holds a new
/// connection while its node upgrades; a restarted shim is back within a second), short enough
/// that a peer route cut for longer loses the write on that peer.
pub const PLANTED_BOUND: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct Peer {
    addr: SocketAddr,
    conn: Mutex<Option<Client>>,
}

#[derive(Debug)]
pub struct Peers {
    peers: Vec<Peer>,
    framing: Framing,
    version: u64,
    /// How long a write keeps trying a peer ([`REPLICATION_BOUND`] in the real programs).
    bound: Duration,
}

impl Peers {
    /// Peers a write keeps trying for up to `bound` each.
    pub fn new(addrs: &[SocketAddr], framing: Framing, version: u64, bound: Duration) -> Peers {
        Peers {
            peers: addrs
                .iter()
                .map(|&addr| Peer {
                    addr,
                    conn: Mutex::new(None),
                })
                .collect(),
            framing,
            version,
            bound,
        }
    }

    /// Sends `replicate(params)` to every peer, one after the other, each until it takes it
    /// (or the bound passes).
    pub fn replicate(&self, params: &Value) {
        for peer in &self.peers {
            let deadline = Instant::now() + self.bound;
            let mut pause = Duration::from_millis(20);
            loop {
                match self.send(peer, params) {
                    Ok(()) => break,
                    Err(e) if Instant::now() + pause < deadline => {
                        eprintln!(
                            "kv-v{}: cannot replicate to {} yet ({e}): trying again",
                            self.version, peer.addr
                        );
                        std::thread::sleep(pause);
                        pause = (pause * 2).min(Duration::from_millis(500));
                    }
                    Err(e) => {
                        eprintln!(
                            "kv-v{}: cannot replicate to {}: {e}; giving up",
                            self.version, peer.addr
                        );
                        break;
                    }
                }
            }
        }
    }

    fn send(&self, peer: &Peer, params: &Value) -> Result<(), String> {
        let mut guard = match peer.conn.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        for attempt in 0..2 {
            if guard.is_none() {
                *guard = Some(
                    Client::connect(peer.addr, self.framing, TIMEOUT).map_err(|e| e.to_string())?,
                );
            }
            let Some(client) = guard.as_mut() else {
                continue;
            };
            match client.call("replicate", params.clone()) {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(e)) => return Err(format!("error {}: {}", e.code, e.message)),
                Err(e) => {
                    *guard = None;
                    if attempt == 1 {
                        return Err(e.to_string());
                    }
                }
            }
        }
        Err("no connection".into())
    }
}
