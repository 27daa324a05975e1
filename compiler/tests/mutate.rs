//! Mutation testing of `verify` (`compiler::mutate`): the example specs' rules are mutated and
//! `verify` must kill the mutants; a wrong rule of the kind the mutants stand for is caught
//! with few cases; the generated large spec with models verifies.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

use compiler::check::check_sources;
use compiler::mutate::{mutate, Coverage, MutateError, MutateOptions};
use compiler::verify::{verify, Obligation, VerifyOptions};
use lang::diagnostic::codes;
use lang::span::SourceMap;
use upstart_test_support::repo_root;

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo_root().join(rel)).unwrap()
}

/// The spec at `rel` with the first `needle` after `block` replaced by `mutant` still checks,
/// and `verify` with 16 cases catches it on each of eight seeds.
fn caught_with_few_cases(rel: &str, block: &str, needle: &str, mutant: &str) {
    let text = read(rel);
    let start = text.find(block).unwrap();
    let at = start + text[start..].find(needle).unwrap();
    let mutant = format!("{}{mutant}{}", &text[..at], &text[at + needle.len()..]);
    let mut sources = SourceMap::new();
    sources.add(rel, mutant);
    let out = check_sources(&sources);
    assert!(!out.has_errors(), "{:#?}", out.diagnostics);
    for seed in 0..8 {
        let report = verify(&out.models[0], &VerifyOptions { seed, cases: 16 });
        assert!(report.has_errors(), "seed {seed}:\n{report}");
    }
}

/// Few cases per obligation, so the test stays short in a debug build: the kill rates below
/// are those of this setting (more cases kill more).
const CI: MutateOptions = MutateOptions { seed: 0, cases: 16 };

/// kv 1 -> 2 keeps at least 90% of its mutants killed. Before sequences reused earlier
/// arguments, 16 cases killed 48 of 54 (the `future put` that ignores or mishandles the ttl
/// survived: only a later `get` of the same key shows it).
#[test]
fn kv_1_2_kill_rate_stays_at_or_above_90_percent() {
    let report = mutate("kv-1-2.ups", &read("specs/kv/kv-1-2.ups"), &CI).unwrap();
    assert!(report.total() >= 40, "too few mutants:\n{report}");
    assert!(report.kill_rate() >= 90.0, "{report}");
}

/// kv 2 -> 3: each rule is classed by how far `verify` checks it; the rules it simulates with
/// their answers compared keep at least 90% of their mutants killed (the `future` reads that
/// answer revision 0 by design are allowed to differ from the model, and are not counted).
#[test]
fn kv_2_3_simulated_rules_kill_rate_stays_at_or_above_90_percent() {
    let report = mutate("kv-2-3.ups", &read("specs/kv/kv-2-3.ups"), &CI).unwrap();
    let class = |rule: &str| report.rule(rule).unwrap().coverage.clone();
    assert_eq!(class("past Kv.put"), Coverage::Simulated);
    assert_eq!(class("future Kv.get"), Coverage::Simulated);
    assert_eq!(class("future Kv.put"), Coverage::AnswersNotCompared);
    let (killed, total) = report.simulated();
    assert!(total >= 20, "{report}");
    assert!(killed * 10 >= total * 9, "{report}");
}

/// A rule whose `call`s reach methods without models is not simulated, and says why.
#[test]
fn unmodelled_writes_are_classed_not_simulated() {
    // The example's writes all have models now: take version 4's `rename` model away.
    let rel = "specs/accounts/accounts-3-4.ups";
    let text = read(rel);
    let start = text
        .find("fn rename(id: u64, name: string) -> bool {")
        .unwrap();
    let end = start + text[start..].find("\n    }\n").unwrap() + "\n    }".len();
    let text = format!(
        "{}fn rename(id: u64, name: string) -> bool{}",
        &text[..start],
        &text[end..]
    );
    // A rule is found to reach an unmodelled method when a case takes the path with the
    // `call`: a few cases, not one, so that no one generated case decides it.
    let report = mutate(rel, &text, &MutateOptions { seed: 0, cases: 4 }).unwrap();
    let update = report.rule("past Accounts.update").unwrap();
    match &update.coverage {
        Coverage::NotSimulated(why) => assert!(why.contains("no model"), "{why}"),
        other => panic!("{other:?}"),
    }
}

