//! Typing of the built-in functions (`keys`, `map`, `to_map`, ...): one typing function per
//! built-in (or family), referenced from the one table of built-ins, [`crate::builtins`].

use super::expr::ExprChecker;
use super::suggest::did_you_mean;
use crate::builtins::{lookup, BUILTINS};
use crate::model::Ty;
use lang::ast::{Expr, ExprKind, Ident};
use lang::diagnostic::codes;
use lang::span::Span;

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
        if let Some(f) = self.types.functions.get(&name.name) {
            return self.function_call(span, name, f, args);
        }
        let Some(entry) = lookup(&name.name) else {
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
                let functions = self.types.functions.keys().map(String::as_str);
                did_you_mean(&name.name, BUILTINS.iter().map(|b| b.name).chain(functions))
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
        let arity = entry.arity;
        if args.len() != arity {
            self.wrong_arity(span, &name.name, arity, args, None);
            return Ty::Unknown;
        }
        let n = entry.name;
        let mut arg = args.iter();
        let (Some(a0), a1, a2) = (arg.next(), arg.next(), arg.next()) else {
            return Ty::Unknown;
        };
        // Hints that flow into the first argument: `some(x)` with an expected option.
        let t0 = match (n, hint) {
            ("some", Some(Ty::Option(t))) => self.infer_checked(a0, Some(t)),
            _ => self.infer(a0, None),
        };
        let site = Site {
            name: n,
            span,
            a0,
            a1,
            a2,
            t0,
            hint,
        };
        (entry.check)(self, &site)
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

/// How the checker types one built-in: from the call site to the result type, reporting what
/// does not fit.
pub(crate) type Typing = fn(&mut ExprChecker<'_, '_>, &Site<'_>) -> Ty;

/// A call of a built-in with the right number of arguments, its first argument already typed.
pub(crate) struct Site<'e> {
    name: &'static str,
    span: Span,
    a0: &'e Expr,
    a1: Option<&'e Expr>,
    a2: Option<&'e Expr>,
    /// The type of the first argument.
    t0: Ty,
    /// The type the context expects of the call, if any.
    hint: Option<&'e Ty>,
}

impl Site<'_> {
    /// Reports that the first argument is not `what`.
    fn want(&self, cx: &mut ExprChecker<'_, '_>, ty: &Ty, what: &str) -> Ty {
        want(cx, self.name, self.a0, ty, what)
    }

    /// Checks the second argument against `t`.
    fn second(&self, cx: &mut ExprChecker<'_, '_>, t: &Ty) {
        if let Some(a) = self.a1 {
            cx.check(a, t)
        }
    }
}

/// `keys`, `values`, `entries`: views of a map.
pub(crate) fn map_view(cx: &mut ExprChecker<'_, '_>, s: &Site<'_>) -> Ty {
    match &s.t0 {
        Ty::Map(k, v) => match s.name {
            "keys" => Ty::Set(k.clone()),
            "values" => Ty::List(v.clone()),
            _ => Ty::List(Box::new(Ty::Tuple(vec![
                k.as_ref().clone(),
                v.as_ref().clone(),
            ]))),
        },
        t => s.want(cx, t, "a map"),
    }
}

/// `len`.
pub(crate) fn len(cx: &mut ExprChecker<'_, '_>, s: &Site<'_>) -> Ty {
    match &s.t0 {
        Ty::List(_) | Ty::Set(_) | Ty::Map(..) | Ty::Str | Ty::Bytes | Ty::Unknown => Ty::U64,
        t => {
            s.want(cx, t, "a list, set, map, string or bytes");
            Ty::U64
        }
    }
}

/// `contains`.
pub(crate) fn contains(cx: &mut ExprChecker<'_, '_>, s: &Site<'_>) -> Ty {
    match &s.t0 {
        Ty::List(t) | Ty::Set(t) => {
            s.second(cx, t);
            Ty::Bool
        }
        t => {
            s.want(cx, t, "a list or set");
            Ty::Bool
        }
    }
}

/// `contains_key`, `get`, `remove`: a map and a key.
pub(crate) fn map_key(cx: &mut ExprChecker<'_, '_>, s: &Site<'_>) -> Ty {
    match &s.t0 {
        Ty::Map(k, v) => {
            s.second(cx, k);
            match s.name {
                "contains_key" => Ty::Bool,
                "get" => Ty::Option(v.clone()),
                _ => s.t0.clone(),
            }
        }
        t => s.want(cx, t, "a map"),
    }
}

