//! Go to definition: a type name goes to its record or enum in the version it means, a
//! variant to its enum's variant, a rule's method name to the method it simulates, `call m` to
//! the method of the version it reaches, a service to its declaration, a field to its
//! declaration, a variable to its binding. On a method's own declaration it goes to the rules
//! that answer it (or, when none does, to the other version's same method: of the same name,
//! or the one a `renamed from` pairs it with).

use super::analysis::Analysis;
use super::locate::{target_at, MethodSite, Owner, Target};
use lang::ast::RuleKind;
use lang::span::Span;

/// Where the name at byte `offset` is defined, as spans of the document.
pub fn definition(a: &Analysis, offset: usize) -> Vec<Span> {
    let Some(model) = a.model.as_ref() else {
        return Vec::new();
    };
    let Some(target) = target_at(model, offset) else {
        return Vec::new();
    };
    let one = |s: Option<Span>| s.into_iter().collect::<Vec<_>>();
    match &target {
        Target::Type { r, .. } => one(a.env(r.version).and_then(|e| {
            e.records
                .get(&r.name)
                .map(|d| d.name.span)
                .or_else(|| e.enums.get(&r.name).map(|d| d.name.span))
        })),
        Target::Variant { r, variant, .. } => one(a
            .env(r.version)
            .and_then(|e| e.enums.get(&r.name))
            .and_then(|e| e.variant(variant))
            .map(|v| v.name.span)),
        Target::Service { version, name, .. } => one(a
            .env(*version)
            .and_then(|e| e.services.get(name))
            .map(|s| s.name.span)),
        Target::Method {
            version,
            service,
            name,
            site: MethodSite::Decl,
            ..
        } => {
            // The rules that answer this method on nodes of the other version.
            let kind = if *version == model.old.number {
                RuleKind::Past
            } else {
                RuleKind::Future
            };
            let rules: Vec<Span> = model
                .spec
                .rule_blocks()
                .filter(|b| b.kind == kind && b.service.name == *service)
                .flat_map(|b| b.rules.iter())
                .filter(|r| r.method.name == *name)
                .map(|r| r.method.span)
                .collect();
            if !rules.is_empty() {
                return rules;
            }
            // The same method in the other version: of the same name, or the one a
            // `renamed from` pairs it with.
            one(model
                .counterpart(*version, service, name)
                .map(|m| m.name.span))
        }
        Target::Method {
            version,
            service,
            name,
            ..
        } => one(a
            .env(*version)
            .and_then(|e| e.method(service, name))
            .map(|m| m.name.span)),
        Target::Field {
            owner: Owner::Record(r),
            name,
            ..
        } => one(a
            .env(r.version)
            .and_then(|e| e.records.get(&r.name))
            .and_then(|d| d.field(name))
            .map(|f| f.name.span)),
        Target::Field {
            owner: Owner::State(v),
            name,
            ..
        } => one(a
            .env(*v)
            .and_then(|e| e.state.as_ref())
            .and_then(|s| s.field(name))
            .map(|f| f.name.span)),
        Target::Var { binding, .. } => one(*binding),
        // A helper function's call goes to its definition; a built-in has none.
        Target::Builtin { name, .. } => one(a
            .model
            .as_ref()
            .and_then(|m| m.functions.get(name))
            .map(|f| f.name.span)),
        Target::Binding { .. }
        | Target::Expr { .. }
        | Target::Allow { .. }
        | Target::Differs { .. } => Vec::new(),
    }
}
