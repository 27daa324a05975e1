//! The second example system (issue 13, item 5): `examples/kvsql/kvsql.py`, a Python service
//! with its own flags (`--listen-port`, `--db`, `--schema`, `--peer`) that keeps its state in
//! SQLite and knows nothing of Upstart, upgraded from schema 1 (`entries (key, value)`) to
//! schema 2 (`items (key, value, expires_at)`) under load by the spec `specs/kvsql`, whose
//! transform runs on the database (`state sqlite`). The service replicates each write to its
//! peers before answering, so every acknowledged write must read back on every node, also
//! after a node was killed mid-upgrade.
#![allow(
    clippy::expect_used,
    clippy::panic,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod support;

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;
use support::{all_at, log_of, push, Cluster, Nodes};
use upstart::demo::build;
use upstart::demo::load::{self, Load, LoadConfig};
use upstart::tester::runner::net_faults;

fn app() -> PathBuf {
    build::workspace().join("examples/kvsql/kvsql.py")
}

/// Nodes running kvsql at version 1, its state the SQLite database `state.db`.
fn nodes() -> Nodes {
    Nodes {
        program: app(),
        system: "kvsql",
        state_file: "state.db",
        state: None,
    }
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
    bundle_of(spec, plugin, dir, key)
}

/// [`bundle`] of the spec `spec` and its plugin `plugin`.
fn bundle_of(spec: &Path, plugin: &Path, dir: &Path, key: &Path) -> PathBuf {
    let input = runtime::bundle::BuildInput {
        program: support::kv_program(V2, None),
        ..support::input((spec, plugin), &app())
    };
    support::sign(&input, dir, key, "kvsql.bundle")
}

/// The state of a node, as the transform sees it.
fn state_of(path: &Path) -> Value {
    serde_json::from_slice(&runtime::transform::storage::load_live(path).unwrap()).unwrap()
}

