//! Typed decoding of the wire encoding (JSON) into evaluator values: the inverse of
//! [`Value::to_json`], guided by the checked type. Used to compare compiled plugins with the
//! evaluator and to feed real state files to it.

use super::Value;
use crate::model::{SpecModel, Ty};
use serde_json::Value as J;
use std::collections::{BTreeMap, BTreeSet};

/// Why a JSON value does not decode as a value of a type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// The value is not of the type's kind (`expected` says what it should be, in words).
    #[error("expected {expected}, found `{found}`")]
    Unexpected { expected: String, found: J },
    #[error("cannot decode a value of unknown type")]
    UnknownType,
    #[error("`{0}` is not a byte")]
    NotAByte(J),
    /// A map key (JSON object keys are text) that does not read as the key type.
    #[error("map key `{key}` is not {expected}")]
    BadKey { key: String, expected: &'static str },
    #[error("`{record}` is missing field `{field}`")]
    MissingField { record: String, field: String },
    #[error("`{ty}` has no variant `{variant}`")]
    NoVariant { ty: String, variant: String },
    #[error("variant `{variant}` of `{ty}` has the wrong payload")]
    WrongPayload { ty: String, variant: String },
    /// The type names a version, a state or a type the model does not have.
    #[error("version {0} has no state")]
    NoState(u64),
    #[error("no version {0}")]
    NoVersion(u64),
    #[error("no type `{0}`")]
    NoType(String),
}

/// Decodes `json` as a value of `ty` in `model`'s versions.
pub fn from_json(json: &J, ty: &Ty, model: &SpecModel) -> Result<Value, DecodeError> {
    let want = |what: &str| {
        Err(DecodeError::Unexpected {
            expected: what.to_string(),
            found: json.clone(),
        })
    };
    match ty {
        Ty::Unknown => Err(DecodeError::UnknownType),
        Ty::Bool => json
            .as_bool()
            .map(Value::Bool)
            .map_or_else(|| want("a boolean"), Ok),
        Ty::I64 => json
            .as_i64()
            .map(|n| Value::Int(i128::from(n)))
            .map_or_else(|| want("an i64"), Ok),
        Ty::U64 => json
            .as_u64()
            .map(|n| Value::Int(i128::from(n)))
            .map_or_else(|| want("a u64"), Ok),
        Ty::F64 => match json {
            J::Null => Ok(Value::Float(f64::NAN)),
            _ => json
                .as_f64()
                .map(Value::Float)
                .map_or_else(|| want("a number"), Ok),
        },
        Ty::Str => json
            .as_str()
            .map(Value::str)
            .map_or_else(|| want("a string"), Ok),
        Ty::Unit => match json {
            J::Null => Ok(Value::Unit),
            _ => want("null"),
        },
        Ty::Bytes => match json {
            J::Array(items) => items
                .iter()
                .map(|i| {
                    i.as_u64()
                        .and_then(|b| u8::try_from(b).ok())
                        .ok_or_else(|| DecodeError::NotAByte(i.clone()))
                })
                .collect::<Result<Vec<u8>, _>>()
                .map(Value::Bytes),
            _ => want("an array of bytes"),
        },
        Ty::Option(inner) => match json {
            J::Null => Ok(Value::none()),
            other => from_json(other, inner, model).map(Value::some),
        },
        Ty::List(inner) => match json {
            J::Array(items) => items
                .iter()
                .map(|i| from_json(i, inner, model))
                .collect::<Result<_, _>>()
                .map(Value::List),
            _ => want("an array"),
        },
        Ty::Set(inner) => match json {
            J::Array(items) => items
                .iter()
                .map(|i| from_json(i, inner, model))
                .collect::<Result<BTreeSet<_>, _>>()
                .map(Value::Set),
            _ => want("an array"),
        },
        Ty::Tuple(types) => match json {
            J::Array(items) if items.len() == types.len() => items
                .iter()
                .zip(types)
                .map(|(i, t)| from_json(i, t, model))
                .collect::<Result<_, _>>()
                .map(Value::Tuple),
            _ => want(&format!("an array of {}", types.len())),
        },
        Ty::Map(k, v) => match json {
            J::Object(obj) => {
                let mut out = BTreeMap::new();
                for (key, value) in obj {
                    out.insert(key_from_text(key, k, model)?, from_json(value, v, model)?);
                }
                Ok(Value::Map(out))
            }
            _ => want("an object"),
        },
        Ty::State(v) => {
            let state = model
                .env(*v)
                .and_then(|e| e.state.as_ref())
                .ok_or(DecodeError::NoState(*v))?;
            let fields: Vec<(String, Ty)> = state
                .fields
                .iter()
                .map(|f| (f.name.name.clone(), f.ty.clone()))
                .collect();
            record("state", &fields, json, model)
        }
        Ty::Named(r) => {
            let e = model
                .env(r.version)
                .ok_or(DecodeError::NoVersion(r.version))?;
            if let Some(rec) = e.records.get(&r.name) {
                let fields: Vec<(String, Ty)> = rec
                    .fields
                    .iter()
                    .map(|f| (f.name.name.clone(), f.ty.clone()))
                    .collect();
                return record(&r.name, &fields, json, model);
            }
            let en = e
                .enums
                .get(&r.name)
                .ok_or_else(|| DecodeError::NoType(r.name.clone()))?;
            let (name, payload) = match json {
                J::String(s) => (s.as_str(), None),
                J::Object(obj) if obj.len() == 1 => match obj.iter().next() {
                    Some((k, v)) => (k.as_str(), Some(v)),
                    None => return want("a variant"),
                },
                _ => return want(&format!("a variant of `{}`", r.name)),
            };
            let variant = en.variant(name).ok_or_else(|| DecodeError::NoVariant {
                ty: r.name.clone(),
                variant: name.to_string(),
            })?;
            let payload = match (&variant.payload, payload) {
                (None, None) => None,
                (Some(t), Some(p)) => Some(from_json(p, t, model)?),
                _ => {
                    return Err(DecodeError::WrongPayload {
                        ty: r.name.clone(),
                        variant: name.to_string(),
                    })
                }
            };
            Ok(Value::variant(&r.name, name, payload))
        }
    }
}

fn record(
    name: &str,
    fields: &[(String, Ty)],
    json: &J,
    model: &SpecModel,
) -> Result<Value, DecodeError> {
    let J::Object(obj) = json else {
        return Err(DecodeError::Unexpected {
            expected: format!("an object for `{name}`"),
            found: json.clone(),
        });
    };
    let mut out = Vec::with_capacity(fields.len());
    for (field, ty) in fields {
        let value = match (obj.get(field), ty) {
            (Some(j), _) => from_json(j, ty, model)?,
            (None, Ty::Option(_)) => Value::none(),
            (None, _) => {
                return Err(DecodeError::MissingField {
                    record: name.to_string(),
                    field: field.clone(),
                })
            }
        };
        out.push((field.clone(), value));
    }
    Ok(Value::record(name, out))
}

fn key_from_text(text: &str, ty: &Ty, model: &SpecModel) -> Result<Value, DecodeError> {
    let bad = |expected| DecodeError::BadKey {
        key: text.to_string(),
        expected,
    };
    match ty {
        Ty::Str => Ok(Value::str(text)),
        Ty::I64 | Ty::U64 => text
            .parse::<i128>()
            .map(Value::Int)
            .map_err(|_| bad("an integer")),
        Ty::Bool => text
            .parse::<bool>()
            .map(Value::Bool)
            .map_err(|_| bad("a boolean")),
        other => from_json(&J::String(text.to_string()), other, model),
    }
}
