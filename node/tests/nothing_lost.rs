//! Nothing acknowledged is lost, whatever the order of events: findings made outside the test
//! suite, each turned into a test (each failed on the `main` it was written against).
//!
//! - a second agent on the same data directory exits at once and touches nothing;
//! - a state that does not decode fails the node before anything stops;
//! - an agent killed after its new program started finishes the upgrade, keeps the backup of
//!   the old state and leaves no orphan;
//! - `upstart resume` retries a node that failed;
//! - a rollback without a reverse transform, after the new version took writes, keeps the
//!   node on the new version until the operator drops the writes (`--discard-writes`), and
//!   even then keeps the dropped state on disk;
//! - a rollback follows the schedule's pacing (one node at a time here) and `upstart status`
//!   says the rollout was rolled back.
#![allow(clippy::unwrap_used, reason = "tests")]

mod support;

use runtime::api::{Phase, RolloutState};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};
use support::{alive, json_of, log_of, push, start_agent, wait_rollout, Cluster, Nodes, QUICK};
use upstart::demo::load;

/// The pid of the last `program PID ADDR version V` line of `lines`.
fn program_pid(lines: &[String]) -> Option<u32> {
    support::program_pids(lines).last().copied()
}

/// `put(key, value)` as a version-`version` caller at `addr`.
fn put(addr: SocketAddr, version: u64, key: &str, value: &str) -> Result<Value, String> {
    use std::io::{BufRead, BufReader, Write};
    let params = if version == 1 {
        json!({"key": key, "value": value})
    } else {
        json!({"key": key, "value": value, "ttl_ms": null})
    };
    let request = json!({"jsonrpc": "2.0", "id": 7, "method": "put", "params": params});
    let mut s = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut line = serde_json::to_vec(&request).unwrap();
    line.push(b'\n');
    s.write_all(&line).map_err(|e| e.to_string())?;
    let mut answer = String::new();
    BufReader::new(s)
        .read_line(&mut answer)
        .map_err(|e| e.to_string())?;
    let v: Value = serde_json::from_str(&answer).map_err(|e| format!("{e}: {answer:?}"))?;
    match v.get("error") {
        Some(e) => Err(format!("`put` answered {e}")),
        None => Ok(v),
    }
}

#[test]
fn a_second_agent_on_the_same_data_directory_exits_at_once_and_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(dir.path(), 1, &QUICK);
    let first = &mut c.agents[0];
    let pid = program_pid(&first.lines()).unwrap();
    put(first.port(1).unwrap(), 1, "kept", "before").unwrap();
    // The same data directory, other ports (so the shim's ports do not decide it).
    let mut spec = first.spec.clone();
    let mut ports = upstart::demo::cluster::Ports::new();
    spec.main = ports.take().unwrap();
    spec.pinned = vec![(1, ports.take().unwrap()), (2, ports.take().unwrap())];
    spec.extra = QUICK.iter().map(|s| s.to_string()).collect();
    drop(ports);
    let log = dir.path().join("second.log");
    let t = support::tools();
    let launch = upstart::demo::cluster::Launch {
        upstart: support::upstart(),
        trust: &c.public,
        binary: &t.kv_v1,
    };
    let mut second =
        upstart::demo::cluster::Agent::spawn(&launch, &c.server.url, &spec, Some(&log)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = second.proc.exited() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the second agent still runs: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    let said = std::fs::read_to_string(&log).unwrap_or_default();
    let holder = c.agents[0].proc.pid().to_string();
    assert!(
        said.contains("is in use") && said.contains(&holder),
        "the error names the agent that holds the directory: {said}"
    );
    assert!(!second.lines().iter().any(|l| l.starts_with("program ")));
    // The first agent's program was not touched and serves what it acknowledged.
    assert!(alive(pid), "the first agent's program {pid} was stopped");
    let first = &mut c.agents[0];
    assert_eq!(
        load::get(first.port(1).unwrap(), 1, "kept").unwrap(),
        json!("before")
    );
    assert!(
        !first
            .lines()
            .iter()
            .any(|l| l.starts_with("program ") && !l.starts_with(&format!("program {pid} "))),
        "the first program was never restarted"
    );
}

