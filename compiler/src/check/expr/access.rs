//! Reading parts of a value: `x.field` on records, states and tuples (with the unknown-field
//! diagnostics and their suggestions), and `x[k]` on maps and lists.

use super::*;

impl ExprChecker<'_, '_> {
    pub(super) fn field(&mut self, inner: &Expr, field: &Ident) -> Ty {
        let inner_ty = match &inner.kind {
            ExprKind::Var(v) if self.state_var.as_deref() == Some(v.name.as_str()) => {
                self.state_reads.insert(field.name.clone());
                let saved = self.whole_state_used;
                let t = self.var(v);
                self.whole_state_used = saved;
                // Recorded as `infer` would: the language server finds the field through it.
                self.cx.expr_types.insert(inner.id, t.clone());
                t
            }
            _ => self.infer(inner, None),
        };
        match &inner_ty {
            Ty::Unknown => Ty::Unknown,
            Ty::Named(r) => {
                let env = self.types.env(r.version);
                match env.and_then(|e| e.records.get(&r.name)) {
                    Some(rec) => match rec.field(&field.name) {
                        Some(f) => f.ty.clone(),
                        None => {
                            let names: Vec<&str> =
                                rec.fields.iter().map(|f| f.name.name.as_str()).collect();
                            let (rname, rspan) = (rec.name.name.clone(), rec.name.span);
                            let help = did_you_mean(&field.name, names.iter().copied());
                            let fields = names.join("`, `");
                            self.cx.report(
                                codes::UNKNOWN_FIELD,
                                field.span,
                                format!("record `{rname}` has no field `{}`", field.name),
                                |d| {
                                    d.label("unknown field")
                                        .also(
                                            rspan,
                                            format!(
                                                "`{rname}` of version {} declared here",
                                                r.version
                                            ),
                                        )
                                        .note(format!("its fields are `{fields}`"))
                                        .maybe_help(help)
                                },
                            );
                            Ty::Unknown
                        }
                    },
                    None => self.no_fields(field, &inner_ty),
                }
            }
            Ty::State(v) => {
                let state = self.types.env(*v).and_then(|e| e.state.as_ref());
                match state.and_then(|s| s.field(&field.name)) {
                    Some(f) => f.ty.clone(),
                    None => {
                        let names: Vec<String> = state
                            .map(|s| s.fields.iter().map(|f| f.name.name.clone()).collect())
                            .unwrap_or_default();
                        let help = did_you_mean(&field.name, names.iter().map(String::as_str));
                        self.cx.report(
                            codes::UNKNOWN_FIELD,
                            field.span,
                            format!("the state of version {v} has no field `{}`", field.name),
                            |d| d.label("unknown state field").maybe_help(help),
                        );
                        Ty::Unknown
                    }
                }
            }
            Ty::Tuple(items) => match field.name.parse::<usize>().ok().and_then(|i| items.get(i)) {
                Some(t) => t.clone(),
                None => {
                    let n = items.len();
                    self.cx.report(
                        codes::UNKNOWN_FIELD,
                        field.span,
                        format!("a tuple of {n} has no field `{}`", field.name),
                        |d| d.label(format!("tuple fields are `0` to `{}`", n.saturating_sub(1))),
                    );
                    Ty::Unknown
                }
            },
            other => self.no_fields(field, other),
        }
    }

    fn no_fields(&mut self, field: &Ident, ty: &Ty) -> Ty {
        self.cx.report(
            codes::NO_FIELDS,
            field.span,
            format!("`{ty}` has no field `{}`", field.name),
            |d| {
                let d = d.label("no fields");
                match ty {
                    Ty::Option(_) => d.help(format!(
                        "the value may be `none`: use `.map(|x| x.{})`",
                        field.name
                    )),
                    _ => d.note("only records, tuples and states have fields"),
                }
            },
        );
        Ty::Unknown
    }

    pub(super) fn index(&mut self, inner: &Expr, key: &Expr) -> Ty {
        let inner_ty = self.infer(inner, None);
        match &inner_ty {
            Ty::Map(k, v) => {
                self.check(key, k);
                v.as_ref().clone()
            }
            Ty::List(t) => {
                self.check(key, &Ty::U64);
                t.as_ref().clone()
            }
            Ty::Unknown => {
                self.infer(key, None);
                Ty::Unknown
            }
            other => {
                let what = match other {
                    Ty::State(v) => format!("the state of version {v}"),
                    t => format!("`{t}`"),
                };
                self.cx.report(
                    codes::NOT_INDEXABLE,
                    inner.span,
                    format!("cannot index into {what}"),
                    |d| {
                        let d = d
                            .label("not a map or list")
                            .note("`x[k]` reads a `map` by key or a `list` by position");
                        match other {
                            Ty::State(_) => {
                                d.help("index one of its fields, for example `new.items[k]`")
                            }
                            _ => d,
                        }
                    },
                );
                self.infer(key, None);
                Ty::Unknown
            }
        }
    }
}
