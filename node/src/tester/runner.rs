//! Running one plan: a fresh upgrade server and `upstart node` agents on loopback (the
//! demo's [`crate::demo::cluster`]), the bundles of the plan's hops signed with a fresh key,
//! clients making the workload's calls while the plan's steps and faults happen, then the
//! oracles ([`super::oracle`]). Every process of a run lives under the run's directory and is
//! stopped when the run ends.

use super::oracle::{leftovers, normalize, processes_under, Failure};
use super::plan::{Plan, Step};
use super::workload::{make, Answer, Call, Made, Workload};
use crate::demo::build::{self, Tools};
use crate::demo::cluster::{node_specs, signal, Agent, NodeSpec, Ports, Proc, Server};
use runtime::api::{RolloutState, Status};
use runtime::client::{Client, Control};
use runtime::plugin::{Expect, Plugin};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The agents' quick settings: short drains and polls keep plans short.
const QUICK: [&str; 4] = ["--drain-grace", "100ms", "--poll-wait", "1s"];
/// The longest one call may take, resends included.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How many times a rollout a fault paused is resumed before the plan fails.
const MAX_RESUMES: u32 = 3;
/// Between two calls of a sequential client.
const SEQUENTIAL_PAUSE: Duration = Duration::from_millis(20);

/// A sequential client's call: (node rank, the call, how it ended).
pub type Answered = (usize, Call, Made);

/// One hop of the chain: its spec.
#[derive(Debug, Clone)]
pub struct Hop {
    pub from: u64,
    pub to: u64,
    pub spec: PathBuf,
}

/// What every plan of a run shares.
#[derive(Debug)]
pub struct Setup {
    pub upstart: PathBuf,
    pub tools: Tools,
    pub hops: Vec<Hop>,
    pub programs: BTreeMap<u64, PathBuf>,
    pub preload: Option<PathBuf>,
    /// The `upgrade NAME` of the system.
    pub system: String,
    /// Where runs, plugins and saved plans go.
    pub work: PathBuf,
    /// `healthy_for` of the schedules the runs compile.
    pub healthy_for: String,
    /// The bound on one rollout (or rollback).
    pub rollout_timeout: Duration,
    /// Plugins by (batch, from): (spec with the plan's schedule, plugin).
    plugins: Mutex<BTreeMap<(usize, u64), (PathBuf, PathBuf)>>,
    /// Workloads by seed.
    workloads: Mutex<BTreeMap<u64, Arc<Workload>>>,
    runs: Mutex<u64>,
}

/// Counts of the calls of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Calls {
    pub ok: u64,
    pub disallowed: u64,
    pub failed: u64,
    pub resent: u64,
}

impl Calls {
    fn add(&mut self, m: &Made) {
        match m.answer {
            Answer::Ok(_) => self.ok += 1,
            Answer::Disallowed(_) => self.disallowed += 1,
            Answer::Failed(_) => self.failed += 1,
        }
        self.resent += u64::from(m.resent);
    }

    fn merge(&mut self, o: &Calls) {
        self.ok += o.ok;
        self.disallowed += o.disallowed;
        self.failed += o.failed;
        self.resent += o.resent;
    }
}

/// What one run of a plan found.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub failures: Vec<Failure>,
    pub calls: Calls,
    pub seconds: f64,
    /// The run's directory (logs, states).
    pub dir: PathBuf,
    /// Whether the differential oracle applied (only the first version's sequential clients).
    pub differential: bool,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// The `from` and `to` of a spec's `upgrade NAME FROM -> TO` line.
pub fn spec_versions(text: &str) -> Option<(String, u64, u64)> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("upgrade "))?;
    let mut words = line.split_whitespace().skip(1);
    let name = words.next()?.to_string();
    let from = words.next()?.parse().ok()?;
    if words.next()? != "->" {
        return None;
    }
    let to = words.next()?.parse().ok()?;
    Some((name, from, to))
}

/// `text` with its `schedule { ... }` (the last item of a spec) replaced by a rolling one of
/// `batch` nodes at a time in node-id order.
pub fn with_schedule(text: &str, batch: usize, healthy_for: &str) -> Result<String, String> {
    let start = text
        .rfind("\nschedule {")
        .map(|i| i + 1)
        .or_else(|| text.starts_with("schedule {").then_some(0))
        .ok_or("the spec has no `schedule` block")?;
    Ok(format!(
        "{}schedule {{\n  rolling {{ batch: {batch}, max_unavailable: {batch} }}\n  order: node_id\n  healthy_for: {healthy_for}\n}}\n",
        text.get(..start).unwrap_or_default()
    ))
}

