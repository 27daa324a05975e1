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

use super::{error_span, found_note, skipped, Cx, MAX_SHRINK_RUNS};
use crate::eval::{Env, EvalError, NoHost, Value};
use crate::model::Ty;
use crate::verify::conform::conforms;
use crate::verify::gen::shrink_case;
use crate::verify::report::{Obligation, ObligationResult, Status};
use crate::verify::rng::Rng;
use lang::ast::{Invariant, Transform};
use lang::diagnostic::codes;
use lang::{Diagnostic, Span};

const NAME: &str = "reverse transform carries the state back";

/// How a case's new state was made.
#[derive(Clone, Copy)]
enum Origin {
    Forward,
    Written,
    Generated,
}

/// How a case failed.
enum Failure {
    /// The reverse transform itself failed.
    Reverse(EvalError),
    /// The state it gives is not of the old version's state type.
    Shape { old: Value, reason: String },
    /// Clause `index` is false between the state it gives and the new state.
    False { old: Value, index: usize },
    /// Clause `index` failed to evaluate.
    Error {
        old: Value,
        index: usize,
        error: EvalError,
    },
}

impl Failure {
    /// Failures with the same key are the same bug: shrinking keeps to it.
    fn key(&self) -> String {
        match self {
            Failure::Reverse(e) => format!("reverse {:?}", e.span()),
            Failure::Shape { .. } => "shape".into(),
            Failure::False { index, .. } => format!("false {index}"),
            Failure::Error { index, error, .. } => format!("error {index} {:?}", error.span()),
        }
    }
}

/// What one case came to.
enum Outcome {
    Held,
    /// The case proves nothing (see the module header).
    Discarded,
    Failed(Failure),
}

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
    let mut discarded = 0;
    for i in 0..cases {
        let (mut rng, size) = cx.case(NAME, i);
        let origin = match i % 3 {
            0 => Origin::Forward,
            1 => Origin::Written,
            _ => Origin::Generated,
        };
        let Some(new) = new_state(cx, &parts, origin, &mut rng, size) else {
            discarded += 1;
            continue;
        };
        let failure = match run(cx, &parts, &new) {
            Outcome::Held => continue,
            Outcome::Discarded => {
                discarded += 1;
                continue;
            }
            Outcome::Failed(f) => f,
        };
        let key = failure.key();
        let shrunk = shrink_case(
            vec![(parts.new_ty.clone(), new)],
            model,
            MAX_SHRINK_RUNS,
            |case| {
                let (_, new) = case.first()?;
                match run(cx, &parts, new) {
                    Outcome::Failed(f) if f.key() == key => Some(case.to_vec()),
                    _ => None,
                }
            },
        );
        let new = shrunk
            .case
            .into_iter()
            .next()
            .map_or(Value::Unit, |(_, v)| v);
        let failure = match run(cx, &parts, &new) {
            Outcome::Failed(f) => f,
            _ => failure,
        };
        let d = diagnostic(cx, &parts, &new, origin, failure).note(found_note(
            i + 1,
            cases,
            shrunk.steps,
        ));
        let status = cx.fail(d);
        return Some(ObligationResult {
            obligation: Obligation::Reverse,
            name,
            cases: i + 1,
            discarded,
            status,
            note,
        });
    }
    Some(ObligationResult {
        obligation: Obligation::Reverse,
        name,
        cases,
        discarded,
        status: Status::Passed,
        note,
    })
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

/// One case: reverse `new`, check the old state's type, then each clause in order.
fn run(cx: &Cx<'_>, parts: &Parts<'_>, new: &Value) -> Outcome {
    if breaks_new_only_clause(cx, parts, new) {
        return Outcome::Discarded;
    }
    let old = match cx.eval.eval_transform(parts.reverse, new) {
        Ok(old) => old,
        Err(e) => return Outcome::Failed(Failure::Reverse(e)),
    };
    if let Err(reason) = conforms(&old, &parts.old_ty, cx.model) {
        return Outcome::Failed(Failure::Shape { old, reason });
    }
    let Some(inv) = parts.invariant else {
        return Outcome::Held;
    };
    let env = Env::new()
        .bind(inv.old.name.clone(), old.clone())
        .bind(inv.new.name.clone(), new.clone());
    for (index, clause) in inv.clauses.iter().enumerate() {
        match cx.eval.eval_expr(clause, &env, &mut NoHost) {
            Ok(Value::Bool(true)) => {}
            Ok(Value::Bool(false)) => return Outcome::Failed(Failure::False { old, index }),
            Ok(other) => {
                let error = EvalError::runtime(
                    clause.span,
                    format!(
                        "an invariant clause must be a bool, got {}",
                        other.kind_name()
                    ),
                );
                return Outcome::Failed(Failure::Error { old, index, error });
            }
            Err(error) => return Outcome::Failed(Failure::Error { old, index, error }),
        }
    }
    Outcome::Held
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
    let model = cx.model;
    let file = model.file;
    let t = parts.reverse;
    let at = Span::new(t.span.start, t.new.span.end);
    let clause_span = |index: usize| {
        parts
            .invariant
            .and_then(|inv| inv.clauses.get(index))
            .map_or(at, |c| c.span)
    };
    let made = match origin {
        Origin::Forward => "the transform of a generated old state",
        Origin::Written => "the transform of a generated old state, then written to",
        Origin::Generated => "generated",
    };
    let new_note = format!("new state ({made}): {new}");
    let code = codes::VERIFY_REVERSE_BROKEN;
    match failure {
        Failure::Reverse(e) => {
            Diagnostic::new(code, file, at, "the reverse transform fails on a new state")
                .label("this reverse transform fails on the new state in the notes")
                .also(error_span(&e, at), e.to_string())
                .note(new_note)
        }
        Failure::Shape { old, reason } => Diagnostic::new(
            code,
            file,
            at,
            format!(
                "the reverse transform gives a state that is not a version {} state",
                model.old.number
            ),
        )
        .label(reason)
        .note(new_note)
        .note(format!("old state given back: {old}")),
        Failure::False { old, index } => Diagnostic::new(
            code,
            file,
            at,
            "the state a rollback gives breaks the invariant with the state it came from",
        )
        .label("the old state this reverse transform gives is not related to the new one")
        .also(clause_span(index), "this clause is false")
        .note(new_note)
        .note(format!("old state given back: {old}")),
        Failure::Error { old, index, error } => Diagnostic::new(
            code,
            file,
            at,
            "the invariant cannot be evaluated on the state this reverse transform gives",
        )
        .label("the old state this reverse transform gives breaks the invariant")
        .also(error_span(&error, clause_span(index)), error.to_string())
        .note(new_note)
        .note(format!("old state given back: {old}")),
    }
}
