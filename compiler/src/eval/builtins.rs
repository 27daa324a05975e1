//! The built-in functions of the language (`keys(m)`, `m.keys()`, `xs.map(|x| ..)`, ...).
//! Method syntax `x.f(a)` is the same call as `f(x, a)`. Arguments arrive evaluated, borrowed
//! from the scope where possible (`old.entries.contains_key(k)` copies no map); closures passed
//! to a built-in are applied through the evaluator. One small function per built-in keeps
//! native stack frames small when closures nest.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use lang::Span;

use super::ops::int_result;
use super::value::{float_text, Closure, Value};
use super::{arity_error, EvalError, Evaluator, Host};

/// An evaluated argument: borrowed from the scope, or computed.
pub(crate) type Arg<'a> = Cow<'a, Value>;

/// A built-in's implementation.
pub(crate) type Implementation =
    for<'a> fn(&mut Call<'_, '_, '_>, Vec<Arg<'a>>) -> Result<Value, EvalError>;

/// Calls the built-in `name` on evaluated arguments; `span` is the call's.
pub(super) fn call(
    ev: &Evaluator<'_>,
    name: &str,
    args: Vec<Arg<'_>>,
    span: Span,
    host: &mut dyn Host,
) -> Result<Value, EvalError> {
    let Some(builtin) = crate::builtins::lookup(name) else {
        return Err(EvalError::runtime(
            span,
            format!("unknown built-in `{name}`"),
        ));
    };
    (builtin.eval)(
        &mut Call {
            ev,
            name: builtin.name,
            span,
            host,
        },
        args,
    )
}

/// One call of a built-in: what errors need to name, and what closures need to run.
pub(crate) struct Call<'a, 'h, 's> {
    ev: &'a Evaluator<'s>,
    name: &'static str,
    span: Span,
    host: &'h mut dyn Host,
}

impl Call<'_, '_, '_> {
    fn err(&self, message: impl std::fmt::Display) -> EvalError {
        EvalError::runtime(self.span, format!("`{}` {message}", self.name))
    }

    fn args<'v, const N: usize>(&self, args: Vec<Arg<'v>>) -> Result<[Arg<'v>; N], EvalError> {
        let got = args.len();
        <[Arg<'v>; N]>::try_from(args)
            .map_err(|_| arity_error(self.span, format_args!("`{}`", self.name), N, got))
    }

    fn wrong(&self, expected: &str, pos: usize, got: &Value) -> EvalError {
        self.err(format_args!(
            "expects {expected} as argument {pos}, got {}",
            got.kind_name()
        ))
    }

    fn map<'v>(&self, v: &'v Value, pos: usize) -> Result<&'v BTreeMap<Value, Value>, EvalError> {
        match v {
            Value::Map(m) => Ok(m),
            other => Err(self.wrong("a map", pos, other)),
        }
    }

    fn owned_map(&self, v: Arg<'_>, pos: usize) -> Result<BTreeMap<Value, Value>, EvalError> {
        self.map(&v, pos)?;
        match v.into_owned() {
            Value::Map(m) => Ok(m),
            other => Err(self.wrong("a map", pos, &other)),
        }
    }

    fn list<'v>(&self, v: &'v Value, pos: usize) -> Result<&'v [Value], EvalError> {
        match v {
            Value::List(l) => Ok(l),
            other => Err(self.wrong("a list", pos, other)),
        }
    }

    fn option<'v>(&self, v: &'v Value, pos: usize) -> Result<Option<&'v Value>, EvalError> {
        match v {
            Value::Option(o) => Ok(o.as_deref()),
            other => Err(self.wrong("an option", pos, other)),
        }
    }

    fn closure<'v>(&self, v: &'v Value, pos: usize) -> Result<&'v Closure, EvalError> {
        match v {
            Value::Closure(c) => Ok(c),
            other => Err(self.wrong("a closure", pos, other)),
        }
    }

    /// The elements of a list or a set (in order), and whether it is a set.
    fn elements<'v>(&self, v: &'v Value, pos: usize) -> Result<(Vec<&'v Value>, bool), EvalError> {
        match v {
            Value::List(l) => Ok((l.iter().collect(), false)),
            Value::Set(s) => Ok((s.iter().collect(), true)),
            other => Err(self.wrong("a list or set", pos, other)),
        }
    }

    fn apply(&mut self, f: &Closure, arg: Value) -> Result<Value, EvalError> {
        self.ev.apply(f, vec![arg], self.span, &mut *self.host)
    }

    fn apply_bool(&mut self, f: &Closure, arg: Value) -> Result<bool, EvalError> {
        match self.apply(f, arg)? {
            Value::Bool(b) => Ok(b),
            other => Err(self.err(format_args!(
                "expects its closure to return a bool, got {}",
                other.kind_name()
            ))),
        }
    }
}

