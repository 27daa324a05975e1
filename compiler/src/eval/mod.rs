//! The reference evaluator: the meaning of the expression language. Rules, transforms and
//! invariants are evaluated here directly on the AST; generated plugin code is differentially
//! tested against it.
//!
//! Evaluation is strict and left to right (arguments, operands, fields), except that `&&`, `||`,
//! `if`, `match` arms and quantifiers evaluate only what they need. Every failure is an
//! [`EvalError`]; nothing panics, and a depth and step budget bounds every evaluation.

mod builtins;
mod env;
mod expr;
mod ops;
mod pattern;
mod value;

#[cfg(test)]
mod tests;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

use lang::ast::{Decl, Expr, Invariant, Rule, Spec, Transform};
use lang::Span;

pub use builtins::{is_builtin, BUILTIN_NAMES};
pub use env::Env;
pub use value::{Closure, Value};

/// Default limit on nested evaluation (expressions inside expressions, closure calls).
pub const MAX_DEPTH: usize = 1_000;
/// Default limit on evaluation steps (expressions evaluated) per top-level evaluation.
pub const MAX_STEPS: u64 = 50_000_000;

/// Why an evaluation produced no value.
#[derive(Debug, Clone, PartialEq)]
pub enum EvalError {
    /// `disallow "reason"` was reached: the call is refused on purpose.
    Disallowed { reason: String, span: Span },
    /// Evaluation went wrong: a missing key, overflow, a wrong kind of value, ...
    Runtime { message: String, span: Span },
}

impl EvalError {
    pub(crate) fn runtime(span: Span, message: impl Into<String>) -> EvalError {
        EvalError::Runtime { message: message.into(), span }
    }

    /// Where it happened.
    pub fn span(&self) -> Span {
        match self {
            EvalError::Disallowed { span, .. } | EvalError::Runtime { span, .. } => *span,
        }
    }

    /// The reason or message, without a prefix.
    pub fn message(&self) -> &str {
        match self {
            EvalError::Disallowed { reason, .. } => reason,
            EvalError::Runtime { message, .. } => message,
        }
    }

    /// Gives an error made without a location (by a [`Host`]) the location `span`.
    fn located(self, span: Span) -> EvalError {
        match self {
            EvalError::Disallowed { reason, span: s } if s == Span::default() => {
                EvalError::Disallowed { reason, span }
            }
            EvalError::Runtime { message, span: s } if s == Span::default() => {
                EvalError::Runtime { message, span }
            }
            other => other,
        }
    }
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::Disallowed { reason, .. } => write!(f, "disallowed: {reason}"),
            EvalError::Runtime { message, .. } => f.write_str(message),
        }
    }
}

impl std::error::Error for EvalError {}

/// The node's own object, reached by `call m(args)`. Errors returned without a span (the
/// default span) are given the span of the `call` expression.
pub trait Host {
    fn call(&mut self, method: &str, args: Vec<Value>) -> Result<Value, EvalError>;
}

impl<F> Host for F
where
    F: FnMut(&str, Vec<Value>) -> Result<Value, EvalError>,
{
    fn call(&mut self, method: &str, args: Vec<Value>) -> Result<Value, EvalError> {
        self(method, args)
    }
}

/// A host for code that may not delegate (transforms, invariants): every `call` is an error.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHost;

impl Host for NoHost {
    fn call(&mut self, _method: &str, _args: Vec<Value>) -> Result<Value, EvalError> {
        Err(EvalError::runtime(Span::default(), "`call` is not available here"))
    }
}

/// Evaluates the expressions of one spec.
#[derive(Debug)]
pub struct Evaluator<'s> {
    spec: &'s Spec,
    /// Enum name -> variant names, over all versions.
    enums: BTreeMap<String, BTreeSet<String>>,
    /// Variant name -> the enums that declare it.
    variant_owners: BTreeMap<String, BTreeSet<String>>,
    budget: Budget,
    /// Closure bodies already shared, by address of their AST node. Only valid during one
    /// top-level evaluation (the AST is borrowed for that long), so it is cleared at its start.
    closure_bodies: RefCell<HashMap<usize, Arc<Expr>>>,
}

#[derive(Debug)]
struct Budget {
    depth: Cell<usize>,
    steps: Cell<u64>,
    max_depth: usize,
    max_steps: u64,
}

/// Holds one level of depth; gives it back when dropped.
struct DepthGuard<'a> {
    depth: &'a Cell<usize>,
}

impl Drop for DepthGuard<'_> {
    fn drop(&mut self) {
        self.depth.set(self.depth.get().saturating_sub(1));
    }
}

impl Budget {
    fn enter(&self, span: Span) -> Result<DepthGuard<'_>, EvalError> {
        let steps = self.steps.get().saturating_add(1);
        self.steps.set(steps);
        if steps > self.max_steps {
            return Err(EvalError::runtime(
                span,
                format!("evaluation took more than {} steps", self.max_steps),
            ));
        }
        let depth = self.depth.get().saturating_add(1);
        if depth > self.max_depth {
            return Err(EvalError::runtime(
                span,
                format!("evaluation nested deeper than {} levels", self.max_depth),
            ));
        }
        self.depth.set(depth);
        Ok(DepthGuard { depth: &self.depth })
    }
}

