//! Obligations 5 and 6, wherever methods have models: the simulation obligations.
//!
//! A pair of related states is made as the invariant obligation makes them: a generated old
//! state and the transform's new state (kept when the invariant holds between them). Then,
//! for each past rule, on generated arguments of the old method: the rule runs on the new
//! node, its `call`s answered by the new version's models on the new state, and must answer
//! what the old model answers on the old state, and the invariant must hold between the two
//! states afterwards. Future rules the same way round (the old models answer their `call`s,
//! the new model gives the expected answer). A method unchanged in both versions passes
//! through: the node's model must answer as the caller's. A `disallow` is allowed (counted):
//! the caller's state stays as it was. The sequence obligation then runs a few generated
//! calls in a row through the subjects that passed, from a related pair, and checks the same
//! after each step.
//!
//! Failures are shrunk and reported on the rule: U0104 (another answer), U0105 (the states
//! are no longer related), U0106 (after a sequence), U0107 (a model fails at run time).

use super::{error_span, found_note, Cx, MAX_SHRINK_RUNS};
use crate::eval::{convert, EvalError, Host, Value};
use crate::model::{MethodDef, PassConversion, ServiceDef, Ty};
use crate::verify::conform::conforms;
use crate::verify::gen::shrink_case;
use crate::verify::obligations::total::{describe_args, describe_params};
use crate::verify::report::{Obligation, ObligationResult, Status};
use crate::verify::resolve::sides;
use crate::verify::rng::Rng;
use lang::ast::{Rule, RuleKind};
use lang::diagnostic::codes;
use lang::{Diagnostic, Span};

/// Most calls in one generated sequence.
const MAX_SEQUENCE: u64 = 6;
const SEQUENCE_NAME: &str = "sequences of calls keep the states related";

/// One rule, or one method passed through unchanged, under test.
struct Subject<'m> {
    kind: RuleKind,
    service: &'m str,
    /// `None`: the method did not change and the call passes through to the node's model.
    rule: Option<&'m Rule>,
    /// The caller's method (with its model).
    caller: &'m MethodDef,
    /// A method passed through: the node's version's name for it (another one when it was
    /// renamed), and how its arguments and answer convert between the versions (renamed
    /// fields), as the plugin converts them.
    through: &'m str,
    pass: Option<&'m PassConversion>,
    /// The service of the node's version, whose models answer `call`s.
    node: &'m ServiceDef,
    name: String,
    /// Where diagnostics point.
    at: Span,
    /// The node's version (shown with a renamed method's other name).
    node_number: u64,
}

impl Subject<'_> {
    /// ``past rule `Kv.put` `` or ``unchanged method `Kv.delete` ``
    fn what(&self) -> String {
        match self.rule {
            Some(_) => format!(
                "{} rule `{}.{}`",
                self.kind.keyword(),
                self.service,
                self.caller.name.name
            ),
            None if self.through != self.caller.name.name => format!(
                "unchanged method `{}.{}` (`{}` in version {})",
                self.service, self.caller.name.name, self.through, self.node_number
            ),
            None => format!(
                "unchanged method `{}.{}`",
                self.service, self.caller.name.name
            ),
        }
    }

    /// The rule says `#[allow(verify_simulation_answer)]`: it deliberately answers otherwise
    /// than the model, so only the states are checked.
    fn answers_allowed(&self) -> bool {
        self.allows(codes::VERIFY_SIMULATION_ANSWER)
    }

    /// The rule says `#[allow(verify_simulation_sequence)]`: it deliberately loses what a
    /// later call would show, so it is left out of the sequences.
    fn sequences_allowed(&self) -> bool {
        self.allows(codes::VERIFY_SIMULATION_SEQUENCE)
    }

    fn allows(&self, code: lang::diagnostic::Code) -> bool {
        let name = code.info().map_or("", |i| i.name);
        self.rule
            .is_some_and(|r| r.allow.iter().any(|a| a.name == name))
    }

    fn caller_version(&self, cx: &Cx<'_>) -> u64 {
        match self.kind {
            RuleKind::Past => cx.model.old.number,
            RuleKind::Future => cx.model.new.number,
        }
    }

    fn node_version(&self, cx: &Cx<'_>) -> u64 {
        match self.kind {
            RuleKind::Past => cx.model.new.number,
            RuleKind::Future => cx.model.old.number,
        }
    }
}