fn count(n: usize) -> Value {
    Value::Int(i128::try_from(n).unwrap_or(i128::MAX))
}

pub(crate) fn b_keys(c: &mut Call<'_, '_, '_>, args: Vec<Arg<'_>>) -> Result<Value, EvalError> {
    let [m] = c.args(args)?;
    Ok(Value::Set(c.map(&m, 1)?.keys().cloned().collect()))
}

pub(crate) fn b_values(c: &mut Call<'_, '_, '_>, args: Vec<Arg<'_>>) -> Result<Value, EvalError> {
    let [m] = c.args(args)?;
    Ok(Value::List(c.map(&m, 1)?.values().cloned().collect()))
}

pub(crate) fn b_entries(c: &mut Call<'_, '_, '_>, args: Vec<Arg<'_>>) -> Result<Value, EvalError> {
    let [m] = c.args(args)?;
    let m = c.map(&m, 1)?;
    Ok(Value::List(
        m.iter()
            .map(|(k, v)| Value::Tuple(vec![k.clone(), v.clone()]))
            .collect(),
    ))
}

pub(crate) fn b_len(c: &mut Call<'_, '_, '_>, args: Vec<Arg<'_>>) -> Result<Value, EvalError> {
    let [x] = c.args(args)?;
    match &*x {
        Value::List(l) => Ok(count(l.len())),
        Value::Set(s) => Ok(count(s.len())),
        Value::Map(m) => Ok(count(m.len())),
        // Unicode scalar values, not bytes.
        Value::Str(s) => Ok(count(s.chars().count())),
        Value::Bytes(b) => Ok(count(b.len())),
        other => Err(c.wrong("a list, set, map, string or bytes", 1, other)),
    }
}

pub(crate) fn b_contains(c: &mut Call<'_, '_, '_>, args: Vec<Arg<'_>>) -> Result<Value, EvalError> {
    let [xs, x] = c.args(args)?;
    match &*xs {
        Value::List(l) => Ok(Value::Bool(l.contains(&x))),
        Value::Set(s) => Ok(Value::Bool(s.contains(&*x))),
        other => Err(c.wrong("a list or set", 1, other)),
    }
}

pub(crate) fn b_contains_key(
    c: &mut Call<'_, '_, '_>,
    args: Vec<Arg<'_>>,
) -> Result<Value, EvalError> {
    let [m, k] = c.args(args)?;
    Ok(Value::Bool(c.map(&m, 1)?.contains_key(&*k)))
}

pub(crate) fn b_get(c: &mut Call<'_, '_, '_>, args: Vec<Arg<'_>>) -> Result<Value, EvalError> {
    let [m, k] = c.args(args)?;
    Ok(Value::Option(c.map(&m, 1)?.get(&*k).cloned().map(Box::new)))
}

pub(crate) fn b_insert(c: &mut Call<'_, '_, '_>, args: Vec<Arg<'_>>) -> Result<Value, EvalError> {
    let [m, k, v] = c.args(args)?;
    let mut m = c.owned_map(m, 1)?;
    m.insert(k.into_owned(), v.into_owned());
    Ok(Value::Map(m))
}

pub(crate) fn b_remove(c: &mut Call<'_, '_, '_>, args: Vec<Arg<'_>>) -> Result<Value, EvalError> {
    let [m, k] = c.args(args)?;
    let mut m = c.owned_map(m, 1)?;
    m.remove(&*k);
    Ok(Value::Map(m))
}

pub(crate) fn b_map(c: &mut Call<'_, '_, '_>, args: Vec<Arg<'_>>) -> Result<Value, EvalError> {
    let [xs, f] = c.args(args)?;
    let f = c.closure(&f, 2)?;
    match &*xs {
        Value::Option(None) => Ok(Value::Option(None)),
        Value::Option(Some(v)) => Ok(Value::some(c.apply(f, (**v).clone())?)),
        Value::List(l) => {
            let mut out = Vec::with_capacity(l.len());
            for x in l {
                out.push(c.apply(f, x.clone())?);
            }
            Ok(Value::List(out))
        }
        Value::Set(s) => {
            let mut out = BTreeSet::new();
            for x in s {
                out.insert(c.apply(f, x.clone())?);
            }
            Ok(Value::Set(out))
        }
        other => Err(c.wrong("an option, list or set", 1, other)),
    }
}

pub(crate) fn b_map_values(
    c: &mut Call<'_, '_, '_>,
    args: Vec<Arg<'_>>,
) -> Result<Value, EvalError> {
    let [m, f] = c.args(args)?;
    let m = c.map(&m, 1)?;
    let f = c.closure(&f, 2)?;
    let mut out = BTreeMap::new();
    for (k, v) in m {
        out.insert(k.clone(), c.apply(f, v.clone())?);
    }
    Ok(Value::Map(out))
}

