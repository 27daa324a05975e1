//! Obligation 2: every past and future rule is total. The rule runs on generated arguments of
//! its method; every `call` it makes is answered with a generated value of the called method's
//! return type in the reachable version. It must return a value of its method's return type
//! or disallow the call; a run-time error (a missing key, an overflow) is a failure.

use super::{error_span, found_note, skipped, Case, Cx, MAX_SHRINK_RUNS};
use crate::eval::{EvalError, Value};
use crate::model::{MethodDef, ServiceDef, Ty};
use crate::verify::conform::conforms;
use crate::verify::gen::{shrink_case, Scalars};
use crate::verify::host::{tape_values, Answer, Answers, TapeHost};
use crate::verify::report::{Obligation, ObligationResult};
use crate::verify::resolve::sides;
use crate::verify::rng::Rng;
use lang::ast::{Rule, RuleBlock};
use lang::diagnostic::codes;
use lang::Diagnostic;

/// Salt of the host's random stream within a case.
pub(crate) const HOST_SALT: u64 = 0x686F_7374;

/// How a case came out.
enum Outcome {
    Ok,
    Disallowed,
    /// The rule failed at run time.
    Error(EvalError),
    /// The rule returned a value of another type.
    Shape {
        value: Value,
        reason: String,
    },
}

impl Outcome {
    fn failure_key(&self) -> Option<String> {
        match self {
            Outcome::Ok | Outcome::Disallowed => None,
            Outcome::Error(e) => Some(format!("error {:?}", e.span())),
            Outcome::Shape { .. } => Some("shape".into()),
        }
    }
}

/// One rule under test.
struct Subject<'m> {
    block: &'m RuleBlock,
    rule: &'m Rule,
    method: &'m MethodDef,
    reachable: Option<&'m ServiceDef>,
    reachable_version: u64,
    name: String,
}

pub(crate) fn check(cx: &mut Cx<'_>) -> Vec<ObligationResult> {
    let model = cx.model;
    let mut out = Vec::new();
    for block in model.spec.rule_blocks() {
        let (simulated, reachable) = sides(model, block.kind);
        let service = &block.service.name;
        for rule in &block.rules {
            let name = format!(
                "{} rule `{service}.{}` is total",
                block.kind.keyword(),
                rule.method.name
            );
            let Some(method) = simulated.method(service, &rule.method.name) else {
                out.push(skipped(
                    Obligation::Total,
                    name,
                    format!(
                        "version {} has no method `{service}.{}`",
                        simulated.number, rule.method.name
                    ),
                ));
                continue;
            };
            if method.params.len() != rule.params.len() {
                out.push(skipped(
                    Obligation::Total,
                    name,
                    "the rule binds another number of parameters than its method has",
                ));
                continue;
            }
            let subject = Subject {
                block,
                rule,
                method,
                reachable: reachable.services.get(service),
                reachable_version: reachable.number,
                name,
            };
            out.push(check_rule(cx, &subject));
        }
    }
    out
}

fn check_rule(cx: &mut Cx<'_>, s: &Subject<'_>) -> ObligationResult {
    let cases = cx.options.cases;
    cx.cases(Obligation::Total, s.name.clone(), None, |cx, i| {
        let (mut rng, size) = cx.case(&s.name, i);
        let host_rng = rng.fork(HOST_SALT);
        let mut case: Vec<(Ty, Value)> = s
            .method
            .params
            .iter()
            .map(|p| {
                let value = cx.gen.generate_named(
                    Some(&p.name.name),
                    &p.ty,
                    &mut rng,
                    size,
                    &Scalars::default(),
                );
                (p.ty.clone(), value)
            })
            .collect();
        case.push((Ty::Tuple(Vec::new()), Value::Tuple(Vec::new())));
        let (outcome, case, _) = run(cx, s, &case, host_rng.clone(), size);
        let Some(key) = outcome.failure_key() else {
            return match outcome {
                Outcome::Disallowed => Case::Discarded,
                _ => Case::Held,
            };
        };
        let shrunk = shrink_case(case, cx.model, MAX_SHRINK_RUNS, |c| {
            let (outcome, next, _) = run(cx, s, c, host_rng.clone(), size);
            (outcome.failure_key().as_ref() == Some(&key)).then_some(next)
        });
        let (outcome, case, log) = run(cx, s, &shrunk.case, host_rng, size);
        let d = diagnostic(cx, s, &case, &log, outcome);
        Case::Failed(d.note(found_note(i + 1, cases, shrunk.steps)))
    })
}

