//! Tests of the reference evaluator: data-driven expression cases (source text -> printed value
//! or error), rules through a test host, the kv spec's transform and invariant, the budget, and
//! property tests of the value order and JSON rendering.

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

/// Evaluates `src` (one expression) with no host; the printed value or `error: <message>`.
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
    match ev.eval_expr(&inv.clauses[0], &Env::new(), &mut NoHost) {
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

// A map used by many built-in cases: {1: 10, 2: 20}.
const M: &str = "let m = to_map([1, 2], |x| (x, x * 10));";

fn with_m(body: &str) -> String {
    format!("{M} {body}")
}

#[test]
fn literals_and_display() {
    check_all(&[
        ("1", "1"),
        ("1.5", "1.5"),
        ("2.0", "2.0"),
        ("\"a\\\"b\\n\"", "\"a\\\"b\\n\""),
        ("true", "true"),
        ("none", "none"),
        ("()", "()"),
        ("(1,)", "(1,)"),
        ("(1, \"a\")", "(1, \"a\")"),
        ("[]", "[]"),
        ("[1, 2]", "[1, 2]"),
        ("P { x: 1 }", "P { x: 1 }"),
        ("P {}", "P {}"),
        ("to_map([\"a\"], |k| (k, 1))", "{\"a\": 1}"),
        ("to_set([2, 1])", "{1, 2}"),
        ("Status::Active", "Status::Active"),
        ("Shape::Circle(1.0)", "Shape::Circle(1.0)"),
        ("|x, y| x", "<closure |x, y|>"),
        ("18446744073709551615", "18446744073709551615"),
    ]);
}

#[test]
fn arithmetic() {
    check_all(&[
        ("1 + 2 * 3", "7"),
        ("(1 + 2) * 3", "9"),
        ("5 - 7", "-2"),
        ("7 / 2", "3"),
        ("-7 / 2", "-3"),
        ("7 % 3", "1"),
        ("-7 % 3", "-1"),
        ("1.5 + 2.0", "3.5"),
        ("1.5 - 2.0", "-0.5"),
        ("1.5 * 2.0", "3.0"),
        ("7.0 / 2.0", "3.5"),
        ("7.5 % 2.0", "1.5"),
        ("1.0 / 0.0", "inf"),
        ("-(1.5)", "-1.5"),
        ("-(-3)", "3"),
        ("\"a\" + \"b\"", "\"ab\""),
        ("[1] + [2, 3]", "[1, 2, 3]"),
        ("1 + 1.5", "error: `+` cannot be applied to int and float"),
        (
            "\"a\" - \"b\"",
            "error: `-` cannot be applied to string and string",
        ),
        ("-\"a\"", "error: cannot negate string"),
    ]);
}

#[test]
fn overflow_and_division_by_zero() {
    check_all(&[
        ("1 / 0", "error: division by zero"),
        ("1 % 0", "error: remainder by zero"),
        ("1.0 % 0.0", "NaN"),
        ("18446744073709551615 + 1", "error: integer overflow"),
        ("18446744073709551614 + 1", "18446744073709551615"),
        ("-9223372036854775808", "-9223372036854775808"),
        ("-9223372036854775808 - 1", "error: integer overflow"),
        ("-9223372036854775809", "error: integer overflow"),
        ("4294967296 * 4294967296", "error: integer overflow"),
        ("4294967296 * 4294967295", "18446744069414584320"),
        ("-18446744073709551615", "error: integer overflow"),
        (
            "(0 - 9223372036854775807 - 1) / (0 - 1)",
            "9223372036854775808",
        ),
        ("sum([18446744073709551615, 1])", "error: integer overflow"),
    ]);
}

#[test]
fn comparisons_and_logic() {
    check_all(&[
        ("1 < 2", "true"),
        ("2 <= 2", "true"),
        ("3 > 4", "false"),
        ("3 >= 4", "false"),
        ("1.5 < 2.5", "true"),
        ("\"a\" < \"b\"", "true"),
        ("\"b\" >= \"ab\"", "true"),
        (
            "1 < \"a\"",
            "error: `<` cannot be applied to int and string",
        ),
        ("[1] < [2]", "error: `<` cannot be applied to list and list"),
        ("1 == 1", "true"),
        ("1 != 1", "false"),
        ("[1, 2] == [1, 2]", "true"),
        ("some(1) != none", "true"),
        ("P { x: 1 } == Q { x: 1 }", "true"),
        ("P { x: 1 } == P { x: 2 }", "false"),
        ("Shape::Circle(1.0) == v1::Shape::Circle(1.0)", "true"),
        ("v1::Shape::Square == Shape::Square", "true"),
        ("Shape::Square == Shape::Circle(1.0)", "false"),
        ("true && false", "false"),
        ("true || false", "true"),
        ("false && 1 / 0 == 1", "false"),
        ("true || 1 / 0 == 1", "true"),
        (
            "1 && true",
            "error: an operand of `&&` must be a bool, got int",
        ),
        (
            "false || 1",
            "error: an operand of `||` must be a bool, got int",
        ),
        ("!true", "false"),
        ("!1", "error: `!` needs a bool, got int"),
    ]);
}

#[test]
fn if_let_and_closures() {
    check_all(&[
        ("if 1 < 2 { \"y\" } else { \"n\" }", "\"y\""),
        ("if false { 1 } else if true { 2 } else { 3 }", "2"),
        ("if false { 1 / 0 } else { 0 }", "0"),
        (
            "if 1 { 1 } else { 2 }",
            "error: an `if` condition must be a bool, got int",
        ),
        ("let x = 1; let y = x + 1; x + y", "3"),
        ("{ let x = 2; x * x }", "4"),
        ("let x = 1; let x = x + 10; x", "11"),
        ("let k = 10; [1, 2].map(|x| x + k)", "[11, 12]"),
        ("let f = |x| x * 2; [1, 2].map(f)", "[2, 4]"),
        (
            "let k = 1; let f = |x| x + k; let k = 100; [1].map(f)",
            "[2]",
        ),
        (
            "[1].map(|x, y| x)",
            "error: the closure takes 2 arguments, got 1",
        ),
        ("y", "error: unknown variable `y`"),
        (
            "[[1, 2], [3]].map(|xs| xs.map(|x| x * 10))",
            "[[10, 20], [30]]",
        ),
    ]);
}

#[test]
fn fields_and_indexing() {
    check_all(&[
        ("P { x: 1 }.x", "1"),
        ("P { x: 1 }.y", "error: record `P` has no field `y`"),
        ("P { x: 1, x: 2 }", "error: field `x` is given twice"),
        ("(1, \"a\").1", "\"a\""),
        ("(1, 2).5", "error: a tuple of 2 elements has no field `5`"),
        ("(1, 2).x", "error: a tuple of 2 elements has no field `x`"),
        ("some(1).x", "error: cannot take field `x` of option"),
        ("[10, 20][1]", "20"),
        (
            "[10][3]",
            "error: index 3 is out of range for a list of length 1",
        ),
        (
            "[10][0 - 1]",
            "error: index -1 is out of range for a list of length 1",
        ),
        (
            "[10][\"a\"]",
            "error: a list index must be an int, got string",
        ),
        (&with_m("m[2]"), "20"),
        (&with_m("m[3]"), "error: key `3` not found"),
        (
            "to_map([\"a\"], |k| (k, 1))[\"z\"]",
            "error: key `\"z\"` not found",
        ),
        ("1[0]", "error: cannot index int"),
    ]);
}

#[test]
fn variants_and_match() {
    check_all(&[
        ("Square", "error: unknown variable `Square`"),
        ("Circle(2.0)", "error: unknown built-in `Circle`"),
        ("v1::Shape::Square", "Shape::Square"),
        (
            "match Shape::Circle(2.0) { Circle(r) => r * 2.0, Square => 0.0 }",
            "4.0",
        ),
        (
            "match Shape::Square { Circle(r) => r, Square => 0.0 }",
            "0.0",
        ),
        ("match Shape::Square { Shape::Circle(_) => 1, _ => 2 }", "2"),
        (
            "match Shape::Circle(1.0) { Shape::Circle => 1, _ => 2 }",
            "1",
        ),
        ("match Status::Inactive { Active => 1, Inactive => 0 }", "0"),
        ("match 5 { x => x + 1 }", "6"),
        ("match some(3) { some(x) => x, none => 0 }", "3"),
        ("match none { some(x) => x, none => 0 }", "0"),
        ("match \"b\" { \"a\" => 1, \"b\" => 2, _ => 3 }", "2"),
        ("match true { false => 0, true => 1 }", "1"),
        ("match 1.5 { 1.5 => 1, _ => 0 }", "1"),
        ("match -2.5 { -2.5 => 1, _ => 0 }", "1"),
        ("match (1, 2) { p => p.0 + p.1 }", "3"),
        (
            "match some(Shape::Circle(1.5)) { some(Circle(r)) => r, _ => 0.0 }",
            "1.5",
        ),
        (
            "match some(Shape::Square) { some(Circle(r)) => r, _ => 0.0 }",
            "0.0",
        ),
        (
            "match 3 { 1 => 0 }",
            "error: no arm of the `match` matches `3`",
        ),
        // A lone name is a variant only of the matched value's enum; otherwise it binds.
        ("match 1 { Square => 0, n => n }", "0"),
        ("match Shape::Square { Active => 1, _ => 2 }", "1"),
        ("match Status::Active { Active => 1, _ => 2 }", "1"),
        ("match Status::Inactive { Active => 1, _ => 2 }", "2"),
        (
            "match Shape::Square { Shape::Square(x) => x, _ => 2.0 }",
            "2.0",
        ),
    ]);
}

#[test]
fn quantifiers() {
    check_all(&[
        ("forall x in [1, 2, 3]: x > 0", "true"),
        ("forall x in [1, 2, 3]: x > 1", "false"),
        ("exists x in to_set([1, 2]): x == 2", "true"),
        ("exists x in []: true", "false"),
        ("forall x in []: false", "true"),
        (&with_m("forall k in m: m[k] == k * 10"), "true"),
        (&with_m("exists k in m: k == 10"), "false"),
        ("exists x in [1, 0]: 10 / x == 10", "true"),
        (
            "forall x in [0, 1]: 10 / x == 10",
            "error: division by zero",
        ),
        (
            "forall x in 5: true",
            "error: a quantifier ranges over a list, set or map, got int",
        ),
        (
            "forall x in [1]: x",
            "error: the body of `forall` must be a bool, got int",
        ),
    ]);
}

#[test]
fn disallow_and_delegate_without_host() {
    check_all(&[
        ("disallow \"nope\"", "error: disallowed: nope"),
        ("if true { 1 } else { disallow \"x\" }", "1"),
        (
            "[1, 2].map(|x| if x > 1 { disallow \"too big\" } else { x })",
            "error: disallowed: too big",
        ),
        ("call get(1)", "error: `call` is not available here"),
    ]);
}

#[test]
fn builtins_on_maps() {
    check_all(&[
        (&with_m("keys(m)"), "{1, 2}"),
        (&with_m("m.keys()"), "{1, 2}"),
        (&with_m("values(m)"), "[10, 20]"),
        (&with_m("entries(m)"), "[(1, 10), (2, 20)]"),
        (&with_m("m.contains_key(1)"), "true"),
        (&with_m("m.contains_key(3)"), "false"),
        (&with_m("m.get(1)"), "some(10)"),
        (&with_m("m.get(5)"), "none"),
        (&with_m("m.insert(3, 30)"), "{1: 10, 2: 20, 3: 30}"),
        (&with_m("m.insert(1, 0)"), "{1: 0, 2: 20}"),
        (&with_m("m.remove(1)"), "{2: 20}"),
        (&with_m("m.remove(7)"), "{1: 10, 2: 20}"),
        (&with_m("m.map_values(|v| v + 1)"), "{1: 11, 2: 21}"),
        ("to_map([1, 2], |x| (\"k\", x))", "{\"k\": 2}"),
        (
            "to_map([1], |x| x)",
            "error: `to_map` expects its closure to return a pair (key, value), got int",
        ),
        (
            "to_map([1], |x| (x, x, x))",
            "error: `to_map` expects its closure to return a pair (key, value), got tuple",
        ),
        (
            "keys(1)",
            "error: `keys` expects a map as argument 1, got int",
        ),
        ("keys()", "error: `keys` takes 1 argument, got 0"),
        (
            "[1].insert(1, 2)",
            "error: `insert` expects a map as argument 1, got list",
        ),
        (
            &with_m("m.map_values(1)"),
            "error: `map_values` expects a closure as argument 2, got int",
        ),
    ]);
}

#[test]
fn builtins_on_collections() {
    check_all(&[
        ("len([1, 2])", "2"),
        ("len(to_set([1, 1]))", "1"),
        (&with_m("len(m)"), "2"),
        ("len(\"héé\")", "3"),
        (
            "len(1)",
            "error: `len` expects a list, set, map, string or bytes as argument 1, got int",
        ),
        ("[1, 2].contains(2)", "true"),
        ("to_set([1]).contains(3)", "false"),
        (
            "contains(1, 1)",
            "error: `contains` expects a list or set as argument 1, got int",
        ),
        ("[1, 2].map(|x| x * 2)", "[2, 4]"),
        ("to_set([1, 2, 3]).map(|x| x / 2)", "{0, 1}"),
        ("[1, 2, 3].filter(|x| x != 2)", "[1, 3]"),
        ("to_set([1, 2, 3]).filter(|x| x > 1)", "{2, 3}"),
        (
            "[1].filter(|x| x)",
            "error: `filter` expects its closure to return a bool, got int",
        ),
        ("to_set([3, 1, 3])", "{1, 3}"),
        ("to_list(to_set([3, 1]))", "[1, 3]"),
        (
            "to_list([1])",
            "error: `to_list` expects a set as argument 1, got list",
        ),
        ("[1, 2].any(|x| x > 1)", "true"),
        ("[1, 2].any(|x| x > 5)", "false"),
        ("[1, 2].all(|x| x > 1)", "false"),
        ("to_set([2, 3]).all(|x| x > 1)", "true"),
        ("[].all(|x| false)", "true"),
        ("[1, 0].any(|x| 1 / x == 1)", "true"),
        (
            "[1].any(|x| x)",
            "error: `any` expects its closure to return a bool, got int",
        ),
        ("sum([1, 2, 3])", "6"),
        ("sum([1.5, 2.5])", "4.0"),
        ("sum([])", "0"),
        (
            "sum([1, 1.5])",
            "error: `sum` expects a list of ints or floats, got float in a list of ints",
        ),
        (
            "sum([\"a\"])",
            "error: `sum` expects a list of ints or floats, got a list of string",
        ),
        ("concat([1], [2, 3])", "[1, 2, 3]"),
        (
            "concat([1], 2)",
            "error: `concat` expects a list as argument 2, got int",
        ),
    ]);
}

#[test]
fn builtins_on_options() {
    check_all(&[
        ("some(1)", "some(1)"),
        ("some(none)", "some(none)"),
        ("some(2).map(|x| x * 2)", "some(4)"),
        ("none.map(|x| x * 2)", "none"),
        ("none.unwrap_or(5)", "5"),
        ("some(1).unwrap_or(5)", "1"),
        ("some(1).is_some()", "true"),
        ("none.is_some()", "false"),
        ("none.is_none()", "true"),
        ("some(1).is_none()", "false"),
        (
            "some(1).and_then(|x| if x > 0 { some(x + 1) } else { none })",
            "some(2)",
        ),
        (
            "some(0).and_then(|x| if x > 0 { some(x) } else { none })",
            "none",
        ),
        ("none.and_then(|x| x)", "none"),
        (
            "some(1).and_then(|x| x)",
            "error: `and_then` expects its closure to return an option, got int",
        ),
        (
            "1.unwrap_or(2)",
            "error: `unwrap_or` expects an option as argument 1, got int",
        ),
    ]);
}

#[test]
fn builtins_on_scalars() {
    check_all(&[
        ("to_string(12)", "\"12\""),
        ("to_string(1.5)", "\"1.5\""),
        ("to_string(true)", "\"true\""),
        ("to_string(\"s\")", "\"s\""),
        (
            "to_string([1])",
            "error: `to_string` expects an int, float, bool or string as argument 1, got list",
        ),
        ("i64(3.9)", "3"),
        ("i64(-3.9)", "-3"),
        ("i64(-9223372036854775808)", "-9223372036854775808"),
        (
            "i64(18446744073709551615)",
            "error: `i64` argument 18446744073709551615 is out of range",
        ),
        (
            "i64(1.0 / 0.0)",
            "error: `i64` argument inf is out of range",
        ),
        (
            "i64(\"1\")",
            "error: `i64` expects an int or float as argument 1, got string",
        ),
        ("u64(2.5)", "2"),
        ("u64(-0.5)", "0"),
        ("u64(18446744073709551615)", "18446744073709551615"),
        ("u64(0 - 1)", "error: `u64` argument -1 is out of range"),
        (
            "u64(18446744073709551616.0)",
            "error: `u64` argument 1.8446744073709552e19 is out of range",
        ),
        ("f64(3)", "3.0"),
        ("f64(1.5)", "1.5"),
        (
            "f64(\"1\")",
            "error: `f64` expects an int or float as argument 1, got string",
        ),
        ("min(1, 2)", "1"),
        ("max(1, 2)", "2"),
        ("max(\"a\", \"b\")", "\"b\""),
        ("min(1.5, 0.5)", "0.5"),
        (
            "min(1, 1.0)",
            "error: `min` expects two ints, two floats or two strings, got int and float",
        ),
        ("frobnicate(1)", "error: unknown built-in `frobnicate`"),
    ]);
}

#[test]
fn every_builtin_name_is_known_and_callable() {
    let spec = parse_spec(PRELUDE);
    let ev = Evaluator::new(&spec);
    for name in crate::builtins::BUILTINS.iter().map(|b| b.name) {
        // With no arguments every built-in reports its arity, naming itself: proof that the
        // name is dispatched rather than unknown.
        let err = builtins::call(&ev, name, Vec::new(), Span::default(), &mut NoHost)
            .expect_err("no built-in takes zero arguments");
        assert!(
            err.to_string().starts_with(&format!("`{name}` takes ")),
            "{name}: {err}"
        );
    }
    assert!(crate::builtins::lookup("entries_of").is_none());
}

#[test]
fn bytes_values() {
    let spec = parse_spec(PRELUDE);
    let ev = Evaluator::new(&spec);
    let b = Value::Bytes(vec![1, 2, 255]);
    let arg = std::borrow::Cow::Owned(b.clone());
    let len = builtins::call(&ev, "len", vec![arg], Span::default(), &mut NoHost);
    assert_eq!(len, Ok(Value::Int(3)));
    assert_eq!(b.to_string(), "bytes([1, 2, 255])");
    assert_eq!(b.to_json(), serde_json::json!([1, 2, 255]));
}

/// A host that records calls and answers `get` with an item and everything else with unit.
#[derive(Default)]
struct RecordingHost {
    calls: Vec<String>,
}

impl Host for RecordingHost {
    fn call(&mut self, method: &str, args: Vec<Value>) -> Result<Value, EvalError> {
        let shown: Vec<String> = args.iter().map(Value::to_string).collect();
        self.calls.push(format!("{method}({})", shown.join(", ")));
        match method {
            "get" => Ok(Value::some(Value::record(
                "Item",
                [("value", Value::str("v")), ("expires_at", Value::none())],
            ))),
            "fail" => Err(EvalError::runtime(Span::default(), "host failed")),
            _ => Ok(Value::Unit),
        }
    }
}

fn kv_spec() -> Spec {
    let text = upstart_test_support::spec("kv/kv-1-2.ups");
    parse_spec(&text)
}

fn rule<'a>(spec: &'a Spec, kind: lang::ast::RuleKind, method: &str) -> &'a lang::ast::Rule {
    spec.rule_blocks()
        .filter(|b| b.kind == kind)
        .flat_map(|b| b.rules.iter())
        .find(|r| r.method.name == method)
        .expect("rule")
}

