//! Differential tests: for every example spec, the compiled plugin (loaded by the runtime's
//! loader, called through the C ABI) and the reference evaluator give the same result on the
//! same generated inputs: transforms, invariants, and every past and future rule with the same
//! answers to delegate calls.
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]
#![allow(clippy::indexing_slicing, reason = "tests")]

use compiler::eval::json::from_json;
use compiler::eval::{convert, EvalError, Evaluator, Value};
use compiler::model::{SpecModel, Ty};
use compiler::verify::{Generator, Rng};
use lang::ast::{RuleKind, Transform};
use std::cell::RefCell;
use upstart_plugin_host::{CallError, Direction, Expect, Plugin};

const CASES: u32 = 64;

fn model_of(path: &str) -> (SpecModel, String) {
    model_of_text(path, upstart_test_support::spec(path))
}

fn model_of_text(path: &str, text: String) -> (SpecModel, String) {
    (upstart_test_support::model::checked(path, &text), text)
}

fn plugin_of(spec: &std::path::Path, text: &str) -> Plugin {
    let built = upstart_test_support::plugins::build(spec);
    let expect = Expect {
        spec_hash: Some(compiler::codegen::spec_hash(text)),
        ..Expect::default()
    };
    Plugin::load(&built, &expect).unwrap()
}

/// What a run produced, in a form both sides share.
#[derive(Debug, PartialEq)]
enum Outcome {
    Value(Value),
    Disallowed(String),
    Failed,
}

fn from_eval(r: Result<Value, EvalError>) -> Outcome {
    match r {
        Ok(v) => Outcome::Value(v),
        Err(EvalError::Disallowed { reason, .. }) => Outcome::Disallowed(reason),
        Err(EvalError::Runtime { .. }) => Outcome::Failed,
    }
}

fn from_plugin(r: Result<Vec<u8>, CallError>, ty: &Ty, model: &SpecModel) -> Outcome {
    match r {
        Ok(bytes) => {
            let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            Outcome::Value(
                from_json(&json, ty, model)
                    .unwrap_or_else(|e| panic!("plugin answered `{json}`: {e}")),
            )
        }
        Err(CallError::Disallowed(reason)) => Outcome::Disallowed(reason),
        Err(CallError::BadInput(_)) => Outcome::Failed,
        Err(CallError::Internal(m)) => panic!("plugin internal error: {m}"),
    }
}

fn differential(path: &str) {
    let (model, text) = model_of(path);
    differential_model(&upstart_test_support::specs_dir().join(path), model, text);
}

