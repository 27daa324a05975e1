//! Expressions to Rust. Every expression becomes a Rust expression of its checked type that
//! produces an owned value; run-time failures leave through `?` (the enclosing function or
//! closure returns `Result<_, RuleError>`), and `disallow` through `return Err(..)`, so both
//! abort the whole rule from any depth, closures included.
//!
//! Reads of variables, fields and map or list elements are *places*: they are borrowed where
//! only read (comparisons, `keys(m)`, `m[k]`, a `match` scrutinee) and cloned where a value is
//! needed. Evaluation order is the evaluator's: left to right, with `&&`, `||`, `if`, `match`
//! and quantifiers evaluating only what they need.

use super::builtins::Site;
use super::moves::movable;
use super::names::{ident, internal};
use super::pattern;
use super::types::{contains_unknown, Types};
use super::CodegenError;
use crate::model::Ty;
use lang::ast::{BinOp, Expr, ExprKind, FieldInit, Ident, Lit, Quantifier, UnOp};
use proc_macro2::{Literal, TokenStream};
use quote::{quote, ToTokens};
use std::cell::{Cell, RefCell};

/// Generates the expressions of one function (a rule, the transform, the invariant).
pub(crate) struct ExprGen<'t, 'm> {
    pub types: &'t Types<'m>,
    /// The module of delegate functions `call` reaches (`crate::calls::v2::Kv`), in rules.
    pub delegate: Option<TokenStream>,
    counter: Cell<usize>,
    /// Variables in scope, innermost last, and whether each may be moved at its one use.
    scopes: RefCell<Vec<(String, bool)>>,
}

pub(crate) type Gen = Result<TokenStream, CodegenError>;

impl<'t, 'm> ExprGen<'t, 'm> {
    pub fn new(types: &'t Types<'m>, delegate: Option<TokenStream>) -> Self {
        ExprGen {
            types,
            delegate,
            counter: Cell::new(0),
            scopes: RefCell::default(),
        }
    }

    /// Generates `body` with `names` bound, each movable if it is read once, outside closures
    /// and quantifiers, in `scope`.
    pub fn bound<T>(&self, names: &[&str], scope: &Expr, body: impl FnOnce() -> T) -> T {
        let entries = names
            .iter()
            .map(|n| (n.to_string(), movable(n, scope)))
            .collect();
        self.with_scope(entries, body)
    }

    /// Generates `body` with `names` bound to values that are never moved (references).
    pub fn bound_fixed<T>(&self, names: &[&str], body: impl FnOnce() -> T) -> T {
        self.with_scope(names.iter().map(|n| (n.to_string(), false)).collect(), body)
    }

    fn with_scope<T>(&self, entries: Vec<(String, bool)>, body: impl FnOnce() -> T) -> T {
        let n = entries.len();
        self.scopes.borrow_mut().extend(entries);
        let out = body();
        let mut scopes = self.scopes.borrow_mut();
        let keep = scopes.len().saturating_sub(n);
        scopes.truncate(keep);
        out
    }

    /// Whether `e` is a variable, or a field path from one, that may be moved out of.
    fn movable_place(&self, e: &Expr) -> bool {
        match &e.kind {
            ExprKind::Var(name) => {
                let scopes = self.scopes.borrow();
                scopes
                    .iter()
                    .rev()
                    .find(|(n, _)| *n == name.name)
                    .is_some_and(|(_, m)| *m)
            }
            ExprKind::Field(inner, _) => {
                matches!(inner.kind, ExprKind::Var(_) | ExprKind::Field(..))
                    && self.movable_place(inner)
            }
            _ => false,
        }
    }

    /// A fresh name for a temporary of the generated code.
    pub fn fresh(&self, what: &str) -> proc_macro2::Ident {
        let n = self.counter.get();
        self.counter.set(n + 1);
        internal(&format!("{what}{n}"))
    }

