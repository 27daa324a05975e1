//! Running one plan: a fresh upgrade server and `upstart node` agents on loopback (the
//! demo's [`crate::demo::cluster`]), the bundles of the plan's hops signed with a fresh key,
//! clients making the workload's calls while the plan's steps and faults happen, then the
//! oracles ([`super::oracle`]). Every process of a run lives under the run's directory and is
//! stopped when the run ends.
//!
//! - `spec_text`: reading a spec's `upgrade` line and rewriting its schedule;
//! - `run`: the cluster of one plan, its steps, faults and clients;
//! - `differential`: the differential oracle, the same calls on a cluster that never upgrades;
//! - `net_faults`: peer routes delayed and cut through the shims' test hook, idle bursts;
//! - `models`: the oracles of the spec's method models (answers, and writes read back on every
//!   node).

mod differential;
mod models;
pub mod net_faults;
mod run;
mod spec_text;

pub use spec_text::{spec_versions, with_schedule};

use super::oracle::{leftovers, processes_under, Failure};
use super::plan::Plan;
use super::workload::{Answer, Call, Made, Workload};
use crate::demo::build::{self, Tools};
use crate::demo::cluster::signal;
use run::Run;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
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

/// The calls whose answer disagrees with the expected one, by number: `call 3 \`put\` [..] on
/// n2` followed by what `disagree` says of its answer (given when the call was answered) and
/// the expected one, or nothing when they agree.
fn disagreeing<'a, W>(
    answered: impl IntoIterator<Item = &'a Answered>,
    expected: &[W],
    disagree: impl Fn(&serde_json::Value, &W) -> Option<String>,
) -> Vec<String> {
    answered
        .into_iter()
        .zip(expected)
        .enumerate()
        .filter_map(|(i, ((node, call, made), want))| {
            let Answer::Ok(got) = &made.answer else {
                return None;
            };
            let words = disagree(got, want)?;
            Some(format!(
                "call {} `{}` {} on n{}{words}",
                i + 1,
                call.method,
                call.params,
                node + 1
            ))
        })
        .collect()
}

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
    /// Methods that write the node they are called on alone (`--local-method`).
    pub local: Vec<String>,
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
    /// Whether the model oracles (`model-answers`, `writes-readable`) applied (one sequential
    /// client alone).
    pub models: bool,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
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
            local: Vec::new(),
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
        // A fresh directory: a work directory given again keeps the runs of earlier
        // invocations (their servers' databases and keys must not be taken over).
        let dir = {
            let mut runs = self
                .runs
                .lock()
                .map_err(|_| "the run counter is poisoned")?;
            loop {
                *runs += 1;
                let dir = self.work.join(format!("run-{}-plan-{}", *runs, plan.seed));
                if !dir.exists() {
                    break dir;
                }
            }
        };
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
                    models: false,
                });
            }
        };
        let mut failures = run.steps(progress);
        let steps_done = failures.is_empty();
        let (calls, answers, mut call_failures) = run.finish_clients();
        failures.append(&mut call_failures);
        failures.extend(run.final_version());
        // The reads go to the cluster before it stops; their failures are reported after the
        // differential's, which name the planted bugs the harness was first built for.
        let models = steps_done && models::apply_to(plan);
        let mut model_failures = Vec::new();
        if models {
            progress(
                plan.steps.len() + 1,
                "models: the answers, then every written key read back on every node",
            );
            let version = plan.clients.first().copied().unwrap_or(1);
            model_failures =
                self.model_oracles(version, &workload, &answers, &run.ports(version))?;
        }
        let rolling = run.stop();
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
        failures.append(&mut model_failures);
        // After the differential's reference cluster stopped too.
        failures.extend(orphans(&dir));
        Ok(Outcome {
            failures,
            calls,
            seconds: started.elapsed().as_secs_f64(),
            dir,
            differential,
            models,
        })
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
