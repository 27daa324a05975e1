//! The reference evaluator: the meaning of the expression language. Rules, transforms and
//! invariants are evaluated here directly on the AST; generated plugin code is differentially
//! tested against it.
//!
//! Evaluation is strict and left to right (arguments, operands, fields), except that `&&`, `||`,
//! `if`, `match` arms and quantifiers evaluate only what they need. Every failure is an
//! [`EvalError`]; nothing panics, and a depth and step budget bounds every evaluation.

mod access;
pub(crate) mod builtins;
mod convert;
mod env;
mod expr;
pub mod json;
mod ops;
mod pattern;
mod value;

#[cfg(test)]
mod tests;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

use lang::ast::{Decl, Expr, Function, Invariant, Rule, Spec, Transform};
use lang::Span;

pub use convert::convert;
pub use env::Env;
pub use value::{Closure, Value};

/// Default limit on nested evaluation: one level per expression inside an expression, and two
/// more per closure application. Sized so that evaluation fits a 2 MiB thread stack in a debug
/// build (about 3.5 KiB of native stack per level at worst), far beyond what specs nest.
pub const MAX_DEPTH: usize = 400;
/// Default limit on evaluation steps (expressions evaluated) per top-level evaluation.
pub const MAX_STEPS: u64 = 50_000_000;

/// Why an evaluation produced no value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// `disallow "reason"` was reached: the call is refused on purpose.
    #[error("disallowed: {reason}")]
    Disallowed { reason: String, span: Span },
    /// Evaluation went wrong: a missing key, overflow, a wrong kind of value, ...
    #[error("{message}")]
    Runtime { message: String, span: Span },
}

impl EvalError {
    /// A runtime error at `span` (hosts may give `Span::default()`: see [`Host`]).
    pub fn runtime(span: Span, message: impl Into<String>) -> EvalError {
        EvalError::Runtime {
            message: message.into(),
            span,
        }
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

/// An environment binding `params` to `args` by position; when their numbers differ, an arity
/// error at `span` naming the callee (`what()`).
fn bind_params(
    span: Span,
    what: impl FnOnce() -> String,
    params: impl ExactSizeIterator<Item = String>,
    args: Vec<Value>,
) -> Result<Env, EvalError> {
    if args.len() != params.len() {
        return Err(arity_error(span, what(), params.len(), args.len()));
    }
    Ok(Env::new().bind_all(params.zip(args)))
}

/// "`what` takes 2 arguments, got 1": a call of a rule, method, function, closure or built-in
/// with the wrong number of arguments.
fn arity_error(span: Span, what: impl fmt::Display, want: usize, got: usize) -> EvalError {
    EvalError::runtime(
        span,
        format!(
            "{what} takes {want} argument{}, got {got}",
            if want == 1 { "" } else { "s" }
        ),
    )
}

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
        Err(EvalError::runtime(
            Span::default(),
            "`call` is not available here",
        ))
    }
}

/// Evaluates the expressions of one spec.
#[derive(Debug)]
pub struct Evaluator<'s> {
    spec: &'s Spec,
    /// Enum name -> variant names, over all versions.
    enums: BTreeMap<String, BTreeSet<String>>,
    /// Every variant name of every enum.
    variant_names: BTreeSet<String>,
    /// The helper functions by name (the first of a name, as the checker keeps).
    functions: BTreeMap<&'s str, &'s Function>,
    budget: Budget,
    /// Closure bodies already shared, by address of their AST node. Only valid while the
    /// evaluation that filled it runs (its AST is borrowed for that long); see `session`.
    closure_bodies: RefCell<HashMap<usize, Arc<Expr>>>,
    /// Checked expression types, when built from a model: integers are `Int(i128)` here, so
    /// results are range-checked against their static type (`u64` below zero is an overflow,
    /// as in generated code).
    expr_types: Option<&'s HashMap<lang::ast::ExprId, crate::model::Ty>>,
    /// Values used as the other version's under renamed fields, when built from a model.
    conversions: Option<(
        &'s HashMap<lang::ast::ExprId, crate::model::Conversion>,
        &'s crate::model::NamedConversions,
    )>,
}

#[derive(Debug)]
struct Budget {
    depth: Cell<usize>,
    steps: Cell<u64>,
    max_depth: usize,
    max_steps: u64,
}

/// Holds some depth; gives it back when dropped.
struct DepthGuard<'a> {
    depth: &'a Cell<usize>,
    amount: usize,
}

impl Drop for DepthGuard<'_> {
    fn drop(&mut self) {
        self.depth.set(self.depth.get().saturating_sub(self.amount));
    }
}