/// Answers `call`s with the models of the node's version on its state, which they change.
struct ModelHost<'a, 'm> {
    cx: &'a Cx<'m>,
    service: &'m ServiceDef,
    state: Value,
    /// The calls made and their answers: ``call put("a", "")`` answered ().
    log: Vec<String>,
    /// Set when a call reached a method without a model: the subject cannot be checked.
    unmodelled: Option<String>,
    /// Set when a model failed while answering a call.
    model_error: Option<(String, EvalError)>,
}

impl Host for ModelHost<'_, '_> {
    fn call(&mut self, method: &str, args: Vec<Value>) -> Result<Value, EvalError> {
        let Some(def) = self.service.method(method).filter(|m| m.model.is_some()) else {
            self.unmodelled = Some(method.to_string());
            return Err(EvalError::runtime(
                Span::default(),
                format!("`{method}` has no model"),
            ));
        };
        let shown: Vec<String> = args.iter().map(ToString::to_string).collect();
        match self.cx.eval.eval_model(def, args, &self.state) {
            Ok((answer, state)) => {
                self.log.push(format!(
                    "`call {method}({})` answered {answer} by the model",
                    shown.join(", ")
                ));
                self.state = state;
                Ok(answer)
            }
            Err(e) => {
                self.model_error = Some((method.to_string(), e.clone()));
                Err(e)
            }
        }
    }
}

/// What one call did, with the states after it.
struct Step {
    old: Value,
    new: Value,
    expected: Value,
    /// `None`: disallowed.
    got: Option<Value>,
    log: Vec<String>,
}

/// How a call failed.
enum Failure {
    /// A model failed: the method's name, its version, the error.
    Model {
        method: String,
        version: u64,
        error: EvalError,
    },
    /// The rule failed where the caller's model answered.
    Rule {
        expected: Value,
        error: EvalError,
        log: Vec<String>,
    },
    /// Another answer.
    Answer(Step),
    /// The invariant no longer holds after the call (or cannot be evaluated).
    State(Step, Option<EvalError>),
}

impl Failure {
    fn key(&self) -> String {
        match self {
            Failure::Model {
                method, version, ..
            } => format!("model {version} {method}"),
            Failure::Rule { error, .. } => format!("rule {:?}", error.span()),
            Failure::Answer(_) => "answer".into(),
            Failure::State(..) => "state".into(),
        }
    }
}

/// A method the case needs has no model (why, in words): the subject cannot be checked.
struct Unmodelled(String);

