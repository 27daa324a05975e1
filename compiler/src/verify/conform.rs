//! Whether a value has a type: the right kind, integers in their type's range, records with
//! exactly their declared fields, enum variants that exist with the payload they declare.
//! Rules and transforms are type checked, so a value that does not conform is a bug of the
//! evaluator or of an unchecked spec; verification still checks every result it gets.

use super::resolve::{self, Named};
use crate::eval::Value;
use crate::model::{FieldDef, SpecModel, Ty};
use std::collections::BTreeMap;

/// Values nested deeper than this are not looked into (evaluation never makes them).
const MAX_DEPTH: usize = 256;

/// `Ok` when `value` is a value of `ty`; otherwise where and how it differs, e.g.
/// ``at `.items["a"].value`: expected string, got int``.
pub fn conforms(value: &Value, ty: &Ty, model: &SpecModel) -> Result<(), String> {
    let mut path = String::new();
    check(value, ty, model, &mut path, 0).map_err(|msg| {
        if path.is_empty() {
            msg
        } else {
            format!("at `{path}`: {msg}")
        }
    })
}

fn expected(ty: &Ty, value: &Value) -> String {
    format!("expected {ty}, got {}", value.kind_name())
}

/// Checks `value` against `ty`; on failure `path` holds where below the root it failed.
fn check(
    value: &Value,
    ty: &Ty,
    model: &SpecModel,
    path: &mut String,
    depth: usize,
) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Ok(());
    }
    match (ty, value) {
        (Ty::Unknown, _)
        | (Ty::Bool, Value::Bool(_))
        | (Ty::F64, Value::Float(_))
        | (Ty::Str, Value::Str(_))
        | (Ty::Bytes, Value::Bytes(_))
        | (Ty::Unit, Value::Unit) => Ok(()),
        (Ty::U64, Value::Int(n)) => in_range(*n, 0, i128::from(u64::MAX), ty),
        (Ty::I64, Value::Int(n)) => in_range(*n, i128::from(i64::MIN), i128::from(i64::MAX), ty),
        (Ty::Option(_), Value::Option(None)) => Ok(()),
        (Ty::Option(t), Value::Option(Some(v))) => check(v, t, model, path, depth + 1),
        (Ty::List(t), Value::List(items)) => {
            for (i, v) in items.iter().enumerate() {
                nested(path, &format!("[{i}]"), |p| {
                    check(v, t, model, p, depth + 1)
                })?;
            }
            Ok(())
        }
        (Ty::Set(t), Value::Set(items)) => {
            for v in items {
                nested(path, &format!("{{{v}}}"), |p| {
                    check(v, t, model, p, depth + 1)
                })?;
            }
            Ok(())
        }
        (Ty::Map(kt, vt), Value::Map(entries)) => {
            for (k, v) in entries {
                nested(path, &format!("[{k}]"), |p| {
                    check(k, kt, model, p, depth + 1)?;
                    check(v, vt, model, p, depth + 1)
                })?;
            }
            Ok(())
        }
        (Ty::Tuple(tys), Value::Tuple(items)) => {
            if tys.len() != items.len() {
                return Err(format!(
                    "expected a tuple of {}, got one of {}",
                    tys.len(),
                    items.len()
                ));
            }
            for (i, (t, v)) in tys.iter().zip(items).enumerate() {
                nested(path, &format!(".{i}"), |p| check(v, t, model, p, depth + 1))?;
            }
            Ok(())
        }
        (Ty::State(n), Value::Record { fields, .. }) => {
            record(fields, resolve::state_fields(model, *n), model, path, depth)
        }
        (Ty::Named(r), _) => match (resolve::named(model, r), value) {
            (None, _) => Err(format!(
                "`{}` is not a type of version {}",
                r.name, r.version
            )),
            (Some(Named::Record(def)), Value::Record { fields, .. }) => {
                record(fields, &def.fields, model, path, depth)
            }
            (
                Some(Named::Enum(def)),
                Value::Variant {
                    variant, payload, ..
                },
            ) => {
                let Some(vdef) = def.variant(variant) else {
                    return Err(format!("`{}` has no variant `{variant}`", r.name));
                };
                match (&vdef.payload, payload) {
                    (None, None) => Ok(()),
                    (Some(t), Some(p)) => nested(path, &format!("::{variant}"), |pa| {
                        check(p, t, model, pa, depth + 1)
                    }),
                    (None, Some(_)) => {
                        Err(format!("variant `{variant}` takes no payload, got one"))
                    }
                    (Some(_), None) => {
                        Err(format!("variant `{variant}` needs a payload, got none"))
                    }
                }
            }
            _ => Err(expected(ty, value)),
        },
        _ => Err(expected(ty, value)),
    }
}

fn in_range(n: i128, lo: i128, hi: i128, ty: &Ty) -> Result<(), String> {
    if (lo..=hi).contains(&n) {
        Ok(())
    } else {
        Err(format!("{n} is out of the range of {ty}"))
    }
}

/// Exactly the declared fields, each of its type.
fn record(
    fields: &BTreeMap<String, Value>,
    defs: &[FieldDef],
    model: &SpecModel,
    path: &mut String,
    depth: usize,
) -> Result<(), String> {
    for def in defs {
        let name = &def.name.name;
        let Some(v) = fields.get(name) else {
            return Err(format!("field `{name}` is missing"));
        };
        nested(path, &format!(".{name}"), |p| {
            check(v, &def.ty, model, p, depth + 1)
        })?;
    }
    if let Some(extra) = fields
        .keys()
        .find(|k| !defs.iter().any(|d| &d.name.name == *k))
    {
        return Err(format!("unexpected field `{extra}`"));
    }
    Ok(())
}

/// Runs `f` with `step` appended to the path, and removes it again if `f` succeeds.
fn nested(
    path: &mut String,
    step: &str,
    f: impl FnOnce(&mut String) -> Result<(), String>,
) -> Result<(), String> {
    let len = path.len();
    path.push_str(step);
    let result = f(path);
    if result.is_ok() {
        path.truncate(len);
    }
    result
}