#[test]
fn delegate_through_a_host() {
    use lang::ast::RuleKind::{Future, Past};
    let spec = kv_spec();
    let ev = Evaluator::new(&spec);
    let mut host = RecordingHost::default();

    let got = ev.eval_rule(rule(&spec, Past, "get"), vec![Value::str("k")], &mut host);
    assert_eq!(got.map(|v| v.to_string()), Ok("some(\"v\")".to_string()));

    let got = ev.eval_rule(
        rule(&spec, Past, "put"),
        vec![Value::str("k"), Value::str("x")],
        &mut host,
    );
    assert_eq!(got, Ok(Value::Unit));

    let entries = Value::List(vec![Value::record(
        "Entry",
        [("key", Value::str("a")), ("value", Value::str("1"))],
    )]);
    ev.eval_rule(rule(&spec, Past, "replicate"), vec![entries], &mut host)
        .expect("replicate");

    let got = ev.eval_rule(rule(&spec, Future, "get"), vec![Value::str("k")], &mut host);
    // The v1 host here answers with an item; the future rule wraps whatever `get` returned.
    assert!(matches!(got, Ok(Value::Option(Some(_)))), "{got:?}");

    let ttl = Value::some(Value::Int(5));
    let got = ev.eval_rule(
        rule(&spec, Future, "put"),
        vec![Value::str("k"), Value::str("x"), ttl],
        &mut host,
    );
    assert!(
        matches!(&got, Err(EvalError::Disallowed { reason, .. }) if reason == "ttl needs version 2"),
        "{got:?}"
    );
    let got = ev.eval_rule(
        rule(&spec, Future, "delete"),
        vec![Value::str("k")],
        &mut host,
    );
    assert_eq!(
        got.map_err(|e| e.to_string()),
        Err("disallowed: delete needs version 2".into())
    );

    let got = ev.eval_rule(rule(&spec, Future, "get"), vec![], &mut host);
    assert_eq!(
        got.map_err(|e| e.to_string()),
        Err("rule `get` takes 1 argument, got 0".into())
    );

    assert_eq!(
        host.calls,
        [
            "get(\"k\")",
            "put(\"k\", \"x\", none)",
            "replicate({\"a\": Item { expires_at: none, value: \"1\" }})",
            "get(\"k\")",
        ]
    );
}

