//! Reading variables, fields (`e.f`, `t.0`) and indexes (`m[k]`, `xs[i]`). Chains rooted at a
//! variable (`old.entries[k].value`) are read by reference from the scope, so a quantifier over
//! a big map does not copy the map on every step; only the final value is copied.

use std::borrow::Cow;

use lang::ast::{Expr, ExprKind, Ident};
use lang::Span;

use super::env::Env;
use super::value::Value;
use super::{EvalError, Evaluator, Host};

impl Evaluator<'_> {
    /// Evaluates an expression whose value is only read: variables, fields and indexes are
    /// borrowed from `env` where possible, anything else is evaluated to an owned value.
    pub(super) fn operand<'a>(
        &self,
        expr: &Expr,
        env: &'a Env,
        host: &mut dyn Host,
    ) -> Result<Cow<'a, Value>, EvalError> {
        match &expr.kind {
            ExprKind::Var(_) | ExprKind::Field(..) | ExprKind::Index(..)
                if !self.converts(expr) =>
            {
                let _depth = self.budget.enter(expr.span)?;
                self.access(expr, env, host)
            }
            _ => self.eval(expr, env, host).map(Cow::Owned),
        }
    }

    /// A variable, field or index expression, whose budget is already taken.
    pub(super) fn access<'a>(
        &self,
        expr: &Expr,
        env: &'a Env,
        host: &mut dyn Host,
    ) -> Result<Cow<'a, Value>, EvalError> {
        match &expr.kind {
            ExprKind::Var(id) => match env.lookup(&id.name) {
                Some(v) => Ok(Cow::Borrowed(v)),
                None => Err(EvalError::runtime(
                    id.span,
                    format!("unknown variable `{}`", id.name),
                )),
            },
            ExprKind::Field(e, name) => match self.operand(e, env, host)? {
                Cow::Borrowed(v) => field(v, name).map(Cow::Borrowed),
                Cow::Owned(v) => field(&v, name).map(|f| Cow::Owned(f.clone())),
            },
            ExprKind::Index(e, k) => {
                let base = self.operand(e, env, host)?;
                let key = self.eval(k, env, host)?;
                match base {
                    Cow::Borrowed(v) => index(v, &key, expr.span).map(Cow::Borrowed),
                    Cow::Owned(v) => index(&v, &key, expr.span).map(|x| Cow::Owned(x.clone())),
                }
            }
            _ => self.dispatch(expr, env, host).map(Cow::Owned),
        }
    }
}

/// `v.name`: a record's field, or a tuple's element for a numeric name.
fn field<'v>(v: &'v Value, name: &Ident) -> Result<&'v Value, EvalError> {
    match v {
        Value::Record {
            name: rname,
            fields,
        } => fields.get(&name.name).ok_or_else(|| {
            EvalError::runtime(
                name.span,
                format!("record `{rname}` has no field `{}`", name.name),
            )
        }),
        Value::Tuple(items) => name
            .name
            .parse::<usize>()
            .ok()
            .and_then(|i| items.get(i))
            .ok_or_else(|| {
                EvalError::runtime(
                    name.span,
                    format!(
                        "a tuple of {} elements has no field `{}`",
                        items.len(),
                        name.name
                    ),
                )
            }),
        other => Err(EvalError::runtime(
            name.span,
            format!("cannot take field `{}` of {}", name.name, other.kind_name()),
        )),
    }
}

/// `v[key]`: a map's value, or a list's element.
fn index<'v>(v: &'v Value, key: &Value, span: Span) -> Result<&'v Value, EvalError> {
    match (v, key) {
        (Value::Map(m), key) => m
            .get(key)
            .ok_or_else(|| EvalError::runtime(span, format!("key `{key}` not found"))),
        (Value::List(items), Value::Int(i)) => usize::try_from(*i)
            .ok()
            .and_then(|i| items.get(i))
            .ok_or_else(|| {
                EvalError::runtime(
                    span,
                    format!(
                        "index {i} is out of range for a list of length {}",
                        items.len()
                    ),
                )
            }),
        (Value::List(_), key) => Err(EvalError::runtime(
            span,
            format!("a list index must be an int, got {}", key.kind_name()),
        )),
        (other, _) => Err(EvalError::runtime(
            span,
            format!("cannot index {}", other.kind_name()),
        )),
    }
}
