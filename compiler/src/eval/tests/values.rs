//! Values: enums over versions, JSON rendering and decoding, the order, integer results checked against their static type.

use super::*;

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
    let out = checked(text);
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

/// Why a JSON value does not decode is an error type whose `Display` says it in words.
#[test]
fn json_decoding_failures_are_errors_with_their_message() {
    use crate::model::Ty;
    use serde_json::json;
    let models = crate::test_specs::kv_models(&["kv-1-2.ups"]);
    let model = &models[0];
    let fails = |json: serde_json::Value, ty: &Ty| -> String {
        let e: Box<dyn std::error::Error> =
            Box::new(super::json::from_json(&json, ty, model).unwrap_err());
        e.to_string()
    };
    assert_eq!(fails(json!("x"), &Ty::U64), "expected a u64, found `\"x\"`");
    assert_eq!(fails(json!([300]), &Ty::Bytes), "`300` is not a byte");
    assert_eq!(
        fails(
            json!({"a": 1}),
            &Ty::Map(Box::new(Ty::U64), Box::new(Ty::U64))
        ),
        "map key `a` is not an integer"
    );
    let entry = Ty::named(model.old.number, "Entry");
    assert_eq!(
        fails(json!({"key": "k"}), &entry),
        "`Entry` is missing field `value`"
    );
    assert_eq!(fails(json!(1), &Ty::State(9)), "version 9 has no state");
}
