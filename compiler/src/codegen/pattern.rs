//! `match` to Rust. The scrutinee is borrowed (`match &(x) { ... }`), so patterns bind
//! references, which each arm clones into owned values before its body. Patterns Rust cannot
//! write against a reference (string and float literals) become a fresh binding and a guard.
//! A last arm reports "no arm matches" (the checker makes it unreachable).

use super::expr::{int_literal, ExprGen};
use super::names::ident;
use super::CodegenError;
use crate::model::Ty;
use lang::ast::{Arm, Expr, Lit, Pattern, PatternKind};
use proc_macro2::{Ident, TokenStream};
use quote::quote;

/// Bindings and guards a pattern makes.
#[derive(Default)]
struct Bound {
    names: Vec<Ident>,
    /// The same names as the spec writes them.
    spec_names: Vec<String>,
    guards: Vec<TokenStream>,
}

pub(crate) fn match_expr(
    g: &ExprGen<'_, '_>,
    scrutinee: &Expr,
    arms: &[Arm],
) -> Result<TokenStream, CodegenError> {
    let s = g.borrowed(scrutinee)?;
    let sty = g.types.model.type_of(scrutinee);
    let mut out = Vec::new();
    for arm in arms {
        let mut bound = Bound::default();
        let pat = pattern(g, &mut bound, &arm.pattern, sty)?;
        let spec_names: Vec<&str> = bound.spec_names.iter().map(String::as_str).collect();
        let body = g.bound(&spec_names, &arm.body, || g.owned(&arm.body))?;
        let names = &bound.names;
        let guards = &bound.guards;
        let guard = (!guards.is_empty()).then(|| quote!(if #(#guards)&&*));
        out.push(quote!(#pat #guard => { #(let #names = #names.clone();)* #body }));
    }
    let m = g.fresh("m");
    out.push(quote!(#m => return ::std::result::Result::Err(rt::no_match(#m))));
    Ok(quote!((match #s { #(#out,)* })))
}

fn pattern(
    g: &ExprGen<'_, '_>,
    bound: &mut Bound,
    p: &Pattern,
    ty: &Ty,
) -> Result<TokenStream, CodegenError> {
    Ok(match &p.kind {
        PatternKind::Wildcard => quote!(_),
        PatternKind::None | PatternKind::Lit(Lit::None) => quote!(::std::option::Option::None),
        PatternKind::Some(inner) => {
            let inner_ty = match ty {
                Ty::Option(t) => t.as_ref(),
                _ => &Ty::Unknown,
            };
            let inner = pattern(g, bound, inner, inner_ty)?;
            quote!(::std::option::Option::Some(#inner))
        }
        PatternKind::Lit(lit) => match (lit, ty) {
            (Lit::Bool(true), _) => quote!(true),
            (Lit::Bool(false), _) => quote!(false),
            (Lit::Unit, _) => quote!(()),
            (Lit::Int(n), Ty::I64 | Ty::U64) => int_literal(*n, false, ty)?,
            (Lit::Int(_) | Lit::Float(_) | Lit::Str(_), _) => {
                let value = match lit {
                    Lit::Int(n) => int_literal(*n, false, ty)?,
                    Lit::Float(x) => super::expr::float_literal(*x)?,
                    Lit::Str(s) => {
                        let b = g.fresh("p");
                        bound.guards.push(quote!(#b.as_str() == #s));
                        return Ok(quote!(#b));
                    }
                    _ => quote!(()),
                };
                let b = g.fresh("p");
                bound.guards.push(quote!(*#b == #value));
                quote!(#b)
            }
            (Lit::None, _) => quote!(::std::option::Option::None),
        },
        PatternKind::NegInt(n) => match ty {
            // `i64::MIN` is a path, which Rust does not match against a reference.
            Ty::I64 if *n <= i64::MAX as u64 => int_literal(*n, true, ty)?,
            // `-2` against an `f64` (or a type Rust cannot match a literal on): a guard.
            _ => {
                let value = int_literal(*n, true, ty)?;
                let b = g.fresh("p");
                bound.guards.push(quote!(*#b == #value));
                quote!(#b)
            }
        },
        PatternKind::Variant { path, payload } => {
            let vname = path
                .last()
                .ok_or_else(|| CodegenError::Internal("a variant pattern without a name".into()))?;
            let en = match ty {
                Ty::Named(r) => g.types.enum_def(r),
                _ => None,
            };
            let is_variant = en.is_some_and(|e| e.variant(&vname.name).is_some());
            if path.len() == 1 && payload.is_none() && !is_variant {
                let id = ident(&vname.name);
                bound.names.push(id.clone());
                bound.spec_names.push(vname.name.clone());
                return Ok(quote!(#id));
            }
            let def = en.and_then(|e| e.variant(&vname.name)).ok_or_else(|| {
                CodegenError::Internal(format!("variant pattern `{}` on `{ty}`", vname.name))
            })?;
            let ety = g.types.rust(ty)?;
            let v = ident(&vname.name);
            match (&def.payload, payload) {
                (Some(pt), Some(pp)) => {
                    let inner = pattern(g, bound, pp, pt)?;
                    quote!(#ety::#v(#inner))
                }
                (Some(_), None) => quote!(#ety::#v(..)),
                (None, _) => quote!(#ety::#v),
            }
        }
    })
}