#[test]
fn the_python_sqlite_service_is_upgraded_in_a_rolling_upgrade_with_nothing_lost() {
    let dir = tempfile::tempdir().unwrap();
    kvsql_plugin();
    let mut c = Cluster::start_with(dir.path(), 5, &extra(), nodes());
    let n1 = c.agents[0].port(1).unwrap();
    load::get(n1, 1, "none").unwrap();
    // Written before the upgrade, read after it.
    put_v1(n1, "before", "one");
    // The program keeps SQLite, as its own schema says.
    assert!(
        runtime::transform::storage::Kind::of(&c.agents[0].spec.state()).unwrap()
            == runtime::transform::storage::Kind::Sqlite
    );

    let load = Load::start(&c.targets(1), LoadConfig::default());
    push(&c.server, &bundle(dir.path(), &c.private)).unwrap();
    support::wait_each(&mut c.agents, "upgraded 2", Duration::from_secs(120));
    std::thread::sleep(Duration::from_millis(500));
    let reports = support::stop_without_failures(load);
    assert!(load::total(&reports).ok > 0);
    // Every acknowledged write is on every node: the service replicates each write to its
    // peers (through the shims, translated between versions) before it answers.
    support::assert_nothing_lost(&reports, &c.ports(1));
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

/// `put(key, value)` at version 1 through `addr`.
fn put_v1(addr: std::net::SocketAddr, key: &str, value: &str) {
    support::put(addr, json!([key, value]));
}

/// One kvsql node told to stop at `point` of its upgrade and killed (SIGKILL) there, then
/// restarted: the database holds exactly the old records or their transform right after the
/// kill, and the transform once the restarted agent has upgraded; the program serves the old
/// writes to callers of both versions.
fn killed_at(point: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut extra = extra();
    extra.extend(["--stop-at", point]);
    let mut c = Cluster::start_with(dir.path(), 1, &extra, nodes());
    let mut agent = c.agents.remove(0);
    let v1 = agent.port(1).unwrap();
    for i in 0..100 {
        put_v1(v1, &format!("key-{i:04}"), &format!("value {i}"));
    }
    let state = agent.spec.state();
    let old = state_of(&state);
    assert_eq!(old["entries"].as_object().map(|m| m.len()), Some(100));
    let (spec_path, plugin_path) = kvsql_plugin();
    let _ = spec_path;
    let plugin =
        runtime::plugin::Plugin::load(plugin_path, &runtime::plugin::Expect::default()).unwrap();
    let new: Value = serde_json::from_slice(
        &plugin
            .transform(&serde_json::to_vec(&old).unwrap())
            .unwrap(),
    )
    .unwrap();
    push(&c.server, &bundle(dir.path(), &c.private)).unwrap();
    let reached = agent
        .proc
        .wait_line("reached ", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{point}: {e}\n{}", log_of(&agent.spec)));
    assert_eq!(reached, point);
    agent.crash();
    let now = state_of(&state);
    assert!(
        now == old || now == new,
        "{point}: after the kill the database is neither the old nor the new state: {now}"
    );
    let mut spec = agent.spec.clone();
    spec.extra = self::extra().iter().map(|s| s.to_string()).collect();
    drop(agent);
    let mut again = support::start_agent(&c.server, &c.public, &app(), &spec);
    again
        .proc
        .wait_line("upgraded 2", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{point}: {e}\n{}", log_of(&spec)));
    assert_eq!(
        state_of(&state),
        new,
        "{point}: the transform of the old state"
    );
    let backup = PathBuf::from(format!("{}.v1", state.display()));
    assert_eq!(state_of(&backup), old, "{point}: the old state is kept");
    assert!(runtime::transform::pending(&state).unwrap().is_none());
    assert_eq!(
        load::get(spec.pinned[0].1, 1, "key-0042").unwrap(),
        json!("value 42"),
        "{point}"
    );
    assert_eq!(
        load::get(spec.pinned[1].1, 2, "key-0042").unwrap(),
        json!({"value": "value 42", "expires_at": null}),
        "{point}"
    );
}

#[test]
fn the_agent_killed_at_every_step_of_a_sqlite_upgrade_then_restarted_finishes_it() {
    kvsql_plugin();
    support::at_every_point(&support::UPGRADE_POINTS, killed_at);
}

/// `n` kvsql nodes at version 1; the first is told to stop at `point` of its upgrade.
fn cluster_first_stopping_at(dir: &Path, n: usize, point: &str) -> Cluster {
    let extra_of = |i| {
        let mut flags: Vec<String> = extra().iter().map(|x| x.to_string()).collect();
        if i == 0 {
            flags.extend(["--stop-at".into(), point.into()]);
        }
        flags
    };
    Cluster::start_nodes(dir, n, &extra_of, nodes())
}

/// Three kvsql nodes under load on the second and third; the first is killed (SIGKILL) at
/// `point` of its upgrade, then restarted without the stop. The rollout ends at version 2 on
/// every node with no call failed, and every write acknowledged meanwhile (replicated to the
/// killed node once it was back) reads back on every node.
fn killed_under_load_at(point: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cluster_first_stopping_at(dir.path(), 3, point);
    // The killed node's own clients would see its shim go: the load is on the other two.
    let targets: Vec<_> = c.targets(1).into_iter().skip(1).collect();
    let load = Load::start(&targets, LoadConfig::default());
    std::thread::sleep(Duration::from_millis(300));
    push(&c.server, &bundle(dir.path(), &c.private)).unwrap();
    let reached = c.agents[0]
        .proc
        .wait_line("reached ", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{point}: {e}\n{}", log_of(&c.agents[0].spec)));
    assert_eq!(reached, point);
    c.agents[0].crash();
    // Writes taken while the node is down.
    std::thread::sleep(Duration::from_millis(500));
    let mut spec = c.agents[0].spec.clone();
    spec.extra.retain(|a| a != "--stop-at" && a != point);
    c.agents[0] = support::start_agent(&c.server, &c.public, &app(), &spec);
    for a in &mut c.agents {
        a.proc
            .wait_line("upgraded 2", Duration::from_secs(120))
            .unwrap_or_else(|e| panic!("{point}: {e}\n{}", log_of(&a.spec)));
    }
    std::thread::sleep(Duration::from_millis(300));
    let reports = support::stop_without_failures(load);
    assert!(load::total(&reports).ok > 0);
    support::assert_nothing_lost(&reports, &c.ports(1));
}

#[test]
fn a_node_killed_mid_upgrade_under_load_misses_no_replicated_write() {
    kvsql_plugin();
    support::at_every_point(&["new-written", "started"], killed_under_load_at);
}

/// The spec and plugin of kvsql 1 -> 2 declaring `state KIND` instead of `state sqlite`.
fn plugin_declaring(kind: &str) -> (PathBuf, PathBuf) {
    let (spec, _) = kvsql_plugin();
    let text = std::fs::read_to_string(spec).unwrap();
    assert_eq!(text.matches("state sqlite {").count(), 2);
    let path = spec.with_file_name(format!("kvsql-1-2-declaring-{kind}.ups"));
    std::fs::write(
        &path,
        text.replace("state sqlite {", &format!("state {kind} {{")),
    )
    .unwrap();
    let plugin = upstart_test_support::plugins::build(&path);
    (path, plugin)
}

/// A spec declaring another kind of state than the node keeps (`state dir` for kvsql's SQLite
/// database) is refused before anything stops: the agent names the failed check, the old
/// program serves on (the same process), and the state, its backups and journal are untouched.
#[test]
fn a_spec_declaring_another_kind_of_state_is_refused_before_anything_stops() {
    let (spec, plugin) = plugin_declaring("dir");
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start_with(dir.path(), 1, &extra(), nodes());
    let v1 = c.agents[0].port(1).unwrap();
    put_v1(v1, "kept", "yes");
    let state = c.agents[0].spec.state();
    let before = state_of(&state);
    let pids = support::program_pids(&c.agents[0].lines());
    assert_eq!(pids.len(), 1, "{pids:?}");
    push(
        &c.server,
        &bundle_of(&spec, &plugin, dir.path(), &c.private),
    )
    .unwrap();
    let why = c.agents[0]
        .proc
        .wait_line("failed 2: ", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}\n{}", log_of(&c.agents[0].spec)));
    assert!(
        why.contains("storage check failed")
            && why.contains(
                "is a SQLite database, but the spec declares version 1's state as `state dir`; \
                 nothing was changed; help: point the node at the state the program keeps"
            ),
        "{why}"
    );
    let lines = c.agents[0].lines();
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("draining") || l.starts_with("upgraded")),
        "{lines:#?}"
    );
    assert_eq!(
        support::program_pids(&lines),
        pids,
        "the old program serves on"
    );
    assert!(support::alive(pids[0]));
    assert_eq!(load::get(v1, 1, "kept").unwrap(), json!("yes"));
    assert_eq!(state_of(&state), before);
    for suffix in [".v1", ".v2", ".upgrade", ".new"] {
        let p = PathBuf::from(format!("{}{suffix}", state.display()));
        assert!(!p.exists(), "`{}` was written", p.display());
    }
    assert_eq!(
        runtime::transform::storage::Kind::of(&state).unwrap(),
        runtime::transform::storage::Kind::Sqlite
    );
}

/// `put(key, value, ttl_ms)` at version 2 through `addr`.
fn put_v2(addr: std::net::SocketAddr, key: &str, value: &str, ttl_ms: Option<u64>) {
    support::put(addr, json!([key, value, ttl_ms]));
}

/// The spec and plugin of kvsql 1 -> 2 whose rollout pauses after its first node.
fn pausing_plugin() -> &'static (PathBuf, PathBuf) {
    static PLUGIN: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    PLUGIN.get_or_init(|| {
        let (spec, _) = kvsql_plugin();
        let text = std::fs::read_to_string(spec).unwrap();
        let at = text.rfind('}').unwrap();
        let path = spec.with_file_name("kvsql-1-2-canary-pause.ups");
        std::fs::write(
            &path,
            format!("{}  canary: 1 then pause\n}}\n", &text[..at]),
        )
        .unwrap();
        let plugin = upstart_test_support::plugins::build(&path);
        (path, plugin)
    })
}

/// With one node at version 2 and two at version 1 (the rollout paused after its canary),
/// writes replicate both ways through the spec's rules for `replicate`: a version-1 node's
/// list of entries reaches the version-2 node as a map of items (no expiry), a version-2
/// node's items (one with a ttl) reach the version-1 nodes as entries; each reads back at both
/// versions on every node.
#[test]
fn writes_replicate_between_nodes_of_both_versions() {
    let (spec, plugin) = pausing_plugin();
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start_with(dir.path(), 3, &extra(), nodes());
    push(&c.server, &bundle_of(spec, plugin, dir.path(), &c.private)).unwrap();
    c.agents[0]
        .proc
        .wait_line("upgraded 2", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}\n{}", log_of(&c.agents[0].spec)));
    support::wait_rollout(
        &c.server.url,
        runtime::api::RolloutState::Paused,
        Duration::from_secs(30),
    );
    // Written at version 1 on n2, and at version 2 on n1 (the only node there).
    put_v1(c.agents[1].port(1).unwrap(), "from-v1", "one");
    let n1_v2 = c.agents[0].port(2).unwrap();
    put_v2(n1_v2, "from-v2", "two", None);
    put_v2(n1_v2, "from-v2-ttl", "three", Some(3_600_000));
    for a in &c.agents {
        let (v1, v2) = (a.port(1).unwrap(), a.port(2).unwrap());
        let node = &a.spec.id;
        reads_back_at_version_1(v1, node);
        for (key, value) in WRITTEN_IN_BOTH {
            let at_2 = load::get(v2, 2, key).unwrap();
            assert_eq!(at_2["value"], json!(value), "`{key}` on {node}: {at_2}");
        }
        assert_eq!(
            load::get(v2, 2, "from-v1").unwrap()["expires_at"],
            Value::Null
        );
    }
    // The version-2 node keeps the expiry it was given; the version-1 nodes cannot.
    assert!(load::get(n1_v2, 2, "from-v2-ttl").unwrap()["expires_at"].is_u64());
    support::operator(&c.server, &["resume"]);
    support::wait_each(&mut c.agents[1..], "upgraded 2", Duration::from_secs(120));
    for a in &c.agents {
        reads_back_at_version_1(a.port(1).unwrap(), &a.spec.id);
    }
}

/// The keys [`writes_replicate_between_nodes_of_both_versions`] writes, with their values.
const WRITTEN_IN_BOTH: [(&str, &str); 3] = [
    ("from-v1", "one"),
    ("from-v2", "two"),
    ("from-v2-ttl", "three"),
];

/// Node `node`'s version-1 port `v1` answers every key of [`WRITTEN_IN_BOTH`] with its value.
fn reads_back_at_version_1(v1: std::net::SocketAddr, node: &str) {
    for (key, value) in WRITTEN_IN_BOTH {
        assert_eq!(
            load::get(v1, 1, key).unwrap(),
            json!(value),
            "`{key}` on {node}"
        );
    }
}

/// Sends `command` to the test fault control of `agent`'s shim (`--test-faults`).
fn fault(agent: &upstart::demo::cluster::Agent, command: &str) {
    net_faults::command(&agent.spec.data().fault_socket(), command)
        .unwrap_or_else(|e| panic!("{e}"));
}

/// The CI finding of the demo's rollback 2 -> 1 (`wrong answer to get of n2-v2-w7-2 ...
/// {"expires_at":null,"value":"v2"}`), made to happen: each peer route is slowed, so every
/// `put` waits seconds for its peer, and the rollback comes while each version-2 worker's `put`
/// with a ttl (its step 2, the first write of its key 2) waits. The program of the first node
/// to go back applied that `put` and is stopped before answering it; sent again, it reaches
/// the node at version 1, where the spec disallows a ttl. The key holds the value (its expiry
/// dropped by the reverse transform), as the worker's next reads of it find: a write that was
/// never acknowledged took effect, which the load's model must allow (it counted two wrong
/// answers before), while every acknowledged write still reads back everywhere.
#[test]
fn a_write_cut_by_a_rollback_and_refused_when_sent_again_is_no_wrong_answer() {
    let dir = tempfile::tempdir().unwrap();
    kvsql_plugin();
    let mut flags = extra();
    flags.push(net_faults::FLAG);
    let mut c = Cluster::start_with(dir.path(), 2, &flags, nodes());
    push(&c.server, &bundle(dir.path(), &c.private)).unwrap();
    support::wait_each(&mut c.agents, "upgraded 2", Duration::from_secs(120));
    let url = &c.server.url;
    support::wait_status(url, "all at version 2", Duration::from_secs(60), all_at(2));
    // Each program's connection to its peer opens before the routes are slowed.
    for a in &c.agents {
        put_v2(
            a.port(2).unwrap(),
            &format!("warm-{}", a.spec.id),
            "x",
            None,
        );
    }
    for a in &c.agents {
        fault(a, "delay * 1500 120000");
    }
    let config = LoadConfig {
        pause: Duration::from_millis(5),
        call_timeout: Duration::from_secs(60),
    };
    let load = Load::start(&c.targets(2), config);
    // Each worker's step 0 (a `put`) takes about 3 s, step 1 (a `get`) none: with 4 calls
    // answered, both wait in step 2, their `put` with a ttl.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while load.counts().ok < 4 {
        assert!(std::time::Instant::now() < deadline, "{:?}", load.counts());
        std::thread::sleep(Duration::from_millis(20));
    }
    support::operator(&c.server, &["rollback"]);
    support::wait_status(
        url,
        "all back at version 1",
        Duration::from_secs(120),
        all_at(1),
    );
    for a in &c.agents {
        fault(a, "heal *");
    }
    // The workers read their keys 2 again (steps 9 and 23) and write them (step 30).
    std::thread::sleep(Duration::from_secs(2));
    let reports = support::stop_without_failures(load);
    let total = load::total(&reports);
    // Not vacuous: a write was cut, sent again and refused.
    assert!(total.unsure >= 1 && total.disallowed >= 1, "{total:?}");
    support::assert_nothing_lost(&reports, &c.ports(1));
}
