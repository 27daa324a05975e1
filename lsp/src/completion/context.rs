//! What surrounds the word being typed, read from tokens: the tokens before it, the brackets
//! open around it, and whether it starts a line or a new element of a block.

use lang::lex::Token;

/// What surrounds the word being typed.
pub(super) struct Context<'t> {
    /// The token before the word.
    pub(super) prev: Option<&'t str>,
    /// The token before that.
    pub(super) prev2: Option<&'t str>,
    /// Open brackets, innermost last, each with the two tokens before it.
    open: Vec<(&'t str, Option<&'t str>, Option<&'t str>)>,
    pub(super) depth: usize,
    /// The word starts its line.
    line_start: bool,
}

impl<'t> Context<'t> {
    pub(super) fn new(text: &'t str, before: &[&Token], word_start: usize) -> Self {
        let tok = |t: &Token| t.text(text);
        let mut open: Vec<(&str, Option<&str>, Option<&str>)> = Vec::new();
        for (i, t) in before.iter().enumerate() {
            let s = tok(t);
            let back = |n: usize| i.checked_sub(n).and_then(|j| before.get(j)).map(|t| tok(t));
            match s {
                "{" | "(" | "[" => open.push((s, back(1), back(2))),
                "}" | ")" | "]" => {
                    open.pop();
                }
                _ => {}
            }
        }
        let line_start = text
            .get(..word_start)
            .and_then(|s| s.rsplit('\n').next())
            .is_some_and(|l| l.trim().is_empty());
        let n = before.len();
        Context {
            prev: n.checked_sub(1).and_then(|i| before.get(i)).map(|t| tok(t)),
            prev2: n.checked_sub(2).and_then(|i| before.get(i)).map(|t| tok(t)),
            depth: open.len(),
            open,
            line_start,
        }
    }

    /// The word starts a new element of the innermost block: after its `{`, or at the start of
    /// a line after something that ends an element.
    pub(super) fn at_element_start(&self) -> bool {
        match self.prev {
            None | Some("{" | "}" | ";" | ",") => true,
            Some(p) => self.line_start && !is_continuation(p),
        }
    }

    /// Whether a `{` opened right after `word` encloses the word (at any depth).
    pub(super) fn inside_block_of(&self, word: &str) -> bool {
        self.open
            .iter()
            .any(|(b, before, _)| *b == "{" && *before == Some(word))
    }

    /// What opened the innermost bracket: `(bracket, token before, token before that)`.
    pub(super) fn top(&self) -> Option<(&'t str, Option<&'t str>, Option<&'t str>)> {
        self.open.last().copied()
    }
}

/// A token after which an expression goes on.
fn is_continuation(tok: &str) -> bool {
    let ends_something = tok == ")"
        || tok == "]"
        || tok == "}"
        || tok.starts_with('"')
        || tok.chars().all(|c| c.is_alphanumeric() || c == '_');
    !ends_something
}
