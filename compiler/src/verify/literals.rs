//! The literals a spec's expressions mention (`"USD"`, `"paid"`, `100`). Generated strings
//! and integers are sometimes drawn from them, so branches that compare against a literal
//! (`if currency == "USD"`, `match o.status { "paid" => .. }`) are taken by generated cases.
//!
//! Besides the spec-wide dictionary, each name (a record field's, a variable's or a
//! parameter's) keeps the literals it is compared with (`x.currency == "USD"`, `amount > 100`,
//! `match o.status { "paid" => .. }`): a value generated for a field or parameter of that name
//! is often one of them, so a comparison's both outcomes are reached even when the spec holds
//! many literals, and several such fields can hold their literal at once (`street`, `city` and
//! `country` all `""`).

use lang::ast::{BinOp, Expr, ExprKind, Lit, Pattern, PatternKind, Spec, UnOp};
use std::collections::{BTreeMap, BTreeSet};

/// At most this many literals of each kind are kept.
const MAX_LITERALS: usize = 64;
/// At most this many names keep the literals they are compared with.
const MAX_NAMES: usize = 256;
/// Expressions nested deeper than this are not searched.
const MAX_DEPTH: usize = 200;

/// String and integer literals of a spec, sorted, without duplicates.
#[derive(Debug, Clone, Default)]
pub struct Literals {
    pub strings: Vec<String>,
    /// Each integer literal with its neighbours (`n - 1`, `n + 1`): boundaries of comparisons.
    pub ints: Vec<i128>,
    /// Per name, the literals values of that name are compared with.
    pub compared: BTreeMap<String, Compared>,
}

/// The literals one name is compared with, sorted, without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Compared {
    pub strings: Vec<String>,
    /// Each integer literal with its neighbours, as in [`Literals::ints`].
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
        c.finish()
    }
}

impl Literals {
    /// The literals of some expressions (a state's `where` clauses).
    pub fn of_exprs(exprs: &[Expr]) -> Literals {
        let mut c = Collector::default();
        c.exprs(exprs, 0);
        c.finish()
    }

    /// The literals values named `name` are compared with, if any.
    pub fn compared(&self, name: &str) -> Option<&Compared> {
        self.compared.get(name)
    }
}

/// The literals of one kind, as a set while collecting.
#[derive(Default)]
struct Sets {
    strings: BTreeSet<String>,
    ints: BTreeSet<i128>,
}

impl Sets {
    fn add(&mut self, lit: &Lit, negated: bool) {
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

    /// The sets as sorted lists, each cut to `MAX_LITERALS`.
    fn finish(self) -> Compared {
        Compared {
            strings: self.strings.into_iter().take(MAX_LITERALS).collect(),
            ints: self.ints.into_iter().take(MAX_LITERALS).collect(),
        }
    }
}

#[derive(Default)]
struct Collector {
    all: Sets,
    compared: BTreeMap<String, Sets>,
}

impl Collector {
    fn finish(self) -> Literals {
        let compared = self
            .compared
            .into_iter()
            .take(MAX_NAMES)
            .map(|(name, sets)| (name, sets.finish()))
            .collect();
        let Compared { strings, ints } = self.all.finish();
        Literals {
            strings,
            ints,
            compared,
        }
    }

    fn lit(&mut self, lit: &Lit, negated: bool) {
        self.all.add(lit, negated);
    }

    /// Records that values named `name` are compared with the literal `lit`.
    fn compare(&mut self, name: &str, lit: &Lit, negated: bool) {
        // Only strings and integers are drawn: a name compared with nothing else gets no entry,
        // so it does not count against `MAX_NAMES`.
        if !matches!(lit, Lit::Str(_) | Lit::Int(_)) {
            return;
        }
        self.compared
            .entry(name.to_string())
            .or_default()
            .add(lit, negated);
    }

