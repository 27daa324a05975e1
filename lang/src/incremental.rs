//! Incremental parsing: a keystroke re-parses only the top-level item it touched.
//!
//! `lang::parse` already cuts a file into top-level items (at item keywords outside brackets,
//! strings and comments) and parses each on its own; the result for an item depends only on
//! its text and where it starts. So this cache cuts the file the same way, keeps the parse of
//! every item by its text (with spans relative to the item), and for a changed item parses its
//! header followed by the item alone, then moves the spans into place. The outcome equals
//! `lang::parse` of the whole text (tests compare them on every example spec and on random
//! edits); when the header does not parse, it falls back to parsing the whole text.
//!
//! The cutting is `lang::parse::regions`, the parser's own chunker.

use crate::ast::{Item, Spec};
use crate::diagnostic::Diagnostic;
use crate::span::{FileId, Span};
use crate::spans;
use crate::Parsed;
use std::collections::HashMap;
use std::sync::Arc;

pub use crate::parse::{regions, Region};

/// The parse of one item region, spans relative to the region's start.
#[derive(Debug)]
struct ItemParse {
    items: Vec<Item>,
    diagnostics: Vec<Diagnostic>,
}

/// The parse of the header region, spans relative to its start.
#[derive(Debug)]
struct HeaderParse {
    text: String,
    spec: Spec,
    diagnostics: Vec<Diagnostic>,
}

/// Parses a file again and again as it is edited, re-parsing only the items that changed.
#[derive(Debug, Default)]
pub struct IncrementalParser {
    header: Option<HeaderParse>,
    items: HashMap<String, Arc<ItemParse>>,
    /// How many item regions the last parse took from the cache (for tests and logs).
    pub last_reused: usize,
}

impl IncrementalParser {
    pub fn new() -> Self {
        IncrementalParser::default()
    }

    /// The same as `lang::parse(file, text)`.
    pub fn parse(&mut self, file: FileId, text: &str) -> Parsed {
        self.last_reused = 0;
        let regions = regions(text);
        let Some(header_region) = regions.first().filter(|r| r.is_header) else {
            return self.full(file, text);
        };
        let header_text = text
            .get(header_region.start..header_region.end)
            .unwrap_or("");
        if !matches!(&self.header, Some(h) if h.text == header_text) {
            let parsed = crate::parse(file, header_text);
            let Some(spec) = parsed.spec else {
                return self.full(file, text);
            };
            self.header = Some(HeaderParse {
                text: header_text.to_string(),
                spec,
                diagnostics: parsed.diagnostics,
            });
        }
        let Some(header) = &self.header else {
            return self.full(file, text);
        };
        let shift_header = header_region.start;
        let mut spec = header.spec.clone();
        spans::map_spec(&mut spec, &mut |s| s.shift(shift_header));
        let mut diagnostics: Vec<Diagnostic> = header
            .diagnostics
            .iter()
            .map(|d| shift_diagnostic(d, shift_header, 0))
            .collect();
        let mut cache = HashMap::with_capacity(regions.len());
        for region in regions.iter().skip(1) {
            let item_text = text.get(region.start..region.end).unwrap_or("");
            let parse = match self.items.remove(item_text) {
                Some(p) => {
                    self.last_reused += 1;
                    p
                }
                None => Arc::new(parse_item(file, header_text, item_text)),
            };
            for item in &parse.items {
                let mut item = item.clone();
                spans::map_item(&mut item, &mut |s| s.shift(region.start));
                spec.items.push(item);
            }
            diagnostics.extend(
                parse
                    .diagnostics
                    .iter()
                    .map(|d| shift_diagnostic(d, region.start, 0)),
            );
            cache.insert(item_text.to_string(), parse);
        }
        self.items = cache;
        spans::number_exprs(&mut spec);
        Parsed {
            spec: Some(spec),
            diagnostics,
        }
    }

    fn full(&mut self, file: FileId, text: &str) -> Parsed {
        self.header = None;
        self.items.clear();
        crate::parse(file, text)
    }
}

/// Parses one item region after the header (the parser wants a header), keeping what belongs
/// to the item, with spans relative to the item's start.
fn parse_item(file: FileId, header_text: &str, item_text: &str) -> ItemParse {
    let base = header_text.len();
    let mut virtual_text = String::with_capacity(base + item_text.len());
    virtual_text.push_str(header_text);
    virtual_text.push_str(item_text);
    let parsed = crate::parse(file, &virtual_text);
    let mut items = parsed.spec.map(|s| s.items).unwrap_or_default();
    for item in &mut items {
        spans::map_item(item, &mut |s| unshift(s, base));
    }
    let diagnostics = parsed
        .diagnostics
        .iter()
        .filter(|d| d.primary.span.start >= base)
        .map(|d| shift_diagnostic(d, 0, base))
        .collect();
    ItemParse { items, diagnostics }
}