/// Runs the rule on a case (the arguments, then the host's tape); gives the outcome, the case
/// with the tape the run used, and the calls made.
fn run(
    cx: &Cx<'_>,
    s: &Subject<'_>,
    case: &[(Ty, Value)],
    rng: Rng,
    size: u32,
) -> (Outcome, Vec<(Ty, Value)>, Vec<Answer>) {
    let n = s.method.params.len();
    let args: Vec<Value> = case.iter().take(n).map(|(_, v)| v.clone()).collect();
    let mut host = TapeHost::new(Answers {
        gen: &cx.gen,
        service: s.reachable,
        version: s.reachable_version,
        tape: tape_values(case.get(n)),
        rng,
        size,
    });
    let outcome = match cx.eval.eval_rule(s.rule, args, &mut host) {
        Ok(value) => match conforms(&value, &s.method.ret, cx.model) {
            Ok(()) => Outcome::Ok,
            Err(reason) => Outcome::Shape { value, reason },
        },
        Err(EvalError::Disallowed { .. }) => Outcome::Disallowed,
        Err(e) => Outcome::Error(e),
    };
    let mut next: Vec<(Ty, Value)> = case.iter().take(n).cloned().collect();
    next.push(host.tape());
    (outcome, next, host.log)
}

/// `key = "a", value = ""`, by the rule's parameter names.
pub(crate) fn describe_args<'v>(rule: &Rule, args: impl IntoIterator<Item = &'v Value>) -> String {
    describe(rule.params.iter().map(|p| p.name.as_str()), args)
}

/// `key = "a", value = ""`, by the method's parameter names.
pub(crate) fn describe_params<'v>(
    method: &MethodDef,
    args: impl IntoIterator<Item = &'v Value>,
) -> String {
    describe(method.params.iter().map(|p| p.name.name.as_str()), args)
}

/// Each parameter name with its argument, or `none` when there are no parameters.
fn describe<'n, 'v>(
    names: impl IntoIterator<Item = &'n str>,
    args: impl IntoIterator<Item = &'v Value>,
) -> String {
    let mut names = names.into_iter().peekable();
    if names.peek().is_none() {
        return "none".into();
    }
    let parts: Vec<String> = names
        .zip(args)
        .map(|(name, v)| format!("{name} = {v}"))
        .collect();
    parts.join(", ")
}

fn diagnostic(
    cx: &Cx<'_>,
    s: &Subject<'_>,
    case: &[(Ty, Value)],
    log: &[Answer],
    outcome: Outcome,
) -> Diagnostic {
    let file = cx.model.file;
    let at = s.rule.method.span;
    let what = format!(
        "{} rule `{}.{}`",
        s.block.kind.keyword(),
        s.block.service.name,
        s.rule.method.name
    );
    let code = codes::VERIFY_RULE_FAILED;
    let d = match outcome {
        Outcome::Error(e) => Diagnostic::new(code, file, at, format!("{what} fails at run time"))
            .label("fails on the arguments in the notes")
            .also(error_span(&e, at), e.to_string()),
        Outcome::Shape { value, reason } => Diagnostic::new(
            code,
            file,
            at,
            format!("{what} returns a value that is not a `{}`", s.method.ret),
        )
        .label(reason)
        .also(
            s.method.span,
            format!("declared to return `{}`", s.method.ret),
        )
        .note(format!("result: {value}")),
        Outcome::Ok | Outcome::Disallowed => Diagnostic::new(
            code,
            file,
            at,
            format!("{what} failed once but not on replay"),
        ),
    };
    let d = d.note(format!(
        "arguments: {}",
        describe_args(s.rule, case.iter().map(|(_, v)| v))
    ));
    log.iter().fold(d, |d, a| d.note(a.describe()))
}
