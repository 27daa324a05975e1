//! How many delegate `call`s a rule makes on one run, at most: the manifest lists the rules
//! that make at most one (`past_one_call`, `future_one_call`), so that a host may send the
//! calls of a caller's next request to the node while this one's answer is still coming (once
//! a one-call rule has made its call it makes no other, so the node still sees the calls in
//! the caller's order). Counted over the syntax: the branches of an `if` or a `match` take the
//! larger count, and a `call` in a closure or a quantifier's body (which may run many times)
//! counts as unbounded. Conservative: a rule not listed is only run one request at a time.

use lang::ast::{Expr, ExprKind};

/// Whether every run of `body` makes at most one delegate call.
pub(crate) fn at_most_one(body: &Expr) -> bool {
    max_calls(body).is_some_and(|n| n <= 1)
}

/// The most delegate calls one run of `e` makes; `None` when unbounded.
fn max_calls(e: &Expr) -> Option<u32> {
    let all = |items: &[Expr]| {
        items
            .iter()
            .try_fold(0u32, |n, i| n.checked_add(max_calls(i)?))
    };
    let sum = |a: &Expr, b: &Expr| max_calls(a)?.checked_add(max_calls(b)?);
    match &e.kind {
        ExprKind::Lit(_) | ExprKind::Var(_) | ExprKind::Disallow(_) => Some(0),
        ExprKind::Variant { payload, .. } => payload.as_deref().map_or(Some(0), max_calls),
        ExprKind::Field(inner, _) | ExprKind::Unary(_, inner) => max_calls(inner),
        ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => sum(a, b),
        ExprKind::Builtin { args, .. } => all(args),
        ExprKind::Delegate { args, .. } => all(args)?.checked_add(1),
        ExprKind::Tuple(items) | ExprKind::List(items) => all(items),
        ExprKind::Map(entries) => entries
            .iter()
            .try_fold(0u32, |n, (k, v)| n.checked_add(sum(k, v)?)),
        ExprKind::Record { fields, .. } => fields
            .iter()
            .try_fold(0u32, |n, f| n.checked_add(max_calls(&f.value)?)),
        ExprKind::If {
            cond,
            then,
            otherwise,
        } => max_calls(cond)?.checked_add(max_calls(then)?.max(max_calls(otherwise)?)),
        ExprKind::Match { scrutinee, arms } => {
            let mut most = 0u32;
            for arm in arms {
                most = most.max(max_calls(&arm.body)?);
            }
            max_calls(scrutinee)?.checked_add(most)
        }
        ExprKind::Let { value, body, .. } => sum(value, body),
        // A body that may run many times: unbounded if it calls at all.
        ExprKind::Closure { body, .. } => match max_calls(body)? {
            0 => Some(0),
            _ => None,
        },
        ExprKind::Quant { domain, body, .. } => match max_calls(body)? {
            0 => max_calls(domain),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use crate::codegen::tests::rule_body as body;

    /// Each body's most calls on one path (`None`: calls that repeat); every failure at once.
    fn check(cases: &[(&str, Option<u32>)]) {
        let wrong: Vec<String> = cases
            .iter()
            .filter_map(|&(src, want)| {
                let got = max_calls(&body(src));
                (got != want).then(|| format!("`{src}`: expected {want:?}, got {got:?}"))
            })
            .collect();
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    /// One call on every path is at most one; several calls, or calls that repeat (in a
    /// closure or a quantifier), are not.
    #[test]
    fn calls_are_counted_on_the_busiest_path() {
        check(&[
            ("x + 1", Some(0)),
            ("call f(x) + 1", Some(1)),
            ("{ let y = call f(x); y * 2 }", Some(1)),
            // One per branch.
            ("if x > 1 { call f(x) } else { call f(x + 1) }", Some(1)),
            ("match some(x) { some(y) => call f(y), none => 0 }", Some(1)),
            ("call f(x) + call f(1)", Some(2)),
            ("call f(call f(x))", Some(2)),
            // The condition's call and a branch's.
            ("if call f(x) > 1 { call f(x) } else { 0 }", Some(2)),
            ("[1].map(|y| call f(y)).len()", None),
            ("if forall y in [1]: call f(y) > 0 { 1 } else { 2 }", None),
            // Every entry of a map literal runs.
            ("{\"a\": call f(x), \"b\": call f(1)}.len()", Some(2)),
        ]);
        assert!(at_most_one(&body("[1].map(|y| y + 1).len() + call f(x)")));
        assert!(!at_most_one(&body("{ let y = call f(x); call f(y) }")));
    }
}
