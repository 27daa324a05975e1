//! Obligation 6: a few generated calls in a row through the subjects that passed, from a
//! related pair of states, checked after each step; a failure is shrunk and reported (U0106).

use crate::eval::Value;
use crate::model::Ty;
use crate::verify::conform::conforms;
use crate::verify::gen::shrink_case;
use crate::verify::obligations::simulate::call::{
    case_pair, old_state_ty, step, varied_ty, Failure,
};
use crate::verify::obligations::simulate::diagnostic::{diagnostic, Context};
use crate::verify::obligations::simulate::keys::{case_state, pair_keys, pick_fitting, state_keys};
use crate::verify::obligations::simulate::single::varied_note;
use crate::verify::obligations::simulate::subject::Subject;
use crate::verify::obligations::simulate::vary::attempts;
use crate::verify::obligations::{found_note, skipped, Cx, MAX_SHRINK_RUNS};
use crate::verify::report::{Obligation, ObligationResult, Status};
use crate::verify::rng::Rng;
use lang::ast::RuleKind;
use lang::diagnostic::codes;
use lang::Diagnostic;

/// Most calls in one generated sequence.
const MAX_SEQUENCE: u64 = 10;
const SEQUENCE_NAME: &str = "sequences of calls keep the states related";
/// The type of one step of a sequence through subject `index`: `(enabled, index, args)`.
fn step_ty(s: &Subject<'_>) -> Ty {
    Ty::Tuple(vec![
        Ty::Bool,
        Ty::U64,
        Ty::Tuple(s.caller.params.iter().map(|p| p.ty.clone()).collect()),
    ])
}

/// The enabled steps of a case: the subject's index and the arguments; `None` when a step
/// does not fit its subject (shrinking changed the index).
fn steps_of<'c>(
    cx: &Cx<'_>,
    case: &'c [(Ty, Value)],
    subjects: &[Subject<'_>],
) -> Option<Vec<(usize, &'c [Value])>> {
    let mut out = Vec::new();
    for (_, v) in case.iter().skip(2) {
        let Value::Tuple(parts) = v else { return None };
        let [Value::Bool(enabled), Value::Int(index), Value::Tuple(args)] = parts.as_slice() else {
            return None;
        };
        if !enabled {
            continue;
        }
        let index = usize::try_from(*index).ok()?;
        let s = subjects.get(index)?;
        let fits = args.len() == s.caller.params.len()
            && args
                .iter()
                .zip(&s.caller.params)
                .all(|(a, p)| conforms(a, &p.ty, cx.model).is_ok());
        if !fits {
            return None;
        }
        out.push((index, args.as_slice()));
    }
    Some(out)
}

/// A sequence that went wrong at one call.
struct SeqFailure {
    /// The subject of the failing call.
    subject: usize,
    failure: Failure,
    /// The states before it, the first ones and the calls before it.
    old: Value,
    new: Value,
    args: Vec<Value>,
    first: (Value, Value),
    before: Vec<String>,
}