impl Budget {
    /// One step and one level of depth, for evaluating one expression.
    fn enter(&self, span: Span) -> Result<DepthGuard<'_>, EvalError> {
        let steps = self.steps.get().saturating_add(1);
        self.steps.set(steps);
        if steps > self.max_steps {
            return Err(EvalError::runtime(
                span,
                format!("evaluation took more than {} steps", self.max_steps),
            ));
        }
        self.weigh(1, span)
    }

    /// `amount` levels of depth.
    fn weigh(&self, amount: usize, span: Span) -> Result<DepthGuard<'_>, EvalError> {
        let depth = self.depth.get().saturating_add(amount);
        if depth > self.max_depth {
            return Err(EvalError::runtime(
                span,
                format!("evaluation nested deeper than {} levels", self.max_depth),
            ));
        }
        self.depth.set(depth);
        Ok(DepthGuard {
            depth: &self.depth,
            amount,
        })
    }
}

impl<'s> Evaluator<'s> {
    /// An evaluator for the expressions of `spec`, with the default limits.
    pub fn new(spec: &'s Spec) -> Evaluator<'s> {
        let mut enums: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut variant_names = BTreeSet::new();
        for version in spec.versions() {
            for decl in &version.decls {
                if let Decl::Enum(e) = decl {
                    let variants = enums.entry(e.name.name.clone()).or_default();
                    for v in &e.variants {
                        variants.insert(v.name.name.clone());
                        variant_names.insert(v.name.name.clone());
                    }
                }
            }
        }
        let mut functions = BTreeMap::new();
        for f in spec.functions() {
            functions.entry(f.name.name.as_str()).or_insert(f);
        }
        Evaluator {
            spec,
            enums,
            variant_names,
            functions,
            budget: Budget {
                depth: Cell::new(0),
                steps: Cell::new(0),
                max_depth: MAX_DEPTH,
                max_steps: MAX_STEPS,
            },
            closure_bodies: RefCell::new(HashMap::new()),
            expr_types: None,
            conversions: None,
        }
    }

    /// The same evaluator with other limits on nesting depth and on steps per evaluation.
    #[must_use]
    /// An evaluator for a checked spec: integer results are checked against their `i64` or
    /// `u64` type, exactly as compiled plugins check them.
    pub fn for_model(model: &'s crate::model::SpecModel) -> Evaluator<'s> {
        let mut e = Evaluator::new(&model.spec);
        e.expr_types = Some(&model.expr_types);
        e.conversions = Some((&model.conversions, &model.named_conversions));
        e
    }

    /// Makes an integer result fit its static type, as compiled code does: "integer overflow"
    /// when it leaves the range of `i64` or `u64`, and a float when the checker typed it `f64`
    /// (an integer literal in a float context, `sum([])` of floats).
    pub(super) fn fit_static_type(&self, expr: &Expr, value: Value) -> Result<Value, EvalError> {
        let (Some(types), Value::Int(n)) = (self.expr_types, &value) else {
            return Ok(value);
        };
        let fits = match types.get(&expr.id) {
            Some(crate::model::Ty::U64) => *n >= 0 && *n <= i128::from(u64::MAX),
            Some(crate::model::Ty::I64) => *n >= i128::from(i64::MIN) && *n <= i128::from(i64::MAX),
            Some(crate::model::Ty::F64) => return Ok(Value::Float(*n as f64)),
            _ => true,
        };
        if fits {
            Ok(value)
        } else {
            Err(EvalError::runtime(expr.span, "integer overflow"))
        }
    }

    /// `value` of `expr` as the other version's value where the checker found its type to
    /// differ only by renamed fields; as it is otherwise.
    pub(super) fn convert_for(&self, expr: &Expr, value: Value) -> Value {
        match self.conversions {
            Some((at, named)) => match at.get(&expr.id) {
                Some(c) => convert::convert(value, c, named),
                None => value,
            },
            None => value,
        }
    }

    /// Whether `expr`'s value is converted where it is used.
    pub(super) fn converts(&self, expr: &Expr) -> bool {
        self.conversions
            .is_some_and(|(at, _)| at.contains_key(&expr.id))
    }

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
        self.variant_names.contains(name)
    }

    /// Runs one evaluation entered from outside. A top-level one (none running) gets a fresh
    /// step budget; a [`Host`] may re-enter, and then shares the running budget. When done,
    /// the shared closure bodies are forgotten: they are keyed by the address of an AST that
    /// is only borrowed for the call.
    fn session<T>(&self, run: impl FnOnce() -> T) -> T {
        if self.budget.depth.get() == 0 {
            self.budget.steps.set(0);
            self.closure_bodies.borrow_mut().clear();
        }
        let result = run();
        self.closure_bodies.borrow_mut().clear();
        result
    }

    /// Evaluates one expression in `env`; `call` goes to `host`.
    pub fn eval_expr(
        &self,
        expr: &Expr,
        env: &Env,
        host: &mut dyn Host,
    ) -> Result<Value, EvalError> {
        self.session(|| self.eval(expr, env, host))
    }

    /// Applies a `past`/`future` rule to its arguments, bound to its parameters by position.
    pub fn eval_rule(
        &self,
        rule: &Rule,
        args: Vec<Value>,
        host: &mut dyn Host,
    ) -> Result<Value, EvalError> {
        let params = rule.params.iter().map(|p| p.name.clone());
        let what = || format!("rule `{}`", rule.method.name);
        let env = bind_params(rule.span, what, params, args)?;
        self.eval_expr(&rule.body, &env, host)
    }

    /// Runs a method's model on its arguments (bound to the method's parameters by position)
    /// and its version's `state`: the statements in order, each assignment replacing one field
    /// of the state the next ones see. Gives the answer (`()` for a block without a result)
    /// and the state after the call. A model cannot `call`.
    pub fn eval_model(
        &self,
        method: &crate::model::MethodDef,
        args: Vec<Value>,
        state: &Value,
    ) -> Result<(Value, Value), EvalError> {
        let Some(model) = &method.model else {
            return Err(EvalError::runtime(
                method.span,
                format!("method `{}` has no model", method.name.name),
            ));
        };
        let params = method.params.iter().map(|p| p.name.name.clone());
        let what = || format!("method `{}`", method.name.name);
        let env = bind_params(method.span, what, params, args)?;
        self.session(|| self.model(model, env, state))
    }

    /// Runs a model's statements with its parameters bound in `env`.
    fn model(
        &self,
        model: &lang::ast::MethodModel,
        env: Env,
        state: &Value,
    ) -> Result<(Value, Value), EvalError> {
        let state_var = crate::model::STATE_VAR;
        let mut env = env.bind(state_var, state.clone());
        let mut state = state.clone();
        for stmt in &model.stmts {
            match stmt {
                lang::ast::ModelStmt::Let { name, value, .. } => {
                    let v = self.eval(value, &env, &mut NoHost)?;
                    env = env.bind(name.name.clone(), v);
                }
                lang::ast::ModelStmt::Assign { field, value, span } => {
                    let v = self.eval(value, &env, &mut NoHost)?;
                    let Value::Record { fields, .. } = &mut state else {
                        return Err(EvalError::runtime(
                            *span,
                            format!("the state is {}, not a record", state.kind_name()),
                        ));
                    };
                    fields.insert(field.name.clone(), v);
                    env = env.bind(state_var, state.clone());
                }
            }
        }
        let answer = match &model.result {
            Some(e) => self.eval(e, &env, &mut NoHost)?,
            None => Value::Unit,
        };
        Ok((answer, state))
    }

    /// Computes the new state from the old one: a record named `state` with one field per
    /// field of the transform. The transform cannot `call`.
    pub fn eval_transform(&self, t: &Transform, old_state: &Value) -> Result<Value, EvalError> {
        self.session(|| self.transform(t, old_state))
    }

    fn transform(&self, t: &Transform, old_state: &Value) -> Result<Value, EvalError> {
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
        Ok(Value::Record {
            name: "state".into(),
            fields,
        })
    }

    /// Whether the invariant holds between `old` and `new`: every clause, in order, must be
    /// `true` (evaluation stops at the first `false` one). The invariant cannot `call`.
    pub fn eval_invariant(
        &self,
        inv: &Invariant,
        old: &Value,
        new: &Value,
    ) -> Result<bool, EvalError> {
        self.session(|| self.invariant(inv, old, new))
    }

    /// Whether `state` is well-formed by a version's `where { clause* }`: `None` when every
    /// clause holds, else the index of the first that does not.
    pub fn eval_wellformed(
        &self,
        w: &lang::ast::WellFormed,
        state: &Value,
    ) -> Result<Option<usize>, EvalError> {
        self.session(|| {
            let env = Env::new().bind(crate::model::STATE_VAR, state.clone());
            for (i, clause) in w.clauses.iter().enumerate() {
                match self.eval(clause, &env, &mut NoHost)? {
                    Value::Bool(true) => {}
                    Value::Bool(false) => return Ok(Some(i)),
                    other => {
                        return Err(EvalError::runtime(
                            clause.span,
                            format!(
                                "a well-formedness clause must be a bool, got {}",
                                other.kind_name()
                            ),
                        ))
                    }
                }
            }
            Ok(None)
        })
    }

    fn invariant(&self, inv: &Invariant, old: &Value, new: &Value) -> Result<bool, EvalError> {
        let env = Env::new()
            .bind(inv.old.name.clone(), old.clone())
            .bind(inv.new.name.clone(), new.clone());
        for clause in &inv.clauses {
            match self.eval(clause, &env, &mut NoHost)? {
                Value::Bool(true) => {}
                Value::Bool(false) => return Ok(false),
                other => {
                    return Err(EvalError::runtime(
                        clause.span,
                        format!(
                            "an invariant clause must be a bool, got {}",
                            other.kind_name()
                        ),
                    ))
                }
            }
        }
        Ok(true)
    }
}