#[test]
fn host_errors_get_the_span_of_the_call() {
    let spec = parse_spec(&format!(
        "{PRELUDE}invariant (old, new) {{ 1 + call fail(2) }}"
    ));
    let clause = &spec.invariants().next().expect("invariant").clauses[0];
    let ev = Evaluator::new(&spec);
    let err = ev
        .eval_expr(clause, &Env::new(), &mut RecordingHost::default())
        .expect_err("fails");
    assert_eq!(err.to_string(), "host failed");
    let ExprKind::Binary(_, _, call) = &clause.kind else {
        panic!("not a binary")
    };
    assert_eq!(err.span(), call.span);

    // A closure is a host too.
    let mut seen = Vec::new();
    let mut host = |m: &str, args: Vec<Value>| {
        seen.push((m.to_string(), args.len()));
        Ok(Value::Int(40))
    };
    assert_eq!(
        ev.eval_expr(clause, &Env::new(), &mut host),
        Ok(Value::Int(41))
    );
    assert_eq!(seen, [("fail".to_string(), 1)]);
}

/// A host that answers `call twice(x)` by evaluating `x * 2` through the same evaluator.
struct ReentrantHost<'a, 's> {
    ev: &'a Evaluator<'s>,
    body: &'a Expr,
}

impl Host for ReentrantHost<'_, '_> {
    fn call(&mut self, _method: &str, args: Vec<Value>) -> Result<Value, EvalError> {
        let x = args.into_iter().next().unwrap_or(Value::Unit);
        let body = self.body;
        self.ev
            .eval_expr(body, &Env::new().bind("x", x), &mut NoHost)
    }
}

