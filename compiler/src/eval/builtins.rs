//! The built-in functions of the language (`keys(m)`, `m.keys()`, `xs.map(|x| ..)`, ...).
//! Method syntax `x.f(a)` is the same call as `f(x, a)`. Arguments arrive evaluated; closures
//! passed to a built-in are applied through the evaluator.

use std::collections::BTreeMap;

use lang::Span;

use super::ops::int_result;
use super::value::{float_text, Closure, Value};
use super::{EvalError, Evaluator, Host};

/// Every built-in function name.
pub const BUILTIN_NAMES: &[&str] = &[
    "keys",
    "values",
    "entries",
    "len",
    "contains",
    "contains_key",
    "get",
    "insert",
    "remove",
    "map",
    "map_values",
    "filter",
    "to_map",
    "to_set",
    "to_list",
    "some",
    "unwrap_or",
    "is_some",
    "is_none",
    "and_then",
    "any",
    "all",
    "sum",
    "concat",
    "to_string",
    "i64",
    "u64",
    "f64",
    "min",
    "max",
];

/// Whether `name` is a built-in function.
pub fn is_builtin(name: &str) -> bool {
    BUILTIN_NAMES.contains(&name)
}

/// One call of a built-in: what errors need to name, and what closures need to run.
struct Call<'a, 'e, 's> {
    ev: &'a Evaluator<'s>,
    name: &'a str,
    span: Span,
    host: &'e mut dyn Host,
}

