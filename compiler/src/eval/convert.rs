//! Values of one version as the other's where their types differ only by `renamed from`: the
//! fields of records take their names in the target version, through options, collections,
//! tuples and enum payloads (the conversions the checker recorded in the model).

use super::value::Value;
use crate::model::{Conversion, NamedConversion, NamedConversions};

/// `value` as the other version's value, by the conversion `c` (and the record and enum
/// conversions `named` it refers to).
pub fn convert(value: Value, c: &Conversion, named: &NamedConversions) -> Value {
    match (c, value) {
        (Conversion::Same, v) => v,
        (Conversion::Option(c), Value::Option(v)) => {
            Value::Option(v.map(|v| Box::new(convert(*v, c, named))))
        }
        (Conversion::List(c), Value::List(items)) => {
            Value::List(items.into_iter().map(|v| convert(v, c, named)).collect())
        }
        (Conversion::Set(c), Value::Set(items)) => {
            Value::Set(items.into_iter().map(|v| convert(v, c, named)).collect())
        }
        (Conversion::Map(c), Value::Map(entries)) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k, convert(v, c, named)))
                .collect(),
        ),
        (Conversion::Tuple(cs), Value::Tuple(items)) => Value::Tuple(
            items
                .into_iter()
                .zip(cs)
                .map(|(v, c)| convert(v, c, named))
                .collect(),
        ),
        (Conversion::Named { name, from, to }, v) => {
            match (named.get(&(name.clone(), *from, *to)), v) {
                (Some(NamedConversion::Record(map)), Value::Record { name, mut fields }) => {
                    let mut out = std::collections::BTreeMap::new();
                    for (a, b, c) in map {
                        if let Some(v) = fields.remove(a) {
                            out.insert(b.clone(), convert(v, c, named));
                        }
                    }
                    Value::Record { name, fields: out }
                }
                (
                    Some(NamedConversion::Enum(variants)),
                    Value::Variant {
                        enum_name,
                        variant,
                        payload,
                    },
                ) => {
                    let c = variants
                        .iter()
                        .find(|(n, _)| *n == variant)
                        .and_then(|(_, c)| c.as_ref());
                    let payload = match (payload, c) {
                        (Some(p), Some(c)) => Some(Box::new(convert(*p, c, named))),
                        (p, _) => p,
                    };
                    Value::Variant {
                        enum_name,
                        variant,
                        payload,
                    }
                }
                (_, v) => v,
            }
        }
        (_, v) => v,
    }
}
