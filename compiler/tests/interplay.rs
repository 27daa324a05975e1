//! Where features written apart meet in `verify`: renamed methods and fields passed through
//! unchanged are simulated under the node's name, their values converted as the plugin
//! converts them.
#![allow(clippy::unwrap_used, reason = "tests")]

use compiler::model::SpecModel;
use compiler::verify::{verify, Status, VerifyOptions, VerifyReport};
use lang::diagnostic::codes;

/// The model of one spec, which must check without errors.
fn model(text: &str) -> SpecModel {
    upstart_test_support::model::checked("interplay.ups", text)
}

fn run(text: &str) -> VerifyReport {
    verify(&model(text), &VerifyOptions { seed: 7, cases: 64 })
}

/// The report of a spec that must verify with no failure.
fn run_clean(text: &str) -> VerifyReport {
    let report = run(text);
    let failed: Vec<_> = report
        .diagnostics
        .iter()
        .map(|d| (d.code, d.message.clone()))
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    report
}

/// A kv whose `get` version 2 calls `lookup`, with `lookup`'s model given as `model`.
fn renamed_get(model: &str) -> String {
    format!(
        r#"upgrade kv 1 -> 2
version 1 {{
  service Kv {{
    fn get(key: string) -> option<string> = get(state.entries, key)
    fn put(key: string, value: string) -> unit {{
      state.entries = insert(state.entries, key, value)
    }}
  }}
  state {{ entries: map<string, string> }}
}}
version 2 {{
  service Kv {{
    fn lookup(key: string) -> option<string> renamed from get = {model}
    fn put(key: string, value: string) -> unit {{
      state.entries = insert(state.entries, key, value)
    }}
  }}
  state {{ entries: map<string, string> }}
}}
invariant (old, new) {{ old.entries == new.entries }}
transform (old) -> new {{ entries: old.entries }}
"#
    )
}

fn names(report: &VerifyReport) -> Vec<String> {
    report.checked.iter().map(|r| r.name.clone()).collect()
}

#[test]
fn a_renamed_method_passed_through_is_simulated_against_its_counterpart() {
    let good = run(&renamed_get("get(state.entries, key)"));
    let subject = good
        .checked
        .iter()
        .find(|r| r.name.contains("`Kv.get`"))
        .unwrap_or_else(|| panic!("`Kv.get` is not simulated: {:?}", names(&good)));
    assert_eq!(subject.status, Status::Passed, "{subject:?}");
    assert!(subject.name.contains("`lookup`"), "{}", subject.name);

    let bad = run(&renamed_get("some(\"wrong\")"));
    let failed: Vec<_> = bad
        .diagnostics
        .iter()
        .map(|d| (d.code, d.message.clone()))
        .collect();
    assert!(
        failed
            .iter()
            .any(|(c, m)| *c == codes::VERIFY_SIMULATION_ANSWER && m.contains("`Kv.get`")),
        "a wrong model of the renamed method is not caught: {failed:?}"
    );
}

/// Version 2 renames a field of a record that `get` and `put` pass through unchanged.
const RENAMED_FIELD: &str = r#"upgrade kv 1 -> 2
version 1 {
  record Item { value: string, ttl: u64 }
  service Kv {
    fn get(key: string) -> option<Item> = get(state.entries, key)
    fn put(key: string, item: Item) -> unit {
      state.entries = insert(state.entries, key, item)
    }
  }
  state { entries: map<string, Item> }
}
version 2 {
  record Item { value: string, ttl_ms: u64 renamed from ttl }
  service Kv {
    fn get(key: string) -> option<Item> = get(state.entries, key)
    fn put(key: string, item: Item) -> unit {
      state.entries = insert(state.entries, key, Item { value: item.value, ttl_ms: item.ttl_ms })
    }
  }
  state { entries: map<string, Item> }
}
// The whole item is related (an invariant relating the ttl only let `verify` pair a new
// state holding another value, which `get` then answered).
invariant (old, new) {
  keys(old.entries) == keys(new.entries)
  forall k in keys(old.entries):
    old.entries[k].ttl == new.entries[k].ttl_ms && old.entries[k].value == new.entries[k].value
}
transform (old) -> new { entries: old.entries }
"#;

#[test]
fn calls_passed_through_convert_renamed_fields_as_the_plugin_does() {
    let report = run_clean(RENAMED_FIELD);
    for method in ["`Kv.get`", "`Kv.put`"] {
        let r = report
            .checked
            .iter()
            .find(|r| r.name.contains(method))
            .unwrap_or_else(|| panic!("{method} is not simulated: {:?}", names(&report)));
        assert_eq!(r.status, Status::Passed, "{r:?}");
    }
}

/// `on` keeps its signature but version 2 answers the opposite; a past rule (warned unneeded,
/// U0040, but kept) flips it back. Old callers reach the rule, never the
/// pass-through, so only the rule is checked in that direction.
const KEPT_RULE: &str = r#"upgrade kv 1 -> 2
version 1 {
  service Kv { fn on(x: bool) -> bool = x }
}
version 2 {
  service Kv { fn on(x: bool) -> bool = !x }
}
past Kv { on(x) = !(call on(x)) }
schedule { rolling { batch: 1, max_unavailable: 1 } }
"#;

#[test]
fn a_method_with_a_rule_is_not_also_simulated_as_passed_through() {
    let report = run_clean(KEPT_RULE);
    assert!(
        report
            .checked
            .iter()
            .any(|r| r.name.starts_with("past rule `Kv.on`") && r.status == Status::Passed),
        "{:?}",
        names(&report)
    );
}