/// `insert`.
pub(crate) fn insert(cx: &mut ExprChecker<'_, '_>, s: &Site<'_>) -> Ty {
    match &s.t0 {
        Ty::Map(k, v) => {
            s.second(cx, k);
            if let Some(a) = s.a2 {
                cx.check(a, v);
            }
            s.t0.clone()
        }
        t => s.want(cx, t, "a map"),
    }
}

/// `map`, `filter`, `any`, `all`: a closure over the elements of a collection (or an option,
/// for `map`).
pub(crate) fn over_elements(cx: &mut ExprChecker<'_, '_>, s: &Site<'_>) -> Ty {
    let n = s.name;
    let t0 = &s.t0;
    let elem = match t0 {
        Ty::Option(t) if n == "map" => t.as_ref().clone(),
        Ty::List(t) | Ty::Set(t) => t.as_ref().clone(),
        t => {
            let what = if n == "map" {
                "an option, list or set"
            } else {
                "a list or set"
            };
            s.want(cx, t, what);
            Ty::Unknown
        }
    };
    let ret_hint = match (n, s.hint) {
        ("map", Some(Ty::Option(u) | Ty::List(u) | Ty::Set(u))) => Some(u.as_ref().clone()),
        ("filter" | "any" | "all", _) => Some(Ty::Bool),
        _ => None,
    };
    let body = cx.closure(n, s.a1, &[elem], ret_hint.as_ref());
    match (n, t0) {
        ("map", Ty::Option(_)) => Ty::Option(Box::new(body)),
        ("map", Ty::List(_)) => Ty::List(Box::new(body)),
        ("map", Ty::Set(_)) => Ty::Set(Box::new(body)),
        ("filter", _) => t0.clone(),
        ("any" | "all", _) => Ty::Bool,
        _ => Ty::Unknown,
    }
}

/// `map_values`.
pub(crate) fn map_values(cx: &mut ExprChecker<'_, '_>, s: &Site<'_>) -> Ty {
    match &s.t0 {
        Ty::Map(k, v) => {
            let ret_hint = match s.hint {
                Some(Ty::Map(_, w)) => Some(w.as_ref().clone()),
                _ => None,
            };
            let body = cx.closure(s.name, s.a1, &[v.as_ref().clone()], ret_hint.as_ref());
            Ty::Map(k.clone(), Box::new(body))
        }
        t => {
            s.want(cx, t, "a map");
            cx.closure(s.name, s.a1, &[Ty::Unknown], None);
            Ty::Unknown
        }
    }
}

/// `to_map`.
pub(crate) fn to_map(cx: &mut ExprChecker<'_, '_>, s: &Site<'_>) -> Ty {
    let elem = match &s.t0 {
        Ty::List(t) => t.as_ref().clone(),
        t => s.want(cx, t, "a list"),
    };
    let ret_hint = match s.hint {
        Some(Ty::Map(k, v)) => Some(Ty::Tuple(vec![k.as_ref().clone(), v.as_ref().clone()])),
        _ => None,
    };
    let body = cx.closure(s.name, s.a1, &[elem], ret_hint.as_ref());
    match body {
        Ty::Tuple(kv) if kv.len() == 2 => {
            let mut kv = kv.into_iter();
            let k = kv.next().unwrap_or(Ty::Unknown);
            let v = kv.next().unwrap_or(Ty::Unknown);
            Ty::Map(Box::new(k), Box::new(v))
        }
        Ty::Unknown => Ty::Map(Box::new(Ty::Unknown), Box::new(Ty::Unknown)),
        other => {
            let span = s.a1.map_or(s.span, |a| a.span);
            cx.cx.report(
                codes::TYPE_MISMATCH,
                span,
                format!("`to_map` needs a closure returning a pair, found `{other}`"),
                |d| d.label("should return `(key, value)`"),
            );
            Ty::Unknown
        }
    }
}

/// `to_set`.
pub(crate) fn to_set(cx: &mut ExprChecker<'_, '_>, s: &Site<'_>) -> Ty {
    match &s.t0 {
        Ty::List(t) => Ty::Set(t.clone()),
        t => s.want(cx, t, "a list"),
    }
}

/// `to_list`.
pub(crate) fn to_list(cx: &mut ExprChecker<'_, '_>, s: &Site<'_>) -> Ty {
    match &s.t0 {
        Ty::Set(t) => Ty::List(t.clone()),
        t => s.want(cx, t, "a set"),
    }
}

/// `some`.
pub(crate) fn some(_: &mut ExprChecker<'_, '_>, s: &Site<'_>) -> Ty {
    Ty::Option(Box::new(s.t0.clone()))
}

/// `unwrap_or`.
pub(crate) fn unwrap_or(cx: &mut ExprChecker<'_, '_>, s: &Site<'_>) -> Ty {
    match &s.t0 {
        Ty::Option(t) => {
            s.second(cx, t);
            t.as_ref().clone()
        }
        t => {
            s.want(cx, t, "an option");
            s.a1.map_or(Ty::Unknown, |a| cx.infer(a, None))
        }
    }
}