pub(crate) fn check(cx: &mut Cx<'_>) -> Vec<ObligationResult> {
    let model = cx.model;
    let has_models = [&model.old, &model.new]
        .iter()
        .flat_map(|v| v.services.values())
        .flat_map(|s| &s.methods)
        .any(|m| m.model.is_some());
    if !has_models {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut passed = Vec::new();
    let mut left_out = Vec::new();
    for subject in subjects(cx, &mut out) {
        let result = check_subject(cx, &subject);
        if subject.sequences_allowed() {
            left_out.push(subject.what());
        } else if result.passed() {
            passed.push(subject);
        }
        out.push(result);
    }
    let mut sequences = check_sequences(cx, &passed);
    if !left_out.is_empty() && !sequences.skipped() {
        let note = format!("without {}: allowed", left_out.join(", "));
        sequences.note = Some(match sequences.note {
            Some(n) => format!("{n}; {note}"),
            None => note,
        });
    }
    out.push(sequences);
    out
}

/// The rules, in the order of the spec, and the methods passed through unchanged (without a
/// past rule) that have a model in both versions; those with a model in one version only are reported skipped into
/// `out`.
fn subjects<'m>(cx: &Cx<'m>, out: &mut Vec<ObligationResult>) -> Vec<Subject<'m>> {
    let model = cx.model;
    let mut list = Vec::new();
    for block in model.spec.rule_blocks() {
        let (simulated, reachable) = sides(model, block.kind);
        let service = block.service.name.as_str();
        let (Some(callers), Some(node)) = (
            simulated.services.get(service),
            reachable.services.get(service),
        ) else {
            continue;
        };
        for rule in &block.rules {
            let name = format!(
                "{} rule `{service}.{}` simulates the model",
                block.kind.keyword(),
                rule.method.name
            );
            let Some(caller) = callers.method(&rule.method.name) else {
                continue;
            };
            if caller.params.len() != rule.params.len() {
                continue;
            }
            list.push(Subject {
                kind: block.kind,
                service,
                rule: Some(rule),
                caller,
                node,
                name,
                at: rule.method.span,
                through: rule.method.name.as_str(),
                pass: None,
                node_number: reachable.number,
            });
        }
    }
    // Methods passed through unchanged: the node's model must answer as the caller's. The
    // set names a renamed method under both its names; it is paired once, from its old name
    // with its counterpart.
    for (service, method) in &model.unchanged_methods {
        let (Some(old), Some(new)) = (
            model.old.services.get(service),
            model.new.services.get(service),
        ) else {
            continue;
        };
        let (Some(om), Some(nm)) = (
            old.method(method),
            model.counterpart(model.old.number, service, method),
        ) else {
            continue;
        };
        // A past rule kept for it (warned unneeded) answers old callers instead: that rule
        // is the subject.
        let ruled = model
            .spec
            .rule_blocks()
            .filter(|b| b.kind == RuleKind::Past && b.service.name == *service)
            .any(|b| b.rules.iter().any(|r| r.method.name == *method));
        if ruled {
            continue;
        }
        let name = if nm.name.name == om.name.name {
            format!("unchanged method `{service}.{method}` simulates the model")
        } else {
            format!(
                "unchanged method `{service}.{method}` (`{}` in version {}) simulates the model",
                nm.name.name, model.new.number
            )
        };
        match (&om.model, &nm.model) {
            (None, None) => continue,
            (Some(_), Some(_)) => {}
            _ => {
                let (has, lacks) = if om.model.is_some() {
                    (model.old.number, model.new.number)
                } else {
                    (model.new.number, model.old.number)
                };
                out.push(super::skipped(
                    Obligation::Simulation,
                    name,
                    format!("version {has} gives a model, version {lacks} does not"),
                ));
                continue;
            }
        }
        list.push(Subject {
            kind: RuleKind::Past,
            service: old.name.name.as_str(),
            rule: None,
            caller: om,
            node: new,
            name,
            at: nm.name.span,
            through: nm.name.name.as_str(),
            pass: model
                .pass_conversions
                .get(&(model.old.number, service.clone(), method.clone())),
            node_number: model.new.number,
        });
    }
    list
}

/// A generated old state, and the new state the transform makes of it; `None` when they are
/// not related by the invariant (the invariant obligation reports that).
fn related_pair(cx: &Cx<'_>, old: &Value) -> Option<(Value, Value)> {
    let model = cx.model;
    if model.old.state.is_none() || model.new.state.is_none() {
        return Some((Value::Unit, Value::Unit));
    }
    let new = match model.spec.transforms().next() {
        Some(t) => cx.eval.eval_transform(t, old).ok()?,
        None => old.clone(),
    };
    conforms(&new, &Ty::State(model.new.number), model).ok()?;
    let holds = match model.spec.invariants().next() {
        Some(inv) => cx.eval.eval_invariant(inv, old, &new).ok()?,
        None => true,
    };
    holds.then(|| (old.clone(), new))
}

/// The type generated for the old state (`()` when the versions keep none).
fn old_state_ty(cx: &Cx<'_>) -> Ty {
    if cx.model.old.state.is_some() {
        Ty::State(cx.model.old.number)
    } else {
        Ty::Unit
    }
}

