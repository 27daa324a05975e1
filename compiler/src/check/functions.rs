//! Top-level helper functions, `fn name(params) -> T = body`: their signatures, their bodies,
//! and the calls to them (typed in `builtins`, like a built-in's).
//!
//! A helper's types are written outside any version: an unqualified record or enum name means
//! the version that declares it (the one type of both when it did not change); a name that
//! changed between the versions must be qualified (`v1::Item`). A body is checked like a
//! transform's expressions: it cannot `call` the node nor `disallow`. Recursion is refused
//! (U0044), directly or through other helpers, so every call ends without a depth limit of
//! its own.

use super::declare::{Resolver, TypeNames};
use super::expr::ExprChecker;
use super::types::Types;
use super::{Cx, Seen};
use crate::builtins::lookup;
use crate::model::{FieldDef, FunctionDef, SpecModel, Ty};
use lang::ast::{Function, Ident, TypeExpr, TypeExprKind};
use lang::diagnostic::codes;
use lang::span::Span;
use std::collections::{BTreeMap, BTreeSet};

/// The signatures of the spec's helper functions, by name. A name taken by a built-in or by
/// an earlier helper is reported (U0045) and left out.
pub(crate) fn signatures(cx: &mut Cx, model: &SpecModel) -> BTreeMap<String, FunctionDef> {
    let mut names = TypeNames {
        by_version: BTreeMap::new(),
        enums: BTreeMap::new(),
    };
    for env in [&model.old, &model.new] {
        let types = env.records.keys().chain(env.enums.keys()).cloned();
        names.by_version.insert(env.number, types.collect());
        names
            .enums
            .insert(env.number, env.enums.keys().cloned().collect());
    }
    let wanted = [model.old.number, model.new.number];
    let resolver = Resolver {
        version: model.new.number,
        names: &names,
        wanted: &wanted,
    };
    let mut out: BTreeMap<String, FunctionDef> = BTreeMap::new();
    for f in model.spec.functions() {
        let name = &f.name.name;
        if lookup(name).is_some() {
            cx.report(
                codes::FUNCTION_NAME_TAKEN,
                f.name.span,
                format!("`{name}` is a built-in function"),
                |d| {
                    d.label("a helper cannot take a built-in's name")
                        .help(format!("rename the helper, for example to `my_{name}`"))
                },
            );
            continue;
        }
        if let Some(first) = out.get(name) {
            let first = first.name.span;
            cx.duplicate(codes::FUNCTION_NAME_TAKEN, "function", &f.name, first);
            continue;
        }
        let mut params: Vec<FieldDef> = Vec::new();
        let mut seen = Seen::default();
        for p in &f.params {
            if !seen.fresh(cx, codes::DUPLICATE_FIELD, "parameter", &p.name) {
                continue;
            }
            let written = qualify(cx, model, &p.ty);
            let ty = resolver.ty(cx, &written);
            params.push(FieldDef {
                name: p.name.clone(),
                ty,
                changed: None,
                renamed_from: None,
            });
        }
        let written = qualify(cx, model, &f.ret);
        let ret = resolver.ty(cx, &written);
        out.insert(
            name.clone(),
            FunctionDef {
                name: f.name.clone(),
                params,
                ret,
            },
        );
    }
    out
}

/// `t` with every unqualified record or enum name qualified by the version it means.
fn qualify(cx: &mut Cx, model: &SpecModel, t: &TypeExpr) -> TypeExpr {
    let kind = match &t.kind {
        TypeExprKind::Tuple(items) => {
            TypeExprKind::Tuple(items.iter().map(|i| qualify(cx, model, i)).collect())
        }
        TypeExprKind::Named { path, args } => {
            let args = args.iter().map(|a| qualify(cx, model, a)).collect();
            let path = match path.as_slice() {
                [name] if !Ty::BUILTIN_NAMES.contains(&name.name.as_str()) => {
                    match version_of(cx, model, name) {
                        Some(v) => vec![
                            Ident {
                                name: format!("v{v}"),
                                span: name.span,
                            },
                            name.clone(),
                        ],
                        None => path.clone(),
                    }
                }
                _ => path.clone(),
            };
            TypeExprKind::Named { path, args }
        }
    };
    TypeExpr { kind, span: t.span }
}

