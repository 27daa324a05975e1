//! Rust types for spec types, and the declarations of each version's module.
//!
//! A record or enum declared identically in both versions (the checker's "unchanged") is one
//! type: it is declared in the old version's module and re-exported from the new one, so
//! values flow between versions without conversion, as the checker allows. Records and enums
//! derive serde in the wire encoding, and order and compare as the evaluator does: records by
//! their fields sorted by name, enums by variant name and then payload, floats by the total
//! order.

use super::names::{ident, ident_of, version_module};
use super::CodegenError;
use crate::model::{EnumDef, RecordDef, SpecModel, Ty, TypeRef, VersionEnv};
use proc_macro2::TokenStream;
use quote::quote;
use std::collections::{BTreeMap, BTreeSet};

/// What code generation knows about the spec's types. Which types are unchanged across the
/// versions is the checker's decision, read from the model
/// ([`SpecModel::unchanged_types`]), so "unchanged" means the same to both.
pub(crate) struct Types<'m> {
    pub model: &'m SpecModel,
    /// Names declared identically in both versions.
    pub unchanged: &'m BTreeSet<String>,
}

impl<'m> Types<'m> {
    pub fn new(model: &'m SpecModel) -> Self {
        Types {
            model,
            unchanged: &model.unchanged_types,
        }
    }

