//! The transform and the invariant as typed functions over the versions' state structs, and
//! their JSON entry points. A spec whose state did not change needs no transform: the old
//! state is re-read as the new one (and back). A spec without state passes the document
//! through. The reverse transform (`transform (new) -> old`) is generated when the spec has one.

use super::expr::ExprGen;
use super::names::{ident, internal};
use super::types::Types;
use super::CodegenError;
use crate::model::Ty;
use lang::ast::Transform;
use proc_macro2::TokenStream;
use quote::quote;

pub(crate) fn state_module(types: &Types<'_>) -> Result<TokenStream, CodegenError> {
    let model = types.model;
    let (old_v, new_v) = (model.old.number, model.new.number);
    let (old_in, new_in) = (internal("old"), internal("new"));
    if model.old.state.is_none() || model.new.state.is_none() {
        return Ok(quote! {
            /// Neither version declares state: the document passes through, and the invariant holds.
            pub mod state {
                use ::upstart_abi::rt;

                pub fn transform_json(old: &[u8]) -> rt::RuleResult<::std::vec::Vec<u8>> {
                    ::std::result::Result::Ok(old.to_vec())
                }

                pub fn reverse_transform_json(new: &[u8]) -> rt::RuleResult<::std::vec::Vec<u8>> {
                    ::std::result::Result::Ok(new.to_vec())
                }

                pub fn check_invariant_json(old: &[u8], new: &[u8]) -> rt::RuleResult<::std::vec::Vec<u8>> {
                    rt::encode(&true)
                }
            }
        });
    }
    let old_ty = types.rust(&Ty::State(old_v))?;
    let new_ty = types.rust(&Ty::State(new_v))?;

    let transform_body = match model.spec.transforms().next() {
        Some(t) => body_of(types, t, &old_in, &new_ty)?,
        // The checker allows no transform only when the state is the same in both versions.
        None => quote!(rt::recode(#old_in)),
    };
    // The reverse transform, when the spec has one; without a forward transform the state is
    // the same in both versions and goes back as it is.
    let reverse = match (
        model.spec.reverse_transforms().next(),
        model.spec.transforms().next(),
    ) {
        (Some(t), _) => Some(body_of(types, t, &new_in, &old_ty)?),
        (None, None) => Some(quote!(rt::recode(#new_in))),
        (None, Some(_)) => None,
    };
    let reverse_fns = match reverse {
        Some(body) => {
            let rdoc = format!(
                " The reverse transform: the state of version {new_v} back to the state of version {old_v}."
            );
            quote! {
                #[doc = #rdoc]
                pub fn reverse_transform(#new_in: &#new_ty) -> rt::RuleResult<#old_ty> {
                    #body
                }

                pub fn reverse_transform_json(new: &[u8]) -> rt::RuleResult<::std::vec::Vec<u8>> {
                    let new: #new_ty = rt::decode(new, "the new state")?;
                    rt::encode(&reverse_transform(&new)?)
                }
            }
        }
        None => quote!(),
    };

    let invariant_body = match model.spec.invariants().next() {
        Some(inv) => {
            let g = ExprGen::new(types, None);
            let (old, new) = (ident(&inv.old.name), ident(&inv.new.name));
            let clauses = inv
                .clauses
                .iter()
                .map(|c| {
                    let c = g.bound_fixed(&[&inv.old.name, &inv.new.name], || g.owned(c))?;
                    Ok(quote! {
                        if !(#c) {
                            return ::std::result::Result::Ok(false);
                        }
                    })
                })
                .collect::<Result<Vec<_>, CodegenError>>()?;
            quote! {
                let #old = #old_in;
                let #new = #new_in;
                #(#clauses)*
                ::std::result::Result::Ok(true)
            }
        }
        None => quote!(::std::result::Result::Ok(true)),
    };

    let tdoc =
        format!(" The transform: the state of version {old_v} to the state of version {new_v}.");
    let idoc = " The invariant: every clause, in order, until one is false.";
    Ok(quote! {
        /// Persistent state: the transform and the invariant.
        pub mod state {
            use ::upstart_abi::rt;

            #[doc = #tdoc]
            pub fn transform(#old_in: &#old_ty) -> rt::RuleResult<#new_ty> {
                #transform_body
            }

            #[doc = #idoc]
            pub fn check_invariant(#old_in: &#old_ty, #new_in: &#new_ty) -> rt::RuleResult<bool> {
                #invariant_body
            }

            pub fn transform_json(old: &[u8]) -> rt::RuleResult<::std::vec::Vec<u8>> {
                let old: #old_ty = rt::decode(old, "the old state")?;
                rt::encode(&transform(&old)?)
            }

            #reverse_fns

            pub fn check_invariant_json(old: &[u8], new: &[u8]) -> rt::RuleResult<::std::vec::Vec<u8>> {
                let old: #old_ty = rt::decode(old, "the old state")?;
                let new: #new_ty = rt::decode(new, "the new state")?;
                rt::encode(&check_invariant(&old, &new)?)
            }
        }
    })
}

/// The body of a transform (forward or reverse): binds the state read to the transform's
/// parameter, evaluates each field in order and builds the state given (`out_ty`).
fn body_of(
    types: &Types<'_>,
    t: &Transform,
    input: &proc_macro2::Ident,
    out_ty: &TokenStream,
) -> Result<TokenStream, CodegenError> {
    let g = ExprGen::new(types, None);
    let param = ident(&t.old.name);
    let mut lets = Vec::new();
    let mut inits = Vec::new();
    for (i, f) in t.fields.iter().enumerate() {
        let tmp = internal(&format!("f{i}"));
        let v = g.bound_fixed(&[&t.old.name], || g.owned(&f.value))?;
        let name = ident(&f.name.name);
        lets.push(quote!(let #tmp = #v;));
        inits.push(quote!(#name: #tmp));
    }
    Ok(quote! {
        let #param = #input;
        #(#lets)*
        ::std::result::Result::Ok(#out_ty { #(#inits),* })
    })
}
