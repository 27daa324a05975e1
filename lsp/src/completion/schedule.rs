//! Completion inside a `schedule` block: its settings and their values.

use super::context::Context;
use super::items::keywords;
use lsp_types::CompletionItem;

const SCHEDULE_KEYS: &[&str] = &[
    "rolling",
    "all_at_once",
    "order",
    "healthy_for",
    "timeout",
    "canary",
    "window",
    "after",
];

pub(super) fn schedule_completions(cx: &Context<'_>) -> Vec<CompletionItem> {
    match (cx.prev, cx.prev2) {
        (Some(":"), Some("order")) => keywords(["node_id", "reverse_node_id", "random"].iter()),
        (Some("then"), _) => keywords(["pause", "continue"].iter()),
        _ if cx.at_element_start() => match cx.top() {
            Some(("{", Some("rolling"), _)) => keywords(["batch", "max_unavailable"].iter()),
            Some(("{", Some("schedule"), _)) => keywords(SCHEDULE_KEYS.iter()),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}
