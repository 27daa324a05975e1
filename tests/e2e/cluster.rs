//! Three real key-value nodes at versions 1, 2 and 3, each behind its own shim; clients of
//! versions 1, 2 and 3 talk to every node. Every answer must be right for the caller's version
//! (or a declared disallow with the spec's reason), and writes must replicate across versions.
//! Run twice: with the nodes given their shims' peer routes, and with the unmodified nodes
//! given their peers' real addresses under the LD_PRELOAD library.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
#![allow(clippy::panic, clippy::indexing_slicing, reason = "tests")]

mod support;

use e2e::process::ChildGuard;
use e2e::rpc::{Client, RpcError};
use serde_json::{json, Value};
use std::process::Command;
use support::{Cluster, PeerMode, WAIT};

#[test]
fn cluster_with_explicit_peer_routes() {
    exercise(PeerMode::Explicit);
}

#[test]
fn cluster_under_the_preload_library() {
    exercise(PeerMode::Preload);
}

fn exercise(mode: PeerMode) {
    let cluster = Cluster::start(mode);
    let written = every_client_on_every_node(&cluster);
    writes_replicate_across_versions(&cluster, &written);
    expiry_replicates_where_it_can(&cluster);
    load_clients_see_no_wrong_answer(&cluster);
    state_files_have_every_version_shape(&cluster, &written);
    for m in &cluster.members {
        let stats = m.shim.stats();
        assert!(stats.fast_path > 0, "node {}: {stats:?}", m.version);
        assert!(stats.translated > 0, "node {}: {stats:?}", m.version);
        assert_eq!(stats.handshakes_refused, 0, "node {}: {stats:?}", m.version);
        // The node's replication went through its shim (a peer route, or the preload library).
        assert!(stats.outbound >= 2, "node {}: {stats:?}", m.version);
    }
}

fn call(c: &mut Client, method: &str, params: Value) -> Result<Value, RpcError> {
    c.call(method, params)
        .unwrap_or_else(|e| panic!("`{method}` lost its connection: {e}"))
}

/// What a `client`-version caller's `get` of "x" written by a plain put returns on `node`.
fn assert_item(client: u64, node: u64, got: &Value, what: &str) {
    match client {
        1 => assert_eq!(got, &json!("x"), "{what}"),
        2 => assert_eq!(got, &json!({"value": "x", "expires_at": null}), "{what}"),
        _ => {
            assert_eq!(got["value"], json!("x"), "{what}: {got}");
            assert_eq!(got["expires_at"], Value::Null, "{what}: {got}");
            let revision = got["revision"]
                .as_u64()
                .unwrap_or_else(|| panic!("{what}: {got}"));
            // A version-3 node stamps revisions; older ones know none (0 means unknown).
            assert_eq!(revision > 0, node == 3, "{what}: {got}");
            assert_eq!(got.as_object().map(|o| o.len()), Some(3), "{what}: {got}");
        }
    }
}

fn assert_disallowed(outcome: Result<Value, RpcError>, reason: &str, what: &str) {
    let e = outcome.expect_err(what);
    assert_eq!(e.code, -32001, "{what}: {e:?}");
    assert_eq!(e.message, reason, "{what}");
    assert!(e.is_disallowed(), "{what}: {e:?}");
}

/// Each client version writes and reads its own key on each node; the version-specific calls
/// are answered or disallowed as the specs say. Returns the keys written.
fn every_client_on_every_node(cluster: &Cluster) -> Vec<String> {
    let mut written = Vec::new();
    for node in 1..=3u64 {
        for client in 1..=3u64 {
            let what = format!("v{client} client on v{node} node");
            let mut c = cluster.member(node).client(client);
            let key = format!("c{client}-n{node}");
            let put = if client == 1 {
                call(&mut c, "put", json!([key, "x"]))
            } else {
                call(&mut c, "put", json!({"key": key, "value": "x"}))
            };
            let put = put.unwrap_or_else(|e| panic!("{what}: put: {e:?}"));
            match (client, node) {
                (1 | 2, _) => assert_eq!(put, Value::Null, "{what}: put"),
                (_, 3) => assert!(put.as_u64().is_some_and(|r| r > 0), "{what}: put {put}"),
                _ => assert_eq!(put, json!(0), "{what}: put"),
            }
            let got = call(&mut c, "get", json!({"key": key})).unwrap();
            assert_item(client, node, &got, &format!("{what}: get"));
            if client == 3 && node == 3 {
                assert_eq!(got["revision"], put, "{what}: the revision put returned");
            }
            let missing = call(&mut c, "get", json!(["nothing-here"])).unwrap();
            assert_eq!(missing, Value::Null, "{what}: get of a missing key");
            written.push(key.clone());

            // What each version may not do on an older node.
            match (client, node) {
                (1, _) => {
                    let e = call(&mut c, "delete", json!([key])).unwrap_err();
                    assert_eq!(e.code, -32601, "{what}: a v1 caller has no delete: {e:?}");
                }
                (2, 1) => {
                    assert_disallowed(
                        call(&mut c, "put", json!([key, "y", 5000])),
                        "ttl needs version 2",
                        &what,
                    );
                    assert_disallowed(
                        call(&mut c, "delete", json!([key])),
                        "delete needs version 2",
                        &what,
                    );
                }
                (3, 1 | 2) => {
                    assert_disallowed(
                        call(&mut c, "compare_and_put", json!([key, "y", null, 0])),
                        "compare_and_put needs version 3: this node does not track revisions yet",
                        &what,
                    );
                    assert_disallowed(
                        call(&mut c, "list_keys", json!(["c", 10])),
                        "list_keys needs version 3",
                        &what,
                    );
                    let many = call(&mut c, "get_many", json!([[key, "nothing-here"]])).unwrap();
                    assert_eq!(
                        many,
                        json!([{"value": "x", "expires_at": null, "revision": 0}, null]),
                        "{what}"
                    );
                    if node == 1 {
                        assert_disallowed(
                            call(&mut c, "delete", json!(["gone"])),
                            "delete needs version 2",
                            &what,
                        );
                        assert_disallowed(
                            call(&mut c, "put", json!([key, "y", 5000])),
                            "ttl needs version 2",
                            &what,
                        );
                    } else {
                        assert_eq!(
                            call(&mut c, "delete", json!(["gone"])).unwrap(),
                            json!(false),
                            "{what}"
                        );
                    }
                }
                (3, 3) => {
                    let cas = call(&mut c, "compare_and_put", json!([key, "x", null, 0])).unwrap();
                    assert!(cas["Conflict"].as_u64().is_some(), "{what}: {cas}");
                }
                (2, 2 | 3) => {
                    assert_eq!(
                        call(&mut c, "delete", json!(["gone"])).unwrap(),
                        json!(false),
                        "{what}"
                    );
                }
                _ => {}
            }
        }
    }
    written
}

