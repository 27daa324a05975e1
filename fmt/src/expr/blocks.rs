//! `if` expressions, their branches and `let` chains: the constructs printed as blocks.

use super::*;

impl Fmt<'_> {
    pub(super) fn if_expr(&mut self, e: &Expr) -> D {
        let ExprKind::If {
            cond,
            then,
            otherwise,
        } = &e.kind
        else {
            return nil();
        };
        let cond = self
            .expr(
                cond,
                Ctx {
                    pos: Pos::Top,
                    tail: false,
                    braces_done: false,
                },
            )
            .doc;
        let then = self.branch(then);
        let mut parts = vec![
            text("if "),
            cond,
            text(" {"),
            indent(then),
            line(),
            text("} else "),
        ];
        let else_if = matches!(otherwise.kind, ExprKind::If { .. })
            && !self.braced(otherwise)
            && !self.source_parens(otherwise);
        if else_if {
            parts.push(self.if_expr(otherwise));
        } else {
            let other = self.branch(otherwise);
            parts.extend([text("{"), indent(other), line(), text("}")]);
        }
        group(concat(parts))
    }

    /// The inside of an `if` branch, whose braces the `if` prints.
    pub(super) fn branch(&mut self, e: &Expr) -> D {
        // The branch's span starts with its `{`: comments after it lead the body.
        let start = self.next_code(e.span.start + 1);
        let gap = self.c.gap(start, line(), Blank::Never);
        let body = self
            .expr(
                e,
                Ctx {
                    pos: Pos::Top,
                    tail: true,
                    braces_done: true,
                },
            )
            .doc;
        // The branch's span is its block's, so it ends with the `}`.
        let dangling = self.c.dangling(close_of(e.span), Blank::Never);
        concat(vec![gap, body, dangling])
    }

    /// `let a = x; let b = y; body`: in braces, one statement per line; inside braces the
    /// enclosing syntax printed, the same without them; bare, on one line if it fits.
    pub(super) fn statements(&mut self, e: &Expr, ctx: Ctx, style: Block) -> D {
        let mut lets = Vec::new();
        let mut cur = e;
        while let ExprKind::Let { name, value, body } = &cur.kind {
            lets.push((name, &**value));
            cur = body;
            if self.braced(cur) || self.source_parens(cur) {
                break;
            }
        }
        let body = cur;
        let hard = style != Block::Bare;
        let mut stmts = Vec::new();
        for (i, (name, value)) in lets.iter().enumerate() {
            // The first statement of a chain without braces follows a break already made.
            let gap = match (style, i) {
                (Block::Braced, 0) => self.c.gap(name.span.start, hardline(), Blank::First),
                (Block::Inner | Block::Bare, 0) => nil(),
                (Block::Braced | Block::Inner, _) => {
                    self.c.gap(name.span.start, hardline(), Blank::Keep)
                }
                (Block::Bare, _) => self.c.gap(name.span.start, line(), Blank::Never),
            };
            stmts.push(gap);
            let v = self.top_expr(value);
            stmts.push(concat(vec![
                text(format!("let {} = ", name.written())),
                v,
                text(";"),
            ]));
            self.c.mark(value.span.end);
        }
        let (sep, blank) = if hard {
            (hardline(), Blank::Keep)
        } else {
            (line(), Blank::Never)
        };
        stmts.push(self.c.gap(body.span.start, sep, blank));
        let tail = if hard { true } else { ctx.tail };
        stmts.push(
            self.expr(
                body,
                Ctx {
                    pos: Pos::Top,
                    tail,
                    braces_done: false,
                },
            )
            .doc,
        );
        self.c.mark(body.span.end);
        match style {
            Block::Braced => {
                stmts.push(self.c.dangling(close_of(e.span), Blank::Keep));
                concat(vec![
                    text("{"),
                    indent(concat(stmts)),
                    hardline(),
                    text("}"),
                ])
            }
            Block::Inner => concat(stmts),
            Block::Bare => group(concat(stmts)),
        }
    }
}
