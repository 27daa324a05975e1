//! What obligations 1 and 4 share: a transform (forward, or reverse for a rollback) gives a
//! state from another; the state it gives must be of its version's state type and satisfy the
//! invariant with the state it came from. How such a case fails, how it shrinks, and its
//! diagnostic.

use super::{error_span, Cx, MAX_SHRINK_RUNS};
use crate::eval::{Env, EvalError, NoHost, Value};
use crate::model::Ty;
use crate::verify::conform::conforms;
use crate::verify::gen::shrink_case;
use crate::verify::wellformed;
use lang::ast::Invariant;
use lang::diagnostic::codes;
use lang::{Diagnostic, Span};

/// Which way a transform goes: which of the invariant's two states it gives.
#[derive(Clone, Copy)]
pub(super) enum Direction {
    /// Gives the new state from the old one.
    Forward,
    /// Gives the old state back from the new one.
    Reverse,
}

/// How a case failed; `given` is the state the transform gave.
pub(super) enum Failure {
    /// The transform itself failed.
    Transform(EvalError),
    /// The state given is not of its version's state type.
    Shape { given: Value, reason: String },
    /// Clause `index` is false between the two states.
    False { given: Value, index: usize },
    /// Clause `index` failed to evaluate.
    Error {
        given: Value,
        index: usize,
        error: EvalError,
    },
    /// The state given breaks its version's `where` clause `index`.
    NotWellFormed { given: Value, index: usize },
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

/// Judges the state a transform gave from `from`: of type `ty`, then each clause of the
/// invariant (if any) in order.
pub(super) fn judge(
    cx: &Cx<'_>,
    direction: Direction,
    from: &Value,
    given: Value,
    ty: &Ty,
    invariant: Option<&Invariant>,
) -> Result<(), Failure> {
    if let Err(reason) = conforms(&given, ty, cx.model) {
        return Err(Failure::Shape { given, reason });
    }
    // A forward case starts from a well-formed old state, so the new state must be
    // well-formed too; a reverse case starts from any new state, so what it gives back is not
    // held to the old version's `where` clauses.
    if let Direction::Forward = direction {
        let version = cx.model.new.number;
        if let Some(index) = wellformed::broken_clause(&cx.eval, cx.model, version, &given) {
            return Err(Failure::NotWellFormed { given, index });
        }
    }
    let Some(inv) = invariant else {
        return Ok(());
    };
    let (old, new) = match direction {
        Direction::Forward => (from.clone(), given.clone()),
        Direction::Reverse => (given.clone(), from.clone()),
    };
    let env = Env::new()
        .bind(inv.old.name.clone(), old)
        .bind(inv.new.name.clone(), new);
    for (index, clause) in inv.clauses.iter().enumerate() {
        match cx.eval.eval_expr(clause, &env, &mut NoHost) {
            Ok(Value::Bool(true)) => {}
            Ok(Value::Bool(false)) => return Err(Failure::False { given, index }),
            Ok(other) => {
                let error = EvalError::runtime(
                    clause.span,
                    format!(
                        "an invariant clause must be a bool, got {}",
                        other.kind_name()
                    ),
                );
                return Err(Failure::Error {
                    given,
                    index,
                    error,
                });
            }
            Err(error) => {
                return Err(Failure::Error {
                    given,
                    index,
                    error,
                })
            }
        }
    }
    Ok(())
}

/// Shrinks the state a failing case started from, keeping to failures of the same key: the
/// smallest state found, its failure, and the steps taken. `run` runs a case.
pub(super) fn shrink(
    cx: &Cx<'_>,
    ty: &Ty,
    from: Value,
    failure: Failure,
    run: impl Fn(&Value) -> Option<Failure>,
) -> (Value, Failure, u32) {
    let key = failure.key();
    let shrunk = shrink_case(
        vec![(ty.clone(), from)],
        cx.model,
        MAX_SHRINK_RUNS,
        |case| {
            let (_, from) = case.first()?;
            match run(from) {
                Some(f) if f.key() == key => Some(case.to_vec()),
                _ => None,
            }
        },
    );
    let from = shrunk
        .case
        .into_iter()
        .next()
        .map_or(Value::Unit, |(_, v)| v);
    let failure = run(&from).unwrap_or(failure);
    (from, failure, shrunk.steps)
}

/// The diagnostic of a failure at `at`; `from_note` shows the state the case started from,
/// `broken` is the message and label when a clause is false.
pub(super) fn diagnostic(
    cx: &Cx<'_>,
    direction: Direction,
    at: Span,
    invariant: Option<&Invariant>,
    from_note: String,
    broken: (&str, &str),
    failure: Failure,
) -> Diagnostic {
    let model = cx.model;
    let (t, (a, from), version, subject, given_note) = match direction {
        Direction::Forward => (
            "transform",
            ("an", "old"),
            model.new.number,
            "the",
            "new state",
        ),
        Direction::Reverse => (
            "reverse transform",
            ("a", "new"),
            model.old.number,
            "the old",
            "old state given back",
        ),
    };
    let code = match direction {
        Direction::Forward => codes::VERIFY_INVARIANT_BROKEN,
        Direction::Reverse => codes::VERIFY_REVERSE_BROKEN,
    };
    let clause_span = |index: usize| {
        invariant
            .and_then(|inv| inv.clauses.get(index))
            .map_or(at, |c| c.span)
    };
    let new = |message: String| Diagnostic::new(code, model.file, at, message);
    let (d, given) = match failure {
        Failure::Transform(e) => {
            return new(format!("the {t} fails on {a} {from} state"))
                .label(format!("this {t} fails on the {from} state in the notes"))
                .also(error_span(&e, at), e.to_string())
                .note(from_note);
        }
        Failure::Shape { given, reason } => (
            new(format!(
                "the {t} gives a state that is not a version {version} state"
            ))
            .label(reason),
            given,
        ),
        Failure::False { given, index } => (
            new(broken.0.to_string())
                .label(broken.1)
                .also(clause_span(index), "this clause is false"),
            given,
        ),
        Failure::NotWellFormed { given, index } => {
            let which = match direction {
                Direction::Forward => "new",
                Direction::Reverse => "old",
            };
            let clause = wellformed::clauses(model, version)
                .and_then(|w| w.clauses.get(index))
                .map_or(at, |c| c.span);
            (
                Diagnostic::new(
                    codes::VERIFY_WELLFORMED_LOST,
                    model.file,
                    at,
                    format!("the {t} gives a state that is not well-formed in version {version}"),
                )
                .label(format!(
                    "this {t} breaks a `where` clause of the {which} state"
                ))
                .also(clause, "this clause is false"),
                given,
            )
        }
        Failure::Error {
            given,
            index,
            error,
        } => (
            new(format!(
                "the invariant cannot be evaluated on the state this {t} gives"
            ))
            .label(format!(
                "{subject} state this {t} gives breaks the invariant"
            ))
            .also(error_span(&error, clause_span(index)), error.to_string()),
            given,
        ),
    };
    d.note(from_note).note(format!("{given_note}: {given}"))
}
