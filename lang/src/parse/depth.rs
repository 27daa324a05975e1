//! Measures how deep an item's expressions nest, without recursion, so a long chain of
//! operators (built iteratively by the Pratt parser) cannot overflow the stack of the
//! recursive passes that follow.

use super::chunk::MAX_NESTING;
use crate::ast::{Expr, ExprKind, Item};
use crate::span::Span;

/// The span of the first expression of `item` that nests deeper than [`MAX_NESTING`].
pub(super) fn too_deep(item: &Item) -> Option<Span> {
    let roots: Vec<&Expr> = match item {
        Item::Invariant(i) => i.clauses.iter().collect(),
        Item::Transform(t) => t.fields.iter().map(|f| &f.value).collect(),
        Item::Rules(r) => r.rules.iter().map(|r| &r.body).collect(),
        Item::Protocol(_) | Item::Version(_) | Item::Schedule(_) => Vec::new(),
    };
    let limit = usize::try_from(MAX_NESTING).unwrap_or(usize::MAX);
    let mut stack: Vec<(&Expr, usize)> = roots.into_iter().map(|e| (e, 1)).collect();
    while let Some((e, depth)) = stack.pop() {
        if depth > limit {
            return Some(e.span);
        }
        let next = depth + 1;
        match &e.kind {
            ExprKind::Lit(_) | ExprKind::Var(_) | ExprKind::Disallow(_) => {}
            ExprKind::Variant { payload, .. } => {
                stack.extend(payload.iter().map(|p| (p.as_ref(), next)))
            }
            ExprKind::Field(inner, _) | ExprKind::Unary(_, inner) => stack.push((inner, next)),
            ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => {
                stack.push((a, next));
                stack.push((b, next));
            }
            ExprKind::Builtin { args, .. } | ExprKind::Delegate { args, .. } => {
                stack.extend(args.iter().map(|a| (a, next)));
            }
            ExprKind::Record { fields, .. } => {
                stack.extend(fields.iter().map(|f| (&f.value, next)))
            }
            ExprKind::Tuple(items) | ExprKind::List(items) => {
                stack.extend(items.iter().map(|a| (a, next)))
            }
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => {
                stack.extend([
                    (cond.as_ref(), next),
                    (then.as_ref(), next),
                    (otherwise.as_ref(), next),
                ]);
            }
            ExprKind::Match { scrutinee, arms } => {
                stack.push((scrutinee, next));
                // Patterns nest only through brackets, which the chunker already bounds.
                stack.extend(arms.iter().map(|arm| (&arm.body, next)));
            }
            ExprKind::Let { value, body, .. } => {
                stack.push((value, next));
                stack.push((body, next));
            }
            ExprKind::Closure { body, .. } => stack.push((body, next)),
            ExprKind::Quant { domain, body, .. } => {
                stack.push((domain, next));
                stack.push((body, next));
            }
        }
    }
    None
}

/// Drops `item` without recursion: a refused item may nest far deeper than the stack allows
/// a recursive drop (a sum of 100,000 terms is built iteratively, left-deep).
pub(super) fn dismantle(item: Item) {
    let mut stack: Vec<Expr> = match item {
        Item::Invariant(i) => i.clauses,
        Item::Transform(t) => t.fields.into_iter().map(|f| f.value).collect(),
        Item::Rules(r) => r.rules.into_iter().map(|r| r.body).collect(),
        Item::Protocol(_) | Item::Version(_) | Item::Schedule(_) => Vec::new(),
    };
    while let Some(mut e) = stack.pop() {
        let kind = std::mem::replace(&mut e.kind, ExprKind::Lit(crate::ast::Lit::Unit));
        match kind {
            ExprKind::Lit(_) | ExprKind::Var(_) | ExprKind::Disallow(_) => {}
            ExprKind::Variant { payload, .. } => stack.extend(payload.map(|p| *p)),
            ExprKind::Field(inner, _) | ExprKind::Unary(_, inner) => stack.push(*inner),
            ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => stack.extend([*a, *b]),
            ExprKind::Builtin { args, .. } | ExprKind::Delegate { args, .. } => stack.extend(args),
            ExprKind::Record { fields, .. } => stack.extend(fields.into_iter().map(|f| f.value)),
            ExprKind::Tuple(items) | ExprKind::List(items) => stack.extend(items),
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => stack.extend([*cond, *then, *otherwise]),
            ExprKind::Match { scrutinee, arms } => {
                stack.push(*scrutinee);
                stack.extend(arms.into_iter().map(|arm| arm.body));
            }
            ExprKind::Let { value, body, .. }
            | ExprKind::Quant {
                domain: value,
                body,
                ..
            } => stack.extend([*value, *body]),
            ExprKind::Closure { body, .. } => stack.push(*body),
        }
    }
}
