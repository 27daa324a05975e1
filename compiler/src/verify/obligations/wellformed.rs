//! Obligation 7, for a version whose state declares `where` clauses: every method model of
//! the version keeps its states well-formed. On generated well-formed states and generated
//! arguments (drawn from the state's keys and values half the time) the model runs, and the
//! state it leaves must satisfy every clause; a failure is shrunk and reported on the model
//! (U0109). A model that fails at run time is left to the simulation obligations (U0107).
//! The transform's part is checked with the invariant, and a rule's with the simulations.

use super::simulate::keys::{held_or_generated, state_keys};
use super::{found_note, Cx, MAX_SHRINK_RUNS};
use crate::eval::Value;
use crate::model::{MethodDef, Ty};
use crate::verify::gen::shrink_case;
use crate::verify::report::{Obligation, ObligationResult, Status};
use crate::verify::wellformed::{broken_clause, clauses};
use lang::diagnostic::codes;
use lang::Diagnostic;

pub(crate) fn check(cx: &mut Cx<'_>) -> Vec<ObligationResult> {
    let model = cx.model;
    let mut out = Vec::new();
    for env in [&model.old, &model.new] {
        if clauses(model, env.number).is_none() {
            continue;
        }
        for service in env.services.values() {
            for method in service.methods.iter().filter(|m| m.model.is_some()) {
                let name = format!(
                    "version {}'s model of `{}.{}` keeps the state well-formed",
                    env.number, service.name.name, method.name.name
                );
                out.push(check_method(cx, env.number, method, name));
            }
        }
    }
    out
}

/// `Some(clause)` when the model, run on the case, leaves a state breaking that clause.
fn run(cx: &Cx<'_>, number: u64, method: &MethodDef, case: &[(Ty, Value)]) -> Option<usize> {
    let (_, state) = case.first()?;
    if broken_clause(&cx.eval, cx.model, number, state).is_some() {
        return None;
    }
    let args = case.iter().skip(1).map(|(_, v)| v.clone()).collect();
    let (_, after) = cx.eval.eval_model(method, args, state).ok()?;
    broken_clause(&cx.eval, cx.model, number, &after)
}

fn check_method(
    cx: &mut Cx<'_>,
    number: u64,
    method: &MethodDef,
    name: String,
) -> ObligationResult {
    let cases = cx.options.cases;
    let state_ty = Ty::State(number);
    let mut skipped = 0;
    for i in 0..cases {
        let (mut rng, size) = cx.case(&name, i);
        let Some(state) = cx.state(number, &mut rng, size) else {
            skipped += 1;
            continue;
        };
        let keys = state_keys(&state);
        let mut case = vec![(state_ty.clone(), state)];
        for p in &method.params {
            let value = held_or_generated(cx, &keys, (&p.name.name, &p.ty), &mut rng, size);
            case.push((p.ty.clone(), value));
        }
        let Some(clause) = run(cx, number, method, &case) else {
            continue;
        };
        let shrunk = shrink_case(case, cx.model, MAX_SHRINK_RUNS, |c| {
            (run(cx, number, method, c) == Some(clause)).then(|| c.to_vec())
        });
        let state = shrunk.case.first().map_or(Value::Unit, |(_, v)| v.clone());
        let args: Vec<String> = method
            .params
            .iter()
            .zip(shrunk.case.iter().skip(1))
            .map(|(p, (_, v))| format!("{} = {v}", p.name.name))
            .collect();
        let after = cx
            .eval
            .eval_model(
                method,
                shrunk.case.iter().skip(1).map(|(_, v)| v.clone()).collect(),
                &state,
            )
            .map_or(Value::Unit, |(_, s)| s);
        let at = method.model.as_ref().map_or(method.span, |m| m.span);
        let clause_span = clauses(cx.model, number)
            .and_then(|w| w.clauses.get(clause))
            .map_or(at, |c| c.span);
        let d = Diagnostic::new(
            codes::VERIFY_WELLFORMED_LOST,
            cx.model.file,
            at,
            format!(
                "the model of version {number}'s `{}` leaves a state that is not well-formed",
                method.name.name
            ),
        )
        .label("this model breaks a `where` clause of its state")
        .also(clause_span, "this clause is false afterwards")
        .note(format!("state: {state}"))
        .note(format!("arguments: {}", args.join(", ")))
        .note(format!("state after: {after}"))
        .note(found_note(i + 1, cases, shrunk.steps));
        let status = cx.fail(d);
        return ObligationResult {
            obligation: Obligation::WellFormed,
            name,
            cases: i + 1,
            discarded: skipped,
            status,
            note: None,
        };
    }
    ObligationResult {
        obligation: Obligation::WellFormed,
        name,
        cases,
        discarded: skipped,
        status: Status::Passed,
        note: None,
    }
}

/// U0108 for each version of which fewer than one generated state in ten could be made
/// well-formed: its obligations saw few cases.
pub(crate) fn rarely_wellformed(cx: &mut Cx<'_>) {
    let tallies = cx.tallies.borrow().clone();
    for (number, t) in tallies {
        if t.tried < 16 || t.made * 10 >= t.tried {
            continue;
        }
        let Some(w) = clauses(cx.model, number) else {
            continue;
        };
        let worst = t
            .broken
            .iter()
            .max_by_key(|(_, n)| **n)
            .and_then(|(i, _)| w.clauses.get(*i))
            .map_or(w.span, |c| c.span);
        let d = Diagnostic::new(
            codes::VERIFY_RARELY_WELLFORMED,
            cx.model.file,
            w.span,
            format!(
                "only {} of {} generated states of version {number} are well-formed",
                t.made, t.tried
            ),
        )
        .label("few generated states satisfy these clauses")
        .also(worst, "most often false")
        .note("the obligations see only the well-formed states: most cases are skipped")
        .help("write the clause as `forall x in keys(state.field): ...` over one map, which `verify` repairs entry by entry, or loosen it");
        cx.diagnostics.push(d);
    }
}
