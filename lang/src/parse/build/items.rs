//! The other top-level items: `protocol`, `fn`, `invariant`, `transform`, `past`/`future`
//! rules and `schedule`.

use super::*;

impl Builder {
    pub(super) fn protocol(&mut self, pair: P<'_>) -> Protocol {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident_opt(inner.next());
        let options = inner
            .map(|opt| {
                let mut kv = opt.into_inner();
                (self.ident_opt(kv.next()), self.ident_opt(kv.next()))
            })
            .collect();
        Protocol {
            name,
            options,
            span,
        }
    }

    pub(super) fn function(&mut self, pair: P<'_>) -> Function {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident_opt(inner.next());
        let params = inner.next().map(|f| self.fields(f)).unwrap_or_default();
        let ret = match inner.next() {
            Some(t) => self.type_expr(t),
            None => TypeExpr {
                kind: TypeExprKind::Tuple(Vec::new()),
                span,
            },
        };
        let body = self.expr_or_unit(inner.next(), span);
        Function {
            name,
            params,
            ret,
            body,
            span,
        }
    }

    pub(super) fn invariant(&mut self, pair: P<'_>) -> Invariant {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let old = self.ident_opt(inner.next());
        let new = self.ident_opt(inner.next());
        let clauses = inner.map(|e| self.expr(e)).collect();
        Invariant {
            old,
            new,
            clauses,
            span,
        }
    }

    pub(super) fn transform(&mut self, pair: P<'_>) -> Transform {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let old = self.ident_opt(inner.next());
        let new = self.ident_opt(inner.next());
        let fields = inner
            .next()
            .map(|f| self.field_inits(f))
            .unwrap_or_default();
        let reverse = Transform::is_reverse_header(&old.name, &new.name);
        Transform {
            old,
            new,
            fields,
            reverse,
            span,
        }
    }

    pub(super) fn rule_block(&mut self, pair: P<'_>) -> RuleBlock {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let kind = match inner.next().map(|k| k.as_str() == "past") {
            Some(true) => RuleKind::Past,
            _ => RuleKind::Future,
        };
        let service = self.ident_opt(inner.next());
        let rules = inner
            .map(|r| {
                let span = self.span(&r);
                let mut parts: Vec<P<'_>> = r.into_inner().collect();
                let body = self.expr_or_unit(parts.pop(), span);
                let (attrs, parts): (Vec<P<'_>>, Vec<P<'_>>) = parts
                    .into_iter()
                    .partition(|p| matches!(p.as_rule(), Rule::rule_attr | Rule::differs_attr));
                let (differs, allow): (Vec<P<'_>>, Vec<P<'_>>) = attrs
                    .into_iter()
                    .partition(|p| p.as_rule() == Rule::differs_attr);
                let allow = allow
                    .into_iter()
                    .flat_map(|a| a.into_inner())
                    .map(|p| self.ident(p))
                    .collect();
                let differs = differs
                    .into_iter()
                    .flat_map(|a| a.into_inner())
                    .map(|p| self.ident(p))
                    .collect();
                let mut idents = parts.into_iter().map(|p| self.ident(p));
                let method = idents.next().unwrap_or(Ident {
                    name: String::new(),
                    span,
                });
                crate::ast::Rule {
                    allow,
                    differs,
                    method,
                    params: idents.collect(),
                    body,
                    span,
                }
            })
            .collect();
        RuleBlock {
            kind,
            service,
            rules,
            span,
        }
    }

    pub(super) fn schedule(&mut self, pair: P<'_>) -> Schedule {
        let span = self.span(&pair);
        let entries = pair.into_inner().map(|e| self.sched_entry(e)).collect();
        Schedule { entries, span }
    }

    pub(super) fn sched_entry(&mut self, pair: P<'_>) -> SchedEntry {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let key = self.ident_opt(inner.next());
        let value = match inner.next() {
            Some(v) if v.as_rule() == Rule::sched_block => {
                let vspan = self.span(&v);
                let entries = v.into_inner().map(|e| self.sched_entry(e)).collect();
                SchedValue {
                    kind: SchedValueKind::Block(entries),
                    span: vspan,
                }
            }
            Some(v) => self.sched_value(v),
            None => SchedValue {
                kind: SchedValueKind::Block(Vec::new()),
                span,
            },
        };
        SchedEntry { key, value, span }
    }

    pub(super) fn sched_value(&mut self, pair: P<'_>) -> SchedValue {
        let span = self.span(&pair);
        let Some(pair) = Self::unwrapped(pair, Rule::sched_value) else {
            return SchedValue {
                kind: SchedValueKind::Int(0),
                span,
            };
        };
        let kind = match pair.as_rule() {
            Rule::sched_then => {
                let mut inner = pair.into_inner();
                let count = match inner.next() {
                    Some(a) => self.sched_value(a),
                    None => SchedValue {
                        kind: SchedValueKind::Int(0),
                        span,
                    },
                };
                let action = self.ident_opt(inner.next());
                SchedValueKind::Then(Box::new(count), action)
            }
            Rule::sched_range => {
                let mut inner = pair.into_inner();
                let a = inner
                    .next()
                    .map(|s| self.string_value(s))
                    .unwrap_or_default();
                let b = inner
                    .next()
                    .map(|s| self.string_value(s))
                    .unwrap_or_default();
                SchedValueKind::Range(a, b)
            }
            Rule::duration => SchedValueKind::Duration(self.duration(pair.as_str(), span)),
            Rule::int => SchedValueKind::Int(self.int_value(pair.as_str(), span)),
            Rule::string => SchedValueKind::Str(self.string_value(pair)),
            _ => SchedValueKind::Ident(pair.as_str().to_string()),
        };
        SchedValue { kind, span }
    }

    pub(super) fn field_inits(&mut self, pair: P<'_>) -> Vec<FieldInit> {
        pair.into_inner()
            .map(|f| {
                let span = self.span(&f);
                let mut fi = f.into_inner();
                let name = self.ident_opt(fi.next());
                let value = self.expr_or_unit(fi.next(), span);
                FieldInit { name, value, span }
            })
            .collect()
    }
}
