//! `verify` on the example specs: the kv specs hold every obligation, a broken transform or
//! rule is caught with a small counterexample, and the seed alone determines the report.
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]

use compiler::check::check_sources;
use compiler::eval::Value;
use compiler::model::{SpecModel, Ty};
use compiler::verify::{
    conforms, generate, shrink, verify, Obligation, ObligationResult, Rng, Status, VerifyOptions,
    VerifyReport,
};
use lang::diagnostic::codes;
use lang::span::SourceMap;
use lang::Diagnostic;

use upstart_test_support::{relative, repo_root};

const KV_1_2: &str = "specs/kv/kv-1-2.ups";
const KV_2_3: &str = "specs/kv/kv-2-3.ups";

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo_root().join(rel)).unwrap()
}

/// The model of one spec, which must check without errors.
fn model(name: &str, text: &str) -> SpecModel {
    upstart_test_support::model::checked(name, text)
}

fn run(m: &SpecModel, seed: u64, cases: u32) -> VerifyReport {
    verify(m, &VerifyOptions { seed, cases })
}

/// kv-1-2 with its transform replaced by `transform`.
fn kv_with_transform(transform: &str) -> SpecModel {
    let text = read(KV_1_2);
    let good = "items: map_values(old.entries, |v| Item { value: v, expires_at: none })";
    assert!(text.contains(good), "kv-1-2 changed: update this test");
    model("kv-broken.ups", &text.replace(good, transform))
}

/// kv-1-2 with its transform replaced by `transform`, verified with `seed` and 256 cases: the
/// report and its failure of the invariant obligation, which it must have.
fn broken_invariant(transform: &str, seed: u64) -> (VerifyReport, Diagnostic) {
    let report = run(&kv_with_transform(transform), seed, 256);
    let d = report
        .failure(codes::VERIFY_INVARIANT_BROKEN)
        .unwrap_or_else(|| panic!("{report}"))
        .clone();
    (report, d)
}

/// The first result of `obligation` in `report`, which must have one.
fn obligation(report: &VerifyReport, obligation: Obligation) -> &ObligationResult {
    report
        .checked
        .iter()
        .find(|c| c.obligation == obligation)
        .unwrap_or_else(|| panic!("no {obligation:?} checked:\n{report}"))
}

/// The note of `d` that starts with `prefix`.
fn note<'d>(d: &'d Diagnostic, prefix: &str) -> &'d str {
    d.notes
        .iter()
        .find(|n| n.starts_with(prefix))
        .unwrap_or_else(|| panic!("no note `{prefix}...`: {:?}", d.notes))
}

/// The number of entries of the `entries` map in an `old state: ...` note.
fn entries_in(note: &str) -> usize {
    let text = note.strip_prefix("old state: ").unwrap();
    if text.contains("entries: {}") {
        return 0;
    }
    // `state { entries: {"a": "b", "": "x"} }`: one `:` per entry inside the map.
    let map = &text[text.find("entries: {").unwrap() + "entries: {".len()..];
    let map = &map[..map.find('}').unwrap()];
    map.matches("\": ").count()
}

#[test]
fn kv_specs_verify_clean() {
    for rel in [KV_1_2, KV_2_3] {
        let report = run(&model(rel, &read(rel)), 1, 256);
        assert!(
            report.diagnostics.is_empty(),
            "{rel}:\n{report}\n{:#?}",
            report.diagnostics
        );
        assert_eq!(report.failed(), 0, "{report}");
        assert_eq!(report.skipped(), 0, "{report}");
        for kind in [
            Obligation::Invariant,
            Obligation::Total,
            Obligation::RoundTrip,
        ] {
            assert!(
                report
                    .checked
                    .iter()
                    .any(|c| c.obligation == kind && c.passed()),
                "{rel}: no {kind:?} passed\n{report}"
            );
        }
    }
}

