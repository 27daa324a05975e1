//! Expressions, patterns and `let` chains: pest pairs to [`Expr`] through the Pratt parser,
//! with the depth guards that refuse input nested deeper than the stack allows.

use super::*;

impl Builder {
    pub(in crate::parse) fn expr(&mut self, pair: P<'_>) -> Expr {
        self.expr_pairs(pair.into_inner())
    }

    /// Where the item nested too deeply to build, if it did (absolute byte offset).
    pub(in crate::parse) fn too_deep_at(&self) -> Option<usize> {
        self.too_deep_at
    }

    /// Whether to stop descending at `at` (chunk offset): the stack is nearly spent (or was).
    pub(super) fn out_of_stack(&mut self, at: usize) -> bool {
        if self.too_deep_at.is_some() {
            return true;
        }
        if stacker::remaining_stack().is_some_and(|left| left < STACK_RESERVE) {
            self.too_deep_at = Some(self.offset + at);
            return true;
        }
        false
    }

    /// A run of more prefix operators (`!`, `-`) than the nesting limit: the Pratt parser
    /// recurses once per operator. Its first operator's offset in the chunk.
    pub(super) fn long_prefix_run(pairs: &Pairs<'_, Rule>) -> Option<usize> {
        let limit = usize::try_from(crate::parse::chunk::MAX_NESTING).unwrap_or(usize::MAX);
        let mut run = 0usize;
        let mut start = 0;
        for p in pairs.clone() {
            if matches!(p.as_rule(), Rule::neg | Rule::not) {
                if run == 0 {
                    start = p.as_span().start();
                }
                run += 1;
                if run > limit {
                    return Some(start);
                }
            } else {
                run = 0;
            }
        }
        None
    }

    pub(super) fn expr_pairs(&mut self, pairs: Pairs<'_, Rule>) -> Expr {
        let (start, end) = match pairs.peek() {
            Some(first) => (first.as_span().start(), first.as_span().end()),
            None => (0, 0),
        };
        // The stack itself is checked in `primary`, which every level of nesting passes.
        if let Some(at) = Self::long_prefix_run(&pairs) {
            self.too_deep_at.get_or_insert(self.offset + at);
            return Expr {
                id: ExprId::default(),
                kind: ExprKind::Lit(Lit::Unit),
                span: Span::new(start, end).shift(self.offset),
            };
        }
        // The Pratt parser's closures cannot borrow `self` mutably more than once, so the
        // builder is moved through a RefCell.
        let cell = std::cell::RefCell::new(self);
        let expr = pratt()
            .map_primary(|p| cell.borrow_mut().primary(p))
            .map_prefix(|op, rhs| {
                let b = cell.borrow();
                let span = b.span(&op).to(rhs.span);
                let op = if op.as_rule() == Rule::neg {
                    UnOp::Neg
                } else {
                    UnOp::Not
                };
                Expr {
                    id: ExprId::default(),
                    kind: ExprKind::Unary(op, Box::new(rhs)),
                    span,
                }
            })
            .map_postfix(|lhs, op| cell.borrow_mut().postfix(lhs, op))
            .map_infix(|lhs, op, rhs| {
                let op = match op.as_rule() {
                    Rule::or => BinOp::Or,
                    Rule::and => BinOp::And,
                    Rule::eq => BinOp::Eq,
                    Rule::ne => BinOp::Ne,
                    Rule::lt => BinOp::Lt,
                    Rule::le => BinOp::Le,
                    Rule::gt => BinOp::Gt,
                    Rule::ge => BinOp::Ge,
                    Rule::add => BinOp::Add,
                    Rule::sub => BinOp::Sub,
                    Rule::mul => BinOp::Mul,
                    Rule::div => BinOp::Div,
                    _ => BinOp::Rem,
                };
                let span = lhs.span.to(rhs.span);
                Expr {
                    id: ExprId::default(),
                    kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
                    span,
                }
            })
            .parse(pairs);
        expr
    }

    pub(super) fn postfix(&mut self, lhs: Expr, op: P<'_>) -> Expr {
        let span = lhs.span.to(self.span(&op));
        let kind_rule = op.as_rule();
        let mut inner = op.into_inner();
        let kind = match kind_rule {
            Rule::method_call => {
                let name = self.ident_opt(inner.next());
                let mut args = vec![lhs];
                args.extend(self.args(inner.next()));
                ExprKind::Builtin { name, args }
            }
            Rule::field_access => ExprKind::Field(Box::new(lhs), self.ident_opt(inner.next())),
            _ => {
                let index = self.expr_or_unit(inner.next(), span);
                ExprKind::Index(Box::new(lhs), Box::new(index))
            }
        };
        Expr {
            kind,
            span,
            id: ExprId::default(),
        }
    }

    /// The expressions of an argument list; none without a list (`f()`, `[]`).
    pub(super) fn args(&mut self, list: Option<P<'_>>) -> Vec<Expr> {
        let Some(list) = list else {
            return Vec::new();
        };
        list.into_inner().map(|e| self.expr(e)).collect()
    }