fn unshift(s: Span, by: usize) -> Span {
    Span::new(s.start.saturating_sub(by), s.end.saturating_sub(by))
}

/// A diagnostic with every span moved by `+add - sub`.
fn shift_diagnostic(d: &Diagnostic, add: usize, sub: usize) -> Diagnostic {
    let mut d = d.clone();
    d.primary.span = unshift(d.primary.span, sub).shift(add);
    for l in &mut d.secondary {
        l.span = unshift(l.span, sub).shift(add);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same_as_full(parser: &mut IncrementalParser, text: &str) {
        let full = crate::parse(FileId(0), text);
        let inc = parser.parse(FileId(0), text);
        assert_eq!(inc.spec, full.spec, "spec differs for:\n{text}");
        assert_eq!(
            inc.diagnostics, full.diagnostics,
            "diagnostics differ for:\n{text}"
        );
    }

    fn examples() -> Vec<String> {
        upstart_test_support::all_specs()
            .iter()
            .map(|p| upstart_test_support::read(p))
            .collect()
    }

    #[test]
    fn equals_the_full_parse_on_every_example() {
        let texts = examples();
        assert!(texts.len() > 20);
        for text in texts {
            same_as_full(&mut IncrementalParser::new(), &text);
        }
    }

    /// A deterministic pseudo-random sequence (xorshift64) from `seed`, for edits.
    fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        }
    }

    #[test]
    fn equals_the_full_parse_through_edits() {
        // Deterministic pseudo-random edits: delete, insert or replace a character somewhere.
        let mut next = xorshift(0x2545_f491_4f6c_dd1du64);
        let inserts = [
            "x", "}", "{", "\"", "/*", "//", "\n", "version", " past ", "(", "1",
        ];
        for text in examples().into_iter().take(12) {
            let mut parser = IncrementalParser::new();
            let mut text = text;
            same_as_full(&mut parser, &text);
            for _ in 0..40 {
                let mut at = (next() as usize) % (text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                match next() % 3 {
                    0 if at < text.len() => {
                        let mut end = at + 1;
                        while !text.is_char_boundary(end) {
                            end += 1;
                        }
                        text.replace_range(at..end, "");
                    }
                    _ => {
                        let s = inserts[(next() as usize) % inserts.len()];
                        text.insert_str(at, s);
                    }
                }
                same_as_full(&mut parser, &text);
            }
        }
    }

    #[test]
    fn equals_the_full_parse_through_edits_of_helper_functions() {
        // Helper functions stand unbraced at the top level, where the chunker must tell their
        // expression from the next item whatever an edit does to it.
        let base = "upgrade t 1 -> 2\nfn g(past: u64, version: u64) -> u64 = past + version\n\
                    fn m(k: string) -> map<string, u64> = {k: g(1, 2), \"b\": 3}\n\
                    version 1 { service S { fn f(x: u64) -> u64 } }\n\
                    past S { f(x) = g(x, {}.len()) }\n";
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15u64);
        let inserts = [
            "fn", " past ", "version", "=", "+", "{", "}", "(", "1", "\n", ":",
        ];
        let mut parser = IncrementalParser::new();
        let mut text = base.to_string();
        same_as_full(&mut parser, &text);
        for _ in 0..300 {
            let at = (next() as usize) % (text.len() + 1);
            if next().is_multiple_of(3) && at < text.len() {
                text.remove(at);
            } else {
                text.insert_str(at, inserts[(next() as usize) % inserts.len()]);
            }
            same_as_full(&mut parser, &text);
        }
    }

    #[test]
    fn an_edit_reparses_only_its_item() {
        let text = crate::synth::large_spec(500);
        let mut parser = IncrementalParser::new();
        let first = parser.parse(FileId(0), &text);
        assert!(first.diagnostics.is_empty());
        let items = first.spec.map(|s| s.items.len()).unwrap_or(0);
        let at = text.find("past Svc3").unwrap_or(0) + 5;
        let mut edited = text.clone();
        edited.insert(at, 'x');
        let _ = parser.parse(FileId(0), &edited);
        assert_eq!(parser.last_reused, items - 1);
    }
}