#[test]
fn a_host_may_reenter_the_evaluator() {
    let spec = parse_spec(&format!(
        "{PRELUDE}invariant (old, new) {{ [1, 2].map(|y| call twice(y) + 1); x * 2 }}"
    ));
    let inv = spec.invariants().next().expect("invariant");
    let ev = Evaluator::new(&spec);
    let mut host = ReentrantHost {
        ev: &ev,
        body: &inv.clauses[1],
    };
    let got = ev.eval_expr(&inv.clauses[0], &Env::new(), &mut host);
    assert_eq!(got.map(|v| v.to_string()), Ok("[3, 5]".to_string()));
}

#[test]
fn transform_fields_are_assigned_once() {
    let spec =
        parse_spec("upgrade t 1 -> 2\ntransform (old) -> new { a: old.x, a: 2, b: [old.x] }");
    let ev = Evaluator::new(&spec);
    let t = spec.transforms().next().expect("transform");
    let old = Value::record("state", [("x", Value::Int(1))]);
    let err = ev.eval_transform(t, &old).expect_err("twice");
    assert_eq!(err.to_string(), "field `a` is assigned twice");
}

fn kv_old_state() -> Value {
    let entries: BTreeMap<Value, Value> = [("a", "1"), ("b", "2")]
        .into_iter()
        .map(|(k, v)| (Value::str(k), Value::str(v)))
        .collect();
    Value::record("state", [("entries", Value::Map(entries))])
}