/// One call through `s` from the related states `old`, `new`.
fn step(
    cx: &Cx<'_>,
    s: &Subject<'_>,
    args: &[Value],
    old: &Value,
    new: &Value,
) -> Result<Result<Step, Unmodelled>, Box<Failure>> {
    let (caller_state, node_state) = match s.kind {
        RuleKind::Past => (old, new),
        RuleKind::Future => (new, old),
    };
    let mut host = ModelHost {
        cx,
        service: s.node,
        state: node_state.clone(),
        log: Vec::new(),
        unmodelled: None,
        model_error: None,
    };
    let run = match s.rule {
        Some(rule) => cx.eval.eval_rule(rule, args.to_vec(), &mut host),
        None => pass_through(cx, s, args, &mut host),
    };
    if let Some(method) = host.unmodelled.take() {
        return Ok(Err(Unmodelled(format!(
            "`call {method}` reaches version {}'s `{method}`, which has no model",
            s.node_version(cx)
        ))));
    }
    if let Some((method, error)) = host.model_error.take() {
        return Err(Box::new(Failure::Model {
            method,
            version: s.node_version(cx),
            error,
        }));
    }
    // A refused call happens on neither side (the node's model may have run before): the
    // caller's model is not asked, and needs not exist.
    if let Err(EvalError::Disallowed { .. }) = run {
        return finish(cx, s, (caller_state.clone(), Value::Unit, None), host);
    }
    if s.caller.model.is_none() {
        return Ok(Err(Unmodelled(format!(
            "version {}'s `{}` has no model",
            s.caller_version(cx),
            s.caller.name.name
        ))));
    }
    let (expected, caller_after) = cx
        .eval
        .eval_model(s.caller, args.to_vec(), caller_state)
        .map_err(|error| {
            Box::new(Failure::Model {
                method: s.caller.name.name.clone(),
                version: s.caller_version(cx),
                error,
            })
        })?;
    match run {
        Ok(got) => finish(cx, s, (caller_after, expected, Some(got)), host),
        Err(error) => Err(Box::new(Failure::Rule {
            expected,
            error,
            log: host.log,
        })),
    }
}

/// A call passed through to the node's model under its name there, its arguments converted
/// to the node's types and its answer back to the caller's.
fn pass_through(
    cx: &Cx<'_>,
    s: &Subject<'_>,
    args: &[Value],
    host: &mut ModelHost<'_, '_>,
) -> Result<Value, EvalError> {
    let named = &cx.model.named_conversions;
    let Some(pass) = s.pass else {
        return host.call(s.through, args.to_vec());
    };
    let args = args
        .iter()
        .zip(&pass.args)
        .map(|(a, c)| convert(a.clone(), c, named))
        .collect();
    host.call(s.through, args)
        .map(|answer| convert(answer, &pass.ret, named))
}

/// The states after a call (the caller's, the expected answer and the one given, `None` when
/// disallowed), checked: the answer, then the invariant.
fn finish(
    cx: &Cx<'_>,
    s: &Subject<'_>,
    (caller_after, expected, got): (Value, Value, Option<Value>),
    host: ModelHost<'_, '_>,
) -> Result<Result<Step, Unmodelled>, Box<Failure>> {
    let (old_after, new_after) = match s.kind {
        RuleKind::Past => (caller_after, host.state),
        RuleKind::Future => (host.state, caller_after),
    };
    let step = Step {
        old: old_after,
        new: new_after,
        expected,
        got,
        log: host.log,
    };
    if !s.answers_allowed() && step.got.as_ref().is_some_and(|g| *g != step.expected) {
        return Err(Box::new(Failure::Answer(step)));
    }
    if let Some(inv) = cx.model.spec.invariants().next() {
        match cx.eval.eval_invariant(inv, &step.old, &step.new) {
            Ok(true) => {}
            Ok(false) => return Err(Box::new(Failure::State(step, None))),
            Err(e) => return Err(Box::new(Failure::State(step, Some(e)))),
        }
    }
    Ok(Ok(step))
}

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

