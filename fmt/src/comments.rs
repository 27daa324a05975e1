//! Reattaching comments. The parser drops them, so the printer walks the tree in source order
//! with a cursor over the comments of the text and, at each break between elements of a list
//! (items, declarations, fields, rules, clauses, arms...), places the comments that lie before
//! the next element:
//!
//! - a comment with code before it on its line *trails* that line: it is printed at the end of
//!   the current output line (for the elements of a list, after the separator);
//! - a comment on a line of its own *leads* the next element, on its own line, indented as it.
//!
//! A comment inside an expression, where no list breaks, goes to the next break after it. A
//! comment placed at a break always breaks the enclosing groups, so the break is a newline and
//! a second formatting finds the comment at the same break: formatting stays idempotent.
//! Blank lines between elements (and between comments) are kept, at most one.

use super::doc::{break_parent, concat, hardline, line_suffix, text, D};
use lang::lex::Comment;

/// Where blank lines may go at a break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Blank {
    /// Never (elements of a list that may print flat).
    Never,
    /// Not before the first comment or element (just after an opening bracket), else `Keep`.
    First,
    /// Where the source had one.
    Keep,
    /// Always one before the next element (or its first leading comment).
    Always,
}

pub(super) struct Comments<'a> {
    src: &'a str,
    list: Vec<Comment>,
    next: usize,
    /// End of the last thing placed, code or comment: blank lines are looked for after it.
    last_end: usize,
}

impl<'a> Comments<'a> {
    pub fn new(src: &'a str, list: Vec<Comment>) -> Self {
        Comments {
            src,
            list,
            next: 0,
            last_end: 0,
        }
    }

    /// Comments not placed yet.
    pub fn remaining(&self) -> usize {
        self.list.len().saturating_sub(self.next)
    }

    /// Whether a comment starts in `start..end`.
    pub fn any_in(&self, start: usize, end: usize) -> bool {
        self.list
            .get(self.next..)
            .unwrap_or(&[])
            .iter()
            .any(|c| c.start >= start && c.start < end)
    }

    /// Records that code up to `end` has been placed.
    pub fn mark(&mut self, end: usize) {
        self.last_end = self.last_end.max(end);
    }

    fn peek_before(&self, pos: usize) -> Option<&Comment> {
        self.list.get(self.next).filter(|c| c.start < pos)
    }

    /// Whether the source has an empty line between the last placed thing and `pos`.
    fn blank_before(&self, pos: usize) -> bool {
        let Some(gap) = self.src.get(self.last_end.min(pos)..pos) else {
            return false;
        };
        let mut lines = gap.split('\n');
        lines.next();
        let mut middle: Vec<&str> = lines.collect();
        middle.pop();
        middle.iter().any(|l| l.trim().is_empty())
    }

    /// Comments before `pos` that trail the current line, as line suffixes.
    pub fn trailing(&mut self, pos: usize) -> D {
        let mut parts = Vec::new();
        while let Some(c) = self.peek_before(pos) {
            if c.own_line {
                break;
            }
            // The break keeps the comment where it is put: at the end of this line.
            parts.push(line_suffix(format!(" {}", c.text)));
            parts.push(break_parent());
            let (end, block) = (c.end, c.block);
            self.next += 1;
            self.mark(end);
            if !block {
                // Nothing can follow a line comment on its line: the rest lead the next element.
                break;
            }
        }
        concat(parts)
    }

    /// The break before the element at `pos`: trailing comments, `line`, then the comments
    /// that lead the element, each on its own line, with blank lines as `blank` says.
    pub fn gap(&mut self, pos: usize, line: D, blank: Blank) -> D {
        let mut parts = vec![self.trailing(pos), line];
        let mut first = true;
        while let Some(c) = self.peek_before(pos) {
            let (start, end, block, code_after) = (c.start, c.end, c.block, c.code_after);
            let body = c.text.clone();
            if self.wants_blank(blank, first, start) {
                parts.push(hardline());
            }
            parts.push(text(body));
            parts.push(if block && code_after {
                concat(vec![text(" "), break_parent()])
            } else {
                hardline()
            });
            self.next += 1;
            self.mark(end);
            first = false;
        }
        if self.wants_blank(blank, first, pos) {
            parts.push(hardline());
        }
        concat(parts)
    }

    /// The comments left before a closing bracket at `pos` (inside the block's indentation):
    /// trailing ones end the last line, the others stand on lines of their own.
    pub fn dangling(&mut self, pos: usize, blank: Blank) -> D {
        let mut parts = vec![self.trailing(pos)];
        while let Some(c) = self.peek_before(pos) {
            let (start, end) = (c.start, c.end);
            let body = c.text.clone();
            parts.push(hardline());
            if blank != Blank::Never && self.blank_before(start) {
                parts.push(hardline());
            }
            parts.push(text(body));
            self.next += 1;
            self.mark(end);
        }
        concat(parts)
    }

    fn wants_blank(&self, blank: Blank, first: bool, pos: usize) -> bool {
        match blank {
            Blank::Never => false,
            Blank::First if first => false,
            Blank::Always if first => true,
            Blank::First | Blank::Always | Blank::Keep => self.blank_before(pos),
        }
    }
}
