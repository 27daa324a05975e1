//! The node agent under faults: killed (SIGKILL) at each step of an upgrade (drained, old
//! program stopped, each durable point of the state transform, new program started, healthy)
//! and restarted (it finishes the upgrade; the state is always exactly the old one or its
//! transform; no program of either version outlives the restart); killed while serving (its orphaned program is stopped at restart); the upgrade
//! server down in the middle of a rollout (nodes serve on and the rollout resumes when it
//! returns); tampered and untrusted bundles (refused, nothing installed, the rollout pauses);
//! an older release forced onto the server (the node refuses it itself);
//! a new version failing its health check (rolled back to the old program and state, the
//! rollout paused).
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]
#![allow(clippy::indexing_slicing, reason = "tests")]

mod support;

use runtime::api::{Phase, RolloutState};
use runtime::plugin::{Expect, Plugin};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};
use support::{json_of, log_of, push, start_agent, status, wait_rollout, Cluster, Nodes, QUICK};
use upstart::demo::cluster::{node_specs, Agent, NodeSpec, Server};
use upstart::demo::load::{self, Load, LoadConfig};

fn old_state(n: usize) -> Vec<u8> {
    let entries: serde_json::Map<String, Value> = (0..n)
        .map(|i| (format!("key-{i:04}"), json!(format!("value {i}"))))
        .collect();
    serde_json::to_vec(&json!({ "entries": entries })).unwrap()
}

fn plugin() -> Plugin {
    Plugin::load(&support::plugin().1, &Expect::default()).unwrap()
}

fn v1_load(c: &Cluster) -> (Load, BTreeMap<String, std::net::SocketAddr>) {
    (
        Load::start(&c.targets(1), LoadConfig::default()),
        c.ports(1),
    )
}

/// One node told to stop (`--stop-at point`) in `dir`, its state `old`, the bundle of
/// version 2 pushed.
fn stopping_at(dir: &Path, point: &str, old: &[u8]) -> Cluster {
    let mut extra = QUICK.to_vec();
    extra.extend(["--stop-at", point]);
    let c = Cluster::start_with(dir, 1, &extra, Nodes::kv_holding(old));
    let bundle = support::bundle(dir, &c.private, &support::tools().kv_v2, "kv.bundle");
    push(&c.server, &bundle).unwrap();
    c
}

