//! Completion inside a version block: type names after `:`, `->`, `<` and in tuple types
//! (also of declarations that do not parse yet), declaration keywords, and `fn`/`changed` in a
//! service.

use super::context::Context;
use super::items::{item, keywords, type_names};
use crate::analysis::Analysis;
use lang::lex::{tokens, Token, TokenKind};
use lsp_types::{CompletionItem, CompletionItemKind};

const DECL_KEYWORDS: &[&str] = &["record", "enum", "service", "state"];
const BUILTIN_TYPES: &[&str] = &[
    "bool", "i64", "u64", "f64", "string", "bytes", "unit", "option", "list", "set", "map",
];

pub(super) fn version_completions(
    a: &Analysis,
    cx: &Context<'_>,
    v: u64,
    region_text: &str,
) -> Vec<CompletionItem> {
    let in_type = matches!(cx.prev, Some(":" | "->" | "<"))
        || (cx.prev == Some(",")
            && (is_angle_open(region_text, cx)
                || matches!(cx.top(), Some(("(", Some(":" | "->" | "<" | ","), _)))))
        || (cx.prev == Some("(") && matches!(cx.prev2, Some(":" | "->" | "<" | ",")));
    if in_type {
        let mut out: Vec<CompletionItem> = BUILTIN_TYPES
            .iter()
            .map(|t| {
                item(
                    t,
                    CompletionItemKind::TYPE_PARAMETER,
                    Some("built-in type".to_string()),
                )
            })
            .collect();
        let mut local = type_names(a.env(v), None);
        // Declarations of this version that do not parse yet are still worth offering.
        for (kw, name) in declared_types(region_text) {
            if !local.iter().any(|i| i.label == name) {
                let kind = if kw == "record" {
                    CompletionItemKind::STRUCT
                } else {
                    CompletionItemKind::ENUM
                };
                local.push(item(&name, kind, Some(format!("{kw} of version {v}"))));
            }
        }
        out.extend(local);
        return out;
    }
    match cx.top() {
        Some(("{", Some(n), Some("version")))
            if n.parse::<u64>().is_ok() && cx.at_element_start() =>
        {
            let mut out = keywords(DECL_KEYWORDS.iter());
            out.push(item(
                "where",
                CompletionItemKind::KEYWORD,
                Some("after `state { ... }`: the clauses a well-formed state satisfies".into()),
            ));
            out
        }
        Some(("{", Some(_), Some("service"))) if cx.at_element_start() => {
            keywords(["fn", "changed"].iter())
        }
        _ => Vec::new(),
    }
}

/// Whether the innermost unclosed `<` is after the innermost open bracket (a type argument).
fn is_angle_open(region_text: &str, _cx: &Context<'_>) -> bool {
    let mut depth = 0i64;
    for t in tokens(region_text).iter().filter(|t| !t.is_comment()) {
        match t.text(region_text) {
            "<" => depth += 1,
            ">" => depth -= 1,
            "{" | "}" | ";" => depth = 0,
            _ => {}
        }
    }
    depth > 0
}

/// `record X` and `enum X` written in a region, parsed or not.
fn declared_types(region_text: &str) -> Vec<(String, String)> {
    let toks: Vec<Token> = tokens(region_text)
        .into_iter()
        .filter(|t| !t.is_comment())
        .collect();
    toks.windows(2)
        .filter_map(|w| {
            let (a, b) = (w.first()?, w.get(1)?);
            let kw = a.text(region_text);
            (matches!(kw, "record" | "enum") && b.kind == TokenKind::Word)
                .then(|| (kw.to_string(), b.text(region_text).to_string()))
        })
        .collect()
}