/// `is_some`, `is_none`.
pub(crate) fn is_option(cx: &mut ExprChecker<'_, '_>, s: &Site<'_>) -> Ty {
    if !matches!(s.t0, Ty::Option(_)) {
        s.want(cx, &s.t0, "an option");
    }
    Ty::Bool
}

/// `and_then`.
pub(crate) fn and_then(cx: &mut ExprChecker<'_, '_>, s: &Site<'_>) -> Ty {
    let elem = match &s.t0 {
        Ty::Option(t) => t.as_ref().clone(),
        t => s.want(cx, t, "an option"),
    };
    let body = cx.closure(s.name, s.a1, &[elem], s.hint);
    match body {
        Ty::Option(_) | Ty::Unknown => body,
        other => {
            let span = s.a1.map_or(s.span, |a| a.span);
            cx.cx.report(
                codes::TYPE_MISMATCH,
                span,
                format!("`and_then` needs a closure returning an option, found `{other}`"),
                |d| {
                    d.label("should return an `option`")
                        .help("use `map` for a closure that returns a plain value")
                },
            );
            Ty::Unknown
        }
    }
}

/// `sum`.
pub(crate) fn sum(cx: &mut ExprChecker<'_, '_>, s: &Site<'_>) -> Ty {
    match &s.t0 {
        Ty::List(t) if t.is_numeric() => t.as_ref().clone(),
        t => s.want(cx, t, "a list of numbers"),
    }
}

/// `concat`.
pub(crate) fn concat(cx: &mut ExprChecker<'_, '_>, s: &Site<'_>) -> Ty {
    match &s.t0 {
        Ty::List(_) => {
            s.second(cx, &s.t0);
            s.t0.clone()
        }
        t => s.want(cx, t, "a list"),
    }
}

/// `to_string`.
pub(crate) fn to_string(cx: &mut ExprChecker<'_, '_>, s: &Site<'_>) -> Ty {
    if !matches!(
        s.t0,
        Ty::I64 | Ty::U64 | Ty::F64 | Ty::Bool | Ty::Str | Ty::Unknown
    ) {
        s.want(cx, &s.t0, "a number, bool or string");
    }
    Ty::Str
}

/// `i64`, `u64`, `f64`: number conversions.
pub(crate) fn convert(cx: &mut ExprChecker<'_, '_>, s: &Site<'_>) -> Ty {
    if !s.t0.is_numeric() {
        s.want(cx, &s.t0, "a number");
    }
    match s.name {
        "i64" => Ty::I64,
        "u64" => Ty::U64,
        _ => Ty::F64,
    }
}

/// `min`, `max`.
pub(crate) fn min_max(cx: &mut ExprChecker<'_, '_>, s: &Site<'_>) -> Ty {
    if !(s.t0.is_numeric() || s.t0 == Ty::Str) {
        s.want(cx, &s.t0, "a number or string");
    }
    s.second(cx, &s.t0);
    s.t0.clone()
}

impl ExprChecker<'_, '_> {
    /// A call of a helper function: as many arguments as it has parameters, each of its type.
    fn function_call(
        &mut self,
        span: Span,
        name: &Ident,
        f: &crate::model::FunctionDef,
        args: &[Expr],
    ) -> Ty {
        self.function_calls.push((name.name.clone(), name.span));
        if args.len() != f.params.len() {
            self.wrong_arity(span, &name.name, f.params.len(), args, Some(f.name.span));
            return f.ret.clone();
        }
        for (a, p) in args.iter().zip(&f.params) {
            self.check(a, &p.ty);
        }
        f.ret.clone()
    }

    /// Reports a call of the built-in or helper function `name` with other than `arity`
    /// arguments (`defined`: where a helper function is defined), and infers the arguments
    /// loosely so that their own errors are still found.
    fn wrong_arity(
        &mut self,
        span: Span,
        name: &str,
        arity: usize,
        args: &[Expr],
        defined: Option<Span>,
    ) {
        self.cx.report(
            codes::FUNCTION_ARITY,
            span,
            format!(
                "`{name}` takes {arity} argument{}, found {}",
                if arity == 1 { "" } else { "s" },
                args.len()
            ),
            |d| {
                let d = d.label("wrong number of arguments");
                let d = match defined {
                    Some(at) => d.also(at, "the function"),
                    None => d,
                };
                d.note("`x.f(a)` is `f(x, a)`: the receiver is the first argument")
            },
        );
        self.infer_loose(args);
    }
}
