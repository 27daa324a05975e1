//! The mutation operators: for one part of a rule's body, the small wrong rules an author
//! could have written instead. Each candidate replaces one expression (found by its id) by
//! another; many do not type-check, and the caller keeps only those that do, so the
//! operators propose freely and the checker decides.

use super::tree::{bound_names, preorder};
use crate::model::{SpecModel, Ty};
use lang::ast::{BinOp, Expr, ExprId, ExprKind, Ident, Lit, Rule};
use lang::Span;

/// One proposed change: the expression `target` becomes `kind`.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub target: ExprId,
    /// Where the changed expression is in the original spec.
    pub span: Span,
    pub kind: ExprKind,
    /// What changed, in words: ``replaced `key` by `""` ``.
    pub what: String,
}

/// The candidates of every part of `rule`'s body. `services`: the method names its `call`s
/// may name instead.
pub(crate) fn candidates(
    model: &SpecModel,
    text: &str,
    rule: &Rule,
    services: &[String],
) -> Vec<Candidate> {
    let mut names: Vec<String> = rule.params.iter().map(|p| p.name.clone()).collect();
    bound_names(&rule.body, &mut names);
    names.sort();
    names.dedup();
    let mut out = Vec::new();
    for e in preorder(&rule.body) {
        let mut push = |kind: ExprKind, what: String| {
            out.push(Candidate {
                target: e.id,
                span: e.span,
                kind,
                what,
            });
        };
        let shown = snippet(text, e.span);
        let ty = model.type_of(e);
        if !matches!(e.kind, ExprKind::Closure { .. } | ExprKind::Disallow(_)) {
            for (kind, written) in constants(model, ty) {
                // `Status::Pending` and `v2::Status::Pending` are one value.
                if same_variant(&e.kind, &kind) {
                    continue;
                }
                push(kind, format!("replaced `{shown}` by `{written}`"));
            }
            if *ty != Ty::Unknown {
                for part in descendants(e, 2) {
                    if model.type_of(part) == ty {
                        let part_shown = snippet(text, part.span);
                        push(
                            part.kind.clone(),
                            format!("replaced `{shown}` by its part `{part_shown}`"),
                        );
                    }
                }
            }
        }
        match &e.kind {
            ExprKind::Var(v) => {
                for other in names.iter().filter(|n| **n != v.name) {
                    push(
                        ExprKind::Var(ident(other)),
                        format!("replaced variable `{}` by `{other}`", v.name),
                    );
                }
            }
            ExprKind::Lit(Lit::Bool(b)) => {
                push(ExprKind::Lit(Lit::Bool(!b)), format!("flipped `{b}`"));
            }
            ExprKind::Field(inner, field) => {
                for other in sibling_fields(model, model.type_of(inner), &field.name, ty) {
                    push(
                        ExprKind::Field(inner.clone(), ident(&other)),
                        format!(
                            "replaced field `.{}` by `.{other}` in `{shown}`",
                            field.name
                        ),
                    );
                }
            }
            ExprKind::Binary(op, a, b) => {
                for other in flipped(*op) {
                    push(
                        ExprKind::Binary(other, a.clone(), b.clone()),
                        format!(
                            "replaced `{}` by `{}` in `{shown}`",
                            op.symbol(),
                            other.symbol()
                        ),
                    );
                }
            }
            ExprKind::If {
                cond,
                then,
                otherwise,
            } => push(
                ExprKind::If {
                    cond: cond.clone(),
                    then: otherwise.clone(),
                    otherwise: then.clone(),
                },
                format!("swapped the branches of `{shown}`"),
            ),
            ExprKind::Match { scrutinee, arms } => {
                for (i, a) in arms.iter().enumerate() {
                    for (j, b) in arms.iter().enumerate().skip(i + 1) {
                        push(
                            ExprKind::Match {
                                scrutinee: scrutinee.clone(),
                                arms: exchanged(arms, i, j, |arm| &mut arm.body),
                            },
                            format!(
                                "swapped the bodies of the arms `{}` and `{}` of `{shown}`",
                                snippet(text, a.pattern.span),
                                snippet(text, b.pattern.span)
                            ),
                        );
                    }
                }
            }
            ExprKind::Delegate { method: name, args } | ExprKind::Builtin { name, args } => {
                // A `call` and a built-in's call change alike: another name, swapped arguments.
                let delegate = matches!(e.kind, ExprKind::Delegate { .. });
                let call = |name: Ident, args: Vec<Expr>| {
                    if delegate {
                        ExprKind::Delegate { method: name, args }
                    } else {
                        ExprKind::Builtin { name, args }
                    }
                };
                let was = &name.name;
                // The other names, each with how the mutant is described.
                let renamed: Vec<(&str, String)> = if delegate {
                    services
                        .iter()
                        .map(String::as_str)
                        .filter(|m| m != was)
                        .map(|other| (other, format!("replaced `call {was}` by `call {other}`")))
                        .collect()
                } else {
                    sibling_builtin(was)
                        .map(|other| (other, format!("replaced `{was}` by `{other}` in `{shown}`")))
                        .into_iter()
                        .collect()
                };
                for (other, what) in renamed {
                    push(call(ident(other), args.clone()), what);
                }
                for (swapped, what) in swapped_args(model, text, args) {
                    push(call(name.clone(), swapped), format!("{what} of `{shown}`"));
                }
            }
            ExprKind::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    let mut fewer = items.clone();
                    fewer.remove(i);
                    push(
                        ExprKind::List(fewer),
                        format!("dropped `{}` from `{shown}`", snippet(text, item.span)),
                    );
                }
            }
            ExprKind::Tuple(items) => {
                for (swapped, what) in swapped_args(model, text, items) {
                    push(ExprKind::Tuple(swapped), format!("{what} of `{shown}`"));
                }
            }
            ExprKind::Record { path, fields } => {
                for (i, a) in fields.iter().enumerate() {
                    for (j, b) in fields.iter().enumerate().skip(i + 1) {
                        if model.type_of(&a.value) != model.type_of(&b.value) {
                            continue;
                        }
                        push(
                            ExprKind::Record {
                                path: path.clone(),
                                fields: exchanged(fields, i, j, |f| &mut f.value),
                            },
                            format!(
                                "swapped the fields `{}` and `{}` of `{shown}`",
                                a.name.name, b.name.name
                            ),
                        );
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// `items` with the parts `part` picks of the `i`th and the `j`th exchanged (the bodies of two
/// match arms, the values of two record fields).
fn exchanged<T: Clone, P>(
    items: &[T],
    i: usize,
    j: usize,
    part: impl Fn(&mut T) -> &mut P,
) -> Vec<T> {
    let mut out = items.to_vec();
    if let Ok([a, b]) = out.get_disjoint_mut([i, j]) {
        std::mem::swap(part(a), part(b));
    }
    out
}

/// Both are the same payload-less variant, however qualified.
fn same_variant(a: &ExprKind, b: &ExprKind) -> bool {
    match (a, b) {
        (
            ExprKind::Variant {
                path: pa,
                payload: None,
            },
            ExprKind::Variant {
                path: pb,
                payload: None,
            },
        ) => pa.last().map(|i| &i.name) == pb.last().map(|i| &i.name),
        _ => false,
    }
}

/// The parts of `e` at most `depth` levels below it.
fn descendants(e: &Expr, depth: usize) -> Vec<&Expr> {
    let mut out = Vec::new();
    let mut level = vec![e];
    for _ in 0..depth {
        level = level.into_iter().flat_map(Expr::children).collect();
        out.extend(level.iter().copied());
    }
    out
}

/// Constants of type `ty`, each with how it is written.
fn constants(model: &SpecModel, ty: &Ty) -> Vec<(ExprKind, String)> {
    let lit = |l: Lit, s: &str| (ExprKind::Lit(l), s.to_string());
    match ty {
        Ty::Bool => vec![lit(Lit::Bool(true), "true"), lit(Lit::Bool(false), "false")],
        Ty::U64 | Ty::I64 => vec![lit(Lit::Int(0), "0"), lit(Lit::Int(1), "1")],
        Ty::F64 => vec![lit(Lit::Float(0.0), "0.0")],
        Ty::Str => vec![
            lit(Lit::Str(String::new()), "\"\""),
            lit(Lit::Str("mutant".into()), "\"mutant\""),
        ],
        Ty::Unit => vec![lit(Lit::Unit, "()")],
        Ty::Option(_) => vec![lit(Lit::None, "none")],
        Ty::List(_) => vec![(ExprKind::List(Vec::new()), "[]".into())],
        Ty::Set(_) => vec![(builtin("to_set", vec![empty_list()]), "to_set([])".into())],
        Ty::Map(..) => vec![(ExprKind::Map(Vec::new()), "{}".into())],
        Ty::Named(r) => {
            let Some(def) = model.env(r.version).and_then(|v| v.enums.get(&r.name)) else {
                return Vec::new();
            };
            def.variants
                .iter()
                .filter(|v| v.payload.is_none())
                .map(|v| {
                    let version = format!("v{}", r.version);
                    let path = [version.as_str(), r.name.as_str(), v.name.name.as_str()];
                    (
                        ExprKind::Variant {
                            path: path.iter().map(|p| ident(p)).collect(),
                            payload: None,
                        },
                        path.join("::"),
                    )
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// The other fields of the record (or tuple) `of` that have the type `ty`.
fn sibling_fields(model: &SpecModel, of: &Ty, field: &str, ty: &Ty) -> Vec<String> {
    match of {
        Ty::Named(r) => model
            .env(r.version)
            .and_then(|v| v.records.get(&r.name))
            .map(|def| {
                def.fields
                    .iter()
                    .filter(|f| f.name.name != field && f.ty == *ty)
                    .map(|f| f.name.name.clone())
                    .collect()
            })
            .unwrap_or_default(),
        Ty::Tuple(items) => items
            .iter()
            .enumerate()
            .filter(|(i, t)| i.to_string() != field && *t == ty)
            .map(|(i, _)| i.to_string())
            .collect(),
        _ => Vec::new(),
    }
}

/// Two arguments of one type swapped, each with what was swapped in words.
fn swapped_args(model: &SpecModel, text: &str, args: &[Expr]) -> Vec<(Vec<Expr>, String)> {
    let mut out = Vec::new();
    for (i, a) in args.iter().enumerate() {
        for (j, b) in args.iter().enumerate().skip(i + 1) {
            if model.type_of(a) != model.type_of(b) || *model.type_of(a) == Ty::Unknown {
                continue;
            }
            let mut swapped = args.to_vec();
            swapped.swap(i, j);
            out.push((
                swapped,
                format!(
                    "swapped the arguments `{}` and `{}`",
                    snippet(text, a.span),
                    snippet(text, b.span)
                ),
            ));
        }
    }
    out
}

/// Operators an author could have confused with `op`.
fn flipped(op: BinOp) -> Vec<BinOp> {
    use BinOp::*;
    match op {
        Eq => vec![Ne],
        Ne => vec![Eq],
        Lt => vec![Le, Ge],
        Le => vec![Lt, Gt],
        Gt => vec![Ge, Le],
        Ge => vec![Gt, Lt],
        And => vec![Or],
        Or => vec![And],
        Add => vec![Sub],
        Sub => vec![Add],
        Mul => vec![Add],
        Div => vec![Mul],
        Rem => vec![Div],
    }
}

/// A built-in of the same shape an author could have confused with `name`.
fn sibling_builtin(name: &str) -> Option<&'static str> {
    Some(match name {
        "keys" => "values",
        "values" => "keys",
        "min" => "max",
        "max" => "min",
        "any" => "all",
        "all" => "any",
        "is_some" => "is_none",
        "is_none" => "is_some",
        _ => return None,
    })
}

fn ident(name: &str) -> Ident {
    Ident {
        name: name.to_string(),
        span: Span::default(),
    }
}

fn expr(kind: ExprKind) -> Expr {
    Expr {
        kind,
        span: Span::default(),
        id: ExprId::NONE,
    }
}

fn empty_list() -> Expr {
    expr(ExprKind::List(Vec::new()))
}

fn builtin(name: &str, args: Vec<Expr>) -> ExprKind {
    ExprKind::Builtin {
        name: ident(name),
        args,
    }
}

/// The source text of `span` on one line, cut to a readable length.
pub(crate) fn snippet(text: &str, span: Span) -> String {
    const MAX: usize = 48;
    let raw = text.get(span.start..span.end).unwrap_or("?");
    let one_line = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > MAX {
        let cut: String = one_line.chars().take(MAX - 3).collect();
        format!("{cut}...")
    } else {
        one_line
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, reason = "tests")]

    use super::candidates;
    use crate::check::check_sources;
    use lang::span::SourceMap;

    /// A `call` and a built-in's call change alike (another name, then two arguments of one
    /// type swapped), each described in its own words.
    #[test]
    fn calls_and_builtin_calls_are_renamed_and_their_arguments_swapped() {
        let text = "upgrade t 1 -> 2\n\
             version 1 { service S { fn get(a: u64, b: u64) -> u64\n fn put(a: u64, b: u64) -> u64 } }\n\
             version 2 { service S { fn get(a: u64, b: u64) -> u64\n fn put(a: u64, b: u64) -> u64 } }\n\
             past S { get(a, b) = min(call get(a, b), b) }\n";
        let mut sources = SourceMap::new();
        sources.add("t.ups", text);
        let out = check_sources(&sources);
        assert!(!out.has_errors(), "{:#?}", out.diagnostics);
        let model = &out.models[0];
        let rule = &model.spec.rule_blocks().next().unwrap().rules[0];
        let services = ["get".to_string(), "put".to_string()];
        let got: Vec<String> = candidates(model, text, rule, &services)
            .into_iter()
            .map(|c| c.what)
            .filter(|w| {
                [
                    "replaced `min` ",
                    "replaced `call get` ",
                    "swapped the arguments ",
                ]
                .iter()
                .any(|start| w.starts_with(start))
            })
            .collect();
        assert_eq!(
            got,
            [
                "replaced `min` by `max` in `min(call get(a, b), b)`",
                "swapped the arguments `call get(a, b)` and `b` of `min(call get(a, b), b)`",
                "replaced `call get` by `call put`",
                "swapped the arguments `a` and `b` of `call get(a, b)`",
            ]
        );
    }
}
