//! A small, forgiving lexer for `.ups` text: words, numbers, strings, punctuation and comments,
//! each with its byte range. The parser drops comments, so the formatter finds them here; the
//! language server uses the tokens to read the context of a cursor in text that may not parse.
//!
//! It never fails: an unterminated string ends at the end of its line, an unterminated block
//! comment at the end of the text, and an unknown character is a one-character punctuation.

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A name or a keyword: `[A-Za-z_][A-Za-z0-9_]*`.
    Word,
    /// `12`, `1_000`, `1.5`, `30s`.
    Number,
    /// `"..."`, escapes included.
    Str,
    /// Operators and brackets; multi-character ones (`->`, `::`, `==`...) are one token.
    Punct,
    LineComment,
    BlockComment,
}

/// One token: its kind and byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub start: usize,
    pub end: usize,
}

impl Token {
    pub fn is_comment(&self) -> bool {
        matches!(self.kind, TokenKind::LineComment | TokenKind::BlockComment)
    }

    /// The token's text in `text` (empty if the range is not in it).
    pub fn text<'t>(&self, text: &'t str) -> &'t str {
        text.get(self.start..self.end).unwrap_or("")
    }
}

const MULTI_PUNCT: &[&str] = &["->", "=>", "::", "==", "!=", "<=", ">=", "&&", "||", ".."];

/// Every token of `text`, comments included, in order.
pub fn tokens(text: &str) -> Vec<Token> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let start = i;
        let kind = match b {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while bytes.get(i).is_some_and(|&c| c != b'\n') {
                    i += 1;
                }
                TokenKind::LineComment
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                loop {
                    match bytes.get(i) {
                        None => break,
                        Some(b'*') if bytes.get(i + 1) == Some(&b'/') => {
                            i += 2;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
                TokenKind::BlockComment
            }
            b'"' => {
                i += 1;
                loop {
                    match bytes.get(i) {
                        None | Some(b'\n') => break,
                        // as in the grammar, a backslash escapes any character, a newline too
                        Some(b'\\') => i += 2,
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(_) => i += 1,
                    }
                }
                TokenKind::Str
            }
            c if c.is_ascii_digit() => {
                while bytes
                    .get(i)
                    .is_some_and(|c| c.is_ascii_digit() || *c == b'_')
                {
                    i += 1;
                }
                if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                    while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                        i += 1;
                    }
                } else {
                    while bytes.get(i).is_some_and(u8::is_ascii_alphabetic) {
                        i += 1;
                    }
                }
                TokenKind::Number
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while bytes
                    .get(i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                {
                    i += 1;
                }
                TokenKind::Word
            }
            _ => {
                let rest = text.get(i..).unwrap_or("");
                let len = match MULTI_PUNCT.iter().find(|p| rest.starts_with(**p)) {
                    Some(p) => p.len(),
                    None => rest.chars().next().map_or(1, char::len_utf8),
                };
                i += len;
                TokenKind::Punct
            }
        };
        out.push(Token {
            kind,
            start,
            end: i.min(text.len()),
        });
    }
    out
}

/// A comment of the source, with what surrounds it on its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub start: usize,
    pub end: usize,
    /// The comment's text; a line comment without its trailing whitespace.
    pub text: String,
    pub block: bool,
    /// No code before it on its line: it stands on a line of its own (or leads the line).
    pub own_line: bool,
    /// Code follows it on the same line (only possible for block comments).
    pub code_after: bool,
}

/// The comments of `text`, in order.
pub fn comments(text: &str) -> Vec<Comment> {
    let toks = tokens(text);
    let mut out = Vec::new();
    // The end of the last code (non-comment) token and whether a newline came after it.
    for (n, t) in toks.iter().enumerate() {
        if !t.is_comment() {
            continue;
        }
        let line_start = text
            .get(..t.start)
            .and_then(|s| s.rfind('\n'))
            .map_or(0, |p| p + 1);
        let own_line = !toks
            .get(..n)
            .unwrap_or(&[])
            .iter()
            .rev()
            .take_while(|p| p.end > line_start)
            .any(|p| !p.is_comment());
        let line_end = text
            .get(t.end..)
            .and_then(|s| s.find('\n'))
            .map_or(text.len(), |p| t.end + p);
        let code_after = toks
            .get(n + 1..)
            .unwrap_or(&[])
            .iter()
            .take_while(|p| p.start < line_end)
            .any(|p| !p.is_comment());
        let raw = t.text(text);
        let block = t.kind == TokenKind::BlockComment;
        let text = if block {
            raw.to_string()
        } else {
            raw.trim_end().to_string()
        };
        out.push(Comment {
            start: t.start,
            end: t.end,
            text,
            block,
            own_line,
            code_after,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(TokenKind, &str)> {
        tokens(text)
            .iter()
            .map(|t| (t.kind, t.text(text)))
            .collect()
    }

    #[test]
    fn lexes_words_numbers_strings_and_punctuation() {
        use TokenKind::*;
        assert_eq!(
            kinds(
                "fn get(k: string) -> option<u64> // c\n x == \"a\\\"b\" 1_000 1.5 30s t.0 /* b */"
            ),
            vec![
                (Word, "fn"),
                (Word, "get"),
                (Punct, "("),
                (Word, "k"),
                (Punct, ":"),
                (Word, "string"),
                (Punct, ")"),
                (Punct, "->"),
                (Word, "option"),
                (Punct, "<"),
                (Word, "u64"),
                (Punct, ">"),
                (LineComment, "// c"),
                (Word, "x"),
                (Punct, "=="),
                (Str, "\"a\\\"b\""),
                (Number, "1_000"),
                (Number, "1.5"),
                (Number, "30s"),
                (Word, "t"),
                (Punct, "."),
                (Number, "0"),
                (BlockComment, "/* b */"),
            ]
        );
    }

    #[test]
    fn never_fails_on_broken_text() {
        for text in ["\"open", "/* open", "é ü", "a /", "\"\\", "\"a\\\nb\""] {
            let toks = tokens(text);
            assert!(
                toks.iter().all(|t| t.start < t.end && t.end <= text.len()),
                "{text:?}: {toks:?}"
            );
        }
    }

    #[test]
    fn comments_know_their_line() {
        let text = "// head\nx = 1 // tail\n  /* lead */ y\nz /* mid */ w\n";
        let c = comments(text);
        let summary: Vec<(&str, bool, bool)> = c
            .iter()
            .map(|c| (c.text.as_str(), c.own_line, c.code_after))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("// head", true, false),
                ("// tail", false, false),
                ("/* lead */", true, true),
                ("/* mid */", false, true)
            ]
        );
    }

    #[test]
    fn comment_markers_inside_strings_are_not_comments() {
        assert!(comments("x = \"// not a comment /* nor this */\"").is_empty());
    }
}
