//! Rewrites every span of a syntax tree: shifting the items of a re-parsed chunk to their
//! place in the file (the language server's incremental parse), or zeroing them to compare two
//! trees by shape alone (the formatter's check that it changed no meaning). The same walk
//! numbers the expressions of a spec ([`number_exprs`]): every expression's [`ExprId`].

use crate::ast::*;
use crate::span::Span;

/// What a walk does at each span and each expression.
trait Rewrite {
    fn span(&mut self, span: Span) -> Span;
    fn expr(&mut self, _id: &mut ExprId) {}
}

/// A rewrite of spans alone.
struct Spans<'f>(&'f mut dyn FnMut(Span) -> Span);

impl Rewrite for Spans<'_> {
    fn span(&mut self, span: Span) -> Span {
        (self.0)(span)
    }
}

/// Numbers expressions in walk order, leaving spans alone.
struct Numbering(u32);

impl Rewrite for Numbering {
    fn span(&mut self, span: Span) -> Span {
        span
    }
    fn expr(&mut self, id: &mut ExprId) {
        *id = ExprId(self.0);
        self.0 = self.0.saturating_add(1).min(u32::MAX - 1);
    }
}

/// Applies `f` to every span of `spec`.
pub fn map_spec(spec: &mut Spec, f: &mut dyn FnMut(Span) -> Span) {
    walk_spec(spec, &mut Spans(f));
}

/// Applies `f` to every span of `item`.
pub fn map_item(item: &mut Item, f: &mut dyn FnMut(Span) -> Span) {
    walk_item(item, &mut Spans(f));
}

/// Applies `f` to every span of `e`.
pub fn map_expr(e: &mut Expr, f: &mut dyn FnMut(Span) -> Span) {
    walk_expr(e, &mut Spans(f));
}

/// Gives every expression of `spec` its id: `0, 1, 2, ...` in the order of the tree, so a
/// spec parsed whole or item by item, or re-parsed after formatting, numbers the same.
pub fn number_exprs(spec: &mut Spec) {
    walk_spec(spec, &mut Numbering(0));
}

fn walk_spec(spec: &mut Spec, f: &mut dyn Rewrite) {
    ident(&mut spec.name, f);
    spec.from.span = f.span(spec.from.span);
    spec.to.span = f.span(spec.to.span);
    spec.header_span = f.span(spec.header_span);
    for item in &mut spec.items {
        walk_item(item, f);
    }
}

/// `spec` with every span zeroed: two specs that differ only in layout compare equal.
pub fn without_spans(spec: &Spec) -> Spec {
    let mut spec = spec.clone();
    map_spec(&mut spec, &mut |_| Span::default());
    spec
}

fn ident(i: &mut Ident, f: &mut dyn Rewrite) {
    i.span = f.span(i.span);
}

fn walk_item(item: &mut Item, f: &mut dyn Rewrite) {
    match item {
        Item::Protocol(p) => {
            ident(&mut p.name, f);
            for (k, v) in &mut p.options {
                ident(k, f);
                ident(v, f);
            }
            p.span = f.span(p.span);
        }
        Item::Version(v) => {
            v.number.span = f.span(v.number.span);
            for d in &mut v.decls {
                decl(d, f);
            }
            v.span = f.span(v.span);
        }
        Item::Invariant(i) => {
            ident(&mut i.old, f);
            ident(&mut i.new, f);
            for c in &mut i.clauses {
                walk_expr(c, f);
            }
            i.span = f.span(i.span);
        }
        Item::Transform(t) => {
            ident(&mut t.old, f);
            ident(&mut t.new, f);
            for fi in &mut t.fields {
                field_init(fi, f);
            }
            t.span = f.span(t.span);
        }
        Item::Rules(r) => {
            ident(&mut r.service, f);
            for rule in &mut r.rules {
                for a in rule.allow.iter_mut().chain(&mut rule.differs) {
                    ident(a, f);
                }
                ident(&mut rule.method, f);
                for p in &mut rule.params {
                    ident(p, f);
                }
                walk_expr(&mut rule.body, f);
                rule.span = f.span(rule.span);
            }
            r.span = f.span(r.span);
        }
        Item::Schedule(s) => {
            for e in &mut s.entries {
                sched_entry(e, f);
            }
            s.span = f.span(s.span);
        }
        Item::Function(func) => {
            ident(&mut func.name, f);
            for p in &mut func.params {
                field(p, f);
            }
            type_expr(&mut func.ret, f);
            walk_expr(&mut func.body, f);
            func.span = f.span(func.span);
        }
    }
}

