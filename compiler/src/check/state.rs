//! Persistent state: the transform assigns every field of the new state with the right type
//! and reads the old state; the reverse transform (`transform (new) -> old`, a rollback's)
//! assigns every field of the old state from the new one and reads every new field, or is
//! warned that a rollback drops those writes; the invariant is a list of boolean clauses over
//! both.

use super::expr::ExprChecker;
use super::suggest::did_you_mean;
use super::types::Types;
use super::{Cx, Seen};
use crate::model::{SpecModel, Ty};
use lang::ast::{Ident, Transform};
use lang::diagnostic::codes;
use lang::span::Span;

pub(crate) fn check_state(cx: &mut Cx, model: &SpecModel) {
    let spec = &model.spec;
    let transforms: Vec<_> = spec.transforms().collect();
    let reverses: Vec<_> = spec.reverse_transforms().collect();
    let invariants: Vec<_> = spec.invariants().collect();
    cx.given_once("the transform", transforms.iter().map(|t| t.span), None);
    cx.given_once(
        "the invariant",
        invariants.iter().map(|i| i.span),
        Some("put all clauses in one `invariant` block"),
    );
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
            if let Some(t) = transforms.first().or(reverses.first()) {
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
        (Some(a), Some(b)) => {
            if a.storage != b.storage {
                cx.report(
                    codes::STATE_STORAGE_CHANGED,
                    b.span,
                    format!(
                        "version {} keeps its state as `{}`, version {} as `{}`",
                        old.number,
                        a.storage.name(),
                        new.number,
                        b.storage.name()
                    ),
                    |d| {
                        d.label("stored otherwise here")
                            .also(a.span, "the old version's storage")
                            .help("the transform writes the new state beside the old one in the same kind: keep one kind across an upgrade")
                    },
                );
            }
        }
    }
    let types = Types::new(model);
    let same_state = match (&old.state, &new.state) {
        (Some(a), Some(b)) => {
            a.fields.len() == b.fields.len()
                && a.fields.iter().all(|f| {
                    b.field(&f.name.name).is_some_and(|g| {
                        types.same(&f.ty, &g.ty) && !types.marked(f.changed.or(g.changed))
                    })
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
        Some(t) => check_transform(cx, model, t, Direction::Forward),
    }
    cx.given_once(
        "the reverse transform",
        reverses.iter().map(|t| t.span),
        None,
    );
    if let Some(t) = reverses.first() {
        check_transform(cx, model, t, Direction::Reverse);
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

/// Which way a transform goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// `transform (old) -> new`: the upgrade's.
    Forward,
    /// `transform (new) -> old`: the rollback's.
    Reverse,
}

/// A transform assigns every field of the state it gives, with the right type, from the state
/// it reads; a field of the read state it never reads is reported (its data would be dropped).
fn check_transform(cx: &mut Cx, model: &SpecModel, t: &Transform, dir: Direction) {
    let (from, to) = match dir {
        Direction::Forward => (&model.old, &model.new),
        Direction::Reverse => (&model.new, &model.old),
    };
    let (place, what, to_word) = match dir {
        Direction::Forward => ("a transform", "the transform", "new"),
        Direction::Reverse => ("a reverse transform", "the reverse transform", "old"),
    };
    let mut ec = ExprChecker::new(cx, Types::new(model), to.number, place);
    ec.bind(&t.old, Ty::State(from.number));
    ec.state_var = Some(t.old.name.clone());
    let state = to.state.as_ref();
    let mut seen = Seen::default();
    for f in &t.fields {
        if !seen.fresh(ec.cx, codes::DUPLICATE_FIELD, "state field", &f.name) {
            continue;
        }
        match state.and_then(|s| s.field(&f.name.name)) {
            Some(def) => ec.check(&f.value, &def.ty),
            None => {
                let names: Vec<&str> = state
                    .map(|s| s.fields.iter().map(|f| f.name.name.as_str()).collect())
                    .unwrap_or_default();
                let help = did_you_mean(&f.name.name, names);
                let v = to.number;
                ec.cx.report(
                    codes::UNKNOWN_STATE_FIELD,
                    f.name.span,
                    format!("the state of version {v} has no field `{}`", f.name.name),
                    |d| {
                        d.label(format!("not a field of the {to_word} state"))
                            .maybe_help(help)
                    },
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
                format!("{what} does not assign `{list}`"),
                |d| {
                    d.label(format!(
                        "every field of the {to_word} state must be assigned"
                    ))
                    .also(sspan, format!("the state of version {}", to.number))
                },
            );
        }
    }
    if whole {
        return;
    }
    let unread: Vec<&Ident> = from
        .state
        .iter()
        .flat_map(|s| &s.fields)
        .map(|f| &f.name)
        .filter(|n| !reads.contains(&n.name))
        .collect();
    let param = &t.old.name;
    match dir {
        Direction::Forward => {
            for f in unread {
                let name = f.name.clone();
                let tspan = t.span;
                cx.report(codes::UNUSED_STATE_FIELD, f.span, format!("the transform never reads `{name}`"), |d| {
                    d.label("this persistent data is dropped by the upgrade")
                        .also(tspan, "the transform")
                        .help(format!("read `{param}.{name}` in the transform, or name `{name}` in the new state if its data should survive"))
                });
            }
        }
        Direction::Reverse => {
            // One warning naming them all, on the transform: a rollback would drop each.
            let Some(first) = unread.first() else {
                return;
            };
            let list: Vec<String> = unread.iter().map(|n| format!("`{}`", n.name)).collect();
            let list = list.join(", ");
            let spans: Vec<Span> = unread.iter().map(|n| n.span).collect();
            let them = if unread.len() == 1 { "it" } else { "them" };
            let head = Span::new(t.span.start, t.new.span.end);
            let (v, first) = (from.number, first.name.clone());
            cx.report(
                codes::REVERSE_UNREAD_FIELD,
                head,
                format!("the reverse transform never reads {list} of the new state"),
                |mut d| {
                    d = d.label(format!("a rollback drops what version {v} wrote to {them}"));
                    for span in spans {
                        d = d.also(span, "never read by the reverse transform");
                    }
                    d.note("writes acknowledged by the new version since the upgrade are carried back only through the reverse transform")
                        .help(format!(
                            "read `{param}.{first}` in the reverse transform, folding its data into the old state"
                        ))
                },
            );
        }
    }
}
