//! Each version's state as the plugin's manifest describes it to a host
//! ([`StateLayout`]): the storage kind the spec declares (`state sqlite { ... }`), which the
//! agent compares with the state on disk before an upgrade, and the columns of every field that
//! is a map, a list or a set of records, so that a database state written by the transform
//! keeps each table's columns and their types, also for a table with no rows or a column that
//! is null in every row.

use crate::model::{Ty, VersionEnv};
use upstart_abi::manifest::{StateLayout, StateTable};

/// The layout of `env`'s state; `None` when the version has none.
pub(crate) fn layout(env: &VersionEnv) -> Option<StateLayout> {
    let state = env.state.as_ref()?;
    let tables = state
        .fields
        .iter()
        .filter_map(|f| {
            let record = match &f.ty {
                Ty::Map(_, v) | Ty::List(v) | Ty::Set(v) => record_of(env, v)?,
                _ => return None,
            };
            Some(StateTable {
                field: f.name.name.clone(),
                columns: record
                    .fields
                    .iter()
                    .map(|c| (c.name.name.clone(), column(env, &c.ty).to_owned()))
                    .collect(),
            })
        })
        .collect();
    Some(StateLayout {
        storage: state.storage.name().to_owned(),
        tables,
    })
}

fn record_of<'e>(env: &'e VersionEnv, ty: &Ty) -> Option<&'e crate::model::RecordDef> {
    match ty {
        Ty::Named(r) => env.records.get(&r.name),
        _ => None,
    }
}

/// The SQL type of a column holding values of `ty` (as the state's storage writes them): a
/// scalar by its kind, an option by its value's, an enum without payloads as its variant's
/// name (text), anything else as JSON text.
fn column(env: &VersionEnv, ty: &Ty) -> &'static str {
    match ty {
        Ty::Bool => "BOOLEAN",
        Ty::I64 | Ty::U64 => "INTEGER",
        Ty::F64 => "REAL",
        Ty::Str => "TEXT",
        Ty::Option(t) => column(env, t),
        Ty::Named(r) => match env.enums.get(&r.name) {
            Some(e) if e.variants.iter().all(|v| v.payload.is_none()) => "TEXT",
            _ => "JSON TEXT",
        },
        _ => "JSON TEXT",
    }
}
