//! `mod functions`: the spec's helper functions (`fn name(params) -> T = body`) as typed Rust
//! functions that take their parameters by value; a call is `crate::functions::name(args)?`.
//! The checker refuses recursion, so none of them calls itself.

use super::expr::ExprGen;
use super::names::ident;
use super::types::Types;
use super::CodegenError;
use proc_macro2::TokenStream;
use quote::quote;

pub(crate) fn functions_module(types: &Types<'_>) -> Result<TokenStream, CodegenError> {
    let model = types.model;
    let mut fns = Vec::new();
    for f in model.spec.functions() {
        let Some(def) = model.functions.get(&f.name.name) else {
            continue;
        };
        if def.name.span != f.name.span {
            continue;
        }
        let g = ExprGen::new(types, None);
        let names: Vec<&str> = def.params.iter().map(|p| p.name.name.as_str()).collect();
        let body = g.bound(&names, &f.body, || g.owned(&f.body))?;
        let mut params = Vec::new();
        for p in &def.params {
            let (id, t) = (ident(&p.name.name), types.rust(&p.ty)?);
            params.push(quote!(#id: #t));
        }
        let ret = types.rust(&def.ret)?;
        let name = ident(&def.name.name);
        let doc = format!(" The helper function `{}`.", def.name.name);
        fns.push(quote! {
            #[doc = #doc]
            pub fn #name(#(#params),*) -> rt::RuleResult<#ret> {
                ::std::result::Result::Ok(#body)
            }
        });
    }
    Ok(quote! {
        /// The spec's helper functions.
        pub mod functions {
            use ::upstart_abi::rt;
            #(#fns)*
        }
    })
}
