//! Obligation 6: a few generated calls in a row through the subjects that passed, from a
//! related pair of states, checked after each step; a failure is shrunk and reported (U0106).

use crate::eval::Value;
use crate::model::Ty;
use crate::verify::conform::conforms;
use crate::verify::gen::shrink_case;
use crate::verify::obligations::simulate::call::{old_state_ty, related_pair, step, Failure};
use crate::verify::obligations::simulate::diagnostic::{diagnostic, Context};
use crate::verify::obligations::simulate::keys::{case_state, held_or_generated};
use crate::verify::obligations::simulate::subject::Subject;
use crate::verify::obligations::{found_note, skipped, Cx, MAX_SHRINK_RUNS};
use crate::verify::report::{Obligation, ObligationResult, Status};
use lang::diagnostic::codes;
use lang::Diagnostic;

/// Most calls in one generated sequence.
const MAX_SEQUENCE: u64 = 6;
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
    for (_, v) in case.iter().skip(1) {
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

/// Runs a sequence case `[old state, step...]`; `None` when it proves nothing.
fn run_sequence(
    cx: &Cx<'_>,
    subjects: &[Subject<'_>],
    case: &[(Ty, Value)],
) -> Option<Result<(), SeqFailure>> {
    let (_, old) = case.first()?;
    let (mut old, mut new) = related_pair(cx, old)?;
    let first = (old.clone(), new.clone());
    let mut before = Vec::new();
    for (index, args) in steps_of(cx, case, subjects)? {
        let s = subjects.get(index)?;
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
    let count = u64::try_from(subjects.len()).unwrap_or(u64::MAX);
    let mut discarded = 0;
    for i in 0..cases {
        let (mut rng, size) = cx.case(SEQUENCE_NAME, i);
        let Some((state, held)) = case_state(cx, &state_ty, &mut rng, size) else {
            discarded += 1;
            continue;
        };
        let mut case = vec![(state_ty.clone(), state)];
        let len = 2 + rng.below(MAX_SEQUENCE - 1);
        // Arguments given earlier in the sequence: a later call reuses one of its type three
        // times in four (a `get` of the key a `put` wrote); independent values rarely meet.
        let mut given: Vec<(Ty, Value)> = Vec::new();
        for _ in 0..len {
            let index = rng.below(count);
            let Some(s) = usize::try_from(index).ok().and_then(|i| subjects.get(i)) else {
                continue;
            };
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
                } else {
                    None
                };
                let value =
                    reused.unwrap_or_else(|| held_or_generated(cx, &held, &p.ty, &mut rng, size));
                given.push((p.ty.clone(), value.clone()));
                args.push(value);
            }
            case.push((
                step_ty(s),
                Value::Tuple(vec![
                    Value::Bool(true),
                    Value::Int(i128::from(index)),
                    Value::Tuple(args),
                ]),
            ));
        }
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
        let mut before = vec![
            format!("first old state: {}", f.first.0),
            format!("first new state: {}", f.first.1),
        ];
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
    ObligationResult {
        obligation: Obligation::Sequence,
        name,
        cases,
        discarded,
        status: Status::Passed,
        note: None,
    }
}
