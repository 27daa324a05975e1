//! The smallest value of a type: what generation gives past its depth limit, and the payload
//! shrinking gives an enum's earlier variants.

use super::{variant_value, MAX_DEPTH};
use crate::eval::Value;
use crate::model::{FieldDef, SpecModel, Ty};
use crate::verify::resolve::{self, Named};
use std::collections::{BTreeMap, BTreeSet};

/// The smallest value of `ty`: `false`, `0`, `""`, empty collections, `none`, records of
/// smallest fields, the first variant without payload (else the first with the smallest one).
pub fn minimal(ty: &Ty, model: &SpecModel) -> Value {
    minimal_in(ty, model, 0)
}

/// [`minimal`] of a part `depth` levels down a value: past [`MAX_DEPTH`] a tuple, record or
/// enum is `()`, so that a recursive type's smallest value ends. Shrinking calls it at the depth
/// of the part it shrinks.
pub(super) fn minimal_in(ty: &Ty, model: &SpecModel, depth: usize) -> Value {
    let d = depth + 1;
    match ty {
        Ty::Bool => Value::Bool(false),
        Ty::U64 | Ty::I64 => Value::Int(0),
        Ty::F64 => Value::Float(0.0),
        Ty::Str => Value::Str(String::new()),
        Ty::Bytes => Value::Bytes(Vec::new()),
        Ty::Unit | Ty::Unknown => Value::Unit,
        Ty::Option(_) => Value::none(),
        Ty::List(_) => Value::List(Vec::new()),
        Ty::Set(_) => Value::Set(BTreeSet::new()),
        Ty::Map(..) => Value::Map(BTreeMap::new()),
        _ if depth > MAX_DEPTH => Value::Unit,
        Ty::Tuple(tys) => Value::Tuple(tys.iter().map(|t| minimal_in(t, model, d)).collect()),
        Ty::State(n) => Value::Record {
            name: "state".into(),
            fields: minimal_fields(resolve::state_fields(model, *n), model, d),
        },
        Ty::Named(r) => match resolve::named(model, r) {
            Some(Named::Record(def)) => Value::Record {
                name: r.name.clone(),
                fields: minimal_fields(&def.fields, model, d),
            },
            Some(Named::Enum(def)) => {
                let first = def
                    .variants
                    .iter()
                    .find(|v| v.payload.is_none())
                    .or_else(|| def.variants.first());
                match first {
                    Some(v) => variant_value(&r.name, v, |t| minimal_in(t, model, d)),
                    None => Value::Unit,
                }
            }
            None => Value::Unit,
        },
    }
}

fn minimal_fields(defs: &[FieldDef], model: &SpecModel, depth: usize) -> BTreeMap<String, Value> {
    defs.iter()
        .map(|f| (f.name.name.clone(), minimal_in(&f.ty, model, depth)))
        .collect()
}