fn differential_model(spec: &std::path::Path, model: SpecModel, text: String) {
    let path = &upstart_test_support::relative(spec);
    let plugin = plugin_of(spec, &text);
    let generator = Generator::new(&model);
    let eval = Evaluator::for_model(&model);
    let mut rng = Rng::new(0x5eed);
    let old_state = Ty::State(model.old.number);
    let new_state = Ty::State(model.new.number);
    let mut compared = 0;
    // The evaluator and the plugin (`call`, its answer decoded as `ty`) run transform `t` on
    // `from` alike; the evaluator's outcome.
    let same_transform = |t: &Transform,
                          from: &Value,
                          call: fn(&Plugin, &[u8]) -> Result<Vec<u8>, CallError>,
                          ty: &Ty,
                          what: &str| {
        let want = from_eval(eval.eval_transform(t, from));
        let got = from_plugin(
            call(&plugin, from.to_json().to_string().as_bytes()),
            ty,
            &model,
        );
        assert_eq!(got, want, "{path}: {what} of {from}");
        want
    };

    if let Some(t) = model.spec.transforms().next() {
        for case in 0..CASES {
            let old = generator.generate(&old_state, &mut rng, case % 6);
            let want = same_transform(t, &old, Plugin::transform, &new_state, "transform");
            compared += 1;
            if let (Some(inv), Outcome::Value(new)) = (model.spec.invariants().next(), &want) {
                let random_new = generator.generate(&new_state, &mut rng, case % 6);
                for new in [new, &random_new] {
                    let want = eval.eval_invariant(inv, &old, new).ok();
                    let got = plugin
                        .check_invariant(
                            old.to_json().to_string().as_bytes(),
                            new.to_json().to_string().as_bytes(),
                        )
                        .ok();
                    assert_eq!(got, want, "{path}: invariant on {old} and {new}");
                    compared += 1;
                }
            }
        }
    }

    // The reverse transform: on generated new states, and on the forward transform's results.
    assert_eq!(
        plugin.has_reverse(),
        model.spec.reverse_transforms().next().is_some()
            || model.spec.transforms().next().is_none(),
        "{path}: the plugin's reverse transform"
    );
    if let Some(t) = model.spec.reverse_transforms().next() {
        for case in 0..CASES {
            let generated = generator.generate(&new_state, &mut rng, case % 6);
            let old = generator.generate(&old_state, &mut rng, case % 6);
            let forward = model
                .spec
                .transforms()
                .next()
                .and_then(|f| eval.eval_transform(f, &old).ok());
            for new in std::iter::once(generated).chain(forward) {
                same_transform(
                    t,
                    &new,
                    Plugin::reverse_transform,
                    &old_state,
                    "reverse transform",
                );
                compared += 1;
            }
        }
    }

    for block in model.spec.rule_blocks() {
        let (simulated, reachable, direction) = match block.kind {
            RuleKind::Past => (&model.old, &model.new, Direction::Past),
            RuleKind::Future => (&model.new, &model.old, Direction::Future),
        };
        let service = &simulated.services[&block.service.name];
        let target = reachable.services.get(&block.service.name);
        for rule in &block.rules {
            let method = service.method(&rule.method.name).unwrap();
            for case in 0..CASES {
                let args: Vec<Value> = method
                    .params
                    .iter()
                    .map(|p| generator.generate(&p.ty, &mut rng, case % 6))
                    .collect();
                // The evaluator's host answers each call with a generated value and records it;
                // the plugin's host replays the same answers in the same order.
                let tape: RefCell<Vec<(String, Value)>> = RefCell::new(Vec::new());
                let answer_rng = RefCell::new(rng.fork(u64::from(case)));
                let mut eval_host = |m: &str, _args: Vec<Value>| -> Result<Value, EvalError> {
                    let ret = target
                        .and_then(|s| s.method(m))
                        .map(|d| d.ret.clone())
                        .unwrap_or(Ty::Unit);
                    let v = generator.generate(&ret, &mut answer_rng.borrow_mut(), case % 6);
                    tape.borrow_mut().push((m.to_string(), v.clone()));
                    Ok(v)
                };
                let want = from_eval(eval.eval_rule(rule, args.clone(), &mut eval_host));
                let mut replay = tape.borrow().clone().into_iter();
                let mut plugin_host = |m: &str, _args: &[u8]| -> Result<Vec<u8>, CallError> {
                    match replay.next() {
                        Some((name, v)) if name == m => Ok(v.to_json().to_string().into_bytes()),
                        other => Err(CallError::Internal(format!(
                            "plugin called `{m}`, the evaluator called {other:?}"
                        ))),
                    }
                };
                let args_json =
                    serde_json::Value::Array(args.iter().map(Value::to_json).collect()).to_string();
                let got = plugin.simulate(
                    direction,
                    &block.service.name,
                    &rule.method.name,
                    args_json.as_bytes(),
                    &mut plugin_host,
                );
                let got = from_plugin(got, &method.ret, &model);
                assert_eq!(
                    got,
                    want,
                    "{path}: {} rule `{}` on {args:?}",
                    block.kind.keyword(),
                    rule.method.name
                );
                compared += 1;
            }
        }
    }
    compared += pass_through(path, &model, &plugin, &generator, &mut rng);
    assert!(compared > 100, "{path}: only {compared} comparisons");
}