fn check_subject(cx: &mut Cx<'_>, s: &Subject<'_>) -> ObligationResult {
    let cases = cx.options.cases;
    let state_ty = old_state_ty(cx);
    let mut disallowed = 0;
    let mut unrelated = 0;
    for i in 0..cases {
        let (mut rng, size) = cx.case(&s.name, i);
        let state = cx.gen.generate(&state_ty, &mut rng, size);
        let keys = state_keys(&state);
        let mut case = vec![(state_ty.clone(), state)];
        for p in &s.caller.params {
            let held = if rng.chance(1, 2) {
                pick_fitting(cx, &keys, &p.ty, &mut rng)
            } else {
                None
            };
            let value = held.unwrap_or_else(|| cx.gen.generate(&p.ty, &mut rng, size));
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
                return super::skipped(Obligation::Simulation, s.name.clone(), why);
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

/// Most keys [`state_keys`] collects.
const MAX_KEYS: usize = 64;

/// The map keys of a state, at any depth (ids, emails, the keys of a store). Generated
/// arguments are drawn from them now and then, so a call names what the state holds: a
/// `get(id)` of an independently generated id rarely finds anything, and a rule's handling of
/// what it finds would go unchecked.
fn state_keys(state: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    let mut stack = vec![state];
    while let Some(v) = stack.pop() {
        if out.len() >= MAX_KEYS {
            break;
        }
        match v {
            Value::Map(m) => {
                for (k, x) in m {
                    out.push(k.clone());
                    stack.push(x);
                }
            }
            Value::Record { fields, .. } => stack.extend(fields.values()),
            Value::List(xs) | Value::Tuple(xs) => stack.extend(xs),
            Value::Set(xs) => stack.extend(xs),
            Value::Option(Some(x)) => stack.push(x),
            Value::Variant {
                payload: Some(x), ..
            } => stack.push(x),
            _ => {}
        }
    }
    out
}

/// One of `keys` that is a value of `ty`, if any.
fn pick_fitting(cx: &Cx<'_>, keys: &[Value], ty: &Ty, rng: &mut Rng) -> Option<Value> {
    let fitting: Vec<&Value> = keys
        .iter()
        .filter(|k| conforms(k, ty, cx.model).is_ok())
        .collect();
    rng.pick(&fitting).map(|v| (*v).clone())
}

/// Cases whose generated states the transform did not relate (the invariant obligation
/// reports those).
fn unrelated_note(n: u32) -> Option<String> {
    (n > 0).then(|| format!("{n} generated states not related by the transform, skipped"))
}

/// The states and arguments a failure is shown with.
struct Context<'a> {
    old: &'a Value,
    new: &'a Value,
    args: &'a [&'a Value],
}

/// The diagnostic of a failure; `answer_code` is the code of a wrong answer (U0104 for one
/// call, U0106 after a sequence, which also takes the broken states).
fn diagnostic(
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

// ------------------------------------------------------------------ sequences

/// The type of one step of a sequence through subject `index`: `(enabled, index, args)`.
fn step_ty(s: &Subject<'_>) -> Ty {
    Ty::Tuple(vec![
        Ty::Bool,
        Ty::U64,
        Ty::Tuple(s.caller.params.iter().map(|p| p.ty.clone()).collect()),
    ])
}

/// The enabled steps of a case: the subject's index and the arguments; `None` when a step
/// does not fit its subject (shrinking changed the index).
fn steps_of<'c>(
    cx: &Cx<'_>,
    case: &'c [(Ty, Value)],
    subjects: &[Subject<'_>],
) -> Option<Vec<(usize, &'c [Value])>> {
    let mut out = Vec::new();
    for (_, v) in case.iter().skip(1) {
        let Value::Tuple(parts) = v else { return None };
        let [Value::Bool(enabled), Value::Int(index), Value::Tuple(args)] = parts.as_slice() else {
            return None;
        };
        if !enabled {
            continue;
        }
        let index = usize::try_from(*index).ok()?;
        let s = subjects.get(index)?;
        let fits = args.len() == s.caller.params.len()
            && args
                .iter()
                .zip(&s.caller.params)
                .all(|(a, p)| conforms(a, &p.ty, cx.model).is_ok());
        if !fits {
            return None;
        }
        out.push((index, args.as_slice()));
    }
    Some(out)
}

/// A sequence that went wrong at one call.
struct SeqFailure {
    /// The subject of the failing call.
    subject: usize,
    failure: Failure,
    /// The states before it, the first ones and the calls before it.
    old: Value,
    new: Value,
    args: Vec<Value>,
    first: (Value, Value),
    before: Vec<String>,
}

/// Runs a sequence case `[old state, step...]`; `None` when it proves nothing.
fn run_sequence(
    cx: &Cx<'_>,
    subjects: &[Subject<'_>],
    case: &[(Ty, Value)],
) -> Option<Result<(), SeqFailure>> {
    let (_, old) = case.first()?;
    let (mut old, mut new) = related_pair(cx, old)?;
    let first = (old.clone(), new.clone());
    let mut before = Vec::new();
    for (index, args) in steps_of(cx, case, subjects)? {
        let s = subjects.get(index)?;
        match step(cx, s, args, &old, &new) {
            Ok(Ok(done)) => {
                let shown: Vec<String> = args.iter().map(ToString::to_string).collect();
                let answer = done
                    .got
                    .as_ref()
                    .map_or("disallowed".into(), ToString::to_string);
                before.push(format!(
                    "call {}: {} on ({}) answered {answer}",
                    before.len() + 1,
                    s.what(),
                    shown.join(", ")
                ));
                old = done.old;
                new = done.new;
            }
            Ok(Err(_)) => return None,
            Err(failure) => {
                return Some(Err(SeqFailure {
                    subject: index,
                    failure: *failure,
                    old,
                    new,
                    args: args.to_vec(),
                    first,
                    before,
                }))
            }
        }
    }
    Some(Ok(()))
}

fn check_sequences(cx: &mut Cx<'_>, subjects: &[Subject<'_>]) -> ObligationResult {
    let name = SEQUENCE_NAME.to_string();
    if subjects.is_empty() {
        return super::skipped(
            Obligation::Sequence,
            name,
            "no rule or method both has models and passed its own obligation",
        );
    }
    let cases = cx.options.cases;
    let state_ty = old_state_ty(cx);
    let count = u64::try_from(subjects.len()).unwrap_or(u64::MAX);
    let mut discarded = 0;
    for i in 0..cases {
        let (mut rng, size) = cx.case(SEQUENCE_NAME, i);
        let state = cx.gen.generate(&state_ty, &mut rng, size);
        let keys = state_keys(&state);
        let mut case = vec![(state_ty.clone(), state)];
        let len = 2 + rng.below(MAX_SEQUENCE - 1);
        // Arguments given earlier in the sequence: a later call reuses one of its type three
        // times in four (a `get` of the key a `put` wrote); independent values rarely meet.
        let mut given: Vec<(Ty, Value)> = Vec::new();
        for _ in 0..len {
            let index = rng.below(count);
            let Some(s) = usize::try_from(index).ok().and_then(|i| subjects.get(i)) else {
                continue;
            };
            let mut args = Vec::new();
            for p in &s.caller.params {
                let earlier: Vec<&Value> = given
                    .iter()
                    .filter(|(t, _)| *t == p.ty)
                    .map(|(_, v)| v)
                    .collect();
                let count = u64::try_from(earlier.len()).unwrap_or(u64::MAX);
                let reused = if count > 0 && rng.below(4) != 0 {
                    usize::try_from(rng.below(count))
                        .ok()
                        .and_then(|i| earlier.get(i))
                        .map(|v| (*v).clone())
                } else if rng.chance(1, 2) {
                    pick_fitting(cx, &keys, &p.ty, &mut rng)
                } else {
                    None
                };
                let value = reused.unwrap_or_else(|| cx.gen.generate(&p.ty, &mut rng, size));
                given.push((p.ty.clone(), value.clone()));
                args.push(value);
            }
            case.push((
                step_ty(s),
                Value::Tuple(vec![
                    Value::Bool(true),
                    Value::Int(i128::from(index)),
                    Value::Tuple(args),
                ]),
            ));
        }
        let key = match run_sequence(cx, subjects, &case) {
            None => {
                discarded += 1;
                continue;
            }
            Some(Ok(())) => continue,
            Some(Err(f)) => format!("{} {}", f.subject, f.failure.key()),
        };
        let shrunk = shrink_case(case, cx.model, MAX_SHRINK_RUNS, |c| {
            match run_sequence(cx, subjects, c) {
                Some(Err(f)) if format!("{} {}", f.subject, f.failure.key()) == key => {
                    Some(c.to_vec())
                }
                _ => None,
            }
        });
        let Some(Err(f)) = run_sequence(cx, subjects, &shrunk.case) else {
            continue;
        };
        let Some(s) = subjects.get(f.subject) else {
            continue;
        };
        let args: Vec<&Value> = f.args.iter().collect();
        let context = Context {
            old: &f.old,
            new: &f.new,
            args: &args,
        };
        let calls = f.before.len();
        let mut before = vec![
            format!("first old state: {}", f.first.0),
            format!("first new state: {}", f.first.1),
        ];
        before.extend(f.before);
        let d = diagnostic(
            cx,
            s,
            &context,
            f.failure,
            codes::VERIFY_SIMULATION_SEQUENCE,
            before,
        );
        let d = Diagnostic {
            message: format!(
                "after {calls} call{} that went right: {}",
                if calls == 1 { "" } else { "s" },
                d.message
            ),
            ..d
        };
        let d = d.note(found_note(i + 1, cases, shrunk.steps));
        let status = cx.fail(d);
        return ObligationResult {
            obligation: Obligation::Sequence,
            name,
            cases: i + 1,
            discarded,
            status,
            note: None,
        };
    }
    ObligationResult {
        obligation: Obligation::Sequence,
        name,
        cases,
        discarded,
        status: Status::Passed,
        note: None,
    }
}