    pub(crate) fn ty(&self, e: &Expr) -> &'m Ty {
        self.types.model.type_of(e)
    }

    /// The owned value of `e` (converted to the other version's type where the checker said
    /// so: a value whose type differs only by renamed fields).
    pub fn owned(&self, e: &Expr) -> Gen {
        let v = self.owned_as_is(e)?;
        Ok(match self.types.model.conversions.get(&e.id) {
            Some(c) => super::convert::apply(c, v),
            None => v,
        })
    }

    fn owned_as_is(&self, e: &Expr) -> Gen {
        if let Some(p) = self.place(e)? {
            if self.movable_place(e) {
                return Ok(p);
            }
            return Ok(quote!(#p.clone()));
        }
        self.value(e)
    }

    /// A shared reference to the value of `e` (a place borrowed, or a temporary).
    pub fn borrowed(&self, e: &Expr) -> Gen {
        if self.types.model.conversions.contains_key(&e.id) {
            let v = self.owned(e)?;
            return Ok(quote!(&(#v)));
        }
        if let Some(p) = self.place(e)? {
            return Ok(quote!(&#p));
        }
        let v = self.value(e)?;
        Ok(quote!(&(#v)))
    }

    /// A Rust place expression for variables, fields and indexes; `None` for other kinds.
    fn place(&self, e: &Expr) -> Result<Option<TokenStream>, CodegenError> {
        Ok(Some(match &e.kind {
            ExprKind::Var(name) => {
                let id = ident(&name.name);
                quote!(#id)
            }
            ExprKind::Field(inner, field) => {
                let base = self.place_or_temp(inner)?;
                match self.ty(inner) {
                    Ty::Tuple(_) => {
                        let i = field.name.parse::<usize>().map_err(|_| {
                            CodegenError::Internal(format!("tuple field `{}`", field.name))
                        })?;
                        let i = Literal::usize_unsuffixed(i);
                        quote!(#base.#i)
                    }
                    _ => {
                        let f = ident(&field.name);
                        quote!(#base.#f)
                    }
                }
            }
            ExprKind::Index(inner, key) => {
                let base = self.borrowed(inner)?;
                match self.ty(inner) {
                    Ty::List(_) => {
                        let k = self.owned(key)?;
                        quote!((*rt::at_list(#base, #k)?))
                    }
                    _ => {
                        let k = self.borrowed(key)?;
                        quote!((*rt::at_map(#base, #k)?))
                    }
                }
            }
            _ => return Ok(None),
        }))
    }

    fn place_or_temp(&self, e: &Expr) -> Gen {
        match self.place(e)? {
            Some(p) => Ok(p),
            None => {
                let v = self.value(e)?;
                Ok(quote!((#v)))
            }
        }
    }

    /// The value of an expression that is not a place.
    fn value(&self, e: &Expr) -> Gen {
        match &e.kind {
            ExprKind::Lit(lit) => self.literal(e, lit),
            ExprKind::Var(_) | ExprKind::Field(..) | ExprKind::Index(..) => self.owned(e),
            ExprKind::Variant { path, payload } => self.variant(e, path, payload.as_deref()),
            ExprKind::Builtin { name, args } => self.builtin(name, args),
            ExprKind::Delegate { method, args } => self.delegate_call(method, args),
            ExprKind::Disallow(reason) => {
                Ok(quote!((return ::std::result::Result::Err(rt::disallow(#reason)))))
            }
            ExprKind::Record { fields, .. } => self.record(e, fields),
            ExprKind::Tuple(items) => {
                let items = self.all_owned(items)?;
                Ok(quote!((#(#items,)*)))
            }
            ExprKind::List(items) if items.is_empty() => match self.ty(e) {
                Ty::List(t) => match self.types.rust_known(t) {
                    Some(t) => Ok(quote!(::std::vec::Vec::<#t>::new())),
                    None => Ok(quote!(::std::vec::Vec::new())),
                },
                _ => Ok(quote!(::std::vec::Vec::new())),
            },
            ExprKind::List(items) => {
                let items = self.all_owned(items)?;
                Ok(quote!(::std::vec::Vec::from([#(#items),*])))
            }
            ExprKind::Map(entries) => {
                let ty = match self.ty(e) {
                    Ty::Map(k, v) => self.types.rust_known(&Ty::Map(k.clone(), v.clone())),
                    _ => None,
                };
                let mut pairs = Vec::new();
                for (k, v) in entries {
                    let (k, v) = (self.owned(k)?, self.owned(v)?);
                    pairs.push(quote!((#k, #v)));
                }
                // Built in the order written, so a repeated key keeps its last value.
                Ok(match ty {
                    Some(t) => quote!(<#t>::from_iter([#(#pairs),*])),
                    None => quote!(::std::collections::BTreeMap::from_iter([#(#pairs),*])),
                })
            }
            ExprKind::Unary(op, inner) => self.unary(e, *op, inner),
            ExprKind::Binary(op, l, r) => self.binary(e, *op, l, r),
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => {
                let c = self.owned(cond)?;
                let t = self.owned(then)?;
                let o = self.owned(otherwise)?;
                Ok(quote!((if (#c) { #t } else { #o })))
            }
            ExprKind::Match { scrutinee, arms } => pattern::match_expr(self, scrutinee, arms),
            ExprKind::Let { name, value, body } => {
                let id = ident(&name.name);
                let v = self.owned(value)?;
                let b = self.bound(&[&name.name], body, || self.owned(body))?;
                // A value whose type nothing determines (`let unused = none;`) gets one, with
                // `()` for the unknown parts, when the body never reads it to tell Rust.
                let vty = self.ty(value);
                if contains_unknown(vty) && !super::moves::reads(&name.name, body) {
                    let t = self.types.rust(&unknown_as_unit(vty))?;
                    return Ok(quote!({ let #id: #t = #v; #b }));
                }
                Ok(quote!({ let #id = #v; #b }))
            }
            ExprKind::Closure { .. } => Err(CodegenError::Internal(
                "a closure outside a built-in's arguments reached code generation".into(),
            )),
            ExprKind::Quant {
                kind,
                var,
                domain,
                body,
            } => self.quant(*kind, var, domain, body),
        }
    }

    pub fn all_owned(&self, items: &[Expr]) -> Result<Vec<TokenStream>, CodegenError> {
        items.iter().map(|i| self.owned(i)).collect()
    }

    fn literal(&self, e: &Expr, lit: &Lit) -> Gen {
        Ok(match lit {
            Lit::Int(n) => int_literal(*n, false, self.ty(e))?,
            Lit::Float(x) => float_literal(*x)?,
            Lit::Str(s) => quote!(::std::string::String::from(#s)),
            Lit::Bool(true) => quote!(true),
            Lit::Bool(false) => quote!(false),
            // Typed where the checker knows the type, so Rust never has to guess it.
            Lit::None => match self.ty(e) {
                Ty::Option(t) => match self.types.rust_known(t) {
                    Some(t) => quote!(::std::option::Option::<#t>::None),
                    None => quote!(::std::option::Option::None),
                },
                _ => quote!(::std::option::Option::None),
            },
            Lit::Unit => quote!(()),
        })
    }

    fn variant(&self, e: &Expr, path: &[Ident], payload: Option<&Expr>) -> Gen {
        let ty = self.types.rust(self.ty(e))?;
        let name = path
            .last()
            .ok_or_else(|| CodegenError::Internal("an enum value without a name".into()))?;
        let v = ident(&name.name);
        match payload {
            Some(p) => {
                let p = self.owned(p)?;
                Ok(quote!(#ty::#v(#p)))
            }
            None => Ok(quote!(#ty::#v)),
        }
    }

    fn record(&self, e: &Expr, fields: &[FieldInit]) -> Gen {
        let ty = self.types.rust(self.ty(e))?;
        let inits = fields
            .iter()
            .map(|f| {
                let name = ident(&f.name.name);
                let v = self.owned(&f.value)?;
                Ok(quote!(#name: #v))
            })
            .collect::<Result<Vec<_>, CodegenError>>()?;
        Ok(quote!(#ty { #(#inits),* }))
    }

    fn delegate_call(&self, method: &Ident, args: &[Expr]) -> Gen {
        let Some(module) = &self.delegate else {
            return Err(CodegenError::Internal(
                "`call` outside a rule reached code generation".into(),
            ));
        };
        let m = ident(&method.name);
        let host = internal("host");
        let args = self.all_owned(args)?;
        Ok(quote!(#module::#m(#host, #(#args),*)?))
    }

    fn unary(&self, e: &Expr, op: UnOp, inner: &Expr) -> Gen {
        match op {
            UnOp::Not => {
                let x = self.owned(inner)?;
                Ok(quote!((!#x)))
            }
            UnOp::Neg => match (&inner.kind, self.ty(e)) {
                (ExprKind::Lit(Lit::Int(n)), ty) => int_literal(*n, true, ty),
                (ExprKind::Lit(Lit::Float(x)), _) => float_literal(-*x),
                (_, Ty::I64) => {
                    let x = self.owned(inner)?;
                    Ok(quote!(rt::neg_i64(#x)?))
                }
                (_, Ty::F64) => {
                    let x = self.owned(inner)?;
                    Ok(quote!((-#x)))
                }
                (_, ty) => Err(CodegenError::Internal(format!("negation of `{ty}`"))),
            },
        }
    }

    fn binary(&self, e: &Expr, op: BinOp, l: &Expr, r: &Expr) -> Gen {
        match op {
            BinOp::And | BinOp::Or => {
                let (a, b) = (self.owned(l)?, self.owned(r)?);
                Ok(if op == BinOp::And {
                    quote!((#a && #b))
                } else {
                    quote!((#a || #b))
                })
            }
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let (a, b) = (self.borrowed(l)?, self.borrowed(r)?);
                Ok(match op {
                    BinOp::Eq => quote!((#a == #b)),
                    BinOp::Ne => quote!((#a != #b)),
                    BinOp::Lt => quote!((#a < #b)),
                    BinOp::Le => quote!((#a <= #b)),
                    BinOp::Gt => quote!((#a > #b)),
                    _ => quote!((#a >= #b)),
                })
            }
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => {
                let (a, b) = (self.owned(l)?, self.owned(r)?);
                let ty = self.ty(e);
                let name = |suffix: &str| {
                    let op = match op {
                        BinOp::Add => "add",
                        BinOp::Sub => "sub",
                        BinOp::Mul => "mul",
                        BinOp::Div => "div",
                        _ => "rem",
                    };
                    proc_macro2::Ident::new(
                        &format!("{op}_{suffix}"),
                        proc_macro2::Span::call_site(),
                    )
                };
                Ok(match ty {
                    Ty::I64 => {
                        let f = name("i64");
                        quote!(rt::#f(#a, #b)?)
                    }
                    Ty::U64 => {
                        let f = name("u64");
                        quote!(rt::#f(#a, #b)?)
                    }
                    Ty::F64 => match op {
                        BinOp::Add => quote!((#a + #b)),
                        BinOp::Sub => quote!((#a - #b)),
                        BinOp::Mul => quote!((#a * #b)),
                        BinOp::Div => quote!((#a / #b)),
                        _ => quote!((#a % #b)),
                    },
                    Ty::Str if op == BinOp::Add => quote!(rt::concat_str(#a, #b)),
                    Ty::List(_) if op == BinOp::Add => quote!(rt::concat(#a, #b)),
                    other => {
                        return Err(CodegenError::Internal(format!(
                            "`{}` on `{other}`",
                            op.symbol()
                        )))
                    }
                })
            }
        }
    }

    /// `forall x in d: p` / `exists x in d: p` over a list, a set, or a map's keys.
    fn quant(&self, kind: Quantifier, var: &Ident, domain: &Expr, body: &Expr) -> Gen {
        let d = self.borrowed(domain)?;
        let items = match self.ty(domain) {
            Ty::Map(..) => quote!((#d).keys().cloned()),
            _ => quote!((#d).iter().cloned()),
        };
        let x = ident(&var.name);
        let p = self.bound(&[&var.name], body, || self.owned(body))?;
        let flag = self.fresh("q");
        Ok(match kind {
            Quantifier::Forall => quote!({
                let mut #flag = true;
                for #x in #items {
                    if !(#p) {
                        #flag = false;
                        break;
                    }
                }
                #flag
            }),
            Quantifier::Exists => quote!({
                let mut #flag = false;
                for #x in #items {
                    if (#p) {
                        #flag = true;
                        break;
                    }
                }
                #flag
            }),
        })
    }

    /// A closure argument of a built-in: `|x: T| -> Result<_, RuleError> { Ok(body) }`, where
    /// `param` is the type of its parameter.
    pub(crate) fn closure(&self, arg: &Expr, param: Option<&Ty>) -> Gen {
        let ExprKind::Closure { params, body } = &arg.kind else {
            return Err(CodegenError::Internal(
                "a built-in's closure argument is not a closure".into(),
            ));
        };
        let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
        let body = self.bound(&names, body, || self.owned(body))?;
        let annotation = param.and_then(|t| self.types.rust_known(t));
        let ps = params
            .iter()
            .map(|p| {
                let id = ident(&p.name);
                match &annotation {
                    Some(t) if params.len() == 1 => quote!(#id: #t),
                    _ => quote!(#id),
                }
            })
            .collect::<Vec<_>>();
        Ok(
            quote!(|#(#ps),*| -> ::std::result::Result<_, rt::RuleError> {
                ::std::result::Result::Ok(#body)
            }),
        )
    }

    fn builtin(&self, name: &Ident, args: &[Expr]) -> Gen {
        if self.types.model.functions.contains_key(&name.name) {
            // A helper function: its arguments by value, in order, as the evaluator does.
            let f = ident(&name.name);
            let args = self.all_owned(args)?;
            return Ok(quote!(crate::functions::#f(#(#args),*)?));
        }
        let entry = crate::builtins::lookup(&name.name)
            .ok_or_else(|| CodegenError::Internal(format!("unknown built-in `{}`", name.name)))?;
        let site = Site::new(self, entry.name, args)?;
        (entry.codegen)(self, &site)
    }
}

/// An integer literal of its checked type (`5u64`, `-5i64`, `5.0` as an `f64`).
pub(crate) fn int_literal(n: u64, negative: bool, ty: &Ty) -> Gen {
    match ty {
        Ty::U64 if !negative || n == 0 => Ok(Literal::u64_suffixed(n).into_token_stream()),
        Ty::F64 => float_literal(if negative { -(n as f64) } else { n as f64 }),
        Ty::I64 | Ty::Unknown => {
            let v = if negative {
                -i128::from(n)
            } else {
                i128::from(n)
            };
            if v == i128::from(i64::MIN) {
                return Ok(quote!(i64::MIN));
            }
            let v = i64::try_from(v)
                .map_err(|_| CodegenError::Internal(format!("`{v}` does not fit in `i64`")))?;
            if v < 0 {
                let lit = Literal::i64_suffixed(-v);
                Ok(quote!((-#lit)))
            } else {
                Ok(Literal::i64_suffixed(v).into_token_stream())
            }
        }
        other => Err(CodegenError::Internal(format!(
            "an integer literal of type `{other}`"
        ))),
    }
}

/// A float literal as the language's `f64`.
pub(crate) fn float_literal(x: f64) -> Gen {
    if !x.is_finite() {
        return Err(CodegenError::unsupported(format!(
            "the float literal `{x}` is not finite"
        )));
    }
    if x < 0.0 || (x == 0.0 && x.is_sign_negative()) {
        let lit = Literal::f64_suffixed(-x);
        return Ok(quote!(rt::F64(-#lit)));
    }
    let lit = Literal::f64_suffixed(x);
    Ok(quote!(rt::F64(#lit)))
}

/// `ty` with its unknown parts made `unit`.
fn unknown_as_unit(ty: &Ty) -> Ty {
    match ty {
        Ty::Unknown => Ty::Unit,
        Ty::Option(t) => Ty::Option(Box::new(unknown_as_unit(t))),
        Ty::List(t) => Ty::List(Box::new(unknown_as_unit(t))),
        Ty::Set(t) => Ty::Set(Box::new(unknown_as_unit(t))),
        Ty::Map(k, v) => Ty::Map(Box::new(unknown_as_unit(k)), Box::new(unknown_as_unit(v))),
        Ty::Tuple(items) => Ty::Tuple(items.iter().map(unknown_as_unit).collect()),
        other => other.clone(),
    }
}
