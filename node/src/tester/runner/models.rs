//! The oracles that read the spec's method models (`upstartc replay`, the compiler's
//! evaluator; `node` never links the compiler):
//!
//! - `model-answers`: every answer of the plan's sequential client agrees with the model of the
//!   client's version, replayed from the empty state over the calls the cluster accepted;
//! - `writes-readable`: at the end, before the cluster stops, every read-only method of the
//!   client's version, asked on every node with every argument list of the workload (every key
//!   it may have written), answers what the model answers on the state the acknowledged
//!   writes left there.
//!
//! The replay keeps a model state per node: an acknowledged write reaches every node, but for
//! the methods `--local-method` names (peer-only methods such as the kv example's
//! `replicate`, which write the called node alone) — the spec does not say which methods a
//! program replicates.
//!
//! Both apply when the plan's only client is one sequential client (no concurrent client, no
//! client of another version): its calls are then the only writes, in a known order. Under
//! concurrency the order of the writes of different clients is not known, so neither the
//! answers nor the final reads have one expected value.

use super::{disagreeing, Answered, Setup, CALL_TIMEOUT};
use crate::tester::oracle::{agrees, Failure};
use crate::tester::plan::Plan;
use crate::tester::workload::{make, printed, Answer, Call, Workload};
use serde::Deserialize;
use serde_json::{json, Value};
use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Stdio};

/// What `upstartc replay` prints.
#[derive(Debug, Clone, Deserialize)]
pub struct Replay {
    pub answers: Vec<Value>,
    pub stopped: Option<String>,
    /// By node rank.
    pub reads: Vec<Vec<Read>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Read {
    pub method: String,
    pub params: Value,
    pub answer: Value,
}

/// Whether the model oracles apply to `plan`: one sequential client alone.
pub fn apply_to(plan: &Plan) -> bool {
    plan.clients.len() == 1 && plan.concurrent == 0 && plan.calls > 0
}

impl Setup {
    /// `upstartc replay`: `calls` (node rank, call) of a version-`version` client on `nodes`
    /// nodes against its models, and the read-only `probes` on each node's final state.
    pub(super) fn replay(
        &self,
        version: u64,
        nodes: usize,
        calls: &[(usize, Call)],
        probes: &[Call],
    ) -> Result<Replay, String> {
        let mut child = Command::new(&self.tools.upstartc)
            .arg("replay")
            .args(self.hops.iter().map(|h| &h.spec))
            .args(["--version", &version.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run `{}`: {e}", self.tools.upstartc.display()))?;
        let calls: Vec<Value> = calls
            .iter()
            .map(|(node, c)| json!({"node": node, "method": c.method, "params": c.params}))
            .collect();
        let input = json!({"nodes": nodes, "local": self.local, "calls": calls, "probes": probes})
            .to_string();
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(input.as_bytes())
                .map_err(|e| format!("cannot write to `upstartc replay`: {e}"))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("`upstartc replay` did not finish: {e}"))?;
        printed("replay", &out)
    }

    /// The model oracles of a run whose only client is the sequential one of `version`, while
    /// its cluster still serves: `ports` are the nodes' ports pinned to `version`, by rank.
    /// `None` when a call failed (the state it left is unknown; `no-failed-call` says so).
    pub(super) fn model_oracles(
        &self,
        version: u64,
        workload: &Workload,
        answers: &[Answered],
        ports: &[Option<SocketAddr>],
    ) -> Result<Vec<Failure>, String> {
        if answers
            .iter()
            .any(|(_, _, m)| matches!(m.answer, Answer::Failed(_)))
        {
            return Ok(Vec::new());
        }
        // A declared `disallow` refused the call: it left the state as it was.
        let accepted: Vec<&Answered> = answers
            .iter()
            .filter(|(_, _, m)| matches!(m.answer, Answer::Ok(_)))
            .collect();
        let calls: Vec<(usize, Call)> = accepted.iter().map(|(n, c, _)| (*n, c.clone())).collect();
        let replay = self.replay(version, ports.len(), &calls, workload.calls(version))?;
        let differ = disagreeing(accepted.iter().copied(), &replay.answers, |got, want| {
            (!agrees(want, got))
                .then(|| format!(" answered {got}, the model of version {version} {want}"))
        });
        let mut failures: Vec<Failure> = Failure::when_found("model-answers", &differ, |n| {
            format!(
                "{n} of {} answers disagree with the model",
                replay.answers.len()
            )
        })
        .into_iter()
        .collect();
        if replay.stopped.is_some() {
            return Ok(failures);
        }
        let mut unread = Vec::new();
        for (rank, port) in ports.iter().enumerate() {
            let Some(addr) = port else {
                unread.push(format!("n{} serves no version-{version} port", rank + 1));
                continue;
            };
            let reads = replay.reads.get(rank).map_or(&[][..], Vec::as_slice);
            for (k, r) in reads.iter().enumerate() {
                let call = Call {
                    method: r.method.clone(),
                    params: r.params.clone(),
                };
                let made = make(*addr, &call, 1_000_000 + k as u64, CALL_TIMEOUT);
                let wrong = match &made.answer {
                    Answer::Ok(got) if agrees(&r.answer, got) => continue,
                    Answer::Ok(got) => format!("answered {got}"),
                    Answer::Disallowed(e) | Answer::Failed(e) => format!("failed: {e}"),
                };
                unread.push(format!(
                    "n{}: `{}` {} {wrong}, the model after the acknowledged writes {}",
                    rank + 1,
                    r.method,
                    r.params,
                    r.answer
                ));
            }
        }
        failures.extend(Failure::when_found("writes-readable", &unread, |n| {
            format!(
                "{n} reads on {} nodes disagree with the acknowledged writes",
                ports.len()
            )
        }));
        Ok(failures)
    }
}
