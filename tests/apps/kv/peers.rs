//! The store's peers: one persistent connection each, opened on first use and reopened once
//! after a failure; a peer that cannot be reached is logged and skipped.

use crate::rpc::{Client, Framing};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(5);

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
}

impl Peers {
    pub fn new(addrs: &[SocketAddr], framing: Framing, version: u64) -> Peers {
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
        }
    }

    /// Sends `replicate(params)` to every peer, one after the other.
    pub fn replicate(&self, params: &Value) {
        for peer in &self.peers {
            if let Err(e) = self.send(peer, params) {
                eprintln!(
                    "kv-v{}: cannot replicate to {}: {e}",
                    self.version, peer.addr
                );
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
