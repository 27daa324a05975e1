//! Runtime values of the reference evaluator: one `Value` type for every type of the language,
//! with a hand-written total order (so values can be set elements and map keys), a spec-like
//! `Display`, and a JSON rendering.
//!
//! Every integer type (`i64` and `u64`) is `Value::Int(i128)` here; the type checker keeps them
//! apart. Records compare by their fields only and variants by variant name and payload only:
//! the declaring type's name is carried for display, not for identity, so a value of version 1
//! and the same value of version 2 are equal.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use lang::ast::Expr;

use super::env::Env;

/// A value of the language.
#[derive(Debug, Clone)]
pub enum Value {
    Unit,
    Bool(bool),
    /// Every integer: `i64` and `u64` alike.
    Int(i128),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Option(Option<Box<Value>>),
    List(Vec<Value>),
    Set(BTreeSet<Value>),
    Map(BTreeMap<Value, Value>),
    Tuple(Vec<Value>),
    Record {
        name: String,
        fields: BTreeMap<String, Value>,
    },
    Variant {
        enum_name: String,
        variant: String,
        payload: Option<Box<Value>>,
    },
    Closure(Closure),
}

/// A closure value: its parameters, its body, and the scope it was created in.
#[derive(Clone)]
pub struct Closure {
    pub params: Vec<String>,
    pub body: Arc<Expr>,
    pub env: Env,
}

impl fmt::Debug for Closure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Closure")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl Value {
    /// `some(v)`.
    pub fn some(v: Value) -> Value {
        Value::Option(Some(Box::new(v)))
    }

    /// `none`.
    pub fn none() -> Value {
        Value::Option(None)
    }

    /// A string value.
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    /// A record value from `(field, value)` pairs.
    pub fn record<N, I, K>(name: N, fields: I) -> Value
    where
        N: Into<String>,
        I: IntoIterator<Item = (K, Value)>,
        K: Into<String>,
    {
        Value::Record {
            name: name.into(),
            fields: fields.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        }
    }

    /// An enum value; `enum_name` may be empty when unknown.
    pub fn variant(
        enum_name: impl Into<String>,
        variant: impl Into<String>,
        payload: Option<Value>,
    ) -> Value {
        Value::Variant {
            enum_name: enum_name.into(),
            variant: variant.into(),
            payload: payload.map(Box::new),
        }
    }

    /// The values directly inside this one: a list's, set's or tuple's elements, a map's keys
    /// then its values, a record's fields, an option's or variant's payload.
    pub fn parts(&self) -> Box<dyn Iterator<Item = &Value> + '_> {
        match self {
            Value::List(xs) | Value::Tuple(xs) => Box::new(xs.iter()),
            Value::Set(xs) => Box::new(xs.iter()),
            Value::Map(m) => Box::new(m.keys().chain(m.values())),
            Value::Record { fields, .. } => Box::new(fields.values()),
            Value::Option(Some(x))
            | Value::Variant {
                payload: Some(x), ..
            } => Box::new(std::iter::once(x.as_ref())),
            _ => Box::new(std::iter::empty()),
        }
    }

    /// What kind of value this is, for error messages: `int`, `list`, `record \`Item\``.
    pub fn kind_name(&self) -> String {
        match self {
            Value::Unit => "unit".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Float(_) => "float".into(),
            Value::Str(_) => "string".into(),
            Value::Bytes(_) => "bytes".into(),
            Value::Option(_) => "option".into(),
            Value::List(_) => "list".into(),
            Value::Set(_) => "set".into(),
            Value::Map(_) => "map".into(),
            Value::Tuple(_) => "tuple".into(),
            Value::Record { name, .. } => format!("record `{name}`"),
            Value::Variant {
                enum_name, variant, ..
            } if enum_name.is_empty() => {
                format!("variant `{variant}`")
            }
            Value::Variant {
                enum_name, variant, ..
            } => format!("variant `{enum_name}::{variant}`"),
            Value::Closure(_) => "closure".into(),
        }
    }

    /// Position of the kind in the order between kinds.
    fn rank(&self) -> u8 {
        match self {
            Value::Unit => 0,
            Value::Bool(_) => 1,
            Value::Int(_) => 2,
            Value::Float(_) => 3,
            Value::Str(_) => 4,
            Value::Bytes(_) => 5,
            Value::Option(_) => 6,
            Value::List(_) => 7,
            Value::Set(_) => 8,
            Value::Map(_) => 9,
            Value::Tuple(_) => 10,
            Value::Record { .. } => 11,
            Value::Variant { .. } => 12,
            Value::Closure(_) => 13,
        }
    }

    /// The value as JSON: records are objects, options `null` or the inner value, maps with
    /// string keys objects and other maps arrays of `[key, value]` pairs, sets, lists and
    /// tuples arrays, variants `"Name"` or `{"Name": payload}`, bytes arrays of numbers.
    /// Non-finite floats, `unit` and closures are `null`.
    /// A map key as JSON object key text.
    pub fn key_text(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::Int(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Variant {
                variant,
                payload: None,
                ..
            } => variant.clone(),
            other => other.to_json().to_string(),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Unit | Value::Closure(_) => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(n) => int_json(*n),
            Value::Float(x) => serde_json::Number::from_f64(*x).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Bytes(b) => J::Array(b.iter().map(|x| J::from(*x)).collect()),
            Value::Option(None) => J::Null,
            Value::Option(Some(v)) => v.to_json(),
            Value::List(items) | Value::Tuple(items) => {
                J::Array(items.iter().map(Value::to_json).collect())
            }
            Value::Set(items) => J::Array(items.iter().map(Value::to_json).collect()),
            // The wire encoding: maps are objects; keys that are not strings are written as
            // text (`1`, `true`, a payload-less variant's name), as compiled plugins do.
            Value::Map(m) => {
                J::Object(m.iter().map(|(k, v)| (k.key_text(), v.to_json())).collect())
            }
            Value::Record { fields, .. } => J::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
            Value::Variant {
                variant,
                payload: None,
                ..
            } => J::String(variant.clone()),
            Value::Variant {
                variant,
                payload: Some(p),
                ..
            } => {
                let mut obj = serde_json::Map::new();
                obj.insert(variant.clone(), p.to_json());
                J::Object(obj)
            }
        }
    }
}

