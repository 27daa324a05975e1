//! The layout of the file and its items: the header, then each item after one blank line;
//! declarations, fields, variants, methods, rules, clauses and schedule settings one per line,
//! two spaces deeper than their block; fields, variants and transform assignments end with a
//! comma. Method parameters, protocol options and nested schedule blocks stay on one line when
//! they fit.

use super::comments::Blank;
use super::doc::{concat, group, hardline, if_break, indent, line, nil, softline, text, D};
use super::Fmt;
use lang::ast::*;
use lang::span::Span;

/// How a list's elements are separated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sep {
    /// Nothing between elements (methods, rules, clauses, settings).
    None,
    /// A comma after every element, the last one too when the list is broken.
    Comma,
    /// Expressions one per line: a `;` where the next one would otherwise continue the
    /// previous (`a` then `-b` reads as `a - b`, `f` then `(x)` as `f(x)`).
    Semicolon,
}

impl Fmt<'_> {
    pub(super) fn spec(&mut self, spec: &Spec) -> D {
        let mut parts = vec![self.c.gap(spec.header_span.start, nil(), Blank::First)];
        parts.push(text(format!(
            "upgrade {} {} -> {}",
            spec.name.name,
            self.number(&spec.from),
            self.number(&spec.to)
        )));
        self.c.mark(spec.header_span.end);
        for item in &spec.items {
            parts.push(self.c.gap(item.span().start, hardline(), Blank::Always));
            parts.push(self.item(item));
            self.c.mark(item.span().end);
        }
        parts.push(self.c.dangling(self.src.len(), Blank::Keep));
        parts.push(hardline());
        concat(parts)
    }

    fn number(&self, n: &Number) -> String {
        let src = self.source(n.span);
        if !src.is_empty() && src.chars().all(|c| c.is_ascii_digit() || c == '_') {
            src.to_string()
        } else {
            n.value.to_string()
        }
    }

    fn item(&mut self, item: &Item) -> D {
        match item {
            Item::Protocol(p) => {
                let head = text(format!("protocol {} ", p.name.name));
                let body = self.soft_list(
                    ("{", "}"),
                    true,
                    &p.options,
                    |(k, v)| k.span.to(v.span),
                    close_of(p.span),
                    |_, (k, v)| text(format!("{}: {}", k.name, v.name)),
                );
                concat(vec![head, body])
            }
            Item::Version(v) => {
                let head = text(format!("version {} ", self.number(&v.number)));
                let body =
                    self.hard_block(&v.decls, decl_span, Sep::None, close_of(v.span), Self::decl);
                concat(vec![head, body])
            }
            Item::Invariant(i) => {
                let head = text(format!("invariant ({}, {}) ", i.old.name, i.new.name));
                let body = self.hard_block(
                    &i.clauses,
                    |e| e.span,
                    Sep::Semicolon,
                    close_of(i.span),
                    |f, e| f.top_expr(e),
                );
                concat(vec![head, body])
            }
            Item::Transform(t) => {
                let head = text(format!("transform ({}) -> {} ", t.old.name, t.new.name));
                let body = self.hard_block(
                    &t.fields,
                    |fi| fi.span,
                    Sep::Comma,
                    close_of(t.span),
                    Self::field_init,
                );
                concat(vec![head, body])
            }
            Item::Rules(r) => {
                let head = text(format!("{} {} ", r.kind.keyword(), r.service.written()));
                let body = self.hard_block(
                    &r.rules,
                    |r| r.span,
                    Sep::None,
                    close_of(r.span),
                    Self::rule,
                );
                concat(vec![head, body])
            }
            Item::Schedule(s) => {
                let body = self.hard_block(
                    &s.entries,
                    |e| e.span,
                    Sep::None,
                    close_of(s.span),
                    Self::sched_entry,
                );
                concat(vec![text("schedule "), body])
            }
            Item::Function(f) => {
                let params = self.params(&f.name, &f.params, f.ret.span.start);
                concat(vec![
                    text(format!("fn {}", f.name.written())),
                    params,
                    text(format!(" -> {} = ", type_text(&f.ret))),
                    self.top_expr(&f.body),
                ])
            }
        }
    }

    fn decl(&mut self, d: &Decl) -> D {
        match d {
            Decl::Record(r) => {
                let body = self.hard_block(
                    &r.fields,
                    |f| f.span,
                    Sep::Comma,
                    close_of(r.span),
                    Self::field,
                );
                concat(vec![text(format!("record {} ", r.name.written())), body])
            }
            Decl::Enum(e) => {
                let body = self.hard_block(
                    &e.variants,
                    |v| v.span,
                    Sep::Comma,
                    close_of(e.span),
                    |_, v| match &v.payload {
                        Some(t) => text(format!("{}({})", v.name.written(), type_text(t))),
                        None => text(v.name.written().into_owned()),
                    },
                );
                concat(vec![text(format!("enum {} ", e.name.written())), body])
            }
            Decl::Service(s) => {
                let body = self.hard_block(
                    &s.methods,
                    |m| m.span,
                    Sep::None,
                    close_of(s.span),
                    Self::method,
                );
                concat(vec![text(format!("service {} ", s.name.written())), body])
            }
            Decl::State(s) => {
                // With a `where` block, the fields' block closes before it.
                let fields_close = s
                    .wellformed
                    .as_ref()
                    .and_then(|w| self.find_last_punct(s.span.start, w.span.start, "}"))
                    .unwrap_or(close_of(s.span));
                let body =
                    self.hard_block(&s.fields, |f| f.span, Sep::Comma, fields_close, Self::field);
                let head = match s.storage {
                    Some(kind) => format!("state {} ", kind.name()),
                    None => "state ".to_owned(),
                };
                let mut parts = vec![text(head), body];
                if let Some(w) = &s.wellformed {
                    parts.push(text(" where "));
                    parts.push(self.hard_block(
                        &w.clauses,
                        |e| e.span,
                        Sep::Semicolon,
                        close_of(w.span),
                        |f, e| f.top_expr(e),
                    ));
                }
                concat(parts)
            }
        }
    }

    fn field(&mut self, f: &Field) -> D {
        let changed = if f.changed.is_some() { "changed " } else { "" };
        let renamed = f.renamed_from.as_ref().map_or(String::new(), |old| {
            format!(" renamed from {}", old.written())
        });
        text(format!(
            "{changed}{}: {}{renamed}",
            f.name.written(),
            type_text(&f.ty)
        ))
    }

    /// The parameter list `(a: T, ...)` of a function or method called `name`, whose `)` comes
    /// before byte `end`.
    fn params(&mut self, name: &Ident, params: &[Field], end: usize) -> D {
        let after = params.last().map_or(name.span.end, |p| p.span.end);
        let close = self.find_punct(after, end, ")").unwrap_or(after);
        self.soft_list(("(", ")"), false, params, |p| p.span, close, Self::field)
    }

    fn method(&mut self, m: &MethodDecl) -> D {
        let params = self.params(&m.name, &m.params, m.span.end);
        let ret = match &m.ret {
            Some(t) => text(format!(" -> {}", type_text(t))),
            None => nil(),
        };
        let model = match &m.model {
            Some(model) => self.method_model(model),
            None => nil(),
        };
        let changed = if m.changed.is_some() { "changed " } else { "" };
        let renamed = match &m.renamed_from {
            Some(old) => text(format!(" renamed from {}", old.written())),
            None => nil(),
        };
        concat(vec![
            text(format!("{changed}fn {}", m.name.written())),
            params,
            ret,
            renamed,
            model,
        ])
    }

    /// ` = expr`, or ` {` with one statement per line (a `;` after each but a last one
    /// without a result after it) and the result last, then `}`.
    fn method_model(&mut self, model: &MethodModel) -> D {
        if !model.block {
            return match &model.result {
                Some(e) => concat(vec![text(" = "), self.top_expr(e)]),
                None => nil(),
            };
        }
        let mut parts: Vec<ModelPart<'_>> = model.stmts.iter().map(ModelPart::Stmt).collect();
        parts.extend(model.result.as_ref().map(ModelPart::Result));
        let last = parts.len().saturating_sub(1);
        let mut index = 0;
        let body = self.hard_block(
            &parts,
            ModelPart::span,
            Sep::None,
            close_of(model.span),
            |f, part| {
                let semi = index < last || matches!(part, ModelPart::Stmt(ModelStmt::Let { .. }));
                index += 1;
                let semi = if semi { text(";") } else { nil() };
                match part {
                    ModelPart::Stmt(ModelStmt::Let { name, value, .. }) => concat(vec![
                        text(format!("let {} = ", name.written())),
                        f.top_expr(value),
                        semi,
                    ]),
                    ModelPart::Stmt(ModelStmt::Assign { field, value, .. }) => concat(vec![
                        text(format!("state.{} = ", field.written())),
                        f.top_expr(value),
                        semi,
                    ]),
                    ModelPart::Result(e) => f.top_expr(e),
                }
            },
        );
        concat(vec![text(" "), body])
    }

    fn rule(&mut self, r: &Rule) -> D {
        let params: Vec<_> = r.params.iter().map(|p| p.written()).collect();
        let allow = if r.allow.is_empty() {
            String::new()
        } else {
            let names: Vec<&str> = r.allow.iter().map(|a| a.name.as_str()).collect();
            format!("#[allow({})] ", names.join(", "))
        };
        let differs = if r.differs.is_empty() {
            String::new()
        } else {
            let names: Vec<&str> = r.differs.iter().map(|a| a.name.as_str()).collect();
            format!("#[differs({})] ", names.join(", "))
        };
        let head = text(format!(
            "{allow}{differs}{}({}) = ",
            r.method.written(),
            params.join(", ")
        ));
        concat(vec![head, self.top_expr(&r.body)])
    }

    pub(super) fn field_init(&mut self, fi: &FieldInit) -> D {
        concat(vec![
            text(format!("{}: ", fi.name.written())),
            self.top_expr(&fi.value),
        ])
    }

    fn sched_entry(&mut self, e: &SchedEntry) -> D {
        match &e.value.kind {
            SchedValueKind::Block(entries) => {
                let body = self.soft_list(
                    ("{", "}"),
                    true,
                    entries,
                    |e| e.span,
                    close_of(e.value.span),
                    Self::sched_entry,
                );
                concat(vec![text(format!("{} ", e.key.name)), body])
            }
            _ => text(format!("{}: {}", e.key.name, self.sched_value(&e.value))),
        }
    }

    fn sched_value(&self, v: &SchedValue) -> String {
        let src = self.source(v.span);
        match &v.kind {
            SchedValueKind::Int(n) => int_token(src, n),
            SchedValueKind::Duration(ms) => {
                let digits = src.trim_end_matches(|c: char| c.is_ascii_alphabetic());
                let valid = !digits.is_empty()
                    && digits.len() < src.len()
                    && digits.chars().all(|c| c.is_ascii_digit() || c == '_');
                if valid {
                    src.to_string()
                } else {
                    format!("{ms}ms")
                }
            }
            SchedValueKind::Ident(name) => name.clone(),
            SchedValueKind::Str(s) => string_token(src, s),
            SchedValueKind::Then(count, action) => {
                format!("{} then {}", self.sched_value(count), action.name)
            }
            SchedValueKind::Range(a, b) => format!("{} .. {}", escape(a), escape(b)),
            SchedValueKind::Block(_) => String::new(),
        }
    }

    /// `{`, the elements one per line, `}`; `{}` when there is nothing, comments included.
    pub(super) fn hard_block<T>(
        &mut self,
        items: &[T],
        span_of: impl Fn(&T) -> Span,
        sep: Sep,
        close: usize,
        mut each: impl FnMut(&mut Self, &T) -> D,
    ) -> D {
        if items.is_empty() && !self.c.any_in(0, close) {
            return text("{}");
        }
        let mut inner = Vec::new();
        let mut after_previous = None;
        for (i, item) in items.iter().enumerate() {
            let span = span_of(item);
            let blank = if i == 0 { Blank::First } else { Blank::Keep };
            inner.push(self.c.gap(span.start, hardline(), blank));
            let doc = each(self, item);
            if let (Sep::Semicolon, Some(at)) = (sep, after_previous) {
                if continues_expression(&doc) {
                    inner.insert(at, text(";"));
                }
            }
            inner.push(doc);
            if sep == Sep::Comma {
                inner.push(text(","));
            }
            after_previous = Some(inner.len());
            self.c.mark(span.end);
        }
        let blank = if items.is_empty() {
            Blank::Never
        } else {
            Blank::Keep
        };
        inner.push(self.c.dangling(close, blank));
        concat(vec![
            text("{"),
            indent(concat(inner)),
            hardline(),
            text("}"),
        ])
    }

    /// `open`, the elements separated by commas, `close`: on one line if it fits (with spaces
    /// inside the brackets when `spaced`), else one element per line with a trailing comma.
    pub(super) fn soft_list<T>(
        &mut self,
        (open, close_text): (&str, &str),
        spaced: bool,
        items: &[T],
        span_of: impl Fn(&T) -> Span,
        close: usize,
        mut each: impl FnMut(&mut Self, &T) -> D,
    ) -> D {
        let edge = if spaced { line } else { softline };
        if items.is_empty() {
            if !self.c.any_in(0, close) {
                return text(format!("{open}{close_text}"));
            }
            let dangling = self.c.dangling(close, Blank::Never);
            return group(concat(vec![
                text(open),
                indent(dangling),
                softline(),
                text(close_text),
            ]));
        }
        let mut inner = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let span = span_of(item);
            if i > 0 {
                inner.push(text(","));
            }
            inner.push(self.c.gap(
                span.start,
                if i == 0 { edge() } else { line() },
                Blank::Never,
            ));
            inner.push(each(self, item));
            self.c.mark(span.end);
        }
        if close_text != ")" {
            // Not before `)`: the parser reads `(f(a,))` as a one-element tuple.
            inner.push(if_break(text(","), nil()));
        }
        inner.push(self.c.dangling(close, Blank::Never));
        group(concat(vec![
            text(open),
            indent(concat(inner)),
            edge(),
            text(close_text),
        ]))
    }
}