    /// `a <op> b` with `op` a comparison: when one side names a value (`x.f`, `x`) and the
    /// other is a literal, the name is compared with the literal.
    fn comparison(&mut self, a: &Expr, b: &Expr) {
        for (named, other) in [(a, b), (b, a)] {
            if let (Some(name), Some((lit, negated))) = (subject_name(named), literal(other)) {
                self.compare(name, lit, negated);
            }
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
            ExprKind::Binary(op, a, b) => {
                if matches!(
                    op,
                    BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge
                ) {
                    self.comparison(a, b);
                }
                self.expr(a, d);
                self.expr(b, d);
            }
            ExprKind::Index(a, b) => {
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
                let name = subject_name(scrutinee);
                for arm in arms {
                    if let Some(name) = name {
                        self.compared_pattern(name, &arm.pattern);
                    }
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

    /// A match arm's literal pattern over a scrutinee named `name`.
    fn compared_pattern(&mut self, name: &str, p: &Pattern) {
        match &p.kind {
            PatternKind::Lit(lit) => self.compare(name, lit, false),
            PatternKind::NegInt(n) => self.compare(name, &Lit::Int(*n), true),
            _ => {}
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

/// The name of the value `e` denotes, when it is a field (`o.currency`: `currency`) or a
/// variable (`currency`).
fn subject_name(e: &Expr) -> Option<&str> {
    match &e.kind {
        ExprKind::Field(_, f) => Some(&f.name),
        ExprKind::Var(v) => Some(&v.name),
        _ => None,
    }
}

/// The literal `e` is (a string, an integer or a negated integer), and whether it is negated.
fn literal(e: &Expr) -> Option<(&Lit, bool)> {
    match &e.kind {
        ExprKind::Lit(lit @ (Lit::Str(_) | Lit::Int(_))) => Some((lit, false)),
        ExprKind::Unary(UnOp::Neg, inner) => match &inner.kind {
            ExprKind::Lit(lit @ Lit::Int(_)) => Some((lit, true)),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lang::span::FileId;

    #[test]
    fn names_keep_the_literals_they_are_compared_with() {
        let text = r#"upgrade t 1 -> 2
version 1 { record R { currency: string, n: i64 } state { m: map<string, R> } }
version 2 { state { m: map<string, R> } }
invariant (old, new) {
  forall k in keys(old.m): old.m[k].currency == "USD" || "EUR" != old.m[k].currency
  forall k in keys(old.m): match old.m[k].n { -3 => true, _ => old.m[k].n > 100 }
  old.m == new.m
}
transform (old) -> new { m: old.m }
"#;
        let spec = lang::parse(FileId(0), text)
            .spec
            .unwrap_or_else(|| unreachable!());
        let lits = Literals::of(&spec);
        let currency = lits.compared("currency").cloned().unwrap_or_default();
        assert_eq!(currency.strings, vec!["EUR".to_string(), "USD".to_string()]);
        let n = lits.compared("n").cloned().unwrap_or_default();
        assert_eq!(n.ints, vec![-4, -3, -2, 99, 100, 101]);
        // `k` is compared with nothing: no entry.
        assert!(lits.compared("k").is_none());
        assert!(lits.strings.contains(&"USD".to_string()));
    }

    /// Names matched only against literals that give nothing to draw (`true`, `1.5`) keep no
    /// entry, and so do not count against [`MAX_NAMES`]: a name compared with a string after
    /// more than that many of them still keeps its literals.
    #[test]
    fn names_with_nothing_to_draw_do_not_crowd_out_others() {
        let matches: String = (0..MAX_NAMES + 10)
            .map(|i| {
                let pattern = if i % 2 == 0 { "true" } else { "1.5" };
                format!("  forall k in keys(old.m): match old.m[k].a{i:04} {{ {pattern} => true, _ => false }}\n")
            })
            .collect();
        let text = format!(
            "upgrade t 1 -> 2\n\
             version 1 {{ state {{ m: map<string, R> }} }}\n\
             version 2 {{ state {{ m: map<string, R> }} }}\n\
             invariant (old, new) {{\n{matches}  forall k in keys(old.m): old.m[k].zone == \"EU\"\n}}\n\
             transform (old) -> new {{ m: old.m }}\n"
        );
        let parsed = lang::parse(FileId(0), &text);
        let spec = parsed.spec.unwrap_or_else(|| unreachable!());
        let lits = Literals::of(&spec);
        assert!(lits.compared("a0000").is_none());
        let zone = lits.compared("zone").cloned().unwrap_or_default();
        assert_eq!(zone.strings, vec!["EU".to_string()]);
    }
}