impl<'s> Evaluator<'s> {
    /// An evaluator for the expressions of `spec`, with the default limits.
    pub fn new(spec: &'s Spec) -> Evaluator<'s> {
        let mut enums: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut variant_owners: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for version in spec.versions() {
            for decl in &version.decls {
                if let Decl::Enum(e) = decl {
                    let variants = enums.entry(e.name.name.clone()).or_default();
                    for v in &e.variants {
                        variants.insert(v.name.name.clone());
                        variant_owners
                            .entry(v.name.name.clone())
                            .or_default()
                            .insert(e.name.name.clone());
                    }
                }
            }
        }
        Evaluator {
            spec,
            enums,
            variant_owners,
            budget: Budget {
                depth: Cell::new(0),
                steps: Cell::new(0),
                max_depth: MAX_DEPTH,
                max_steps: MAX_STEPS,
            },
            closure_bodies: RefCell::new(HashMap::new()),
        }
    }

    /// The same evaluator with other limits on nesting depth and on steps per evaluation.
    #[must_use]
    pub fn with_limits(mut self, max_depth: usize, max_steps: u64) -> Evaluator<'s> {
        self.budget.max_depth = max_depth;
        self.budget.max_steps = max_steps;
        self
    }

    /// The spec whose enums this evaluator knows.
    pub fn spec(&self) -> &'s Spec {
        self.spec
    }

    /// Enum name -> variant names, over all versions of the spec.
    pub fn enums(&self) -> &BTreeMap<String, BTreeSet<String>> {
        &self.enums
    }

    /// Whether some enum of the spec has a variant of this name.
    pub fn is_variant_name(&self, name: &str) -> bool {
        self.variant_owners.contains_key(name)
    }

    /// The enum declaring `variant`, when exactly one does.
    fn owner_of(&self, variant: &str) -> Option<&str> {
        let owners = self.variant_owners.get(variant)?;
        if owners.len() == 1 {
            owners.iter().next().map(String::as_str)
        } else {
            None
        }
    }

    /// Starts a top-level evaluation when none is running (a [`Host`] may re-enter).
    fn start(&self) {
        if self.budget.depth.get() == 0 {
            self.budget.steps.set(0);
            self.closure_bodies.borrow_mut().clear();
        }
    }

    /// Evaluates one expression in `env`; `call` goes to `host`.
    pub fn eval_expr(&self, expr: &Expr, env: &Env, host: &mut dyn Host) -> Result<Value, EvalError> {
        self.start();
        self.eval(expr, env, host)
    }

    /// Applies a `past`/`future` rule to its arguments, bound to its parameters by position.
    pub fn eval_rule(&self, rule: &Rule, args: Vec<Value>, host: &mut dyn Host) -> Result<Value, EvalError> {
        if args.len() != rule.params.len() {
            return Err(EvalError::runtime(
                rule.span,
                format!(
                    "rule `{}` takes {} argument{}, got {}",
                    rule.method.name,
                    rule.params.len(),
                    if rule.params.len() == 1 { "" } else { "s" },
                    args.len()
                ),
            ));
        }
        let env = Env::new().bind_all(rule.params.iter().map(|p| p.name.clone()).zip(args));
        self.eval_expr(&rule.body, &env, host)
    }

    /// Computes the new state from the old one: a record named `state` with one field per
    /// field of the transform. The transform cannot `call`.
    pub fn eval_transform(&self, t: &Transform, old_state: &Value) -> Result<Value, EvalError> {
        self.start();
        let env = Env::new().bind(t.old.name.clone(), old_state.clone());
        let mut fields = BTreeMap::new();
        for init in &t.fields {
            let value = self.eval(&init.value, &env, &mut NoHost)?;
            if fields.insert(init.name.name.clone(), value).is_some() {
                return Err(EvalError::runtime(
                    init.span,
                    format!("field `{}` is assigned twice", init.name.name),
                ));
            }
        }
        Ok(Value::Record { name: "state".into(), fields })
    }

    /// Whether the invariant holds between `old` and `new`: every clause, in order, must be
    /// `true` (evaluation stops at the first `false` one). The invariant cannot `call`.
    pub fn eval_invariant(&self, inv: &Invariant, old: &Value, new: &Value) -> Result<bool, EvalError> {
        self.start();
        let env = Env::new().bind(inv.old.name.clone(), old.clone()).bind(inv.new.name.clone(), new.clone());
        for clause in &inv.clauses {
            match self.eval(clause, &env, &mut NoHost)? {
                Value::Bool(true) => {}
                Value::Bool(false) => return Ok(false),
                other => {
                    return Err(EvalError::runtime(
                        clause.span,
                        format!("an invariant clause must be a bool, got {}", other.kind_name()),
                    ))
                }
            }
        }
        Ok(true)
    }
}
