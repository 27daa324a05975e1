//! What the node agent's end-to-end tests share: the key-value programs and `upstartc` (built
//! once per test binary into their own target directory: the outer cargo holds the lock of the
//! workspace's), the kv 1 -> 2 plugin with a short schedule, signed bundles, and a cluster of
//! agents under one upgrade server.
#![allow(dead_code, clippy::expect_used, clippy::panic, reason = "tests")]

use runtime::api::{RolloutState, Status};
use runtime::bundle::BuildInput;
use runtime::client::Client;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;
use upstart::demo::build::{self, Tools};
use upstart::demo::cluster::{node_specs, Agent, Launch, NodeSpec, Server};
use upstart::demo::load::{self, Load, Target, WorkerReport};
use upstart::tester::runner::net_faults;

pub const WAIT: Duration = Duration::from_secs(60);

pub fn upstart() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_upstart"))
}

pub fn tools() -> &'static Tools {
    static TOOLS: OnceLock<Tools> = OnceLock::new();
    TOOLS.get_or_init(|| {
        let ws = build::workspace();
        let target = ws.join("target").join("node-tests");
        build::build_tools(&ws, &target, &mut |l| eprintln!("{l}")).expect("the tools build")
    })
}

/// The spec and plugin of kv 1 -> 2 with `healthy_for: 1s`.
pub fn plugin() -> &'static (PathBuf, PathBuf) {
    static PLUGIN: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    PLUGIN.get_or_init(|| {
        let t = tools();
        let dir = t.workspace.join("target").join("node-tests").join("specs");
        let spec = build::short_spec(&t.workspace, &dir, "1s").expect("the spec is written");
        let plugin = upstart_test_support::plugins::build(&spec);
        (spec, plugin)
    })
}

/// `text` written as the spec `name` under `target/node-tests/specs`, compiled: (spec, plugin).
pub fn compile(name: &str, text: &str) -> (PathBuf, PathBuf) {
    let dir = tools().workspace.join("target/node-tests/specs");
    std::fs::create_dir_all(&dir).expect("the specs folder");
    let spec = dir.join(name);
    std::fs::write(&spec, text).expect("the spec is written");
    let plugin = upstart_test_support::plugins::build(&spec);
    (spec, plugin)
}

/// The example spec `specs/kv/NAME` with its schedule replaced by `schedule` (the settings'
/// lines), compiled: (spec, plugin).
pub fn with_schedule(name: &str, schedule: &str) -> (PathBuf, PathBuf) {
    let text = std::fs::read_to_string(tools().workspace.join("specs/kv").join(name))
        .expect("the example spec");
    let start = text.find("schedule {").expect("a schedule");
    let spec_text = format!("{}schedule {{\n{schedule}\n}}\n", &text[..start]);
    let stem = format!("{}-{:016x}", name.trim_end_matches(".ups"), {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        schedule.hash(&mut h);
        h.finish()
    });
    compile(&format!("{stem}.ups"), &spec_text)
}

/// A key pair in `dir`: (private, public).
pub fn key(dir: &Path) -> (PathBuf, PathBuf) {
    build::keygen(dir).expect("a key")
}

/// The bundle kv 1 -> 2 (new program `binary`) signed with `key`, into `dir`. Each bundle made
/// by a test binary has a higher release number than the ones before.
pub fn bundle(dir: &Path, key: &Path, binary: &Path, name: &str) -> PathBuf {
    let (spec, plugin) = plugin();
    bundle_of(dir, key, (spec, plugin), binary, name)
}

/// [`bundle`] of the compiled spec `(spec, plugin)`.
pub fn bundle_of(
    dir: &Path,
    key: &Path,
    compiled: (&Path, &Path),
    binary: &Path,
    name: &str,
) -> PathBuf {
    sign(&input(compiled, binary), dir, key, name)
}

/// [`bundle`], saying how nodes run and check the program.
pub fn bundle_with(
    dir: &Path,
    key: &Path,
    binary: &Path,
    name: &str,
    program: &runtime::bundle::ProgramSpec,
) -> PathBuf {
    let (spec, plugin) = plugin();
    let input = BuildInput {
        program: program.clone(),
        ..input((spec, plugin), binary)
    };
    sign(&input, dir, key, name)
}

/// What a bundle of the compiled spec `(spec, plugin)` with the new program `binary` holds:
/// a higher release than every bundle this test binary made before, nothing said of how the
/// program runs.
pub fn input((spec, plugin): (&Path, &Path), binary: &Path) -> BuildInput {
    BuildInput {
        plugin: plugin.to_path_buf(),
        binary: binary.to_path_buf(),
        spec: spec.to_path_buf(),
        release: next_release(),
        program: runtime::bundle::ProgramSpec::default(),
    }
}

