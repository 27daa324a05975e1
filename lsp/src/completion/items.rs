//! Building completion items: one item, a list of keywords, and the type names of a version.

use compiler::model::VersionEnv;
use lsp_types::{CompletionItem, CompletionItemKind};

pub(super) fn item(
    label: &str,
    kind: CompletionItemKind,
    detail: Option<String>,
) -> CompletionItem {
    CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        detail,
        ..CompletionItem::default()
    }
}

pub(super) fn keywords<'a>(words: impl Iterator<Item = &'a &'a str>) -> Vec<CompletionItem> {
    words
        .map(|w| item(w, CompletionItemKind::KEYWORD, None))
        .collect()
}

pub(super) fn type_names(env: Option<&VersionEnv>, qualify: Option<u64>) -> Vec<CompletionItem> {
    let Some(env) = env else { return Vec::new() };
    let name = |n: &str| match qualify {
        Some(v) => format!("v{v}::{n}"),
        None => n.to_string(),
    };
    let records = env.records.keys().map(|n| {
        item(
            &name(n),
            CompletionItemKind::STRUCT,
            Some(format!("record of version {}", env.number)),
        )
    });
    let enums = env.enums.keys().map(|n| {
        item(
            &name(n),
            CompletionItemKind::ENUM,
            Some(format!("enum of version {}", env.number)),
        )
    });
    records.chain(enums).collect()
}
