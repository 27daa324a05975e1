//! pest pairs to AST. The grammar guarantees the shape of each pair, so a pair of an
//! unexpected shape is skipped rather than trusted; literal problems (bad escapes, overflow,
//! unknown duration units) become diagnostics.

use super::Rule;
use crate::ast::*;
use crate::diagnostic::{codes, Diagnostic};
use crate::span::{FileId, Span};
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use std::sync::OnceLock;

mod expr;
mod items;
mod leaves;
mod versions;

type P<'i> = Pair<'i, Rule>;

fn pratt() -> &'static PrattParser<Rule> {
    static PRATT: OnceLock<PrattParser<Rule>> = OnceLock::new();
    PRATT.get_or_init(|| {
        PrattParser::new()
            .op(Op::infix(Rule::or, Assoc::Left))
            .op(Op::infix(Rule::and, Assoc::Left))
            .op(Op::infix(Rule::eq, Assoc::Left) | Op::infix(Rule::ne, Assoc::Left))
            .op(Op::infix(Rule::lt, Assoc::Left)
                | Op::infix(Rule::le, Assoc::Left)
                | Op::infix(Rule::gt, Assoc::Left)
                | Op::infix(Rule::ge, Assoc::Left))
            .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
            .op(Op::infix(Rule::mul, Assoc::Left)
                | Op::infix(Rule::div, Assoc::Left)
                | Op::infix(Rule::rem, Assoc::Left))
            .op(Op::prefix(Rule::neg) | Op::prefix(Rule::not))
            .op(Op::postfix(Rule::method_call)
                | Op::postfix(Rule::field_access)
                | Op::postfix(Rule::index))
    })
}

pub(super) struct Builder {
    file: FileId,
    offset: usize,
    diagnostics: Vec<Diagnostic>,
    /// Where building stopped because the input nests deeper than the stack allows.
    too_deep_at: Option<usize>,
    /// Identifiers in the reserved namespace ([`RESERVED_PREFIX`]). Found by `ident`, which
    /// only borrows the builder (it is called from inside iterator chains).
    reserved: std::cell::RefCell<Vec<Ident>>,
    /// How many type expressions enclose the one being built.
    type_depth: usize,
}

/// The prefix of the names generated code gives its own variables and functions
/// (`compiler::codegen::names::internal`). A spec's name with it could collide with them, so
/// the prefix is reserved: every identifier starting with it is refused (U0008).
pub const RESERVED_PREFIX: &str = "__up_";

/// Stack the builder keeps in reserve: with less left, it stops descending and the item is
/// refused (U0007) instead of overflowing the stack. Constructs that nest without brackets
/// (`else if` chains, `let`, closures, quantifiers, `list<list<...>>`) reach here unbounded
/// by the chunker; pest's own guard only keeps 64 KiB for itself.
const STACK_RESERVE: usize = 256 * 1024;

impl Builder {
    pub(super) fn new(file: FileId, offset: usize) -> Self {
        Builder {
            file,
            offset,
            diagnostics: Vec::new(),
            too_deep_at: None,
            reserved: std::cell::RefCell::new(Vec::new()),
            type_depth: 0,
        }
    }

    pub(super) fn finish(self) -> Vec<Diagnostic> {
        let mut diagnostics = self.diagnostics;
        let mut seen = std::collections::BTreeSet::new();
        // Once per name: its uses after the first are echoes.
        for name in self.reserved.into_inner() {
            if !seen.insert(name.name.clone()) {
                continue;
            }
            diagnostics.push(
                Diagnostic::new(
                    codes::RESERVED_NAME,
                    self.file,
                    name.span,
                    format!("`{}` is a reserved name", name.name),
                )
                .label(format!(
                    "names beginning with `{RESERVED_PREFIX}` are reserved"
                ))
                .note("the generated plugin names its own variables and functions with this prefix")
                .help(format!(
                    "rename it, for example to `{}`",
                    name.name.trim_start_matches('_')
                )),
            );
        }
        diagnostics
    }

