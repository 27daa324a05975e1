//! The layout of expressions: on one line when they fit; otherwise binary chains break before
//! their operators, argument lists and literals one element per line, `if`, `match` and blocks
//! over several lines, and a call whose last argument is a closure, record, block or list
//! "hugs" it (`map(xs, |x| Item {` ... `})`). Chains of three or more method calls break
//! before each `.`.
//!
//! The tree has no parentheses: they are printed where precedence needs them, where the source
//! had them (a parenthesized expression's span covers its parentheses), and around `call`,
//! `if` and `match` before a `.`, for clarity. Blocks `{ ... }` likewise come from the source.
//! Literals keep their source spelling (`1_000`, escapes, `30s`).

use super::comments::Blank;
use super::doc::{
    alt, broken_group, concat, group, hardline, indent, line, nil, softline, text, D,
};
use super::items::{close_of, int_token, path_text, string_token};
use super::Fmt;
use lang::ast::*;

mod blocks;

/// An expression's document, and when it can hug the end of an argument list, the document
/// whose outer group is broken (`|x| Item {` newline ... `}`).
pub(super) struct Ex {
    pub doc: D,
    pub hug: Option<D>,
}

impl Ex {
    fn plain(doc: D) -> Self {
        Ex { doc, hug: None }
    }
}

/// Where an expression stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pos {
    /// Anywhere else: an argument, a body, a value.
    Top,
    /// Before `.field`, `[index]` or `.method(...)`.
    Receiver,
    /// A binary operand at the given precedence.
    Left(u8),
    Right(u8),
    /// After `-` or `!`.
    Operand,
}

#[derive(Debug, Clone, Copy)]
struct Ctx {
    pos: Pos,
    /// Nothing follows the expression up to its closing delimiter, so an expression that
    /// extends as far right as it can (a closure, a quantifier, `let` without braces) needs no
    /// parentheses.
    tail: bool,
    /// The enclosing syntax already printed this expression's braces (an `if` branch).
    braces_done: bool,
}

const TOP: Ctx = Ctx {
    pos: Pos::Top,
    tail: true,
    braces_done: false,
};