    pub fn env(&self, version: u64) -> Option<&'m VersionEnv> {
        self.model.env(version)
    }

    pub fn enum_def(&self, r: &TypeRef) -> Option<&'m EnumDef> {
        self.env(r.version).and_then(|e| e.enums.get(&r.name))
    }

    /// The name of a version's state struct: `State`, unless the version declares a type of
    /// that name.
    pub fn state_name(&self, version: u64) -> proc_macro2::Ident {
        let env = self.env(version);
        let name = ["State", "State_", "UpstartState", "__UpState"]
            .into_iter()
            .find(|n| !env.is_some_and(|e| e.defines_type(n)))
            .unwrap_or("__UpState");
        ident(name)
    }

    /// The Rust type of a spec type.
    pub fn rust(&self, ty: &Ty) -> Result<TokenStream, CodegenError> {
        Ok(match ty {
            Ty::Bool => quote!(bool),
            Ty::I64 => quote!(i64),
            Ty::U64 => quote!(u64),
            Ty::F64 => quote!(::upstart_abi::rt::F64),
            Ty::Str => quote!(::std::string::String),
            Ty::Bytes => quote!(::std::vec::Vec<u8>),
            Ty::Unit => quote!(()),
            Ty::Option(t) => {
                let t = self.rust(t)?;
                quote!(::std::option::Option<#t>)
            }
            Ty::List(t) => {
                let t = self.rust(t)?;
                quote!(::std::vec::Vec<#t>)
            }
            Ty::Set(t) => {
                let t = self.rust(t)?;
                quote!(::std::collections::BTreeSet<#t>)
            }
            Ty::Map(k, v) => {
                let (k, v) = (self.rust(k)?, self.rust(v)?);
                quote!(::std::collections::BTreeMap<#k, #v>)
            }
            Ty::Tuple(items) => {
                if items.len() > 12 {
                    return Err(CodegenError::unsupported(format!(
                        "tuples of more than 12 elements (`{ty}`) are not supported yet"
                    )));
                }
                let items = items
                    .iter()
                    .map(|t| self.rust(t))
                    .collect::<Result<Vec<_>, _>>()?;
                quote!((#(#items,)*))
            }
            Ty::Named(r) => {
                let (m, n) = (version_module(r.version), ident(&r.name));
                quote!(crate::#m::#n)
            }
            Ty::State(v) => {
                let (m, n) = (version_module(*v), self.state_name(*v));
                quote!(crate::#m::#n)
            }
            Ty::Unknown => {
                return Err(CodegenError::Internal(
                    "a type that the checker left unknown reached code generation".into(),
                ))
            }
        })
    }

    /// The Rust type, or `None` when part of it is unknown (Rust infers it then).
    pub fn rust_known(&self, ty: &Ty) -> Option<TokenStream> {
        if contains_unknown(ty) {
            None
        } else {
            self.rust(ty).ok()
        }
    }

    /// Refuses what the wire encoding cannot carry yet: map keys that JSON object keys cannot
    /// hold, and types that contain themselves without a list, set or map in between.
    pub fn check_supported(&self) -> Result<(), CodegenError> {
        for env in [&self.model.old, &self.model.new] {
            let mut all: Vec<&Ty> = Vec::new();
            for r in env.records.values() {
                all.extend(r.fields.iter().map(|f| &f.ty));
            }
            for e in env.enums.values() {
                all.extend(e.variants.iter().filter_map(|v| v.payload.as_ref()));
            }
            for s in env.services.values() {
                for m in &s.methods {
                    all.extend(m.params.iter().map(|p| &p.ty));
                    all.push(&m.ret);
                }
            }
            if let Some(s) = &env.state {
                all.extend(s.fields.iter().map(|f| &f.ty));
            }
            for ty in all {
                self.check_keys(ty)?;
            }
        }
        self.check_acyclic()
    }

    fn check_keys(&self, ty: &Ty) -> Result<(), CodegenError> {
        match ty {
            Ty::Map(k, v) => {
                let ok = match k.as_ref() {
                    Ty::Str | Ty::I64 | Ty::U64 | Ty::Bool | Ty::F64 => true,
                    Ty::Named(r) => self
                        .enum_def(r)
                        .is_some_and(|e| e.variants.iter().all(|v| v.payload.is_none())),
                    _ => false,
                };
                if !ok {
                    return Err(CodegenError::unsupported(format!(
                        "maps keyed by `{k}` are not supported yet: the wire encoding keys maps \
                         by strings, numbers, bools or payload-free enums"
                    )));
                }
                self.check_keys(v)
            }
            Ty::Option(t) | Ty::List(t) | Ty::Set(t) => self.check_keys(t),
            Ty::Tuple(items) => items.iter().try_for_each(|t| self.check_keys(t)),
            _ => Ok(()),
        }
    }

    /// Named types a type holds by value (not behind a list, set or map).
    fn direct_names(ty: &Ty, out: &mut Vec<TypeRef>) {
        match ty {
            Ty::Named(r) => out.push(r.clone()),
            Ty::Option(t) => Self::direct_names(t, out),
            Ty::Tuple(items) => items.iter().for_each(|t| Self::direct_names(t, out)),
            _ => {}
        }
    }

    fn check_acyclic(&self) -> Result<(), CodegenError> {
        let mut edges: BTreeMap<TypeRef, Vec<TypeRef>> = BTreeMap::new();
        for env in [&self.model.old, &self.model.new] {
            for r in env.records.values() {
                let from = TypeRef {
                    version: env.number,
                    name: r.name.name.clone(),
                };
                let to = edges.entry(from).or_default();
                r.fields.iter().for_each(|f| Self::direct_names(&f.ty, to));
            }
            for e in env.enums.values() {
                let from = TypeRef {
                    version: env.number,
                    name: e.name.name.clone(),
                };
                let to = edges.entry(from).or_default();
                e.variants
                    .iter()
                    .filter_map(|v| v.payload.as_ref())
                    .for_each(|t| {
                        Self::direct_names(t, to);
                    });
            }
        }
        // Depth-first search for a cycle; unchanged names are one node whatever the version.
        let norm = |r: &TypeRef| -> TypeRef {
            if self.unchanged.contains(&r.name) {
                TypeRef {
                    version: self.model.old.number,
                    name: r.name.clone(),
                }
            } else {
                r.clone()
            }
        };
        let mut done: BTreeSet<TypeRef> = BTreeSet::new();
        for start in edges.keys() {
            let mut stack: Vec<(TypeRef, usize)> = vec![(norm(start), 0)];
            let mut on_path: BTreeSet<TypeRef> = BTreeSet::from([norm(start)]);
            while let Some((node, i)) = stack.pop() {
                let next = edges.get(&node).and_then(|v| v.get(i)).map(norm);
                match next {
                    None => {
                        on_path.remove(&node);
                        done.insert(node);
                    }
                    Some(n) => {
                        stack.push((node, i + 1));
                        if on_path.contains(&n) {
                            return Err(CodegenError::unsupported(format!(
                                "`{}` contains itself without a list, set or map in between; \
                                 such recursive types are not supported yet",
                                n.name
                            )));
                        }
                        if !done.contains(&n) {
                            on_path.insert(n.clone());
                            stack.push((n, 0));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The items of a version's module: its records, enums and state, and re-exports of the
    /// unchanged types (from the new version's module).
    pub fn module(&self, env: &VersionEnv) -> Result<TokenStream, CodegenError> {
        let is_new = env.number == self.model.new.number;
        let mut items = Vec::new();
        for (name, rec) in &env.records {
            if is_new && self.unchanged.contains(name) {
                items.push(self.reexport(name));
            } else {
                items.push(self.record(&rec.name.name, rec)?);
            }
        }
        for (name, en) in &env.enums {
            if is_new && self.unchanged.contains(name) {
                items.push(self.reexport(name));
            } else {
                items.push(self.enumeration(en)?);
            }
        }
        if let Some(state) = &env.state {
            let rec = RecordDef {
                name: lang::ast::Ident {
                    name: "state".into(),
                    span: state.span,
                },
                fields: state.fields.clone(),
                span: state.span,
            };
            let name = self.state_name(env.number).to_string();
            items.push(self.record_named(&name, "state", &rec)?);
        }
        let m = version_module(env.number);
        let doc = format!(" The types of version {}.", env.number);
        Ok(quote! {
            #[doc = #doc]
            pub mod #m {
                #(#items)*
            }
        })
    }

    fn reexport(&self, name: &str) -> TokenStream {
        let (m, n) = (version_module(self.model.old.number), ident(name));
        let doc = format!(" Unchanged since version {}.", self.model.old.number);
        quote! {
            #[doc = #doc]
            pub use crate::#m::#n;
        }
    }

    fn record(&self, name: &str, rec: &RecordDef) -> Result<TokenStream, CodegenError> {
        self.record_named(name, name, rec)
    }

    /// A struct named `rust_name` (shown as `shown` in messages) with `rec`'s fields.
    fn record_named(
        &self,
        rust_name: &str,
        shown: &str,
        rec: &RecordDef,
    ) -> Result<TokenStream, CodegenError> {
        let name = ident(rust_name);
        let mut fields = Vec::new();
        for f in &rec.fields {
            let (fname, renamed) = ident_of(&f.name.name);
            let ty = self.rust(&f.ty)?;
            let rename = renamed.then(|| {
                let n = &f.name.name;
                quote!(#[serde(rename = #n)])
            });
            fields.push(quote!(#rename pub #fname: #ty));
        }
        let mut sorted: Vec<&str> = rec.fields.iter().map(|f| f.name.name.as_str()).collect();
        sorted.sort_unstable();
        let cmps = sorted.iter().map(|f| {
            let f = ident(f);
            quote!(.then_with(|| ::std::cmp::Ord::cmp(&self.#f, &other.#f)))
        });
        let shows = sorted.iter().map(|f| {
            let id = ident(f);
            quote!((#f, &self.#id as &dyn ::upstart_abi::rt::Show))
        });
        Ok(named_type(
            &name,
            quote!(pub struct #name { #(#fields,)* }),
            quote! { ::std::cmp::Ordering::Equal #(#cmps)* },
            quote!(::upstart_abi::rt::show_record(out, #shown, &[#(#shows),*]);),
        ))
    }

    fn enumeration(&self, en: &EnumDef) -> Result<TokenStream, CodegenError> {
        let ename = &en.name.name;
        let name = ident(ename);
        let mut variants = Vec::new();
        for v in &en.variants {
            let (vname, renamed) = ident_of(&v.name.name);
            let rename = renamed.then(|| {
                let n = &v.name.name;
                quote!(#[serde(rename = #n)])
            });
            match &v.payload {
                Some(t) => {
                    let t = self.rust(t)?;
                    variants.push(quote!(#rename #vname(#t)));
                }
                None => variants.push(quote!(#rename #vname)),
            }
        }
        if en.variants.is_empty() {
            return Ok(named_type(
                &name,
                quote!(pub enum #name {}),
                quote!(match *self {}),
                quote!(let _ = out; match *self {}),
            ));
        }
        // Variants rank by name, as the evaluator orders them.
        let mut by_name: Vec<&str> = en.variants.iter().map(|v| v.name.name.as_str()).collect();
        by_name.sort_unstable();
        let mut ranks = Vec::new();
        let mut same = Vec::new();
        let mut shows = Vec::new();
        for v in &en.variants {
            let vname = ident(&v.name.name);
            let vtext = &v.name.name;
            let rank = by_name.iter().position(|n| *n == v.name.name).unwrap_or(0) as u32;
            if v.payload.is_some() {
                ranks.push(quote!(Self::#vname(..) => #rank));
                same.push(
                    quote!((Self::#vname(a), Self::#vname(b)) => ::std::cmp::Ord::cmp(a, b),),
                );
                shows.push(quote! {
                    Self::#vname(p) => ::upstart_abi::rt::show_variant(out, #ename, #vtext, ::std::option::Option::Some(p as &dyn ::upstart_abi::rt::Show))
                });
            } else {
                ranks.push(quote!(Self::#vname => #rank));
                shows.push(quote! {
                    Self::#vname => ::upstart_abi::rt::show_variant(out, #ename, #vtext, ::std::option::Option::None)
                });
            }
        }
        Ok(named_type(
            &name,
            quote!(pub enum #name { #(#variants,)* }),
            quote! {
                let rank = |v: &Self| -> u32 { match v { #(#ranks,)* } };
                match (self, other) {
                    #(#same)*
                    _ => ::std::cmp::Ord::cmp(&rank(self), &rank(other)),
                }
            },
            quote!(match self { #(#shows,)* }),
        ))
    }
}

/// A generated record or enum: its declaration `decl` with the derives every type takes, its
/// order (`cmp_body`, as [`ord_impls`] takes it) and how it shows (`show_body`, writing to
/// `out`).
fn named_type(
    name: &proc_macro2::Ident,
    decl: TokenStream,
    cmp_body: TokenStream,
    show_body: TokenStream,
) -> TokenStream {
    let derives = derives();
    let ord = ord_impls(name, cmp_body);
    quote! {
        #derives
        #decl
        #ord
        impl ::upstart_abi::rt::Show for #name {
            fn show(&self, out: &mut ::std::string::String) { #show_body }
        }
    }
}

fn derives() -> TokenStream {
    quote!(#[derive(Clone, Debug, ::serde::Serialize, ::serde::Deserialize)])
}

/// `Ord` from the body of `cmp`, and `PartialOrd`, `PartialEq`, `Eq` from `Ord`.
fn ord_impls(name: &proc_macro2::Ident, cmp_body: TokenStream) -> TokenStream {
    quote! {
        impl ::std::cmp::Ord for #name {
            fn cmp(&self, other: &Self) -> ::std::cmp::Ordering { #cmp_body }
        }
        impl ::std::cmp::PartialOrd for #name {
            fn partial_cmp(&self, other: &Self) -> ::std::option::Option<::std::cmp::Ordering> {
                ::std::option::Option::Some(::std::cmp::Ord::cmp(self, other))
            }
        }
        impl ::std::cmp::PartialEq for #name {
            fn eq(&self, other: &Self) -> bool {
                ::std::cmp::Ord::cmp(self, other) == ::std::cmp::Ordering::Equal
            }
        }
        impl ::std::cmp::Eq for #name {}
    }
}

/// Whether a type has an unknown part.
pub(crate) fn contains_unknown(ty: &Ty) -> bool {
    match ty {
        Ty::Unknown => true,
        Ty::Option(t) | Ty::List(t) | Ty::Set(t) => contains_unknown(t),
        Ty::Map(k, v) => contains_unknown(k) || contains_unknown(v),
        Ty::Tuple(items) => items.iter().any(contains_unknown),
        _ => false,
    }
}