#[test]
fn kv_transform_establishes_the_invariant() {
    let spec = kv_spec();
    let ev = Evaluator::new(&spec);
    let t = spec.transforms().next().expect("transform");
    let inv = spec.invariants().next().expect("invariant");
    let old = kv_old_state();
    let new = ev.eval_transform(t, &old).expect("transform");
    assert_eq!(
        new.to_string(),
        "state { items: {\"a\": Item { expires_at: none, value: \"1\" }, \
         \"b\": Item { expires_at: none, value: \"2\" }} }"
    );
    assert_eq!(
        new.to_json(),
        serde_json::json!({"items": {"a": {"value": "1", "expires_at": null},
                                     "b": {"value": "2", "expires_at": null}}})
    );
    assert_eq!(ev.eval_invariant(inv, &old, &new), Ok(true));

    // Tampered: one value changed.
    let Value::Record { name, mut fields } = new.clone() else {
        panic!("not a record")
    };
    let Some(Value::Map(items)) = fields.get_mut("items") else {
        panic!("no items")
    };
    items.insert(
        Value::str("a"),
        Value::record(
            "Item",
            [("value", Value::str("zzz")), ("expires_at", Value::none())],
        ),
    );
    let tampered = Value::Record {
        name: name.clone(),
        fields: fields.clone(),
    };
    assert_eq!(ev.eval_invariant(inv, &old, &tampered), Ok(false));

    // Tampered: one key dropped.
    let Some(Value::Map(items)) = fields.get_mut("items") else {
        panic!("no items")
    };
    items.remove(&Value::str("b"));
    let dropped = Value::Record { name, fields };
    assert_eq!(ev.eval_invariant(inv, &old, &dropped), Ok(false));

    // A state of the wrong shape is an error, not a panic.
    let err = ev
        .eval_invariant(inv, &old, &Value::Unit)
        .expect_err("bad state");
    assert_eq!(err.to_string(), "cannot take field `items` of unit");
    let err = ev.eval_transform(t, &Value::Int(1)).expect_err("bad state");
    assert_eq!(err.to_string(), "cannot take field `entries` of int");
}

