//! Types expressions bidirectionally: `check` pushes an expected type down (so literals,
//! `none`, `[]` and record names resolve), `infer` computes a type bottom-up.

use super::declare::parse_qualifier;
use super::suggest::did_you_mean;
use super::types::{Mismatch, Types};
use super::Cx;
use crate::model::*;
use lang::ast::*;
use lang::diagnostic::codes;
use lang::span::Span;
use std::collections::BTreeSet;

mod access;
mod construct;
mod operators;
mod patterns;

/// What `call` reaches inside a rule.
pub(crate) struct Delegate<'a> {
    pub kind: RuleKind,
    pub service_name: String,
    /// The service of the reachable version (the new one for `past`, the old for `future`).
    pub target: Option<&'a ServiceDef>,
    pub target_version: u64,
    /// The same service in the other version, for a helpful note.
    pub other: Option<&'a ServiceDef>,
    pub other_version: u64,
}

struct Binding {
    name: String,
    ty: Ty,
    span: Span,
    used: bool,
    warn_unused: bool,
}

pub(crate) struct ExprChecker<'a, 'c> {
    pub cx: &'c mut Cx,
    pub types: Types<'a>,
    /// Version of unqualified names declared identically in both versions, and of names
    /// without a hint in ambiguous places.
    pub home: u64,
    pub delegate: Option<Delegate<'a>>,
    /// Unqualified type names mean this version's types first (in a method model, whose
    /// version is never in doubt).
    pub own_version: Option<u64>,
    /// Where we are, for messages: "a transform", "an invariant", "a past rule".
    pub place: &'static str,
    scopes: Vec<Binding>,
    /// The variable bound to the old state (in transforms), whose field reads are tracked.
    pub state_var: Option<String>,
    pub state_reads: BTreeSet<String>,
    pub whole_state_used: bool,
    /// The helper functions called, with where, in the order checked.
    pub function_calls: Vec<(String, Span)>,
}

impl<'a, 'c> ExprChecker<'a, 'c> {
    pub fn new(cx: &'c mut Cx, types: Types<'a>, home: u64, place: &'static str) -> Self {
        ExprChecker {
            cx,
            types,
            home,
            delegate: None,
            own_version: None,
            place,
            scopes: Vec::new(),
            state_var: None,
            state_reads: BTreeSet::new(),
            whole_state_used: false,
            function_calls: Vec::new(),
        }
    }

    /// Binds a parameter or state variable for the whole expression (never warned unused).
    pub fn bind(&mut self, name: &Ident, ty: Ty) {
        self.scopes.push(Binding {
            name: name.name.clone(),
            ty,
            span: name.span,
            used: false,
            warn_unused: false,
        });
    }

    /// Names and spans of the bindings made with [`bind`](Self::bind) that are still in scope
    /// and were never read.
    pub fn unread_bound(&self) -> Vec<(String, Span)> {
        self.scopes
            .iter()
            .filter(|b| !b.warn_unused && !b.used)
            .map(|b| (b.name.clone(), b.span))
            .collect()
    }

    /// Drops the last `n` bindings made with [`bind`](Self::bind).
    pub fn unbind(&mut self, n: usize) {
        let keep = self.scopes.len().saturating_sub(n);
        self.scopes.truncate(keep);
    }

    fn push(&mut self, name: &Ident, ty: Ty, warn_unused: bool) {
        self.scopes.push(Binding {
            name: name.name.clone(),
            ty,
            span: name.span,
            used: false,
            warn_unused,
        });
    }

    fn pop(&mut self, n: usize) {
        for _ in 0..n {
            if let Some(b) = self.scopes.pop() {
                if b.warn_unused && !b.used && !b.name.starts_with('_') {
                    let name = b.name.clone();
                    self.cx.report(
                        codes::UNUSED_VARIABLE,
                        b.span,
                        format!("`{name}` is never used"),
                        |d| {
                            d.label("bound here")
                                .help(format!("remove the binding, or name it `_{name}`"))
                        },
                    );
                }
            }
        }
    }

    // ------------------------------------------------------------ checking

    pub fn check(&mut self, e: &Expr, expected: &Ty) {
        let actual = self.infer(e, Some(expected));
        if let Err(Mismatch::Changed { .. }) = self.types.compare(&actual, expected) {
            // A value whose type differs from the expected one only by renamed fields is
            // converted, field by field under the other names.
            let mut table = std::mem::take(&mut self.cx.named_conversions);
            let conversion = self.types.conversion(&actual, expected, &mut table);
            self.cx.named_conversions = table;
            if let Some(c) = conversion {
                self.cx.conversions.insert(e.id, c);
                return;
            }
        }
        self.expect(&actual, expected, e.span);
    }

