//! The formatter: `upstartc fmt` and the language server's formatting. It pretty-prints the
//! parsed spec in one canonical layout (two-space indentation, one item, field, method, rule
//! or clause per line, expressions on one line when they fit in 100 columns) and puts every
//! comment back where it was, relative to the nearest item, field, rule, clause or arm.
//!
//! [`format`] is pure (text in, text out) and refuses a file that does not parse. It checks its
//! own work: the output must parse to the same tree (spans aside) and hold the same comments,
//! else it reports an internal error instead of returning text that would change the spec.
//! Formatting is idempotent: `format(format(x)) == format(x)`.

mod comments;
pub mod doc;
mod expr;
mod items;
#[cfg(test)]
mod tests;

pub use items::{escape, type_text};

use lang::diagnostic::Diagnostic;
use lang::span::{FileId, Span};
use lang::{lex, spans};

/// The width the formatter fills.
pub const WIDTH: usize = 100;
/// Spaces per indentation level.
pub const INDENT: usize = 2;

/// Why a text was not formatted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FormatError {
    /// The text has syntax errors (or bad literals): fix them first.
    #[error(
        "the spec has {} syntax error{}; fix {} first",
        .0.len(),
        if .0.len() == 1 { "" } else { "s" },
        if .0.len() == 1 { "it" } else { "them" }
    )]
    Syntax(Vec<Diagnostic>),
    /// The formatter would have changed the meaning or lost a comment: a bug, reported instead
    /// of writing anything.
    #[error("internal formatter error: {0}")]
    Internal(String),
}

/// Formats a whole spec file.
pub fn format(text: &str) -> Result<String, FormatError> {
    let parsed = lang::parse(FileId(0), text);
    let errors: Vec<Diagnostic> = parsed
        .diagnostics
        .into_iter()
        .filter(Diagnostic::is_error)
        .collect();
    let spec = match parsed.spec {
        Some(spec) if errors.is_empty() => spec,
        _ => return Err(FormatError::Syntax(errors)),
    };
    let out = print_spec(&spec, text)?;
    let expected_comments: Vec<String> = lex::comments(text).into_iter().map(|c| c.text).collect();
    // The output must mean the same and keep every comment.
    let reparsed = lang::parse(FileId(0), &out);
    match reparsed.spec {
        Some(again) if !reparsed.diagnostics.iter().any(Diagnostic::is_error) => {
            if spans::without_spans(&again) != spans::without_spans(&spec) {
                return Err(FormatError::Internal(
                    "the formatted spec parses differently".to_string(),
                ));
            }
        }
        _ => {
            return Err(FormatError::Internal(
                "the formatted spec does not parse".to_string(),
            ))
        }
    }
    let got: Vec<String> = lex::comments(&out).into_iter().map(|c| c.text).collect();
    if got != expected_comments {
        return Err(FormatError::Internal(
            "the formatted spec does not keep its comments".to_string(),
        ));
    }
    Ok(out)
}

/// Prints `spec`, parsed from `text`, without checking the result.
fn print_spec(spec: &lang::ast::Spec, text: &str) -> Result<String, FormatError> {
    let comments = lex::comments(text);
    let mut f = Fmt {
        src: text,
        c: comments::Comments::new(text, comments),
    };
    let document = f.spec(spec);
    if f.c.remaining() > 0 {
        return Err(FormatError::Internal(format!(
            "{} comment(s) were not placed",
            f.c.remaining()
        )));
    }
    Ok(doc::print(&document, WIDTH, INDENT))
}

/// The printer's state: the source (for literals, parentheses and blocks as written) and the
/// comment cursor.
pub(crate) struct Fmt<'a> {
    src: &'a str,
    c: comments::Comments<'a>,
}

impl Fmt<'_> {
    fn source(&self, span: Span) -> &str {
        self.src.get(span.start..span.end).unwrap_or("")
    }

    /// The start of the first code (not whitespace or comment) at or after `pos`.
    fn next_code(&self, pos: usize) -> usize {
        let bytes = self.src.as_bytes();
        let mut i = pos;
        loop {
            match bytes.get(i) {
                Some(b' ' | b'\t' | b'\r' | b'\n') => i += 1,
                Some(b'/') if bytes.get(i + 1) == Some(&b'/') => {
                    while bytes.get(i).is_some_and(|&c| c != b'\n') {
                        i += 1;
                    }
                }
                Some(b'/') if bytes.get(i + 1) == Some(&b'*') => {
                    i += 2;
                    while i < bytes.len()
                        && !(bytes.get(i) == Some(&b'*') && bytes.get(i + 1) == Some(&b'/'))
                    {
                        i += 1;
                    }
                    i += 2;
                }
                _ => return i.min(self.src.len()),
            }
        }
    }

    /// The position of the first `punct` token (outside comments and strings) in `from..to`.
    fn find_punct(&self, from: usize, to: usize, punct: &str) -> Option<usize> {
        let slice = self.src.get(from..to)?;
        lex::tokens(slice)
            .into_iter()
            .find(|t| t.kind == lex::TokenKind::Punct && t.text(slice) == punct)
            .map(|t| from + t.start)
    }

    /// The last `punct` token in `from..to`, as a byte offset into the source.
    fn find_last_punct(&self, from: usize, to: usize, punct: &str) -> Option<usize> {
        let slice = self.src.get(from..to)?;
        lex::tokens(slice)
            .into_iter()
            .rev()
            .find(|t| t.kind == lex::TokenKind::Punct && t.text(slice) == punct)
            .map(|t| from + t.start)
    }
}