    pub(super) fn primary(&mut self, pair: P<'_>) -> Expr {
        let span = self.span(&pair);
        // Every level of expression nesting passes here (`else if` without `expr_pairs`).
        if self.out_of_stack(pair.as_span().start()) {
            return Expr {
                id: ExprId::default(),
                kind: ExprKind::Lit(Lit::Unit),
                span,
            };
        }
        let kind_rule = pair.as_rule();
        let kind = match kind_rule {
            Rule::int => ExprKind::Lit(Lit::Int(self.int_value(pair.as_str(), span))),
            Rule::float => ExprKind::Lit(Lit::Float(pair.as_str().parse().unwrap_or(0.0))),
            Rule::string => ExprKind::Lit(Lit::Str(self.string_value(pair))),
            Rule::bool_lit => ExprKind::Lit(Lit::Bool(pair.as_str() == "true")),
            Rule::none_lit => ExprKind::Lit(Lit::None),
            Rule::path_expr => {
                let mut inner = pair.into_inner();
                let mut path = inner.next().map(|p| self.path(p)).unwrap_or_default();
                match inner.next() {
                    None if path.len() == 1 => match path.pop() {
                        Some(id) => ExprKind::Var(id),
                        None => ExprKind::Lit(Lit::Unit),
                    },
                    None => ExprKind::Variant {
                        path,
                        payload: None,
                    },
                    Some(body) if body.as_rule() == Rule::record_body => {
                        let fields = body
                            .into_inner()
                            .next()
                            .map(|f| self.field_inits(f))
                            .unwrap_or_default();
                        ExprKind::Record { path, fields }
                    }
                    Some(call) => {
                        let mut args = self.args(call.into_inner().next());
                        if path.len() == 1 {
                            let name = path.pop().unwrap_or(Ident {
                                name: String::new(),
                                span,
                            });
                            ExprKind::Builtin { name, args }
                        } else if args.len() == 1 {
                            ExprKind::Variant {
                                path,
                                payload: args.pop().map(Box::new),
                            }
                        } else {
                            // `E::V(a, b)`: a variant carries one payload; pass a tuple so the
                            // checker reports the mismatch against the declared payload type.
                            let payload = Expr {
                                id: ExprId::default(),
                                kind: ExprKind::Tuple(args),
                                span,
                            };
                            ExprKind::Variant {
                                path,
                                payload: Some(Box::new(payload)),
                            }
                        }
                    }
                }
            }
            Rule::tuple_or_paren => {
                let text = pair.as_str().trim_end_matches(')').trim_end();
                let trailing_comma = text.ends_with(',');
                let mut items: Vec<Expr> = pair.into_inner().map(|e| self.expr(e)).collect();
                match items.len() {
                    0 => ExprKind::Lit(Lit::Unit),
                    1 if !trailing_comma => match items.pop() {
                        Some(e) => {
                            return Expr {
                                kind: e.kind,
                                span,
                                id: ExprId::default(),
                            }
                        }
                        None => ExprKind::Lit(Lit::Unit),
                    },
                    _ => ExprKind::Tuple(items),
                }
            }
            Rule::list_lit => ExprKind::List(self.args(pair.into_inner().next())),
            Rule::delegate => {
                let mut inner = pair.into_inner();
                let method = self.ident_opt(inner.next());
                let args = self.args(inner.next());
                ExprKind::Delegate { method, args }
            }
            Rule::disallow => {
                let reason = pair
                    .into_inner()
                    .next()
                    .map(|s| self.string_value(s))
                    .unwrap_or_default();
                ExprKind::Disallow(reason)
            }
            Rule::if_expr => {
                let mut inner = pair.into_inner();
                let mut next = |b: &mut Self| match inner.next() {
                    Some(p) => b.expr_or_block(p),
                    None => Expr {
                        id: ExprId::default(),
                        kind: ExprKind::Lit(Lit::Unit),
                        span,
                    },
                };
                let cond = next(self);
                let then = next(self);
                let otherwise = next(self);
                ExprKind::If {
                    cond: Box::new(cond),
                    then: Box::new(then),
                    otherwise: Box::new(otherwise),
                }
            }
            Rule::brace => {
                // `{ let ...; e }` and `{ e }` are blocks; `{}` and `{k: v, ...}` maps.
                let children = pair.clone().into_inner();
                let count = children.clone().count();
                let lets = children.into_iter().any(|p| p.as_rule() == Rule::let_stmt);
                if lets || count == 1 {
                    return self.let_chain(pair.into_inner(), span);
                }
                let mut entries = Vec::new();
                let mut inner = pair.into_inner();
                while let (Some(k), Some(v)) = (inner.next(), inner.next()) {
                    entries.push((self.expr(k), self.expr(v)));
                }
                ExprKind::Map(entries)
            }
            Rule::block | Rule::let_block => return self.let_chain(pair.into_inner(), span),
            Rule::closure => {
                let mut parts: Vec<P<'_>> = pair.into_inner().collect();
                let body = self.expr_or_unit(parts.pop(), span);
                let params = parts.into_iter().map(|p| self.ident(p)).collect();
                ExprKind::Closure {
                    params,
                    body: Box::new(body),
                }
            }
            Rule::quant => {
                let mut inner = pair.into_inner();
                let kind = match inner.next().map(|k| k.as_str() == "forall") {
                    Some(true) => Quantifier::Forall,
                    _ => Quantifier::Exists,
                };
                let var = self.ident_opt(inner.next());
                let mut exprs = inner.map(|e| self.expr(e));
                let unit = || Expr {
                    id: ExprId::default(),
                    kind: ExprKind::Lit(Lit::Unit),
                    span,
                };
                let domain = exprs.next().unwrap_or_else(unit);
                let body = exprs.next().unwrap_or_else(unit);
                ExprKind::Quant {
                    kind,
                    var,
                    domain: Box::new(domain),
                    body: Box::new(body),
                }
            }
            Rule::match_expr => {
                let mut inner = pair.into_inner();
                let scrutinee = self.expr_or_unit(inner.next(), span);
                let arms = inner
                    .map(|arm| {
                        let aspan = self.span(&arm);
                        let mut ai = arm.into_inner();
                        let pattern = match ai.next() {
                            Some(p) => self.pattern(p),
                            None => Pattern {
                                kind: PatternKind::Wildcard,
                                span: aspan,
                            },
                        };
                        let body = self.expr_or_unit(ai.next(), aspan);
                        Arm {
                            pattern,
                            body,
                            span: aspan,
                        }
                    })
                    .collect();
                ExprKind::Match {
                    scrutinee: Box::new(scrutinee),
                    arms,
                }
            }
            Rule::expr => return self.expr(pair),
            _ => ExprKind::Lit(Lit::Unit),
        };
        Expr {
            kind,
            span,
            id: ExprId::default(),
        }
    }