/// The bundle of `input` signed with `key`, as `name` in `dir`.
pub fn sign(input: &BuildInput, dir: &Path, key: &Path, name: &str) -> PathBuf {
    let out = dir.join(name);
    build::bundle(input, key, &out).expect("the bundle is made");
    out
}

/// A script (made executable) at `path`.
pub fn script(path: &Path, text: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_path_buf()
}

/// A JSON-RPC program (Python, standard library only) that says `listening ADDR` and answers
/// every call with an error: it serves, but nothing works.
pub const ANSWERS_ERRORS: &str = r#"#!/usr/bin/env python3
import json, socket, threading

server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", 0))
server.listen(64)
print("listening %s:%d" % server.getsockname(), flush=True)

def serve(conn):
    with conn, conn.makefile("rwb") as f:
        for line in f:
            try:
                id = json.loads(line).get("id")
            except ValueError:
                id = None
            answer = {"jsonrpc": "2.0", "id": id, "error": {"code": -32000, "message": "broken"}}
            f.write((json.dumps(answer) + "\n").encode())
            f.flush()

while True:
    conn, _ = server.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"#;

/// A release number higher than any this test binary used before.
pub fn next_release() -> u64 {
    static RELEASE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    RELEASE.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
}

/// `upstart push BUNDLE --server URL` as the server's operator: its output, or the error.
pub fn push(server: &Server, bundle: &Path) -> Result<String, String> {
    push_with(server, bundle, &[])
}