pub(crate) fn b_filter(c: &mut Call<'_, '_, '_>, args: Vec<Arg<'_>>) -> Result<Value, EvalError> {
    let [xs, f] = c.args(args)?;
    let (items, is_set) = c.elements(&xs, 1)?;
    let f = c.closure(&f, 2)?;
    let mut kept = Vec::new();
    for x in items {
        if c.apply_bool(f, x.clone())? {
            kept.push(x.clone());
        }
    }
    Ok(if is_set {
        Value::Set(kept.into_iter().collect())
    } else {
        Value::List(kept)
    })
}

pub(crate) fn b_to_map(c: &mut Call<'_, '_, '_>, args: Vec<Arg<'_>>) -> Result<Value, EvalError> {
    let [xs, f] = c.args(args)?;
    let items = c.list(&xs, 1)?;
    let f = c.closure(&f, 2)?;
    let mut out = BTreeMap::new();
    for x in items {
        match c.apply(f, x.clone())? {
            Value::Tuple(kv) if kv.len() == 2 => {
                let mut kv = kv.into_iter();
                if let (Some(k), Some(v)) = (kv.next(), kv.next()) {
                    // Later entries win.
                    out.insert(k, v);
                }
            }
            other => {
                return Err(c.err(format_args!(
                    "expects its closure to return a pair (key, value), got {}",
                    other.kind_name()
                )))
            }
        }
    }
    Ok(Value::Map(out))
}

pub(crate) fn b_to_set(c: &mut Call<'_, '_, '_>, args: Vec<Arg<'_>>) -> Result<Value, EvalError> {
    let [xs] = c.args(args)?;
    Ok(Value::Set(c.list(&xs, 1)?.iter().cloned().collect()))
}

pub(crate) fn b_to_list(c: &mut Call<'_, '_, '_>, args: Vec<Arg<'_>>) -> Result<Value, EvalError> {
    let [s] = c.args(args)?;
    match &*s {
        Value::Set(s) => Ok(Value::List(s.iter().cloned().collect())),
        other => Err(c.wrong("a set", 1, other)),
    }
}

pub(crate) fn b_some(c: &mut Call<'_, '_, '_>, args: Vec<Arg<'_>>) -> Result<Value, EvalError> {
    let [x] = c.args(args)?;
    Ok(Value::some(x.into_owned()))
}

/// The default is evaluated even when unused: arguments are strict.
pub(crate) fn b_unwrap_or(
    c: &mut Call<'_, '_, '_>,
    args: Vec<Arg<'_>>,
) -> Result<Value, EvalError> {
    let [o, default] = c.args(args)?;
    match c.option(&o, 1)? {
        Some(v) => Ok(v.clone()),
        None => Ok(default.into_owned()),
    }
}

pub(crate) fn b_is_some_or_none(
    c: &mut Call<'_, '_, '_>,
    args: Vec<Arg<'_>>,
) -> Result<Value, EvalError> {
    let [o] = c.args(args)?;
    let some = c.option(&o, 1)?.is_some();
    Ok(Value::Bool(some == (c.name == "is_some")))
}

pub(crate) fn b_and_then(c: &mut Call<'_, '_, '_>, args: Vec<Arg<'_>>) -> Result<Value, EvalError> {
    let [o, f] = c.args(args)?;
    let o = c.option(&o, 1)?;
    let f = c.closure(&f, 2)?;
    let Some(v) = o else {
        return Ok(Value::Option(None));
    };
    match c.apply(f, v.clone())? {
        r @ Value::Option(_) => Ok(r),
        other => Err(c.err(format_args!(
            "expects its closure to return an option, got {}",
            other.kind_name()
        ))),
    }
}

/// `any` stops at the first `true`, `all` at the first `false`.
pub(crate) fn b_any_or_all(
    c: &mut Call<'_, '_, '_>,
    args: Vec<Arg<'_>>,
) -> Result<Value, EvalError> {
    let [xs, f] = c.args(args)?;
    let (items, _) = c.elements(&xs, 1)?;
    let f = c.closure(&f, 2)?;
    let decisive = c.name == "any";
    for x in items {
        if c.apply_bool(f, x.clone())? == decisive {
            return Ok(Value::Bool(decisive));
        }
    }
    Ok(Value::Bool(!decisive))
}

