//! Turns pest's errors into our diagnostics, naming what was expected in words.

use super::Rule;
use crate::diagnostic::{codes, Diagnostic};
use crate::span::{FileId, Span};
use pest::error::{ErrorVariant, InputLocation};
use std::collections::BTreeSet;

/// A syntax error at the farthest point pest reached, with the expected tokens in words.
pub(super) fn to_diagnostic(
    file: FileId,
    offset: usize,
    text: &str,
    error: &pest::error::Error<Rule>,
) -> Diagnostic {
    let pos = match error.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    // pest's own stack guard stopped it: the input nests deeper than a stack can follow.
    if let ErrorVariant::CustomError { message } = &error.variant {
        if message.contains("limit reached") {
            return too_deep(file, offset + pos, "expressions or types");
        }
    }
    let mut expected: BTreeSet<String> = BTreeSet::new();
    if let Some(attempts) = error.parse_attempts() {
        // pest does not export its token type; its Display shows literals as written.
        for token in attempts.expected_tokens() {
            let token = token.to_string();
            if is_literal_token(&token) {
                expected.insert(format!("`{token}`"));
            }
        }
    }
    if let ErrorVariant::ParsingError { positives, .. } = &error.variant {
        for rule in positives {
            if let Some(words) = describe(*rule) {
                expected.insert(words.to_string());
            }
        }
    }
    collapse(&mut expected);
    let found = found_at(text, pos);
    let span = Span::new(pos, pos + found.len()).shift(offset);
    let message = if found.is_empty() {
        "unexpected end of input".to_string()
    } else {
        format!("unexpected `{found}`")
    };
    let mut diag = Diagnostic::new(codes::SYNTAX, file, span, message);
    if !expected.is_empty() {
        diag = diag.label(format!("expected {}", join_or(&expected)));
    }
    diag
}

pub(super) fn too_deep(file: FileId, at: usize, what: &str) -> Diagnostic {
    Diagnostic::new(
        codes::NESTING_TOO_DEEP,
        file,
        Span::new(at, at + 1),
        format!("{what} nest too deeply here"),
    )
    .label(format!("deeper than {} levels", super::chunk::MAX_NESTING))
    .help("name intermediate results with `let` to flatten the expression")
}

/// An expression whose tree is too high although it nests little: long operator chains.
pub(super) fn too_long(file: FileId, at: usize) -> Diagnostic {
    Diagnostic::new(
        codes::NESTING_TOO_DEEP,
        file,
        Span::new(at, at + 1),
        "this expression is too long",
    )
    .label(format!(
        "more than {} operators and levels in one expression",
        super::depth::MAX_HEIGHT
    ))
    .help("split the chain: name parts with `let`, or give several invariant clauses")
}

pub(super) fn missing_header(file: FileId, text: &str) -> Diagnostic {
    let start = text.len() - text.trim_start().len();
    let first = found_at(text, start);
    Diagnostic::new(
        codes::SYNTAX,
        file,
        Span::new(start, start + first.len()),
        "missing `upgrade` header",
    )
    .label("expected `upgrade NAME FROM -> TO` first")
    .help("a spec starts with its header, for example `upgrade kv 1 -> 2`")
}

/// The token-ish text at `pos`: a word, or one character.
fn found_at(text: &str, pos: usize) -> &str {
    let Some(rest) = text.get(pos..) else {
        return "";
    };
    let word_len = rest
        .char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
        .map_or(rest.len(), |(i, _)| i);
    if word_len > 0 {
        return rest.get(..word_len).unwrap_or("");
    }
    match rest.chars().next() {
        Some(c) if c.is_whitespace() => {
            rest.get(..c.len_utf8())
                .map_or("", |s| if s == "\n" { "end of line" } else { s })
        }
        Some(c) => rest.get(..c.len_utf8()).unwrap_or(""),
        None => "",
    }
}

/// Tokens that can start an expression; when most of them are expected, say "an expression".
const EXPR_STARTS: &[&str] = &[
    "`!`",
    "`\"`",
    "`(`",
    "`-`",
    "`[`",
    "`call`",
    "`disallow`",
    "`exists`",
    "`false`",
    "`forall`",
    "`if`",
    "`let`",
    "`match`",
    "`none`",
    "`true`",
    "`{`",
    "`|`",
    "a name",
    "a number",
    "a string",
    "an integer",
];

fn collapse(expected: &mut BTreeSet<String>) {
    let starts = EXPR_STARTS
        .iter()
        .filter(|t| expected.contains(**t))
        .count();
    if starts >= 8 {
        expected.retain(|t| !EXPR_STARTS.contains(&t.as_str()));
        expected.insert("an expression".to_string());
    }
    if expected.contains("a type") {
        expected.remove("`(`");
    }
}

/// Character ranges print as `a..z` and built-in rules as `BUILTIN_RULE`: neither reads well.
fn is_literal_token(token: &str) -> bool {
    let chars: Vec<char> = token.chars().collect();
    let is_range = chars.len() == 4 && chars.get(1) == Some(&'.') && chars.get(2) == Some(&'.');
    // `r#` begins an escaped name: "a name" already says it.
    let trivia =
        token.trim().is_empty() || matches!(token, "//" | "/*" | "_" | "r#" | "BUILTIN_RULE");
    !trivia && !is_range
}

fn join_or(items: &BTreeSet<String>) -> String {
    let items: Vec<&str> = items.iter().map(String::as_str).collect();
    match items.as_slice() {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {}", init.join(", "), last),
    }
}

/// Rules named in words; rules that only group others are left out.
fn describe(r: Rule) -> Option<&'static str> {
    Some(match r {
        Rule::ident | Rule::path => "a name",
        Rule::int => "an integer",
        Rule::float => "a number",
        Rule::string | Rule::string_inner => "a string",
        Rule::duration => "a duration",
        Rule::expr | Rule::args => "an expression",
        Rule::type_expr | Rule::named_type | Rule::tuple_type => "a type",
        Rule::pattern => "a pattern",
        Rule::field | Rule::fields => "a field",
        Rule::field_init | Rule::field_inits => "a field",
        Rule::rule_def => "a rule",
        Rule::rule_attr => "an attribute such as `#[allow(disallowed_method)]`",
        Rule::sched_entry => "a schedule setting",
        Rule::sched_value => "a schedule value",
        Rule::method_decl => "a method",
        Rule::model_expr | Rule::model_block => "a method model (`= expr` or `{ ... }`)",
        Rule::model_let | Rule::model_assign => "a `let` or an assignment `state.field = ...`",
        Rule::variant => "a variant",
        Rule::header => "the `upgrade` header",
        Rule::protocol
        | Rule::version_block
        | Rule::invariant
        | Rule::transform
        | Rule::rule_block
        | Rule::schedule => "an item",
        Rule::record_decl | Rule::enum_decl | Rule::service_decl | Rule::state_decl => {
            "a declaration"
        }
        Rule::EOI => "end of input",
        _ => return None,
    })
}