/// Waits for `agent` to reach `point`, then kills it (SIGKILL); the pids of the programs it
/// ran, none of which may outlive its restart.
fn kill_at(agent: &mut Agent, point: &str) -> Vec<u32> {
    let reached = agent
        .proc
        .wait_line("reached ", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{point}: {e}\n{}", log_of(&agent.spec)));
    assert_eq!(reached, point);
    let before = support::program_pids(&agent.lines());
    agent.crash();
    before
}

/// Restarts the agent of `spec` as it was, without the stop, and waits for `line`.
fn restart_until(c: &Cluster, spec: &NodeSpec, line: &str, point: &str) -> Agent {
    let mut spec = spec.clone();
    spec.extra = QUICK.iter().map(|s| s.to_string()).collect();
    let mut again = start_agent(&c.server, &c.public, &support::tools().kv_v1, &spec);
    again
        .proc
        .wait_line(line, Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{point}: {e}\n{}", log_of(&spec)));
    again
}

/// Checks that none of the programs `pids` runs any more.
fn assert_all_gone(pids: &[u32], point: &str) {
    for pid in pids {
        assert!(
            !support::alive(*pid),
            "{point}: the program {pid} outlived its agent's restart"
        );
    }
}

/// Kills the agent at `point` of its transform, restarts it, and checks the upgrade finishes
/// with exactly the transformed state.
fn killed_at(point: &str) {
    let dir = tempfile::tempdir().unwrap();
    let old = old_state(300);
    let mut c = stopping_at(dir.path(), point, &old);
    let mut agent = c.agents.remove(0);
    // The programs it ran: none may outlive the restart but the one it starts then.
    let before = kill_at(&mut agent, point);
    let state = agent.spec.state();
    let new = plugin().transform(&old).unwrap();
    let now = std::fs::read(&state).unwrap();
    assert!(
        json_of(&now) == json_of(&old) || json_of(&now) == json_of(&new),
        "{point}: after the kill the state is neither the old nor the new one"
    );
    // Restarted as it was, without the stop.
    let spec = agent.spec.clone();
    drop(agent);
    let mut again = restart_until(&c, &spec, "upgraded 2", point);
    let lines = again.lines();
    // Killed before the state changed, the agent starts the old program and upgrades again
    // when told; after, it finishes the upgrade it recorded.
    let state_changed = !matches!(point, "drained" | "stopped");
    assert_eq!(
        lines.iter().any(|l| l == "recovering 1 -> 2"),
        state_changed,
        "{point}: {lines:?}"
    );
    // The rules it had are in force again, and it says so (`upstart test` waits for every
    // node's `rules` line before clients of the new version start).
    assert!(
        lines.iter().any(|l| l == "rules 1,2"),
        "{point}: the restarted agent did not say its rules: {lines:?}"
    );
    assert_all_gone(&before, point);
    assert!(
        json_of(&std::fs::read(&state).unwrap()) == json_of(&new),
        "{point}: the state is the transform of the old one"
    );
    assert!(
        json_of(&std::fs::read(state.with_extension("json.v1")).unwrap()) == json_of(&old),
        "{point}: the old state is kept"
    );
    assert!(runtime::transform::pending(&state).unwrap().is_none());
    // The new program serves the old data, to old and new callers.
    let got = load::get(spec.pinned[0].1, 1, "key-0042").unwrap();
    assert_eq!(got, json!("value 42"), "{point}");
    let got = load::get(spec.pinned[1].1, 2, "key-0042").unwrap();
    assert_eq!(
        got,
        json!({"value": "value 42", "expires_at": null}),
        "{point}"
    );
    wait_rollout(&c.server.url, RolloutState::Done, Duration::from_secs(30));
}

/// Why the first node rolled back to version 1, which must be a failed health check.
fn health_rollback(c: &mut Cluster) -> String {
    let why = c.agents[0]
        .proc
        .wait_line("rolled back 1: ", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}\n{}", log_of(&c.agents[0].spec)));
    assert!(why.contains("health check failed"), "{why}");
    why
}

#[test]
fn killed_at_every_step_of_an_upgrade_then_restarted_finishes_it() {
    let started = Instant::now();
    support::plugin();
    support::at_every_point(&support::UPGRADE_POINTS, killed_at);
    eprintln!("ten kills in {:?}", started.elapsed());
}

#[test]
fn an_orphaned_program_is_stopped_when_the_agent_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(dir.path(), 1, &QUICK);
    let mut agent = c.agents.remove(0);
    let first = agent.lines();
    let pid: u32 = first
        .iter()
        .find_map(|l| l.strip_prefix("program "))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap();
    agent.crash();
    let cmdline = format!("/proc/{pid}/cmdline");
    assert!(
        Path::new(&cmdline).exists(),
        "the program outlives its agent"
    );
    let spec = agent.spec.clone();
    // The crashed agent's guard stays alive until the orphan is gone: dropping it kills the
    // programs it announced, which would do the restarted agent's work for it.
    let t = support::tools();
    let mut again = start_agent(&c.server, &c.public, &t.kv_v1, &spec);
    let lines = again.lines();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read(&cmdline).is_ok_and(|c| !c.is_empty()) {
        assert!(Instant::now() < deadline, "the orphan {pid} still runs");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(agent);
    assert!(lines
        .iter()
        .any(|l| l.starts_with("program ") && !l.contains(&format!("program {pid} "))));
    assert_eq!(
        load::get(spec.pinned[0].1, 1, "nothing").unwrap(),
        Value::Null
    );
}

#[test]
fn the_server_down_mid_rollout_stops_nothing_and_the_rollout_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(dir.path(), 3, &QUICK);
    let bundle = c.kv_v2_bundle("kv.bundle");
    let (load, ports) = v1_load(&c);
    std::thread::sleep(Duration::from_millis(500));
    push(&c.server, &bundle).unwrap();
    c.agents[0]
        .proc
        .wait_line("draining 1 -> 2", Duration::from_secs(30))
        .unwrap();
    let addr = c.server.addr;
    c.server.proc.kill();
    let down = Instant::now();
    // The node that was told to upgrade finishes on its own; the others serve on, at version 1.
    c.agents[0]
        .proc
        .wait_line("upgraded 2", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}\n{}", log_of(&c.agents[0].spec)));
    let before = load.counts();
    std::thread::sleep(Duration::from_secs(3));
    let during = load.counts();
    assert!(
        during.ok > before.ok + 100,
        "the nodes serve while the server is down"
    );
    assert_eq!(during.failed, 0);
    for a in &mut c.agents[1..] {
        let lines = a.lines();
        assert!(
            !lines.iter().any(|l| l.starts_with("draining")),
            "{lines:?}"
        );
    }
    // The server returns (same address, same database): the rollout goes on to its end.
    let db = dir.path().join("upgrades.db");
    let server = Server::start(
        support::upstart(),
        &db,
        &c.public,
        &c.private,
        addr,
        Some(&dir.path().join("server-2.log")),
    )
    .unwrap();
    eprintln!("server down for {:?}", down.elapsed());
    let s = wait_rollout(&server.url, RolloutState::Done, Duration::from_secs(60));
    assert!(
        s.nodes
            .iter()
            .all(|n| n.version == 2 && n.phase == Phase::Upgraded),
        "{s:#?}"
    );
    let reports = support::stop_without_failures(load);
    support::assert_nothing_lost(&reports, &ports);
}

#[test]
fn tampered_bundles_are_refused_and_nothing_is_installed() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(dir.path(), 2, &QUICK);
    let bundle = c.kv_v2_bundle("kv.bundle");

    // A flipped byte in the file: the server refuses the push.
    let mut bytes = std::fs::read(&bundle).unwrap();
    let at = bytes.len() - 100;
    bytes[at] ^= 1;
    let bad = dir.path().join("tampered.bundle");
    std::fs::write(&bad, &bytes).unwrap();
    let e = push(&c.server, &bad).unwrap_err();
    assert!(e.contains("error:"), "{e}");
    assert!(status(&c.server.url).unwrap().rollouts.is_empty());

    // A file changed in the server's store after the push: the nodes refuse it themselves.
    let out = std::process::Command::new(support::upstart())
        .arg("push")
        .arg(&bundle)
        .args(["--server", &c.server.url, "--no-start"])
        .env("UPSTART_KEY", &c.private)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let id = text
        .split_whitespace()
        .nth(2)
        .unwrap()
        .trim_end_matches(':')
        .to_string();
    let objects = dir.path().join("upgrades.db.store").join("objects");
    let binary = std::fs::read_dir(&objects)
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut perms = std::fs::metadata(&binary).unwrap().permissions();
    #[allow(
        clippy::permissions_set_readonly_false,
        reason = "the test makes the binary writable again on purpose"
    )]
    perms.set_readonly(false);
    std::fs::set_permissions(&binary, perms).unwrap();
    let mut content = std::fs::read(&binary).unwrap();
    content[1000] ^= 0xff;
    std::fs::write(&binary, content).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = runtime::client::Client::new(&c.server.url)
        .unwrap()
        .with_key(runtime::bundle::keys::read_signing_key(&c.private).unwrap());
    rt.block_on(client.start_rollout(&id, None)).unwrap();
    for a in &mut c.agents {
        let why = a
            .proc
            .wait_line(&format!("refused {id}: "), Duration::from_secs(30))
            .unwrap();
        assert!(why.contains("sha-256") || why.contains("content"), "{why}");
    }
    // The first node, told to upgrade, fails before stopping anything: the rollout pauses.
    let s = wait_rollout(&c.server.url, RolloutState::Paused, Duration::from_secs(30));
    assert!(
        s.rollouts[0].reason.contains("`n1` failed"),
        "{:?}",
        s.rollouts[0]
    );
    for a in &mut c.agents {
        let store = a.spec.dir.join("agent").join("store").join("bundles");
        assert_eq!(
            std::fs::read_dir(&store).unwrap().count(),
            0,
            "{}",
            a.spec.id
        );
        assert!(!a.spec.dir.join("agent").join("bin").exists());
        assert!(!a
            .lines()
            .iter()
            .any(|l| l.starts_with("rules") || l.starts_with("draining")));
        assert_eq!(load::get(a.port(1).unwrap(), 1, "x").unwrap(), Value::Null);
    }
    assert!(s.nodes.iter().all(|n| n.version == 1));
}

