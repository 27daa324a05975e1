//! Cuts a spec file into top-level items so each can be parsed (and fail) on its own.

/// A byte range of the file holding one top-level item (or the header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Chunk {
    pub start: usize,
    pub end: usize,
    pub is_header: bool,
    /// Where bracket nesting first went deeper than [`MAX_NESTING`], if it did.
    pub too_deep_at: Option<usize>,
}

/// The deepest bracket nesting parsed. Deeper input is refused with a diagnostic rather than
/// risk the stack of the parser or of later recursive passes.
pub(super) const MAX_NESTING: i64 = 128;

/// The keywords that start a top-level item.
pub const ITEM_KEYWORDS: &[&str] = &[
    "protocol",
    "version",
    "invariant",
    "transform",
    "past",
    "future",
    "schedule",
    "fn",
];

/// Words after which an expression goes on: an item keyword after one of them is a name.
const EXPR_WORDS: &[&str] = &[
    "in", "if", "else", "match", "let", "call", "forall", "exists", "disallow", "fn",
];

/// Where the string literal that starts at `i` ends: after its closing quote, or after the
/// end of its line when it has none (a string holds no raw line break).
pub(super) fn string_end(bytes: &[u8], i: usize) -> usize {
    let mut i = i + 1;
    while let Some(&c) = bytes.get(i) {
        if c == b'\\' {
            i += 2;
            continue;
        }
        i += 1;
        if c == b'"' || c == b'\n' {
            break;
        }
    }
    i
}

/// Where the comment that starts at byte `i` of `bytes` ends, if one starts there: at the `\n`
/// that ends a `//` comment (or the end of the text), just after the `*/` that closes a `/*`
/// comment (past the end when it is never closed). Comments do not nest.
pub(super) fn comment_end(bytes: &[u8], i: usize) -> Option<usize> {
    match (bytes.get(i), bytes.get(i + 1)) {
        (Some(b'/'), Some(b'/')) => {
            let mut i = i;
            while bytes.get(i).is_some_and(|&c| c != b'\n') {
                i += 1;
            }
            Some(i)
        }
        (Some(b'/'), Some(b'*')) => {
            let mut i = i + 2;
            while i < bytes.len()
                && !(bytes.get(i) == Some(&b'*') && bytes.get(i + 1) == Some(&b'/'))
            {
                i += 1;
            }
            Some(i + 2)
        }
        _ => None,
    }
}

