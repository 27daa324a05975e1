//! Completion. The text around the cursor rarely parses while one types, so the context is
//! read from tokens: which top-level item the cursor is in, the brackets open around it, and
//! the token before the word being typed. The checked model (of what parses) supplies the
//! names: types of a version, methods of a service, state fields, fields of a receiver.
//!
//! - in a version block, after `:`, `->`, `<` (and in tuple types): type names;
//! - at the start of a rule in a `past`/`future` block: the simulated service's methods, those
//!   still missing a rule first, inserted with their parameters (`put(key, value) = `);
//! - after `call`: the methods of the version `call` reaches;
//! - in a rule's `#[allow(...)]`: the names of the warnings; in `#[differs(...)]`: the
//!   record fields of the version the rules simulate;
//! - in a state's `where { ... }`: expressions, with `state`;
//! - in an expression: built-ins, variables in scope, keywords, record and enum names;
//! - after `.`: built-ins in method form, and the receiver's fields when its type is known;
//! - after `Enum::`: its variants; in a transform: the new state's fields; in a schedule: its
//!   settings and values; between items: item keywords.
//!
//! This module finds the item the cursor is in and hands over to the submodule for that kind
//! of item; `context` reads the tokens around the cursor, `items` builds the items.

mod context;
mod expression;
mod items;
mod rules;
mod schedule;
mod state_items;
mod version;

use self::context::Context;
use self::expression::expression_completions;
use self::items::{item, keywords};
use self::rules::{allow_completions, differs_completions, rule_completions};
use self::schedule::schedule_completions;
use self::state_items::state_item_completions;
use self::version::version_completions;
use crate::analysis::Analysis;
use crate::hover::ty_text;
use lang::ast::RuleKind;
use lang::incremental::regions;
use lang::lex::{tokens, Token, TokenKind};
use lang::parse::ITEM_KEYWORDS;
use lsp_types::{CompletionItem, CompletionItemKind};

/// Completions at byte `offset`. `previous` is an earlier analysis of the same document whose
/// text agreed up to the cursor's line, used for the types of receivers that no longer parse.
/// A declared name that is a keyword (a method `r#in`, a field `r#match`) is inserted with its
/// escape, as a spec writes it.
pub fn completion(a: &Analysis, previous: Option<&Analysis>, offset: usize) -> Vec<CompletionItem> {
    let at = Request {
        analysis: a,
        previous,
        offset: offset.min(a.text.len()),
    };
    let mut items = completion_items(at);
    for it in &mut items {
        let written = lang::ast::written_name(&it.label);
        if it.kind != Some(CompletionItemKind::KEYWORD)
            && it.insert_text.is_none()
            && written != it.label.as_str()
        {
            it.insert_text = Some(written.into_owned());
        }
    }
    items
}

/// What completion is asked at: the analysis, an earlier one of the same document (see
/// [`completion`]) and the cursor's byte offset, at most the text's length.
#[derive(Clone, Copy)]
struct Request<'a> {
    analysis: &'a Analysis,
    previous: Option<&'a Analysis>,
    offset: usize,
}

/// Where the word (letters, digits, `_`) that ends at byte `offset` of `text` starts:
/// `offset` itself when none does.
fn word_start(text: &str, offset: usize) -> usize {
    let bytes = text.as_bytes();
    let mut start = offset;
    while start > 0
        && bytes
            .get(start - 1)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
    {
        start -= 1;
    }
    start
}

