//! Parsing: text to [`ast::Spec`](crate::ast::Spec) plus diagnostics.
//!
//! The file is first cut into top-level items (at keywords outside brackets, strings and
//! comments); each item is parsed on its own, so one broken item does not hide the errors of
//! the others. pest types stay inside this module.

mod build;
mod chunk;
mod depth;
mod errors;

use crate::ast::{Item, Spec};
use crate::diagnostic::Diagnostic;
use crate::span::FileId;
use pest::Parser;

#[derive(pest_derive::Parser)]
#[grammar = "parse/grammar.pest"]
struct UpsParser;

/// The outcome of parsing one file: the spec when its header parsed, and every diagnostic.
#[derive(Debug)]
pub struct Parsed {
    pub spec: Option<Spec>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses one spec file. Never panics; every problem is a diagnostic.
pub fn parse(file: FileId, text: &str) -> Parsed {
    let mut diagnostics = Vec::new();
    let mut header = None;
    let mut items = Vec::new();
    let chunks = chunk::split(text);
    let saw_header = chunks.iter().any(|c| c.is_header);
    for chunk in chunks {
        let Some(chunk_text) = text.get(chunk.start..chunk.end) else {
            continue;
        };
        if let Some(at) = chunk.too_deep_at {
            diagnostics.push(errors::too_deep(file, at, "brackets"));
            continue;
        }
        let entry = if chunk.is_header {
            Rule::header_only
        } else {
            Rule::item_only
        };
        let pairs = match parse_rule(entry, chunk_text) {
            Ok(pairs) => pairs,
            Err(error) => {
                diagnostics.push(errors::to_diagnostic(file, chunk.start, chunk_text, &error));
                continue;
            }
        };
        let mut builder = build::Builder::new(file, chunk.start);
        for pair in pairs.flatten().take(1) {
            // `header_only` / `item_only` wrap exactly one meaningful child.
            let inner = pair.into_inner().find(|p| p.as_rule() != Rule::EOI);
            if let Some(inner) = inner {
                if chunk.is_header {
                    header = Some(builder.header(inner));
                } else if let Some(item) = builder.item(inner) {
                    if let Some(at) = builder.too_deep_at() {
                        diagnostics.push(errors::too_deep(file, at, "expressions or types"));
                        depth::dismantle(item);
                    } else if let Some(refused) = depth::too_deep(&item) {
                        diagnostics.push(match refused {
                            depth::TooDeep::Nesting(span) => {
                                errors::too_deep(file, span.start, "operators")
                            }
                            depth::TooDeep::Height(span) => errors::too_long(file, span.start),
                        });
                        depth::dismantle(item);
                    } else {
                        items.push(item);
                    }
                }
            }
        }
        diagnostics.extend(builder.finish());
    }
    let spec = header.map(|(name, from, to, header_span)| {
        let mut spec = Spec {
            name,
            from,
            to,
            header_span,
            items,
        };
        crate::spans::number_exprs(&mut spec);
        spec
    });
    if !saw_header {
        diagnostics.push(errors::missing_header(file, text));
    }
    Parsed { spec, diagnostics }
}

/// Held while pest's error detail is switched on. The switch is one process-wide flag: without
/// this, a thread finishing its detailed parse could switch detail off under another thread's,
/// whose message then lost its expected tokens (the language server and tests parse on many
/// threads).
static ERROR_DETAIL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Parses with pest; on failure parses again with error detail switched on, so the message can
/// list the expected tokens (detail costs time, so the fast path runs without it). Detailed
/// parses take turns; a fast-path parse on another thread meanwhile only runs slower.
fn parse_rule(
    entry: Rule,
    text: &str,
) -> Result<pest::iterators::Pairs<'_, Rule>, Box<pest::error::Error<Rule>>> {
    match UpsParser::parse(entry, text) {
        Ok(pairs) => Ok(pairs),
        Err(_) => {
            let _turn = ERROR_DETAIL
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            pest::set_error_detail(true);
            let detailed = UpsParser::parse(entry, text);
            pest::set_error_detail(false);
            detailed.map_err(Box::new)
        }
    }
}

pub use chunk::ITEM_KEYWORDS;

/// A byte range of a file holding one top-level item, or the header, as the parser cuts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub start: usize,
    pub end: usize,
    pub is_header: bool,
}

/// Cuts `text` into top-level items exactly as [`parse`] does (at item keywords at bracket
/// depth zero, outside strings and comments), for tools that re-parse one item at a time.
pub fn regions(text: &str) -> Vec<Region> {
    chunk::split(text)
        .into_iter()
        .map(|c| Region {
            start: c.start,
            end: c.end,
            is_header: c.is_header,
        })
        .collect()
}

/// Items in source order; convenience for tests and tools.
pub fn items_of(spec: &Spec) -> &[Item] {
    &spec.items
}
