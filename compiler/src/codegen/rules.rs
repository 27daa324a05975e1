//! Past and future rules as typed functions, the typed delegate functions their `call`s go
//! through, and the dispatch table from (direction, service, method) to a rule.
//!
//! A delegate serializes its arguments as a JSON array, calls the host, and decodes the typed
//! answer. Dispatch decodes a JSON array of arguments by position into the simulated method's
//! parameter types (a wrong count or type is `BadInput` naming the method and parameter),
//! runs the rule, and encodes its result. A method unchanged between the versions has no rule:
//! dispatch passes it to the same method of the other version, through its delegate.

use super::expr::ExprGen;
use super::names::{ident, internal, version_module};
use super::types::Types;
use super::CodegenError;
use crate::model::{MethodDef, ServiceDef, Ty, VersionEnv};
use lang::ast::{Rule, RuleKind};
use proc_macro2::TokenStream;
use quote::quote;

/// The (simulated, reachable) versions of a rule kind.
pub(crate) fn sides<'m>(types: &Types<'m>, kind: RuleKind) -> (&'m VersionEnv, &'m VersionEnv) {
    match kind {
        RuleKind::Past => (&types.model.old, &types.model.new),
        RuleKind::Future => (&types.model.new, &types.model.old),
    }
}

fn kind_module(kind: RuleKind) -> proc_macro2::Ident {
    ident(kind.keyword())
}

/// `crate::calls::v2::Kv`: the delegates of a service of one version.
fn delegate_module(version: u64, service: &str) -> TokenStream {
    let (v, s) = (version_module(version), ident(service));
    quote!(crate::calls::#v::#s)
}

/// The `rule` of `kind` for `service.method`, if the spec has one.
pub(crate) fn find_rule<'m>(
    types: &Types<'m>,
    kind: RuleKind,
    service: &str,
    method: &str,
) -> Option<&'m Rule> {
    types
        .model
        .spec
        .rule_blocks()
        .filter(|b| b.kind == kind && b.service.name == service)
        .flat_map(|b| &b.rules)
        .find(|r| r.method.name == method)
}

/// `mod calls`: a typed function per method of every service of both versions.
pub(crate) fn delegates(types: &Types<'_>) -> Result<TokenStream, CodegenError> {
    let mut versions = Vec::new();
    for env in [&types.model.old, &types.model.new] {
        let mut services = Vec::new();
        for service in env.services.values() {
            let mut fns = Vec::new();
            for m in &service.methods {
                fns.push(delegate_fn(types, env.number, service, m)?);
            }
            let s = ident(&service.name.name);
            services.push(quote! {
                pub mod #s {
                    use ::upstart_abi::rt;
                    #(#fns)*
                }
            });
        }
        let v = version_module(env.number);
        let doc = format!(" `call`s that reach version {}.", env.number);
        versions.push(quote! {
            #[doc = #doc]
            pub mod #v { #(#services)* }
        });
    }
    Ok(quote! {
        /// Delegate calls: the node's own object, reached through the host.
        pub mod calls { #(#versions)* }
    })
}