#[test]
fn a_bundle_signed_by_a_key_the_nodes_do_not_trust_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let t = support::tools();
    support::plugin();
    let (_, node_key) = support::key(&dir.path().join("nodes"));
    let (server_private, server_key) = support::key(dir.path());
    let server = support::server(dir.path(), &server_key, &server_private);
    let mut spec = node_specs(dir.path(), 1, &[1, 2]).unwrap().remove(0);
    spec.extra = QUICK.iter().map(|s| s.to_string()).collect();
    let mut agent = start_agent(&server, &node_key, &t.kv_v1, &spec);
    let bundle = support::bundle(dir.path(), &server_private, &t.kv_v2, "kv.bundle");
    push(&server, &bundle).unwrap();
    let why = agent
        .proc
        .wait_line("refused ", Duration::from_secs(30))
        .unwrap();
    assert!(why.contains("not trusted"), "{why}");
    wait_rollout(&server.url, RolloutState::Paused, Duration::from_secs(30));
    assert!(!spec.dir.join("agent").join("bin").exists());
}

/// Issue 10, finding 4 on the node: an older, validly signed release that reaches the server
/// (here forced by the operator with `--allow-downgrade`; a compromised server could replay
/// one) does not take a node back: the node refuses a release not newer than the one that
/// installed the version it runs.
#[test]
fn a_node_refuses_a_release_older_than_the_one_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(dir.path(), 1, &QUICK);
    let old = c.kv_v2_bundle("old.bundle");
    let new = c.kv_v2_bundle("new.bundle");
    push(&c.server, &new).unwrap();
    c.agents[0]
        .proc
        .wait_line("upgraded 2", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}\n{}", log_of(&c.agents[0].spec)));
    wait_rollout(&c.server.url, RolloutState::Done, Duration::from_secs(60));
    let err = push(&c.server, &old).unwrap_err();
    assert!(
        err.contains("(409)") && err.contains("is not newer than release"),
        "{err}"
    );
    support::push_with(&c.server, &old, &["--allow-downgrade"]).unwrap();
    let why = c.agents[0]
        .proc
        .wait_line("refused ", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}\n{}", log_of(&c.agents[0].spec)));
    assert!(
        why.contains("is not newer than release") && why.contains("the one this node runs"),
        "{why}"
    );
    let s = status(&c.server.url).unwrap();
    assert!(
        s.events.iter().any(|e| e.kind == "downgrade"),
        "{:#?}",
        s.events
    );
    assert_eq!(s.nodes[0].version, 2);
}

