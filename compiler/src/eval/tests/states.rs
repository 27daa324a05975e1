//! The kv spec's transform and invariant on states.

use super::*;

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

/// Runs `test` with an evaluator of the kv example spec, its transform and its invariant.
fn with_kv(test: impl FnOnce(&Evaluator<'_>, &Transform, &Invariant)) {
    let spec = kv_spec();
    let ev = Evaluator::new(&spec);
    let t = spec.transforms().next().expect("transform");
    let inv = spec.invariants().next().expect("invariant");
    test(&ev, t, inv);
}

#[test]
fn kv_transform_establishes_the_invariant() {
    with_kv(|ev, t, inv| {
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
    });
}

#[test]
fn invariants_read_big_states_in_place() {
    // Variables, fields and indexes are read by reference: an invariant over thousands of
    // keys takes linear, not quadratic, time.
    with_kv(|ev, t, inv| {
        let entries: BTreeMap<Value, Value> = (0..5_000)
            .map(|i| (Value::Str(format!("k{i}")), Value::Str(format!("v{i}"))))
            .collect();
        let old = Value::record("state", [("entries", Value::Map(entries))]);
        let new = ev.eval_transform(t, &old).expect("transform");
        assert_eq!(ev.eval_invariant(inv, &old, &new), Ok(true));
    });
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

#[test]
fn a_model_runs_its_statements_in_order_over_the_state() {
    let text = "upgrade t 1 -> 2\nversion 1 {\n  service S {\n    fn bump(by: u64) -> u64 {\n      let before = state.n;\n      state.n = state.n + by;\n      state.log = concat(state.log, [state.n]);\n      before\n    }\n  }\n  state { n: u64, log: list<u64> }\n}\nversion 2 {\n  service S { fn bump(by: u64) -> u64 }\n  state { n: u64, log: list<u64> }\n}\n";
    let out = checked(text);
    let model = out.models.first().expect("model");
    let method = model.old.services["S"].method("bump").expect("bump");
    let ev = Evaluator::for_model(model);
    let state = Value::record(
        "state",
        [("n", Value::Int(2)), ("log", Value::List(Vec::new()))],
    );
    let (answer, after) = ev
        .eval_model(method, vec![Value::Int(3)], &state)
        .expect("runs");
    assert_eq!(answer, Value::Int(2));
    assert_eq!(after.to_string(), "state { log: [5], n: 5 }");
    let (_, again) = ev
        .eval_model(method, vec![Value::Int(1)], &after)
        .expect("runs");
    assert_eq!(again.to_string(), "state { log: [5, 6], n: 6 }");
    let err = ev
        .eval_model(method, Vec::new(), &state)
        .expect_err("arity");
    assert_eq!(err.to_string(), "method `bump` takes 1 argument, got 0");
}
