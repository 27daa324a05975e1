//! Evaluation of expressions: one small function per kind of expression, and closure
//! application. Every evaluated expression takes one step and one level of depth from the
//! budget. Functions here are kept small and free of iterator adapters on the recursive path,
//! so the native stack per level of nesting stays small even in debug builds.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use lang::ast::{Arm, BinOp, Expr, ExprKind, FieldInit, Function, Ident, Lit, Quantifier, UnOp};
use lang::Span;

use super::builtins;
use super::env::Env;
use super::ops;
use super::value::{Closure, Value};
use super::{arity_error, bind_params, EvalError, Evaluator, Host};

/// Extra depth a closure application costs: it runs through several native frames (the
/// built-in, the application, the body), so it weighs more than one nested expression.
const APPLY_DEPTH: usize = 2;

/// The value of a literal.
pub(super) fn lit_value(lit: &Lit) -> Value {
    match lit {
        Lit::Int(n) => Value::Int(i128::from(*n)),
        Lit::Float(x) => Value::Float(*x),
        Lit::Str(s) => Value::Str(s.clone()),
        Lit::Bool(b) => Value::Bool(*b),
        Lit::None => Value::Option(None),
        Lit::Unit => Value::Unit,
    }
}

impl Evaluator<'_> {
    /// Evaluates `expr` within the budget.
    pub(super) fn eval(
        &self,
        expr: &Expr,
        env: &Env,
        host: &mut dyn Host,
    ) -> Result<Value, EvalError> {
        match self.budget.enter(expr.span) {
            Ok(_depth) => {
                let value = self.dispatch(expr, env, host)?;
                let value = self.fit_static_type(expr, value)?;
                Ok(self.convert_for(expr, value))
            }
            Err(e) => Err(e),
        }
    }

    /// One case per kind of expression, each a single call.
    pub(super) fn dispatch(
        &self,
        expr: &Expr,
        env: &Env,
        host: &mut dyn Host,
    ) -> Result<Value, EvalError> {
        match &expr.kind {
            ExprKind::Lit(lit) => Ok(lit_value(lit)),
            ExprKind::Var(_) | ExprKind::Field(..) | ExprKind::Index(..) => {
                self.access(expr, env, host).map(Cow::into_owned)
            }
            ExprKind::Variant { path, payload } => self.eval_variant(path, payload, env, host),
            ExprKind::Builtin { name, args } => self.eval_builtin(expr, name, args, env, host),
            ExprKind::Delegate { method, args } => {
                self.eval_delegate(expr, method, args, env, host)
            }
            ExprKind::Disallow(reason) => Err(disallowed(reason, expr.span)),
            ExprKind::Record { path, fields } => self.eval_record(path, fields, env, host),
            ExprKind::Tuple(items) => Ok(Value::Tuple(self.eval_all(items, env, host)?)),
            ExprKind::List(items) => Ok(Value::List(self.eval_all(items, env, host)?)),
            ExprKind::Map(entries) => self.eval_map(entries, env, host),
            ExprKind::Unary(op, e) => self.eval_unary(expr, *op, e, env, host),
            ExprKind::Binary(BinOp::And | BinOp::Or, a, b) => {
                self.eval_logic(expr, a, b, env, host)
            }
            ExprKind::Binary(op @ (BinOp::Eq | BinOp::Ne), a, b) => {
                self.eval_equality(*op, a, b, env, host)
            }
            ExprKind::Binary(op, a, b) => {
                let x = self.eval(a, env, host)?;
                let y = self.eval(b, env, host)?;
                ops::binary(*op, x, y, expr.span)
            }
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => self.eval_if(cond, then, otherwise, env, host),
            ExprKind::Match { scrutinee, arms } => {
                self.eval_match(expr, scrutinee, arms, env, host)
            }
            ExprKind::Let { name, value, body } => self.eval_let(name, value, body, env, host),
            ExprKind::Closure { params, body } => Ok(self.make_closure(params, body, env)),
            ExprKind::Quant {
                kind,
                var,
                domain,
                body,
            } => self.eval_quant(*kind, var, domain, body, env, host),
        }
    }

    /// Applies a closure to arguments; `span` is where it is applied (for errors).
    pub(super) fn apply(
        &self,
        closure: &Closure,
        args: Vec<Value>,
        span: Span,
        host: &mut dyn Host,
    ) -> Result<Value, EvalError> {
        if args.len() != closure.params.len() {
            return Err(closure_arity(closure, args.len(), span));
        }
        let _weight = self.budget.weigh(APPLY_DEPTH, span)?;
        let mut env = closure.env.clone();
        for (name, value) in closure.params.iter().zip(args) {
            env = env.bind(name.clone(), value);
        }
        self.eval(&closure.body, &env, host)
    }

    /// Evaluates expressions left to right.
    pub(super) fn eval_all(
        &self,
        exprs: &[Expr],
        env: &Env,
        host: &mut dyn Host,
    ) -> Result<Vec<Value>, EvalError> {
        let mut values = Vec::with_capacity(exprs.len());
        for e in exprs {
            values.push(self.eval(e, env, host)?);
        }
        Ok(values)
    }

    fn eval_bool(
        &self,
        expr: &Expr,
        what: &str,
        env: &Env,
        host: &mut dyn Host,
    ) -> Result<bool, EvalError> {
        match self.eval(expr, env, host)? {
            Value::Bool(b) => Ok(b),
            other => Err(EvalError::runtime(
                expr.span,
                format!("{what} must be a bool, got {}", other.kind_name()),
            )),
        }
    }

    fn make_closure(&self, params: &[Ident], body: &Expr, env: &Env) -> Value {
        Value::Closure(Closure {
            params: params.iter().map(|p| p.name.clone()).collect(),
            body: self.shared_body(body),
            env: env.clone(),
        })
    }

    /// The body of a closure expression as a shared AST, cloned once per top-level evaluation.
    fn shared_body(&self, body: &Expr) -> Arc<Expr> {
        let key = body as *const Expr as usize;
        let mut cache = self.closure_bodies.borrow_mut();
        cache
            .entry(key)
            .or_insert_with(|| Arc::new(body.clone()))
            .clone()
    }

    /// `E::V` or `E::V(payload)`: the enum is the second-to-last path segment.
    fn eval_variant(
        &self,
        path: &[Ident],
        payload: &Option<Box<Expr>>,
        env: &Env,
        host: &mut dyn Host,
    ) -> Result<Value, EvalError> {
        let variant = path.last().map(|i| i.name.clone()).unwrap_or_default();
        let enum_name = match path.len().checked_sub(2).and_then(|i| path.get(i)) {
            Some(id) => id.name.clone(),
            None => String::new(),
        };
        let payload = match payload {
            Some(p) => Some(self.eval(p, env, host)?),
            None => None,
        };
        Ok(Value::variant(enum_name, variant, payload))
    }

    fn eval_builtin(
        &self,
        expr: &Expr,
        name: &Ident,
        args: &[Expr],
        env: &Env,
        host: &mut dyn Host,
    ) -> Result<Value, EvalError> {
        if let Some(f) = self.functions.get(name.name.as_str()) {
            let args = self.eval_all(args, env, host)?;
            return self.eval_function(expr, f, args, host);
        }
        let mut values = Vec::with_capacity(args.len());
        for a in args {
            values.push(self.operand(a, env, host)?);
        }
        if crate::builtins::lookup(&name.name).is_none() {
            return Err(EvalError::runtime(
                name.span,
                format!("unknown built-in `{}`", name.name),
            ));
        }
        builtins::call(self, &name.name, values, expr.span, host)
    }

    /// A helper function's body with its parameters bound to `args`, in a scope of its own.
    fn eval_function(
        &self,
        expr: &Expr,
        f: &Function,
        args: Vec<Value>,
        host: &mut dyn Host,
    ) -> Result<Value, EvalError> {
        let params = f.params.iter().map(|p| p.name.name.clone());
        let what = || format!("`{}`", f.name.name);
        let env = bind_params(expr.span, what, params, args)?;
        self.eval(&f.body, &env, host)
    }

    fn eval_delegate(
        &self,
        expr: &Expr,
        method: &Ident,
        args: &[Expr],
        env: &Env,
        host: &mut dyn Host,
    ) -> Result<Value, EvalError> {
        let args = self.eval_all(args, env, host)?;
        host.call(&method.name, args)
            .map_err(|e| e.located(expr.span))
    }

    fn eval_record(
        &self,
        path: &[Ident],
        inits: &[FieldInit],
        env: &Env,
        host: &mut dyn Host,
    ) -> Result<Value, EvalError> {
        let name = path.last().map(|i| i.name.clone()).unwrap_or_default();
        let mut fields = BTreeMap::new();
        for init in inits {
            let v = self.eval(&init.value, env, host)?;
            if fields.insert(init.name.name.clone(), v).is_some() {
                return Err(EvalError::runtime(
                    init.span,
                    format!("field `{}` is given twice", init.name.name),
                ));
            }
        }
        Ok(Value::Record { name, fields })
    }

    /// `{k: v, ...}`: keys and values in the order written; a repeated key keeps its last value.
    fn eval_map(
        &self,
        entries: &[(Expr, Expr)],
        env: &Env,
        host: &mut dyn Host,
    ) -> Result<Value, EvalError> {
        let mut map = std::collections::BTreeMap::new();
        for (k, v) in entries {
            let key = self.eval(k, env, host)?;
            let value = self.eval(v, env, host)?;
            map.insert(key, value);
        }
        Ok(Value::Map(map))
    }

    fn eval_unary(
        &self,
        expr: &Expr,
        op: UnOp,
        e: &Expr,
        env: &Env,
        host: &mut dyn Host,
    ) -> Result<Value, EvalError> {
        let v = self.eval(e, env, host)?;
        ops::unary(op, v, expr.span)
    }

    /// `&&` and `||`: the right operand only when the left does not decide.
    fn eval_logic(
        &self,
        expr: &Expr,
        a: &Expr,
        b: &Expr,
        env: &Env,
        host: &mut dyn Host,
    ) -> Result<Value, EvalError> {
        let (is_and, what) = match &expr.kind {
            ExprKind::Binary(BinOp::And, ..) => (true, "an operand of `&&`"),
            _ => (false, "an operand of `||`"),
        };
        let left = self.eval_bool(a, what, env, host)?;
        if left != is_and {
            return Ok(Value::Bool(left));
        }
        self.eval_bool(b, what, env, host).map(Value::Bool)
    }

    /// `==` and `!=`, structural; compared in place, so `old.entries[k] == new.items[k].value`
    /// copies nothing.
    fn eval_equality(
        &self,
        op: BinOp,
        a: &Expr,
        b: &Expr,
        env: &Env,
        host: &mut dyn Host,
    ) -> Result<Value, EvalError> {
        let x = self.operand(a, env, host)?;
        let y = self.operand(b, env, host)?;
        Ok(Value::Bool((x == y) == (op == BinOp::Eq)))
    }

    fn eval_if(
        &self,
        cond: &Expr,
        then: &Expr,
        otherwise: &Expr,
        env: &Env,
        host: &mut dyn Host,
    ) -> Result<Value, EvalError> {
        if self.eval_bool(cond, "an `if` condition", env, host)? {
            self.eval(then, env, host)
        } else {
            self.eval(otherwise, env, host)
        }
    }

    fn eval_let(
        &self,
        name: &Ident,
        value: &Expr,
        body: &Expr,
        env: &Env,
        host: &mut dyn Host,
    ) -> Result<Value, EvalError> {
        let v = self.eval(value, env, host)?;
        self.eval(body, &env.bind(name.name.clone(), v), host)
    }

    /// The first arm whose pattern matches.
    fn eval_match(
        &self,
        expr: &Expr,
        scrutinee: &Expr,
        arms: &[Arm],
        env: &Env,
        host: &mut dyn Host,
    ) -> Result<Value, EvalError> {
        let v = self.operand(scrutinee, env, host)?;
        for arm in arms {
            let mut binds = Vec::new();
            if self.match_pattern(&arm.pattern, &v, &mut binds) {
                let mut scope = env.clone();
                for (name, value) in binds {
                    scope = scope.bind(name, value);
                }
                return self.eval(&arm.body, &scope, host);
            }
        }
        Err(EvalError::runtime(
            expr.span,
            format!("no arm of the `match` matches `{v}`"),
        ))
    }

    /// `forall x in d: body` / `exists x in d: body` over a list, a set, or a map's keys.
    fn eval_quant(
        &self,
        kind: Quantifier,
        var: &Ident,
        domain: &Expr,
        body: &Expr,
        env: &Env,
        host: &mut dyn Host,
    ) -> Result<Value, EvalError> {
        let items: Vec<Value> = match self.eval(domain, env, host)? {
            Value::List(items) => items,
            Value::Set(items) => items.into_iter().collect(),
            Value::Map(m) => m.into_keys().collect(),
            other => {
                return Err(EvalError::runtime(
                    domain.span,
                    format!(
                        "a quantifier ranges over a list, set or map, got {}",
                        other.kind_name()
                    ),
                ))
            }
        };
        let (what, decisive) = match kind {
            Quantifier::Forall => ("the body of `forall`", false),
            Quantifier::Exists => ("the body of `exists`", true),
        };
        for item in items {
            let scope = env.bind(var.name.clone(), item);
            if self.eval_bool(body, what, &scope, host)? == decisive {
                return Ok(Value::Bool(decisive));
            }
        }
        Ok(Value::Bool(!decisive))
    }
}

fn disallowed(reason: &str, span: Span) -> EvalError {
    EvalError::Disallowed {
        reason: reason.to_string(),
        span,
    }
}

fn closure_arity(closure: &Closure, got: usize, span: Span) -> EvalError {
    arity_error(span, "the closure", closure.params.len(), got)
}
