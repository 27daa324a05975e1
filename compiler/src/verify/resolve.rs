//! Looking up the declarations a [`Ty`] names: records, enums and the state of the version a
//! type belongs to, and the methods and rules of services.

use crate::model::{EnumDef, FieldDef, RecordDef, SpecModel, Ty, TypeRef, VersionEnv};
use lang::ast::RuleKind;

/// What a named type is.
pub(crate) enum Named<'m> {
    Record(&'m RecordDef),
    Enum(&'m EnumDef),
}

/// The record or enum `r` names, in its own version.
pub(crate) fn named<'m>(model: &'m SpecModel, r: &TypeRef) -> Option<Named<'m>> {
    let env = model.env(r.version)?;
    if let Some(rec) = env.records.get(&r.name) {
        return Some(Named::Record(rec));
    }
    env.enums.get(&r.name).map(Named::Enum)
}

/// The fields of version `number`'s persistent state (none when it declares no state).
pub(crate) fn state_fields(model: &SpecModel, number: u64) -> &[FieldDef] {
    model
        .env(number)
        .and_then(|v| v.state.as_ref())
        .map_or(&[], |s| s.fields.as_slice())
}

/// The fields of the record or the state `ty` names (none for any other type).
pub(crate) fn record_fields<'m>(model: &'m SpecModel, ty: &Ty) -> &'m [FieldDef] {
    match ty {
        Ty::State(n) => state_fields(model, *n),
        Ty::Named(r) => match named(model, r) {
            Some(Named::Record(def)) => &def.fields,
            _ => &[],
        },
        _ => &[],
    }
}

/// The payload type of `variant` of the enum `ty` names, when it carries one.
pub(crate) fn payload_ty<'m>(model: &'m SpecModel, ty: &Ty, variant: &str) -> Option<&'m Ty> {
    let Ty::Named(r) = ty else {
        return None;
    };
    match named(model, r)? {
        Named::Enum(def) => def.variant(variant)?.payload.as_ref(),
        Named::Record(_) => None,
    }
}

/// (simulated version, reachable version) of a rule kind.
pub(crate) fn sides(model: &SpecModel, kind: RuleKind) -> (&VersionEnv, &VersionEnv) {
    match kind {
        RuleKind::Past => (&model.old, &model.new),
        RuleKind::Future => (&model.new, &model.old),
    }
}
