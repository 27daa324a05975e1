//! Expression cases: literals, arithmetic, comparisons, `if`/`let`/closures, fields, variants and `match`, quantifiers, `disallow`.

use super::*;

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
        ("m[2]", "20"),
        ("m[3]", "error: key `3` not found"),
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
        ("forall k in m: m[k] == k * 10", "true"),
        ("exists k in m: k == 10", "false"),
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
fn map_literals() {
    check_all(&[
        ("{}", "{}"),
        ("{\"b\": 2, \"a\": 1}", "{\"a\": 1, \"b\": 2}"),
        // A repeated key keeps its last value, as `insert` would.
        ("{1: \"x\", 1: \"y\"}", "{1: \"y\"}"),
        ("{1: 1 + 1, 2: 2 * 3}[2]", "6"),
        ("len({})", "0"),
        ("{ 1 }", "1"),
        ("{ let a = 1; {a: a} }", "{1: 1}"),
        ("{1: 1 / 0}", "error: division by zero"),
    ]);
}

#[test]
fn helper_functions() {
    let spec = parse_spec(&format!(
        "{PRELUDE}fn double(x: i64) -> i64 = x * 2\n\
         fn area(s: Shape) -> f64 = match s {{ Circle(r) => r * r * 3.0, Square => 1.0 }}\n\
         fn twice_all(xs: list<i64>) -> list<i64> = xs.map(|x| double(x))\n\
         fn fails(x: i64) -> i64 = x / 0\n\
         invariant (old, new) {{\n\
           double(21) == 42\n\
           area(Shape::Circle(2.0)) == 12.0\n\
           twice_all([1, 2]) == [2, 4]\n\
           {{ let x = 5; double(x) }} == 10\n\
           fails(1) == 0\n\
         }}"
    ));
    let inv = spec.invariants().next().expect("invariant");
    let ev = Evaluator::new(&spec);
    let results: Vec<String> = inv
        .clauses
        .iter()
        .map(|c| match ev.eval_expr(c, &Env::new(), &mut NoHost) {
            Ok(v) => v.to_string(),
            Err(e) => format!("error: {e}"),
        })
        .collect();
    assert_eq!(
        results,
        ["true", "true", "true", "true", "error: division by zero"]
    );
}
