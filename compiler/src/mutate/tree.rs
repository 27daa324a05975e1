//! Walking one expression tree: its direct parts in the order of the AST's fields, finding a
//! part by id to replace it, and the names a rule binds (the candidates of a swapped variable).

use lang::ast::{Expr, ExprId, ExprKind, Pattern, PatternKind};

/// The part of `e` (or `e` itself) whose id is `id`.
pub(crate) fn find_mut(e: &mut Expr, id: ExprId) -> Option<&mut Expr> {
    // An explicit stack: no recursion over a tree the parser bounded, but cheaply.
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        if e.id == id {
            return Some(e);
        }
        stack.extend(e.children_mut());
    }
    None
}

/// Every part of `e`, `e` first, parents before their parts.
pub(crate) fn preorder(e: &Expr) -> Vec<&Expr> {
    let mut out = Vec::new();
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        out.push(e);
        let mut parts = e.children();
        parts.reverse();
        stack.extend(parts);
    }
    out
}

/// The names bound anywhere in `e`: `let`s, closure parameters, quantified variables and
/// match bindings (a lone name in a pattern; the checker tells them from variants).
pub(crate) fn bound_names(e: &Expr, out: &mut Vec<String>) {
    for part in preorder(e) {
        match &part.kind {
            ExprKind::Let { name, .. } | ExprKind::Quant { var: name, .. } => {
                out.push(name.name.clone());
            }
            ExprKind::Closure { params, .. } => {
                out.extend(params.iter().map(|p| p.name.clone()));
            }
            ExprKind::Match { arms, .. } => {
                for arm in arms {
                    pattern_names(&arm.pattern, out);
                }
            }
            _ => {}
        }
    }
}

fn pattern_names(p: &Pattern, out: &mut Vec<String>) {
    match &p.kind {
        PatternKind::Some(inner) => pattern_names(inner, out),
        PatternKind::Variant { path, payload } => match payload {
            Some(inner) => pattern_names(inner, out),
            None => {
                if let [name] = path.as_slice() {
                    out.push(name.name.clone());
                }
            }
        },
        PatternKind::Wildcard
        | PatternKind::None
        | PatternKind::Lit(_)
        | PatternKind::NegInt(_) => {}
    }
}
