//! Persistent state: the transform assigns every field of the new state with the right type
//! and reads the old state; the invariant is a list of boolean clauses over both.

use super::expr::ExprChecker;
use super::suggest::did_you_mean;
use super::types::Types;
use super::Cx;
use crate::model::{SpecModel, Ty};
use lang::ast::Ident;
use lang::diagnostic::codes;
use lang::span::Span;

pub(crate) fn check_state(cx: &mut Cx, model: &SpecModel) {
    let spec = &model.spec;
    let transforms: Vec<_> = spec.transforms().collect();
    let invariants: Vec<_> = spec.invariants().collect();
    for extra in transforms.iter().skip(1) {
        let first = transforms.first().map_or(extra.span, |t| t.span);
        cx.report(
            codes::DUPLICATE_ITEM,
            extra.span,
            "the transform is given twice",
            |d| d.label("given again here").also(first, "first given here"),
        );
    }
    for extra in invariants.iter().skip(1) {
        let first = invariants.first().map_or(extra.span, |t| t.span);
        cx.report(
            codes::DUPLICATE_ITEM,
            extra.span,
            "the invariant is given twice",
            |d| {
                d.label("given again here")
                    .also(first, "first given here")
                    .help("put all clauses in one `invariant` block")
            },
        );
    }
    let (old, new) = (&model.old, &model.new);
    match (&old.state, &new.state) {
        (Some(_), None) | (None, Some(_)) => {
            let (has, lacks) = if old.state.is_some() {
                (old, new)
            } else {
                (new, old)
            };
            let span = has.state.as_ref().map_or(has.span, |s| s.span);
            cx.report(codes::MISSING_STATE, lacks.span, format!("version {} declares no state", lacks.number), |d| {
                d.label(format!("no `state {{ ... }}` in version {}", lacks.number))
                    .also(span, format!("version {} keeps persistent state", has.number))
                    .help("declare the state in both versions (an empty `state { }` if it has none)")
            });
            return;
        }
        (None, None) => {
            if let Some(t) = transforms.first() {
                cx.report(
                    codes::MISSING_STATE,
                    t.span,
                    "a transform, but no version declares state",
                    |d| {
                        d.label("nothing to transform")
                            .help("declare `state { ... }` in both versions")
                    },
                );
            }
            if let Some(i) = invariants.first() {
                cx.report(
                    codes::MISSING_STATE,
                    i.span,
                    "an invariant, but no version declares state",
                    |d| {
                        d.label("nothing to relate")
                            .help("declare `state { ... }` in both versions")
                    },
                );
            }
            return;
        }
        (Some(_), Some(_)) => {}
    }
    let types = Types::new(model);
    let same_state = match (&old.state, &new.state) {
        (Some(a), Some(b)) => {
            a.fields.len() == b.fields.len()
                && a.fields.iter().all(|f| {
                    b.field(&f.name.name)
                        .is_some_and(|g| types.same(&f.ty, &g.ty))
                })
        }
        _ => true,
    };
    match transforms.first() {
        None if !same_state => {
            let span = new.state.as_ref().map_or(new.span, |s| s.span);
            let fields: Vec<String> = new
                .state
                .as_ref()
                .map(|s| {
                    s.fields
                        .iter()
                        .map(|f| format!("{}: ...", f.name.name))
                        .collect()
                })
                .unwrap_or_default();
            cx.report(
                codes::MISSING_TRANSFORM,
                span,
                format!(
                    "the state changed in version {}, but there is no transform",
                    new.number
                ),
                |d| {
                    d.label("this state differs from the old one").help(format!(
                        "add `transform (old) -> new {{ {} }}`",
                        fields.join(", ")
                    ))
                },
            );
        }
        None => {}
        Some(t) => {
            let mut ec = ExprChecker::new(cx, Types::new(model), new.number, "a transform");
            ec.bind(&t.old, Ty::State(old.number));
            ec.state_var = Some(t.old.name.clone());
            let state = new.state.as_ref();
            let mut seen: Vec<&Ident> = Vec::new();
            for f in &t.fields {
                if let Some(first) = seen.iter().find(|s| s.name == f.name.name) {
                    let first = first.span;
                    ec.cx
                        .duplicate(codes::DUPLICATE_FIELD, "state field", &f.name, first);
                    continue;
                }
                seen.push(&f.name);
                match state.and_then(|s| s.field(&f.name.name)) {
                    Some(def) => ec.check(&f.value, &def.ty),
                    None => {
                        let names: Vec<&str> = state
                            .map(|s| s.fields.iter().map(|f| f.name.name.as_str()).collect())
                            .unwrap_or_default();
                        let help = did_you_mean(&f.name.name, names);
                        let v = new.number;
                        ec.cx.report(
                            codes::UNKNOWN_STATE_FIELD,
                            f.name.span,
                            format!("the state of version {v} has no field `{}`", f.name.name),
                            |d| d.label("not a field of the new state").maybe_help(help),
                        );
                        ec.infer(&f.value, None);
                    }
                }
            }
            let (reads, whole) = (ec.state_reads.clone(), ec.whole_state_used);
            if let Some(state) = state {
                let missing: Vec<&str> = state
                    .fields
                    .iter()
                    .filter(|d| !t.fields.iter().any(|f| f.name.name == d.name.name))
                    .map(|d| d.name.name.as_str())
                    .collect();
                if !missing.is_empty() {
                    let list = missing.join("`, `");
                    let sspan = state.span;
                    cx.report(
                        codes::MISSING_FIELD,
                        t.span,
                        format!("the transform does not assign `{list}`"),
                        |d| {
                            d.label("every field of the new state must be assigned")
                                .also(sspan, format!("the state of version {}", new.number))
                        },
                    );
                }
            }
            if !whole {
                for f in old.state.iter().flat_map(|s| &s.fields) {
                    if !reads.contains(&f.name.name) {
                        let name = f.name.name.clone();
                        let tspan = t.span;
                        cx.report(codes::UNUSED_STATE_FIELD, f.name.span, format!("the transform never reads `{name}`"), |d| {
                            d.label("this persistent data is dropped by the upgrade")
                                .also(tspan, "the transform")
                                .help(format!("read `{}.{name}` in the transform, or name `{name}` in the new state if its data should survive", t.old.name))
                        });
                    }
                }
            }
        }
    }
    match invariants.first() {
        None => {
            if let Some(t) = transforms.first() {
                let span: Span = t.span;
                cx.report(codes::MISSING_INVARIANT, span, "the transform has no invariant", |d| {
                    d.label("nothing states what this transform must preserve")
                        .help("add `invariant (old, new) { ... }` so `upstartc verify` can test the transform")
                });
            }
        }
        Some(inv) => {
            let mut ec = ExprChecker::new(cx, Types::new(model), new.number, "an invariant");
            ec.bind(&inv.old, Ty::State(old.number));
            ec.bind(&inv.new, Ty::State(new.number));
            for clause in &inv.clauses {
                let ty = ec.infer(clause, Some(&Ty::Bool));
                if !matches!(ty, Ty::Bool | Ty::Unknown) {
                    ec.cx.report(
                        codes::INVARIANT_NOT_BOOL,
                        clause.span,
                        format!("an invariant clause must be `bool`, found `{ty}`"),
                        |d| {
                            d.label("not a condition")
                                .help("compare values, for example `keys(old.a) == keys(new.b)`")
                        },
                    );
                }
            }
        }
    }
}