fn decl(d: &mut Decl, f: &mut dyn Rewrite) {
    match d {
        Decl::Record(r) => {
            ident(&mut r.name, f);
            for fl in &mut r.fields {
                field(fl, f);
            }
            r.span = f.span(r.span);
        }
        Decl::Enum(e) => {
            ident(&mut e.name, f);
            for v in &mut e.variants {
                ident(&mut v.name, f);
                if let Some(t) = &mut v.payload {
                    type_expr(t, f);
                }
                v.span = f.span(v.span);
            }
            e.span = f.span(e.span);
        }
        Decl::Service(s) => {
            ident(&mut s.name, f);
            for m in &mut s.methods {
                m.changed = m.changed.map(|s| f.span(s));
                ident(&mut m.name, f);
                for p in &mut m.params {
                    field(p, f);
                }
                if let Some(t) = &mut m.ret {
                    type_expr(t, f);
                }
                if let Some(old) = &mut m.renamed_from {
                    ident(old, f);
                }
                if let Some(model) = &mut m.model {
                    method_model(model, f);
                }
                m.span = f.span(m.span);
            }
            s.span = f.span(s.span);
        }
        Decl::State(s) => {
            for fl in &mut s.fields {
                field(fl, f);
            }
            if let Some(w) = &mut s.wellformed {
                for c in &mut w.clauses {
                    walk_expr(c, f);
                }
                w.span = f.span(w.span);
            }
            s.span = f.span(s.span);
        }
    }
}

fn method_model(m: &mut MethodModel, f: &mut dyn Rewrite) {
    for stmt in &mut m.stmts {
        match stmt {
            ModelStmt::Let { name, value, span }
            | ModelStmt::Assign {
                field: name,
                value,
                span,
            } => {
                ident(name, f);
                walk_expr(value, f);
                *span = f.span(*span);
            }
        }
    }
    if let Some(e) = &mut m.result {
        walk_expr(e, f);
    }
    m.span = f.span(m.span);
}

fn field(fl: &mut Field, f: &mut dyn Rewrite) {
    fl.changed = fl.changed.map(|s| f.span(s));
    ident(&mut fl.name, f);
    type_expr(&mut fl.ty, f);
    if let Some(old) = &mut fl.renamed_from {
        ident(old, f);
    }
    fl.span = f.span(fl.span);
}

fn type_expr(t: &mut TypeExpr, f: &mut dyn Rewrite) {
    match &mut t.kind {
        TypeExprKind::Named { path, args } => {
            for p in path {
                ident(p, f);
            }
            for a in args {
                type_expr(a, f);
            }
        }
        TypeExprKind::Tuple(items) => {
            for a in items {
                type_expr(a, f);
            }
        }
    }
    t.span = f.span(t.span);
}

fn field_init(fi: &mut FieldInit, f: &mut dyn Rewrite) {
    ident(&mut fi.name, f);
    walk_expr(&mut fi.value, f);
    fi.span = f.span(fi.span);
}

fn sched_entry(e: &mut SchedEntry, f: &mut dyn Rewrite) {
    ident(&mut e.key, f);
    sched_value(&mut e.value, f);
    e.span = f.span(e.span);
}

fn sched_value(v: &mut SchedValue, f: &mut dyn Rewrite) {
    match &mut v.kind {
        SchedValueKind::Block(entries) => {
            for e in entries {
                sched_entry(e, f);
            }
        }
        SchedValueKind::Then(count, action) => {
            sched_value(count, f);
            ident(action, f);
        }
        SchedValueKind::Int(_)
        | SchedValueKind::Duration(_)
        | SchedValueKind::Ident(_)
        | SchedValueKind::Str(_)
        | SchedValueKind::Range(..) => {}
    }
    v.span = f.span(v.span);
}

