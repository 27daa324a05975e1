//! `#[differs(field, ...)]` on a rule: its answer may differ from the caller's model's in
//! these record fields only. Each name must be a field of some record the method's answer
//! type holds (at any depth), or the attribute says nothing: U0110.

use super::suggest::did_you_mean;
use super::Cx;
use crate::model::{SpecModel, Ty};
use crate::verify::resolve::{named as resolve_named, Named};
use lang::ast::Rule;
use lang::diagnostic::codes;
use std::collections::BTreeSet;

/// Checks the rule's `#[differs(...)]` against its method's answer type `ret`.
pub(crate) fn check_differs(cx: &mut Cx, model: &SpecModel, rule: &Rule, ret: &Ty) {
    if rule.differs.is_empty() {
        return;
    }
    let mut fields = BTreeSet::new();
    let mut seen = BTreeSet::new();
    record_fields(model, ret, &mut fields, &mut seen);
    for name in &rule.differs {
        if fields.contains(name.name.as_str()) {
            continue;
        }
        let help = did_you_mean(&name.name, fields.iter().copied());
        cx.report(
            codes::DIFFERS_UNKNOWN_FIELD,
            name.span,
            format!(
                "no record in the answer of `{}` has a field `{}`",
                rule.method.name, name.name
            ),
            |d| {
                let d = d.label(format!("the answer is `{ret}`"));
                match help {
                    Some(h) => d.help(h),
                    None => d.note("`#[differs(...)]` names the record fields in which the rule's answer may differ from the model's"),
                }
            },
        );
    }
}

/// The names of the fields of every record reachable from `ty`.
fn record_fields<'m>(
    model: &'m SpecModel,
    ty: &Ty,
    out: &mut BTreeSet<&'m str>,
    seen: &mut BTreeSet<(u64, String)>,
) {
    match ty {
        Ty::Option(t) | Ty::List(t) | Ty::Set(t) => record_fields(model, t, out, seen),
        Ty::Map(k, v) => {
            record_fields(model, k, out, seen);
            record_fields(model, v, out, seen);
        }
        Ty::Tuple(ts) => {
            for t in ts {
                record_fields(model, t, out, seen);
            }
        }
        Ty::Named(r) => {
            if !seen.insert((r.version, r.name.clone())) {
                return;
            }
            match resolve_named(model, r) {
                Some(Named::Record(rec)) => {
                    for f in &rec.fields {
                        out.insert(f.name.name.as_str());
                        record_fields(model, &f.ty, out, seen);
                    }
                }
                Some(Named::Enum(e)) => {
                    for v in &e.variants {
                        if let Some(p) = &v.payload {
                            record_fields(model, p, out, seen);
                        }
                    }
                }
                None => {}
            }
        }
        _ => {}
    }
}
