//! Measures how deep an item's expressions nest, without recursion, so a long chain of
//! operators (built iteratively by the Pratt parser) cannot overflow the stack of the
//! recursive passes that follow.
//!
//! A flat chain of one operator (`a && b && c ...`, `x + y - z ...`: operators of one
//! precedence level, built left-deep) is not nesting as the author sees it: its terms count
//! as one level of the [`MAX_NESTING`] limit. The recursive passes still descend once per
//! term, so the tree's true height (every level, chains included) is bounded on its own by
//! [`MAX_HEIGHT`].

use super::chunk::MAX_NESTING;
use crate::ast::{Decl, Expr, ExprKind, Item, ModelStmt};
use crate::span::Span;

/// The greatest height of an expression tree, counting each term of a flat chain as a level
/// (a chain is built left-deep, and the checker, evaluator and code generator recurse once
/// per level). The code generator is the hungriest: in a debug build on a 2 MiB thread stack
/// (a test thread's) it overflowed between 300 and 500 levels, so 256 keeps a margin
/// (`upstartc/tests/no_panic.rs` checks, verifies and generates code for 250-term chains on
/// one) while doubling the 128 terms a chain was allowed before.
pub(super) const MAX_HEIGHT: usize = 256;

/// Why an expression is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TooDeep {
    /// Nested deeper than [`MAX_NESTING`] levels (a chain counting as one).
    Nesting(Span),
    /// Its tree is higher than [`MAX_HEIGHT`] (every term of a chain counting).
    Height(Span),
}

/// The first expression of `item` that nests deeper than [`MAX_NESTING`] or is higher than
/// [`MAX_HEIGHT`].
pub(super) fn too_deep(item: &Item) -> Option<TooDeep> {
    let roots = item.root_exprs();
    let limit = usize::try_from(MAX_NESTING).unwrap_or(usize::MAX);
    // (expression, nesting depth, height in the tree)
    let mut stack: Vec<(&Expr, usize, usize)> = roots.into_iter().map(|e| (e, 1, 1)).collect();
    while let Some((e, depth, height)) = stack.pop() {
        if depth > limit {
            return Some(TooDeep::Nesting(e.span));
        }
        if height > MAX_HEIGHT {
            return Some(TooDeep::Height(e.span));
        }
        let next = depth + 1;
        if let ExprKind::Binary(op, a, b) = &e.kind {
            // The left operand continues the chain when it is an operator of the same level
            // (written in brackets or not: either way it recurses the same).
            let same = matches!(&a.kind, ExprKind::Binary(inner, ..) if inner.precedence() == op.precedence());
            stack.push((a, if same { depth } else { next }, height + 1));
            stack.push((b, next, height + 1));
            continue;
        }
        let mut stack = Pusher {
            stack: &mut stack,
            height: height + 1,
        };
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
            ExprKind::Map(entries) => {
                stack.extend(entries.iter().flat_map(|(k, v)| [(k, next), (v, next)]))
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

/// Pushes the children `(expression, depth)` of one expression, one level higher.
struct Pusher<'s, 'e> {
    stack: &'s mut Vec<(&'e Expr, usize, usize)>,
    height: usize,
}

impl<'e> Pusher<'_, 'e> {
    fn push(&mut self, (e, depth): (&'e Expr, usize)) {
        self.stack.push((e, depth, self.height));
    }

    fn extend(&mut self, items: impl IntoIterator<Item = (&'e Expr, usize)>) {
        let height = self.height;
        self.stack
            .extend(items.into_iter().map(|(e, depth)| (e, depth, height)));
    }
}

/// Drops `item` without recursion: a refused item may nest far deeper than the stack allows
/// a recursive drop (a sum of 100,000 terms is built iteratively, left-deep).
pub(super) fn dismantle(item: Item) {
    let mut stack_clauses: Vec<Expr> = Vec::new();
    let mut stack: Vec<Expr> = match item {
        Item::Invariant(i) => i.clauses,
        Item::Transform(t) => t.fields.into_iter().map(|f| f.value).collect(),
        Item::Rules(r) => r.rules.into_iter().map(|r| r.body).collect(),
        Item::Version(v) => v
            .decls
            .into_iter()
            .filter_map(|d| match d {
                Decl::Service(s) => Some(s.methods),
                Decl::State(s) => {
                    stack_clauses.extend(s.wellformed.into_iter().flat_map(|w| w.clauses));
                    None
                }
                _ => None,
            })
            .flatten()
            .filter_map(|m| m.model)
            .flat_map(|m| {
                m.stmts
                    .into_iter()
                    .map(|s| match s {
                        ModelStmt::Let { value, .. } | ModelStmt::Assign { value, .. } => value,
                    })
                    .chain(m.result)
            })
            .collect(),
        Item::Function(f) => vec![f.body],
        Item::Protocol(_) | Item::Schedule(_) => Vec::new(),
    };
    stack.append(&mut stack_clauses);
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
            ExprKind::Map(entries) => stack.extend(entries.into_iter().flat_map(|(k, v)| [k, v])),
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
