//! Adopting an existing service (issue 13, item 1): a Python key-value service with its own
//! command line (`--port`, `--state`, `--data`, `--version`, `--peer`) that never prints where
//! it listens and stops on SIGINT, run by `upstart node --exec TEMPLATE --stop-signal INT`
//! without a wrapper, and upgraded from 1 to 2 in a three-node cluster under load by a bundle
//! that carries version 2's own template.
#![allow(
    clippy::expect_used,
    clippy::panic,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod support;

use runtime::bundle::ProgramSpec;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::{call, log_of, push, Cluster, Nodes};
use upstart::demo::load::{self, Load, LoadConfig};

fn app() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/apps/kv_own_flags.py")
}

fn read_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("`{}`: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// `n` nodes running the service at version 1 by its own command line, stopped by SIGINT.
fn own_flags_cluster(dir: &Path, n: usize) -> Cluster {
    let v1 = "python3 {program} --port {port} --state {state} --data {data} --version 1 {peers:--peer %}";
    let extra = [
        "--exec",
        v1,
        "--stop-signal",
        "INT",
        "--drain-grace",
        "100ms",
        "--poll-wait",
        "2s",
    ];
    Cluster::start_with(dir, n, &extra, Nodes::kv(app()))
}

/// How nodes run a new version of the service: by the command line `exec`, stopped by SIGINT,
/// its health probed with a `get`.
fn stopped_by_int(exec: &str) -> ProgramSpec {
    support::kv_program(exec, Some("INT"))
}

#[test]
fn a_service_with_its_own_command_line_is_run_and_upgraded_without_a_wrapper() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = own_flags_cluster(dir.path(), 3);
    // The program was started with its own flags, and told the peers' routes.
    for a in &c.agents {
        let started = read_json(&a.spec.dir.join("agent/program/started-v1.json"));
        let argv: Vec<&str> = started["argv"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(argv[0], "--port", "{argv:?}");
        assert_eq!(started["peers"].as_array().unwrap().len(), 2, "{started}");
    }
    // Written before the upgrade, read after it.
    let n1 = c.agents[0].port(1).unwrap();
    assert_eq!(
        call(n1, "put", json!({"key": "before", "value": "one"}))["result"],
        Value::Null
    );
    let (load, _) = (Load::start(&c.targets(1), LoadConfig::default()), ());

    // Version 2 is the same script told `--version 2`, its flags in another order: the
    // template travels in the bundle.
    let v2_program = dir.path().join("kv_own_flags_v2.py");
    std::fs::copy(app(), &v2_program).unwrap();
    let v2 = "python3 {program} --version 2 --data {data} --state {state} --port {port} {peers:--peer %}";
    let program = stopped_by_int(v2);
    let bundle = support::bundle_with(dir.path(), &c.private, &v2_program, "v2.bundle", &program);
    push(&c.server, &bundle).unwrap();
    support::wait_each(&mut c.agents, "upgraded 2", Duration::from_secs(90));
    std::thread::sleep(Duration::from_millis(500));
    let reports = support::stop_without_failures(load);
    assert!(load::total(&reports).ok > 0);

    for a in &c.agents {
        let data = a.spec.dir.join("agent/program");
        // Version 1 was stopped with SIGINT (it ignores SIGTERM).
        assert_eq!(
            std::fs::read_to_string(data.join("stopped-v1")).unwrap(),
            "SIGINT"
        );
        let started = read_json(&data.join("started-v2.json"));
        assert_eq!(started["argv"][0], "--version", "{started}");
        assert_eq!(started["argv"][1], "2", "{started}");
        // The state was transformed for version 2.
        let state = read_json(&a.spec.state());
        assert!(state["items"].is_object(), "{state}");
    }
    // The write from before the upgrade, read by a version-2 caller and by a version-1 caller
    // (through the spec's past rules).
    assert_eq!(
        load::get(c.agents[0].port(2).unwrap(), 2, "before").unwrap(),
        json!({"value": "one", "expires_at": null})
    );
    assert_eq!(load::get(n1, 1, "before").unwrap(), json!("one"));
}

/// A bundle carries a release, not one file (issue 13, item 2): version 2 is a directory (a
/// launcher script, the service in a subdirectory, a config file) packed into the bundle and
/// unpacked per bundle id on each node, nothing installed by hand; its template runs
/// `{release}/run.sh`.
#[test]
fn a_release_directory_travels_in_the_bundle_and_runs_from_where_it_was_unpacked() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mut c = own_flags_cluster(dir.path(), 2);
    let n1 = c.agents[0].port(1).unwrap();
    assert_eq!(
        call(n1, "put", json!({"key": "before", "value": "one"}))["result"],
        Value::Null
    );

    let release = dir.path().join("release-2");
    std::fs::create_dir_all(release.join("app")).unwrap();
    std::fs::create_dir_all(release.join("conf")).unwrap();
    std::fs::copy(app(), release.join("app/kv_own_flags.py")).unwrap();
    std::fs::write(release.join("conf/version"), "2\n").unwrap();
    support::script(
        &release.join("run.sh"),
        "#!/bin/sh\nhere=$(dirname \"$0\")\nexec python3 \"$here/app/kv_own_flags.py\" --version \"$(cat \"$here/conf/version\")\" \"$@\"\n",
    );
    let program = stopped_by_int(
        "{release}/run.sh --port {port} --state {state} --data {data} {peers:--peer %}",
    );
    let bundle = support::bundle_with(dir.path(), &c.private, &release, "release.bundle", &program);
    push(&c.server, &bundle).unwrap();
    support::wait_each(&mut c.agents, "upgraded 2", Duration::from_secs(90));
    for a in &c.agents {
        let agent = a.spec.dir.join("agent");
        let unpacked: Vec<PathBuf> = std::fs::read_dir(agent.join("release"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(
            unpacked.len(),
            1,
            "one release, no partial left: {unpacked:?}"
        );
        let run = unpacked[0].join("run.sh");
        assert_eq!(
            std::fs::metadata(&run).unwrap().permissions().mode() & 0o111,
            0o111,
            "the launcher keeps its executable bit"
        );
        assert_eq!(
            std::fs::read_to_string(unpacked[0].join("conf/version")).unwrap(),
            "2\n"
        );
        let started = read_json(&agent.join("program/started-v2.json"));
        assert_eq!(started["argv"][0], "--version", "{started}");
        assert_eq!(started["argv"][1], "2", "{started}");
    }
    assert_eq!(
        load::get(c.agents[1].port(2).unwrap(), 2, "before").unwrap_or(Value::Null),
        Value::Null,
        "written on n1 only: the service does not replicate"
    );
    assert_eq!(
        load::get(c.agents[0].port(2).unwrap(), 2, "before").unwrap(),
        json!({"value": "one", "expires_at": null})
    );
}

/// A program started through a launcher that `exec`s the real one (its command name changes)
/// is still found and stopped when its agent is killed and restarted: an orphan is known by its
/// process id and start time, not by the name it was started with.
#[test]
fn an_orphan_started_through_a_launcher_is_stopped_when_the_agent_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let launcher = support::script(
        &dir.path().join("launch.sh"),
        &format!(
            "#!/bin/sh\nexec python3 {} --version 1 \"$@\"\n",
            app().display()
        ),
    );
    let extra = [
        "--exec",
        "{program} --port {port} --state {state} --data {data}",
        "--stop-signal",
        "INT",
    ];
    let mut c = Cluster::start_with(dir.path(), 1, &extra, Nodes::kv(launcher.clone()));
    let mut agent = c.agents.remove(0);
    let pid = support::program_pids(&agent.lines())[0];
    agent.crash();
    assert!(support::alive(pid), "the program outlives its agent");
    let spec = agent.spec.clone();
    // The crashed agent's guard stays alive: dropping it would kill the programs it announced,
    // doing the restarted agent's work for it.
    let mut again = support::start_agent(&c.server, &c.public, &launcher, &spec);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while support::alive(pid) {
        assert!(
            std::time::Instant::now() < deadline,
            "the orphan {pid} still runs\n{}",
            log_of(&spec)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let now = support::program_pids(&again.lines());
    assert!(!now.contains(&pid) && !now.is_empty(), "{now:?}");
    drop(agent);
    let _ = kill_guard(pid);
}

/// Kills `pid` if it still runs (a failed test leaves no orphan behind).
fn kill_guard(pid: u32) -> std::io::Result<std::process::ExitStatus> {
    std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
}