impl Fmt<'_> {
    /// An expression in a position where nothing follows it (a rule body, a clause, a value).
    /// `items` between `brackets`, one a line when they do not fit (a non-empty list hugs: it
    /// may open on the line of what holds it).
    fn expr_list(&mut self, brackets: (&str, &str), items: &[Expr], close: usize) -> Ex {
        let doc = self.soft_list(
            brackets,
            false,
            items,
            |i| i.span,
            close,
            |f, i| f.top_expr(i),
        );
        let hug = (!items.is_empty()).then(|| force(&doc));
        Ex { doc, hug }
    }

    pub(super) fn top_expr(&mut self, e: &Expr) -> D {
        self.expr(e, TOP).doc
    }

    /// Whether the source wraps `e` in a pair of parentheses of its own.
    fn source_parens(&self, e: &Expr) -> bool {
        if matches!(e.kind, ExprKind::Tuple(_) | ExprKind::Lit(Lit::Unit)) {
            return false;
        }
        let src = self.source(e.span);
        if !src.starts_with('(') || !src.ends_with(')') {
            return false;
        }
        // The `(` at the start must close at the very end.
        let mut depth = 0usize;
        for t in lang::lex::tokens(src) {
            if t.kind != lang::lex::TokenKind::Punct {
                continue;
            }
            match t.text(src) {
                "(" => depth += 1,
                ")" => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return t.end == src.len();
                    }
                }
                _ => {}
            }
        }
        false
    }

    /// Whether the source writes `e` as a block `{ ... }`.
    fn braced(&self, e: &Expr) -> bool {
        let src = self.source(e.span);
        if let ExprKind::Map(entries) = &e.kind {
            // A map's own `{` is not a block's: braced when another comes before its first key.
            let upto = entries.first().map_or(src.len(), |(k, _)| {
                k.span.start.saturating_sub(e.span.start)
            });
            let head = src.get(..upto).unwrap_or(src);
            return head.matches('{').count() > 1;
        }
        src.starts_with('{')
    }

    fn is_bare_let(&self, e: &Expr, ctx: Ctx) -> bool {
        matches!(e.kind, ExprKind::Let { .. }) && !ctx.braces_done && !self.braced(e)
    }

    fn needs_parens(&self, e: &Expr, ctx: Ctx) -> bool {
        let greedy = matches!(e.kind, ExprKind::Closure { .. } | ExprKind::Quant { .. })
            || self.is_bare_let(e, ctx);
        if greedy && !ctx.tail {
            return true;
        }
        match (&e.kind, ctx.pos) {
            (ExprKind::Binary(op, ..), Pos::Left(p)) => op.precedence() < p,
            (ExprKind::Binary(op, ..), Pos::Right(p)) => op.precedence() <= p,
            (ExprKind::Binary(..), Pos::Operand) => true,
            (k, Pos::Receiver) if !self.braced(e) || ctx.braces_done => matches!(
                k,
                ExprKind::Unary(..)
                    | ExprKind::Binary(..)
                    | ExprKind::If { .. }
                    | ExprKind::Match { .. }
                    | ExprKind::Delegate { .. }
                    | ExprKind::Disallow(_)
                    | ExprKind::Closure { .. }
                    | ExprKind::Quant { .. }
                    | ExprKind::Let { .. }
            ),
            _ => false,
        }
    }

    fn expr(&mut self, e: &Expr, ctx: Ctx) -> Ex {
        let parens = !ctx.braces_done && (self.source_parens(e) || self.needs_parens(e, ctx));
        if parens {
            let inner = self.expr_inner(e, TOP);
            return Ex::plain(concat(vec![text("("), inner.doc, text(")")]));
        }
        if !ctx.braces_done && self.braced(e) && !matches!(e.kind, ExprKind::Let { .. }) {
            // `{ x }`: a block without `let`s.
            let inner = self.expr(
                e,
                Ctx {
                    braces_done: true,
                    ..TOP
                },
            );
            let dangling = self.c.dangling(close_of(e.span), Blank::Never);
            let body = concat(vec![line(), inner.doc, dangling]);
            let doc = |g: fn(D) -> D| {
                g(concat(vec![
                    text("{"),
                    indent(body.clone()),
                    line(),
                    text("}"),
                ]))
            };
            return Ex {
                doc: doc(group),
                hug: Some(doc(broken_group)),
            };
        }
        self.expr_inner(e, ctx)
    }

    fn expr_inner(&mut self, e: &Expr, ctx: Ctx) -> Ex {
        match &e.kind {
            ExprKind::Lit(l) => Ex::plain(text(self.lit(l, e))),
            ExprKind::Var(i) => Ex::plain(text(i.written().into_owned())),
            ExprKind::Variant { path, payload } => {
                let head = text(path_text(path));
                match payload {
                    Some(p) => self.call(head, std::slice::from_ref(&**p), close_of(e.span)),
                    None => Ex::plain(head),
                }
            }
            ExprKind::Field(..) | ExprKind::Index(..) => self.chain(e),
            ExprKind::Builtin { name, args } => match args.first() {
                Some(first) if first.span.start < name.span.start => self.chain(e),
                _ => self.call(text(name.written().into_owned()), args, close_of(e.span)),
            },
            ExprKind::Delegate { method, args } => self.call(
                text(format!("call {}", method.written())),
                args,
                close_of(e.span),
            ),
            ExprKind::Disallow(reason) => {
                let src = self.source(e.span);
                let token = src.find('"').and_then(|i| src.get(i..)).unwrap_or("");
                Ex::plain(text(format!("disallow {}", string_token(token, reason))))
            }
            ExprKind::Record { path, fields } => {
                let body = self.soft_list(
                    ("{", "}"),
                    true,
                    fields,
                    |f| f.span,
                    close_of(e.span),
                    Self::field_init,
                );
                let head = text(format!("{} ", path_text(path)));
                let hug = if fields.is_empty() {
                    None
                } else {
                    Some(concat(vec![head.clone(), force(&body)]))
                };
                Ex {
                    doc: concat(vec![head, body]),
                    hug,
                }
            }
            ExprKind::Tuple(items) => {
                let doc = if items.len() == 1 {
                    // `(a,)`: the comma makes it a tuple.
                    let item = self.expr(items.first().map_or(e, |i| i), TOP).doc;
                    group(concat(vec![
                        text("("),
                        indent(concat(vec![softline(), item, text(",")])),
                        softline(),
                        text(")"),
                    ]))
                } else {
                    return self.expr_list(("(", ")"), items, close_of(e.span));
                };
                let hug = Some(force(&doc));
                Ex { doc, hug }
            }
            ExprKind::List(items) => self.expr_list(("[", "]"), items, close_of(e.span)),
            ExprKind::Map(entries) => {
                let doc = self.soft_list(
                    ("{", "}"),
                    false,
                    entries,
                    |(k, v)| k.span.to(v.span),
                    close_of(e.span),
                    |f, (k, v)| concat(vec![f.top_expr(k), text(": "), f.top_expr(v)]),
                );
                let hug = (!entries.is_empty()).then(|| force(&doc));
                Ex { doc, hug }
            }
            ExprKind::Unary(op, operand) => {
                let sym = match op {
                    UnOp::Neg => "-",
                    UnOp::Not => "!",
                };
                let inner = self.expr(
                    operand,
                    Ctx {
                        pos: Pos::Operand,
                        tail: ctx.tail,
                        braces_done: false,
                    },
                );
                Ex::plain(concat(vec![text(sym), inner.doc]))
            }
            ExprKind::Binary(..) => Ex::plain(self.binary(e, ctx)),
            ExprKind::If { .. } => {
                let doc = self.if_expr(e);
                Ex {
                    hug: Some(force(&doc)),
                    doc,
                }
            }
            ExprKind::Match { scrutinee, arms } => {
                let head = self
                    .expr(
                        scrutinee,
                        Ctx {
                            pos: Pos::Top,
                            tail: false,
                            braces_done: false,
                        },
                    )
                    .doc;
                let body = self.soft_list(
                    ("{", "}"),
                    true,
                    arms,
                    |a| a.span,
                    close_of(e.span),
                    |f, a| {
                        concat(vec![
                            text(format!("{} => ", pattern_text(f, &a.pattern))),
                            f.top_expr(&a.body),
                        ])
                    },
                );
                let head = concat(vec![text("match "), head, text(" ")]);
                let hug = Some(concat(vec![head.clone(), force(&body)]));
                Ex {
                    doc: concat(vec![head, body]),
                    hug,
                }
            }
            ExprKind::Let { .. } => {
                if ctx.braces_done {
                    Ex::plain(self.statements(e, ctx, Block::Inner))
                } else if self.braced(e) {
                    let doc = self.statements(e, ctx, Block::Braced);
                    Ex {
                        hug: Some(doc.clone()),
                        doc,
                    }
                } else {
                    Ex::plain(self.statements(e, ctx, Block::Bare))
                }
            }
            ExprKind::Closure { params, body } => {
                let names: Vec<_> = params.iter().map(|p| p.written()).collect();
                let head = text(format!("|{}| ", names.join(", ")));
                let body = self.expr(
                    body,
                    Ctx {
                        pos: Pos::Top,
                        tail: ctx.tail,
                        braces_done: false,
                    },
                );
                let hug = body.hug.map(|h| concat(vec![head.clone(), h]));
                Ex {
                    doc: concat(vec![head, body.doc]),
                    hug,
                }
            }
            ExprKind::Quant {
                kind,
                var,
                domain,
                body,
            } => {
                let kw = kind.keyword();
                let domain = self
                    .expr(
                        domain,
                        Ctx {
                            pos: Pos::Top,
                            tail: false,
                            braces_done: false,
                        },
                    )
                    .doc;
                let body_ex = self.expr(
                    body,
                    Ctx {
                        pos: Pos::Top,
                        tail: ctx.tail,
                        braces_done: false,
                    },
                );
                let head = concat(vec![
                    text(format!("{kw} {} in ", var.written())),
                    domain,
                    text(":"),
                ]);
                let doc = match body_ex.hug {
                    // A block, `match` or record body starts on the same line.
                    Some(_) if !matches!(body.kind, ExprKind::Closure { .. }) => {
                        concat(vec![head, text(" "), body_ex.doc])
                    }
                    _ => group(concat(vec![
                        head,
                        indent(concat(vec![line(), body_ex.doc])),
                    ])),
                };
                Ex::plain(doc)
            }
        }
    }

    fn lit(&self, l: &Lit, e: &Expr) -> String {
        let src = self.source(e.span);
        match l {
            Lit::Int(n) => int_token(src, n),
            Lit::Float(f) => {
                let well_formed = src.split_once('.').is_some_and(|(a, b)| {
                    !a.is_empty()
                        && !b.is_empty()
                        && a.chars().all(|c| c.is_ascii_digit())
                        && b.chars().all(|c| c.is_ascii_digit())
                });
                if well_formed {
                    src.to_string()
                } else {
                    float_text(*f)
                }
            }
            Lit::Str(s) => string_token(src, s),
            Lit::Bool(b) => b.to_string(),
            Lit::None => "none".to_string(),
            Lit::Unit => "()".to_string(),
        }
    }

    /// `name(args)`: flat; or hugging a last argument that can hug; or one argument per line.
    fn call(&mut self, head: D, args: &[Expr], close: usize) -> Ex {
        // Comments placed between the arguments rule out hugging (its layout has no breaks
        // between them).
        let mut own_comments = 0;
        let mut docs = Vec::new();
        let mut inner = Vec::new();
        for (i, a) in args.iter().enumerate() {
            if i > 0 {
                inner.push(text(","));
            }
            let before = self.c.remaining();
            inner.push(self.c.gap(
                a.span.start,
                if i == 0 { softline() } else { line() },
                Blank::Never,
            ));
            own_comments += before - self.c.remaining();
            let ex = self.expr(a, TOP);
            inner.push(ex.doc.clone());
            docs.push(ex);
            self.c.mark(a.span.end);
        }
        if args.is_empty() {
            if !self.c.any_in(0, close) {
                return Ex::plain(concat(vec![head, text("()")]));
            }
            // A comment here breaks the line after `(`, so it stays inside the parentheses.
            let dangling = self.c.dangling(close, Blank::Never);
            return Ex::plain(concat(vec![
                head,
                group(concat(vec![
                    text("("),
                    indent(dangling),
                    softline(),
                    text(")"),
                ])),
            ]));
        }
        // No trailing comma when broken: the parser reads `(f(a,))` as a one-element tuple.
        let before = self.c.remaining();
        inner.push(self.c.dangling(close, Blank::Never));
        own_comments += before - self.c.remaining();
        let commented = own_comments > 0;
        let list = concat(vec![
            text("("),
            indent(concat(inner)),
            softline(),
            text(")"),
        ]);
        let hugged = match docs.split_last() {
            Some((last, rest)) if !commented && rest.iter().all(|d| d.hug.is_none()) => {
                last.hug.as_ref().map(|h| {
                    let mut parts = vec![text("(")];
                    for d in rest {
                        parts.push(d.doc.clone());
                        parts.push(text(", "));
                    }
                    parts.push(h.clone());
                    parts.push(text(")"));
                    concat(parts)
                })
            }
            _ => None,
        };
        match hugged {
            Some(h) => {
                let doc = concat(vec![head.clone(), alt(vec![list.clone(), h.clone(), list])]);
                Ex {
                    doc,
                    hug: Some(concat(vec![head, h])),
                }
            }
            None => Ex::plain(concat(vec![head, group(list)])),
        }
    }

    /// Field accesses, indexing and method calls after a receiver.
    fn chain(&mut self, e: &Expr) -> Ex {
        // From the outermost link down to the base.
        let mut links: Vec<&Expr> = Vec::new();
        let mut base = e;
        loop {
            let is_link = match &base.kind {
                ExprKind::Field(..) | ExprKind::Index(..) => true,
                ExprKind::Builtin { name, args } => {
                    args.first().is_some_and(|a| a.span.start < name.span.start)
                }
                _ => false,
            };
            if !is_link
                || (!std::ptr::eq(base, e) && (self.source_parens(base) || self.braced(base)))
            {
                break;
            }
            links.push(base);
            base = match &base.kind {
                ExprKind::Field(b, _) | ExprKind::Index(b, _) => b,
                ExprKind::Builtin { args, .. } => match args.first() {
                    Some(b) => b,
                    None => break,
                },
                _ => break,
            };
        }
        links.reverse();
        let receiver = Ctx {
            pos: Pos::Receiver,
            tail: false,
            braces_done: false,
        };
        let mut parts = vec![self.expr(base, receiver).doc];
        let methods = links
            .iter()
            .filter(|l| matches!(l.kind, ExprKind::Builtin { .. }))
            .count();
        let mut last_hug = None;
        for (n, link) in links.iter().enumerate() {
            match &link.kind {
                ExprKind::Field(_, name) => parts.push(text(format!(".{}", name.written()))),
                ExprKind::Index(_, index) => {
                    let i = self.top_expr(index);
                    parts.push(concat(vec![text("["), i, text("]")]));
                }
                ExprKind::Builtin { name, args } => {
                    let call = self.call(
                        text(format!(".{}", name.written())),
                        args.get(1..).unwrap_or(&[]),
                        close_of(link.span),
                    );
                    if n + 1 == links.len() {
                        last_hug = call.hug;
                    }
                    if methods >= 3 {
                        parts.push(softline());
                    }
                    parts.push(call.doc);
                }
                _ => {}
            }
        }
        if methods >= 3 {
            let base = parts.remove(0);
            return Ex::plain(group(concat(vec![base, indent(concat(parts))])));
        }
        let hug = last_hug.map(|h| {
            let mut p = parts.clone();
            p.pop();
            p.push(h);
            concat(p)
        });
        Ex {
            doc: concat(parts),
            hug,
        }
    }

    /// A chain of operators of one precedence, broken before each operator when too long.
    fn binary(&mut self, e: &Expr, ctx: Ctx) -> D {
        let ExprKind::Binary(op, ..) = &e.kind else {
            return nil();
        };
        let p = op.precedence();
        // Flatten `a + b - c` (left-nested, same precedence, no parentheses of its own).
        let mut rights: Vec<(BinOp, &Expr)> = Vec::new();
        let mut left = e;
        while let ExprKind::Binary(o, l, r) = &left.kind {
            if o.precedence() != p
                || (!std::ptr::eq(left, e) && (self.source_parens(left) || self.braced(left)))
            {
                break;
            }
            rights.push((*o, r));
            left = l;
        }
        rights.reverse();
        let first = self
            .expr(
                left,
                Ctx {
                    pos: Pos::Left(p),
                    tail: false,
                    braces_done: false,
                },
            )
            .doc;
        let mut rest = Vec::new();
        let count = rights.len();
        for (n, (o, r)) in rights.into_iter().enumerate() {
            let tail = ctx.tail && n + 1 == count;
            let doc = self
                .expr(
                    r,
                    Ctx {
                        pos: Pos::Right(p),
                        tail,
                        braces_done: false,
                    },
                )
                .doc;
            rest.push(line());
            rest.push(text(format!("{} ", o.symbol())));
            rest.push(doc);
        }
        group(concat(vec![first, indent(concat(rest))]))
    }
}

