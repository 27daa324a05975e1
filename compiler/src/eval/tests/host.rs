//! Rules through a test host: delegate calls, host errors, re-entry.

use super::*;

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
fn values_cross_versions_under_renamed_fields() {
    let text = "upgrade t 1 -> 2\n\
        version 1 { record Tag { label: string, n: u64 }\n service S { fn tags() -> list<Tag>  fn put(t: option<Tag>) -> unit } }\n\
        version 2 { record Tag { name: string renamed from label, n: u64 }\n service S { fn tags() -> list<Tag>  fn put(t: option<Tag>) -> unit } }\n\
        past S { tags() = call tags()\n put(t) = call put(t) }\n\
        future S { tags() = call tags()\n put(t) = call put(t) }\n\
        schedule { all_at_once { } }";
    let out = checked(text);
    let model = &out.models[0];
    let ev = Evaluator::for_model(model);
    // The new node answers with its own field names; the old caller gets its own.
    let mut host = |method: &str, args: Vec<Value>| -> Result<Value, EvalError> {
        match method {
            "tags" => Ok(Value::List(vec![Value::record(
                "Tag",
                [("name", Value::str("a")), ("n", Value::Int(1))],
            )])),
            _ => Ok(Value::Tuple(args)),
        }
    };
    let past = |m: &str| rule(&model.spec, lang::ast::RuleKind::Past, m);
    let got = ev
        .eval_rule(past("tags"), vec![], &mut host)
        .map(|v| v.to_string());
    assert_eq!(got, Ok("[Tag { label: \"a\", n: 1 }]".to_string()));
    // An old caller's argument reaches the new node under the new names.
    let arg = Value::some(Value::record(
        "Tag",
        [("label", Value::str("b")), ("n", Value::Int(2))],
    ));
    let mut seen = Vec::new();
    let mut recording = |_: &str, args: Vec<Value>| -> Result<Value, EvalError> {
        seen.extend(args);
        Ok(Value::Unit)
    };
    ev.eval_rule(past("put"), vec![arg], &mut recording)
        .expect("put");
    assert_eq!(seen[0].to_string(), "some(Tag { n: 2, name: \"b\" })");
}
