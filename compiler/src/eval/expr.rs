//! Evaluation of expressions: one function per kind of expression, and closure application.
//! Every evaluated expression takes one step and one level of depth from the budget.

use std::collections::BTreeMap;
use std::sync::Arc;

use lang::ast::{Arm, BinOp, Expr, ExprKind, FieldInit, Ident, Lit, Quantifier};
use lang::Span;

use super::builtins;
use super::env::Env;
use super::ops;
use super::value::{Closure, Value};
use super::{EvalError, Evaluator, Host};

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
    pub(super) fn eval(&self, expr: &Expr, env: &Env, host: &mut dyn Host) -> Result<Value, EvalError> {
        let _depth = self.budget.enter(expr.span)?;
        let span = expr.span;
        match &expr.kind {
            ExprKind::Lit(lit) => Ok(lit_value(lit)),
            ExprKind::Var(id) => self.eval_var(id, env),
            ExprKind::Variant { path, payload } => {
                self.eval_variant(path, payload.as_deref(), env, host)
            }
            ExprKind::Field(e, name) => self.eval_field(e, name, env, host),
            ExprKind::Index(e, k) => self.eval_index(e, k, span, env, host),
            ExprKind::Builtin { name, args } => self.eval_builtin(name, args, span, env, host),
            ExprKind::Delegate { method, args } => {
                let args = self.eval_all(args, env, host)?;
                host.call(&method.name, args).map_err(|e| e.located(span))
            }
            ExprKind::Disallow(reason) => {
                Err(EvalError::Disallowed { reason: reason.clone(), span })
            }
            ExprKind::Record { path, fields } => self.eval_record(path, fields, env, host),
            ExprKind::Tuple(items) => Ok(Value::Tuple(self.eval_all(items, env, host)?)),
            ExprKind::List(items) => Ok(Value::List(self.eval_all(items, env, host)?)),
            ExprKind::Unary(op, e) => ops::unary(*op, self.eval(e, env, host)?, span),
            ExprKind::Binary(op, a, b) => self.eval_binary(*op, a, b, span, env, host),
            ExprKind::If { cond, then, otherwise } => {
                let branch = if self.eval_bool(cond, "an `if` condition", env, host)? {
                    then
                } else {
                    otherwise
                };
                self.eval(branch, env, host)
            }
            ExprKind::Match { scrutinee, arms } => self.eval_match(scrutinee, arms, span, env, host),
            ExprKind::Let { name, value, body } => {
                let v = self.eval(value, env, host)?;
                self.eval(body, &env.bind(name.name.clone(), v), host)
            }
            ExprKind::Closure { params, body } => Ok(Value::Closure(Closure {
                params: params.iter().map(|p| p.name.clone()).collect(),
                body: self.shared_body(body),
                env: env.clone(),
            })),
            ExprKind::Quant { kind, var, domain, body } => {
                self.eval_quant(*kind, var, domain, body, env, host)
            }
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
            return Err(EvalError::runtime(
                span,
                format!(
                    "the closure takes {} argument{}, got {}",
                    closure.params.len(),
                    if closure.params.len() == 1 { "" } else { "s" },
                    args.len()
                ),
            ));
        }
        let env = closure.env.bind_all(closure.params.iter().cloned().zip(args));
        self.eval(&closure.body, &env, host)
    }

    /// The body of a closure expression as a shared AST, cloned once per top-level evaluation.
    fn shared_body(&self, body: &Expr) -> Arc<Expr> {
        let key = body as *const Expr as usize;
        let mut cache = self.closure_bodies.borrow_mut();
        cache.entry(key).or_insert_with(|| Arc::new(body.clone())).clone()
    }

    fn eval_all(&self, exprs: &[Expr], env: &Env, host: &mut dyn Host) -> Result<Vec<Value>, EvalError> {
        exprs.iter().map(|e| self.eval(e, env, host)).collect()
    }

    fn eval_bool(&self, expr: &Expr, what: &str, env: &Env, host: &mut dyn Host) -> Result<bool, EvalError> {
        match self.eval(expr, env, host)? {
            Value::Bool(b) => Ok(b),
            other => Err(EvalError::runtime(
                expr.span,
                format!("{what} must be a bool, got {}", other.kind_name()),
            )),
        }
    }

    /// A variable; a name bound nowhere but declared as a variant is that payload-less variant.
    fn eval_var(&self, id: &Ident, env: &Env) -> Result<Value, EvalError> {
        if let Some(v) = env.lookup(&id.name) {
            return Ok(v.clone());
        }
        if self.is_variant_name(&id.name) {
            let enum_name = self.owner_of(&id.name).unwrap_or_default();
            return Ok(Value::variant(enum_name, id.name.clone(), None));
        }
        Err(EvalError::runtime(id.span, format!("unknown variable `{}`", id.name)))
    }

    fn eval_variant(
        &self,
        path: &[Ident],
        payload: Option<&Expr>,
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

    fn eval_field(&self, e: &Expr, name: &Ident, env: &Env, host: &mut dyn Host) -> Result<Value, EvalError> {
        let v = self.eval(e, env, host)?;
        match v {
            Value::Record { name: rname, mut fields } => match fields.remove(&name.name) {
                Some(f) => Ok(f),
                None => Err(EvalError::runtime(
                    name.span,
                    format!("record `{rname}` has no field `{}`", name.name),
                )),
            },
            Value::Tuple(items) => {
                let len = items.len();
                match name.name.parse::<usize>().ok().and_then(|i| items.into_iter().nth(i)) {
                    Some(item) => Ok(item),
                    None => Err(EvalError::runtime(
                        name.span,
                        format!("a tuple of {len} elements has no field `{}`", name.name),
                    )),
                }
            }
            other => Err(EvalError::runtime(
                name.span,
                format!("cannot take field `{}` of {}", name.name, other.kind_name()),
            )),
        }
    }

    fn eval_index(
        &self,
        e: &Expr,
        k: &Expr,
        span: Span,
        env: &Env,
        host: &mut dyn Host,
    ) -> Result<Value, EvalError> {
        let container = self.eval(e, env, host)?;
        let key = self.eval(k, env, host)?;
        match (container, key) {
            (Value::Map(mut m), key) => match m.remove(&key) {
                Some(v) => Ok(v),
                None => Err(EvalError::runtime(span, format!("key `{key}` not found"))),
            },
            (Value::List(items), Value::Int(i)) => {
                let len = items.len();
                match usize::try_from(i).ok().and_then(|i| items.into_iter().nth(i)) {
                    Some(v) => Ok(v),
                    None => Err(EvalError::runtime(
                        span,
                        format!("index {i} is out of range for a list of length {len}"),
                    )),
                }
            }
            (Value::List(_), key) => Err(EvalError::runtime(
                span,
                format!("a list index must be an int, got {}", key.kind_name()),
            )),
            (other, _) => Err(EvalError::runtime(span, format!("cannot index {}", other.kind_name()))),
        }
    }

    fn eval_builtin(
        &self,
        name: &Ident,
        args: &[Expr],
        span: Span,
        env: &Env,
        host: &mut dyn Host,
    ) -> Result<Value, EvalError> {
        let values = self.eval_all(args, env, host)?;
        if builtins::is_builtin(&name.name) {
            return builtins::call(self, &name.name, values, span, host);
        }
        // `Circle(1.0)`: a single-name call of a declared variant constructs it.
        if self.is_variant_name(&name.name) {
            let enum_name = self.owner_of(&name.name).unwrap_or_default();
            let mut values = values;
            let payload = match values.len() {
                0 => None,
                1 => values.pop(),
                _ => Some(Value::Tuple(values)),
            };
            return Ok(Value::variant(enum_name, name.name.clone(), payload));
        }
        Err(EvalError::runtime(name.span, format!("unknown built-in `{}`", name.name)))
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

    fn eval_binary(
        &self,
        op: BinOp,
        a: &Expr,
        b: &Expr,
        span: Span,
        env: &Env,
        host: &mut dyn Host,
    ) -> Result<Value, EvalError> {
        match op {
            BinOp::And => {
                let r = self.eval_bool(a, "an operand of `&&`", env, host)?
                    && self.eval_bool(b, "an operand of `&&`", env, host)?;
                Ok(Value::Bool(r))
            }
            BinOp::Or => {
                let r = self.eval_bool(a, "an operand of `||`", env, host)?
                    || self.eval_bool(b, "an operand of `||`", env, host)?;
                Ok(Value::Bool(r))
            }
            _ => {
                let x = self.eval(a, env, host)?;
                let y = self.eval(b, env, host)?;
                ops::binary(op, x, y, span)
            }
        }
    }

    fn eval_match(
        &self,
        scrutinee: &Expr,
        arms: &[Arm],
        span: Span,
        env: &Env,
        host: &mut dyn Host,
    ) -> Result<Value, EvalError> {
        let v = self.eval(scrutinee, env, host)?;
        for arm in arms {
            let mut binds = Vec::new();
            if self.match_pattern(&arm.pattern, &v, &mut binds) {
                return self.eval(&arm.body, &env.bind_all(binds), host);
            }
        }
        Err(EvalError::runtime(span, format!("no arm of the `match` matches `{v}`")))
    }

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
        let what = match kind {
            Quantifier::Forall => "the body of `forall`",
            Quantifier::Exists => "the body of `exists`",
        };
        for item in items {
            let holds = self.eval_bool(body, what, &env.bind(var.name.clone(), item), host)?;
            match (kind, holds) {
                (Quantifier::Forall, false) => return Ok(Value::Bool(false)),
                (Quantifier::Exists, true) => return Ok(Value::Bool(true)),
                _ => {}
            }
        }
        Ok(Value::Bool(kind == Quantifier::Forall))
    }
}
