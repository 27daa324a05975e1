//! Chains of specs given together (`1 -> 2`, `2 -> 3`): one system, no gaps, no two specs for
//! one step, and at each joint both specs declare the shared version identically, so nodes
//! two versions apart can talk through composed rules.

use super::types::Types;
use crate::model::{SpecModel, VersionEnv};
use lang::diagnostic::{codes, Diagnostic};

pub(crate) fn check_chain(models: &[SpecModel]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut order: Vec<&SpecModel> = models.iter().collect();
    order.sort_by_key(|m| m.spec.from.value);
    let Some(first) = order.first() else {
        return out;
    };
    for m in order.iter().skip(1) {
        if m.spec.name.name != first.spec.name.name {
            out.push(
                Diagnostic::new(
                    codes::CHAIN_NAME,
                    m.file,
                    m.spec.name.span,
                    format!(
                        "`{}` and `{}` cannot form one chain",
                        first.spec.name.name, m.spec.name.name
                    ),
                )
                .label("a different system")
                .secondary(
                    first.file,
                    first.spec.name.span,
                    "the chain upgrades this system",
                )
                .help("check specs of one system together; check other systems separately"),
            );
        }
    }
    for pair in order.windows(2) {
        let [a, b] = pair else { continue };
        if a.spec.from.value == b.spec.from.value {
            out.push(
                Diagnostic::new(
                    codes::CHAIN_DUPLICATE,
                    b.file,
                    b.spec.header_span,
                    format!(
                        "two specs upgrade {} -> {}",
                        b.spec.from.value, b.spec.to.value
                    ),
                )
                .label("second spec for this step")
                .secondary(a.file, a.spec.header_span, "first spec for this step"),
            );
            continue;
        }
        if a.spec.to.value != b.spec.from.value {
            out.push(
                Diagnostic::new(
                    codes::CHAIN_GAP,
                    b.file,
                    b.spec.header_span,
                    format!(
                        "the chain has no spec from version {} to version {}",
                        a.spec.to.value, b.spec.from.value
                    ),
                )
                .label(format!("starts at version {}", b.spec.from.value))
                .secondary(
                    a.file,
                    a.spec.header_span,
                    format!("ends at version {}", a.spec.to.value),
                )
                .help(format!(
                    "add the spec `{} {} -> {}`",
                    a.spec.name.name, a.spec.to.value, b.spec.from.value
                )),
            );
            continue;
        }
        if let Some(what) = difference(&a.new, &b.old) {
            let v = a.new.number;
            out.push(
                Diagnostic::new(
                    codes::CHAIN_MISMATCH,
                    b.file,
                    b.old.span,
                    format!("the two specs disagree on version {v}"),
                )
                .label(format!("version {v} as this spec declares it"))
                .secondary(
                    a.file,
                    a.new.span,
                    format!("version {v} as the previous spec declares it"),
                )
                .note(what)
                .help(format!(
                    "copy version {v} from one spec to the other: a version has one interface"
                )),
            );
        }
    }
    out
}

/// The first difference between two declarations of the same version, in words.
fn difference(a: &VersionEnv, b: &VersionEnv) -> Option<String> {
    let types = Types::of(a, b);
    // Both envs have the same number; `Types` resolves by number, so compare field by field.
    let same_ty = |x: &crate::model::Ty, y: &crate::model::Ty| x == y || types.same(x, y);
    for (name, r) in &a.records {
        match b.records.get(name) {
            None => return Some(format!("record `{name}` is missing from one of them")),
            Some(s) => {
                if r.fields.len() != s.fields.len()
                    || !r
                        .fields
                        .iter()
                        .all(|f| s.field(&f.name.name).is_some_and(|g| same_ty(&f.ty, &g.ty)))
                {
                    return Some(format!("record `{name}` has different fields"));
                }
            }
        }
    }
    if let Some(name) = b.records.keys().find(|n| !a.records.contains_key(*n)) {
        return Some(format!("record `{name}` is missing from one of them"));
    }
    for (name, e) in &a.enums {
        match b.enums.get(name) {
            None => return Some(format!("enum `{name}` is missing from one of them")),
            Some(f) => {
                let same = e.variants.len() == f.variants.len()
                    && e.variants.iter().all(|v| {
                        f.variant(&v.name.name)
                            .is_some_and(|w| match (&v.payload, &w.payload) {
                                (None, None) => true,
                                (Some(x), Some(y)) => same_ty(x, y),
                                _ => false,
                            })
                    });
                if !same {
                    return Some(format!("enum `{name}` has different variants"));
                }
            }
        }
    }
    if let Some(name) = b.enums.keys().find(|n| !a.enums.contains_key(*n)) {
        return Some(format!("enum `{name}` is missing from one of them"));
    }
    for (name, s) in &a.services {
        let Some(t) = b.services.get(name) else {
            return Some(format!("service `{name}` is missing from one of them"));
        };
        for m in &s.methods {
            let same = t.method(&m.name.name).is_some_and(|n| {
                n.params.len() == m.params.len()
                    && n.params
                        .iter()
                        .zip(&m.params)
                        .all(|(p, q)| p.name.name == q.name.name && same_ty(&p.ty, &q.ty))
                    && same_ty(&n.ret, &m.ret)
            });
            if !same {
                return Some(format!("method `{name}.{}` differs", m.name.name));
            }
            // Both give the method a meaning: it must be the same one (a spec may leave it out).
            let models = (
                m.model.as_ref(),
                t.method(&m.name.name).and_then(|n| n.model.as_ref()),
            );
            if let (Some(x), Some(y)) = models {
                if model_text(x) != model_text(y) {
                    return Some(format!(
                        "the model of method `{name}.{}` differs",
                        m.name.name
                    ));
                }
            }
        }
        if let Some(m) = t.methods.iter().find(|m| s.method(&m.name.name).is_none()) {
            return Some(format!(
                "method `{name}.{}` is missing from one of them",
                m.name.name
            ));
        }
    }
    if let Some(name) = b.services.keys().find(|n| !a.services.contains_key(*n)) {
        return Some(format!("service `{name}` is missing from one of them"));
    }
    let state_same = match (&a.state, &b.state) {
        (None, None) => true,
        (Some(x), Some(y)) => {
            x.fields.len() == y.fields.len()
                && x.fields
                    .iter()
                    .all(|f| y.field(&f.name.name).is_some_and(|g| same_ty(&f.ty, &g.ty)))
        }
        _ => false,
    };
    if !state_same {
        return Some("the state differs".to_string());
    }
    None
}

/// A method model as text without spans: two models written alike (in any layout, at any
/// place) give the same text.
fn model_text(m: &lang::ast::MethodModel) -> String {
    let expr = |e: &lang::ast::Expr| {
        lang::ast::print::print_expr(e)
            .lines()
            .map(|l| l.rsplit_once(" @").map_or(l, |(text, _)| text))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut out = String::new();
    for stmt in &m.stmts {
        let (head, value) = match stmt {
            lang::ast::ModelStmt::Let { name, value, .. } => (format!("let {}", name.name), value),
            lang::ast::ModelStmt::Assign { field, value, .. } => {
                (format!("state.{}", field.name), value)
            }
        };
        out.push_str(&format!("{head}\n{}\n", expr(value)));
    }
    if let Some(e) = &m.result {
        out.push_str(&format!("result\n{}\n", expr(e)));
    }
    out
}
