//! Typing of the built-in functions (`keys`, `map`, `to_map`, ...). Their meaning lives in
//! `eval::builtins`; a test keeps the two lists of names equal.

use super::expr::ExprChecker;
use super::suggest::did_you_mean;
use crate::model::Ty;
use lang::ast::{Expr, ExprKind, Ident};
use lang::diagnostic::codes;
use lang::span::Span;

/// Every built-in the checker knows, with its arity.
pub(crate) const BUILTINS: &[(&str, usize)] = &[
    ("keys", 1),
    ("values", 1),
    ("entries", 1),
    ("len", 1),
    ("contains", 2),
    ("contains_key", 2),
    ("get", 2),
    ("insert", 3),
    ("remove", 2),
    ("map", 2),
    ("map_values", 2),
    ("filter", 2),
    ("to_map", 2),
    ("to_set", 1),
    ("to_list", 1),
    ("some", 1),
    ("unwrap_or", 2),
    ("is_some", 1),
    ("is_none", 1),
    ("and_then", 2),
    ("any", 2),
    ("all", 2),
    ("sum", 1),
    ("concat", 2),
    ("to_string", 1),
    ("i64", 1),
    ("u64", 1),
    ("f64", 1),
    ("min", 2),
    ("max", 2),
];

/// What kind of argument a built-in wanted, for messages.
fn want(cx: &mut ExprChecker<'_, '_>, name: &str, arg: &Expr, ty: &Ty, what: &str) -> Ty {
    if *ty != Ty::Unknown {
        cx.cx.report(
            codes::TYPE_MISMATCH,
            arg.span,
            format!("`{name}` needs {what}, found `{ty}`"),
            |d| d.label(format!("this is `{ty}`")),
        );
    }
    Ty::Unknown
}

