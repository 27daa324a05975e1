//! A cluster running one plan: the server and agents it starts, the bundles it pushes, the
//! plan's steps and faults, the clients calling meanwhile, and the stop that ends it all.

use super::net_faults;
use super::{
    sequential_calls, Answered, Calls, Setup, CALL_TIMEOUT, MAX_RESUMES, QUICK, SEQUENTIAL_PAUSE,
};
use crate::demo::build;
use crate::demo::cluster::{node_specs, signal, Agent, Launch, NodeSpec, Ports, Server};
use crate::tester::oracle::Failure;
use crate::tester::plan::{Plan, Step};
use crate::tester::workload::{make, Answer, Call, Workload};
use runtime::api::{RolloutState, Status};
use runtime::bundle::{BuildInput, ProgramSpec};
use runtime::client::{Client, Control};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The calls a sequential client may have made once `steps_done` steps are done.
fn share(plan: &Plan, steps_done: usize) -> usize {
    let parts = plan.steps.len() + 1;
    plan.calls * (steps_done + 1) / parts
}

/// A cluster running one plan.
pub(super) struct Run<'a> {
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
    /// The rollout the plan acts on (the newest pushed, then the one a rollback undoes).
    rollout: Option<u64>,
    /// The rollouts of the hops made and not rolled back, oldest first.
    applied: Vec<u64>,
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
    /// Bursts of idle connections under way.
    bursts: Vec<JoinHandle<usize>>,
}

impl<'a> Run<'a> {
    pub(super) fn start(
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
                let input = BuildInput {
                    plugin,
                    binary: program.clone(),
                    spec,
                    release: i as u64 + 1,
                    program: ProgramSpec::default(),
                };
                build::bundle(&input, &key, &out)?;
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
            // Only a plan that delays or cuts routes runs its shims with the fault hook on.
            if plan.steps.iter().any(Step::is_route_fault) {
                s.extra.push(net_faults::FLAG.into());
                let (k, v) = net_faults::ENV;
                s.env.push((k.into(), v.into()));
            }
        }
        let launch = Launch {
            upstart: &setup.upstart,
            trust: &public,
            binary: program,
        };
        let mut agents = Vec::new();
        for s in &specs {
            let log = s.dir.with_extension("log");
            agents.push(Some(Agent::start(&launch, &server, s, Some(&log))?));
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
            applied: Vec::new(),
            stop: Arc::new(AtomicBool::new(false)),
            sequential: Vec::new(),
            concurrent: Vec::new(),
            dir: dir.to_path_buf(),
            starts: 0,
            faulted: false,
            allowed: share(plan, 0),
            gates: Vec::new(),
            bursts: Vec::new(),
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
    pub(super) fn steps(&mut self, progress: &mut dyn FnMut(usize, &str)) -> Vec<Failure> {
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
                Step::Rollback => self.roll_back(),
                Step::DelayRoute {
                    node,
                    peer,
                    delay_ms,
                    ms,
                } => self.route_fault(*node, *peer, &format!("delay {delay_ms} {ms}")),
                Step::CutRoute { node, peer, ms } => {
                    self.route_fault(*node, *peer, &format!("cut {ms}"))
                }
                Step::IdleBurst {
                    node,
                    connections,
                    ms,
                } => {
                    self.idle_burst(*node, *connections, Duration::from_millis(*ms));
                    Ok(())
                }
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
        self.applied.push(rollout.id);
        self.faulted = false;
        // Clients of the new version come once every node bridges it (has its rules).
        let to = self.bundles.get(hop).map_or(0, |b| b.1);
        if self.plan.clients.contains(&to) {
            self.await_rules(to)?;
            self.start_clients(to);
        }
        Ok(())
    }

    /// `upstart rollback` of the newest hop not rolled back yet, and waits until every node is
    /// back at its `from`.
    fn roll_back(&mut self) -> Result<(), String> {
        self.rollout = Some(self.applied.pop().ok_or("no hop left to roll back")?);
        self.control(Control::Rollback)?;
        self.await_rollout(RolloutState::RolledBack)
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
        let launch = Launch {
            upstart: &self.setup.upstart,
            trust: &self.public,
            binary: program,
        };
        let agent = Agent::start(&launch, server, spec, Some(&log))?;
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

    /// Sends `what` (`cut MS`, `delay DELAY_MS MS`) about plan node `node`'s route to plan
    /// node `peer` to `node`'s shim; the fault runs on while the plan goes on.
    fn route_fault(&mut self, node: usize, peer: usize, what: &str) -> Result<(), String> {
        let (from, to) = (self.rank(node), self.rank(peer));
        let socket = self
            .specs
            .get(from)
            .ok_or("no such node")?
            .data()
            .fault_socket();
        let remote = self.specs.get(to).ok_or("no such node")?.main;
        let (verb, numbers) = what.split_once(' ').unwrap_or((what, ""));
        net_faults::command(&socket, &format!("{verb} {remote} {numbers}"))?;
        self.faulted = true;
        Ok(())
    }

    /// Opens `connections` idle connections to plan node `node`'s main client port for `hold`,
    /// while the plan goes on.
    fn idle_burst(&mut self, node: usize, connections: usize, hold: Duration) {
        if let Some(spec) = self.specs.get(self.rank(node)) {
            self.bursts
                .push(net_faults::idle_burst(spec.main, connections, hold));
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

    /// Each node's port pinned to `version`, by rank.
    pub(super) fn ports(&self, version: u64) -> Vec<Option<SocketAddr>> {
        self.agents
            .iter()
            .map(|a| a.as_ref().and_then(|a| a.port(version)))
            .collect()
    }

    /// Waits for the sequential clients, stops the concurrent ones: counts, the first
    /// version's sequential answers (the only client's when there is one), and the
    /// `no-failed-call` failures.
    pub(super) fn finish_clients(&mut self) -> (Calls, Vec<Answered>, Vec<Failure>) {
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
            if v == first || self.plan.clients == [v] {
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
    pub(super) fn final_version(&mut self) -> Option<Failure> {
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
    pub(super) fn stop(mut self) -> Vec<Value> {
        for b in self.bursts.drain(..) {
            let _ = b.join();
        }
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