/// The mutants are real changes that check: none is the rule itself, each names what changed,
/// and the report's totals add up.
#[test]
fn mutants_check_and_are_tallied() {
    let report = mutate("kv-1-2.ups", &read("specs/kv/kv-1-2.ups"), &CI).unwrap();
    let rules: usize = report.rules.iter().map(|r| r.killed + r.survived).sum();
    assert_eq!(rules, report.mutants.len());
    assert_eq!(report.total(), report.mutants.len());
    assert!(report.rules.iter().any(|r| r.ill_typed > 0));
    for kind in ["replaced `", "swapped the branches", "replaced `call "] {
        assert!(
            report.mutants.iter().any(|m| m.what.starts_with(kind)),
            "no mutant `{kind}...`:\n{report}"
        );
    }
    let json = report.to_json();
    assert_eq!(json["total"], report.total());
    assert_eq!(json["killed"], report.killed());
}

/// A spec that fails `verify` itself cannot be mutation-tested.
#[test]
fn a_spec_failing_verify_is_refused() {
    let rel = "specs/verify/future-ignores-parameter.ups";
    match mutate(rel, &read(rel), &MutateOptions { seed: 0, cases: 64 }) {
        Err(MutateError::Verify(failed)) => assert!(!failed.is_empty()),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A future rule that ignores the new `ttl_ms` is shown only by a later `get` of the key it
/// wrote: the sequences reuse earlier arguments, so 64 cases find it on each of ten seeds
/// (before, with independent arguments, seed 2 missed it; at 16 cases 6 seeds of 10 found
/// it, now 7).
#[test]
fn an_ignored_parameter_is_found_with_few_cases() {
    let rel = "specs/verify/future-ignores-parameter.ups";
    let mut sources = SourceMap::new();
    sources.add(rel, read(rel));
    let out = check_sources(&sources);
    assert!(!out.has_errors());
    let model = &out.models[0];
    for seed in 0..10 {
        let report = verify(model, &VerifyOptions { seed, cases: 64 });
        assert!(
            report.failure(codes::VERIFY_SIMULATION_SEQUENCE).is_some(),
            "seed {seed}:\n{report}"
        );
    }
}

/// The generated large spec with models checks clean, and `verify` checks the simulation of
/// every rule and unchanged method, and passes.
#[test]
fn large_spec_with_models_verifies() {
    let text = lang::synth::large_spec_with_models(400);
    let mut sources = SourceMap::new();
    sources.add("big.ups", text);
    let out = check_sources(&sources);
    assert!(out.diagnostics.is_empty(), "{:#?}", out.diagnostics);
    let report = verify(&out.models[0], &VerifyOptions { seed: 0, cases: 16 });
    assert_eq!(report.failed(), 0, "{report}");
    assert_eq!(report.skipped(), 0, "{report}");
    let simulated = report
        .checked
        .iter()
        .filter(|c| c.obligation == Obligation::Simulation)
        .count();
    assert!(simulated >= 8, "{report}");
}

/// A future `find_user` that always answers an address (its "no address" branch replaced by
/// `false`, a surviving mutant) is wrong only for a user the state holds whose address parts
/// are all empty: the generated `id` must name a held user. Arguments are drawn from the
/// state's keys half the time, so 16 cases find it on each of eight seeds (before: 6 of 8).
#[test]
fn a_read_of_a_held_key_is_checked_with_few_cases() {
    // Version 3's states must be well-formed (every user's email indexed to it): a user
    // generated again for the clause gets an index entry from one of its strings, else few
    // states hold a user (before that repair, 16 cases found this on 5 of these 8 seeds).
    caught_with_few_cases(
        "specs/accounts/accounts-3-4.ups",
        "future Accounts",
        r#"address: if u.street == "" && u.city == "" && u.country == "" {"#,
        "address: if false {",
    );
}

/// A future `get` that reads every order as pending (its `match o.status` made to match a
/// constant, a surviving mutant) is wrong only for a held order whose status is one of the
/// spec's literals (`"paid"`, `"shipped"`, `"cancelled"`): strings are drawn from the spec's
/// literals half the time, so 16 cases find it on each of eight seeds (before, a quarter of
/// the time: 6 of 8).
#[test]
fn a_match_on_string_literals_is_checked_with_few_cases() {
    caught_with_few_cases(
        "specs/orders/orders-1-2.ups",
        "future Orders",
        "match o.status {",
        "match \"mutant\" {",
    );
}
