//! The nesting-depth and step budgets.

use super::*;

/// `!!!...!true`, `depth` operators deep.
fn nested_not(depth: usize) -> Expr {
    let mut e = Expr {
        id: lang::ast::ExprId::default(),
        kind: ExprKind::Lit(Lit::Bool(true)),
        span: Span::default(),
    };
    for _ in 0..depth {
        e = Expr {
            id: lang::ast::ExprId::default(),
            kind: ExprKind::Unary(UnOp::Not, Box::new(e)),
            span: Span::default(),
        };
    }
    e
}

/// `template` nested into itself `times` times, at its last literal `0`; the innermost `0`
/// stays. Built directly as an AST: the parser has its own nesting limits.
fn nested(template: &str, times: usize) -> Expr {
    let spec = parse_spec(&format!("{PRELUDE}invariant (old, new) {{ {template} }}"));
    let wrapper = spec.invariants().next().expect("invariant").clauses[0].clone();
    let mut e = Expr {
        id: lang::ast::ExprId::default(),
        kind: ExprKind::Lit(Lit::Int(0)),
        span: Span::default(),
    };
    for _ in 0..times {
        let mut w = wrapper.clone();
        let mut hole = Some(e);
        replace_last_zero(&mut w, &mut hole);
        assert!(hole.is_none(), "no `0` in `{template}`");
        e = w;
    }
    e
}

/// Replaces the last literal `0` of `w` (in source order) by `e`.
fn replace_last_zero(w: &mut Expr, e: &mut Option<Expr>) {
    if e.is_none() {
        return;
    }
    match &mut w.kind {
        ExprKind::Lit(Lit::Int(0)) => *w = e.take().expect("hole"),
        ExprKind::Builtin { args: xs, .. } | ExprKind::Tuple(xs) | ExprKind::List(xs) => {
            xs.iter_mut().rev().for_each(|a| replace_last_zero(a, e))
        }
        ExprKind::Closure { body, .. } | ExprKind::Quant { body, .. } => replace_last_zero(body, e),
        ExprKind::Let { value, body, .. } => {
            replace_last_zero(body, e);
            replace_last_zero(value, e)
        }
        ExprKind::If { then, .. } => replace_last_zero(then, e),
        ExprKind::Binary(_, a, b) => {
            replace_last_zero(b, e);
            replace_last_zero(a, e)
        }
        ExprKind::Field(a, _) | ExprKind::Unary(_, a) => replace_last_zero(a, e),
        ExprKind::Match { arms, .. } => replace_last_zero(&mut arms[0].body, e),
        ExprKind::Record { fields, .. } => replace_last_zero(&mut fields[0].value, e),
        ExprKind::Variant {
            payload: Some(p), ..
        } => replace_last_zero(p, e),
        _ => {}
    }
}

#[test]
fn depth_budget_stops_deep_nesting() {
    let spec = parse_spec(PRELUDE);
    let ev = Evaluator::new(&spec);
    let ok = nested_not(MAX_DEPTH - 1);
    assert_eq!(
        ev.eval_expr(&ok, &Env::new(), &mut NoHost),
        Ok(Value::Bool(MAX_DEPTH % 2 == 1))
    );
    let deep = nested_not(MAX_DEPTH);
    let err = ev
        .eval_expr(&deep, &Env::new(), &mut NoHost)
        .expect_err("too deep");
    assert_eq!(
        err.to_string(),
        format!("evaluation nested deeper than {MAX_DEPTH} levels")
    );
    // The depth is given back: the evaluator still works afterwards.
    assert_eq!(
        ev.eval_expr(&nested_not(2), &Env::new(), &mut NoHost),
        Ok(Value::Bool(true))
    );
    // Closure applications weigh three levels.
    let ev = Evaluator::new(&spec).with_limits(7, 1_000);
    let src = nested("[0].map(|x| 0)", 2);
    assert!(ev.eval_expr(&src, &Env::new(), &mut NoHost).is_ok());
    let src = nested("[0].map(|x| 0)", 3);
    assert!(ev.eval_expr(&src, &Env::new(), &mut NoHost).is_err());
}

#[test]
fn depth_budget_fits_a_small_stack() {
    // On a 2 MiB stack (the default for test threads), every kind of nesting deeper than the
    // budget must end in the depth error, never in a stack overflow, even in debug builds.
    let templates = [
        "[0].map(|x| 0)",
        "[0].filter(|x| 0)",
        "some(1).and_then(|x| 0)",
        "let x = 0; x",
        "if true { 0 } else { 1 }",
        "1 + 0",
        "1 == 0",
        "(0, 1).0",
        "match 1 { x => 0 }",
        "forall x in [1]: 0 == 0",
        "P { x: 0 }",
        "Shape::Circle(0)",
        "[0]",
        "some(0)",
        "-0",
    ];
    let handle = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            let spec = parse_spec(PRELUDE);
            let ev = Evaluator::new(&spec);
            templates.map(|t| {
                let e = nested(t, MAX_DEPTH);
                let result = ev.eval_expr(&e, &Env::new(), &mut NoHost);
                (t, result.map_err(|e| e.to_string()))
            })
        })
        .expect("spawn");
    for (template, result) in handle.join().expect("no stack overflow") {
        let err = result.expect_err(template);
        assert!(
            err.starts_with("evaluation nested deeper"),
            "{template}: {err}"
        );
    }
}

#[test]
fn step_budget_stops_long_evaluations() {
    let spec = parse_spec(&format!(
        "{PRELUDE}invariant (old, new) {{ [1, 2, 3, 4, 5].map(|x| [1, 2, 3, 4, 5].map(|y| x * y)) }}"
    ));
    let clause = &spec.invariants().next().expect("invariant").clauses[0];
    let ev = Evaluator::new(&spec).with_limits(100, 20);
    let err = ev
        .eval_expr(clause, &Env::new(), &mut NoHost)
        .expect_err("too long");
    assert_eq!(err.to_string(), "evaluation took more than 20 steps");
    // Each top-level evaluation gets the whole budget again.
    let ev = Evaluator::new(&spec).with_limits(100, 1_000);
    assert!(ev.eval_expr(clause, &Env::new(), &mut NoHost).is_ok());
    assert!(ev.eval_expr(clause, &Env::new(), &mut NoHost).is_ok());
}
