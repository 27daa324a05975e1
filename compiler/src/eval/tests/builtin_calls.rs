//! The built-in functions, data-driven, and the table's evaluator entries.

use super::*;

#[test]
fn builtins_on_maps() {
    check_all(&[
        ("keys(m)", "{1, 2}"),
        ("m.keys()", "{1, 2}"),
        ("values(m)", "[10, 20]"),
        ("entries(m)", "[(1, 10), (2, 20)]"),
        ("m.contains_key(1)", "true"),
        ("m.contains_key(3)", "false"),
        ("m.get(1)", "some(10)"),
        ("m.get(5)", "none"),
        ("m.insert(3, 30)", "{1: 10, 2: 20, 3: 30}"),
        ("m.insert(1, 0)", "{1: 0, 2: 20}"),
        ("m.remove(1)", "{2: 20}"),
        ("m.remove(7)", "{1: 10, 2: 20}"),
        ("m.map_values(|v| v + 1)", "{1: 11, 2: 21}"),
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
            "m.map_values(1)",
            "error: `map_values` expects a closure as argument 2, got int",
        ),
    ]);
}

#[test]
fn builtins_on_collections() {
    check_all(&[
        ("len([1, 2])", "2"),
        ("len(to_set([1, 1]))", "1"),
        ("len(m)", "2"),
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