/// Splits at every item keyword that stands at bracket depth zero, outside strings and
/// comments. Text before the first keyword is a chunk of its own (and will fail to parse).
///
/// A helper function (`fn f(...) -> T = expr`) is not braced, so its expression stands at
/// depth zero and may use an item keyword as a name (`past + version`): inside one, only a
/// keyword that follows a complete operand (a name, number, string or closing bracket, never
/// an operator or a word like `in`) starts the next item.
pub(super) fn split(text: &str) -> Vec<Chunk> {
    let bytes = text.as_bytes();
    let mut starts: Vec<(usize, bool)> = Vec::new();
    let mut too_deep: Vec<usize> = Vec::new();
    let mut depth: i64 = 0;
    let mut i = 0;
    let mut first_token = true;
    // Whether the current chunk is a helper function, and whether the last token ended an
    // operand.
    let mut in_fn = false;
    let mut after_operand = false;
    // `let`s at depth zero in a helper's expression whose `;` is still to come: a `;` beyond
    // them ends the helper (`fn f() -> u64 = 1;`).
    let mut open_lets = 0usize;
    while let Some(&b) = bytes.get(i) {
        if let Some(end) = comment_end(bytes, i) {
            i = end;
            continue;
        }
        match b {
            b'"' => {
                i = string_end(bytes, i);
                first_token = false;
                after_operand = true;
                continue;
            }
            b'{' | b'(' | b'[' => {
                depth += 1;
                if depth == MAX_NESTING + 1 {
                    too_deep.push(i);
                }
                after_operand = false;
            }
            b'}' | b')' | b']' => {
                depth = (depth - 1).max(0);
                after_operand = true;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while bytes
                    .get(i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                {
                    i += 1;
                }
                let word = text.get(start..i).unwrap_or("");
                if depth == 0 {
                    if first_token {
                        starts.push((start, word == "upgrade"));
                    } else if ITEM_KEYWORDS.contains(&word) && (!in_fn || after_operand) {
                        starts.push((start, false));
                        in_fn = word == "fn";
                        after_operand = false;
                        open_lets = 0;
                        first_token = false;
                        continue;
                    }
                }
                if depth == 0 && word == "let" {
                    open_lets += 1;
                }
                first_token = false;
                after_operand = !EXPR_WORDS.contains(&word);
                continue;
            }
            c if c.is_ascii_digit() => {
                if first_token {
                    starts.push((i, false));
                }
                while bytes
                    .get(i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'.')
                {
                    i += 1;
                }
                first_token = false;
                after_operand = true;
                continue;
            }
            c if c.is_ascii_whitespace() => {}
            _ => {
                if first_token {
                    starts.push((i, false));
                }
                first_token = false;
                after_operand = false;
                if b == b';' && depth == 0 {
                    match open_lets.checked_sub(1) {
                        Some(left) => open_lets = left,
                        None => after_operand = true,
                    }
                }
            }
        }
        i += 1;
    }
    let mut chunks = Vec::with_capacity(starts.len());
    for (n, &(start, is_header)) in starts.iter().enumerate() {
        let end = starts.get(n + 1).map_or(text.len(), |&(s, _)| s);
        let too_deep_at = too_deep.iter().copied().find(|p| *p >= start && *p < end);
        chunks.push(Chunk {
            start,
            end,
            is_header,
            too_deep_at,
        });
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<(String, bool)> {
        split(text)
            .into_iter()
            .map(|c| (text[c.start..c.end].trim().to_string(), c.is_header))
            .collect()
    }

    #[test]
    fn splits_at_top_level_keywords_only() {
        let text = "upgrade kv 1 -> 2\nversion 1 { state { version: u64 } }\n// past x\npast Kv { a() = \"future\" }";
        assert_eq!(
            words(text),
            vec![
                ("upgrade kv 1 -> 2".to_string(), true),
                (
                    "version 1 { state { version: u64 } }\n// past x".to_string(),
                    false
                ),
                ("past Kv { a() = \"future\" }".to_string(), false),
            ]
        );
    }

    #[test]
    fn a_helper_function_may_use_item_keywords_as_names() {
        let text = "upgrade t 1 -> 2\nfn g(past: u64, version: u64) -> u64 = past + version\n\
                    fn h(x: S) -> bool = forall v in past: call version(v.past) || if past { 1 } else { 2 }\n\
                    fn k() -> u64 = 1 past S { }\nfn m() -> u64 = f(x)\nversion 1 { }\n\
                    fn n() -> u64 = let past = 1; past;fn o() -> u64 = 2;past S { }";
        let got: Vec<String> = words(text).into_iter().map(|(w, _)| w).collect();
        assert_eq!(
            got,
            [
                "upgrade t 1 -> 2",
                "fn g(past: u64, version: u64) -> u64 = past + version",
                "fn h(x: S) -> bool = forall v in past: call version(v.past) || if past { 1 } else { 2 }",
                "fn k() -> u64 = 1",
                "past S { }",
                "fn m() -> u64 = f(x)",
                "version 1 { }",
                "fn n() -> u64 = let past = 1; past;",
                "fn o() -> u64 = 2;",
                "past S { }",
            ]
        );
    }

    #[test]
    fn leading_garbage_is_its_own_chunk() {
        let chunks = words("@@ version 1 {}");
        assert_eq!(chunks.len(), 2);
        assert!(!chunks[0].1);
    }

    #[test]
    fn empty_text_has_no_chunks() {
        assert!(split("  // nothing\n").is_empty());
    }
}
