//! Unary and binary operators on values (except `&&` and `||`, which short-circuit and live
//! with the expression evaluator), and the integer range check shared with the built-ins.

use std::cmp::Ordering;

use lang::ast::{BinOp, UnOp};
use lang::Span;

use super::value::Value;
use super::EvalError;

/// The smallest integer of any integer type (`i64::MIN`).
const INT_MIN: i128 = i64::MIN as i128;
/// The largest integer of any integer type (`u64::MAX`).
const INT_MAX: i128 = u64::MAX as i128;

/// An integer result, or "integer overflow" when it is outside `[i64::MIN, u64::MAX]` (or the
/// arithmetic itself overflowed, `None`).
pub(super) fn int_result(n: Option<i128>, span: Span) -> Result<Value, EvalError> {
    match n {
        Some(n) if (INT_MIN..=INT_MAX).contains(&n) => Ok(Value::Int(n)),
        _ => Err(EvalError::runtime(span, "integer overflow")),
    }
}

pub(super) fn unary(op: UnOp, v: Value, span: Span) -> Result<Value, EvalError> {
    match (op, v) {
        (UnOp::Neg, Value::Int(n)) => int_result(n.checked_neg(), span),
        (UnOp::Neg, Value::Float(x)) => Ok(Value::Float(-x)),
        (UnOp::Not, Value::Bool(b)) => Ok(Value::Bool(!b)),
        (UnOp::Neg, v) => Err(EvalError::runtime(
            span,
            format!("cannot negate {}", v.kind_name()),
        )),
        (UnOp::Not, v) => Err(EvalError::runtime(
            span,
            format!("`!` needs a bool, got {}", v.kind_name()),
        )),
    }
}

/// A strict binary operator: both operands already evaluated. `&&`/`||` are not handled here.
pub(super) fn binary(op: BinOp, a: Value, b: Value, span: Span) -> Result<Value, EvalError> {
    match op {
        BinOp::Eq => Ok(Value::Bool(a == b)),
        BinOp::Ne => Ok(Value::Bool(a != b)),
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => compare(op, &a, &b, span),
        BinOp::Add => add(a, b, span),
        BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => arith(op, a, b, span),
        BinOp::And | BinOp::Or => Err(EvalError::runtime(
            span,
            format!(
                "`{}` is evaluated lazily, not as a strict operator",
                op.symbol()
            ),
        )),
    }
}

fn mismatch(op: BinOp, a: &Value, b: &Value, span: Span) -> EvalError {
    EvalError::runtime(
        span,
        format!(
            "`{}` cannot be applied to {} and {}",
            op.symbol(),
            a.kind_name(),
            b.kind_name()
        ),
    )
}

fn compare(op: BinOp, a: &Value, b: &Value, span: Span) -> Result<Value, EvalError> {
    let ord = match (a, b) {
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Float(x), Value::Float(y)) => x.total_cmp(y),
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        _ => return Err(mismatch(op, a, b, span)),
    };
    let result = match op {
        BinOp::Lt => ord == Ordering::Less,
        BinOp::Le => ord != Ordering::Greater,
        BinOp::Gt => ord == Ordering::Greater,
        _ => ord != Ordering::Less,
    };
    Ok(Value::Bool(result))
}

fn add(a: Value, b: Value, span: Span) -> Result<Value, EvalError> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => int_result(x.checked_add(y), span),
        (Value::Float(x), Value::Float(y)) => Ok(Value::Float(x + y)),
        (Value::Str(mut x), Value::Str(y)) => {
            x.push_str(&y);
            Ok(Value::Str(x))
        }
        (Value::List(mut x), Value::List(y)) => {
            x.extend(y);
            Ok(Value::List(x))
        }
        (a, b) => Err(mismatch(BinOp::Add, &a, &b, span)),
    }
}

fn arith(op: BinOp, a: Value, b: Value, span: Span) -> Result<Value, EvalError> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => {
            if y == 0 && matches!(op, BinOp::Div | BinOp::Rem) {
                let what = if op == BinOp::Div {
                    "division"
                } else {
                    "remainder"
                };
                return Err(EvalError::runtime(span, format!("{what} by zero")));
            }
            let n = match op {
                BinOp::Sub => x.checked_sub(y),
                BinOp::Mul => x.checked_mul(y),
                BinOp::Div => x.checked_div(y),
                _ => x.checked_rem(y),
            };
            int_result(n, span)
        }
        (Value::Float(x), Value::Float(y)) => Ok(Value::Float(match op {
            BinOp::Sub => x - y,
            BinOp::Mul => x * y,
            BinOp::Div => x / y,
            _ => x % y,
        })),
        (a, b) => Err(mismatch(op, &a, &b, span)),
    }
}