impl ExprChecker<'_, '_> {
    pub(crate) fn builtin(
        &mut self,
        span: Span,
        name: &Ident,
        args: &[Expr],
        hint: Option<&Ty>,
    ) -> Ty {
        let Some(&(_, arity)) = BUILTINS.iter().find(|(n, _)| *n == name.name) else {
            let is_method = self
                .delegate
                .as_ref()
                .and_then(|d| d.target)
                .is_some_and(|s| s.method(&name.name).is_some());
            let help = if is_method {
                Some(format!(
                    "to reach the node's own method, write `call {}(...)`",
                    name.name
                ))
            } else {
                did_you_mean(&name.name, BUILTINS.iter().map(|(n, _)| *n))
            };
            self.cx.report(
                codes::UNKNOWN_FUNCTION,
                name.span,
                format!("unknown function `{}`", name.name),
                |d| d.label("not a built-in").maybe_help(help),
            );
            self.infer_loose(args);
            return Ty::Unknown;
        };
        if args.len() != arity {
            let n = name.name.clone();
            self.cx.report(
                codes::FUNCTION_ARITY,
                span,
                format!(
                    "`{n}` takes {arity} argument{}, found {}",
                    if arity == 1 { "" } else { "s" },
                    args.len()
                ),
                |d| {
                    d.label("wrong number of arguments")
                        .note("`x.f(a)` is `f(x, a)`: the receiver is the first argument")
                },
            );
            self.infer_loose(args);
            return Ty::Unknown;
        }
        let n = name.name.as_str();
        let mut arg = args.iter();
        let (Some(a0), a1, a2) = (arg.next(), arg.next(), arg.next()) else {
            return Ty::Unknown;
        };
        // Hints that flow into the first argument: `some(x)` with an expected option.
        let t0 = match (n, hint) {
            ("some", Some(Ty::Option(t))) => self.infer_checked(a0, Some(t)),
            _ => self.infer(a0, None),
        };
        let second = |me: &mut Self, t: &Ty| {
            if let Some(a) = a1 {
                me.check(a, t)
            }
        };
        match n {
            "keys" | "values" | "entries" => match &t0 {
                Ty::Map(k, v) => match n {
                    "keys" => Ty::Set(k.clone()),
                    "values" => Ty::List(v.clone()),
                    _ => Ty::List(Box::new(Ty::Tuple(vec![
                        k.as_ref().clone(),
                        v.as_ref().clone(),
                    ]))),
                },
                t => want(self, n, a0, t, "a map"),
            },
            "len" => match &t0 {
                Ty::List(_) | Ty::Set(_) | Ty::Map(..) | Ty::Str | Ty::Bytes | Ty::Unknown => {
                    Ty::U64
                }
                t => {
                    want(self, n, a0, t, "a list, set, map, string or bytes");
                    Ty::U64
                }
            },
            "contains" => match &t0 {
                Ty::List(t) | Ty::Set(t) => {
                    second(self, t);
                    Ty::Bool
                }
                t => {
                    want(self, n, a0, t, "a list or set");
                    Ty::Bool
                }
            },
            "contains_key" | "get" | "remove" => match &t0 {
                Ty::Map(k, v) => {
                    second(self, k);
                    match n {
                        "contains_key" => Ty::Bool,
                        "get" => Ty::Option(v.clone()),
                        _ => t0.clone(),
                    }
                }
                t => want(self, n, a0, t, "a map"),
            },
            "insert" => match &t0 {
                Ty::Map(k, v) => {
                    second(self, k);
                    if let Some(a) = a2 {
                        self.check(a, v);
                    }
                    t0.clone()
                }
                t => want(self, n, a0, t, "a map"),
            },
            "map" | "filter" | "any" | "all" => {
                let elem = match &t0 {
                    Ty::Option(t) if n == "map" => t.as_ref().clone(),
                    Ty::List(t) | Ty::Set(t) => t.as_ref().clone(),
                    t => {
                        let what = if n == "map" {
                            "an option, list or set"
                        } else {
                            "a list or set"
                        };
                        want(self, n, a0, t, what);
                        Ty::Unknown
                    }
                };
                let ret_hint = match (n, hint) {
                    ("map", Some(Ty::Option(u) | Ty::List(u) | Ty::Set(u))) => {
                        Some(u.as_ref().clone())
                    }
                    ("filter" | "any" | "all", _) => Some(Ty::Bool),
                    _ => None,
                };
                let body = self.closure(n, a1, &[elem], ret_hint.as_ref());
                match (n, &t0) {
                    ("map", Ty::Option(_)) => Ty::Option(Box::new(body)),
                    ("map", Ty::List(_)) => Ty::List(Box::new(body)),
                    ("map", Ty::Set(_)) => Ty::Set(Box::new(body)),
                    ("filter", _) => t0.clone(),
                    ("any" | "all", _) => Ty::Bool,
                    _ => Ty::Unknown,
                }
            }
            "map_values" => match &t0 {
                Ty::Map(k, v) => {
                    let ret_hint = match hint {
                        Some(Ty::Map(_, w)) => Some(w.as_ref().clone()),
                        _ => None,
                    };
                    let body = self.closure(n, a1, &[v.as_ref().clone()], ret_hint.as_ref());
                    Ty::Map(k.clone(), Box::new(body))
                }
                t => {
                    want(self, n, a0, t, "a map");
                    self.closure(n, a1, &[Ty::Unknown], None);
                    Ty::Unknown
                }
            },
            "to_map" => {
                let elem = match &t0 {
                    Ty::List(t) => t.as_ref().clone(),
                    t => want(self, n, a0, t, "a list"),
                };
                let ret_hint = match hint {
                    Some(Ty::Map(k, v)) => {
                        Some(Ty::Tuple(vec![k.as_ref().clone(), v.as_ref().clone()]))
                    }
                    _ => None,
                };
                let body = self.closure(n, a1, &[elem], ret_hint.as_ref());
                match body {
                    Ty::Tuple(kv) if kv.len() == 2 => {
                        let mut kv = kv.into_iter();
                        let k = kv.next().unwrap_or(Ty::Unknown);
                        let v = kv.next().unwrap_or(Ty::Unknown);
                        Ty::Map(Box::new(k), Box::new(v))
                    }
                    Ty::Unknown => Ty::Map(Box::new(Ty::Unknown), Box::new(Ty::Unknown)),
                    other => {
                        let span = a1.map_or(span, |a| a.span);
                        self.cx.report(
                            codes::TYPE_MISMATCH,
                            span,
                            format!("`to_map` needs a closure returning a pair, found `{other}`"),
                            |d| d.label("should return `(key, value)`"),
                        );
                        Ty::Unknown
                    }
                }
            }
            "to_set" => match &t0 {
                Ty::List(t) => Ty::Set(t.clone()),
                t => want(self, n, a0, t, "a list"),
            },
            "to_list" => match &t0 {
                Ty::Set(t) => Ty::List(t.clone()),
                t => want(self, n, a0, t, "a set"),
            },
            "some" => Ty::Option(Box::new(t0)),
            "unwrap_or" => match &t0 {
                Ty::Option(t) => {
                    second(self, t);
                    t.as_ref().clone()
                }
                t => {
                    want(self, n, a0, t, "an option");
                    a1.map_or(Ty::Unknown, |a| self.infer(a, None))
                }
            },
            "is_some" | "is_none" => {
                if !matches!(t0, Ty::Option(_)) {
                    want(self, n, a0, &t0, "an option");
                }
                Ty::Bool
            }
            "and_then" => {
                let elem = match &t0 {
                    Ty::Option(t) => t.as_ref().clone(),
                    t => want(self, n, a0, t, "an option"),
                };
                let body = self.closure(n, a1, &[elem], hint);
                match body {
                    Ty::Option(_) | Ty::Unknown => body,
                    other => {
                        let span = a1.map_or(span, |a| a.span);
                        self.cx.report(
                            codes::TYPE_MISMATCH,
                            span,
                            format!(
                                "`and_then` needs a closure returning an option, found `{other}`"
                            ),
                            |d| {
                                d.label("should return an `option`")
                                    .help("use `map` for a closure that returns a plain value")
                            },
                        );
                        Ty::Unknown
                    }
                }
            }
            "sum" => match &t0 {
                Ty::List(t) if t.is_numeric() => t.as_ref().clone(),
                t => want(self, n, a0, t, "a list of numbers"),
            },
            "concat" => match &t0 {
                Ty::List(_) => {
                    second(self, &t0);
                    t0.clone()
                }
                t => want(self, n, a0, t, "a list"),
            },
            "to_string" => {
                if !matches!(
                    t0,
                    Ty::I64 | Ty::U64 | Ty::F64 | Ty::Bool | Ty::Str | Ty::Unknown
                ) {
                    want(self, n, a0, &t0, "a number, bool or string");
                }
                Ty::Str
            }
            "i64" | "u64" | "f64" => {
                if !t0.is_numeric() {
                    want(self, n, a0, &t0, "a number");
                }
                match n {
                    "i64" => Ty::I64,
                    "u64" => Ty::U64,
                    _ => Ty::F64,
                }
            }
            "min" | "max" => {
                if !(t0.is_numeric() || t0 == Ty::Str) {
                    want(self, n, a0, &t0, "a number or string");
                }
                second(self, &t0);
                t0
            }
            _ => Ty::Unknown,
        }
    }