fn walk_expr(e: &mut Expr, f: &mut dyn Rewrite) {
    f.expr(&mut e.id);
    match &mut e.kind {
        ExprKind::Lit(_) | ExprKind::Disallow(_) => {}
        ExprKind::Var(i) => ident(i, f),
        ExprKind::Variant { path, payload } => {
            for p in path {
                ident(p, f);
            }
            if let Some(p) = payload {
                walk_expr(p, f);
            }
        }
        ExprKind::Field(base, name) => {
            walk_expr(base, f);
            ident(name, f);
        }
        ExprKind::Index(base, index) => {
            walk_expr(base, f);
            walk_expr(index, f);
        }
        ExprKind::Builtin { name, args } | ExprKind::Delegate { method: name, args } => {
            ident(name, f);
            for a in args {
                walk_expr(a, f);
            }
        }
        ExprKind::Record { path, fields } => {
            for p in path {
                ident(p, f);
            }
            for fi in fields {
                field_init(fi, f);
            }
        }
        ExprKind::Tuple(items) | ExprKind::List(items) => {
            for a in items {
                walk_expr(a, f);
            }
        }
        ExprKind::Map(entries) => {
            for (k, v) in entries {
                walk_expr(k, f);
                walk_expr(v, f);
            }
        }
        ExprKind::Unary(_, a) => walk_expr(a, f),
        ExprKind::Binary(_, a, b) => {
            walk_expr(a, f);
            walk_expr(b, f);
        }
        ExprKind::If {
            cond,
            then,
            otherwise,
        } => {
            walk_expr(cond, f);
            walk_expr(then, f);
            walk_expr(otherwise, f);
        }
        ExprKind::Match { scrutinee, arms } => {
            walk_expr(scrutinee, f);
            for arm in arms {
                pattern(&mut arm.pattern, f);
                walk_expr(&mut arm.body, f);
                arm.span = f.span(arm.span);
            }
        }
        ExprKind::Let { name, value, body } => {
            ident(name, f);
            walk_expr(value, f);
            walk_expr(body, f);
        }
        ExprKind::Closure { params, body } => {
            for p in params {
                ident(p, f);
            }
            walk_expr(body, f);
        }
        ExprKind::Quant {
            var, domain, body, ..
        } => {
            ident(var, f);
            walk_expr(domain, f);
            walk_expr(body, f);
        }
    }
    e.span = f.span(e.span);
}

fn pattern(p: &mut Pattern, f: &mut dyn Rewrite) {
    match &mut p.kind {
        PatternKind::Some(inner) => pattern(inner, f),
        PatternKind::Variant { path, payload } => {
            for i in path {
                ident(i, f);
            }
            if let Some(inner) = payload {
                pattern(inner, f);
            }
        }
        PatternKind::Wildcard
        | PatternKind::None
        | PatternKind::Lit(_)
        | PatternKind::NegInt(_) => {}
    }
    p.span = f.span(p.span);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeroing_makes_layout_irrelevant() {
        let a = crate::parse(
            crate::FileId(0),
            "upgrade kv 1 -> 2\nversion 1 { state { a: u64 } }",
        )
        .spec
        .unwrap();
        let b = crate::parse(
            crate::FileId(0),
            "upgrade kv 1->2 version 1 {\n  state {\n    a: u64,\n  }\n}\n",
        )
        .spec
        .unwrap();
        assert_ne!(a, b);
        assert_eq!(without_spans(&a), without_spans(&b));
    }

    #[test]
    fn shifting_moves_every_span() {
        let text = "upgrade kv 1 -> 2\ninvariant (old, new) { match old.a { some(x) => x == 1, _ => forall k in [1]: k > 0 } }";
        let mut spec = crate::parse(crate::FileId(0), text).spec.unwrap();
        let mut seen = 0;
        map_spec(&mut spec, &mut |s| {
            seen += 1;
            s.shift(1000)
        });
        assert!(seen > 20);
        let mut min = usize::MAX;
        map_spec(&mut spec, &mut |s| {
            min = min.min(s.start);
            s
        });
        assert!(min >= 1000);
    }
}