/// `model` with every method model dropped: what `verify` checks of a spec without models.
fn without_models(mut m: SpecModel) -> SpecModel {
    for env in [&mut m.old, &mut m.new] {
        for service in env.services.values_mut() {
            for method in &mut service.methods {
                method.model = None;
            }
        }
    }
    m
}

/// The wrong rules of issue 12 (`specs/verify/`): each passes today's obligations (total, round
/// trips) but is caught once the rules are checked against the method models, with the code
/// of its kind of failure, on the rule, with the states, arguments and both answers.
#[test]
fn wrong_rules_are_caught_by_the_models() {
    let cases = [
        // A write that drops the caller's value: answers `unit` as the model, states differ.
        (
            "specs/verify/past-drops-argument.ups",
            codes::VERIFY_SIMULATION_STATE,
            vec!["put"],
        ),
        // A ttl ignored instead of refused: only a later `get` shows it.
        (
            "specs/verify/future-ignores-parameter.ups",
            codes::VERIFY_SIMULATION_SEQUENCE,
            vec!["get"],
        ),
        // A constant and an empty collection instead of asking the node.
        (
            "specs/verify/future-constant-answer.ups",
            codes::VERIFY_SIMULATION_ANSWER,
            vec!["count", "get_many"],
        ),
    ];
    for (rel, code, rules) in cases {
        let text = read(rel);
        let m = model(rel, &text);
        let today = run(&without_models(m.clone()), 1, 256);
        assert!(
            !today.has_errors() && today.failed() == 0,
            "{rel} should pass the obligations without models:\n{today}"
        );
        for seed in [1, 2, 3] {
            let report = run(&m, seed, 256);
            for rule in &rules {
                let d = report
                    .diagnostics
                    .iter()
                    .find(|d| {
                        d.code == code
                            && text
                                .get(d.primary.span.start..d.primary.span.end)
                                .is_some_and(|t| t == *rule)
                    })
                    .unwrap_or_else(|| {
                        panic!("{rel}, seed {seed}: no {code} on `{rule}`\n{report}")
                    });
                assert!(d.is_error());
                for note in ["old state: ", "new state: ", "arguments: "] {
                    assert!(
                        d.notes.iter().any(|n| n.starts_with(note)),
                        "{rel}: no `{note}` note: {:?}",
                        d.notes
                    );
                }
            }
        }
    }
}

#[test]
fn the_kv_rules_simulate_their_models() {
    for rel in [KV_1_2, KV_2_3] {
        let report = run(&model(rel, &read(rel)), 7, 256);
        let simulated = report
            .checked
            .iter()
            .filter(|c| c.obligation == Obligation::Simulation && c.passed())
            .count();
        assert!(
            simulated >= 7,
            "{rel}: {simulated} rules simulated\n{report}"
        );
        assert!(
            report
                .checked
                .iter()
                .any(|c| c.obligation == Obligation::Sequence && c.passed()),
            "{rel}\n{report}"
        );
        assert!(report.diagnostics.is_empty(), "{rel}\n{report}");
    }
}

