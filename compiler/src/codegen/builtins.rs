//! Code generation of the built-in functions: one function per built-in (or family), each
//! referenced from the one table of built-ins, [`crate::builtins`]. The generated code calls
//! `upstart_abi::rt` (imported as `rt`), whose functions mean what the evaluator's do.

use super::expr::{ExprGen, Gen};
use super::CodegenError;
use crate::model::Ty;
use lang::ast::Expr;
use proc_macro2::TokenStream;
use quote::quote;

/// How code generation translates one built-in call.
pub(crate) type Generation = fn(&ExprGen<'_, '_>, &Site<'_>) -> Gen;

/// A call of a built-in: its arguments and the checked type of the first.
pub(crate) struct Site<'e> {
    name: &'static str,
    args: &'e [Expr],
    a0: &'e Expr,
    t0: &'e Ty,
    /// The element type of the first argument (an option's, a list's, a set's, a map's value).
    elem: Option<&'e Ty>,
}

impl<'e> Site<'e> {
    pub(crate) fn new(
        g: &ExprGen<'_, 'e>,
        name: &'static str,
        args: &'e [Expr],
    ) -> Result<Self, CodegenError> {
        let a0 = args
            .first()
            .ok_or_else(|| CodegenError::Internal(format!("`{name}` is missing argument 1")))?;
        let t0 = g.ty(a0);
        let elem = match t0 {
            Ty::Option(t) | Ty::List(t) | Ty::Set(t) => Some(t.as_ref()),
            Ty::Map(_, v) => Some(v.as_ref()),
            _ => None,
        };
        Ok(Site {
            name,
            args,
            a0,
            t0,
            elem,
        })
    }

    /// Argument `i` (from 0).
    fn arg(&self, i: usize) -> Result<&'e Expr, CodegenError> {
        self.args.get(i).ok_or_else(|| {
            CodegenError::Internal(format!("`{}` is missing argument {}", self.name, i + 1))
        })
    }

    /// The built-in's own name as a Rust identifier (`rt::keys`).
    fn ident(&self) -> proc_macro2::Ident {
        rt_ident(self.name)
    }

    fn mismatch(&self) -> CodegenError {
        CodegenError::Internal(format!("`{}` on `{}`", self.name, self.t0))
    }
}

fn rt_ident(name: &str) -> proc_macro2::Ident {
    proc_macro2::Ident::new(name, proc_macro2::Span::call_site())
}