#[test]
fn invariants_read_big_states_in_place() {
    // Variables, fields and indexes are read by reference: an invariant over thousands of
    // keys takes linear, not quadratic, time.
    let spec = kv_spec();
    let ev = Evaluator::new(&spec);
    let t = spec.transforms().next().expect("transform");
    let inv = spec.invariants().next().expect("invariant");
    let entries: BTreeMap<Value, Value> = (0..5_000)
        .map(|i| (Value::Str(format!("k{i}")), Value::Str(format!("v{i}"))))
        .collect();
    let old = Value::record("state", [("entries", Value::Map(entries))]);
    let new = ev.eval_transform(t, &old).expect("transform");
    assert_eq!(ev.eval_invariant(inv, &old, &new), Ok(true));
}

#[test]
fn invariant_clauses_must_be_bools() {
    let spec = parse_spec(&format!("{PRELUDE}invariant (a, b) {{ a == b; a + b }}"));
    let ev = Evaluator::new(&spec);
    let inv = spec.invariants().next().expect("invariant");
    let err = ev
        .eval_invariant(inv, &Value::Int(1), &Value::Int(1))
        .expect_err("int clause");
    assert_eq!(
        err.to_string(),
        "an invariant clause must be a bool, got int"
    );
    // The first false clause decides; later clauses are not evaluated.
    assert_eq!(
        ev.eval_invariant(inv, &Value::Int(1), &Value::Int(2)),
        Ok(false)
    );
}

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