/// Runs a sequence case `[old state, varied new state or none, step...]`; `None` when it
/// proves nothing. A sequence from a varied pair holds only calls of old callers (past rules
/// and methods passed through): new callers reach the old version only on the states its
/// own nodes hold, whose new view is the transform's and what future rules made of it.
fn run_sequence(
    cx: &Cx<'_>,
    subjects: &[Subject<'_>],
    case: &[(Ty, Value)],
) -> Option<Result<(), SeqFailure>> {
    let (_, old) = case.first()?;
    let (_, varied) = case.get(1)?;
    let is_varied = matches!(varied, Value::Option(Some(_)));
    let (mut old, mut new) = case_pair(cx, old, varied)?;
    let first = (old.clone(), new.clone());
    let mut before = Vec::new();
    for (index, args) in steps_of(cx, case, subjects)? {
        let s = subjects.get(index)?;
        if is_varied && s.kind != RuleKind::Past {
            return None;
        }
        match step(cx, s, args, &old, &new) {
            Ok(Ok(done)) => {
                let shown: Vec<String> = args.iter().map(ToString::to_string).collect();
                let answer = done
                    .got
                    .as_ref()
                    .map_or("disallowed".into(), ToString::to_string);
                before.push(format!(
                    "call {}: {} on ({}) answered {answer}",
                    before.len() + 1,
                    s.what(),
                    shown.join(", ")
                ));
                old = done.old;
                new = done.new;
            }
            Ok(Err(_)) => return None,
            Err(failure) => {
                return Some(Err(SeqFailure {
                    subject: index,
                    failure: *failure,
                    old,
                    new,
                    args: args.to_vec(),
                    first,
                    before,
                }))
            }
        }
    }
    Some(Ok(()))
}

/// Whether the caller's model of `s` writes its state.
fn writes(s: &Subject<'_>) -> bool {
    s.caller.model.as_ref().is_some_and(|m| {
        m.stmts
            .iter()
            .any(|st| matches!(st, lang::ast::ModelStmt::Assign { .. }))
    })
}

/// A sequence case from the old state `state` and, in `pair`, the transform's new state (for
/// a sequence through any subject, `chosen` all of them) or a varied one (through old
/// callers' subjects only): `[old state, varied new state or none, step...]`.
fn generate(
    cx: &Cx<'_>,
    subjects: &[Subject<'_>],
    chosen: &[u64],
    (state, transformed, varied): (&Value, Option<&Value>, Option<Value>),
    rng: &mut Rng,
    size: u32,
) -> Vec<(Ty, Value)> {
    let count = u64::try_from(chosen.len()).unwrap_or(u64::MAX);
    let mut keys = pair_keys(state, varied.as_ref().or(transformed));
    let varied = Value::Option(varied.map(Box::new));
    let mut pair = case_pair(cx, state, &varied);
    let mut case = vec![(old_state_ty(cx), state.clone()), (varied_ty(cx), varied)];
    let len = 2 + rng.below(MAX_SEQUENCE - 1);
    // Arguments given and answers received earlier in the sequence: a later call reuses one
    // of its type three times in four (a `get` of the key a `put` wrote, of the id a `create`
    // answered); independent values rarely meet. The sequence runs as it is generated, so
    // its answers and the states after each call are known.
    let mut given: Vec<(Ty, Value)> = Vec::new();
    // After a write, half the time a read by a caller of the same version: what a client
    // wrote, it reads back (a `set_address`, then a `find_user` of the same id).
    let mut wrote: Option<RuleKind> = None;
    for _ in 0..len {
        let readers: Vec<u64> = match wrote {
            Some(kind) => chosen
                .iter()
                .copied()
                .filter(|i| {
                    usize::try_from(*i)
                        .ok()
                        .and_then(|i| subjects.get(i))
                        .is_some_and(|r| r.kind == kind && !writes(r))
                })
                .collect(),
            None => Vec::new(),
        };
        let from = if !readers.is_empty() && rng.chance(1, 2) {
            &readers
        } else {
            chosen
        };
        let Some(&index) = usize::try_from(rng.below(u64::try_from(from.len()).unwrap_or(count)))
            .ok()
            .and_then(|i| from.get(i))
        else {
            continue;
        };
        let Some(s) = usize::try_from(index).ok().and_then(|i| subjects.get(i)) else {
            continue;
        };
        wrote = writes(s).then_some(s.kind);
        let mut args = Vec::new();
        for p in &s.caller.params {
            let earlier: Vec<&Value> = given
                .iter()
                .filter(|(t, _)| *t == p.ty)
                .map(|(_, v)| v)
                .collect();
            let count = u64::try_from(earlier.len()).unwrap_or(u64::MAX);
            let reused = if count > 0 && rng.below(4) != 0 {
                usize::try_from(rng.below(count))
                    .ok()
                    .and_then(|i| earlier.get(i))
                    .map(|v| (*v).clone())
            } else if rng.chance(1, 2) {
                pick_fitting(cx, &keys, &p.ty, rng)
            } else {
                None
            };
            let value = reused.unwrap_or_else(|| {
                cx.gen
                    .generate_named(Some(&p.name.name), &p.ty, rng, size, &keys.scalars())
            });
            given.push((p.ty.clone(), value.clone()));
            args.push(value);
        }
        pair = match pair.take().map(|(old, new)| step(cx, s, &args, &old, &new)) {
            Some(Ok(Ok(done))) => {
                if let Some(got) = &done.got {
                    given.push((s.caller.ret.clone(), got.clone()));
                    keys.extend(state_keys(got));
                }
                keys.extend(state_keys(&done.old));
                keys.extend(state_keys(&done.new));
                Some((done.old, done.new))
            }
            _ => None,
        };
        case.push((
            step_ty(s),
            Value::Tuple(vec![
                Value::Bool(true),
                Value::Int(i128::from(index)),
                Value::Tuple(args),
            ]),
        ));
    }
    case
}

pub(super) fn check_sequences(cx: &mut Cx<'_>, subjects: &[Subject<'_>]) -> ObligationResult {
    let name = SEQUENCE_NAME.to_string();
    if subjects.is_empty() {
        return skipped(
            Obligation::Sequence,
            name,
            "no rule or method both has models and passed its own obligation",
        );
    }
    let cases = cx.options.cases;
    let state_ty = old_state_ty(cx);
    let past: Vec<u64> = (0..subjects.len())
        .filter(|i| subjects.get(*i).is_some_and(|s| s.kind == RuleKind::Past))
        .filter_map(|i| u64::try_from(i).ok())
        .collect();
    let all: Vec<u64> = (0..subjects.len())
        .filter_map(|i| u64::try_from(i).ok())
        .collect();
    let mut discarded = 0;
    for i in 0..cases {
        let (mut rng, size) = cx.case(SEQUENCE_NAME, i);
        let Some(state) = case_state(cx, &state_ty, &mut rng, size) else {
            discarded += 1;
            continue;
        };
        // Each case is a sequence from the transform's pair and, when old callers have
        // subjects, one of their calls only from a new state the transform does not make (see
        // `run_sequence`).
        let attempts = attempts(
            cx,
            &state,
            !past.is_empty(),
            &mut rng,
            size,
            |(state, transformed, varied), rng| {
                let chosen = if varied.is_some() { &past } else { &all };
                generate(
                    cx,
                    subjects,
                    chosen,
                    (state, transformed, varied),
                    rng,
                    size,
                )
            },
        );
        for case in attempts {
            let key = match run_sequence(cx, subjects, &case) {
                None => {
                    discarded += 1;
                    continue;
                }
                Some(Ok(())) => continue,
                Some(Err(f)) => format!("{} {}", f.subject, f.failure.key()),
            };
            let shrunk = shrink_case(case, cx.model, MAX_SHRINK_RUNS, |c| {
                match run_sequence(cx, subjects, c) {
                    Some(Err(f)) if format!("{} {}", f.subject, f.failure.key()) == key => {
                        Some(c.to_vec())
                    }
                    _ => None,
                }
            });
            let Some(Err(f)) = run_sequence(cx, subjects, &shrunk.case) else {
                continue;
            };
            let Some(s) = subjects.get(f.subject) else {
                continue;
            };
            let args: Vec<&Value> = f.args.iter().collect();
            let context = Context {
                old: &f.old,
                new: &f.new,
                args: &args,
            };
            let calls = f.before.len();
            let mut before = varied_note(shrunk.case.get(1).map_or(&Value::none(), |(_, v)| v));
            before.extend([
                format!("first old state: {}", f.first.0),
                format!("first new state: {}", f.first.1),
            ]);
            before.extend(f.before);
            let d = diagnostic(
                cx,
                s,
                &context,
                f.failure,
                codes::VERIFY_SIMULATION_SEQUENCE,
                before,
            );
            let d = Diagnostic {
                message: format!(
                    "after {calls} call{} that went right: {}",
                    if calls == 1 { "" } else { "s" },
                    d.message
                ),
                ..d
            };
            let d = d.note(found_note(i + 1, cases, shrunk.steps));
            let status = cx.fail(d);
            return ObligationResult {
                obligation: Obligation::Sequence,
                name,
                cases: i + 1,
                discarded,
                status,
                note: None,
            };
        }
    }
    ObligationResult {
        obligation: Obligation::Sequence,
        name,
        cases,
        discarded,
        status: Status::Passed,
        note: None,
    }
}