    /// Reports when `actual` does not fit `expected`.
    pub fn expect(&mut self, actual: &Ty, expected: &Ty, span: Span) -> bool {
        match self.types.compare(actual, expected) {
            Ok(()) => true,
            Err(Mismatch::Changed {
                name,
                actual: va,
                expected: vb,
            }) => {
                let decl_a = self.decl_span(va, &name);
                let decl_b = self.decl_span(vb, &name);
                self.cx.report(
                    codes::IMPLICIT_CONVERSION,
                    span,
                    format!("`{name}` of version {va} is used where `{name}` of version {vb} is expected"),
                    |mut d| {
                        d = d.label(format!("expected `{expected}`, found `{actual}`"));
                        if let Some(s) = decl_a {
                            d = d.also(s, format!("`{name}` in version {va}"));
                        }
                        if let Some(s) = decl_b {
                            d = d.also(s, format!("`{name}` in version {vb}"));
                        }
                        d.note(format!("`{name}` changed between the versions, so it is never converted implicitly"))
                            .help(format!("build the version {vb} value field by field: `v{vb}::{name} {{ ... }}`"))
                    },
                );
                false
            }
            Err(Mismatch::Different) => {
                self.cx.report(
                    codes::TYPE_MISMATCH,
                    span,
                    format!("expected `{expected}`, found `{actual}`"),
                    |d| {
                        let d = d.label(format!("this is `{actual}`"));
                        match (actual, expected) {
                            (t, Ty::Option(inner)) if self.types.same(t, inner) => {
                                d.help("wrap the value: `some(...)`")
                            }
                            (Ty::Option(inner), t) if self.types.same(inner, t) => d.help(
                                "this may be `none`: use `unwrap_or(..., default)` or `match`",
                            ),
                            _ => d,
                        }
                    },
                );
                false
            }
        }
    }

    fn decl_span(&self, version: u64, name: &str) -> Option<Span> {
        let env = self.types.env(version)?;
        env.records
            .get(name)
            .map(|r| r.name.span)
            .or_else(|| env.enums.get(name).map(|e| e.name.span))
    }

    /// Infers the type of `e` (using `hint` for literals and names) and records it in the
    /// spec's expression-type table for later stages.
    pub fn infer(&mut self, e: &Expr, hint: Option<&Ty>) -> Ty {
        let ty = self.infer_kind(e, hint);
        self.cx.expr_types.insert(e.id, ty.clone());
        ty
    }

    fn infer_kind(&mut self, e: &Expr, hint: Option<&Ty>) -> Ty {
        match &e.kind {
            ExprKind::Lit(lit) => self.literal(lit, hint, e.span, false),
            ExprKind::Var(name) if name.name == "null" && !self.is_bound("null") => {
                self.null(name, hint)
            }
            ExprKind::Var(name) => self.var(name),
            ExprKind::Variant { path, payload } => {
                self.variant(e.span, path, payload.as_deref(), hint)
            }
            ExprKind::Field(inner, field) => self.field(inner, field),
            ExprKind::Index(inner, key) => self.index(inner, key),
            ExprKind::Builtin { name, args } => self.builtin(e.span, name, args, hint),
            ExprKind::Delegate { method, args } => self.delegate_call(e.span, method, args),
            ExprKind::Disallow(_) => {
                if self.delegate.is_none() {
                    let place = self.place;
                    self.cx.report(codes::DISALLOW_OUTSIDE_RULE, e.span, format!("`disallow` in {place}"), |d| {
                        d.label("nothing to refuse here")
                            .note("`disallow` refuses a call from the other version, so it belongs in a `past` or `future` rule")
                    });
                }
                Ty::Unknown
            }
            ExprKind::Record { path, fields } => self.record(e.span, path, fields, hint),
            ExprKind::Tuple(items) => {
                let hints: Vec<Option<&Ty>> = match hint {
                    Some(Ty::Tuple(h)) if h.len() == items.len() => h.iter().map(Some).collect(),
                    _ => vec![None; items.len()],
                };
                Ty::Tuple(
                    items
                        .iter()
                        .zip(hints)
                        .map(|(i, h)| self.infer_checked(i, h))
                        .collect(),
                )
            }
            ExprKind::List(items) => {
                let elem_hint = match hint {
                    Some(Ty::List(t)) => Some(t.as_ref().clone()),
                    _ => None,
                };
                let mut elem = elem_hint;
                for item in items {
                    match &elem {
                        Some(t) if *t != Ty::Unknown => {
                            let t = t.clone();
                            self.check(item, &t);
                        }
                        _ => elem = Some(self.infer(item, None)),
                    }
                }
                Ty::List(Box::new(elem.unwrap_or(Ty::Unknown)))
            }
            ExprKind::Map(entries) => self.map_literal(entries, hint),
            ExprKind::Unary(op, inner) => self.unary(e.span, *op, inner, hint),
            ExprKind::Binary(op, l, r) => self.binary(e.span, *op, l, r, hint),
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => {
                self.check(cond, &Ty::Bool);
                self.branches(hint, [then.as_ref(), otherwise.as_ref()].into_iter())
            }
            ExprKind::Match { scrutinee, arms } => self.match_expr(e.span, scrutinee, arms, hint),
            ExprKind::Let { name, value, body } => {
                let ty = self.infer(value, None);
                self.push(name, ty, true);
                let result = self.infer_checked(body, hint);
                self.pop(1);
                result
            }
            ExprKind::Closure { .. } => {
                self.cx.report(
                    codes::NOT_A_CLOSURE,
                    e.span,
                    "a closure can only be passed to a built-in",
                    |d| {
                        d.label("not allowed here")
                            .help("closures are arguments of built-ins such as `map(xs, |x| ...)`")
                    },
                );
                Ty::Unknown
            }
            ExprKind::Quant {
                var, domain, body, ..
            } => {
                let domain_ty = self.infer(domain, None);
                let elem = match &domain_ty {
                    Ty::List(t) | Ty::Set(t) => t.as_ref().clone(),
                    Ty::Map(k, _) => k.as_ref().clone(),
                    Ty::Unknown => Ty::Unknown,
                    other => {
                        self.cx.report(codes::TYPE_MISMATCH, domain.span, format!("cannot range over `{other}`"), |d| {
                            d.label("expected a list, set or map").help("a quantifier ranges over a `list`, a `set`, or the keys of a `map`")
                        });
                        Ty::Unknown
                    }
                };
                self.push(var, elem, true);
                self.check(body, &Ty::Bool);
                self.pop(1);
                Ty::Bool
            }
        }
    }