impl Setup {
    #[allow(
        clippy::too_many_arguments,
        reason = "the run's inputs, each named by the CLI"
    )]
    pub fn new(
        upstart: PathBuf,
        tools: Tools,
        hops: Vec<Hop>,
        programs: BTreeMap<u64, PathBuf>,
        preload: Option<PathBuf>,
        system: String,
        work: PathBuf,
        healthy_for: String,
    ) -> Setup {
        Setup {
            upstart,
            tools,
            hops,
            programs,
            preload,
            system,
            work,
            healthy_for,
            rollout_timeout: Duration::from_secs(120),
            plugins: Mutex::new(BTreeMap::new()),
            workloads: Mutex::new(BTreeMap::new()),
            runs: Mutex::new(0),
        }
    }

    /// The versions of the chain, oldest first.
    pub fn chain(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self.hops.iter().map(|h| h.from).collect();
        v.extend(self.hops.last().map(|h| h.to));
        v
    }

    /// The spec and plugin of hop `from` with the schedule of `batch`, compiled once per run.
    fn plugin(&self, batch: usize, from: u64) -> Result<(PathBuf, PathBuf), String> {
        let mut cache = self
            .plugins
            .lock()
            .map_err(|_| "the plugin cache is poisoned")?;
        if let Some(p) = cache.get(&(batch, from)) {
            return Ok(p.clone());
        }
        let hop = self
            .hops
            .iter()
            .find(|h| h.from == from)
            .ok_or_else(|| format!("no spec upgrades from version {from}"))?;
        let text = std::fs::read_to_string(&hop.spec)
            .map_err(|e| format!("cannot read `{}`: {e}", hop.spec.display()))?;
        let dir = self.work.join("plugins");
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
        let stem = format!("{}-{}-batch-{batch}", hop.from, hop.to);
        let spec = dir.join(format!("{stem}.ups"));
        std::fs::write(&spec, with_schedule(&text, batch, &self.healthy_for)?)
            .map_err(|e| format!("cannot write `{}`: {e}", spec.display()))?;
        let plugin = build::compile(&self.tools, &spec, &dir.join(&stem))?;
        cache.insert((batch, from), (spec.clone(), plugin.clone()));
        Ok((spec, plugin))
    }

    /// The workload of plans of `seed` (`upstartc workload`, derived once per seed): every
    /// run of a plan, its shrunk versions and replays make the same calls.
    pub fn workload(&self, seed: u64) -> Result<Arc<Workload>, String> {
        let mut cache = self
            .workloads
            .lock()
            .map_err(|_| "the workload cache is poisoned")?;
        if let Some(w) = cache.get(&seed) {
            return Ok(w.clone());
        }
        let specs: Vec<&Path> = self.hops.iter().map(|h| h.spec.as_path()).collect();
        let w = Workload::derive(&self.tools.upstartc, &specs, seed, super::plan::MAX_CALLS)?;
        if w.system != self.system {
            return Err(format!(
                "the workload is of `{}`, the specs of `{}`",
                w.system, self.system
            ));
        }
        let w = Arc::new(w);
        cache.insert(seed, w.clone());
        Ok(w)
    }

    /// Runs `plan`; `progress` hears each step as it starts.
    pub fn run(
        &self,
        plan: &Plan,
        progress: &mut dyn FnMut(usize, &str),
    ) -> Result<Outcome, String> {
        let n = {
            let mut runs = self
                .runs
                .lock()
                .map_err(|_| "the run counter is poisoned")?;
            *runs += 1;
            *runs
        };
        let dir = self.work.join(format!("run-{n}-plan-{}", plan.seed));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
        let _ = std::fs::write(dir.join("plan.json"), plan.to_json());
        let started = Instant::now();
        let workload = self.workload(plan.seed)?;
        let mut run = match Run::start(self, plan, &dir, workload.clone()) {
            Ok(run) => run,
            // A cluster that does not come up is a finding too (the processes it started
            // are stopped as the half-built run drops).
            Err(e) => {
                let mut failures = vec![Failure::new("start", e)];
                failures.extend(orphans(&dir));
                return Ok(Outcome {
                    failures,
                    calls: Calls::default(),
                    seconds: started.elapsed().as_secs_f64(),
                    dir,
                    differential: false,
                });
            }
        };
        let mut failures = run.steps(progress);
        let steps_done = failures.is_empty();
        let (calls, answers, mut call_failures) = run.finish_clients();
        failures.append(&mut call_failures);
        failures.extend(run.final_version());
        let rolling = run.stop();
        failures.extend(orphans(&dir));
        let first = plan.first_version();
        // Only a plan that ran to its end has a final state to compare.
        let differential =
            steps_done && plan.clients == [first] && plan.concurrent == 0 && plan.calls > 0;
        if differential {
            progress(
                plan.steps.len() + 1,
                "differential: the same calls on a cluster that never upgrades",
            );
            failures.extend(self.differential(plan, &workload, &dir, &answers, &rolling)?);
        }
        Ok(Outcome {
            failures,
            calls,
            seconds: started.elapsed().as_secs_f64(),
            dir,
            differential,
        })
    }

    /// The differential oracle: the first version's sequential calls on plain programs of the
    /// first version (no agent, no upgrade), their answers and their transformed states against
    /// the rolling run's.
    fn differential(
        &self,
        plan: &Plan,
        workload: &Workload,
        dir: &Path,
        rolling_answers: &[(usize, Call, Made)],
        rolling_states: &[Value],
    ) -> Result<Vec<Failure>, String> {
        let first = plan.first_version();
        let program = self
            .programs
            .get(&first)
            .ok_or_else(|| format!("no `--program {first}=PATH`"))?;
        let rdir = dir.join("reference");
        let mut ports = Ports::new();
        let addrs: Vec<SocketAddr> = (0..plan.nodes)
            .map(|_| ports.take())
            .collect::<Result<_, _>>()?;
        drop(ports);
        let mut procs = Vec::new();
        for (i, addr) in addrs.iter().enumerate() {
            let ndir = rdir.join(format!("n{}", i + 1));
            std::fs::create_dir_all(&ndir)
                .map_err(|e| format!("cannot create `{}`: {e}", ndir.display()))?;
            let mut cmd = Command::new(program);
            cmd.arg("--listen")
                .arg(addr.to_string())
                .arg("--state")
                .arg(ndir.join("state.json"));
            for p in addrs.iter().filter(|p| *p != addr) {
                cmd.arg("--peer").arg(p.to_string());
            }
            let mut proc = Proc::spawn(
                &format!("reference n{}", i + 1),
                &mut cmd,
                Some(&ndir.with_extension("log")),
                true,
            )?;
            proc.wait_line("listening ", Duration::from_secs(30))?;
            procs.push(proc);
        }
        let calls = sequential_calls(workload, first, plan);
        let answers: Vec<Made> = calls
            .iter()
            .enumerate()
            .map(|(i, (node, call))| {
                let addr = addrs
                    .get(*node)
                    .copied()
                    .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 1)));
                make(addr, call, i as u64 + 1, CALL_TIMEOUT)
            })
            .collect();
        for p in &mut procs {
            p.terminate(Duration::from_secs(5));
        }
        drop(procs);
        let mut failures = Vec::new();
        let mut differ = Vec::new();
        for (i, ((node, call, got), want)) in rolling_answers.iter().zip(&answers).enumerate() {
            if let (Answer::Ok(a), Answer::Ok(b)) = (&got.answer, &want.answer) {
                if normalize(a) != normalize(b) {
                    differ.push(format!(
                        "call {} `{}` {} on n{}: rolling run answered {a}, the cluster that never upgrades {b}",
                        i + 1,
                        call.method,
                        call.params,
                        node + 1
                    ));
                }
            }
        }
        if !differ.is_empty() {
            failures.push(Failure::new(
                "differential-answers",
                format!(
                    "{} of {} answers differ; first: {}",
                    differ.len(),
                    answers.len(),
                    differ.join("; ").chars().take(600).collect::<String>()
                ),
            ));
        }
        // The reference's states, transformed along the plan's hops, against the rolling run's.
        let last = plan.final_version().unwrap_or(first);
        let mut problems = Vec::new();
        for (i, rolling) in rolling_states.iter().enumerate() {
            let path = rdir.join(format!("n{}", i + 1)).join("state.json");
            let mut state = std::fs::read(&path)
                .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
            let mut version = first;
            let mut last_plugin = None;
            while version < last {
                let hop = self
                    .hops
                    .iter()
                    .find(|h| h.from == version)
                    .ok_or_else(|| format!("no spec upgrades from version {version}"))?;
                let (_, plugin) = self.plugin(plan.batch, version)?;
                let p = Plugin::load(&plugin, &Expect::default()).map_err(|e| e.to_string())?;
                if hop.to >= last {
                    last_plugin = Some(p);
                    break;
                }
                state = p.transform(&state).map_err(|e| {
                    format!("the transform from {version} failed on the reference state: {e}")
                })?;
                version = hop.to;
            }
            let reference: Value = serde_json::from_slice(&state)
                .map_err(|e| format!("the reference state of n{} is not JSON: {e}", i + 1))?;
            let (a, b) = (normalize(&reference), normalize(rolling));
            let same = match &last_plugin {
                None => a == b,
                Some(p) => {
                    let enc = |v: &Value| serde_json::to_vec(v).unwrap_or_default();
                    p.check_invariant(&enc(&a), &enc(&b))
                        .map_err(|e| format!("the invariant could not be checked: {e}"))?
                }
            };
            if !same {
                problems.push(format!(
                    "n{}: the rolling run ended with {rolling}, the cluster that never upgrades (then transformed) with {reference}{}",
                    i + 1,
                    if last_plugin.is_some() { " (not related by the invariant)" } else { "" }
                ));
            }
        }
        if !problems.is_empty() {
            failures.push(Failure::new(
                "differential-state",
                problems.join("; ").chars().take(800).collect::<String>(),
            ));
        }
        Ok(failures)
    }
}

