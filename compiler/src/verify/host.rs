//! The host a rule runs against during verification: it answers every `call m(..)` with a
//! value of `m`'s return type in the reachable version, replaying the answers of an earlier
//! run (a tape) where it can, so a failing case can be shrunk and replayed exactly.

use super::conform::conforms;
use super::gen::Generator;
use super::rng::Rng;
use crate::eval::{EvalError, Host, Value};
use crate::model::{ServiceDef, Ty};
use lang::Span;

/// One delegate call and what the host answered.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub method: String,
    pub args: Vec<Value>,
    pub value: Value,
}

impl Answer {
    /// ``call get("a") answered some("")``
    pub fn describe(&self) -> String {
        let args: Vec<String> = self.args.iter().map(ToString::to_string).collect();
        format!(
            "`call {}({})` answered {}",
            self.method,
            args.join(", "),
            self.value
        )
    }
}

/// Where a [`TapeHost`]'s answers come from: the service `call` reaches, the tape to replay and
/// how to generate the answers past its end.
pub(crate) struct Answers<'a> {
    /// Makes the answers past the tape's end, and one the tape has of the wrong type.
    pub gen: &'a Generator<'a>,
    /// The service `call` reaches (`None`: the reachable version has no such service).
    pub service: Option<&'a ServiceDef>,
    /// The reachable version.
    pub version: u64,
    /// The answers of an earlier run, replayed in order.
    pub tape: &'a [Value],
    /// The draws of the generated answers.
    pub rng: Rng,
    /// How big a generated answer gets (0 to [`super::gen::MAX_SIZE`]).
    pub size: u32,
}

/// Answers delegate calls from a tape, then with generated values.
pub(crate) struct TapeHost<'a> {
    from: Answers<'a>,
    /// Calls of this method get this answer, not one from the tape.
    fixed: Option<(&'a str, &'a Value)>,
    /// The answers given from the tape or generated, in order: the tape of a replay.
    used: Vec<(Ty, Value)>,
    /// Every call, in order.
    pub log: Vec<Answer>,
}

impl<'a> TapeHost<'a> {
    /// A host that answers as `from` says, with no method's answer fixed.
    pub fn new(from: Answers<'a>) -> TapeHost<'a> {
        TapeHost {
            from,
            fixed: None,
            used: Vec::new(),
            log: Vec::new(),
        }
    }

    /// Calls of `method` are answered with `value`.
    pub fn answering(mut self, method: &'a str, value: &'a Value) -> TapeHost<'a> {
        self.fixed = Some((method, value));
        self
    }

    /// The answers this run used, as one tuple: the tape to replay it.
    pub fn tape(&self) -> (Ty, Value) {
        let tys = self.used.iter().map(|(t, _)| t.clone()).collect();
        let values = self.used.iter().map(|(_, v)| v.clone()).collect();
        (Ty::Tuple(tys), Value::Tuple(values))
    }
}

impl Host for TapeHost<'_> {
    fn call(&mut self, method: &str, args: Vec<Value>) -> Result<Value, EvalError> {
        let Some(def) = self.from.service.and_then(|s| s.method(method)) else {
            return Err(EvalError::runtime(
                Span::default(),
                format!(
                    "version {} has no method `{method}` to call",
                    self.from.version
                ),
            ));
        };
        let value = match self.fixed {
            Some((m, v)) if m == method => v.clone(),
            _ => {
                let model = self.from.gen.model();
                let replayed = self
                    .from
                    .tape
                    .get(self.used.len())
                    .filter(|v| conforms(v, &def.ret, model).is_ok());
                let value = match replayed {
                    Some(v) => v.clone(),
                    None => {
                        let from = &mut self.from;
                        from.gen.generate(&def.ret, &mut from.rng, from.size)
                    }
                };
                self.used.push((def.ret.clone(), value.clone()));
                value
            }
        };
        self.log.push(Answer {
            method: method.to_string(),
            args,
            value: value.clone(),
        });
        Ok(value)
    }
}

/// The values of a tape item made by [`TapeHost::tape`].
pub(crate) fn tape_values(item: Option<&(Ty, Value)>) -> &[Value] {
    match item {
        Some((_, Value::Tuple(values))) => values,
        _ => &[],
    }
}
