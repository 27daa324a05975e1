//! Operators: `!` and `-` on one operand; `&&`, `||`, comparisons and arithmetic on two, where
//! both sides must have the same type and an untyped literal takes the other side's type.

use super::*;

impl ExprChecker<'_, '_> {
    pub(super) fn unary(&mut self, span: Span, op: UnOp, inner: &Expr, hint: Option<&Ty>) -> Ty {
        match op {
            UnOp::Not => {
                self.check(inner, &Ty::Bool);
                Ty::Bool
            }
            UnOp::Neg => {
                let ty = match &inner.kind {
                    ExprKind::Lit(lit @ Lit::Int(_)) => self.literal(lit, hint, span, true),
                    _ => self.infer(inner, hint),
                };
                match ty {
                    Ty::I64 | Ty::F64 | Ty::Unknown => ty,
                    Ty::U64 if matches!(inner.kind, ExprKind::Lit(_)) => ty,
                    other => {
                        self.cx.report(
                            codes::BAD_OPERANDS,
                            span,
                            format!("cannot negate `{other}`"),
                            |d| d.label("`-` needs `i64` or `f64`"),
                        );
                        Ty::Unknown
                    }
                }
            }
        }
    }

    pub(super) fn binary(
        &mut self,
        span: Span,
        op: BinOp,
        l: &Expr,
        r: &Expr,
        hint: Option<&Ty>,
    ) -> Ty {
        match op {
            BinOp::And | BinOp::Or => {
                self.check(l, &Ty::Bool);
                self.check(r, &Ty::Bool);
                Ty::Bool
            }
            _ => {
                let arith = matches!(
                    op,
                    BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem
                );
                let operand_hint = if arith {
                    hint.filter(|h| h.is_numeric() || **h == Ty::Str)
                } else {
                    None
                };
                // An untyped literal takes the other side's type: infer the typed side first.
                let (lt, rt) = if is_untyped_literal(l) && !is_untyped_literal(r) {
                    let rt = self.infer(r, operand_hint);
                    let lt = self.infer(l, Some(&rt));
                    (lt, rt)
                } else {
                    let lt = self.infer(l, operand_hint);
                    let rt = self.infer(r, Some(&lt));
                    (lt, rt)
                };
                let operand = if self.types.same(&lt, &rt) {
                    if lt == Ty::Unknown {
                        rt.clone()
                    } else {
                        lt.clone()
                    }
                } else {
                    self.cx.report(
                        codes::BAD_OPERANDS,
                        span,
                        format!("`{}` between `{lt}` and `{rt}`", op.symbol()),
                        |d| {
                            let d = d.label("both sides must have the same type");
                            if lt.is_numeric() && rt.is_numeric() {
                                d.note("numbers are never converted implicitly: use `i64(x)`, `u64(x)` or `f64(x)`")
                            } else {
                                d
                            }
                        },
                    );
                    return if arith { Ty::Unknown } else { Ty::Bool };
                };
                let ok = match op {
                    BinOp::Eq | BinOp::Ne => true,
                    BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                        operand.is_numeric() || operand == Ty::Str
                    }
                    BinOp::Add => operand.is_numeric() || matches!(operand, Ty::Str | Ty::List(_)),
                    _ => operand.is_numeric(),
                };
                if !ok {
                    self.cx.report(
                        codes::BAD_OPERANDS,
                        span,
                        format!("`{}` does not apply to `{operand}`", op.symbol()),
                        |d| {
                            d.label(format!("operands are `{operand}`")).note(match op {
                                BinOp::Add => "`+` adds numbers and joins strings and lists",
                                BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                                    "ordering compares numbers and strings"
                                }
                                _ => "arithmetic needs numbers",
                            })
                        },
                    );
                }
                if arith {
                    if ok {
                        operand
                    } else {
                        Ty::Unknown
                    }
                } else {
                    Ty::Bool
                }
            }
        }
    }
}

fn is_untyped_literal(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Lit(Lit::Int(_) | Lit::None) => true,
        ExprKind::Unary(UnOp::Neg, inner) => is_untyped_literal(inner),
        _ => false,
    }
}