/// The sequential calls of version `version`'s client in a plan: (node index in upgrade order,
/// call), round-robin over the nodes.
fn sequential_calls(w: &Workload, version: u64, plan: &Plan) -> Vec<(usize, Call)> {
    w.calls(version)
        .iter()
        .skip(plan.skip)
        .take(plan.calls)
        .enumerate()
        .map(|(i, c)| (i % plan.nodes.max(1), c.clone()))
        .collect()
}

/// The calls a sequential client may have made once `steps_done` steps are done.
fn share(plan: &Plan, steps_done: usize) -> usize {
    let parts = plan.steps.len() + 1;
    plan.calls * (steps_done + 1) / parts
}

/// After the run: processes left behind and files a clean stop leaves no trace of.
fn orphans(dir: &Path) -> Vec<Failure> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut left = processes_under(dir);
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        left = processes_under(dir);
    }
    let mut problems: Vec<String> = left
        .iter()
        .map(|(pid, cmd)| format!("process {pid} still runs: {cmd}"))
        .collect();
    for (pid, _) in &left {
        signal(*pid, "KILL");
    }
    problems.extend(leftovers(dir));
    if problems.is_empty() {
        Vec::new()
    } else {
        vec![Failure::new("no-orphan", problems.join("; "))]
    }
}

