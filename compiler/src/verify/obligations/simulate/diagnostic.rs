//! The diagnostic of a simulation failure: what went wrong, on which states and arguments,
//! with the calls the rule made and their answers in the notes.

use crate::eval::Value;
use crate::verify::obligations::simulate::call::Failure;
use crate::verify::obligations::simulate::subject::Subject;
use crate::verify::obligations::total::{describe_args, describe_params};
use crate::verify::obligations::{error_span, Cx};
use lang::diagnostic::codes;
use lang::{Diagnostic, Span};

/// The states and arguments a failure is shown with.
pub(super) struct Context<'a> {
    pub(super) old: &'a Value,
    pub(super) new: &'a Value,
    pub(super) args: &'a [&'a Value],
}

/// The diagnostic of a failure; `answer_code` is the code of a wrong answer (U0104 for one
/// call, U0106 after a sequence, which also takes the broken states).
pub(super) fn diagnostic(
    cx: &Cx<'_>,
    s: &Subject<'_>,
    c: &Context<'_>,
    failure: Failure,
    answer_code: lang::diagnostic::Code,
    before: Vec<String>,
) -> Diagnostic {
    let file = cx.model.file;
    let what = s.what();
    let cv = s.caller_version(cx);
    let state_code = if answer_code == codes::VERIFY_SIMULATION_ANSWER {
        codes::VERIFY_SIMULATION_STATE
    } else {
        answer_code
    };
    let caller_model = s.caller.model.as_ref().map_or(s.caller.span, |m| m.span);
    let args = match s.rule {
        Some(rule) => describe_args(rule, c.args.iter().copied()),
        None => describe_params(s.caller, c.args.iter().copied()),
    };
    let context = [
        format!("old state: {}", c.old),
        format!("new state: {}", c.new),
        format!("arguments: {args}"),
    ];
    let (d, notes) = match failure {
        Failure::Model {
            method,
            version,
            error,
        } => (
            Diagnostic::new(
                codes::VERIFY_MODEL_FAILED,
                file,
                s.at,
                format!("the model of version {version}'s `{method}` fails at run time"),
            )
            .label(format!("{what} is checked against the models"))
            .also(error_span(&error, s.at), error.to_string()),
            Vec::new(),
        ),
        Failure::Rule {
            expected,
            error,
            mut log,
        } => {
            log.push(format!("the version {cv} model answers {expected}"));
            (
                Diagnostic::new(
                    answer_code,
                    file,
                    s.at,
                    format!("{what} fails where the model of version {cv} answers"),
                )
                .label("fails on the states and arguments in the notes")
                .also(error_span(&error, s.at), error.to_string()),
                log,
            )
        }
        Failure::Answer(step) => {
            let got = step
                .got
                .as_ref()
                .map_or("nothing".into(), ToString::to_string);
            (
                Diagnostic::new(
                    answer_code,
                    file,
                    s.at,
                    format!(
                        "{what} answers otherwise than the version {cv} model of `{}`",
                        s.caller.name.name
                    ),
                )
                .label(format!("answers {got}"))
                .also(caller_model, format!("the model answers {}", step.expected)),
                step.log,
            )
        }
        Failure::WellFormed(step, version, clause) => {
            let at = crate::verify::wellformed::clauses(cx.model, version)
                .and_then(|w| w.clauses.get(clause))
                .map_or(s.at, |c| c.span);
            let mut notes = step.log;
            notes.push(format!("old state after: {}", step.old));
            notes.push(format!("new state after: {}", step.new));
            (
                Diagnostic::new(
                    codes::VERIFY_WELLFORMED_LOST,
                    file,
                    s.at,
                    format!(
                        "after a call through {what} the version {version} state is not well-formed"
                    ),
                )
                .label("the states after this call break a `where` clause")
                .also(at, "this clause is false"),
                notes,
            )
        }
        Failure::State(step, error) => {
            let d = Diagnostic::new(
                state_code,
                file,
                s.at,
                format!(
                    "after a call through {what} the states are no longer related by the invariant"
                ),
            )
            .label("the states after this call break the invariant");
            let d = match (error, cx.model.spec.invariants().next()) {
                (Some(e), Some(inv)) => d.also(error_span(&e, inv.span), e.to_string()),
                (None, Some(inv)) => d.also(
                    Span::new(inv.span.start, inv.span.start + "invariant".len()),
                    "no longer holds",
                ),
                _ => d,
            };
            let answer = step.got.as_ref().map_or("disallowed".into(), |g| {
                format!("answered {g}, as the model")
            });
            let mut notes = step.log;
            notes.push(answer);
            notes.push(format!("old state after: {}", step.old));
            notes.push(format!("new state after: {}", step.new));
            (d, notes)
        }
    };
    before
        .into_iter()
        .chain(context)
        .chain(notes)
        .fold(d, Diagnostic::note)
}