/// `keys`, `values`, `entries`, `len`: `rt::NAME(&x)`.
pub(crate) fn view(g: &ExprGen<'_, '_>, s: &Site<'_>) -> Gen {
    let f = s.ident();
    let m = g.borrowed(s.a0)?;
    Ok(quote!(rt::#f(#m)))
}

/// `contains`.
pub(crate) fn contains(g: &ExprGen<'_, '_>, s: &Site<'_>) -> Gen {
    let (xs, x) = (g.borrowed(s.a0)?, g.borrowed(s.arg(1)?)?);
    Ok(match s.t0 {
        Ty::Set(_) => quote!(rt::set_contains(#xs, #x)),
        _ => quote!(rt::list_contains(#xs, #x)),
    })
}

/// `contains_key`, `get`: `rt::NAME(&m, &k)`.
pub(crate) fn lookup(g: &ExprGen<'_, '_>, s: &Site<'_>) -> Gen {
    let f = s.ident();
    let (m, k) = (g.borrowed(s.a0)?, g.borrowed(s.arg(1)?)?);
    Ok(quote!(rt::#f(#m, #k)))
}

/// `insert`.
pub(crate) fn insert(g: &ExprGen<'_, '_>, s: &Site<'_>) -> Gen {
    let (m, k, v) = (g.owned(s.a0)?, g.owned(s.arg(1)?)?, g.owned(s.arg(2)?)?);
    Ok(quote!(rt::insert(#m, #k, #v)))
}

/// `remove`.
pub(crate) fn remove(g: &ExprGen<'_, '_>, s: &Site<'_>) -> Gen {
    let (m, k) = (g.owned(s.a0)?, g.borrowed(s.arg(1)?)?);
    Ok(quote!(rt::remove(#m, #k)))
}

/// `map`, `filter`, `map_values`, `to_map`, `and_then`: a closure over owned elements.
pub(crate) fn with_closure(g: &ExprGen<'_, '_>, s: &Site<'_>) -> Gen {
    let xs = g.owned(s.a0)?;
    let f = g.closure(s.arg(1)?, s.elem)?;
    let helper = match (s.name, s.t0) {
        ("map", Ty::Option(_)) => "map_option",
        ("map", Ty::List(_)) => "map_list",
        ("map", Ty::Set(_)) => "map_set",
        ("filter", Ty::List(_)) => "filter_list",
        ("filter", Ty::Set(_)) => "filter_set",
        ("map_values" | "to_map" | "and_then", _) => s.name,
        _ => return Err(s.mismatch()),
    };
    let helper = rt_ident(helper);
    Ok(quote!(rt::#helper(#xs, #f)?))
}

/// `any`, `all`: a closure over borrowed elements.
pub(crate) fn quantifier(g: &ExprGen<'_, '_>, s: &Site<'_>) -> Gen {
    let f = s.ident();
    let xs = g.borrowed(s.a0)?;
    let c = g.closure(s.arg(1)?, s.elem)?;
    Ok(quote!(rt::#f(#xs, #c)?))
}

/// `to_set`, `to_list`: `rt::NAME(x)`.
pub(crate) fn collect(g: &ExprGen<'_, '_>, s: &Site<'_>) -> Gen {
    let f = s.ident();
    let xs = g.owned(s.a0)?;
    Ok(quote!(rt::#f(#xs)))
}

/// `some`.
pub(crate) fn some(g: &ExprGen<'_, '_>, s: &Site<'_>) -> Gen {
    let x = g.owned(s.a0)?;
    Ok(quote!(::std::option::Option::Some(#x)))
}

/// `unwrap_or`.
pub(crate) fn unwrap_or(g: &ExprGen<'_, '_>, s: &Site<'_>) -> Gen {
    let (o, d) = (g.owned(s.a0)?, g.owned(s.arg(1)?)?);
    Ok(quote!(rt::unwrap_or(#o, #d)))
}

/// `is_some`, `is_none`: Rust's own methods.
pub(crate) fn is_option(g: &ExprGen<'_, '_>, s: &Site<'_>) -> Gen {
    let f = s.ident();
    let o = g.borrowed(s.a0)?;
    Ok(quote!((#o).#f()))
}

/// `sum`, by element type.
pub(crate) fn sum(g: &ExprGen<'_, '_>, s: &Site<'_>) -> Gen {
    let xs = g.borrowed(s.a0)?;
    Ok(match s.elem {
        Some(Ty::I64) => quote!(rt::sum_i64(#xs)?),
        Some(Ty::U64) => quote!(rt::sum_u64(#xs)?),
        Some(Ty::F64) => quote!(rt::sum_f64(#xs)),
        // `sum([])`: the element type comes from the context, in Rust too.
        _ => quote!(rt::sum(#xs)?),
    })
}

/// `concat`.
pub(crate) fn concat(g: &ExprGen<'_, '_>, s: &Site<'_>) -> Gen {
    let (a, b) = (g.owned(s.a0)?, g.owned(s.arg(1)?)?);
    Ok(quote!(rt::concat(#a, #b)))
}

/// `to_string`.
pub(crate) fn to_string(g: &ExprGen<'_, '_>, s: &Site<'_>) -> Gen {
    let x = g.borrowed(s.a0)?;
    Ok(quote!(rt::to_string(#x)))
}

/// `i64`, `u64`, `f64`: number conversions (the identity when the type is already right).
pub(crate) fn convert(g: &ExprGen<'_, '_>, s: &Site<'_>) -> Gen {
    let x: TokenStream = g.owned(s.a0)?;
    let f = match (s.name, s.t0) {
        ("i64", Ty::I64) | ("u64", Ty::U64) | ("f64", Ty::F64) => return Ok(x),
        ("i64", Ty::U64) => "u64_to_i64",
        ("i64", Ty::F64) => "f64_to_i64",
        ("u64", Ty::I64) => "i64_to_u64",
        ("u64", Ty::F64) => "f64_to_u64",
        ("f64", Ty::I64) => "i64_to_f64",
        ("f64", Ty::U64) => "u64_to_f64",
        _ => return Err(s.mismatch()),
    };
    let f = rt_ident(f);
    Ok(if s.name == "f64" {
        quote!(rt::#f(#x))
    } else {
        quote!(rt::#f(#x)?)
    })
}

/// `min`, `max`.
pub(crate) fn min_max(g: &ExprGen<'_, '_>, s: &Site<'_>) -> Gen {
    let f = s.ident();
    let (a, b) = (g.owned(s.a0)?, g.owned(s.arg(1)?)?);
    Ok(quote!(rt::#f(#a, #b)))
}
