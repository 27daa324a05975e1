//! A Wadler-style pretty-printing document and its printer: text, line breaks that a group
//! prints flat (as a space or nothing) when it fits the width and broken otherwise, hard breaks
//! that break every enclosing group, indentation, line suffixes (trailing comments, flushed at
//! the next newline) and alternative layouts (the first that fits is chosen).
//!
//! Children are shared (`Rc`), so alternative layouts reuse their parts instead of copying them.

use std::rc::Rc;

/// A document. Build it with the functions of this module, which keep `forced` up to date.
#[derive(Debug)]
pub enum Doc {
    Nil,
    /// Text; may hold newlines only for multi-line block comments, printed verbatim.
    Text(String),
    /// A space when flat, a newline when broken.
    Line,
    /// Nothing when flat, a newline when broken.
    SoftLine,
    /// Always a newline; breaks every enclosing group.
    HardLine,
    /// Breaks every enclosing group, prints nothing.
    BreakParent,
    /// Text kept until just before the next newline (a trailing line comment).
    LineSuffix(String),
    Indent(D, bool),
    Concat(Vec<D>, bool),
    /// Flat if it fits (and nothing inside forces a break), broken otherwise.
    Group(D, bool),
    /// Layouts from flattest to most broken: the first one printed flat if it fits, else the
    /// first of the others whose first line fits when printed broken, else the last.
    Alt(Vec<D>, bool),
    /// `(broken, flat)`: which one depends on the enclosing group's mode.
    IfBreak(D, D),
}

pub type D = Rc<Doc>;

impl Doc {
    /// Whether something inside breaks every enclosing group.
    pub fn forced(&self) -> bool {
        match self {
            Doc::HardLine | Doc::BreakParent => true,
            Doc::Indent(_, f) | Doc::Concat(_, f) | Doc::Group(_, f) | Doc::Alt(_, f) => *f,
            Doc::IfBreak(b, _) => b.forced(),
            Doc::Nil | Doc::Text(_) | Doc::Line | Doc::SoftLine | Doc::LineSuffix(_) => false,
        }
    }
}

pub fn nil() -> D {
    Rc::new(Doc::Nil)
}
pub fn text(s: impl Into<String>) -> D {
    Rc::new(Doc::Text(s.into()))
}
pub fn line() -> D {
    Rc::new(Doc::Line)
}
pub fn softline() -> D {
    Rc::new(Doc::SoftLine)
}
pub fn hardline() -> D {
    Rc::new(Doc::HardLine)
}
pub fn break_parent() -> D {
    Rc::new(Doc::BreakParent)
}
pub fn line_suffix(s: impl Into<String>) -> D {
    Rc::new(Doc::LineSuffix(s.into()))
}
pub fn indent(d: D) -> D {
    let f = d.forced();
    Rc::new(Doc::Indent(d, f))
}
pub fn concat(parts: Vec<D>) -> D {
    let f = parts.iter().any(|p| p.forced());
    Rc::new(Doc::Concat(parts, f))
}
pub fn group(d: D) -> D {
    let f = d.forced();
    Rc::new(Doc::Group(d, f))
}
/// A group that always prints broken.
pub fn broken_group(d: D) -> D {
    Rc::new(Doc::Group(d, true))
}
pub fn alt(states: Vec<D>) -> D {
    let f = states.first().is_some_and(|s| s.forced());
    Rc::new(Doc::Alt(states, f))
}
pub fn if_break(broken: D, flat: D) -> D {
    Rc::new(Doc::IfBreak(broken, flat))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Flat,
    Break,
}

type Cmd<'d> = (usize, Mode, &'d Doc);

/// Prints `doc` in `width` columns, indenting by `indent_by` spaces per level.
pub fn print(doc: &Doc, width: usize, indent_by: usize) -> String {
    let mut p = Printer {
        out: String::new(),
        col: 0,
        pending_indent: None,
        suffixes: Vec::new(),
    };
    let mut stack: Vec<Cmd<'_>> = vec![(0, Mode::Break, doc)];
    while let Some((ind, mode, doc)) = stack.pop() {
        match doc {
            Doc::Nil | Doc::BreakParent => {}
            Doc::Text(s) => p.text(s),
            Doc::Line if mode == Mode::Flat => p.text(" "),
            Doc::SoftLine if mode == Mode::Flat => {}
            Doc::Line | Doc::SoftLine | Doc::HardLine => p.newline(ind),
            Doc::LineSuffix(s) => p.suffixes.push(s.clone()),
            Doc::Indent(d, _) => stack.push((ind + indent_by, mode, d)),
            Doc::Concat(parts, _) => stack.extend(parts.iter().rev().map(|d| (ind, mode, &**d))),
            Doc::Group(d, forced) => {
                let chosen = if *forced {
                    Mode::Break
                } else if mode == Mode::Flat || fits((ind, Mode::Flat, d), &stack, width, p.col) {
                    Mode::Flat
                } else {
                    Mode::Break
                };
                stack.push((ind, chosen, d));
            }
            Doc::Alt(states, forced) => {
                let Some(first) = states.first() else {
                    continue;
                };
                if mode == Mode::Flat
                    || (!*forced && fits((ind, Mode::Flat, first), &stack, width, p.col))
                {
                    stack.push((ind, Mode::Flat, first));
                    continue;
                }
                let rest = states.get(1..).unwrap_or(&[]);
                let pick = rest
                    .iter()
                    .take(rest.len().saturating_sub(1))
                    .find(|s| fits((ind, Mode::Break, s), &stack, width, p.col))
                    .or(rest.last())
                    .unwrap_or(first);
                stack.push((ind, Mode::Break, pick));
            }
            Doc::IfBreak(b, f) => stack.push((ind, mode, if mode == Mode::Break { b } else { f })),
        }
    }
    p.flush_suffixes();
    p.out
}