/// Ints add left to right with the overflow check of `+`; an empty list sums to `0`.
pub(crate) fn b_sum(c: &mut Call<'_, '_, '_>, args: Vec<Arg<'_>>) -> Result<Value, EvalError> {
    let [xs] = c.args(args)?;
    let items = c.list(&xs, 1)?;
    let mut total = match items.first() {
        None => return Ok(Value::Int(0)),
        Some(Value::Int(_)) => Value::Int(0),
        Some(Value::Float(_)) => Value::Float(0.0),
        Some(other) => {
            return Err(c.err(format_args!(
                "expects a list of ints or floats, got a list of {}",
                other.kind_name()
            )))
        }
    };
    for x in items {
        total = match (total, x) {
            (Value::Int(t), Value::Int(n)) => int_result(t.checked_add(*n), c.span)?,
            (Value::Float(t), Value::Float(f)) => Value::Float(t + f),
            (t, other) => {
                return Err(c.err(format_args!(
                    "expects a list of ints or floats, got {} in a list of {}s",
                    other.kind_name(),
                    t.kind_name()
                )))
            }
        };
    }
    Ok(total)
}

pub(crate) fn b_concat(c: &mut Call<'_, '_, '_>, args: Vec<Arg<'_>>) -> Result<Value, EvalError> {
    let [a, b] = c.args(args)?;
    let tail = c.list(&b, 2)?;
    c.list(&a, 1)?;
    let Value::List(mut out) = a.into_owned() else {
        return Err(c.err("expects a list"));
    };
    out.extend(tail.iter().cloned());
    Ok(Value::List(out))
}

pub(crate) fn b_to_string(
    c: &mut Call<'_, '_, '_>,
    args: Vec<Arg<'_>>,
) -> Result<Value, EvalError> {
    let [x] = c.args(args)?;
    match &*x {
        Value::Int(n) => Ok(Value::Str(n.to_string())),
        Value::Float(f) => Ok(Value::Str(float_text(*f))),
        Value::Bool(b) => Ok(Value::Str(b.to_string())),
        Value::Str(s) => Ok(Value::Str(s.clone())),
        other => Err(c.wrong("an int, float, bool or string", 1, other)),
    }
}

pub(crate) fn b_i64(c: &mut Call<'_, '_, '_>, args: Vec<Arg<'_>>) -> Result<Value, EvalError> {
    let [x] = c.args(args)?;
    to_int(c, &x, i128::from(i64::MIN), i128::from(i64::MAX))
}

pub(crate) fn b_u64(c: &mut Call<'_, '_, '_>, args: Vec<Arg<'_>>) -> Result<Value, EvalError> {
    let [x] = c.args(args)?;
    to_int(c, &x, 0, i128::from(u64::MAX))
}

/// `i64(x)` / `u64(x)`: an int in `[lo, hi]`, or a float truncated toward zero into it.
fn to_int(c: &Call<'_, '_, '_>, x: &Value, lo: i128, hi: i128) -> Result<Value, EvalError> {
    const TWO_TO_64: f64 = 18_446_744_073_709_551_616.0;
    let n = match x {
        Value::Int(n) => Some(*n),
        Value::Float(f) => {
            let t = f.trunc();
            // Bounded to below 2^64 in magnitude first, so the conversion is exact.
            (t.is_finite() && t > -TWO_TO_64 && t < TWO_TO_64).then_some(t as i128)
        }
        other => return Err(c.wrong("an int or float", 1, other)),
    };
    match n {
        Some(n) if (lo..=hi).contains(&n) => Ok(Value::Int(n)),
        _ => Err(c.err(format_args!("argument {x} is out of range"))),
    }
}

/// An int rounds to the nearest float, as `as f64` does; a float is unchanged.
pub(crate) fn b_f64(c: &mut Call<'_, '_, '_>, args: Vec<Arg<'_>>) -> Result<Value, EvalError> {
    let [x] = c.args(args)?;
    match &*x {
        Value::Int(n) => Ok(Value::Float(*n as f64)),
        Value::Float(f) => Ok(Value::Float(*f)),
        other => Err(c.wrong("an int or float", 1, other)),
    }
}

/// Floats by the total order of the language (`-0.0 < 0.0`, NaN above infinity).
pub(crate) fn b_min_or_max(
    c: &mut Call<'_, '_, '_>,
    args: Vec<Arg<'_>>,
) -> Result<Value, EvalError> {
    let [a, b] = c.args(args)?;
    match (&*a, &*b) {
        (Value::Int(_), Value::Int(_))
        | (Value::Float(_), Value::Float(_))
        | (Value::Str(_), Value::Str(_)) => {
            let a_first = if c.name == "min" { a <= b } else { a >= b };
            Ok(if a_first {
                a.into_owned()
            } else {
                b.into_owned()
            })
        }
        (x, y) => Err(c.err(format_args!(
            "expects two ints, two floats or two strings, got {} and {}",
            x.kind_name(),
            y.kind_name()
        ))),
    }
}