#[test]
fn a_state_that_does_not_decode_fails_the_node_before_anything_stops() {
    for (case, bad) in [
        ("not json", b"{\"entries\": {\"a\": ".to_vec()),
        ("wrong shape", br#"{"entries": [1, 2, 3]}"#.to_vec()),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Cluster::start(dir.path(), 1, &QUICK);
        let bundle = c.kv_v2_bundle("kv.bundle");
        let a = &mut c.agents[0];
        let pid = program_pid(&a.lines()).unwrap();
        // The program read its state at start; the file goes bad under it.
        std::fs::write(a.spec.state(), &bad).unwrap();
        push(&c.server, &bundle).unwrap();
        let s = wait_rollout(&c.server.url, RolloutState::Paused, Duration::from_secs(30));
        let n1 = s.nodes.iter().find(|n| n.id == "n1").unwrap();
        assert_eq!(n1.version, 1, "{case}");
        let a = &mut c.agents[0];
        // The agent says why on its output, which the test reads on its own thread: the
        // server may know of the failure before that line is read.
        let failed = a
            .proc
            .wait_line("failed 2: ", Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("{case}: no failure said: {e}"));
        assert!(failed.contains("state"), "{case}: {failed}");
        let lines = a.lines();
        assert!(
            !lines.iter().any(|l| l.starts_with("draining")),
            "{case}: the node drained: {lines:?}\n{}",
            log_of(&a.spec)
        );
        assert!(alive(pid), "{case}: the old program was stopped");
        assert_eq!(
            load::get(a.port(1).unwrap(), 1, "x").unwrap(),
            Value::Null,
            "{case}"
        );
        assert_eq!(
            std::fs::read(a.spec.state()).unwrap(),
            bad,
            "{case}: the state is untouched"
        );
    }
}

#[test]
fn killed_after_the_new_program_started_the_upgrade_finishes_with_the_backup_intact() {
    let dir = tempfile::tempdir().unwrap();
    let old = br#"{"entries": {"a": "1", "b": "2"}}"#;
    let mut c = Cluster::start_with(dir.path(), 1, &QUICK, Nodes::kv_holding(old));
    let t = support::tools();
    let bundle = c.kv_v2_bundle("kv.bundle");
    push(&c.server, &bundle).unwrap();
    let mut agent = c.agents.remove(0);
    // Version 2 serves (and acknowledges a write) before its `healthy_for` (1 s) has passed.
    let deadline = Instant::now() + Duration::from_secs(60);
    let line = loop {
        let found = agent
            .lines()
            .into_iter()
            .find(|l| l.starts_with("program ") && l.ends_with("version 2"));
        if let Some(l) = found {
            break l.trim_start_matches("program ").to_string();
        }
        assert!(Instant::now() < deadline, "{}", log_of(&agent.spec));
        std::thread::sleep(Duration::from_millis(10));
    };
    let v2_pid: u32 = line.split_whitespace().next().unwrap().parse().unwrap();
    put(agent.port(2).unwrap(), 2, "c", "3").unwrap();
    agent.crash();
    let spec = agent.spec.clone();
    drop(agent);
    let mut again = start_agent(&c.server, &c.public, &t.kv_v1, &spec);
    again
        .proc
        .wait_line("upgraded 2", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}\n{}", log_of(&spec)));
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(v2_pid) {
        assert!(
            Instant::now() < deadline,
            "the version-2 program {v2_pid} was left running"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let state = spec.state();
    let backup = json_of(&std::fs::read(state.with_extension("json.v1")).unwrap());
    assert_eq!(backup, json_of(old), "the backup is the old state");
    for (key, want) in [("a", "1"), ("c", "3")] {
        let got = load::get(spec.pinned[0].1, 1, key).unwrap();
        assert_eq!(got, json!(want), "`{key}`");
    }
    let s = wait_rollout(&c.server.url, RolloutState::Done, Duration::from_secs(30));
    assert_eq!(s.nodes[0].version, 2);
}

#[test]
fn resume_retries_a_node_that_failed() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(dir.path(), 1, &QUICK);
    let bundle = c.kv_v2_bundle("kv.bundle");
    let good = std::fs::read(c.agents[0].spec.state()).unwrap_or_default();
    let good = if good.is_empty() {
        br#"{"entries": {}}"#.to_vec()
    } else {
        good
    };
    std::fs::write(c.agents[0].spec.state(), b"not json").unwrap();
    push(&c.server, &bundle).unwrap();
    wait_rollout(&c.server.url, RolloutState::Paused, Duration::from_secs(30));
    // The operator mends the state and resumes: the node tries again.
    std::fs::write(c.agents[0].spec.state(), &good).unwrap();
    support::operator(&c.server, &["resume"]);
    c.agents[0]
        .proc
        .wait_line("upgraded 2", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}\n{}", log_of(&c.agents[0].spec)));
    let s = wait_rollout(&c.server.url, RolloutState::Done, Duration::from_secs(30));
    assert_eq!((s.nodes[0].version, s.nodes[0].phase), (2, Phase::Upgraded));
}

#[test]
fn a_rollback_goes_one_node_at_a_time_and_status_says_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(dir.path(), 3, &QUICK);
    let bundle = c.kv_v2_bundle("kv.bundle");
    push(&c.server, &bundle).unwrap();
    wait_rollout(&c.server.url, RolloutState::Done, Duration::from_secs(90));
    support::operator(&c.server, &["rollback"]);
    let mut spans = Vec::new();
    for a in &mut c.agents {
        a.proc
            .wait_line(
                "rolled back 1: the rollout was rolled back",
                Duration::from_secs(60),
            )
            .unwrap_or_else(|e| panic!("{e}\n{}", log_of(&a.spec)));
        // When the agent logged them (its log's RFC 3339 UTC times sort as text).
        let log = log_of(&a.spec);
        let at = |needle: &str| {
            log.lines()
                .find(|l| l.contains(needle))
                .and_then(|l| l.split_whitespace().next())
                .map(str::to_string)
                .unwrap_or_else(|| panic!("no `{needle}` in the log:\n{log}"))
        };
        spans.push((
            a.spec.id.clone(),
            at("rollout rolled back: going back"),
            at("back after the rollout's rollback"),
        ));
    }
    spans.sort_by(|a, b| a.1.cmp(&b.1));
    // The schedule's `max_unavailable: 1`: one node goes back after the other, the last
    // upgraded (n3) first.
    assert_eq!(
        spans.iter().map(|s| s.0.as_str()).collect::<Vec<_>>(),
        ["n3", "n2", "n1"],
        "{spans:?}"
    );
    for pair in spans.windows(2) {
        assert!(pair[0].2 <= pair[1].1, "rollbacks overlap: {spans:?}");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let shown = loop {
        let out = std::process::Command::new(support::upstart())
            .args(["status", "--server", &c.server.url])
            .output()
            .unwrap();
        let shown = String::from_utf8_lossy(&out.stdout).into_owned();
        if shown.contains("3/3 back at version 1") {
            break shown;
        }
        assert!(Instant::now() < deadline, "{shown}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(shown.contains("ROLLED"), "{shown}");
    assert!(!shown.contains("3/3 done"), "{shown}");
}

/// The kv 1 -> 2 spec (short schedule) without its reverse transform, compiled: (spec, plugin).
fn plugin_without_reverse() -> &'static (std::path::PathBuf, std::path::PathBuf) {
    static PLUGIN: std::sync::OnceLock<(std::path::PathBuf, std::path::PathBuf)> =
        std::sync::OnceLock::new();
    PLUGIN.get_or_init(|| {
        let (spec, _) = support::plugin();
        let text = std::fs::read_to_string(spec).unwrap();
        let start = text.find("transform (new) -> old {").unwrap();
        let end = start + text[start..].find("\n}\n").unwrap() + 3;
        let stripped = format!("{}{}", &text[..start], &text[end..]);
        support::compile("kv-1-2-no-reverse.ups", &stripped)
    })
}

#[test]
fn a_rollback_without_a_reverse_transform_keeps_writes_until_the_operator_drops_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(dir.path(), 1, &QUICK);
    let t = support::tools();
    let (spec, plugin) = plugin_without_reverse();
    let bundle = support::bundle_of(
        dir.path(),
        &c.private,
        (spec, plugin),
        &t.kv_v2,
        "no-reverse.bundle",
    );
    push(&c.server, &bundle).unwrap();
    wait_rollout(&c.server.url, RolloutState::Done, Duration::from_secs(60));
    let v2 = c.agents[0].port(2).unwrap();
    put(v2, 2, "written-at-2", "kept").unwrap();
    let rollback = |extra: &[&str]| {
        support::operator(&c.server, &[&["rollback"][..], extra].concat());
    };
    rollback(&[]);
    let a = &mut c.agents[0];
    let why = a
        .proc
        .wait_line("refused rollback to 1: ", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}\n{}", log_of(&a.spec)));
    assert!(
        why.contains("accepted writes") && why.contains("--discard-writes"),
        "{why}"
    );
    // Still version 2, with the write.
    assert_eq!(
        load::get(a.port(1).unwrap(), 1, "written-at-2").unwrap(),
        json!("kept")
    );
    let state = json_of(&std::fs::read(a.spec.state()).unwrap());
    assert_eq!(state["items"]["written-at-2"]["value"], "kept", "{state}");
    // The operator drops the writes: version 1 again, the dropped state kept on disk.
    rollback(&["--discard-writes"]);
    let a = &mut c.agents[0];
    a.proc
        .wait_line(
            "rolled back 1: the rollout was rolled back",
            Duration::from_secs(30),
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", log_of(&a.spec)));
    assert_eq!(
        load::get(a.port(1).unwrap(), 1, "written-at-2").unwrap(),
        Value::Null
    );
    let kept: Vec<Value> = std::fs::read_dir(&a.spec.dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("state.json.v2.")
        })
        .map(|e| json_of(&std::fs::read(e.path()).unwrap()))
        .collect();
    assert!(
        kept.iter()
            .any(|s| s["items"]["written-at-2"]["value"] == "kept"),
        "the dropped writes are kept on disk: {kept:?}"
    );
}

/// The executable of process `pid`.
fn exe_of(pid: u32) -> String {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

#[test]
fn a_bundle_pushed_again_runs_its_own_program() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(dir.path(), 1, &QUICK);
    // Two releases of version 2: A (another program file), then the newer B (the kv-v2
    // program). The operator goes back to A and to B again, each time allowing the downgrade.
    let a = c.kv_v2_copy_bundle("kv-v2-a", "a.bundle");
    let b = c.kv_v2_bundle("b.bundle");
    let rollback = |c: &Cluster| {
        support::operator(&c.server, &["rollback"]);
    };
    let upgrade_with = |c: &mut Cluster, bundle: &Path, n: usize| -> String {
        support::push_with(&c.server, bundle, &["--allow-downgrade"]).unwrap();
        let agent = &mut c.agents[0];
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let upgrades = agent
                .lines()
                .iter()
                .filter(|l| l.starts_with("upgraded 2"))
                .count();
            if upgrades == n {
                break;
            }
            assert!(Instant::now() < deadline, "{}", log_of(&agent.spec));
            std::thread::sleep(Duration::from_millis(50));
        }
        exe_of(program_pid(&agent.lines()).unwrap())
    };
    let back = |c: &mut Cluster, n: usize| {
        rollback(c);
        let agent = &mut c.agents[0];
        let deadline = Instant::now() + Duration::from_secs(60);
        while agent
            .lines()
            .iter()
            .filter(|l| l.starts_with("rolled back 1"))
            .count()
            < n
        {
            assert!(Instant::now() < deadline, "{}", log_of(&agent.spec));
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let first = upgrade_with(&mut c, &b, 1);
    assert!(first.ends_with("/kv-v2"), "{first}");
    back(&mut c, 1);
    let second = upgrade_with(&mut c, &a, 2);
    assert!(second.ends_with("/kv-v2-a"), "{second}");
    back(&mut c, 2);
    let third = upgrade_with(&mut c, &b, 3);
    assert_eq!(third, first, "B pushed again runs B's program");
}

#[test]
fn a_caller_two_versions_newer_reaches_a_node_two_versions_older() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(dir.path(), 2, &QUICK);
    let t = support::tools();
    let kv_v3 = t.kv_v2.with_file_name("kv-v3");
    // 1 -> 2 stops after its canary; 2 -> 3 is pushed and waits behind it.
    let schedule =
        "  rolling { batch: 1, max_unavailable: 1 }\n  order: node_id\n  healthy_for: 1s\n  canary: 1 then pause";
    let (spec12, plugin12) = support::with_schedule("kv-1-2.ups", schedule);
    let (spec23, plugin23) = support::with_schedule("kv-2-3.ups", schedule);
    let b12 = support::bundle_of(
        dir.path(),
        &c.private,
        (&spec12, &plugin12),
        &t.kv_v2,
        "12.bundle",
    );
    let b23 = support::bundle_of(
        dir.path(),
        &c.private,
        (&spec23, &plugin23),
        &kv_v3,
        "23.bundle",
    );
    push(&c.server, &b12).unwrap();
    wait_rollout(&c.server.url, RolloutState::Paused, Duration::from_secs(60));
    let pushed = push(&c.server, &b23).unwrap();
    assert!(pushed.contains("pending"), "{pushed}");
    // n2 still runs version 1: it installs the rules of both bundles, composed.
    let n2 = &mut c.agents[1];
    n2.proc
        .wait_line("rules 1,2,3", Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}\n{}", log_of(&n2.spec)));
    put(n2.port(1).unwrap(), 1, "k", "from-1").unwrap();
    // A version-3 peer's shim reaches it through the future rules 3 -> 2 -> 1.
    use std::io::{BufRead, BufReader, Write};
    let mut s = std::net::TcpStream::connect(n2.spec.main).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"UPSTART/1 kv 3\n").unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut hello = String::new();
    reader.read_line(&mut hello).unwrap();
    assert_eq!(hello, "UPSTART/1 kv 1\n");
    s.write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"get\",\"params\":{\"key\":\"k\"}}\n")
        .unwrap();
    let mut answer = String::new();
    reader.read_line(&mut answer).unwrap();
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["result"]["value"], "from-1", "{answer}");
}
