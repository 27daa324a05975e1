//! Obligation 5: each subject on its own, one generated call from a related pair of states;
//! a failure is shrunk and reported (U0104, U0105 or U0107).

use crate::eval::Value;
use crate::model::Ty;
use crate::verify::gen::shrink_case;
use crate::verify::obligations::simulate::call::{
    case_pair, old_state_ty, step, varied_ty, Failure, Step, Unmodelled,
};
use crate::verify::obligations::simulate::diagnostic::{diagnostic, Context};
use crate::verify::obligations::simulate::keys::{case_state, held_or_generated, pair_keys};
use crate::verify::obligations::simulate::subject::Subject;
use crate::verify::obligations::simulate::vary::attempts;
use crate::verify::obligations::{found_note, skipped, Cx, MAX_SHRINK_RUNS};
use crate::verify::report::{Obligation, ObligationResult, Status};
use crate::verify::rng::Rng;
use lang::ast::RuleKind;
use lang::diagnostic::codes;

/// One case of a single call: `[old state, varied new state or none, args...]`.
fn run_case(
    cx: &Cx<'_>,
    s: &Subject<'_>,
    case: &[(Ty, Value)],
) -> Option<Result<Result<Step, Unmodelled>, Box<Failure>>> {
    let (_, old) = case.first()?;
    let (_, varied) = case.get(1)?;
    let (old, new) = case_pair(cx, old, varied)?;
    let args: Vec<Value> = case.iter().skip(2).map(|(_, v)| v.clone()).collect();
    Some(step(cx, s, &args, &old, &new))
}

/// A case `[old state, varied new state or none, args...]` from the old state `state` and
/// the transform's new state or a varied one: each argument generated, or half the time one
/// of the values the states hold.
fn arguments(
    cx: &Cx<'_>,
    s: &Subject<'_>,
    (state, transformed, varied): (&Value, Option<&Value>, Option<Value>),
    rng: &mut Rng,
    size: u32,
) -> Vec<(Ty, Value)> {
    let keys = pair_keys(state, varied.as_ref().or(transformed));
    let mut case = vec![
        (old_state_ty(cx), state.clone()),
        (varied_ty(cx), Value::Option(varied.map(Box::new))),
    ];
    for p in &s.caller.params {
        let value = held_or_generated(cx, &keys, (&p.name.name, &p.ty), rng, size);
        case.push((p.ty.clone(), value));
    }
    case
}

pub(super) fn check_subject(cx: &mut Cx<'_>, s: &Subject<'_>) -> ObligationResult {
    let cases = cx.options.cases;
    let state_ty = old_state_ty(cx);
    let mut disallowed = 0;
    let mut unrelated = 0;
    for i in 0..cases {
        let (mut rng, size) = cx.case(&s.name, i);
        let Some(state) = case_state(cx, &state_ty, &mut rng, size) else {
            unrelated += 1;
            continue;
        };
        // A case of a past rule (or a method passed through to the new version) runs on the
        // transform's new state, and again on one the transform does not make, which callers
        // of the new version made.
        let past = s.kind == RuleKind::Past;
        let attempts = attempts(cx, &state, past, &mut rng, size, |pair, rng| {
            arguments(cx, s, pair, rng, size)
        });
        for case in attempts {
            let failure = match run_case(cx, s, &case) {
                None => {
                    unrelated += 1;
                    continue;
                }
                Some(Ok(Ok(done))) => {
                    if done.got.is_none() {
                        disallowed += 1;
                    }
                    continue;
                }
                Some(Ok(Err(Unmodelled(why)))) => {
                    return skipped(Obligation::Simulation, s.name.clone(), why);
                }
                Some(Err(f)) => f,
            };
            let key = failure.key();
            let shrunk = shrink_case(case, cx.model, MAX_SHRINK_RUNS, |c| {
                match run_case(cx, s, c) {
                    Some(Err(f)) if f.key() == key => Some(c.to_vec()),
                    _ => None,
                }
            });
            let failure = match run_case(cx, s, &shrunk.case) {
                Some(Err(f)) => f,
                _ => failure,
            };
            let args: Vec<&Value> = shrunk.case.iter().skip(2).map(|(_, v)| v).collect();
            let old = shrunk.case.first().map_or(Value::Unit, |(_, v)| v.clone());
            let varied = shrunk.case.get(1).map_or(Value::none(), |(_, v)| v.clone());
            let new = case_pair(cx, &old, &varied).map_or(Value::Unit, |(_, n)| n);
            let context = Context {
                old: &old,
                new: &new,
                args: &args,
            };
            let d = diagnostic(
                cx,
                s,
                &context,
                *failure,
                codes::VERIFY_SIMULATION_ANSWER,
                varied_note(&varied),
            )
            .note(found_note(i + 1, cases, shrunk.steps));
            let status = cx.fail(d);
            return ObligationResult {
                obligation: Obligation::Simulation,
                name: s.name.clone(),
                cases: i + 1,
                discarded: disallowed,
                status,
                note: unrelated_note(unrelated),
            };
        }
    }
    ObligationResult {
        obligation: Obligation::Simulation,
        name: s.name.clone(),
        cases,
        discarded: disallowed,
        status: Status::Passed,
        note: match (s.answers_allowed(), unrelated_note(unrelated)) {
            (true, Some(n)) => Some(format!("answers not compared, allowed; {n}")),
            (true, None) => Some("answers not compared, allowed".into()),
            (false, n) => n,
        },
    }
}
/// Cases whose generated states the transform did not relate (the invariant obligation
/// reports those).
fn unrelated_note(n: u32) -> Option<String> {
    (n > 0).then(|| format!("{n} generated states not related by the transform, skipped"))
}

/// Said of a case whose new state is not the transform's.
pub(super) fn varied_note(varied: &Value) -> Vec<String> {
    match varied {
        Value::Option(Some(_)) => vec![
            "the new state is not the transform's: one that callers of the new version made, \
             related to the old state by the invariant"
                .to_string(),
        ],
        _ => Vec::new(),
    }
}
