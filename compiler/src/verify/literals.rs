//! The literals a spec's expressions mention (`"USD"`, `"paid"`, `100`). Generated strings
//! and integers are sometimes drawn from them, so branches that compare against a literal
//! (`if currency == "USD"`, `match o.status { "paid" => .. }`) are taken by generated cases.

use lang::ast::{Expr, ExprKind, Lit, Pattern, PatternKind, Spec, UnOp};
use std::collections::BTreeSet;

/// At most this many literals of each kind are kept.
const MAX_LITERALS: usize = 64;
/// Expressions nested deeper than this are not searched.
const MAX_DEPTH: usize = 200;

/// String and integer literals of a spec, sorted, without duplicates.
#[derive(Debug, Clone, Default)]
pub struct Literals {
    pub strings: Vec<String>,
    /// Each integer literal with its neighbours (`n - 1`, `n + 1`): boundaries of comparisons.
    pub ints: Vec<i128>,
}

impl Literals {
    /// The literals of the invariant, the transforms (forward and reverse), every rule and
    /// the states' `where` clauses of `spec`.
    pub fn of(spec: &Spec) -> Literals {
        let mut c = Collector::default();
        for inv in spec.invariants() {
            for clause in &inv.clauses {
                c.expr(clause, 0);
            }
        }
        for t in spec.all_transforms() {
            for f in &t.fields {
                c.expr(&f.value, 0);
            }
        }
        for block in spec.rule_blocks() {
            for rule in &block.rules {
                c.expr(&rule.body, 0);
            }
        }
        for v in spec.versions() {
            for d in &v.decls {
                if let lang::ast::Decl::State(st) = d {
                    c.exprs(st.wellformed.iter().flat_map(|w| &w.clauses), 0);
                }
            }
        }
        Literals {
            strings: c.strings.into_iter().take(MAX_LITERALS).collect(),
            ints: c.ints.into_iter().take(MAX_LITERALS).collect(),
        }
    }
}

impl Literals {
    /// The literals of some expressions (a state's `where` clauses).
    pub fn of_exprs(exprs: &[Expr]) -> Literals {
        let mut c = Collector::default();
        c.exprs(exprs, 0);
        Literals {
            strings: c.strings.into_iter().take(MAX_LITERALS).collect(),
            ints: c.ints.into_iter().take(MAX_LITERALS).collect(),
        }
    }
}

#[derive(Default)]
struct Collector {
    strings: BTreeSet<String>,
    ints: BTreeSet<i128>,
}

impl Collector {
    fn lit(&mut self, lit: &Lit, negated: bool) {
        match lit {
            Lit::Str(s) => {
                self.strings.insert(s.clone());
            }
            Lit::Int(n) => {
                let n = if negated {
                    -i128::from(*n)
                } else {
                    i128::from(*n)
                };
                self.ints.extend([n - 1, n, n + 1]);
            }
            Lit::Float(_) | Lit::Bool(_) | Lit::None | Lit::Unit => {}
        }
    }

    fn exprs<'e>(&mut self, es: impl IntoIterator<Item = &'e Expr>, depth: usize) {
        for e in es {
            self.expr(e, depth);
        }
    }

    fn expr(&mut self, e: &Expr, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        let d = depth + 1;
        match &e.kind {
            ExprKind::Lit(lit) => self.lit(lit, false),
            ExprKind::Unary(UnOp::Neg, inner)
                if matches!(inner.kind, ExprKind::Lit(Lit::Int(_))) =>
            {
                if let ExprKind::Lit(lit) = &inner.kind {
                    self.lit(lit, true);
                }
            }
            ExprKind::Var(_) | ExprKind::Disallow(_) => {}
            ExprKind::Variant { payload, .. } => {
                if let Some(p) = payload {
                    self.expr(p, d);
                }
            }
            ExprKind::Field(inner, _) | ExprKind::Unary(_, inner) => self.expr(inner, d),
            ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => {
                self.expr(a, d);
                self.expr(b, d);
            }
            ExprKind::Builtin { args, .. } | ExprKind::Delegate { args, .. } => self.exprs(args, d),
            ExprKind::Record { fields, .. } => {
                for f in fields {
                    self.expr(&f.value, d);
                }
            }
            ExprKind::Tuple(items) | ExprKind::List(items) => self.exprs(items, d),
            ExprKind::Map(entries) => {
                for (k, v) in entries {
                    self.expr(k, d);
                    self.expr(v, d);
                }
            }
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => {
                self.expr(cond, d);
                self.expr(then, d);
                self.expr(otherwise, d);
            }
            ExprKind::Match { scrutinee, arms } => {
                self.expr(scrutinee, d);
                for arm in arms {
                    self.pattern(&arm.pattern, d);
                    self.expr(&arm.body, d);
                }
            }
            ExprKind::Let { value, body, .. } => {
                self.expr(value, d);
                self.expr(body, d);
            }
            ExprKind::Closure { body, .. } => self.expr(body, d),
            ExprKind::Quant { domain, body, .. } => {
                self.expr(domain, d);
                self.expr(body, d);
            }
        }
    }

    fn pattern(&mut self, p: &Pattern, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        match &p.kind {
            PatternKind::Lit(lit) => self.lit(lit, false),
            PatternKind::NegInt(n) => self.lit(&Lit::Int(*n), true),
            PatternKind::Some(inner) => self.pattern(inner, depth + 1),
            PatternKind::Variant {
                payload: Some(inner),
                ..
            } => self.pattern(inner, depth + 1),
            PatternKind::Wildcard
            | PatternKind::None
            | PatternKind::Variant { payload: None, .. } => {}
        }
    }
}
