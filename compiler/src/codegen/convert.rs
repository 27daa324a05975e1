//! `mod conv`: a function per record or enum whose values cross between the versions under
//! renamed fields (`renamed from`), and the conversion of a value of any type built from them
//! (options, collections, tuples), as the checker recorded them in the model.

use super::names::{ident, internal};
use super::types::Types;
use super::CodegenError;
use crate::model::{Conversion, NamedConversion, Ty};
use proc_macro2::TokenStream;
use quote::quote;

/// The function converting `name` from version `from` to version `to`.
fn function(name: &str, from: u64, to: u64) -> proc_macro2::Ident {
    internal(&format!("conv_{name}_{from}_{to}"))
}

/// `input` converted by `c`.
pub(crate) fn apply(c: &Conversion, input: TokenStream) -> TokenStream {
    let x = internal("x");
    match c {
        Conversion::Same => input,
        Conversion::Named { name, from, to } => {
            let f = function(name, *from, *to);
            quote!(crate::conv::#f(#input))
        }
        Conversion::Option(c) => {
            let inner = apply(c, quote!(#x));
            quote!((#input).map(|#x| #inner))
        }
        Conversion::List(c) => {
            let inner = apply(c, quote!(#x));
            quote!((#input).into_iter().map(|#x| #inner).collect::<::std::vec::Vec<_>>())
        }
        Conversion::Set(c) => {
            let inner = apply(c, quote!(#x));
            quote!((#input).into_iter().map(|#x| #inner).collect::<::std::collections::BTreeSet<_>>())
        }
        Conversion::Map(c) => {
            let k = internal("k");
            let inner = apply(c, quote!(#x));
            quote!((#input).into_iter().map(|(#k, #x)| (#k, #inner)).collect::<::std::collections::BTreeMap<_, _>>())
        }
        Conversion::Tuple(cs) => {
            let names: Vec<_> = (0..cs.len()).map(|i| internal(&format!("t{i}"))).collect();
            let items: Vec<_> = cs
                .iter()
                .zip(&names)
                .map(|(c, n)| apply(c, quote!(#n)))
                .collect();
            quote!({ let (#(#names,)*) = #input; (#(#items,)*) })
        }
    }
}

pub(crate) fn conversions_module(types: &Types<'_>) -> Result<TokenStream, CodegenError> {
    let mut fns = Vec::new();
    for ((name, from, to), named) in &types.model.named_conversions {
        let f = function(name, *from, *to);
        let from_ty = types.rust(&Ty::named(*from, name))?;
        let to_ty = types.rust(&Ty::named(*to, name))?;
        let x = internal("x");
        let body = match named {
            NamedConversion::Record(fields) => {
                let inits = fields.iter().map(|(a, b, c)| {
                    let (a, b) = (ident(a), ident(b));
                    let v = apply(c, quote!(#x.#a));
                    quote!(#b: #v)
                });
                quote!(#to_ty { #(#inits),* })
            }
            NamedConversion::Enum(variants) => {
                let p = internal("p");
                let arms = variants.iter().map(|(v, c)| {
                    let v = ident(v);
                    match c {
                        Some(c) => {
                            let inner = apply(c, quote!(#p));
                            quote!(#from_ty::#v(#p) => #to_ty::#v(#inner))
                        }
                        None => quote!(#from_ty::#v => #to_ty::#v),
                    }
                });
                quote!(match #x { #(#arms,)* })
            }
        };
        let doc =
            format!(" `{name}` of version {from} as version {to}'s, under its renamed fields.");
        fns.push(quote! {
            #[doc = #doc]
            pub fn #f(#x: #from_ty) -> #to_ty { #body }
        });
    }
    Ok(quote! {
        /// Values crossing between the versions under renamed fields.
        pub mod conv {
            #(#fns)*
        }
    })
}