#[test]
fn enums_are_indexed_over_versions() {
    let spec = parse_spec(
        "upgrade t 1 -> 2\n\
         version 1 { enum Status { Active } }\n\
         version 2 { enum Status { Active, Paused } enum Mode { Paused } }\n",
    );
    let ev = Evaluator::new(&spec);
    let status: Vec<&str> = ev.enums()["Status"].iter().map(String::as_str).collect();
    assert_eq!(status, ["Active", "Paused"]);
    assert!(ev.is_variant_name("Paused"));
    assert!(!ev.is_variant_name("Stopped"));
    // A value of an enum the spec does not declare: a lone name is a variant if any enum
    // of the spec declares it.
    let e = &parse_spec(
        "upgrade t 1 -> 2\n\
         version 1 { enum Mode { Paused } }\n\
         invariant (old, new) { match v { Paused => 1, _ => 2 } }",
    );
    let clause = &e.invariants().next().expect("invariant").clauses[0];
    let ev = Evaluator::new(e);
    let run = |v: Value| ev.eval_expr(clause, &Env::new().bind("v", v), &mut NoHost);
    assert_eq!(
        run(Value::variant("Other", "Paused", None)),
        Ok(Value::Int(1))
    );
    assert_eq!(run(Value::variant("", "Running", None)), Ok(Value::Int(2)));
    assert_eq!(
        run(Value::variant("Mode", "Paused", None)),
        Ok(Value::Int(1))
    );
}

#[test]
fn json_rendering() {
    let v = Value::record(
        "R",
        [
            ("opt", Value::none()),
            ("some", Value::some(Value::Int(1))),
            ("big", Value::Int(i128::from(u64::MAX))),
            ("neg", Value::Int(-5)),
            ("nan", Value::Float(f64::NAN)),
            (
                "set",
                Value::Set(BTreeSet::from([Value::Int(2), Value::Int(1)])),
            ),
            ("tuple", Value::Tuple(vec![Value::Bool(true), Value::Unit])),
            (
                "imap",
                Value::Map(BTreeMap::from([(Value::Int(1), Value::str("a"))])),
            ),
            ("unit_variant", Value::variant("S", "A", None)),
            ("variant", Value::variant("S", "B", Some(Value::Float(1.5)))),
        ],
    );
    assert_eq!(
        v.to_json(),
        serde_json::json!({
            "opt": null, "some": 1, "big": 18446744073709551615u64, "neg": -5, "nan": null,
            "set": [1, 2], "tuple": [true, null], "imap": {"1": "a"},
            "unit_variant": "A", "variant": {"B": 1.5}
        })
    );
}

#[test]
fn order_between_kinds_and_floats() {
    assert!(Value::Float(f64::NAN) == Value::Float(f64::NAN));
    assert!(Value::Float(-0.0) < Value::Float(0.0));
    assert!(Value::Int(1) != Value::Float(1.0));
    assert!(Value::Unit < Value::Bool(false));
    let a = Value::variant("A", "X", None);
    let b = Value::variant("B", "X", None);
    assert_eq!(a, b, "variants compare by variant name and payload");
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Unit),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::Int(i128::from(n))),
        any::<u64>().prop_map(|n| Value::Int(i128::from(n))),
        any::<f64>().prop_map(Value::Float),
        "[a-c]{0,3}".prop_map(Value::Str),
        proptest::collection::vec(any::<u8>(), 0..4).prop_map(Value::Bytes),
        Just(Value::none()),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(Value::some),
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Tuple),
            proptest::collection::btree_set(inner.clone(), 0..4).prop_map(Value::Set),
            proptest::collection::btree_map(inner.clone(), inner.clone(), 0..4)
                .prop_map(Value::Map),
            proptest::collection::btree_map("[a-c]", inner.clone(), 0..3).prop_map(|fields| {
                Value::Record {
                    name: "R".into(),
                    fields,
                }
            }),
            ("[A-C]", proptest::option::of(inner)).prop_map(|(v, p)| Value::variant("E", v, p)),
        ]
    })
}

