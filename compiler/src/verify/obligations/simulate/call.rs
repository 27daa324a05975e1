//! One call through a subject from a related pair of states: the rule (or the node's model,
//! for a method passed through) answers with its `call`s answered by the node's models, the
//! caller's model gives the expected answer, and the answer and the invariant are checked.

use crate::eval::{convert, EvalError, Host, Value};
use crate::model::{ServiceDef, Ty};
use crate::verify::conform::conforms;
use crate::verify::obligations::simulate::subject::Subject;
use crate::verify::obligations::Cx;
use crate::verify::wellformed::broken_clause;
use lang::ast::RuleKind;
use lang::Span;

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
pub(super) struct Step {
    pub(super) old: Value,
    pub(super) new: Value,
    pub(super) expected: Value,
    /// `None`: disallowed.
    pub(super) got: Option<Value>,
    pub(super) log: Vec<String>,
}

/// How a call failed.
pub(super) enum Failure {
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
    /// A state after the call breaks its version's `where` clause: the version, the clause.
    WellFormed(Step, u64, usize),
}

impl Failure {
    pub(super) fn key(&self) -> String {
        match self {
            Failure::Model {
                method, version, ..
            } => format!("model {version} {method}"),
            Failure::Rule { error, .. } => format!("rule {:?}", error.span()),
            Failure::Answer(_) => "answer".into(),
            Failure::State(..) => "state".into(),
            Failure::WellFormed(_, version, clause) => format!("wellformed {version} {clause}"),
        }
    }
}

/// A method the case needs has no model (why, in words): the subject cannot be checked.
pub(super) struct Unmodelled(pub(super) String);
/// A generated old state, and the new state the transform makes of it; `None` when they are
/// not related by the invariant (the invariant obligation reports that).
pub(super) fn related_pair(cx: &Cx<'_>, old: &Value) -> Option<(Value, Value)> {
    let model = cx.model;
    if model.old.state.is_none() || model.new.state.is_none() {
        return Some((Value::Unit, Value::Unit));
    }
    // Only well-formed states are cases, on both sides (a shrunk one too).
    if broken_clause(&cx.eval, model, model.old.number, old).is_some() {
        return None;
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
    if broken_clause(&cx.eval, model, model.new.number, &new).is_some() {
        return None;
    }
    holds.then(|| (old.clone(), new))
}

/// The type of a case's second part: `none` for the transform's new state, `some(new)` for
/// a new state varied from it ([`super::vary`]), related to the old one by the invariant.
pub(super) fn varied_ty(cx: &Cx<'_>) -> Ty {
    let new = if cx.model.new.state.is_some() {
        Ty::State(cx.model.new.number)
    } else {
        Ty::Unit
    };
    Ty::Option(Box::new(new))
}

/// The pair of a case: `old` and the transform's new state when `varied` is `none`, else
/// `old` and the varied new state, when the two are related.
pub(super) fn case_pair(cx: &Cx<'_>, old: &Value, varied: &Value) -> Option<(Value, Value)> {
    match varied {
        Value::Option(Some(new)) => {
            super::vary::related(cx, old, new).then(|| (old.clone(), new.as_ref().clone()))
        }
        _ => related_pair(cx, old),
    }
}

/// The type generated for the old state (`()` when the versions keep none).
pub(super) fn old_state_ty(cx: &Cx<'_>) -> Ty {
    if cx.model.old.state.is_some() {
        Ty::State(cx.model.old.number)
    } else {
        Ty::Unit
    }
}

/// One call through `s` from the related states `old`, `new`.
pub(super) fn step(
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
    if !s.answers_allowed()
        && step
            .got
            .as_ref()
            .is_some_and(|g| !same_answer(g, &step.expected, s.differs()))
    {
        return Err(Box::new(Failure::Answer(step)));
    }
    let broken = [
        (cx.model.old.number, &step.old),
        (cx.model.new.number, &step.new),
    ]
    .into_iter()
    .find_map(|(version, state)| {
        broken_clause(&cx.eval, cx.model, version, state).map(|clause| (version, clause))
    });
    if let Some((version, clause)) = broken {
        return Err(Box::new(Failure::WellFormed(step, version, clause)));
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

/// Whether the rule's answer `got` is the model's `expected`, up to the record fields named
/// in the rule's `#[differs(...)]` (at any depth, in both).
pub(super) fn same_answer(got: &Value, expected: &Value, differs: &[String]) -> bool {
    if differs.is_empty() {
        return got == expected;
    }
    erase(got.clone(), differs) == erase(expected.clone(), differs)
}

/// `v` with the record fields named in `names` set to `()`, at any depth.
fn erase(v: Value, names: &[String]) -> Value {
    match v {
        Value::Record { name, fields } => Value::Record {
            name,
            fields: fields
                .into_iter()
                .map(|(k, x)| {
                    if names.contains(&k) {
                        (k, Value::Unit)
                    } else {
                        (k, erase(x, names))
                    }
                })
                .collect(),
        },
        Value::Option(x) => Value::Option(x.map(|x| Box::new(erase(*x, names)))),
        Value::List(xs) => Value::List(xs.into_iter().map(|x| erase(x, names)).collect()),
        Value::Tuple(xs) => Value::Tuple(xs.into_iter().map(|x| erase(x, names)).collect()),
        Value::Set(xs) => Value::Set(xs.into_iter().map(|x| erase(x, names)).collect()),
        Value::Map(m) => Value::Map(
            m.into_iter()
                .map(|(k, x)| (erase(k, names), erase(x, names)))
                .collect(),
        ),
        Value::Variant {
            enum_name,
            variant,
            payload,
        } => Value::Variant {
            enum_name,
            variant,
            payload: payload.map(|p| Box::new(erase(*p, names))),
        },
        other => other,
    }
}