fn completion_items(at: Request<'_>) -> Vec<CompletionItem> {
    let a = at.analysis;
    let text = a.text.as_str();
    let word_start = word_start(text, at.offset);
    let all = regions(text);
    let Some(region) = all.iter().rev().find(|r| r.start <= word_start) else {
        return keywords(ITEM_KEYWORDS.iter().chain(["upgrade"].iter()));
    };
    let region_text = text
        .get(region.start..region.end.max(word_start))
        .unwrap_or("");
    let toks: Vec<Token> = tokens(region_text)
        .into_iter()
        .map(|t| Token {
            start: t.start + region.start,
            end: t.end + region.start,
            ..t
        })
        .collect();
    // Inside a comment or a string: nothing.
    if toks.iter().any(|t| {
        matches!(
            t.kind,
            TokenKind::LineComment | TokenKind::BlockComment | TokenKind::Str
        ) && t.start < word_start
            && word_start < t.end
            || t.kind == TokenKind::LineComment && t.start < word_start && word_start <= t.end
    }) {
        return Vec::new();
    }
    let before: Vec<&Token> = toks
        .iter()
        .filter(|t| !t.is_comment() && t.end <= word_start)
        .collect();
    let tok = |t: &Token| t.text(text);
    let Some(first) = before.first() else {
        // Typing the item keyword itself.
        return keywords(ITEM_KEYWORDS.iter());
    };
    let cx = Context::new(text, &before, word_start);
    match tok(first) {
        "version" => {
            let v = before
                .get(1)
                .and_then(|t| tok(t).parse::<u64>().ok())
                .unwrap_or(0);
            // In a method model: after `.` (types have none), after `=` in a service, or
            // anywhere inside a model the checked text has.
            let model_of = model_at(a, v, word_start);
            // In a state's `where { ... }`: expressions over `state`.
            if cx.inside_block_of("where") {
                let mut out = expression_completions(at, &cx);
                if !matches!(cx.prev, Some("." | "::")) {
                    out.push(item(
                        compiler::model::STATE_VAR,
                        CompletionItemKind::VARIABLE,
                        Some(format!("the state of version {v}")),
                    ));
                }
                return out;
            }
            let in_model = cx.prev == Some(".")
                || (cx.prev == Some("=") && before.iter().any(|t| tok(t) == "fn"))
                || model_of.is_some();
            if in_model {
                let mut out = expression_completions(at, &cx);
                if let Some((method, has_state)) =
                    model_of.filter(|_| !matches!(cx.prev, Some("." | "::")))
                {
                    for p in &method.params {
                        out.push(item(
                            &p.name.name,
                            CompletionItemKind::VARIABLE,
                            Some(ty_text(&p.ty, v)),
                        ));
                    }
                    if has_state {
                        out.push(item(
                            compiler::model::STATE_VAR,
                            CompletionItemKind::VARIABLE,
                            Some(format!("the state of version {v}")),
                        ));
                    }
                }
                out
            } else {
                version_completions(a, &cx, v, region_text)
            }
        }
        "past" | "future" => {
            let kind = if tok(first) == "past" {
                RuleKind::Past
            } else {
                RuleKind::Future
            };
            let service = before.get(1).map(|t| tok(t)).unwrap_or("");
            if matches!(cx.top(), Some(("(", Some("allow"), Some("[")))) {
                allow_completions()
            } else if matches!(cx.top(), Some(("(", Some("differs"), Some("[")))) {
                differs_completions(a, kind)
            } else {
                rule_completions(at, &cx, kind, service)
            }
        }
        "invariant" | "transform" => state_item_completions(at, &cx, tok(first), &before),
        "schedule" => schedule_completions(&cx),
        "protocol" => match cx.prev {
            Some("protocol") => keywords(["jsonrpc"].iter()),
            Some("{" | ",") => keywords(["framing"].iter()),
            Some(":") => keywords(["lines", "length"].iter()),
            _ => Vec::new(),
        },
        _ => {
            if cx.depth == 0 {
                keywords(ITEM_KEYWORDS.iter())
            } else {
                Vec::new()
            }
        }
    }
}

/// The method of version `v` whose model holds byte `at`, and whether the version has a state.
fn model_at(a: &Analysis, v: u64, at: usize) -> Option<(&compiler::model::MethodDef, bool)> {
    let env = a.env(v)?;
    let method = env.services.values().flat_map(|s| &s.methods).find(|m| {
        m.model
            .as_ref()
            .is_some_and(|mm| mm.span.start <= at && at <= mm.span.end)
    })?;
    Some((method, env.state.is_some()))
}