/// The version an unqualified type name in a helper means; `None` when neither declares it
/// (the resolver then reports it unknown).
fn version_of(cx: &mut Cx, model: &SpecModel, name: &Ident) -> Option<u64> {
    let (old, new) = (model.old.number, model.new.number);
    let n = &name.name;
    match (model.old.defines_type(n), model.new.defines_type(n)) {
        (true, true) if model.unchanged_types.contains(n) => Some(new),
        (true, true) => {
            cx.report(
                codes::AMBIGUOUS_NAME,
                name.span,
                format!("`{n}` means different types in versions {old} and {new}"),
                |d| {
                    d.label("which version's?")
                        .note(format!(
                            "`{n}` changed between the versions, and a helper function belongs to neither"
                        ))
                        .help(format!("qualify it: `v{old}::{n}` or `v{new}::{n}`"))
                },
            );
            Some(new)
        }
        (true, false) => Some(old),
        (false, true) => Some(new),
        (false, false) => None,
    }
}

/// Checks every helper's body against its return type, then refuses recursion.
pub(crate) fn check_bodies(cx: &mut Cx, model: &SpecModel) {
    let mut calls: BTreeMap<&str, Vec<(String, Span)>> = BTreeMap::new();
    for f in model.spec.functions() {
        let Some(def) = model.functions.get(&f.name.name) else {
            continue;
        };
        if def.name.span != f.name.span {
            continue; // a second definition, already reported
        }
        let mut ec = ExprChecker::new(cx, Types::new(model), model.new.number, "a function");
        for p in &def.params {
            ec.bind(&p.name, p.ty.clone());
        }
        ec.check(&f.body, &def.ret);
        calls.insert(&def.name.name, std::mem::take(&mut ec.function_calls));
    }
    for f in model.spec.functions() {
        if let Some(path) = cycle_from(&f.name.name, &calls) {
            report_recursion(cx, f, &path);
        }
    }
}

/// A call path from `start` back to itself, if there is one: the call sites along it, the
/// first of them in `start`'s body.
fn cycle_from<'a>(
    start: &str,
    calls: &'a BTreeMap<&str, Vec<(String, Span)>>,
) -> Option<Vec<&'a (String, Span)>> {
    // Depth-first over the call graph, each function entered once.
    let mut seen = BTreeSet::new();
    let mut stack: Vec<Vec<&(String, Span)>> = calls.get(start)?.iter().map(|c| vec![c]).collect();
    while let Some(path) = stack.pop() {
        let last = path.last()?;
        if last.0 == start {
            return Some(path);
        }
        if !seen.insert(last.0.as_str()) {
            continue;
        }
        for next in calls.get(last.0.as_str()).into_iter().flatten() {
            let mut longer = path.clone();
            longer.push(next);
            stack.push(longer);
        }
    }
    None
}

fn report_recursion(cx: &mut Cx, f: &Function, path: &[&(String, Span)]) {
    let name = &f.name.name;
    let Some(first) = path.first() else {
        return;
    };
    let through: Vec<String> = path
        .iter()
        .take(path.len().saturating_sub(1))
        .map(|(n, _)| format!("`{n}`"))
        .collect();
    let message = if through.is_empty() {
        format!("function `{name}` calls itself")
    } else {
        format!(
            "function `{name}` calls itself through {}",
            through.join(", ")
        )
    };
    cx.report(codes::RECURSIVE_FUNCTION, first.1, message, |d| {
        d.label("this call leads back")
            .also(f.name.span, "the function")
            .note("helper functions may not recurse, so every evaluation ends")
            .help("compute with the built-ins over collections instead (`map`, `filter`, `sum`, `all`, ...)")
    });
}