/// Whether a printed expression starts with a token that would continue the expression before
/// it: `(` (a call), `[` (indexing), `{` (a record body), `-` or `|` (`||`, an operator).
fn continues_expression(doc: &super::doc::Doc) -> bool {
    let printed = super::doc::print(doc, super::WIDTH, super::INDENT);
    matches!(
        printed.trim_start().chars().next(),
        Some('(' | '[' | '{' | '-' | '|' | '.')
    )
}

/// The position of the closing bracket of a node whose span ends with it.
pub(super) fn close_of(span: Span) -> usize {
    span.end.saturating_sub(1).max(span.start)
}

fn decl_span(d: &Decl) -> Span {
    match d {
        Decl::Record(r) => r.span,
        Decl::Enum(e) => e.span,
        Decl::Service(s) => s.span,
        Decl::State(s) => s.span,
    }
}

/// A type as written: `map<string, v1::Item>`, `(u64, string)`.
pub fn type_text(t: &TypeExpr) -> String {
    match &t.kind {
        TypeExprKind::Named { path, args } => {
            let mut s = path_text(path);
            if !args.is_empty() {
                let args: Vec<String> = args.iter().map(type_text).collect();
                s.push('<');
                s.push_str(&args.join(", "));
                s.push('>');
            }
            s
        }
        TypeExprKind::Tuple(items) => {
            let inner: Vec<String> = items.iter().map(type_text).collect();
            if items.len() == 1 {
                format!("({},)", inner.join(""))
            } else {
                format!("({})", inner.join(", "))
            }
        }
    }
}