/// How a `let` chain is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    /// `{ let ...; body }` as written.
    Braced,
    /// Inside braces printed by the enclosing syntax (an `if` branch).
    Inner,
    /// `let ...; body` without braces.
    Bare,
}

/// The same document with its outer group broken.
fn force(d: &D) -> D {
    match &**d {
        super::doc::Doc::Group(inner, _) => broken_group(inner.clone()),
        _ => broken_group(d.clone()),
    }
}

/// A pattern as written.
fn pattern_text(f: &Fmt<'_>, p: &Pattern) -> String {
    match &p.kind {
        PatternKind::Wildcard => "_".to_string(),
        PatternKind::None => "none".to_string(),
        PatternKind::Some(inner) => format!("some({})", pattern_text(f, inner)),
        PatternKind::Lit(l) => {
            let src = f.source(p.span);
            match l {
                Lit::Str(s) => string_token(src, s),
                Lit::Int(n)
                    if !src.is_empty() && src.chars().all(|c| c.is_ascii_digit() || c == '_') =>
                {
                    src.to_string()
                }
                Lit::Int(n) => n.to_string(),
                Lit::Float(x) => {
                    let clean = src.trim_start_matches('-');
                    let well_formed = clean.split_once('.').is_some_and(|(a, b)| {
                        !a.is_empty()
                            && !b.is_empty()
                            && a.chars().all(|c| c.is_ascii_digit())
                            && b.chars().all(|c| c.is_ascii_digit())
                    });
                    if well_formed && (src.starts_with('-') == (*x < 0.0)) {
                        src.to_string()
                    } else {
                        float_text(*x)
                    }
                }
                Lit::Bool(b) => b.to_string(),
                Lit::None => "none".to_string(),
                Lit::Unit => "()".to_string(),
            }
        }
        PatternKind::NegInt(n) => {
            let digits = f.source(p.span).trim_start_matches('-').trim_start();
            if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit() || c == '_') {
                format!("-{digits}")
            } else {
                format!("-{n}")
            }
        }
        PatternKind::Variant { path, payload } => match payload {
            Some(inner) => format!("{}({})", path_text(path), pattern_text(f, inner)),
            None => path_text(path),
        },
    }
}

/// A float as the grammar reads it back: digits, a dot, digits.
fn float_text(f: f64) -> String {
    let s = format!("{f}");
    if s.contains('.') || !s.chars().all(|c| c.is_ascii_digit() || c == '-') {
        s
    } else {
        format!("{s}.0")
    }
}