/// Methods without rules that read and answer the same in both versions: the plugin passes a
/// call on to the other version's method of the same meaning, under that version's name (which
/// `renamed from` may make another), with the arguments and the answer as they were, or
/// converted where their types differ only by renamed fields.
fn pass_through(
    path: &str,
    model: &SpecModel,
    plugin: &Plugin,
    generator: &Generator<'_>,
    rng: &mut Rng,
) -> u32 {
    let mut compared = 0;
    for (simulated, direction) in [
        (&model.old, Direction::Past),
        (&model.new, Direction::Future),
    ] {
        for service in simulated.services.values() {
            for method in &service.methods {
                let (s, m) = (&service.name.name, &method.name.name);
                if !model.method_unchanged(s, m) {
                    continue;
                }
                let target = model.counterpart(simulated.number, s, m).unwrap();
                let args: Vec<Value> = method
                    .params
                    .iter()
                    .map(|p| generator.generate(&p.ty, rng, 3))
                    .collect();
                let answer = generator.generate(&target.ret, rng, 3);
                let called = RefCell::new(Vec::new());
                let sent = RefCell::new(Vec::new());
                let mut host = |name: &str, args: &[u8]| -> Result<Vec<u8>, CallError> {
                    called.borrow_mut().push(name.to_string());
                    sent.borrow_mut().extend_from_slice(args);
                    Ok(answer.to_json().to_string().into_bytes())
                };
                let args_json =
                    serde_json::Value::Array(args.iter().map(Value::to_json).collect()).to_string();
                let got = plugin.simulate(direction, s, m, args_json.as_bytes(), &mut host);
                let got = from_plugin(got, &method.ret, model);
                let pass = model
                    .pass_conversions
                    .get(&(simulated.number, s.clone(), m.clone()));
                let named = &model.named_conversions;
                let (want_args, want) = match pass {
                    Some(p) => (
                        args.iter()
                            .zip(&p.args)
                            .map(|(a, c)| convert(a.clone(), c, named))
                            .collect(),
                        convert(answer.clone(), &p.ret, named),
                    ),
                    None => (args.clone(), answer.clone()),
                };
                assert_eq!(
                    got,
                    Outcome::Value(want),
                    "{path}: `{s}.{m}` passed through"
                );
                let sent: serde_json::Value = serde_json::from_slice(&sent.borrow()).unwrap();
                let sent: Vec<Value> = target
                    .params
                    .iter()
                    .zip(sent.as_array().unwrap())
                    .map(|(p, j)| from_json(j, &p.ty, model).unwrap())
                    .collect();
                assert_eq!(sent, want_args, "{path}: `{s}.{m}` arguments passed on");
                assert_eq!(
                    called.borrow().as_slice(),
                    [target.name.name.as_str()],
                    "{path}: `{s}.{m}`"
                );
                compared += 1;
            }
        }
    }
    compared
}

#[test]
fn kv_1_2_plugin_agrees_with_the_evaluator() {
    differential("kv/kv-1-2.ups");
}

#[test]
fn kv_2_3_plugin_agrees_with_the_evaluator() {
    differential("kv/kv-2-3.ups");
}

#[test]
fn orders_plugin_agrees_with_the_evaluator() {
    differential("orders/orders-1-2.ups");
}

#[test]
fn accounts_plugin_agrees_with_the_evaluator() {
    differential("accounts/accounts-3-4.ups");
}

/// Language features the example specs do not use (map literals, helper functions).
#[test]
fn language_gaps_plugin_agrees_with_the_evaluator() {
    let path = "compiler/tests/differential/lang_gaps.ups";
    let text = include_str!("differential/lang_gaps.ups").to_string();
    let (model, text) = model_of_text(path, text);
    differential_model(&upstart_test_support::repo_root().join(path), model, text);
}