    /// Walks arguments of a call that already failed, so their names count as used and their
    /// own errors are still found; closure parameters are of unknown type.
    fn infer_loose(&mut self, args: &[Expr]) {
        for a in args {
            match &a.kind {
                ExprKind::Closure { params, body } => {
                    for p in params {
                        self.bind(p, Ty::Unknown);
                    }
                    self.infer(body, None);
                    self.unbind(params.len());
                }
                _ => {
                    self.infer(a, None);
                }
            }
        }
    }

    /// Checks a closure argument with the given parameter types; returns its body's type.
    fn closure(
        &mut self,
        builtin: &str,
        arg: Option<&Expr>,
        params: &[Ty],
        ret_hint: Option<&Ty>,
    ) -> Ty {
        let Some(arg) = arg else { return Ty::Unknown };
        let ExprKind::Closure {
            params: names,
            body,
        } = &arg.kind
        else {
            let shape = (0..params.len())
                .map(|i| format!("x{i}"))
                .collect::<Vec<_>>()
                .join(", ");
            self.cx.report(
                codes::NOT_A_CLOSURE,
                arg.span,
                format!("`{builtin}` needs a closure here"),
                |d| {
                    d.label("not a closure")
                        .help(format!("write `|{shape}| ...`"))
                },
            );
            self.infer(arg, None);
            return Ty::Unknown;
        };
        if names.len() != params.len() {
            let n = params.len();
            self.cx.report(
                codes::NOT_A_CLOSURE,
                arg.span,
                format!(
                    "`{builtin}` needs a closure with {n} parameter{}, found {}",
                    if n == 1 { "" } else { "s" },
                    names.len()
                ),
                |d| d.label("wrong number of parameters"),
            );
        }
        for (i, name) in names.iter().enumerate() {
            self.bind(name, params.get(i).cloned().unwrap_or(Ty::Unknown));
        }
        let ty = self.infer_checked(body, ret_hint);
        self.unbind(names.len());
        ty
    }
}