/// A cluster running one plan.
struct Run<'a> {
    setup: &'a Setup,
    plan: &'a Plan,
    workload: Arc<Workload>,
    rt: tokio::runtime::Runtime,
    client: Client,
    server: Option<Server>,
    server_addr: SocketAddr,
    db: PathBuf,
    public: PathBuf,
    operator: PathBuf,
    /// By node rank (`n1` first): its spec and agent.
    specs: Vec<NodeSpec>,
    agents: Vec<Option<Agent>>,
    /// Armed kills: node rank -> point.
    armed: BTreeMap<usize, String>,
    bundles: Vec<(u64, u64, PathBuf)>,
    rollout: Option<u64>,
    stop: Arc<AtomicBool>,
    sequential: Vec<(u64, JoinHandle<Vec<Answered>>)>,
    concurrent: Vec<JoinHandle<(Calls, Vec<String>)>>,
    dir: PathBuf,
    /// Processes started so far (numbers their logs).
    starts: u32,
    /// Whether a fault hit the cluster since the last push: a node that failed its upgrade
    /// under it (a program killed during its health check is rolled back) pauses the
    /// rollout, and the runner resumes it as an operator would.
    faulted: bool,
    /// How many of its calls each sequential client may have made: the calls are spread over
    /// the steps, a share before the first and after each (so some happen mid-rollout).
    allowed: usize,
    gates: Vec<std::sync::mpsc::Sender<usize>>,
}

