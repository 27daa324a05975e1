//! Obligation 1: the transform establishes the invariant. On generated old states the
//! transform must run, give a state of the new version's type, and make every invariant
//! clause true. Without a transform the state carries over unchanged; without an invariant
//! only the first two are checked.

use super::{error_span, found_note, skipped, Cx, MAX_SHRINK_RUNS};
use crate::eval::{Env, EvalError, NoHost, Value};
use crate::model::Ty;
use crate::verify::conform::conforms;
use crate::verify::gen::shrink_case;
use crate::verify::report::{Obligation, ObligationResult, Status};
use crate::verify::wellformed;
use lang::ast::{Invariant, Transform};
use lang::diagnostic::codes;
use lang::{Diagnostic, Span};

const NAME: &str = "transform establishes the invariant";

/// How a case failed.
enum Failure {
    /// The transform itself failed.
    Transform(EvalError),
    /// The new state is not of the new version's state type.
    Shape { new: Value, reason: String },
    /// Clause `index` is false.
    False { new: Value, index: usize },
    /// Clause `index` failed to evaluate.
    Error {
        new: Value,
        index: usize,
        error: EvalError,
    },
    /// The new state breaks the new version's `where` clause `index`.
    NotWellFormed { new: Value, index: usize },
}

impl Failure {
    /// Failures with the same key are the same bug: shrinking keeps to it.
    fn key(&self) -> String {
        match self {
            Failure::Transform(e) => format!("transform {:?}", e.span()),
            Failure::Shape { .. } => "shape".into(),
            Failure::False { index, .. } => format!("false {index}"),
            Failure::Error { index, error, .. } => format!("error {index} {:?}", error.span()),
            Failure::NotWellFormed { index, .. } => format!("wellformed {index}"),
        }
    }
}

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
    for i in 0..cases {
        let (mut rng, size) = cx.case(NAME, i);
        let Some(old) = cx.state(model.old.number, &mut rng, size) else {
            continue;
        };
        let Err(failure) = run(cx, &parts, &old) else {
            continue;
        };
        let key = failure.key();
        let shrunk = shrink_case(
            vec![(old_ty.clone(), old)],
            model,
            MAX_SHRINK_RUNS,
            |case| {
                let (_, old) = case.first()?;
                match run(cx, &parts, old) {
                    Err(f) if f.key() == key => Some(case.to_vec()),
                    _ => None,
                }
            },
        );
        let old = shrunk
            .case
            .into_iter()
            .next()
            .map_or(Value::Unit, |(_, v)| v);
        let failure = run(cx, &parts, &old).err().unwrap_or(failure);
        let d = diagnostic(cx, &parts, &old, failure).note(found_note(i + 1, cases, shrunk.steps));
        let status = cx.fail(d);
        return ObligationResult {
            obligation: Obligation::Invariant,
            name,
            cases: i + 1,
            discarded: 0,
            status,
            note,
        };
    }
    ObligationResult {
        obligation: Obligation::Invariant,
        name,
        cases,
        discarded: 0,
        status: Status::Passed,
        note,
    }
}

/// One case: transform `old`, check the new state's type, then each clause in order.
fn run(cx: &Cx<'_>, parts: &Parts<'_>, old: &Value) -> Result<(), Failure> {
    // Only well-formed old states are cases (a shrunk one too).
    if wellformed::broken_clause(&cx.eval, cx.model, cx.model.old.number, old).is_some() {
        return Ok(());
    }
    let new = match parts.transform {
        Some(t) => cx.eval.eval_transform(t, old).map_err(Failure::Transform)?,
        None => old.clone(),
    };
    if let Err(reason) = conforms(&new, &parts.new_ty, cx.model) {
        return Err(Failure::Shape { new, reason });
    }
    if let Some(index) = wellformed::broken_clause(&cx.eval, cx.model, cx.model.new.number, &new) {
        return Err(Failure::NotWellFormed { new, index });
    }
    let Some(inv) = parts.invariant else {
        return Ok(());
    };
    let env = Env::new()
        .bind(inv.old.name.clone(), old.clone())
        .bind(inv.new.name.clone(), new.clone());
    for (index, clause) in inv.clauses.iter().enumerate() {
        match cx.eval.eval_expr(clause, &env, &mut NoHost) {
            Ok(Value::Bool(true)) => {}
            Ok(Value::Bool(false)) => return Err(Failure::False { new, index }),
            Ok(other) => {
                let error = EvalError::runtime(
                    clause.span,
                    format!(
                        "an invariant clause must be a bool, got {}",
                        other.kind_name()
                    ),
                );
                return Err(Failure::Error { new, index, error });
            }
            Err(error) => return Err(Failure::Error { new, index, error }),
        }
    }
    Ok(())
}

fn diagnostic(cx: &Cx<'_>, parts: &Parts<'_>, old: &Value, failure: Failure) -> Diagnostic {
    let model = cx.model;
    let file = model.file;
    let at = match (parts.transform, parts.invariant) {
        (Some(t), _) => Span::new(t.span.start, t.new.span.end),
        (None, Some(inv)) => Span::new(inv.span.start, inv.span.start + "invariant".len()),
        (None, None) => model.spec.header_span,
    };
    let clause_span = |index: usize| {
        parts
            .invariant
            .and_then(|inv| inv.clauses.get(index))
            .map_or(at, |c| c.span)
    };
    let old_note = format!("old state: {old}");
    let code = codes::VERIFY_INVARIANT_BROKEN;
    match failure {
        Failure::Transform(e) => {
            Diagnostic::new(code, file, at, "the transform fails on an old state")
                .label("this transform fails on the old state in the notes")
                .also(error_span(&e, at), e.to_string())
                .note(old_note)
        }
        Failure::Shape { new, reason } => Diagnostic::new(
            code,
            file,
            at,
            format!(
                "the transform gives a state that is not a version {} state",
                model.new.number
            ),
        )
        .label(reason)
        .note(old_note)
        .note(format!("new state: {new}")),
        Failure::False { new, index } => Diagnostic::new(
            code,
            file,
            at,
            "the transform does not establish the invariant",
        )
        .label("the state this transform gives breaks the invariant")
        .also(clause_span(index), "this clause is false")
        .note(old_note)
        .note(format!("new state: {new}")),
        Failure::NotWellFormed { new, index } => {
            let clause = wellformed::clauses(model, model.new.number)
                .and_then(|w| w.clauses.get(index))
                .map_or(at, |c| c.span);
            Diagnostic::new(
                codes::VERIFY_WELLFORMED_LOST,
                file,
                at,
                format!(
                    "the transform gives a state that is not well-formed in version {}",
                    model.new.number
                ),
            )
            .label("this transform breaks a `where` clause of the new state")
            .also(clause, "this clause is false")
            .note(old_note)
            .note(format!("new state: {new}"))
        }
        Failure::Error { new, index, error } => Diagnostic::new(
            code,
            file,
            at,
            "the invariant cannot be evaluated on the state this transform gives",
        )
        .label("the state this transform gives breaks the invariant")
        .also(error_span(&error, clause_span(index)), error.to_string())
        .note(old_note)
        .note(format!("new state: {new}")),
    }
}
