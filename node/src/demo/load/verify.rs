//! The check at the end of a load: every write acknowledged to the workers read back on the
//! nodes; and `get`, the single read it makes, which the tests use too.

use super::conn::Conn;
use super::model::{described, item_matches, Entry};
use super::WorkerReport;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

/// One `get` of `key` as a `version` caller at `addr` (a fresh connection).
pub fn get(addr: SocketAddr, version: u64, key: &str) -> Result<Value, String> {
    let _ = version;
    let mut conn = Conn::open(addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": "get", "params": {"key": key}});
    let mut bytes = serde_json::to_vec(&request).map_err(|e| e.to_string())?;
    bytes.push(b'\n');
    let answer = conn
        .call(&bytes, Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    match answer.get("error") {
        Some(e) => Err(format!("`get` of `{key}` answered error {e}")),
        None => Ok(answer.get("result").cloned().unwrap_or(Value::Null)),
    }
}

/// Checks that every write acknowledged to the workers is readable: each key a worker holds
/// has its value on every node (`ports`: each node's port pinned to version 1), each key
/// it deleted is gone from its own node (deletes are not replicated), and each key whose last
/// write's effect is not known holds one of its possible values on its own node. Returns the
/// problems.
pub fn verify(reports: &[WorkerReport], ports: &BTreeMap<String, SocketAddr>) -> Vec<String> {
    let mut problems = Vec::new();
    for r in reports {
        for key in &r.touched {
            if let Some(values) = r.unsure.get(key) {
                problems.extend(verify_unsure(r, key, values));
                continue;
            }
            match r.model.get(key) {
                Some(want) => {
                    for (node, addr) in ports {
                        match get(*addr, 1, key) {
                            Ok(v) if v.as_str() == Some(want.value.as_str()) => {}
                            Ok(v) => problems.push(format!(
                                "`{key}` (written as `{}` through `{}`) reads {v} on `{node}`",
                                want.value, r.target.node
                            )),
                            Err(e) => problems.push(format!("`{key}` on `{node}`: {e}")),
                        }
                    }
                }
                None => match get(r.target.addr, r.target.version, key) {
                    Ok(Value::Null) => {}
                    Ok(v) => problems.push(format!(
                        "`{key}`, deleted on `{}`, reads {v} there",
                        r.target.node
                    )),
                    Err(e) => problems.push(format!("`{key}` on `{}`: {e}", r.target.node)),
                },
            }
        }
    }
    problems
}

/// The check of a key whose last write's effect is not known: its own node holds one of
/// `values`. (The other nodes are not checked: the first sending of the write may have been
/// replicated to some of them and not to others before its program stopped.)
fn verify_unsure(r: &WorkerReport, key: &str, values: &[Option<Entry>]) -> Option<String> {
    let node = &r.target.node;
    match get(r.target.addr, r.target.version, key) {
        Ok(v)
            if values
                .iter()
                .any(|e| item_matches(r.target.version, &v, e.as_ref())) =>
        {
            None
        }
        Ok(v) => Some(format!(
            "`{key}` (written through `{node}`, holding {}) reads {v} there",
            described(values)
        )),
        Err(e) => Some(format!("`{key}` on `{node}`: {e}")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
    use super::*;
    use crate::demo::load::going_back::{GoingBack, PREFIX};

    /// At the end, an unsure key must hold one of its possible values on its own node.
    #[test]
    fn the_final_check_takes_an_unsure_key_as_any_of_its_values() {
        let node = GoingBack::start("put", format!("{PREFIX}2"));
        let mut w = node.worker();
        w.step(PREFIX, 2);
        let none = BTreeMap::new();
        assert_eq!(verify(&[w.report.clone()], &none), Vec::<String>::new());
        node.store.lock().unwrap().clear();
        assert_eq!(verify(&[w.report.clone()], &none), Vec::<String>::new());
        node.store.lock().unwrap().insert(
            format!("{PREFIX}2"),
            json!({"value": "v1", "expires_at": null}),
        );
        let problems = verify(&[w.report.clone()], &none);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("holding no value or `v2` (with a ttl)"),
            "{problems:?}"
        );
    }
}