impl<'a> Run<'a> {
    fn start(
        setup: &'a Setup,
        plan: &'a Plan,
        dir: &Path,
        workload: Arc<Workload>,
    ) -> Result<Run<'a>, String> {
        let (key, public) = build::keygen(dir)?;
        let (operator, _) = build::keygen_named(dir, "operator.key")?;
        let mut bundles = Vec::new();
        for (i, s) in plan.steps.iter().enumerate() {
            if let Step::Hop { from, to } = s {
                let (spec, plugin) = setup.plugin(plan.batch, *from)?;
                let program = setup
                    .programs
                    .get(to)
                    .ok_or_else(|| format!("no `--program {to}=PATH`"))?;
                let out = dir.join(format!("{from}-{to}.bundle"));
                build::bundle(&plugin, program, &spec, &key, &out, i as u64 + 1)?;
                bundles.push((*from, *to, out));
            }
        }
        let first = plan.first_version();
        let program = setup
            .programs
            .get(&first)
            .ok_or_else(|| format!("no `--program {first}=PATH`"))?;
        let server_addr = Ports::new().take()?;
        let db = dir.join("upgrades.db");
        let server = Server::start(
            &setup.upstart,
            &db,
            &public,
            &operator,
            server_addr,
            Some(&dir.join("server.log")),
        )?;
        let client = Client::new(&server.url)
            .map_err(|e| e.to_string())?
            .with_key(
                runtime::bundle::keys::read_signing_key(&operator).map_err(|e| e.to_string())?,
            );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?;
        let mut specs = node_specs(dir, plan.nodes, &setup.chain())?;
        for s in &mut specs {
            s.system = setup.system.clone();
            s.version = first;
            s.extra = QUICK.map(String::from).to_vec();
            if let Some(p) = &setup.preload {
                s.extra.push("--preload".into());
                s.extra.push(p.display().to_string());
            }
        }
        let mut agents = Vec::new();
        for s in &specs {
            let log = s.dir.with_extension("log");
            agents.push(Some(Agent::start(
                &setup.upstart,
                &server,
                &public,
                program,
                s,
                Some(&log),
            )?));
        }
        let mut run = Run {
            setup,
            plan,
            workload,
            rt,
            client,
            server: Some(server),
            server_addr,
            db,
            public,
            operator,
            specs,
            agents,
            armed: BTreeMap::new(),
            bundles,
            rollout: None,
            stop: Arc::new(AtomicBool::new(false)),
            sequential: Vec::new(),
            concurrent: Vec::new(),
            dir: dir.to_path_buf(),
            starts: 0,
            faulted: false,
            allowed: share(plan, 0),
            gates: Vec::new(),
        };
        run.start_clients(first);
        Ok(run)
    }

    /// Starts the clients of version `v`, if the plan has any.
    fn start_clients(&mut self, v: u64) {
        for &v in self.plan.clients.iter().filter(|&&c| c == v) {
            let targets: Vec<SocketAddr> = self
                .agents
                .iter()
                .flatten()
                .filter_map(|a| a.port(v))
                .collect();
            let calls = sequential_calls(&self.workload, v, self.plan);
            let (open, gate) = std::sync::mpsc::channel();
            let _ = open.send(self.allowed);
            self.gates.push(open);
            self.sequential.push((
                v,
                std::thread::spawn(move || {
                    // Calls up to the allowance so far; all of them once the gate closes.
                    let mut allowed = 0;
                    let mut made_all = Vec::new();
                    for (i, (node, call)) in calls.into_iter().enumerate() {
                        while i >= allowed {
                            match gate.recv() {
                                Ok(n) => allowed = n,
                                Err(_) => allowed = usize::MAX,
                            }
                        }
                        let Some(&addr) = targets.get(node) else {
                            continue;
                        };
                        let made = make(addr, &call, i as u64 + 1, CALL_TIMEOUT);
                        std::thread::sleep(SEQUENTIAL_PAUSE);
                        made_all.push((node, call, made));
                    }
                    made_all
                }),
            ));
            for addr in self.agents.iter().flatten().filter_map(|a| a.port(v)) {
                for c in 0..self.plan.concurrent {
                    let calls: Vec<Call> = self.workload.calls(v).to_vec();
                    let stop = self.stop.clone();
                    self.concurrent.push(std::thread::spawn(move || {
                        let mut counts = Calls::default();
                        let mut problems = Vec::new();
                        let mut i = c * 7;
                        while !stop.load(Ordering::Relaxed) && !calls.is_empty() {
                            let Some(call) = calls.get(i % calls.len()) else {
                                break;
                            };
                            let made = make(addr, call, i as u64 + 1, CALL_TIMEOUT);
                            if let Answer::Failed(e) = &made.answer {
                                problems.push(format!(
                                    "`{}` {} at {addr}: {e}",
                                    call.method, call.params
                                ));
                            }
                            counts.add(&made);
                            i += 1;
                            std::thread::sleep(Duration::from_millis(10));
                        }
                        (counts, problems)
                    }));
                }
            }
        }
    }

    /// Node rank of plan node `index`.
    fn rank(&self, index: usize) -> usize {
        self.plan
            .order
            .iter()
            .position(|&n| n == index)
            .unwrap_or(index)
    }

    fn status(&self) -> Result<Status, String> {
        self.rt
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(5), self.client.status()).await
            })
            .map_err(|_| "the upgrade server did not answer within 5 s".to_string())?
            .map_err(|e| e.to_string())
    }

    /// Runs the steps; the failures of the `rollout` oracle.
    fn steps(&mut self, progress: &mut dyn FnMut(usize, &str)) -> Vec<Failure> {
        let mut hop = 0;
        for (i, s) in self.plan.steps.iter().enumerate() {
            progress(i + 1, &self.plan.describe(s));
            let result = match s {
                Step::Hop { .. } => {
                    let r = self.push(hop);
                    hop += 1;
                    r
                }
                Step::KillAgentAt { node, point } => self.arm(self.rank(*node), point),
                Step::CrashProgram { node } => {
                    self.crash_program(self.rank(*node));
                    Ok(())
                }
                Step::ServerDown { ms } => self.server_down(Duration::from_millis(*ms)),
                Step::Pause => self.control(Control::Pause),
                Step::Resume => self.control(Control::Resume),
                Step::Wait { ms } => {
                    self.watch_for(Duration::from_millis(*ms));
                    Ok(())
                }
                Step::AwaitRollout => self.await_rollout(RolloutState::Done),
                Step::Rollback => self
                    .control(Control::Rollback)
                    .and_then(|()| self.await_rollout(RolloutState::RolledBack)),
            };
            self.allowed = share(self.plan, i + 1);
            for g in &self.gates {
                let _ = g.send(self.allowed);
            }
            if let Err(e) = result {
                return vec![Failure::new(
                    "rollout",
                    format!("step {} ({}): {e}", i + 1, self.plan.describe(s)),
                )];
            }
        }
        Vec::new()
    }

    fn push(&mut self, hop: usize) -> Result<(), String> {
        let (_, _, path) = self
            .bundles
            .get(hop)
            .ok_or("no bundle for the hop")?
            .clone();
        let bytes =
            std::fs::read(&path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        let rollout = self.rt.block_on(async {
            let info = self
                .client
                .push(bytes, false)
                .await
                .map_err(|e| e.to_string())?;
            self.client
                .start_rollout(&info.id, None)
                .await
                .map_err(|e| e.to_string())
        })?;
        self.rollout = Some(rollout.id);
        self.faulted = false;
        // Clients of the new version come once every node bridges it (has its rules).
        let to = self.bundles.get(hop).map_or(0, |b| b.1);
        if self.plan.clients.contains(&to) {
            self.await_rules(to)?;
            self.start_clients(to);
        }
        Ok(())
    }

    /// Waits until every agent said it has rules bridging `version` (`rules 1,2`).
    fn await_rules(&mut self, version: u64) -> Result<(), String> {
        let deadline = Instant::now() + self.setup.rollout_timeout;
        let has = |l: &String| {
            l.strip_prefix("rules ")
                .is_some_and(|r| r.split(',').any(|v| v.trim().parse() == Ok(version)))
        };
        loop {
            self.check_armed()?;
            let all = self
                .agents
                .iter_mut()
                .all(|a| a.as_mut().is_some_and(|a| a.lines().iter().any(has)));
            if all {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "not every node had the rules of version {version} within {} s",
                    self.setup.rollout_timeout.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn control(&mut self, what: Control) -> Result<(), String> {
        let id = self.rollout;
        // A connection kept alive to a server that was killed fails once: ask again.
        let mut tries = 0;
        loop {
            match self.rt.block_on(self.client.control(id, what)) {
                Ok(_) => return Ok(()),
                // A pause or resume that comes after the rollout ended (it raced the plan's
                // waits) changes nothing: not a failure.
                Err(runtime::client::ClientError::Server { status: 409, .. })
                    if matches!(what, Control::Pause | Control::Resume) =>
                {
                    return Ok(())
                }
                Err(e) if tries >= 3 => return Err(e.to_string()),
                Err(_) => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        }
    }

    /// Restarts node `rank`'s agent with `--stop-at point`.
    fn arm(&mut self, rank: usize, point: &str) -> Result<(), String> {
        let spec = self.specs.get(rank).ok_or("no such node")?.clone();
        if let Some(slot) = self.agents.get_mut(rank) {
            drop(slot.take());
        }
        let mut armed = spec.clone();
        armed
            .extra
            .extend(["--stop-at".to_string(), point.to_string()]);
        self.start_agent(rank, &armed)?;
        self.armed.insert(rank, point.to_string());
        Ok(())
    }

    fn start_agent(&mut self, rank: usize, spec: &NodeSpec) -> Result<(), String> {
        let server = self.server.as_ref().ok_or("the server is down")?;
        let first = self.plan.first_version();
        let program = self.setup.programs.get(&first).ok_or("no first program")?;
        self.starts += 1;
        let log = spec.dir.with_extension(format!("{}.log", self.starts));
        let agent = Agent::start(
            &self.setup.upstart,
            server,
            &self.public,
            program,
            spec,
            Some(&log),
        )?;
        if let Some(slot) = self.agents.get_mut(rank) {
            *slot = Some(agent);
        }
        Ok(())
    }

    /// Kills armed agents that reached their point and starts them again without the stop.
    fn check_armed(&mut self) -> Result<(), String> {
        // A killed agent is started again and enrolled: wait for the server to be back.
        if self.server.is_none() {
            return Ok(());
        }
        let reached: Vec<usize> = self.armed.keys().copied().collect();
        for rank in reached {
            let point = self.armed.get(&rank).cloned().unwrap_or_default();
            let hit = match self.agents.get_mut(rank).and_then(Option::as_mut) {
                Some(a) => a.lines().iter().any(|l| l == &format!("reached {point}")),
                None => false,
            };
            if hit {
                if let Some(a) = self.agents.get_mut(rank).and_then(Option::as_mut) {
                    a.crash();
                }
                if let Some(slot) = self.agents.get_mut(rank) {
                    drop(slot.take());
                }
                self.armed.remove(&rank);
                self.faulted = true;
                let spec = self.specs.get(rank).ok_or("no such node")?.clone();
                self.start_agent(rank, &spec)?;
            }
        }
        Ok(())
    }

    fn crash_program(&mut self, rank: usize) {
        if let Some(a) = self.agents.get_mut(rank).and_then(Option::as_mut) {
            let pid = a
                .lines()
                .iter()
                .filter_map(|l| l.strip_prefix("program "))
                .filter_map(|r| r.split_whitespace().next()?.parse::<u32>().ok())
                .next_back();
            if let Some(pid) = pid {
                signal(pid, "KILL");
                self.faulted = true;
            }
        }
    }

    fn server_down(&mut self, down: Duration) -> Result<(), String> {
        if let Some(mut s) = self.server.take() {
            s.proc.kill();
        }
        self.faulted = true;
        self.watch_for(down);
        self.starts += 1;
        let log = self.dir.join(format!("server.{}.log", self.starts));
        let server = Server::start(
            &self.setup.upstart,
            &self.db,
            &self.public,
            &self.operator,
            self.server_addr,
            Some(&log),
        )?;
        self.server = Some(server);
        Ok(())
    }

    /// Lets `time` pass, killing armed agents as they reach their points.
    fn watch_for(&mut self, time: Duration) {
        let deadline = Instant::now() + time;
        loop {
            let _ = self.check_armed();
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
    }

    /// The version of the program each agent runs, by rank (from its last `program PID ADDR
    /// version V` line).
    fn program_versions(&mut self) -> Vec<Option<u64>> {
        self.agents
            .iter_mut()
            .map(|a| {
                a.as_mut().and_then(|a| {
                    a.lines()
                        .iter()
                        .filter(|l| l.starts_with("program "))
                        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
                        .next_back()
                })
            })
            .collect()
    }

    /// Waits until the current rollout is in state `want` (and, for a rollback, every node is
    /// back and healthy).
    fn await_rollout(&mut self, want: RolloutState) -> Result<(), String> {
        let id = self.rollout.ok_or("no rollout was started")?;
        let deadline = Instant::now() + self.setup.rollout_timeout;
        let mut last = String::new();
        let mut resumed = 0;
        loop {
            self.check_armed()?;
            if let Ok(s) = self.status() {
                let r = s.rollouts.iter().find(|r| r.id == id);
                let state = r.map(|r| r.state);
                last = r
                    .map(|r| format!("{:?}: {}", r.state, r.reason))
                    .unwrap_or_default();
                let settled = s
                    .nodes
                    .iter()
                    .all(|n| !n.phase.is_in_progress() && n.healthy);
                // The programs that run, as their agents started them, must be of the
                // version the rollout ends at (the server's record may say so earlier).
                let target = match (want, r) {
                    (RolloutState::RolledBack, Some(r)) => Some(r.from),
                    (_, Some(r)) => Some(r.to),
                    _ => None,
                };
                let back = target.is_some_and(|v| {
                    s.nodes.iter().all(|n| n.version == v)
                        && self.program_versions().iter().all(|p| *p == Some(v))
                });
                if state == Some(want) && settled && back {
                    return Ok(());
                }
                if want == RolloutState::Done && state == Some(RolloutState::Paused) {
                    if !self.faulted || resumed >= MAX_RESUMES {
                        return Err(format!("the rollout paused itself: {last}"));
                    }
                    // A fault made a node fail: `upstart resume` retries it.
                    resumed += 1;
                    self.control(Control::Resume)?;
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the rollout was not {want:?} within {} s (last: {last})",
                    self.setup.rollout_timeout.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits for the sequential clients, stops the concurrent ones: counts, the first
    /// version's sequential answers, and the `no-failed-call` failures.
    fn finish_clients(&mut self) -> (Calls, Vec<Answered>, Vec<Failure>) {
        // Closing the gates lets every sequential client make the rest of its calls.
        self.gates.clear();
        let mut calls = Calls::default();
        let mut problems = Vec::new();
        let mut first_answers = Vec::new();
        let first = self.plan.first_version();
        for (v, h) in self.sequential.drain(..) {
            let answers = h.join().unwrap_or_default();
            for (node, call, made) in &answers {
                calls.add(made);
                if let Answer::Failed(e) = &made.answer {
                    problems.push(format!(
                        "version-{v} `{}` {} on n{}: {e}",
                        call.method,
                        call.params,
                        node + 1
                    ));
                }
            }
            if v == first {
                first_answers = answers;
            }
        }
        self.stop.store(true, Ordering::Relaxed);
        for h in self.concurrent.drain(..) {
            if let Ok((c, p)) = h.join() {
                calls.merge(&c);
                problems.extend(p);
            }
        }
        let failures = if problems.is_empty() {
            Vec::new()
        } else {
            vec![Failure::new(
                "no-failed-call",
                format!(
                    "{} calls failed; first: {}",
                    problems.len(),
                    problems
                        .iter()
                        .take(3)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            )]
        };
        (calls, first_answers, failures)
    }

    /// The `final-version` oracle.
    fn final_version(&mut self) -> Option<Failure> {
        let want = self.plan.final_version()?;
        let status = self.status().ok()?;
        let mut wrong: Vec<String> = status
            .nodes
            .iter()
            .filter(|n| n.version != want || n.phase.is_in_progress())
            .map(|n| format!("{} at version {} ({:?})", n.id, n.version, n.phase))
            .collect();
        for (rank, v) in self.program_versions().into_iter().enumerate() {
            if v != Some(want) {
                wrong.push(format!("n{} runs a program of version {v:?}", rank + 1));
            }
        }
        (!wrong.is_empty() || status.nodes.len() != self.plan.nodes).then(|| {
            Failure::new(
                "final-version",
                format!(
                    "want every node of {} at version {want}: {}",
                    self.plan.nodes,
                    wrong.join(", ")
                ),
            )
        })
    }

    /// Stops the cluster; every node's final state (JSON, `null` when unreadable), by rank.
    fn stop(mut self) -> Vec<Value> {
        for a in self.agents.iter_mut() {
            drop(a.take());
        }
        drop(self.server.take());
        self.specs
            .iter()
            .map(|s| {
                std::fs::read(s.state())
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .unwrap_or(Value::Null)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn spec_headers_and_schedules_are_rewritten() {
        let text =
            "// kv\nupgrade kv 2 -> 3\n\nversion 2 {}\n\nschedule {\n  canary: 1 then pause\n}\n";
        assert_eq!(spec_versions(text), Some(("kv".into(), 2, 3)));
        let s = with_schedule(text, 2, "1s").unwrap();
        assert!(
            s.contains("rolling { batch: 2, max_unavailable: 2 }"),
            "{s}"
        );
        assert!(!s.contains("canary"), "{s}");
        assert!(s.starts_with("// kv\nupgrade kv 2 -> 3"), "{s}");
        assert!(with_schedule("upgrade kv 1 -> 2\n", 1, "1s").is_err());
        assert_eq!(spec_versions("upgrade kv one -> 2"), None);
    }
}
