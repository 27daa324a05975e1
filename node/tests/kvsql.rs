//! The second example system (issue 13, item 5): `examples/kvsql/kvsql.py`, a Python service
//! with its own flags (`--listen-port`, `--db`, `--schema`, `--peer`) that keeps its state in
//! SQLite and knows nothing of Upstart, upgraded from schema 1 (`entries (key, value)`) to
//! schema 2 (`items (key, value, expires_at)`) under load by the spec `specs/kvsql`, whose
//! transform runs on the database (`state sqlite`).
#![allow(
    clippy::expect_used,
    clippy::panic,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod support;

use runtime::bundle::{HealthProbe, ProgramSpec};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;
use support::{log_of, push, Cluster};
use upstart::demo::build;
use upstart::demo::load::{self, Load, LoadConfig};

fn app() -> PathBuf {
    build::workspace().join("examples/kvsql/kvsql.py")
}

/// The spec and plugin of kvsql 1 -> 2 with `healthy_for: 1s`.
fn kvsql_plugin() -> &'static (PathBuf, PathBuf) {
    static PLUGIN: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    PLUGIN.get_or_init(|| {
        let ws = build::workspace();
        let dir = ws.join("target").join("node-tests").join("specs");
        let spec = build::short_spec_of(&ws.join("specs/kvsql/kvsql-1-2.ups"), &dir, "1s")
            .expect("the spec is written");
        let plugin = upstart_test_support::plugins::build(&spec);
        (spec, plugin)
    })
}

const V1: &str = "python3 {program} --listen-port {port} --db {state} --schema 1 {peers:--peer %}";
const V2: &str = "python3 {program} --schema 2 --db {state} --listen-port {port} {peers:--peer %}";

fn extra() -> Vec<&'static str> {
    vec!["--exec", V1, "--drain-grace", "100ms", "--poll-wait", "2s"]
}

/// The bundle of kvsql 1 -> 2, running the same script with `--schema 2`.
fn bundle(dir: &Path, key: &Path) -> PathBuf {
    let (spec, plugin) = kvsql_plugin();
    let program = ProgramSpec {
        exec: Some(V2.into()),
        stop_signal: None,
        health: Some(HealthProbe::new(
            "get",
            json!({"key": "upstart-health-probe"}),
        )),
    };
    let out = dir.join("kvsql.bundle");
    build::bundle_with(
        plugin,
        &app(),
        spec,
        key,
        &out,
        support::next_release(),
        &program,
    )
    .expect("the bundle is made");
    out
}

/// The state of a node, as the transform sees it.
fn state_of(path: &Path) -> Value {
    serde_json::from_slice(&runtime::transform::storage::load_live(path).unwrap()).unwrap()
}

#[test]
fn the_python_sqlite_service_is_upgraded_in_a_rolling_upgrade_with_nothing_lost() {
    let dir = tempfile::tempdir().unwrap();
    kvsql_plugin();
    let mut c = Cluster::start_system(dir.path(), 5, &extra(), None, &app(), ("kvsql", "state.db"));
    let n1 = c.agents[0].port(1).unwrap();
    load::get(n1, 1, "none").unwrap();
    // Written before the upgrade, read after it.
    let mut s = std::net::TcpStream::connect(n1).unwrap();
    std::io::Write::write_all(
        &mut s,
        b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"put\",\"params\":[\"before\",\"one\"]}\n",
    )
    .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(&s), &mut line).unwrap();
    assert!(line.contains("\"result\": null"), "{line}");
    // The program keeps SQLite, as its own schema says.
    assert!(
        runtime::transform::storage::Kind::of(&c.agents[0].spec.state()).unwrap()
            == runtime::transform::storage::Kind::Sqlite
    );

    let load = Load::start(&c.targets(1), LoadConfig::default());
    push(&c.server, &bundle(dir.path(), &c.private)).unwrap();
    for a in &mut c.agents {
        a.proc
            .wait_line("upgraded 2", Duration::from_secs(120))
            .unwrap_or_else(|e| panic!("{e}\n{}", log_of(&a.spec)));
    }
    std::thread::sleep(Duration::from_millis(500));
    let reports = load.stop();
    let total = load::total(&reports);
    let problems: Vec<&String> = reports.iter().flat_map(|r| &r.problems).collect();
    assert_eq!((total.failed, total.wrong), (0, 0), "{problems:#?}");
    assert!(total.ok > 0);
    // Every acknowledged write is there (the service does not replicate: each key is read on
    // the node it was written to).
    for r in &reports {
        let only = std::collections::BTreeMap::from([(r.target.node.clone(), r.target.addr)]);
        let lost = load::verify(std::slice::from_ref(r), &only);
        assert!(lost.is_empty(), "{lost:#?}");
    }
    for a in &c.agents {
        let state = a.spec.state();
        assert_eq!(
            runtime::transform::storage::Kind::of(&state).unwrap(),
            runtime::transform::storage::Kind::Sqlite
        );
        let now = state_of(&state);
        assert!(
            now["items"].is_object() && now.get("entries").is_none(),
            "{now}"
        );
        let backup = PathBuf::from(format!("{}.v1", state.display()));
        assert!(state_of(&backup)["entries"].is_object());
    }
    assert_eq!(
        load::get(c.agents[0].port(2).unwrap(), 2, "before").unwrap(),
        json!({"value": "one", "expires_at": null})
    );
    assert_eq!(load::get(n1, 1, "before").unwrap(), json!("one"));
}
