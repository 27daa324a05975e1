//! Obligation 4: the reverse transform (`transform (new) -> old`, what a rollback runs on the
//! node's current state) carries the state back. Checked only when the spec declares one.
//!
//! Every case yields a new state `n`, the reverse transform gives `r = reverse(n)`, which must
//! be of the old version's state type and satisfy the invariant with `n`. The cases take turns
//! at three ways of making `n`:
//! - `forward(s)` for a generated old state `s`: then `r` relates to the same new state as `s`
//!   does, so a rollback right after an upgrade keeps what `s` held (`reverse(forward(s))`
//!   satisfies the invariant with `forward(s)`, as `s` does);
//! - `forward(s)` changed by writes: a generated new state's values merged in, field by field
//!   (a map's entries inserted or overwritten, other fields replaced or kept), standing for
//!   what the new version wrote before the rollback;
//! - a new state generated directly.
//!
//! A new state that breaks a clause over the new state alone (one that evaluates without the
//! old state, like `new.items[k].revision <= new.revision`) cannot be reached by the new
//! version, and no reverse transform could fix it: such a case is discarded, as is one whose
//! forward transform fails (obligation 1 reports that).

use super::state::{self, Direction, Failure};
use super::{found_note, skipped, Case, Cx};
use crate::eval::{Env, NoHost, Value};
use crate::model::Ty;
use crate::verify::report::{Obligation, ObligationResult};
use crate::verify::rng::Rng;
use lang::ast::{Invariant, Transform};
use lang::{Diagnostic, Span};

const NAME: &str = "reverse transform carries the state back";

/// How a case's new state was made.
#[derive(Clone, Copy)]
enum Origin {
    Forward,
    Written,
    Generated,
}

/// What one case came to.
enum Outcome {
    Held,
    /// The case proves nothing (see the module header).
    Discarded,
    Failed(Failure),
}

/// The message and label when the state the reverse transform gives breaks a clause.
const BROKEN: (&str, &str) = (
    "the state a rollback gives breaks the invariant with the state it came from",
    "the old state this reverse transform gives is not related to the new one",
);

struct Parts<'a> {
    reverse: &'a Transform,
    forward: Option<&'a Transform>,
    invariant: Option<&'a Invariant>,
    old_ty: Ty,
    new_ty: Ty,
}

pub(crate) fn check(cx: &mut Cx<'_>) -> Option<ObligationResult> {
    let model = cx.model;
    let reverse = model.spec.reverse_transforms().next()?;
    let name = NAME.to_string();
    if model.old.state.is_none() || model.new.state.is_none() {
        return Some(skipped(
            Obligation::Reverse,
            name,
            "a version declares no persistent state",
        ));
    }
    let parts = Parts {
        reverse,
        forward: model.spec.transforms().next(),
        invariant: model.spec.invariants().next(),
        old_ty: Ty::State(model.old.number),
        new_ty: Ty::State(model.new.number),
    };
    let note = parts.invariant.is_none().then(|| {
        "no invariant: checked only that the reverse transform runs and gives an old state"
            .to_string()
    });
    let cases = cx.options.cases;
    Some(cx.cases(Obligation::Reverse, name, note, |cx, i| {
        let (mut rng, size) = cx.case(NAME, i);
        let origin = match i % 3 {
            0 => Origin::Forward,
            1 => Origin::Written,
            _ => Origin::Generated,
        };
        let Some(new) = new_state(cx, &parts, origin, &mut rng, size) else {
            return Case::Discarded;
        };
        let failure = match run(cx, &parts, &new) {
            Outcome::Held => return Case::Held,
            Outcome::Discarded => return Case::Discarded,
            Outcome::Failed(f) => f,
        };
        let (new, failure, steps) =
            state::shrink(cx, &parts.new_ty, new, failure, |new| {
                match run(cx, &parts, new) {
                    Outcome::Failed(f) => Some(f),
                    _ => None,
                }
            });
        let d = diagnostic(cx, &parts, &new, origin, failure);
        Case::Failed(d.note(found_note(i + 1, cases, steps)))
    }))
}

/// A new state made the `origin` way; `None` when the forward transform fails on the old state.
fn new_state(
    cx: &Cx<'_>,
    parts: &Parts<'_>,
    origin: Origin,
    rng: &mut Rng,
    size: u32,
) -> Option<Value> {
    if let Origin::Generated = origin {
        return Some(cx.gen.generate(&parts.new_ty, rng, size));
    }
    let old = cx.gen.generate(&parts.old_ty, rng, size);
    let forward = match parts.forward {
        Some(t) => cx.eval.eval_transform(t, &old).ok()?,
        None => old,
    };
    if let Origin::Forward = origin {
        return Some(forward);
    }
    let writes = cx.gen.generate(&parts.new_ty, rng, size);
    Some(write(forward, writes, rng))
}

/// Merges generated writes into a state, field by field: a map takes the written entries over
/// its own, a list or set gains the written elements, other fields are replaced or kept.
fn write(state: Value, writes: Value, rng: &mut Rng) -> Value {
    let (Value::Record { name, mut fields }, Value::Record { fields: w, .. }) = (state, writes)
    else {
        return Value::Unit;
    };
    for (field, written) in w {
        let Some(current) = fields.get_mut(&field) else {
            continue;
        };
        let keep = rng.chance(1, 3);
        match (current, written) {
            _ if keep => {}
            (Value::Map(m), Value::Map(w)) => m.extend(w),
            (Value::Set(s), Value::Set(w)) => s.extend(w),
            (Value::List(l), Value::List(w)) => l.extend(w),
            (current, written) => *current = written,
        }
    }
    Value::Record { name, fields }
}

/// One case: reverse `new`, then judge the old state it gives.
fn run(cx: &Cx<'_>, parts: &Parts<'_>, new: &Value) -> Outcome {
    if breaks_new_only_clause(cx, parts, new) {
        return Outcome::Discarded;
    }
    let old = match cx.eval.eval_transform(parts.reverse, new) {
        Ok(old) => old,
        Err(e) => return Outcome::Failed(Failure::Transform(e)),
    };
    match state::judge(
        cx,
        Direction::Reverse,
        new,
        old,
        &parts.old_ty,
        parts.invariant,
    ) {
        Ok(()) => Outcome::Held,
        Err(f) => Outcome::Failed(f),
    }
}

/// Whether `new` breaks a clause that needs no old state: one that evaluates to `false` with
/// the old state bound to `()` (a clause reading the old state fails to evaluate instead).
fn breaks_new_only_clause(cx: &Cx<'_>, parts: &Parts<'_>, new: &Value) -> bool {
    let Some(inv) = parts.invariant else {
        return false;
    };
    let env = Env::new()
        .bind(inv.old.name.clone(), Value::Unit)
        .bind(inv.new.name.clone(), new.clone());
    inv.clauses.iter().any(|clause| {
        matches!(
            cx.eval.eval_expr(clause, &env, &mut NoHost),
            Ok(Value::Bool(false))
        )
    })
}

fn diagnostic(
    cx: &Cx<'_>,
    parts: &Parts<'_>,
    new: &Value,
    origin: Origin,
    failure: Failure,
) -> Diagnostic {
    let t = parts.reverse;
    let at = Span::new(t.span.start, t.new.span.end);
    let made = match origin {
        Origin::Forward => "the transform of a generated old state",
        Origin::Written => "the transform of a generated old state, then written to",
        Origin::Generated => "generated",
    };
    let new_note = format!("new state ({made}): {new}");
    state::diagnostic(
        cx,
        Direction::Reverse,
        at,
        parts.invariant,
        new_note,
        BROKEN,
        failure,
    )
}
