//! Which variables may be moved instead of cloned: an owned binding read exactly once in its
//! scope, or read only through field paths that are each read once and never overlap
//! (`e.key` and `e.value`: Rust moves the fields apart), and not from inside a closure or a
//! quantifier's body (which may run many times). Everything else is cloned where a value is
//! needed, which is always correct.

use lang::ast::{Expr, ExprKind, Pattern, PatternKind};

/// How `name` is used in `body` (the scope of one binding of it).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Uses {
    count: usize,
    /// Field paths through which the name is read (`e.key` is `["key"]`); a whole read has
    /// the empty path.
    paths: Vec<Vec<String>>,
    /// A use runs inside a closure or quantifier body within the scope.
    repeated: bool,
    /// A pattern in the scope may rebind the name: counting is not sure, so never move.
    unsure: bool,
}

/// Whether the binding of `name` whose scope is `body` may be moved at its one use.
pub(crate) fn movable(name: &str, body: &Expr) -> bool {
    let mut uses = Uses::default();
    count(name, body, false, &mut uses);
    if uses.repeated || uses.unsure {
        return false;
    }
    if uses.count == 1 {
        return true;
    }
    // Several reads, all through field paths none of which is a prefix of another.
    let paths = &uses.paths;
    !paths.is_empty()
        && paths.iter().enumerate().all(|(i, a)| {
            !a.is_empty()
                && paths
                    .iter()
                    .skip(i + 1)
                    .all(|b| !a.starts_with(b) && !b.starts_with(a))
        })
}

/// `x.a.b` as (`x`, [`a`, `b`]) when the chain ends in a variable.
fn field_path(e: &Expr) -> Option<(&str, Vec<String>)> {
    match &e.kind {
        ExprKind::Var(v) => Some((v.name.as_str(), Vec::new())),
        ExprKind::Field(inner, f) => {
            let (root, mut path) = field_path(inner)?;
            path.push(f.name.clone());
            Some((root, path))
        }
        _ => None,
    }
}

/// Whether the scope `body` reads `name` at all.
pub(crate) fn reads(name: &str, body: &Expr) -> bool {
    let mut uses = Uses::default();
    count(name, body, false, &mut uses);
    uses.count > 0 || uses.unsure
}

fn count(name: &str, e: &Expr, repeated: bool, uses: &mut Uses) {
    let all = |items: &[Expr], uses: &mut Uses| {
        for i in items {
            count(name, i, repeated, uses);
        }
    };
    match &e.kind {
        ExprKind::Lit(_) | ExprKind::Disallow(_) => {}
        ExprKind::Var(v) => {
            if v.name == name {
                uses.count += 1;
                uses.paths.push(Vec::new());
                uses.repeated |= repeated;
            }
        }
        ExprKind::Variant { payload, .. } => {
            if let Some(p) = payload {
                count(name, p, repeated, uses);
            }
        }
        ExprKind::Field(inner, _) => match field_path(e) {
            Some((root, path)) if root == name => {
                uses.count += 1;
                uses.paths.push(path);
                uses.repeated |= repeated;
            }
            _ => count(name, inner, repeated, uses),
        },
        ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => {
            count(name, a, repeated, uses);
            count(name, b, repeated, uses);
        }
        ExprKind::Builtin { args, .. } | ExprKind::Delegate { args, .. } => all(args, uses),
        ExprKind::Tuple(items) | ExprKind::List(items) => all(items, uses),
        ExprKind::Map(entries) => {
            for (k, v) in entries {
                count(name, k, repeated, uses);
                count(name, v, repeated, uses);
            }
        }
        ExprKind::Record { fields, .. } => {
            for f in fields {
                count(name, &f.value, repeated, uses);
            }
        }
        ExprKind::Unary(_, inner) => count(name, inner, repeated, uses),
        ExprKind::If {
            cond,
            then,
            otherwise,
        } => {
            count(name, cond, repeated, uses);
            count(name, then, repeated, uses);
            count(name, otherwise, repeated, uses);
        }
        ExprKind::Match { scrutinee, arms } => {
            count(name, scrutinee, repeated, uses);
            for arm in arms {
                if mentions(&arm.pattern, name) {
                    uses.unsure = true;
                }
                count(name, &arm.body, repeated, uses);
            }
        }
        ExprKind::Let {
            name: bound,
            value,
            body,
        } => {
            count(name, value, repeated, uses);
            if bound.name != name {
                count(name, body, repeated, uses);
            }
        }
        ExprKind::Closure { params, body } => {
            if params.iter().all(|p| p.name != name) {
                count(name, body, true, uses);
            }
        }
        ExprKind::Quant {
            var, domain, body, ..
        } => {
            count(name, domain, repeated, uses);
            if var.name != name {
                count(name, body, true, uses);
            }
        }
    }
}

/// Whether a pattern has a lone name `name` (a binding, or a variant of that name).
fn mentions(p: &Pattern, name: &str) -> bool {
    match &p.kind {
        PatternKind::Some(inner) => mentions(inner, name),
        PatternKind::Variant { path, payload } => {
            (path.len() == 1 && path.first().is_some_and(|i| i.name == name))
                || payload.as_deref().is_some_and(|q| mentions(q, name))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::tests::rule_body as body;

    #[test]
    fn one_use_outside_closures_moves() {
        assert!(movable("x", &body("x + 1")));
        assert!(movable("x", &body("[1].map(|y| y + 1).len() + x")));
        assert!(!movable("x", &body("x + x")));
        assert!(!movable("x", &body("[1].map(|y| y + x).len()")));
        assert!(!movable(
            "x",
            &body("if forall y in [1]: y == x { 1 } else { 2 }")
        ));
        assert!(movable("x", &body("{ let y = x; y }")));
        assert!(
            !movable("x", &body("{ let x = 1; x }")),
            "shadowed: no use of the outer x"
        );
        assert!(!movable(
            "x",
            &body("match some(1) { some(x) => x, none => x }")
        ));
    }

    #[test]
    fn disjoint_field_paths_move_apart() {
        assert!(movable("x", &body("(x.a, x.b)")));
        assert!(movable("x", &body("(x.a.c, x.a.d, x.b)")));
        assert!(!movable("x", &body("(x.a, x.a)")));
        assert!(
            !movable("x", &body("(x.a, x.a.c)")),
            "a path inside another"
        );
        assert!(!movable("x", &body("(x.a, x)")));
        assert!(!movable("x", &body("[1].map(|y| x.a).len() + x.b")));
    }
}
