//! Obligation 5: each subject on its own, one generated call from a related pair of states;
//! a failure is shrunk and reported (U0104, U0105 or U0107).

use crate::eval::Value;
use crate::model::Ty;
use crate::verify::gen::shrink_case;
use crate::verify::obligations::simulate::call::{
    old_state_ty, related_pair, step, Failure, Step, Unmodelled,
};
use crate::verify::obligations::simulate::diagnostic::{diagnostic, Context};
use crate::verify::obligations::simulate::keys::{case_state, held_or_generated};
use crate::verify::obligations::simulate::subject::Subject;
use crate::verify::obligations::{found_note, skipped, Cx, MAX_SHRINK_RUNS};
use crate::verify::report::{Obligation, ObligationResult, Status};
use lang::diagnostic::codes;

/// One case of a single call: `[old state, args...]`.
fn run_case(
    cx: &Cx<'_>,
    s: &Subject<'_>,
    case: &[(Ty, Value)],
) -> Option<Result<Result<Step, Unmodelled>, Box<Failure>>> {
    let (_, old) = case.first()?;
    let (old, new) = related_pair(cx, old)?;
    let args: Vec<Value> = case.iter().skip(1).map(|(_, v)| v.clone()).collect();
    Some(step(cx, s, &args, &old, &new))
}

pub(super) fn check_subject(cx: &mut Cx<'_>, s: &Subject<'_>) -> ObligationResult {
    let cases = cx.options.cases;
    let state_ty = old_state_ty(cx);
    let mut disallowed = 0;
    let mut unrelated = 0;
    for i in 0..cases {
        let (mut rng, size) = cx.case(&s.name, i);
        let Some((state, held)) = case_state(cx, &state_ty, &mut rng, size) else {
            unrelated += 1;
            continue;
        };
        let mut case = vec![(state_ty.clone(), state)];
        for p in &s.caller.params {
            let value = held_or_generated(cx, &held, &p.ty, &mut rng, size);
            case.push((p.ty.clone(), value));
        }
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
        let args: Vec<&Value> = shrunk.case.iter().skip(1).map(|(_, v)| v).collect();
        let old = shrunk.case.first().map_or(Value::Unit, |(_, v)| v.clone());
        let new = related_pair(cx, &old).map_or(Value::Unit, |(_, n)| n);
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
            Vec::new(),
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
