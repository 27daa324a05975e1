//! `upstartc replay`: a client's calls replayed against the method models of its version, for
//! `upstart test`'s model oracles. Each node of the cluster has a model state, the version's
//! empty state at first; a call's model, on the state of the node it was made on, gives the
//! answer the spec promises. A write reaches every node (the programs replicate it before they
//! answer), so every node's state takes it, except the calls of the methods named local (a
//! peer-only method like the kv example's `replicate`), which change the called node's state
//! alone. At the end, the version's read-only methods (a model that assigns nothing) are asked
//! on each node's final state with every distinct argument list the caller gives: what
//! reading every written key back on every node must answer.
//!
//! A call the models cannot follow — a method without a model, or a model that fails (an
//! overflow) — ends the replay there: the state after it is unknown, so neither the later
//! answers nor the reads are given.

use crate::eval::json::from_json;
use crate::eval::{Evaluator, Value};
use crate::model::{MethodDef, SpecModel, Ty, VersionEnv};
use crate::workload::Call;
use serde::{Deserialize, Serialize};

/// A call made on node `node` (an index).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeCall {
    #[serde(default)]
    pub node: usize,
    #[serde(flatten)]
    pub call: Call,
}

/// The replay of one client's calls against its version's models.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Replay {
    pub version: u64,
    /// One answer per call, in order, for the calls the models followed: fewer than the calls
    /// when `stopped` says why the rest are unknown.
    pub answers: Vec<serde_json::Value>,
    pub stopped: Option<String>,
    /// By node: the read-only calls asked on its final state (none when the replay stopped).
    pub reads: Vec<Vec<Read>>,
}

/// Why a replay did not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// No spec of the chain has the client's version.
    #[error("no spec of the chain has version {0}")]
    NoVersion(u64),
    /// The client's version declares no state for its models to run on.
    #[error("version {0} declares no state")]
    NoState(u64),
}

/// A read-only call and the model's answer on the final state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Read {
    pub method: String,
    pub params: serde_json::Value,
    pub answer: serde_json::Value,
}

/// Replays `calls` of a version-`version` client on a cluster of `nodes` nodes against the
/// models of `models` (a checked chain), from the version's empty state; the calls of `local`
/// methods change their node's state alone. Then asks the distinct read-only calls among
/// `probes` on every node's final state.
pub fn replay(
    models: &[SpecModel],
    version: u64,
    nodes: usize,
    local: &[String],
    calls: &[NodeCall],
    probes: &[Call],
) -> Result<Replay, ReplayError> {
    let (model, env) = models
        .iter()
        .find_map(|m| {
            [&m.old, &m.new]
                .into_iter()
                .find(|e| e.number == version)
                .map(|e| (m, e))
        })
        .ok_or(ReplayError::NoVersion(version))?;
    if env.state.is_none() {
        return Err(ReplayError::NoState(version));
    }
    let eval = Evaluator::for_model(model);
    let empty = crate::verify::minimal(&Ty::State(version), model);
    let mut states = vec![empty; nodes.max(1)];
    let mut answers = Vec::new();
    let mut stopped = None;
    'calls: for (i, c) in calls.iter().enumerate() {
        let Some(here) = states.get(c.node) else {
            stopped = Some(format!("call {}: no node {}", i + 1, c.node));
            break;
        };
        let answer = match apply(&eval, model, env, &c.call, here) {
            Ok((answer, _)) => answer,
            Err(why) => {
                stopped = Some(format!("call {} `{}`: {why}", i + 1, c.call.method));
                break;
            }
        };
        let everywhere = !local.contains(&c.call.method);
        for (k, state) in states.iter_mut().enumerate() {
            if k != c.node && !everywhere {
                continue;
            }
            match apply(&eval, model, env, &c.call, state) {
                Ok((_, next)) => *state = next,
                Err(why) => {
                    stopped = Some(format!(
                        "call {} `{}` on node {}: {why}",
                        i + 1,
                        c.call.method,
                        k + 1
                    ));
                    break 'calls;
                }
            }
        }
        answers.push(answer.to_json());
    }
    let mut reads = Vec::new();
    if stopped.is_none() {
        for state in &states {
            reads.push(read_back(&eval, model, env, probes, state));
        }
    }
    Ok(Replay {
        version,
        answers,
        stopped,
        reads,
    })
}

/// The distinct read-only calls among `probes`, answered on `state`.
fn read_back(
    eval: &Evaluator<'_>,
    model: &SpecModel,
    env: &VersionEnv,
    probes: &[Call],
    state: &Value,
) -> Vec<Read> {
    let mut reads: Vec<Read> = Vec::new();
    for p in probes {
        let read_only = method(env, &p.method)
            .and_then(|m| m.model.as_ref())
            .is_some_and(|m| {
                !m.stmts
                    .iter()
                    .any(|s| matches!(s, lang::ast::ModelStmt::Assign { .. }))
            });
        if !read_only
            || reads
                .iter()
                .any(|r| r.method == p.method && r.params == p.params)
        {
            continue;
        }
        if let Ok((answer, _)) = apply(eval, model, env, p, state) {
            reads.push(Read {
                method: p.method.clone(),
                params: p.params.clone(),
                answer: answer.to_json(),
            });
        }
    }
    reads
}

