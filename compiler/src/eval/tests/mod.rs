//! Tests of the reference evaluator: data-driven expression cases (source text -> printed value
//! or error), rules through a test host, the kv spec's transform and invariant, the budget, and
//! property tests of the value order and JSON rendering.

mod budgets;
mod builtin_calls;
mod expressions;
mod host;
mod states;
mod values;

use std::collections::{BTreeMap, BTreeSet};

use lang::ast::{Expr, ExprKind, Lit, Spec, UnOp};
use lang::{FileId, Span};
use proptest::prelude::*;

use super::*;

const PRELUDE: &str = "upgrade t 1 -> 2\n\
    version 1 {\n\
      enum Shape { Circle(f64), Square }\n\
      enum Status { Active, Inactive }\n\
      record P { x: i64 }\n\
    }\n";

fn parse_spec(text: &str) -> Spec {
    let parsed = lang::parse(FileId(0), text);
    let errors: Vec<_> = parsed.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "parse errors in {text:?}: {errors:#?}");
    parsed.spec.expect("spec")
}

/// Evaluates `src` (one expression, which may read the map `m`) with no host; the printed
/// value or `error: <message>`.
fn run(src: &str) -> String {
    let spec = parse_spec(&format!("{PRELUDE}invariant (old, new) {{ {src} }}"));
    let inv = spec.invariants().next().expect("invariant");
    assert_eq!(
        inv.clauses.len(),
        1,
        "{src:?} parsed as {} clauses",
        inv.clauses.len()
    );
    let ev = Evaluator::new(&spec);
    match ev.eval_expr(&inv.clauses[0], &with_m(), &mut NoHost) {
        Ok(v) => v.to_string(),
        Err(e) => format!("error: {e}"),
    }
}

/// One case: `src` evaluates to what prints as `expected` (or fails with `error: <message>`).
fn check(src: &str, expected: &str) -> Result<(), String> {
    let got = run(src);
    if got == expected {
        Ok(())
    } else {
        Err(format!(
            "`{src}`\n   expected: {expected}\n        got: {got}"
        ))
    }
}

/// Every case, reporting all failures at once.
fn check_all(cases: &[(&str, &str)]) {
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(src, expected)| check(src, expected).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} failing case(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The environment of every case: `m`, a map used by many built-in cases, is `{1: 10, 2: 20}`.
fn with_m() -> Env {
    let m = [(1, 10), (2, 20)]
        .into_iter()
        .map(|(k, v)| (Value::Int(k), Value::Int(v)))
        .collect();
    Env::new().bind("m".to_string(), Value::Map(m))
}

/// The checked output of one spec text, which must have no errors.
fn checked(text: &str) -> crate::check::CheckOutput {
    let out = crate::check::check_text(text);
    assert!(!out.has_errors(), "{:#?}", out.diagnostics);
    out
}

fn kv_spec() -> Spec {
    let text = upstart_test_support::spec("kv/kv-1-2.ups");
    parse_spec(&text)
}