struct Printer {
    out: String,
    col: usize,
    pending_indent: Option<usize>,
    suffixes: Vec<String>,
}

impl Printer {
    fn text(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        if let Some(n) = self.pending_indent.take() {
            self.out.push_str(&" ".repeat(n));
            self.col = n;
        }
        self.out.push_str(s);
        match s.rfind('\n') {
            Some(p) => self.col = s.get(p + 1..).map_or(0, |t| t.chars().count()),
            None => self.col += s.chars().count(),
        }
    }

    fn flush_suffixes(&mut self) {
        for s in std::mem::take(&mut self.suffixes) {
            self.text(&s);
        }
    }

    fn newline(&mut self, ind: usize) {
        self.flush_suffixes();
        self.out.push('\n');
        self.col = 0;
        self.pending_indent = Some(ind);
    }
}

/// Whether `next`, followed by what `rest` holds, fits on the current line: everything up to
/// the first newline of a broken part. Groups that are not forced are measured flat.
///
/// What follows (`rest`) is measured as it will print: its groups broken unless they fit, so
/// its first possible line break ends the line.
fn fits(next: Cmd<'_>, rest: &[Cmd<'_>], width: usize, col: usize) -> bool {
    let mut remaining = width as isize - col as isize;
    // The bool: the command comes from `rest`.
    let mut cmds: Vec<(usize, Mode, &Doc, bool)> = vec![(next.0, next.1, next.2, false)];
    let mut rest_idx = rest.len();
    loop {
        let Some((ind, mode, doc, in_rest)) = cmds.pop() else {
            // The rest of the line belongs to what follows the measured part.
            if rest_idx == 0 {
                return true;
            }
            rest_idx -= 1;
            match rest.get(rest_idx) {
                Some(&(i, m, d)) => {
                    cmds.push((i, m, d, true));
                    continue;
                }
                None => return true,
            }
        };
        match doc {
            Doc::Nil | Doc::BreakParent | Doc::LineSuffix(_) => {}
            Doc::Text(s) => {
                let first = s.split('\n').next().unwrap_or("");
                remaining -= first.chars().count() as isize;
                if remaining < 0 {
                    return false;
                }
                if s.contains('\n') {
                    return true;
                }
            }
            Doc::Line if mode == Mode::Flat => {
                remaining -= 1;
                if remaining < 0 {
                    return false;
                }
            }
            Doc::SoftLine if mode == Mode::Flat => {}
            Doc::Line | Doc::SoftLine | Doc::HardLine => return true,
            Doc::Indent(d, _) => cmds.push((ind, mode, d, in_rest)),
            Doc::Concat(parts, _) => {
                cmds.extend(parts.iter().rev().map(|d| (ind, mode, &**d, in_rest)))
            }
            Doc::Group(d, forced) => {
                cmds.push((ind, group_mode(*forced, mode, in_rest), d, in_rest))
            }
            Doc::Alt(states, forced) => {
                let m = group_mode(*forced, mode, in_rest);
                let pick = if m == Mode::Break {
                    states.last()
                } else {
                    states.first()
                };
                if let Some(s) = pick {
                    cmds.push((ind, m, s, in_rest));
                }
            }
            Doc::IfBreak(b, f) => {
                cmds.push((ind, mode, if mode == Mode::Break { b } else { f }, in_rest))
            }
        }
    }
}

/// How `fits` measures a group: broken when forced; in what is measured, flat; in what
/// follows, as its enclosing mode (a group there may still break).
fn group_mode(forced: bool, mode: Mode, in_rest: bool) -> Mode {
    if forced {
        Mode::Break
    } else if in_rest {
        mode
    } else {
        Mode::Flat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: &[&str]) -> D {
        let mut inner = vec![softline()];
        for (i, a) in args.iter().enumerate() {
            if i > 0 {
                inner.push(text(","));
                inner.push(line());
            }
            inner.push(text(*a));
        }
        inner.push(if_break(text(","), nil()));
        group(concat(vec![
            text(name),
            text("("),
            indent(concat(inner)),
            softline(),
            text(")"),
        ]))
    }

    #[test]
    fn groups_print_flat_when_they_fit() {
        assert_eq!(print(&call("f", &["a", "b"]), 20, 2), "f(a, b)");
    }

    #[test]
    fn groups_break_when_they_do_not_fit() {
        assert_eq!(
            print(&call("f", &["aaaa", "bbbb"]), 8, 2),
            "f(\n  aaaa,\n  bbbb,\n)"
        );
    }

    #[test]
    fn hard_lines_break_enclosing_groups_and_suffixes_wait_for_the_newline() {
        let d = group(concat(vec![
            text("{"),
            indent(concat(vec![
                line(),
                text("a"),
                line_suffix(" // c"),
                text(","),
                hardline(),
                text("b"),
            ])),
            line(),
            text("}"),
        ]));
        assert_eq!(print(&d, 80, 2), "{\n  a, // c\n  b\n}");
    }

    #[test]
    fn alternatives_take_the_first_that_fits() {
        let flat = text("xxxxxxxxxx");
        let second = concat(vec![text("xx"), hardline(), text("xx")]);
        assert_eq!(print(&alt(vec![flat, second.clone()]), 5, 2), "xx\nxx");
        assert_eq!(print(&alt(vec![text("ok"), second]), 5, 2), "ok");
    }

    #[test]
    fn no_trailing_whitespace_on_blank_lines() {
        let d = concat(vec![
            text("a"),
            indent(concat(vec![hardline(), hardline(), text("b")])),
        ]);
        assert_eq!(print(&d, 80, 2), "a\n\n  b");
    }
}