/// An integer as a JSON number; one outside both 64-bit ranges (which evaluation never makes)
/// as a decimal string.
fn int_json(n: i128) -> serde_json::Value {
    if let Ok(i) = i64::try_from(n) {
        serde_json::Value::from(i)
    } else if let Ok(u) = u64::try_from(n) {
        serde_json::Value::from(u)
    } else {
        serde_json::Value::String(n.to_string())
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Value::Unit, Value::Unit) => Ordering::Equal,
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Float(a), Value::Float(b)) => a.total_cmp(b),
            (Value::Str(a), Value::Str(b)) => a.cmp(b),
            (Value::Bytes(a), Value::Bytes(b)) => a.cmp(b),
            (Value::Option(a), Value::Option(b)) => a.cmp(b),
            (Value::List(a), Value::List(b)) | (Value::Tuple(a), Value::Tuple(b)) => a.cmp(b),
            (Value::Set(a), Value::Set(b)) => a.cmp(b),
            (Value::Map(a), Value::Map(b)) => a.cmp(b),
            (Value::Record { fields: a, .. }, Value::Record { fields: b, .. }) => a.cmp(b),
            (
                Value::Variant {
                    variant: va,
                    payload: pa,
                    ..
                },
                Value::Variant {
                    variant: vb,
                    payload: pb,
                    ..
                },
            ) => va.cmp(vb).then_with(|| pa.cmp(pb)),
            (Value::Closure(a), Value::Closure(b)) => {
                Arc::as_ptr(&a.body).cmp(&Arc::as_ptr(&b.body))
            }
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Unit => f.write_str("()"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(n) => write!(f, "{n}"),
            Value::Float(x) => f.write_str(&float_text(*x)),
            Value::Str(s) => write_str_lit(f, s),
            Value::Bytes(b) => {
                f.write_str("bytes(")?;
                write_seq(f, "[", b.iter(), "]")?;
                f.write_str(")")
            }
            Value::Option(None) => f.write_str("none"),
            Value::Option(Some(v)) => write!(f, "some({v})"),
            Value::List(items) => write_seq(f, "[", items.iter(), "]"),
            Value::Set(items) => write_seq(f, "{", items.iter(), "}"),
            Value::Map(m) => {
                f.write_str("{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
            Value::Tuple(items) if items.len() == 1 => write_seq(f, "(", items.iter(), ",)"),
            Value::Tuple(items) => write_seq(f, "(", items.iter(), ")"),
            Value::Record { name, fields } => {
                if fields.is_empty() {
                    return write!(f, "{name} {{}}");
                }
                write!(f, "{name} {{ ")?;
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str(" }")
            }
            Value::Variant {
                enum_name,
                variant,
                payload,
            } => {
                if !enum_name.is_empty() {
                    write!(f, "{enum_name}::")?;
                }
                f.write_str(variant)?;
                match payload {
                    Some(p) => write!(f, "({p})"),
                    None => Ok(()),
                }
            }
            Value::Closure(c) => write!(f, "<closure |{}|>", c.params.join(", ")),
        }
    }
}

/// A float as the language prints it: always with a fractional part or exponent (`1.0`).
pub(crate) fn float_text(x: f64) -> String {
    format!("{x:?}")
}

fn write_seq<T: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    open: &str,
    items: impl Iterator<Item = T>,
    close: &str,
) -> fmt::Result {
    f.write_str(open)?;
    for (i, item) in items.enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    f.write_str(close)
}

/// A string literal with the language's escapes.
fn write_str_lit(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            '\0' => f.write_str("\\0")?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}
