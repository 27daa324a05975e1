//! Obligation 1: the transform establishes the invariant. On generated old states the
//! transform must run, give a state of the new version's type, and make every invariant
//! clause true. Without a transform the state carries over unchanged; without an invariant
//! only the first two are checked.

use super::state::{self, Direction, Failure};
use super::{found_note, skipped, Case, Cx};
use crate::eval::Value;
use crate::model::Ty;
use crate::verify::report::{Obligation, ObligationResult};
use crate::verify::wellformed;
use lang::ast::{Invariant, Transform};
use lang::{Diagnostic, Span};

const NAME: &str = "transform establishes the invariant";

/// The message and label when the state the transform gives breaks a clause.
const BROKEN: (&str, &str) = (
    "the transform does not establish the invariant",
    "the state this transform gives breaks the invariant",
);

struct Parts<'a> {
    transform: Option<&'a Transform>,
    invariant: Option<&'a Invariant>,
    new_ty: Ty,
}

pub(crate) fn check(cx: &mut Cx<'_>) -> ObligationResult {
    let model = cx.model;
    let name = NAME.to_string();
    if model.old.state.is_none() && model.new.state.is_none() {
        return skipped(Obligation::Invariant, name, "no persistent state");
    }
    if model.old.state.is_none() || model.new.state.is_none() {
        return skipped(
            Obligation::Invariant,
            name,
            "only one version declares persistent state",
        );
    }
    let parts = Parts {
        transform: model.spec.transforms().next(),
        invariant: model.spec.invariants().next(),
        new_ty: Ty::State(model.new.number),
    };
    let old_ty = Ty::State(model.old.number);
    let note = match (parts.transform, parts.invariant) {
        (_, None) => Some(
            "no invariant: checked only that the transform runs and gives a new state".to_string(),
        ),
        (None, Some(_)) => Some("no transform: the state carries over unchanged".to_string()),
        _ => None,
    };
    let cases = cx.options.cases;
    cx.cases(Obligation::Invariant, name, note, |cx, i| {
        let (mut rng, size) = cx.case(NAME, i);
        let Some(old) = cx.state(model.old.number, &mut rng, size) else {
            // No well-formed old state could be made for this case.
            return Case::Discarded;
        };
        let Err(failure) = run(cx, &parts, &old) else {
            return Case::Held;
        };
        let (old, failure, steps) =
            state::shrink(cx, &old_ty, old, failure, |old| run(cx, &parts, old).err());
        Case::Failed(diagnostic(cx, &parts, &old, failure).note(found_note(i + 1, cases, steps)))
    })
}

/// One case: transform `old`, then judge the new state.
fn run(cx: &Cx<'_>, parts: &Parts<'_>, old: &Value) -> Result<(), Failure> {
    // Only well-formed old states are cases (a shrunk one too).
    if wellformed::broken_clause(&cx.eval, cx.model, cx.model.old.number, old).is_some() {
        return Ok(());
    }
    let new = match parts.transform {
        Some(t) => cx.eval.eval_transform(t, old).map_err(Failure::Transform)?,
        None => old.clone(),
    };
    state::judge(
        cx,
        Direction::Forward,
        old,
        new,
        &parts.new_ty,
        parts.invariant,
    )
}

fn diagnostic(cx: &Cx<'_>, parts: &Parts<'_>, old: &Value, failure: Failure) -> Diagnostic {
    let model = cx.model;
    let at = match (parts.transform, parts.invariant) {
        (Some(t), _) => Span::new(t.span.start, t.new.span.end),
        (None, Some(inv)) => Span::new(inv.span.start, inv.span.start + "invariant".len()),
        (None, None) => model.spec.header_span,
    };
    let old_note = format!("old state: {old}");
    state::diagnostic(
        cx,
        Direction::Forward,
        at,
        parts.invariant,
        old_note,
        BROKEN,
        failure,
    )
}