/// [`push`] with more arguments (`--allow-downgrade`).
pub fn push_with(server: &Server, bundle: &Path, extra: &[&str]) -> Result<String, String> {
    let out = std::process::Command::new(upstart())
        .arg("push")
        .arg(bundle)
        .args(["--server", &server.url])
        .args(extra)
        .env("UPSTART_KEY", &server.operator)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Stops `load` and checks that no call failed or was answered wrongly; the workers' reports.
pub fn stop_without_failures(load: Load) -> Vec<WorkerReport> {
    let reports = load.stop();
    let total = load::total(&reports);
    let problems: Vec<&String> = reports.iter().flat_map(|r| &r.problems).collect();
    assert_eq!((total.failed, total.wrong), (0, 0), "{problems:#?}");
    reports
}

/// Checks that every write acknowledged to `reports`' workers reads back at `ports`.
pub fn assert_nothing_lost(reports: &[WorkerReport], ports: &BTreeMap<String, SocketAddr>) {
    let missing = load::verify(reports, ports);
    assert!(missing.is_empty(), "{missing:#?}");
}

/// Short drain and poll waits, for tests.
pub const QUICK: [&str; 4] = ["--drain-grace", "100ms", "--poll-wait", "2s"];

/// An upgrade server on a free port, its database and log in `dir`, trusting bundles signed
/// with `trust` and operators with `operator` (the private key it signs its own calls with).
pub fn server(dir: &Path, trust: &Path, operator: &Path) -> Server {
    Server::start(
        upstart(),
        &dir.join("upgrades.db"),
        trust,
        operator,
        "127.0.0.1:0".parse().unwrap(),
        Some(&dir.join("server.log")),
    )
    .expect("the server starts")
}

/// One JSON-RPC call of `method` with `params` on a new connection to `addr` (a node's port,
/// or its program's): the answer, parsed.
pub fn call(addr: SocketAddr, method: &str, params: serde_json::Value) -> serde_json::Value {
    use std::io::{BufRead, BufReader, Write};
    let mut s = std::net::TcpStream::connect(addr)
        .unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("a read timeout is set");
    let request =
        serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    s.write_all(format!("{request}\n").as_bytes())
        .unwrap_or_else(|e| panic!("cannot send `{method}` to {addr}: {e}"));
    let mut answer = String::new();
    BufReader::new(s)
        .read_line(&mut answer)
        .unwrap_or_else(|e| panic!("no answer to `{method}` from {addr}: {e}"));
    serde_json::from_str(&answer).unwrap_or_else(|e| panic!("`{answer}` is not JSON: {e}"))
}

/// [`call`] of `put`, which must answer `null`.
pub fn put(addr: SocketAddr, params: serde_json::Value) {
    let answer = call(addr, "put", params);
    assert_eq!(
        answer.get("result"),
        Some(&serde_json::Value::Null),
        "{answer}"
    );
}

/// How nodes run a new version of a key-value program: by the command line `exec`, stopped by
/// `stop_signal` (`None`: the node's), healthy when it answers a `get` (of the key
/// `upstart-health-probe`) without an error.
pub fn kv_program(exec: &str, stop_signal: Option<&str>) -> runtime::bundle::ProgramSpec {
    runtime::bundle::ProgramSpec {
        exec: Some(exec.into()),
        stop_signal: stop_signal.map(str::to_string),
        health: Some(runtime::bundle::HealthProbe::new(
            "get",
            serde_json::json!({"key": "upstart-health-probe"}),
        )),
    }
}

/// Bytes as JSON.
pub fn json_of(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap()
}

/// Waits (at most `wait`) until the first rollout is in state `want`; the status then.
pub fn wait_rollout(server: &str, want: RolloutState, wait: Duration) -> Status {
    wait_status(server, &format!("rollout {want:?}"), wait, |s| {
        s.rollouts.first().map(|r| r.state) == Some(want)
    })
}

/// Waits (at most `wait`) until `done` holds of the status of the server at `server`; the
/// status then, or a panic saying what (`what`) did not come in time.
pub fn wait_status(
    server: &str,
    what: &str,
    wait: Duration,
    done: impl Fn(&Status) -> bool,
) -> Status {
    let deadline = std::time::Instant::now() + wait;
    loop {
        let s = status(server).unwrap();
        if done(&s) {
            return s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not {what} in time: {s:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether every node of a status is at version `v`, healthy and in no upgrade.
pub fn all_at(v: u64) -> impl Fn(&Status) -> bool {
    move |s| {
        s.nodes
            .iter()
            .all(|n| n.version == v && !n.phase.is_in_progress() && n.healthy)
    }
}

/// `GET /v1/status`.
pub fn status(server: &str) -> Result<Status, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = Client::new(server).map_err(|e| e.to_string())?;
    rt.block_on(async { client.status().await.map_err(|e| e.to_string()) })
}

/// What the nodes of a [`Cluster`] run at version 1: the program `program` (`--binary`) of the
/// system `system` (`upgrade NAME`), each node keeping its state in the file `state_file` of its
/// folder, which first holds `state` (`None`: the program makes it).
#[derive(Debug, Clone)]
pub struct Nodes {
    pub program: PathBuf,
    pub system: &'static str,
    pub state_file: &'static str,
    pub state: Option<Vec<u8>>,
}

impl Nodes {
    /// `program` speaking the key-value example's spec (its plugin built first), from no state.
    pub fn kv(program: PathBuf) -> Nodes {
        plugin();
        Nodes {
            program,
            system: "kv",
            state_file: "state.json",
            state: None,
        }
    }

    /// The key-value example's version 1 (`kv-v1`), each node's state first `state`.
    pub fn kv_holding(state: &[u8]) -> Nodes {
        Nodes {
            state: Some(state.to_vec()),
            ..Nodes::kv(tools().kv_v1.clone())
        }
    }
}

/// A server and `n` agents at version 1 in `dir`, each with ports pinned to versions 1 and 2.
pub struct Cluster {
    pub server: Server,
    pub agents: Vec<Agent>,
    pub public: PathBuf,
    pub private: PathBuf,
    pub dir: PathBuf,
}

impl Cluster {
    /// A load target per node: its port pinned to `version`.
    pub fn targets(&self, version: u64) -> Vec<Target> {
        self.agents
            .iter()
            .map(|a| Target {
                node: a.spec.id.clone(),
                addr: a.port(version).unwrap(),
                version,
            })
            .collect()
    }

    /// Each node's port pinned to `version`, by node id.
    pub fn ports(&self, version: u64) -> BTreeMap<String, SocketAddr> {
        self.agents
            .iter()
            .map(|a| (a.spec.id.clone(), a.port(version).unwrap()))
            .collect()
    }

    /// The bundle kv 1 -> 2 of [`bundle`], signed with the cluster's key, as `name` in its folder.
    pub fn kv_v2_bundle(&self, name: &str) -> PathBuf {
        bundle(&self.dir, &self.private, &tools().kv_v2, name)
    }

    /// [`Cluster::kv_v2_bundle`] of another program file: `kv-v2` copied as `program` into the
    /// cluster's folder.
    pub fn kv_v2_copy_bundle(&self, program: &str, name: &str) -> PathBuf {
        let other = self.dir.join(program);
        std::fs::copy(&tools().kv_v2, &other).expect("kv-v2 copied");
        bundle(&self.dir, &self.private, &other, name)
    }

    /// `n` nodes of the key-value example (`kv-v1`), each given the flags `extra`.
    pub fn start(dir: &Path, n: usize, extra: &[&str]) -> Cluster {
        Cluster::start_with(dir, n, extra, Nodes::kv(tools().kv_v1.clone()))
    }

    /// [`Cluster::start`] of the nodes `nodes`.
    pub fn start_with(dir: &Path, n: usize, extra: &[&str], nodes: Nodes) -> Cluster {
        let extra_of = |_| extra.iter().map(|x| x.to_string()).collect();
        Cluster::start_nodes(dir, n, &extra_of, nodes)
    }

    /// [`Cluster::start_with`], node `i` (from 0) given the flags `extra_of(i)`.
    pub fn start_nodes(
        dir: &Path,
        n: usize,
        extra_of: &dyn Fn(usize) -> Vec<String>,
        nodes: Nodes,
    ) -> Cluster {
        let t = tools();
        let (private, public) = key(dir);
        let server = server(dir, &public, &private);
        let mut specs = node_specs(dir, n, &[1, 2]).unwrap();
        for (i, s) in specs.iter_mut().enumerate() {
            s.system = nodes.system.to_owned();
            s.state_file = nodes.state_file.to_owned();
            s.extra = extra_of(i);
            // The shim's test fault hook needs the environment's consent too.
            if s.extra.iter().any(|x| x == net_faults::FLAG) {
                let (k, v) = net_faults::ENV;
                s.env.push((k.into(), v.into()));
            }
            // Same-version clients are handed to the programs (the shim's zero-copy path).
            s.extra.push("--preload".into());
            s.extra.push(t.preload.display().to_string());
            if let Some(state) = &nodes.state {
                std::fs::create_dir_all(&s.dir).unwrap();
                std::fs::write(s.state(), state).unwrap();
            }
        }
        let agents = specs
            .iter()
            .map(|s| start_agent(&server, &public, &nodes.program, s))
            .collect();
        Cluster {
            server,
            agents,
            public,
            private,
            dir: dir.to_path_buf(),
        }
    }
}

/// Waits (at most `wait` each) for every one of `agents` to print a line starting with `line`;
/// a panic with the log of the first that does not.
pub fn wait_each(agents: &mut [Agent], line: &str, wait: Duration) {
    for a in agents {
        a.proc
            .wait_line(line, wait)
            .unwrap_or_else(|e| panic!("{e}\n{}", log_of(&a.spec)));
    }
}

/// Starts (or restarts) the agent of `spec` and enrolls it with `server`.
pub fn start_agent(server: &Server, trust: &Path, binary: &Path, spec: &NodeSpec) -> Agent {
    let log = spec.dir.with_extension("log");
    let launch = Launch {
        upstart: upstart(),
        trust,
        binary,
    };
    Agent::start(&launch, server, spec, Some(&log))
        .unwrap_or_else(|e| panic!("{e}\n{}", std::fs::read_to_string(&log).unwrap_or_default()))
}

/// The log of agent `spec`, for failure messages.
pub fn log_of(spec: &NodeSpec) -> String {
    std::fs::read_to_string(spec.dir.with_extension("log")).unwrap_or_default()
}

/// `upstart ARGS... --server URL` as the server's operator; its stdout (panics on failure).
pub fn operator(server: &Server, args: &[&str]) -> String {
    let out = std::process::Command::new(upstart())
        .args(args)
        .args(["--server", &server.url])
        .env("UPSTART_KEY", &server.operator)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "upstart {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The pids of the `program PID ADDR version V` lines of `lines`, in order.
pub fn program_pids(lines: &[String]) -> Vec<u32> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("program "))
        .filter_map(|r| r.split_whitespace().next()?.parse().ok())
        .collect()
}

/// Whether process `pid` runs (a zombie does not).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| !s.split(") ").nth(1).is_some_and(|r| r.starts_with('Z')))
}

/// Every point of an upgrade where an agent can be stopped (`--stop-at`), in order: the
/// agent's own around the state transform's.
pub const UPGRADE_POINTS: [&str; 10] = [
    "drained",
    "stopped",
    "begun",
    "backed-up",
    "new-written",
    "prepared",
    "switched",
    "done",
    "started",
    "healthy",
];

/// Runs `kill_at(point)` for every point at once, each on its own thread (each with its own
/// cluster), and fails naming every point whose run failed.
pub fn at_every_point(points: &[&'static str], kill_at: impl Fn(&'static str) + Sync) {
    let kill_at = &kill_at;
    std::thread::scope(|s| {
        let runs: Vec<_> = points
            .iter()
            .map(|&p| (p, s.spawn(move || kill_at(p))))
            .collect();
        for (p, r) in runs {
            if r.join().is_err() {
                panic!("kill at `{p}` failed");
            }
        }
    });
}