    pub(super) fn expr_or_block(&mut self, pair: P<'_>) -> Expr {
        match pair.as_rule() {
            Rule::expr => self.expr(pair),
            _ => self.primary(pair),
        }
    }

    /// `let a = x; let b = y; body` as nested [`ExprKind::Let`].
    pub(super) fn let_chain(&mut self, pairs: Pairs<'_, Rule>, span: Span) -> Expr {
        let mut lets = Vec::new();
        let mut body = None;
        for p in pairs {
            if p.as_rule() == Rule::let_stmt {
                let lspan = self.span(&p);
                let mut li = p.into_inner();
                let name = self.ident_opt(li.next());
                let value = self.expr_or_unit(li.next(), lspan);
                lets.push((name, value, lspan));
            } else {
                body = Some(self.expr(p));
            }
        }
        let mut result = body.unwrap_or(Expr {
            id: ExprId::default(),
            kind: ExprKind::Lit(Lit::Unit),
            span,
        });
        for (name, value, lspan) in lets.into_iter().rev() {
            let s = lspan.to(result.span);
            result = Expr {
                id: ExprId::default(),
                kind: ExprKind::Let {
                    name,
                    value: Box::new(value),
                    body: Box::new(result),
                },
                span: s,
            };
        }
        result.span = span;
        result
    }

    pub(super) fn pattern(&mut self, pair: P<'_>) -> Pattern {
        let span = self.span(&pair);
        let Some(pair) = Self::unwrapped(pair, Rule::pattern) else {
            return Pattern {
                kind: PatternKind::Wildcard,
                span,
            };
        };
        let kind = match pair.as_rule() {
            Rule::wildcard => PatternKind::Wildcard,
            Rule::none_pat => PatternKind::None,
            Rule::some_pat => match pair.into_inner().next() {
                Some(p) => PatternKind::Some(Box::new(self.pattern(p))),
                None => PatternKind::Wildcard,
            },
            Rule::lit_pat => {
                let mut negative = false;
                let mut lit = Lit::Unit;
                for p in pair.into_inner() {
                    let pspan = self.span(&p);
                    match p.as_rule() {
                        Rule::neg => negative = true,
                        Rule::int => lit = Lit::Int(self.int_value(p.as_str(), pspan)),
                        Rule::float => lit = Lit::Float(p.as_str().parse().unwrap_or(0.0)),
                        Rule::string => lit = Lit::Str(self.string_value(p)),
                        Rule::bool_lit => lit = Lit::Bool(p.as_str() == "true"),
                        _ => {}
                    }
                }
                match (negative, lit) {
                    (true, Lit::Int(n)) => PatternKind::NegInt(n),
                    (true, Lit::Float(f)) => PatternKind::Lit(Lit::Float(-f)),
                    (_, lit) => PatternKind::Lit(lit),
                }
            }
            _ => {
                let mut inner = pair.into_inner();
                let path = inner.next().map(|p| self.path(p)).unwrap_or_default();
                let payload = inner.next().map(|p| Box::new(self.pattern(p)));
                PatternKind::Variant { path, payload }
            }
        };
        Pattern { kind, span }
    }
}
