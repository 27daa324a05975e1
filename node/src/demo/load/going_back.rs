//! For unit tests: a node that goes back from version 2 to 1 in the middle of a write, as a
//! rollback does, for the tests of the workers and of the final check.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use super::worker::Worker;
use super::{Live, LoadConfig, Target};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A node that goes back from version 2 to 1 in the middle of a write, as a rollback does:
/// at version 2 it applies every call; the write marked `cut` is applied, then its
/// connection closes before the answer (the program stopped while the call waited for a
/// peer) and the node is at version 1 from then on, where it answers a version-2 caller
/// through the spec's future rules: `put` with a ttl and `delete` are refused as declared
/// disallows, `get` shows no expiry.
pub(super) struct GoingBack {
    /// The node as a version-2 worker targets it.
    target: Target,
    live: Live,
    pub(super) store: Arc<Mutex<BTreeMap<String, Value>>>,
}

impl GoingBack {
    /// Serves on a port of its own; the write to `cut_key` with method `cut_method` is the one
    /// cut.
    pub(super) fn start(cut_method: &'static str, cut_key: String) -> GoingBack {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let store = Arc::new(Mutex::new(BTreeMap::new()));
        let version = Arc::new(AtomicU64::new(2));
        let state = Arc::clone(&store);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (store, version) = (Arc::clone(&state), Arc::clone(&version));
                let cut_key = cut_key.clone();
                std::thread::spawn(move || {
                    let mut writer = stream.try_clone().unwrap();
                    for line in BufReader::new(stream).lines() {
                        let Ok(line) = line else { return };
                        let req: Value = serde_json::from_str(&line).unwrap();
                        let p = &req["params"];
                        let key = p.get("key").or(p.get(0)).unwrap().as_str().unwrap();
                        let method = req["method"].as_str().unwrap();
                        let mut store = store.lock().unwrap();
                        let v = version.load(Ordering::SeqCst);
                        let ttl = p.get("ttl_ms").is_some_and(|t| !t.is_null());
                        let disallowed = json!({"code": -32000, "message": "disallowed",
                            "data": {"disallowed": true}});
                        let answer = match (method, v) {
                            ("get", 2) => Ok(store.get(key).cloned().unwrap_or(Value::Null)),
                            ("get", _) => Ok(store.get(key).map_or(
                                Value::Null,
                                |i| json!({"value": i["value"], "expires_at": null}),
                            )),
                            ("put", 1) if ttl => Err(disallowed),
                            ("put", _) => {
                                let value = p.get("value").or(p.get(1)).unwrap().clone();
                                let expires = if ttl { json!(123) } else { Value::Null };
                                store.insert(
                                    key.to_owned(),
                                    json!({"value": value, "expires_at": expires}),
                                );
                                Ok(Value::Null)
                            }
                            ("delete", 2) => Ok(Value::Bool(store.remove(key).is_some())),
                            _ => Err(disallowed),
                        };
                        if v == 2 && method == cut_method && key == cut_key {
                            version.store(1, Ordering::SeqCst);
                            return;
                        }
                        let mut out = json!({"jsonrpc": "2.0", "id": req["id"]});
                        match answer {
                            Ok(r) => out["result"] = r,
                            Err(e) => out["error"] = e,
                        }
                        writeln!(writer, "{out}").unwrap();
                    }
                });
            }
        });
        let target = Target {
            node: "n2".into(),
            addr,
            version: 2,
        };
        GoingBack {
            target,
            live: Live::default(),
            store,
        }
    }

    /// A version-2 worker of the node, with no calls made yet.
    pub(super) fn worker(&self) -> Worker<'_> {
        Worker::new(&self.target, LoadConfig::default(), &self.live)
    }
}

pub(super) const PREFIX: &str = "n2-v2-w7-";