impl Call<'_, '_, '_> {
    fn err(&self, message: impl std::fmt::Display) -> EvalError {
        EvalError::runtime(self.span, format!("`{}` {message}", self.name))
    }

    fn args<const N: usize>(&self, args: Vec<Value>) -> Result<[Value; N], EvalError> {
        let got = args.len();
        <[Value; N]>::try_from(args).map_err(|_| {
            self.err(format_args!(
                "takes {N} argument{}, got {got}",
                if N == 1 { "" } else { "s" }
            ))
        })
    }

    fn wrong(&self, expected: &str, pos: usize, got: &Value) -> EvalError {
        self.err(format_args!("expects {expected} as argument {pos}, got {}", got.kind_name()))
    }

    fn map_arg(&self, v: Value, pos: usize) -> Result<BTreeMap<Value, Value>, EvalError> {
        match v {
            Value::Map(m) => Ok(m),
            other => Err(self.wrong("a map", pos, &other)),
        }
    }

    fn list_arg(&self, v: Value, pos: usize) -> Result<Vec<Value>, EvalError> {
        match v {
            Value::List(l) => Ok(l),
            other => Err(self.wrong("a list", pos, &other)),
        }
    }

    fn option_arg(&self, v: Value, pos: usize) -> Result<Option<Value>, EvalError> {
        match v {
            Value::Option(o) => Ok(o.map(|b| *b)),
            other => Err(self.wrong("an option", pos, &other)),
        }
    }

    fn closure_arg(&self, v: Value, pos: usize) -> Result<Closure, EvalError> {
        match v {
            Value::Closure(c) => Ok(c),
            other => Err(self.wrong("a closure", pos, &other)),
        }
    }

    /// A list or set argument as its elements (a set in order), and whether it was a set.
    fn collection_arg(&self, v: Value, pos: usize) -> Result<(Vec<Value>, bool), EvalError> {
        match v {
            Value::List(l) => Ok((l, false)),
            Value::Set(s) => Ok((s.into_iter().collect(), true)),
            other => Err(self.wrong("a list or set", pos, &other)),
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

/// Calls the built-in `name` (which [`is_builtin`]) on evaluated arguments.
pub(super) fn call(
    ev: &Evaluator<'_>,
    name: &str,
    args: Vec<Value>,
    span: Span,
    host: &mut dyn Host,
) -> Result<Value, EvalError> {
    let mut c = Call { ev, name, span, host };
    match name {
        "keys" => {
            let [m] = c.args(args)?;
            Ok(Value::Set(c.map_arg(m, 1)?.into_keys().collect()))
        }
        "values" => {
            let [m] = c.args(args)?;
            Ok(Value::List(c.map_arg(m, 1)?.into_values().collect()))
        }
        "entries" => {
            let [m] = c.args(args)?;
            let m = c.map_arg(m, 1)?;
            Ok(Value::List(m.into_iter().map(|(k, v)| Value::Tuple(vec![k, v])).collect()))
        }
        "len" => {
            let [x] = c.args(args)?;
            match x {
                Value::List(l) => Ok(count(l.len())),
                Value::Set(s) => Ok(count(s.len())),
                Value::Map(m) => Ok(count(m.len())),
                Value::Str(s) => Ok(count(s.chars().count())),
                Value::Bytes(b) => Ok(count(b.len())),
                other => Err(c.wrong("a list, set, map, string or bytes", 1, &other)),
            }
        }
        "contains" => {
            let [xs, x] = c.args(args)?;
            match xs {
                Value::List(l) => Ok(Value::Bool(l.contains(&x))),
                Value::Set(s) => Ok(Value::Bool(s.contains(&x))),
                other => Err(c.wrong("a list or set", 1, &other)),
            }
        }
        "contains_key" => {
            let [m, k] = c.args(args)?;
            Ok(Value::Bool(c.map_arg(m, 1)?.contains_key(&k)))
        }
        "get" => {
            let [m, k] = c.args(args)?;
            Ok(Value::Option(c.map_arg(m, 1)?.remove(&k).map(Box::new)))
        }
        "insert" => {
            let [m, k, v] = c.args(args)?;
            let mut m = c.map_arg(m, 1)?;
            m.insert(k, v);
            Ok(Value::Map(m))
        }
        "remove" => {
            let [m, k] = c.args(args)?;
            let mut m = c.map_arg(m, 1)?;
            m.remove(&k);
            Ok(Value::Map(m))
        }
        "map" => {
            let [xs, f] = c.args(args)?;
            let f = c.closure_arg(f, 2)?;
            match xs {
                Value::Option(None) => Ok(Value::Option(None)),
                Value::Option(Some(v)) => Ok(Value::some(c.apply(&f, *v)?)),
                Value::List(l) => {
                    Ok(Value::List(l.into_iter().map(|x| c.apply(&f, x)).collect::<Result<_, _>>()?))
                }
                Value::Set(s) => {
                    Ok(Value::Set(s.into_iter().map(|x| c.apply(&f, x)).collect::<Result<_, _>>()?))
                }
                other => Err(c.wrong("an option, list or set", 1, &other)),
            }
        }
        "map_values" => {
            let [m, f] = c.args(args)?;
            let m = c.map_arg(m, 1)?;
            let f = c.closure_arg(f, 2)?;
            let mut out = BTreeMap::new();
            for (k, v) in m {
                out.insert(k, c.apply(&f, v)?);
            }
            Ok(Value::Map(out))
        }
        "filter" => {
            let [xs, f] = c.args(args)?;
            let (items, is_set) = c.collection_arg(xs, 1)?;
            let f = c.closure_arg(f, 2)?;
            let mut kept = Vec::new();
            for x in items {
                if c.apply_bool(&f, x.clone())? {
                    kept.push(x);
                }
            }
            Ok(if is_set { Value::Set(kept.into_iter().collect()) } else { Value::List(kept) })
        }
        "to_map" => {
            let [xs, f] = c.args(args)?;
            let items = c.list_arg(xs, 1)?;
            let f = c.closure_arg(f, 2)?;
            let mut out = BTreeMap::new();
            for x in items {
                match c.apply(&f, x)? {
                    Value::Tuple(kv) if kv.len() == 2 => {
                        let mut kv = kv.into_iter();
                        if let (Some(k), Some(v)) = (kv.next(), kv.next()) {
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
        "to_set" => {
            let [xs] = c.args(args)?;
            Ok(Value::Set(c.list_arg(xs, 1)?.into_iter().collect()))
        }
        "to_list" => {
            let [s] = c.args(args)?;
            match s {
                Value::Set(s) => Ok(Value::List(s.into_iter().collect())),
                other => Err(c.wrong("a set", 1, &other)),
            }
        }
        "some" => {
            let [x] = c.args(args)?;
            Ok(Value::some(x))
        }
        "unwrap_or" => {
            let [o, default] = c.args(args)?;
            Ok(c.option_arg(o, 1)?.unwrap_or(default))
        }
        "is_some" | "is_none" => {
            let [o] = c.args(args)?;
            let some = c.option_arg(o, 1)?.is_some();
            Ok(Value::Bool(some == (name == "is_some")))
        }
        "and_then" => {
            let [o, f] = c.args(args)?;
            let o = c.option_arg(o, 1)?;
            let f = c.closure_arg(f, 2)?;
            match o {
                None => Ok(Value::Option(None)),
                Some(v) => match c.apply(&f, v)? {
                    r @ Value::Option(_) => Ok(r),
                    other => Err(c.err(format_args!(
                        "expects its closure to return an option, got {}",
                        other.kind_name()
                    ))),
                },
            }
        }
        "any" | "all" => {
            let [xs, f] = c.args(args)?;
            let (items, _) = c.collection_arg(xs, 1)?;
            let f = c.closure_arg(f, 2)?;
            let want = name == "any";
            for x in items {
                if c.apply_bool(&f, x)? == want {
                    return Ok(Value::Bool(want));
                }
            }
            Ok(Value::Bool(!want))
        }
        "sum" => {
            let [xs] = c.args(args)?;
            sum(&c, c.list_arg(xs, 1)?)
        }
        "concat" => {
            let [a, b] = c.args(args)?;
            let mut a = c.list_arg(a, 1)?;
            a.extend(c.list_arg(b, 2)?);
            Ok(Value::List(a))
        }
        "to_string" => {
            let [x] = c.args(args)?;
            match x {
                Value::Int(n) => Ok(Value::Str(n.to_string())),
                Value::Float(f) => Ok(Value::Str(float_text(f))),
                Value::Bool(b) => Ok(Value::Str(b.to_string())),
                s @ Value::Str(_) => Ok(s),
                other => Err(c.wrong("an int, float, bool or string", 1, &other)),
            }
        }
        "i64" => {
            let [x] = c.args(args)?;
            to_int(&c, x, i128::from(i64::MIN), i128::from(i64::MAX))
        }
        "u64" => {
            let [x] = c.args(args)?;
            to_int(&c, x, 0, i128::from(u64::MAX))
        }
        "f64" => {
            let [x] = c.args(args)?;
            match x {
                // Rounds to the nearest float, as `as f64` does.
                Value::Int(n) => Ok(Value::Float(n as f64)),
                other => Err(c.wrong("an int", 1, &other)),
            }
        }
        "min" | "max" => {
            let [a, b] = c.args(args)?;
            match (&a, &b) {
                (Value::Int(_), Value::Int(_))
                | (Value::Float(_), Value::Float(_))
                | (Value::Str(_), Value::Str(_)) => {
                    let a_first = if name == "min" { a <= b } else { a >= b };
                    Ok(if a_first { a } else { b })
                }
                _ => Err(c.err(format_args!(
                    "expects two ints, two floats or two strings, got {} and {}",
                    a.kind_name(),
                    b.kind_name()
                ))),
            }
        }
        _ => Err(EvalError::runtime(span, format!("unknown built-in `{name}`"))),
    }
}

fn sum(c: &Call<'_, '_, '_>, items: Vec<Value>) -> Result<Value, EvalError> {
    let mut items = items.into_iter();
    let Some(first) = items.next() else { return Ok(Value::Int(0)) };
    match first {
        Value::Int(mut total) => {
            for x in items {
                match x {
                    Value::Int(n) => {
                        let next = total.checked_add(n);
                        int_result(next, c.span)?;
                        total = next.unwrap_or(total);
                    }
                    other => return Err(mixed(c, &other, "ints")),
                }
            }
            Ok(Value::Int(total))
        }
        Value::Float(mut total) => {
            for x in items {
                match x {
                    Value::Float(f) => total += f,
                    other => return Err(mixed(c, &other, "floats")),
                }
            }
            Ok(Value::Float(total))
        }
        other => Err(c.err(format_args!(
            "expects a list of ints or floats, got a list of {}",
            other.kind_name()
        ))),
    }
}

fn mixed(c: &Call<'_, '_, '_>, other: &Value, of: &str) -> EvalError {
    c.err(format_args!("expects a list of ints or floats, got {} in a list of {of}", other.kind_name()))
}

/// `i64(x)` / `u64(x)`: an int in `[lo, hi]`, or a float truncated toward zero into it.
fn to_int(c: &Call<'_, '_, '_>, x: Value, lo: i128, hi: i128) -> Result<Value, EvalError> {
    let text = x.to_string();
    let n = match x {
        Value::Int(n) => Some(n),
        // Bounded by 2^64 in magnitude first, so the conversion to i128 is exact.
        Value::Float(f) => {
            let t = f.trunc();
            if t.is_finite() && t > -18_446_744_073_709_551_616.0 && t < 18_446_744_073_709_551_616.0 {
                Some(t as i128)
            } else {
                None
            }
        }
        other => return Err(c.wrong("an int or float", 1, &other)),
    };
    match n {
        Some(n) if (lo..=hi).contains(&n) => Ok(Value::Int(n)),
        _ => Err(c.err(format_args!("argument {text} is out of range"))),
    }
}