#[test]
fn a_wrong_transform_is_caught_with_a_small_counterexample() {
    let (report, d) = broken_invariant(
        r#"items: map_values(old.entries, |v| Item { value: v + "x", expires_at: none })"#,
        1,
    );
    let d = &d;
    assert!(d.is_error());
    assert!(report.has_errors());
    let inv = &report.checked[0];
    assert_eq!(inv.obligation, Obligation::Invariant);
    assert!(
        matches!(inv.status, Status::Failed { diagnostic: 0 }),
        "{report}"
    );
    // The second clause (values) is the false one.
    assert_eq!(d.secondary.len(), 1);
    assert_eq!(d.secondary[0].message, "this clause is false");
    let old = note(d, "old state: ");
    assert_eq!(entries_in(old), 1, "not shrunk: {old}");
    assert!(
        old.contains(r#"entries: {"": ""}"#),
        "not shrunk to the smallest: {old}"
    );
    assert!(
        d.notes
            .iter()
            .any(|n| n.starts_with("new state: ") && n.contains(r#"value: "x""#)),
        "{:?}",
        d.notes
    );
    assert_eq!(d.help.as_deref(), Some("replay with `--seed 1`"));
    assert!(report.to_string().contains("FAILED"), "{report}");
}

#[test]
fn a_transform_that_drops_a_key_is_caught() {
    let (_, d) = broken_invariant(
        r#"items: map_values(remove(old.entries, "a"), |v| Item { value: v, expires_at: none })"#,
        7,
    );
    let old = note(&d, "old state: ");
    assert_eq!(old, r#"old state: state { entries: {"a": ""} }"#);
}

#[test]
fn a_partial_rule_is_caught() {
    let text = read(KV_1_2).replace(
        "get(key) = (call get(key)).map(|i| i.value)",
        r#"get(key) = if key == "" { none } else { some((call get(key)).map(|i| i.value).unwrap_or(to_map([1], |x| ("a", "a"))[key])) }"#,
    );
    let m = model("kv-partial.ups", &text);
    let report = run(&m, 3, 256);
    let d = report
        .failure(codes::VERIFY_RULE_FAILED)
        .unwrap_or_else(|| panic!("{report}"));
    assert!(d.message.contains("past rule `Kv.get`"), "{}", d.message);
    assert!(
        d.notes.iter().any(|n| n == r#"arguments: key = "b""#),
        "{:?}",
        d.notes
    );
    assert!(
        d.notes
            .iter()
            .any(|n| n == r#"`call get("b")` answered none"#),
        "{:?}",
        d.notes
    );
}

#[test]
fn the_same_seed_gives_the_same_report() {
    let m = kv_with_transform(
        r#"items: map_values(old.entries, |v| Item { value: v + "x", expires_at: none })"#,
    );
    let a = run(&m, 42, 64);
    let b = run(&m, 42, 64);
    assert_eq!(a, b);
    assert_eq!(a.to_json(), b.to_json());
    assert_eq!(a.to_string(), b.to_string());
}

#[test]
fn different_seeds_can_differ() {
    let m = kv_with_transform(
        r#"items: map_values(old.entries, |v| Item { value: v + "x", expires_at: none })"#,
    );
    // The case that first fails depends on the seed (the shrunk counterexample may not).
    let found: std::collections::BTreeSet<u32> = (0..8)
        .map(|seed| run(&m, seed, 64).checked[0].cases)
        .collect();
    assert!(
        found.len() > 1,
        "every seed failed at the same case: {found:?}"
    );
    // And generation itself.
    let ty = Ty::State(1);
    let values: std::collections::BTreeSet<String> = (0..8)
        .map(|seed| generate(&ty, &m, &mut Rng::new(seed), 6).to_string())
        .collect();
    assert!(values.len() > 1);
}

#[test]
fn generated_values_conform_and_shrink_within_their_type() {
    let m = model(KV_2_3, &read(KV_2_3));
    let types = [
        Ty::State(2),
        Ty::State(3),
        Ty::named(3, "CasResult"),
        Ty::List(Box::new(Ty::Option(Box::new(Ty::named(3, "Item"))))),
    ];
    let mut rng = Rng::new(5);
    for ty in &types {
        for size in 0..=6 {
            let v = generate(ty, &m, &mut rng, size);
            conforms(&v, ty, &m).unwrap_or_else(|e| panic!("{v} is not a {ty}: {e}"));
            for c in shrink(&v, ty, &m) {
                conforms(&c, ty, &m)
                    .unwrap_or_else(|e| panic!("shrinking {v} gave {c}, not a {ty}: {e}"));
                assert_ne!(c, v, "a shrink candidate of {v} is itself");
            }
        }
    }
    assert!(conforms(&Value::Int(-1), &Ty::U64, &m).is_err());
    assert!(conforms(
        &Value::variant("CasResult", "Gone", None),
        &Ty::named(3, "CasResult"),
        &m
    )
    .is_err());
}

/// Every example spec under `specs/` (not `specs/ui/`), relative to the repository.
fn example_specs() -> Vec<String> {
    upstart_test_support::example_specs()
        .iter()
        .map(|p| relative(p))
        .collect()
}

#[test]
fn generated_values_of_every_example_type_conform() {
    for rel in example_specs() {
        let m = model(&rel, &read(&rel));
        let mut types = vec![Ty::State(m.old.number), Ty::State(m.new.number)];
        for env in [&m.old, &m.new] {
            for name in env.records.keys().chain(env.enums.keys()) {
                types.push(Ty::named(env.number, name));
            }
            for service in env.services.values() {
                for method in &service.methods {
                    types.push(method.ret.clone());
                    types.extend(method.params.iter().map(|p| p.ty.clone()));
                }
            }
        }
        let mut rng = Rng::new(9);
        for ty in &types {
            for size in 0..=6 {
                let v = generate(ty, &m, &mut rng, size);
                conforms(&v, ty, &m).unwrap_or_else(|e| panic!("{rel}: {v} is not a {ty}: {e}"));
            }
        }
    }
}

#[test]
fn verify_does_not_panic_on_the_bad_specs() {
    let ui = repo_root().join("specs/ui");
    let mut checked = 0;
    for entry in std::fs::read_dir(&ui).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("ups") {
            continue;
        }
        let mut sources = SourceMap::new();
        sources.add(
            path.display().to_string(),
            std::fs::read_to_string(&path).unwrap(),
        );
        for m in check_sources(&sources).models {
            let report = run(&m, 1, 8);
            assert_eq!(
                report.checked.len(),
                report.passed() + report.failed() + report.skipped()
            );
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} models");
}

#[test]
fn the_report_serializes_for_tools() {
    let report = run(&model(KV_1_2, &read(KV_1_2)), 1, 16);
    let json = report.to_json();
    assert_eq!(json["seed"], 1);
    assert_eq!(json["cases"], 16);
    let first = &json["checked"][0];
    assert_eq!(first["obligation"], "invariant");
    assert_eq!(first["status"], "passed");
    assert_eq!(first["name"], "transform establishes the invariant");
    let second = &json["checked"][1];
    assert_eq!(second["obligation"], "reverse");
    assert_eq!(second["name"], "reverse transform carries the state back");
    let text = report.summary();
    assert!(
        text.starts_with("verify `kv 1 -> 2`: seed 1, 16 cases per obligation"),
        "{text}"
    );
    assert!(text.ends_with("20 passed, 0 failed, 0 skipped"), "{text}");
}

#[test]
#[ignore = "prints the report of every example spec (or of the files in UPSTART_VERIFY_SPECS, \
            separated by commas; seed and cases from UPSTART_VERIFY_SEED and UPSTART_VERIFY_CASES); \
            run with --ignored --nocapture"]
fn example_reports() {
    let examples = [
        KV_1_2,
        KV_2_3,
        "specs/orders/orders-1-2.ups",
        "specs/accounts/accounts-3-4.ups",
    ];
    let given = std::env::var("UPSTART_VERIFY_SPECS").ok();
    let files: Vec<&str> = given
        .as_deref()
        .map_or(examples.to_vec(), |g| g.split(',').collect());
    for rel in files {
        let m = model(rel, &read(rel));
        let start = std::time::Instant::now();
        let env = |k: &str, d: u64| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(d)
        };
        let options = VerifyOptions {
            seed: env("UPSTART_VERIFY_SEED", 1),
            cases: u32::try_from(env("UPSTART_VERIFY_CASES", 256)).unwrap(),
        };
        let report = verify(&m, &options);
        let took = start.elapsed();
        println!("{report}\n({rel}: {took:.2?})");
        for d in &report.diagnostics {
            println!("{}: {}", d.code, d.message);
        }
    }
}

#[test]
fn a_wrong_reverse_transform_is_caught() {
    // kv-1-2's reverse transform, but a rollback loses the items whose value is empty.
    let text = read(KV_1_2);
    let good = "entries: map_values(new.items, |i| i.value)";
    assert!(text.contains(good), "kv-1-2 changed: update this test");
    let wrong =
        "entries: to_map(entries(new.items).filter(|e| e.1.value != \"\"), |e| (e.0, e.1.value))";
    let m = model("kv-bad-reverse.ups", &text.replace(good, wrong));
    let report = run(&m, 7, 256);
    let reverse = obligation(&report, Obligation::Reverse);
    let Status::Failed { diagnostic } = reverse.status else {
        panic!("not caught: {reverse:?}");
    };
    let d = &report.diagnostics[diagnostic];
    assert_eq!(d.code, codes::VERIFY_REVERSE_BROKEN);
    // Shrunk to one item, with the empty value that is lost.
    let new = note(d, "new state");
    assert_eq!(new.matches("Item {").count(), 1, "{new}");
    assert!(new.contains("value: \"\""), "{new}");
    // The right reverse transform passes.
    let good_report = run(&model("kv-1-2.ups", &text), 7, 256);
    assert!(good_report
        .checked
        .iter()
        .any(|o| o.obligation == Obligation::Reverse && o.status == Status::Passed));
}

/// A method renamed with `renamed from` is one method: its past rule (under the old name) and
/// its future rule (under the new name) round-trip together, and a lossy pair is caught.
#[test]
fn a_renamed_method_round_trips_under_its_two_names() {
    let spec = |past: &str| {
        format!(
            "upgrade t 1 -> 2\n\
             version 1 {{ service S {{ fn get(key: string) -> u64 }} }}\n\
             version 2 {{ service S {{ fn lookup(key: string, exact: bool) -> u64 renamed from get }} }}\n\
             past S {{ get(key) = {past} }}\n\
             future S {{ lookup(key, exact) = if exact {{ call get(key) }} else {{ call get(key) + 0 }} }}\n\
             schedule {{ all_at_once {{ }} }}\n"
        )
    };
    let good = run(
        &model("renamed.ups", &spec("call lookup(key, true)")),
        7,
        128,
    );
    let trip = obligation(&good, Obligation::RoundTrip);
    assert!(trip.passed(), "{good}");
    assert!(trip.name.contains("`S.get`"), "{}", trip.name);

    let lossy = run(
        &model("renamed-lossy.ups", &spec("(call lookup(key, true)) / 2")),
        7,
        128,
    );
    assert!(lossy.failure(codes::VERIFY_ROUND_TRIP).is_some(), "{lossy}");
}

/// A record field renamed with `renamed from` is not lost: a method returning the record is
/// round-tripped (without the rename it would be skipped as lossy), and a conversion that
/// mixes the field up is caught.
#[test]
fn a_renamed_field_is_round_tripped() {
    let spec = |back: &str| {
        format!(
            "upgrade t 1 -> 2\n\
             version 1 {{ record Item {{ value: string, n: u64 }}\n service S {{ fn get() -> Item }} }}\n\
             version 2 {{ record Item {{ text: string renamed from value, n: u64 }}\n service S {{ fn get() -> Item }} }}\n\
             past S {{ get() = {{ let i = call get(); v1::Item {{ value: {back}, n: i.n }} }} }}\n\
             future S {{ get() = {{ let i = call get(); v2::Item {{ text: i.value, n: i.n }} }} }}\n\
             schedule {{ all_at_once {{ }} }}\n"
        )
    };
    let good = run(&model("renamed-field.ups", &spec("i.text")), 5, 128);
    let trip = obligation(&good, Obligation::RoundTrip);
    assert!(trip.passed(), "{good}");
    let bad = run(
        &model("renamed-field-bad.ups", &spec("i.text + \"!\"")),
        5,
        128,
    );
    assert!(bad.failure(codes::VERIFY_ROUND_TRIP).is_some(), "{bad}");
}
