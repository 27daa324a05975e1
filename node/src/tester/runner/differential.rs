//! The differential oracle: the first version's sequential calls of a plan on plain programs
//! that never upgrade, compared with the rolling run's answers and states.

use super::{disagreeing, sequential_calls, Setup, CALL_TIMEOUT};
use crate::demo::cluster::{Ports, Proc};
use crate::tester::oracle::{normalize, Failure};
use crate::tester::plan::Plan;
use crate::tester::workload::{make, Answer, Call, Made, Workload};
use runtime::plugin::{Expect, Plugin};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

impl Setup {
    /// The differential oracle: the first version's sequential calls on plain programs of the
    /// first version (no agent, no upgrade), their answers and their transformed states against
    /// the rolling run's.
    pub(super) fn differential(
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
        let differ = disagreeing(rolling_answers, &answers, |a, want| match &want.answer {
            Answer::Ok(b) if normalize(a) != normalize(b) => Some(format!(
                ": rolling run answered {a}, the cluster that never upgrades {b}"
            )),
            _ => None,
        });
        let mut failures: Vec<Failure> =
            Failure::when_found("differential-answers", &differ, |n| {
                format!("{n} of {} answers differ", answers.len())
            })
            .into_iter()
            .collect();
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
