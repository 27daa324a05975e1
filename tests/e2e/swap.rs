//! The node agent's view of a shim: an upgrade swaps the route (node, version, plugin chain)
//! under running clients. Each port keeps its version; what answers behind it changes.

mod support;

use e2e::rpc::{Client, Framing};
use serde_json::{json, Value};
use std::time::Duration;
use support::WAIT;

#[test]
fn an_upgrade_swaps_the_node_behind_every_port() {
    let dir = tempfile::tempdir().unwrap();
    let (_v2, v2_addr) = support::start_node(2, &dir.path().join("v2.json"), &[], &[]);
    let runtime = support::runtime();
    let config = support::node_config(2, v2_addr, &[Some(1), Some(2), Some(3)]);
    let shim = support::kv_shim(&runtime, config);
    let port = |v: u64| shim.addrs().listeners[(v - 1) as usize].0;
    let client = |v: u64| Client::connect(port(v), Framing::Lines, WAIT).unwrap();

    let mut old_client = client(1);
    assert_eq!(
        old_client.call("put", json!(["a", "1"])).unwrap(),
        Ok(Value::Null)
    );
    let mut v3 = client(3);
    assert_eq!(
        v3.call("compare_and_put", json!(["a", "2", null, 0]))
            .unwrap()
            .unwrap_err()
            .message,
        "compare_and_put needs version 3: this node does not track revisions yet"
    );

    // The upgrade: the node at version 3 starts, the shim drains and swaps, then serves again.
    let (_v3, v3_addr) = support::start_node(3, &dir.path().join("v3.json"), &[], &[]);
    let report = runtime.block_on(shim.drain(Duration::from_millis(200)));
    // Both connections were translated and idle: closed between frames, none cut.
    assert_eq!((report.finished, report.cut), (2, 0), "{report:?}");
    assert!(old_client.is_closed());
    shim.set_route(Some(v3_addr), 3, Some(support::chain()))
        .unwrap();
    shim.resume();
    assert_eq!(shim.route().node_version, 3);

    // The version-1 client keeps its port and protocol; now two past rules answer it.
    let mut c1 = client(1);
    assert_eq!(c1.call("put", json!(["b", "x"])).unwrap(), Ok(Value::Null));
    assert_eq!(c1.call("get", json!(["b"])).unwrap(), Ok(json!("x")));
    // The version-3 port is now the fast path: revisions and compare-and-put work.
    let mut c3 = client(3);
    let got = c3.call("get", json!(["b"])).unwrap().unwrap();
    assert_eq!(got["value"], json!("x"));
    assert!(got["revision"].as_u64().unwrap() > 0, "{got}");
    let written = c3
        .call("compare_and_put", json!(["c", "y", null, 0]))
        .unwrap()
        .unwrap();
    assert!(written["Written"].is_u64(), "{written}");
    // Version 2 goes through the past rule of 2 -> 3.
    let mut c2 = client(2);
    assert_eq!(
        c2.call("get", json!(["c"])).unwrap(),
        Ok(json!({"value": "y", "expires_at": null}))
    );
    let stats = shim.stats();
    assert!(stats.fast_path >= 1 && stats.translated >= 3, "{stats:?}");
}

#[test]
fn a_translated_connection_follows_a_swap_without_drain() {
    let dir = tempfile::tempdir().unwrap();
    let (_a, a_addr) = support::start_node(1, &dir.path().join("a.json"), &[], &[]);
    let (_b, b_addr) = support::start_node(1, &dir.path().join("b.json"), &[], &[]);
    let runtime = support::runtime();
    let config = support::node_config(1, a_addr, &[Some(2)]);
    let shim = support::kv_shim(&runtime, config);
    let mut c = Client::connect(shim.addrs().listeners[0].0, Framing::Lines, WAIT).unwrap();
    assert_eq!(
        c.call("put", json!(["k", "on-a", null])).unwrap(),
        Ok(Value::Null)
    );
    shim.set_node(b_addr);
    assert_eq!(
        c.call("get", json!(["k"])).unwrap(),
        Ok(Value::Null),
        "node b has no `k`"
    );
    assert_eq!(
        c.call("put", json!(["k", "on-b", null])).unwrap(),
        Ok(Value::Null)
    );
    let mut direct = Client::connect(b_addr, Framing::Lines, WAIT).unwrap();
    assert_eq!(direct.call("get", json!(["k"])).unwrap(), Ok(json!("on-b")));
}
