//! Completion inside an `invariant` or a `transform`: the new state's fields still to assign at
//! the start of a transform element, the state's fields after `old.`/`new.`, and the names the
//! header binds.

use super::context::Context;
use super::expression::{builtins, expression_completions};
use super::items::item;
use super::Request;
use crate::hover::ty_text;
use lang::lex::{Token, TokenKind};
use lsp_types::{CompletionItem, CompletionItemKind};

pub(super) fn state_item_completions(
    at: Request<'_>,
    cx: &Context<'_>,
    keyword: &str,
    before: &[&Token],
) -> Vec<CompletionItem> {
    let a = at.analysis;
    let Some(model) = a.model.as_ref() else {
        return Vec::new();
    };
    let text = a.text.as_str();
    // The names bound in the header: `invariant (old, new)`, `transform (old) -> new`.
    let header: Vec<&str> = before
        .iter()
        .take_while(|t| t.text(text) != "{")
        .filter(|t| t.kind == TokenKind::Word)
        .skip(1)
        .map(|t| t.text(text))
        .collect();
    // `transform (new) -> old`: reads the new state and assigns the old one.
    let reverse = keyword == "transform"
        && matches!(header.as_slice(), [p, r, ..] if lang::ast::Transform::is_reverse_header(p, r));
    let (read, given) = if reverse {
        (&model.new, &model.old)
    } else {
        (&model.old, &model.new)
    };
    if keyword == "transform" && cx.depth == 1 && cx.at_element_start() {
        let assigned: Vec<&str> = model
            .spec
            .all_transforms()
            .filter(|t| t.reverse == reverse)
            .flat_map(|t| t.fields.iter())
            .map(|f| f.name.name.as_str())
            .collect();
        return given
            .state
            .iter()
            .flat_map(|s| s.fields.iter())
            .filter(|f| !assigned.contains(&f.name.name.as_str()))
            .map(|f| {
                let mut it = item(
                    &f.name.name,
                    CompletionItemKind::FIELD,
                    Some(ty_text(&f.ty, given.number)),
                );
                it.insert_text = Some(format!("{}: ", f.name.name));
                it
            })
            .collect();
    }
    if cx.prev == Some(".") {
        // `old.` / `new.`: the state's fields.
        let receiver = cx.prev2.unwrap_or("");
        let version = match (keyword, header.as_slice()) {
            ("invariant", [o, n, ..]) if receiver == *o || receiver == *n => {
                Some(if receiver == *o {
                    model.old.number
                } else {
                    model.new.number
                })
            }
            ("transform", [o, ..]) if receiver == *o => Some(read.number),
            _ => None,
        };
        if let Some(v) = version {
            let env = if v == model.old.number {
                &model.old
            } else {
                &model.new
            };
            let mut out: Vec<CompletionItem> = env
                .state
                .iter()
                .flat_map(|s| s.fields.iter())
                .map(|f| {
                    item(
                        &f.name.name,
                        CompletionItemKind::FIELD,
                        Some(ty_text(&f.ty, v)),
                    )
                })
                .collect();
            out.extend(builtins(CompletionItemKind::METHOD));
            return out;
        }
    }
    let mut out = expression_completions(at, cx);
    if cx.prev != Some(".") && cx.prev != Some("::") {
        let bound = if keyword == "invariant" {
            header.len().min(2)
        } else {
            header.len().min(1)
        };
        for (i, name) in header.iter().take(bound).enumerate() {
            let v = if i == 0 {
                model.old.number
            } else {
                model.new.number
            };
            out.push(item(
                name,
                CompletionItemKind::VARIABLE,
                Some(format!("state of version {v}")),
            ));
        }
    }
    out
}