#[test]
fn a_failed_health_check_rolls_back_and_pauses_the_rollout() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(dir.path(), 2, &QUICK);
    // A "version 2" that says it listens where nothing answers.
    let bad = dir.path().join("kv-v2-broken");
    std::fs::write(
        &bad,
        "#!/bin/sh\necho 'listening 127.0.0.1:1'\nexec sleep 60\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o755)).unwrap();
    let bundle = support::bundle(dir.path(), &c.private, &bad, "broken.bundle");
    let (load, ports) = v1_load(&c);
    std::thread::sleep(Duration::from_millis(500));
    push(&c.server, &bundle).unwrap();
    health_rollback(&mut c);
    let s = wait_rollout(&c.server.url, RolloutState::Paused, Duration::from_secs(30));
    assert!(
        s.rollouts[0].reason.contains("`n1` failed"),
        "{:?}",
        s.rollouts[0]
    );
    std::thread::sleep(Duration::from_secs(1));
    let reports = support::stop_without_failures(load);
    // Back on version 1, old program and old state (plus what was written since).
    let s = status(&c.server.url).unwrap();
    let n1 = s.nodes.iter().find(|n| n.id == "n1").unwrap();
    assert_eq!((n1.version, n1.phase), (1, Phase::RolledBack));
    let n2 = s.nodes.iter().find(|n| n.id == "n2").unwrap();
    assert_eq!(
        (n2.version, n2.phase, n2.assigned),
        (1, Phase::Serving, false)
    );
    let state = json_of(&std::fs::read(c.agents[0].spec.state()).unwrap());
    assert!(state["entries"].is_object(), "a version-1 state: {state}");
    assert!(runtime::transform::pending(&c.agents[0].spec.state())
        .unwrap()
        .is_none());
    support::assert_nothing_lost(&reports, &ports);
    // Restarted, the agent remembers the failure: no second attempt in this rollout.
    let mut n1 = c.agents.remove(0);
    let spec = n1.spec.clone();
    n1.crash();
    drop(n1);
    let mut again = start_agent(&c.server, &c.public, &support::tools().kv_v1, &spec);
    std::thread::sleep(Duration::from_secs(3));
    let lines = again.lines();
    assert!(
        !lines.iter().any(|l| l.starts_with("draining")),
        "{lines:?}"
    );
    let s = status(&c.server.url).unwrap();
    assert_eq!(s.rollouts[0].state, RolloutState::Paused);
}