    /// The pair inside `pair` when `pair` is the rule `wrapper` (a rule that wraps one of
    /// several alternatives), else `pair` itself; `None` for a wrapper with nothing inside.
    fn unwrapped<'i>(pair: P<'i>, wrapper: Rule) -> Option<P<'i>> {
        if pair.as_rule() == wrapper {
            pair.into_inner().next()
        } else {
            Some(pair)
        }
    }

    /// The pair's span without the whitespace pest's implicit skipping leaves at its end.
    fn span(&self, pair: &P<'_>) -> Span {
        let s = pair.as_span();
        let len = significant_len(pair.as_str());
        Span::new(s.start(), s.start() + len).shift(self.offset)
    }

    /// Reports the error `code` at `span`, with the labels, notes and help `with` adds.
    fn error(
        &mut self,
        code: crate::diagnostic::Code,
        span: Span,
        message: String,
        with: impl FnOnce(Diagnostic) -> Diagnostic,
    ) {
        self.diagnostics
            .push(with(Diagnostic::new(code, self.file, span, message)));
    }

    pub(super) fn header(&mut self, pair: P<'_>) -> (Ident, Number, Number, Span) {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident_opt(inner.next());
        let before = self.diagnostics.len();
        let from = self.number_opt(inner.next());
        let to = self.number_opt(inner.next());
        if self.diagnostics.len() > before {
            // An overflowing version was already reported; its placeholder value says nothing.
        } else if to.value <= from.value {
            self.error(
                codes::VERSIONS_NOT_ASCENDING,
                from.span.to(to.span),
                format!(
                    "upgrade from version {} to version {} does not go forward",
                    from.value, to.value
                ),
                |d| {
                    d.label("the target version must be newer").help(format!(
                        "a spec upgrades to the next version: write `{} -> {}`",
                        to.value,
                        to.value.saturating_add(1)
                    ))
                },
            );
        } else if to.value != from.value.saturating_add(1) {
            self.error(
                codes::VERSIONS_NOT_ADJACENT,
                from.span.to(to.span),
                format!(
                    "upgrade from version {} to version {} skips versions",
                    from.value, to.value
                ),
                |d| {
                    d.label("not adjacent versions").help(format!(
                        "write one spec per step (`{} -> {}`, ...) and give them together: \
                         chains compose",
                        from.value,
                        from.value.saturating_add(1)
                    ))
                },
            );
        }
        (name, from, to, span)
    }

    pub(super) fn item(&mut self, pair: P<'_>) -> Option<Item> {
        Some(match pair.as_rule() {
            Rule::protocol => Item::Protocol(self.protocol(pair)),
            Rule::version_block => Item::Version(self.version_block(pair)),
            Rule::invariant => Item::Invariant(self.invariant(pair)),
            Rule::transform => Item::Transform(self.transform(pair)),
            Rule::rule_block => Item::Rules(self.rule_block(pair)),
            Rule::schedule => Item::Schedule(self.schedule(pair)),
            Rule::function => Item::Function(self.function(pair)),
            _ => return None,
        })
    }
}

/// The length of `text` without the whitespace and comments pest's implicit skipping leaves at
/// its end (a rule that ends in an optional part swallows the trivia before it).
fn significant_len(text: &str) -> usize {
    let trimmed = text.trim_end().len();
    if !text.contains("//") && !text.contains("/*") {
        return trimmed;
    }
    let bytes = text.as_bytes();
    let mut end = 0;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if let Some(after) = super::chunk::comment_end(bytes, i) {
            i = after;
            continue;
        }
        match b {
            b'"' => {
                i = super::chunk::string_end(bytes, i);
                end = i;
            }
            c if c.is_ascii_whitespace() => i += 1,
            _ => {
                i += 1;
                end = i;
            }
        }
    }
    end.min(text.len())
}

#[cfg(test)]
mod tests {
    use super::significant_len;

    #[test]
    fn trailing_trivia_is_not_significant() {
        assert_eq!(significant_len("fn a() -> u64  \n"), 13);
        assert_eq!(significant_len("fn a() // note\n  "), 6);
        assert_eq!(significant_len("x /* c */ y /* d */"), 11);
        assert_eq!(significant_len("\"a // b\" // c"), 8);
        assert_eq!(significant_len("é // c"), 2);
    }
}

#[cfg(test)]
mod name_tests {
    use crate::ast::{Decl, Item};
    use crate::span::FileId;

    fn parse(text: &str) -> crate::Parsed {
        crate::parse(FileId(0), text)
    }

    #[test]
    fn escaped_keywords_are_names_and_changed_is_a_mark_or_a_name() {
        let p = parse(
            "upgrade t 1 -> 2\nversion 2 { record R { changed r#in: u64, changed: bool, changedx: u64 } \
             service S { changed fn r#exists() -> bool  fn changed() -> bool } }",
        );
        assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
        let spec = p.spec.expect("spec");
        let Some(Item::Version(v)) = spec.items.first() else {
            panic!("no version")
        };
        let (Some(Decl::Record(r)), Some(Decl::Service(s))) = (v.decls.first(), v.decls.get(1))
        else {
            panic!("no record and service")
        };
        let fields: Vec<(bool, &str)> = r
            .fields
            .iter()
            .map(|f| (f.changed.is_some(), f.name.name.as_str()))
            .collect();
        assert_eq!(
            fields,
            [(true, "in"), (false, "changed"), (false, "changedx")]
        );
        let methods: Vec<(bool, &str)> = s
            .methods
            .iter()
            .map(|m| (m.changed.is_some(), m.name.name.as_str()))
            .collect();
        assert_eq!(methods, [(true, "exists"), (false, "changed")]);
    }

    #[test]
    fn a_missing_name_is_asked_for_in_words() {
        let p = parse("upgrade t 1 -> 2\nversion 1 { record { } }");
        let messages: Vec<String> = p
            .diagnostics
            .iter()
            .map(|d| format!("{} / {}", d.message, d.primary.message))
            .collect();
        assert_eq!(messages, ["unexpected `{` / expected a name"]);
    }
}