proptest! {
    #[test]
    fn to_json_and_display_never_panic(v in arb_value()) {
        let _ = v.to_json();
        let _ = v.to_string();
    }

    #[test]
    fn order_is_consistent(a in arb_value(), b in arb_value(), c in arb_value()) {
        prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
        prop_assert_eq!(a.cmp(&a), std::cmp::Ordering::Equal);
        prop_assert_eq!(a == b, a.cmp(&b) == std::cmp::Ordering::Equal);
        if a <= b && b <= c {
            prop_assert!(a <= c);
        }
    }

    #[test]
    fn equality_operator_agrees_with_the_order(a in arb_value(), b in arb_value()) {
        let spec = parse_spec(PRELUDE);
        let ev = Evaluator::new(&spec);
        let var = |n: &str| Expr {
 id: lang::ast::ExprId::default(),
            kind: ExprKind::Var(lang::ast::Ident { name: n.into(), span: Span::default() }),
            span: Span::default(),
        };
        let e = Expr {
 id: lang::ast::ExprId::default(),
            kind: ExprKind::Binary(lang::ast::BinOp::Eq, Box::new(var("a")), Box::new(var("b"))),
            span: Span::default(),
        };
        let env = Env::new().bind("a", a.clone()).bind("b", b.clone());
        prop_assert_eq!(ev.eval_expr(&e, &env, &mut NoHost), Ok(Value::Bool(a == b)));
    }
}

#[test]
fn integer_results_are_checked_against_their_static_type() {
    let text = "upgrade t 1 -> 2\nversion 1 { state { a: u64, b: i64 } }\nversion 2 { state { a: u64, b: i64 } }\ninvariant (old, new) { old.a - 1 == new.a\n old.b + 1 == new.b }\nschedule { rolling { batch: 1, max_unavailable: 1 } }\n";
    let mut sources = lang::span::SourceMap::new();
    sources.add("t.ups", text);
    let out = crate::check::check_sources(&sources);
    assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
    let model = &out.models[0];
    let inv = model.spec.invariants().next().unwrap();
    let eval = Evaluator::for_model(model);
    let state = |a: i128, b: i128| {
        Value::record(
            "state",
            [
                ("a".to_string(), Value::Int(a)),
                ("b".to_string(), Value::Int(b)),
            ],
        )
    };
    // 0u64 - 1 leaves u64 in a typed evaluation, but not in an untyped one.
    let typed = eval.eval_invariant(inv, &state(0, 0), &state(0, 1));
    assert_eq!(typed.unwrap_err().message(), "integer overflow");
    let untyped = Evaluator::new(&model.spec).eval_invariant(inv, &state(0, 0), &state(0, 1));
    assert!(!untyped.unwrap());
    let big = i128::from(i64::MAX);
    let typed = eval.eval_invariant(inv, &state(5, big), &state(4, 0));
    assert_eq!(typed.unwrap_err().message(), "integer overflow");
}

#[test]
fn json_decoding_inverts_encoding_on_generated_values() {
    use crate::verify::{Generator, Rng};
    for path in [
        "kv/kv-1-2.ups",
        "kv/kv-2-3.ups",
        "orders/orders-1-2.ups",
        "accounts/accounts-3-4.ups",
    ] {
        let text = upstart_test_support::spec(path);
        let mut sources = lang::span::SourceMap::new();
        sources.add(path, text);
        let out = crate::check::check_sources(&sources);
        let model = &out.models[0];
        let generator = Generator::new(model);
        let mut rng = Rng::new(42);
        let mut types = vec![
            crate::model::Ty::State(model.old.number),
            crate::model::Ty::State(model.new.number),
        ];
        for env in [&model.old, &model.new] {
            for s in env.services.values() {
                for m in &s.methods {
                    types.push(m.ret.clone());
                    types.extend(m.params.iter().map(|p| p.ty.clone()));
                }
            }
        }
        for ty in &types {
            for size in 0..6 {
                let v = generator.generate(ty, &mut rng, size);
                let back = super::json::from_json(&v.to_json(), ty, model)
                    .unwrap_or_else(|e| panic!("{path}: {ty}: {e}"));
                assert_eq!(back, v, "{path}: {ty}");
            }
        }
    }
}