/// The operator's probe travels in the bundle (issue 13, item 8): a version 2 that answers
/// every call, the probe included, with an error serves but does not work; the bundle says an
/// error is unhealthy, so the upgrade rolls back, though the node's own flags say nothing.
#[test]
fn a_new_version_answering_the_bundles_probe_with_an_error_is_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(dir.path(), 1, &QUICK);
    let broken = support::script(&dir.path().join("kv-v2-errors"), support::ANSWERS_ERRORS);
    let program = runtime::bundle::ProgramSpec {
        health: Some(runtime::bundle::HealthProbe::new(
            "get",
            json!({"key": "upstart-health-probe"}),
        )),
        ..Default::default()
    };
    let bundle = support::bundle_with(dir.path(), &c.private, &broken, "errors.bundle", &program);
    push(&c.server, &bundle).unwrap();
    let why = health_rollback(&mut c);
    assert!(why.contains("an error"), "{why}");
    wait_rollout(&c.server.url, RolloutState::Paused, Duration::from_secs(30));
    let s = status(&c.server.url).unwrap();
    assert_eq!(
        (s.nodes[0].version, s.nodes[0].phase),
        (1, Phase::RolledBack)
    );
    // The old program serves again.
    let got = load::get(c.agents[0].port(1).unwrap(), 1, "missing").unwrap();
    assert_eq!(got, Value::Null);
}

/// Kills the agent at `point` of an operator's rollback after version 2 took a write,
/// restarts it, and checks the rollback finishes with the write carried back by the reverse
/// transform, and no program of version 2 left running.
fn killed_in_a_rollback_at(point: &str) {
    let dir = tempfile::tempdir().unwrap();
    let old = old_state(50);
    let mut c = stopping_at(dir.path(), point, &old);
    wait_rollout(&c.server.url, RolloutState::Done, Duration::from_secs(60));
    let mut agent = c.agents.remove(0);
    let v2 = agent.port(2).unwrap();
    let put = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "put",
        "params": {"key": "at-2", "value": "kept", "ttl_ms": null}});
    {
        use std::io::{BufRead, Write};
        let mut s = std::net::TcpStream::connect(v2).unwrap();
        s.write_all(format!("{put}\n").as_bytes()).unwrap();
        let mut line = String::new();
        std::io::BufReader::new(s).read_line(&mut line).unwrap();
        assert!(line.contains("\"result\":null"), "{line}");
    }
    support::operator(&c.server, &["rollback"]);
    let before = kill_at(&mut agent, point);
    let spec = agent.spec.clone();
    drop(agent);
    let _again = restart_until(&c, &spec, "rolled back 1: ", point);
    assert_all_gone(&before, point);
    let state = spec.state();
    assert!(
        runtime::transform::pending(&state).unwrap().is_none(),
        "{point}"
    );
    let now = json_of(&std::fs::read(&state).unwrap());
    assert_eq!(now["entries"]["at-2"], "kept", "{point}: {now}");
    assert_eq!(now["entries"]["key-0042"], "value 42", "{point}");
    let got = load::get(spec.pinned[0].1, 1, "at-2").unwrap();
    assert_eq!(got, json!("kept"), "{point}");
}

#[test]
fn killed_at_every_step_of_a_rollback_then_restarted_finishes_it() {
    support::plugin();
    let points = [
        "rollback-stopped",
        "reverse-begun",
        "reverse-backed-up",
        "reverse-new-written",
        "reverse-prepared",
        "reverse-switched",
        "reverse-done",
    ];
    support::at_every_point(&points, killed_in_a_rollback_at);
}