fn method<'e>(env: &'e VersionEnv, name: &str) -> Option<&'e MethodDef> {
    env.services
        .values()
        .flat_map(|s| s.methods.iter())
        .find(|m| m.name.name == name)
}

/// One call's model: its answer and the state after it.
fn apply(
    eval: &Evaluator<'_>,
    model: &SpecModel,
    env: &VersionEnv,
    call: &Call,
    state: &Value,
) -> Result<(Value, Value), String> {
    let m = method(env, &call.method).ok_or("no such method")?;
    if m.model.is_none() {
        return Err("the method has no model".into());
    }
    let args = m
        .params
        .iter()
        .map(|p| {
            let json = call
                .params
                .get(&p.name.name)
                .cloned()
                .unwrap_or(serde_json::Value::Null);
            from_json(&json, &p.ty, model).map_err(|e| format!("argument `{}`: {e}", p.name.name))
        })
        .collect::<Result<Vec<_>, _>>()?;
    eval.eval_model(m, args, state)
        .map_err(|e| format!("the model failed: {}", e.message()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;
    use crate::test_specs::kv_models as models;
    use serde_json::json;

    fn call(method: &str, params: serde_json::Value) -> Call {
        Call {
            method: method.into(),
            params,
        }
    }

    fn on(node: usize, method: &str, params: serde_json::Value) -> NodeCall {
        NodeCall {
            node,
            call: call(method, params),
        }
    }

    #[test]
    fn calls_follow_the_models_and_reads_ask_every_nodes_final_state() {
        let m = models(&["kv-1-2.ups", "kv-2-3.ups"]);
        let calls = [
            on(0, "get", json!({"key": "a"})),
            on(1, "put", json!({"key": "a", "value": "x"})),
            on(0, "put", json!({"key": "a", "value": "y"})),
            on(1, "get", json!({"key": "a"})),
            // Local: node 0 alone takes it.
            on(
                0,
                "replicate",
                json!({"entries": [{"key": "b", "value": "z"}]}),
            ),
            on(1, "get", json!({"key": "b"})),
        ];
        let probes = [
            call("get", json!({"key": "a"})),
            call("put", json!({"key": "c", "value": "w"})),
            call("get", json!({"key": "b"})),
            call("get", json!({"key": "a"})),
        ];
        let local = ["replicate".to_string()];
        let r = replay(&m, 1, 2, &local, &calls, &probes).unwrap();
        assert_eq!(
            r.answers,
            [
                json!(null),
                json!(null),
                json!(null),
                json!("y"),
                json!(null),
                json!(null)
            ]
        );
        assert_eq!(r.stopped, None);
        let reads = |n: usize| -> Vec<(String, serde_json::Value)> {
            r.reads[n]
                .iter()
                .map(|r| {
                    (
                        r.params["key"].as_str().unwrap().to_string(),
                        r.answer.clone(),
                    )
                })
                .collect()
        };
        assert_eq!(
            reads(0),
            [("a".into(), json!("y")), ("b".into(), json!("z"))]
        );
        assert_eq!(
            reads(1),
            [("a".into(), json!("y")), ("b".into(), json!(null))]
        );
        // Not local: every node takes it.
        let r = replay(&m, 1, 2, &[], &calls, &probes).unwrap();
        assert_eq!(r.answers[5], json!("z"));
        // Version 3's answers: revisions count the writes.
        let r = replay(
            &m,
            3,
            1,
            &[],
            &[
                on(0, "put", json!({"key": "a", "value": "x", "ttl_ms": null})),
                on(0, "put", json!({"key": "b", "value": "x", "ttl_ms": null})),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(r.answers, [json!(1), json!(2)]);
    }

    #[test]
    fn a_call_the_models_cannot_follow_stops_the_replay() {
        let m = models(&["kv-1-2.ups", "kv-2-3.ups"]);
        let r = replay(
            &m,
            3,
            1,
            &[],
            &[
                on(0, "put", json!({"key": "a", "value": "x", "ttl_ms": null})),
                on(0, "list_keys", json!({"prefix": "", "limit": 3})),
                on(0, "get", json!({"key": "a"})),
            ],
            &[call("get", json!({"key": "a"}))],
        )
        .unwrap();
        assert_eq!(r.answers.len(), 1);
        assert!(r.stopped.unwrap().contains("no model"));
        assert!(r.reads.is_empty());
        assert!(replay(&m, 9, 1, &[], &[], &[]).is_err());
    }

    /// The command line gets an error type, not a string: its `Display` is the whole message.
    #[test]
    fn a_version_outside_the_chain_is_an_error_with_its_message() {
        let m = models(&["kv-1-2.ups"]);
        let e: Box<dyn std::error::Error> = Box::new(replay(&m, 9, 1, &[], &[], &[]).unwrap_err());
        assert_eq!(e.to_string(), "no spec of the chain has version 9");
    }
}