fn delegate_fn(
    types: &Types<'_>,
    version: u64,
    service: &ServiceDef,
    m: &MethodDef,
) -> Result<TokenStream, CodegenError> {
    let name = ident(&m.name.name);
    let host = internal("host");
    let ret = types.rust(&m.ret)?;
    let mut params = Vec::new();
    let mut names = Vec::new();
    for (i, p) in m.params.iter().enumerate() {
        let a = internal(&format!("a{i}"));
        let t = types.rust(&p.ty)?;
        params.push(quote!(#a: #t));
        names.push(a);
    }
    // The arguments serialize straight into a JSON array: a tuple of references (serde
    // implements tuples up to 16), or values one by one beyond that.
    let args = match names.len() {
        0 => quote!(&rt::NoArgs),
        1..=16 => quote!(&(#(&#names,)*)),
        _ => quote!(&[#(rt::json(&#names)?),*]),
    };
    let method = &m.name.name;
    let doc = format!(
        " `call {method}(...)` on `{}` of version {version}.",
        service.name.name
    );
    let body = if m.ret == Ty::Unit {
        quote!(rt::call_unit(&#host, #method, #args))
    } else {
        quote!(rt::call(&#host, #method, #args))
    };
    Ok(quote! {
        #[doc = #doc]
        pub fn #name(#host: ::upstart_abi::guest::Host, #(#params),*) -> rt::RuleResult<#ret> {
            #body
        }
    })
}

/// `mod past` and `mod future`: a typed function per rule.
pub(crate) fn rule_modules(types: &Types<'_>) -> Result<TokenStream, CodegenError> {
    let mut out = Vec::new();
    for kind in [RuleKind::Past, RuleKind::Future] {
        let (simulated, reachable) = sides(types, kind);
        let mut services = Vec::new();
        for service in simulated.services.values() {
            let sname = &service.name.name;
            let delegate = delegate_module(reachable.number, sname);
            let mut fns = Vec::new();
            for m in &service.methods {
                let Some(rule) = find_rule(types, kind, sname, &m.name.name) else {
                    continue;
                };
                let g = ExprGen::new(types, Some(delegate.clone()));
                let names: Vec<&str> = rule.params.iter().map(|p| p.name.as_str()).collect();
                let body = g.bound(&names, &rule.body, || g.owned(&rule.body))?;
                let ret = types.rust(&m.ret)?;
                let mut params = Vec::new();
                for (i, p) in rule.params.iter().enumerate() {
                    let pty = m.params.get(i).ok_or_else(|| {
                        CodegenError::Internal(format!(
                            "rule `{}` has too many parameters",
                            m.name.name
                        ))
                    })?;
                    let (id, t) = (ident(&p.name), types.rust(&pty.ty)?);
                    params.push(quote!(#id: #t));
                }
                let name = ident(&m.name.name);
                let host = internal("host");
                let doc = format!(
                    " `{} {sname}.{}`: answers version {} callers on version {} nodes.",
                    kind.keyword(),
                    m.name.name,
                    simulated.number,
                    reachable.number
                );
                fns.push(quote! {
                    #[doc = #doc]
                    pub fn #name(#host: ::upstart_abi::guest::Host, #(#params),*) -> rt::RuleResult<#ret> {
                        ::std::result::Result::Ok(#body)
                    }
                });
            }
            if fns.is_empty() {
                continue;
            }
            let s = ident(sname);
            services.push(quote! {
                pub mod #s {
                    use ::upstart_abi::rt;
                    #(#fns)*
                }
            });
        }
        let k = kind_module(kind);
        let doc = match kind {
            RuleKind::Past => format!(
                " Past rules: run on version {} nodes and answer version {} callers.",
                reachable.number, simulated.number
            ),
            RuleKind::Future => format!(
                " Future rules: run on version {} nodes and answer version {} callers.",
                reachable.number, simulated.number
            ),
        };
        out.push(quote! {
            #[doc = #doc]
            pub mod #k { #(#services)* }
        });
    }
    Ok(quote!(#(#out)*))
}

/// `mod dispatch`: (direction, service, method) to a rule or a pass-through.
pub(crate) fn dispatch(types: &Types<'_>) -> Result<TokenStream, CodegenError> {
    let host = internal("host");
    let args_bytes = internal("args");
    let mut arms = Vec::new();
    let mut fallbacks = Vec::new();
    for kind in [RuleKind::Past, RuleKind::Future] {
        let (simulated, reachable) = sides(types, kind);
        let dir = match kind {
            RuleKind::Past => upstart_abi::Direction::Past as u32,
            RuleKind::Future => upstart_abi::Direction::Future as u32,
        };
        let dir = proc_macro2::Literal::u32_unsuffixed(dir);
        for service in simulated.services.values() {
            let sname = &service.name.name;
            for m in &service.methods {
                let mname = &m.name.name;
                let target = match find_rule(types, kind, sname, mname) {
                    Some(_) => {
                        let (k, s, f) = (kind_module(kind), ident(sname), ident(mname));
                        quote!(crate::#k::#s::#f)
                    }
                    None => {
                        // The same method of the other version, under its name there (a
                        // renamed method is called by the name its version knows).
                        let counterpart = types.model.counterpart(simulated.number, sname, mname);
                        match counterpart {
                            Some(c) if types.model.method_unchanged(sname, mname) => {
                                let d = delegate_module(reachable.number, sname);
                                let f = ident(&c.name.name);
                                quote!(#d::#f)
                            }
                            // The checker proves every changed method has a rule.
                            _ => {
                                return Err(CodegenError::Internal(format!(
                                    "`{sname}.{mname}` has no {} rule",
                                    kind.keyword()
                                )))
                            }
                        }
                    }
                };
                let full = format!("{sname}.{mname}");
                let names: Vec<&str> = m.params.iter().map(|p| p.name.name.as_str()).collect();
                let it = internal("it");
                let mut decoded = Vec::new();
                let mut passed = Vec::new();
                let mut tys = Vec::new();
                for (i, p) in m.params.iter().enumerate() {
                    let a = internal(&format!("a{i}"));
                    let t = types.rust(&p.ty)?;
                    let pname = &p.name.name;
                    decoded.push(quote!(rt::arg(#it.next(), #full, #pname)?));
                    passed.push(a);
                    tys.push(t);
                }
                // One pass over the arguments as a tuple; when that fails, one by one, to say
                // which argument is wrong.
                let precise = quote! {{
                    let mut #it = rt::args(#args_bytes, #full, &[#(#names),*])?.into_iter();
                    (#(#decoded,)*)
                }};
                let decode = if (1..=16).contains(&tys.len()) {
                    quote! {
                        let (#(#passed,)*): (#(#tys,)*) = match rt::fast_args(#args_bytes) {
                            ::std::option::Option::Some(args) => args,
                            ::std::option::Option::None => #precise,
                        };
                    }
                } else {
                    quote!(let (#(#passed,)*): (#(#tys,)*) = #precise;)
                };
                // A call passed through under renamed fields converts its arguments on the way
                // and its answer on the way back.
                let pass = types
                    .model
                    .pass_conversions
                    .get(&(simulated.number, sname.clone(), mname.clone()))
                    .filter(|_| find_rule(types, kind, sname, mname).is_none());
                let call = match pass {
                    Some(p) => {
                        let args = passed
                            .iter()
                            .zip(&p.args)
                            .map(|(a, c)| super::convert::apply(c, quote!(#a)));
                        let answer =
                            super::convert::apply(&p.ret, quote!(#target(#host, #(#args),*)?));
                        quote!(#answer)
                    }
                    None => quote!(#target(#host, #(#passed),*)?),
                };
                arms.push(quote! {
                    (#dir, #sname, #mname) => {
                        #decode
                        rt::encode(&#call)
                    }
                });
            }
        }
        let v = simulated.number;
        let who = match kind {
            RuleKind::Past => "past",
            RuleKind::Future => "future",
        };
        fallbacks.push(quote! {
            (#dir, service, method) => ::std::result::Result::Err(rt::RuleError::BadInput(::std::format!(
                "version {} has no method `{}.{}` to simulate with a {} rule", #v, service, method, #who
            )))
        });
    }
    Ok(quote! {
        /// Runs the rule for a call from the other version.
        pub mod dispatch {
            use ::upstart_abi::rt;

            /// `direction` is 0 for past rules, 1 for future rules; `args` a JSON array.
            pub fn simulate(
                direction: u32,
                service: &str,
                method: &str,
                #args_bytes: &[u8],
                #host: ::upstart_abi::guest::Host,
            ) -> rt::RuleResult<::std::vec::Vec<u8>> {
                match (direction, service, method) {
                    #(#arms)*
                    #(#fallbacks,)*
                    (d, _, _) => ::std::result::Result::Err(rt::RuleError::BadInput(::std::format!(
                        "unknown direction {}: 0 is past, 1 is future", d
                    ))),
                }
            }
        }
    })
}