    /// Infers with a hint and, when there is one, checks against it.
    pub fn infer_checked(&mut self, e: &Expr, hint: Option<&Ty>) -> Ty {
        match hint {
            Some(h) if *h != Ty::Unknown => {
                self.check(e, h);
                h.clone()
            }
            _ => self.infer(e, None),
        }
    }

    /// Branches of an `if` or `match` share one type: the hint's, or the first branch's.
    fn branches<'e>(&mut self, hint: Option<&Ty>, mut exprs: impl Iterator<Item = &'e Expr>) -> Ty {
        let mut ty = hint.filter(|h| **h != Ty::Unknown).cloned();
        for e in exprs.by_ref() {
            match &ty {
                Some(t) => {
                    let t = t.clone();
                    self.check(e, &t);
                }
                None => {
                    let t = self.infer(e, None);
                    if t != Ty::Unknown {
                        ty = Some(t);
                    }
                }
            }
        }
        ty.unwrap_or(Ty::Unknown)
    }

    fn literal(&mut self, lit: &Lit, hint: Option<&Ty>, span: Span, negative: bool) -> Ty {
        match lit {
            Lit::Int(n) => {
                let ty = match hint {
                    Some(Ty::U64) => Ty::U64,
                    Some(Ty::F64) => Ty::F64,
                    _ => Ty::I64,
                };
                let fits = match ty {
                    Ty::U64 => !negative || *n == 0,
                    Ty::I64 => *n <= i64::MAX as u64 || (negative && *n == i64::MAX as u64 + 1),
                    _ => true,
                };
                if !fits {
                    let shown = if negative {
                        format!("-{n}")
                    } else {
                        n.to_string()
                    };
                    self.cx.report(
                        codes::LITERAL_OUT_OF_RANGE,
                        span,
                        format!("`{shown}` does not fit in `{ty}`"),
                        |d| {
                            d.label(format!("out of the range of `{ty}`"))
                                .maybe_help(match ty {
                                    Ty::U64 => Some("`u64` holds no negative numbers".to_string()),
                                    _ => Some(format!(
                                        "the largest `i64` is {}; use `u64` for larger counts",
                                        i64::MAX
                                    )),
                                })
                        },
                    );
                }
                ty
            }
            Lit::Float(_) => Ty::F64,
            Lit::Str(_) => Ty::Str,
            Lit::Bool(_) => Ty::Bool,
            Lit::None => match hint {
                Some(Ty::Option(t)) => Ty::Option(t.clone()),
                _ => Ty::Option(Box::new(Ty::Unknown)),
            },
            Lit::Unit => Ty::Unit,
        }
    }

    fn is_bound(&self, name: &str) -> bool {
        self.scopes.iter().any(|b| b.name == name)
    }

    /// `null`, written from habit: say what the language has instead (`none` or `()`), for the
    /// type expected.
    fn null(&mut self, name: &Ident, hint: Option<&Ty>) -> Ty {
        let (help, ty) = match hint {
            Some(Ty::Option(t)) => (
                "write `none`, the absent `option` value".to_string(),
                Ty::Option(t.clone()),
            ),
            Some(Ty::Unit) => ("write `()`, the one value of `unit`".to_string(), Ty::Unit),
            _ => (
                "an absent `option` value is `none`, and the one value of `unit` is `()`"
                    .to_string(),
                Ty::Unknown,
            ),
        };
        let wanted = hint
            .filter(|t| **t != Ty::Unknown)
            .map(|t| format!(": `{t}` is expected here"))
            .unwrap_or_default();
        self.cx
            .report(codes::NULL_LITERAL, name.span, "there is no `null`", |d| {
                d.label(format!("not a value{wanted}")).help(help)
            });
        ty
    }

    fn var(&mut self, name: &Ident) -> Ty {
        if self.state_var.as_deref() == Some(name.name.as_str()) {
            self.whole_state_used = true;
        }
        if let Some(b) = self.scopes.iter_mut().rev().find(|b| b.name == name.name) {
            b.used = true;
            return b.ty.clone();
        }
        let candidates: Vec<String> = self.scopes.iter().map(|b| b.name.clone()).collect();
        let is_method = self
            .delegate
            .as_ref()
            .and_then(|d| d.target)
            .is_some_and(|s| s.method(&name.name).is_some());
        self.cx.report(
            codes::UNKNOWN_VARIABLE,
            name.span,
            format!("unknown name `{}`", name.name),
            |d| {
                let d = d.label("not bound here");
                if is_method {
                    d.help(format!(
                        "to reach the node's own method, write `call {}(...)`",
                        name.name
                    ))
                } else {
                    d.maybe_help(did_you_mean(
                        &name.name,
                        candidates.iter().map(String::as_str),
                    ))
                }
            },
        );
        Ty::Unknown
    }

    fn delegate_call(&mut self, span: Span, method: &Ident, args: &[Expr]) -> Ty {
        let Some(delegate) = &self.delegate else {
            let place = self.place;
            self.cx.report(codes::CALL_OUTSIDE_RULE, span, format!("`call` in {place}"), |d| {
                d.label("no node object to call here")
                    .note("`call` reaches the node's own object, so it belongs in a `past` or `future` rule")
            });
            for a in args {
                self.infer(a, None);
            }
            return Ty::Unknown;
        };
        let found = delegate.target.and_then(|s| s.method(&method.name));
        let Some(m) = found else {
            let (kind, tv, ov, sname) = (
                delegate.kind,
                delegate.target_version,
                delegate.other_version,
                delegate.service_name.clone(),
            );
            let in_other = delegate
                .other
                .and_then(|s| s.method(&method.name))
                .map(|m| m.name.span);
            let names: Vec<String> = delegate
                .target
                .map(|s| s.methods.iter().map(|m| m.name.name.clone()).collect())
                .unwrap_or_default();
            let help = did_you_mean(&method.name, names.iter().map(String::as_str));
            self.cx.report(
                codes::UNKNOWN_DELEGATE,
                method.span,
                format!("version {tv} of `{sname}` has no method `{}`", method.name),
                |d| {
                    let mut d = d.label(format!("not in version {tv}"));
                    if let Some(s) = in_other {
                        d = d.also(s, format!("this is version {ov}'s method")).note(format!(
                            "`call` in a `{}` rule reaches only version {tv}, the version of the node it runs on",
                            kind.keyword()
                        ));
                    }
                    d.maybe_help(help)
                },
            );
            for a in args {
                self.infer(a, None);
            }
            return Ty::Unknown;
        };
        if m.params.len() != args.len() {
            let (n, mname, mspan) = (m.params.len(), m.name.name.clone(), m.span);
            let params: Vec<String> = m.params.iter().map(|p| p.name.name.clone()).collect();
            self.cx.report(
                codes::DELEGATE_ARITY,
                span,
                format!(
                    "`{mname}` takes {n} argument{}, found {}",
                    if n == 1 { "" } else { "s" },
                    args.len()
                ),
                |d| {
                    d.label("wrong number of arguments")
                        .also(mspan, "declared here")
                        .help(format!("call it as `call {mname}({})`", params.join(", ")))
                },
            );
        }
        let params: Vec<Ty> = m.params.iter().map(|p| p.ty.clone()).collect();
        let ret = m.ret.clone();
        for (i, a) in args.iter().enumerate() {
            match params.get(i) {
                Some(t) => self.check(a, t),
                None => {
                    self.infer(a, None);
                }
            }
        }
        ret
    }
}