/// Every key written anywhere is on every node, in the shape of every caller's version.
fn writes_replicate_across_versions(cluster: &Cluster, written: &[String]) {
    for node in 1..=3u64 {
        for client in 1..=3u64 {
            let mut c = cluster.member(node).client(client);
            for key in written {
                let what = format!("`{key}` read by a v{client} client on the v{node} node");
                let got = call(&mut c, "get", json!([key])).unwrap();
                assert_item(client, node, &got, &what);
            }
        }
    }
}

/// A v2 write with a TTL keeps its expiry on v2 and v3 nodes; v1 cannot hold one.
fn expiry_replicates_where_it_can(cluster: &Cluster) {
    let mut c = cluster.member(2).client(2);
    call(
        &mut c,
        "put",
        json!({"key": "ttl", "value": "t", "ttl_ms": 600_000}),
    )
    .unwrap();
    for node in 1..=3u64 {
        let mut c = cluster.member(node).client(2);
        let got = call(&mut c, "get", json!(["ttl"])).unwrap();
        assert_eq!(got["value"], json!("t"), "on v{node}: {got}");
        assert_eq!(got["expires_at"].is_u64(), node >= 2, "on v{node}: {got}");
    }
}

/// `kv-load` of every version against every node at once: nothing failed, nothing wrong.
fn load_clients_see_no_wrong_answer(cluster: &Cluster) {
    let mut loads = Vec::new();
    for node in 1..=3u64 {
        for client in 1..=3u64 {
            let mut command = Command::new(env!("CARGO_BIN_EXE_kv-load"));
            command.args([
                "--addr",
                &cluster.member(node).port(client).to_string(),
                "--version",
                &client.to_string(),
                "--connections",
                "2",
                "--requests",
                "48",
                "--prefix",
                &format!("load-c{client}-n{node}-"),
            ]);
            loads.push((
                node,
                client,
                ChildGuard::spawn("kv-load", &mut command).unwrap(),
            ));
        }
    }
    for (node, client, mut load) in loads {
        let line = load.line(WAIT * 3).unwrap();
        let counts: Value = serde_json::from_str(&line).unwrap();
        let what = format!("kv-load v{client} on the v{node} node: {counts}");
        assert_eq!(load.wait_exit(WAIT), Some(0), "{what}");
        assert_eq!(counts["failed"], json!(0), "{what}");
        assert_eq!(counts["wrong"], json!(0), "{what}");
        assert!(counts["ok"].as_u64().unwrap() >= 48, "{what}");
        let disallowed = counts["disallowed"].as_u64().unwrap();
        assert_eq!(
            disallowed > 0,
            client > node,
            "only newer callers meet disallows: {what}"
        );
    }
}

/// Each node's state file is its own version's `state` record, holding every key.
fn state_files_have_every_version_shape(cluster: &Cluster, written: &[String]) {
    for m in &cluster.members {
        let state: Value = serde_json::from_slice(&std::fs::read(&m.state).unwrap()).unwrap();
        let map = if m.version == 1 {
            &state["entries"]
        } else {
            &state["items"]
        };
        for key in written {
            assert!(map.get(key).is_some(), "v{} state lacks `{key}`", m.version);
        }
        match m.version {
            1 => assert_eq!(state["entries"]["c3-n3"], json!("x")),
            2 => assert_eq!(
                state["items"]["c1-n1"],
                json!({"value": "x", "expires_at": null})
            ),
            _ => assert!(state["revision"].as_u64().unwrap() > 0),
        }
    }
}
