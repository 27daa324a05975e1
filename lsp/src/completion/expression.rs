//! Completion in an expression: built-ins, helper functions, keywords and type names; after
//! `.`, built-ins in method form and the receiver's fields; after `E::`, the enum's variants.

use super::context::Context;
use super::items::{item, keywords, type_names};
use super::{word_start, Request};
use crate::analysis::Analysis;
use crate::hover::ty_text;
use compiler::builtins::BUILTINS;
use compiler::model::Ty;
use lang::ast::{Expr, Item};
use lsp_types::{CompletionItem, CompletionItemKind};

const EXPR_KEYWORDS: &[&str] = &[
    "call", "disallow", "if", "else", "match", "let", "forall", "exists", "none", "true", "false",
];

/// The spec's helper functions, with their signatures.
fn helper_functions(a: &Analysis, kind: CompletionItemKind) -> Vec<CompletionItem> {
    let Some(model) = a.model.as_ref() else {
        return Vec::new();
    };
    model
        .functions
        .values()
        .map(|f| {
            let params: Vec<String> = f
                .params
                .iter()
                .map(|p| format!("{}: {}", p.name.name, ty_text(&p.ty, model.new.number)))
                .collect();
            let sig = format!(
                "fn {}({}) -> {}",
                f.name.name,
                params.join(", "),
                ty_text(&f.ret, model.new.number)
            );
            item(&f.name.name, kind, Some(sig))
        })
        .collect()
}

/// Every built-in, as a method (after `.`) or a function.
pub(super) fn builtins(kind: CompletionItemKind) -> Vec<CompletionItem> {
    BUILTINS
        .iter()
        .map(|b| {
            let mut it = item(b.name, kind, Some(b.signature.to_string()));
            it.documentation = Some(lsp_types::Documentation::String(b.doc.to_string()));
            it
        })
        .collect()
}

/// In an expression: after `.`, built-ins as methods and the receiver's fields; after `E::`,
/// variants (or a version's types after `v2::`); else built-ins, keywords and type names.
pub(super) fn expression_completions(at: Request<'_>, cx: &Context<'_>) -> Vec<CompletionItem> {
    let a = at.analysis;
    let Some(model) = a.model.as_ref() else {
        return Vec::new();
    };
    match cx.prev {
        Some(".") => {
            let mut out = receiver_fields(at);
            out.extend(builtins(CompletionItemKind::METHOD));
            out.extend(helper_functions(a, CompletionItemKind::METHOD));
            out
        }
        Some("::") => {
            let qualifier = cx.prev2.unwrap_or("");
            if let Some(v) = crate::locate::version_prefix(qualifier) {
                return type_names(a.env(v), None);
            }
            [&model.new, &model.old]
                .into_iter()
                .filter_map(|env| env.enums.get(qualifier).map(|e| (env.number, e)))
                .take(1)
                .flat_map(|(v, e)| {
                    e.variants.iter().map(move |var| {
                        let detail = var.payload.as_ref().map(|t| format!("({})", ty_text(t, v)));
                        item(&var.name.name, CompletionItemKind::ENUM_MEMBER, detail)
                    })
                })
                .collect()
        }
        _ => {
            let mut out = builtins(CompletionItemKind::FUNCTION);
            out.extend(helper_functions(a, CompletionItemKind::FUNCTION));
            out.extend(keywords(EXPR_KEYWORDS.iter()));
            for env in [&model.old, &model.new] {
                let other = if env.number == model.old.number {
                    &model.new
                } else {
                    &model.old
                };
                let clash = |n: &str| other.defines_type(n);
                for it in type_names(Some(env), None) {
                    if clash(&it.label) {
                        // A name both versions declare is written qualified.
                        out.extend(
                            type_names(Some(env), Some(env.number))
                                .into_iter()
                                .filter(|q| q.label.ends_with(&format!("::{}", it.label))),
                        );
                    } else {
                        out.push(it);
                    }
                }
            }
            out
        }
    }
}

/// The fields of the expression just before the `.` at the cursor, from this analysis or,
/// when the text there does not parse any more, from an earlier one that agrees up to it.
fn receiver_fields(at: Request<'_>) -> Vec<CompletionItem> {
    let text = at.analysis.text.as_bytes();
    let dot = word_start(&at.analysis.text, at.offset).saturating_sub(1);
    for candidate in [Some(at.analysis), at.previous].into_iter().flatten() {
        let agrees = candidate.text.as_bytes().get(..dot) == text.get(..dot);
        let Some(model) = candidate.model.as_ref().filter(|_| agrees) else {
            continue;
        };
        let mut found = None;
        for item in &model.spec.items {
            if item.span().start > dot || item.span().end < dot {
                continue;
            }
            // Outer expressions come first: the last one ending at the dot is the innermost.
            each_expr(item, &mut |e| {
                if e.span.end == dot {
                    found = Some(model.type_of(e).clone());
                }
            });
        }
        let fields: Vec<CompletionItem> = match found {
            Some(Ty::Named(r)) => {
                let env = [&model.old, &model.new]
                    .into_iter()
                    .find(|e| e.number == r.version);
                env.and_then(|e| e.records.get(&r.name))
                    .map(|rec| {
                        rec.fields
                            .iter()
                            .map(|f| {
                                item(
                                    &f.name.name,
                                    CompletionItemKind::FIELD,
                                    Some(ty_text(&f.ty, r.version)),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            }
            Some(Ty::State(v)) => {
                let env = [&model.old, &model.new].into_iter().find(|e| e.number == v);
                env.and_then(|e| e.state.as_ref())
                    .map(|s| {
                        s.fields
                            .iter()
                            .map(|f| {
                                item(
                                    &f.name.name,
                                    CompletionItemKind::FIELD,
                                    Some(ty_text(&f.ty, v)),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        };
        if !fields.is_empty() {
            return fields;
        }
    }
    Vec::new()
}

/// Every expression of an item.
fn each_expr<'a>(item: &'a Item, f: &mut dyn FnMut(&'a Expr)) {
    for e in item.root_exprs() {
        crate::locate::visit(e, f);
    }
}