/// `a::b::c`
pub(super) fn path_text(path: &[Ident]) -> String {
    path.iter()
        .map(|i| i.written())
        .collect::<Vec<_>>()
        .join("::")
}

/// An integer as written when it is plain digits (`_` allowed), else its value.
pub(super) fn int_token(src: &str, value: impl std::fmt::Display) -> String {
    if !src.is_empty() && src.chars().all(|c| c.is_ascii_digit() || c == '_') {
        src.to_string()
    } else {
        value.to_string()
    }
}

/// A string literal: its source text when that is a whole string token, else `value` escaped.
pub(super) fn string_token(src: &str, value: &str) -> String {
    if src.len() >= 2 && src.starts_with('"') && src.ends_with('"') && !src.contains('\n') {
        src.to_string()
    } else {
        escape(value)
    }
}

/// `value` as a string literal.
pub fn escape(value: &str) -> String {
    let mut s = String::with_capacity(value.len() + 2);
    s.push('"');
    for c in value.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            '\0' => s.push_str("\\0"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

/// A statement or the result of a block model, laid out one per line.
enum ModelPart<'a> {
    Stmt(&'a ModelStmt),
    Result(&'a Expr),
}

impl ModelPart<'_> {
    fn span(&self) -> Span {
        match self {
            ModelPart::Stmt(s) => s.span(),
            ModelPart::Result(e) => e.span,
        }
    }
}
