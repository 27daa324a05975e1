//! `version N { ... }` blocks: record, enum, service and state declarations, their fields
//! and method models, and the type expressions they use.

use super::*;
use std::iter::Peekable;

impl Builder {
    pub(super) fn version_block(&mut self, pair: P<'_>) -> VersionBlock {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let number = self.number_opt(inner.next());
        let decls = inner.filter_map(|d| self.decl(d)).collect();
        VersionBlock {
            number,
            decls,
            span,
        }
    }

    pub(super) fn decl(&mut self, pair: P<'_>) -> Option<Decl> {
        let span = self.span(&pair);
        let kind_rule = pair.as_rule();
        let mut inner = pair.into_inner();
        Some(match kind_rule {
            Rule::record_decl => {
                let name = self.ident_opt(inner.next());
                let fields = inner.next().map(|f| self.fields(f)).unwrap_or_default();
                Decl::Record(RecordDecl { name, fields, span })
            }
            Rule::enum_decl => {
                let name = self.ident_opt(inner.next());
                let variants = inner
                    .map(|v| {
                        let span = self.span(&v);
                        let mut vi = v.into_inner();
                        let name = self.ident_opt(vi.next());
                        let payload = vi.next().map(|t| self.type_expr(t));
                        Variant {
                            name,
                            payload,
                            span,
                        }
                    })
                    .collect();
                Decl::Enum(EnumDecl {
                    name,
                    variants,
                    span,
                })
            }
            Rule::service_decl => {
                let name = self.ident_opt(inner.next());
                let methods = inner
                    .map(|m| {
                        let span = self.span(&m);
                        let mut mi = m.into_inner().peekable();
                        let changed = self.changed_mark(&mut mi);
                        let name = self.ident_opt(mi.next());
                        let params = mi.next().map(|f| self.fields(f)).unwrap_or_default();
                        let ret = mi
                            .next_if(|p| p.as_rule() == Rule::type_expr)
                            .map(|t| self.type_expr(t));
                        let renamed_from = self.renamed_from(&mut mi);
                        let model = mi
                            .next_if(|p| {
                                matches!(p.as_rule(), Rule::model_expr | Rule::model_block)
                            })
                            .map(|part| self.method_model(part));
                        MethodDecl {
                            changed,
                            name,
                            params,
                            ret,
                            renamed_from,
                            model,
                            span,
                        }
                    })
                    .collect();
                Decl::Service(ServiceDecl {
                    name,
                    methods,
                    span,
                })
            }
            Rule::state_decl => {
                let mut storage = None;
                let mut fields = Vec::new();
                let mut wellformed = None;
                for part in inner {
                    match part.as_rule() {
                        Rule::state_kind => storage = StateStorage::from_name(part.as_str()),
                        Rule::state_where => {
                            let wspan = self.span(&part);
                            let clauses = part
                                .into_inner()
                                .filter(|p| p.as_rule() == Rule::expr)
                                .map(|p| self.expr(p))
                                .collect();
                            wellformed = Some(WellFormed {
                                clauses,
                                span: wspan,
                            });
                        }
                        _ => fields = self.fields(part),
                    }
                }
                Decl::State(StateDecl {
                    storage,
                    fields,
                    wellformed,
                    span,
                })
            }
            _ => return None,
        })
    }

    /// `= expr` or `{ let x = e; state.f = e; result }`.
    pub(super) fn method_model(&mut self, pair: P<'_>) -> MethodModel {
        let span = self.span(&pair);
        let block = pair.as_rule() == Rule::model_block;
        let mut stmts = Vec::new();
        let mut result = None;
        for part in pair.into_inner() {
            let pspan = self.span(&part);
            match part.as_rule() {
                Rule::model_let | Rule::model_assign => {
                    let is_let = part.as_rule() == Rule::model_let;
                    let mut inner = part.into_inner();
                    let name = self.ident_opt(inner.next());
                    let value = self.expr_or_unit(inner.next(), pspan);
                    stmts.push(if is_let {
                        ModelStmt::Let {
                            name,
                            value,
                            span: pspan,
                        }
                    } else {
                        ModelStmt::Assign {
                            field: name,
                            value,
                            span: pspan,
                        }
                    });
                }
                _ => result = Some(self.expr(part)),
            }
        }
        MethodModel {
            stmts,
            result,
            block,
            span,
        }
    }

    /// The `changed` mark a field or method may begin with: the span of the word.
    fn changed_mark(&self, parts: &mut Peekable<Pairs<'_, Rule>>) -> Option<Span> {
        parts
            .next_if(|p| p.as_rule() == Rule::changed)
            .map(|p| self.span(&p))
    }

    /// The `renamed from old` a field or method may end with: the old name.
    fn renamed_from(&mut self, parts: &mut Peekable<Pairs<'_, Rule>>) -> Option<Ident> {
        parts
            .next_if(|p| p.as_rule() == Rule::renamed)
            .map(|r| self.ident_opt(r.into_inner().nth(1)))
    }

    pub(super) fn fields(&mut self, pair: P<'_>) -> Vec<Field> {
        pair.into_inner()
            .map(|f| {
                let span = self.span(&f);
                let mut fi = f.into_inner().peekable();
                let changed = self.changed_mark(&mut fi);
                let name = self.ident_opt(fi.next());
                let ty = match fi.next() {
                    Some(t) => self.type_expr(t),
                    None => TypeExpr {
                        kind: TypeExprKind::Tuple(Vec::new()),
                        span,
                    },
                };
                let renamed_from = self.renamed_from(&mut fi);
                Field {
                    changed,
                    name,
                    ty,
                    renamed_from,
                    span,
                }
            })
            .collect()
    }

    /// A type expression; type arguments nested deeper than the bracket limit
    /// ([`crate::parse::chunk::MAX_NESTING`], `list<list<...>>`) are refused (U0007) whatever the
    /// stack, as brackets are: later passes over types recurse.
    pub(super) fn type_expr(&mut self, pair: P<'_>) -> TypeExpr {
        let limit = usize::try_from(crate::parse::chunk::MAX_NESTING).unwrap_or(usize::MAX);
        if self.type_depth >= limit && self.too_deep_at.is_none() {
            self.too_deep_at = Some(self.offset + pair.as_span().start());
        }
        self.type_depth += 1;
        let t = self.type_expr_inner(pair);
        self.type_depth -= 1;
        t
    }

    pub(super) fn type_expr_inner(&mut self, pair: P<'_>) -> TypeExpr {
        let span = self.span(&pair);
        if self.out_of_stack(pair.as_span().start()) {
            return TypeExpr {
                kind: TypeExprKind::Tuple(Vec::new()),
                span,
            };
        }
        // type_expr wraps named_type or tuple_type
        let Some(pair) = Self::unwrapped(pair, Rule::type_expr) else {
            return TypeExpr {
                kind: TypeExprKind::Tuple(Vec::new()),
                span,
            };
        };
        let kind = match pair.as_rule() {
            Rule::tuple_type => {
                TypeExprKind::Tuple(pair.into_inner().map(|t| self.type_expr(t)).collect())
            }
            _ => {
                let mut inner = pair.into_inner();
                let path = inner.next().map(|p| self.path(p)).unwrap_or_default();
                let args = inner.map(|t| self.type_expr(t)).collect();
                TypeExprKind::Named { path, args }
            }
        };
        TypeExpr { kind, span }
    }
}
