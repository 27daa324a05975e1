//! Data-driven checker tests: `check(spec, expect)` compares a compact listing of the
//! diagnostics (`code line:col message`) with `expect`.

use super::check_sources;
use lang::span::SourceMap;

/// Checks the files together and lists diagnostics one per line.
fn listing(files: &[&str]) -> String {
    let mut sources = SourceMap::new();
    for (i, text) in files.iter().enumerate() {
        sources.add(format!("f{i}.ups"), text.to_string());
    }
    let out = check_sources(&sources);
    out.diagnostics
        .iter()
        .map(|d| {
            let f = sources
                .get(d.primary.file)
                .map(|f| f.line_col(d.primary.span.start))
                .unwrap_or((0, 0));
            format!("{} {}:{} {}", d.code, f.0, f.1, d.message)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn check(spec: &str, expect: &str) {
    let got = listing(&[spec]);
    assert_eq!(
        got.trim(),
        expect.trim(),
        "\n--- got\n{got}\n--- for spec\n{spec}"
    );
}

/// Two versions around a body of rules; versions are given, schedule present.
fn spec(v1: &str, v2: &str, rest: &str) -> String {
    format!(
        "upgrade t 1 -> 2\nversion 1 {{\n{v1}\n}}\nversion 2 {{\n{v2}\n}}\n{rest}\nschedule {{ rolling {{ batch: 1, max_unavailable: 1 }} }}\n"
    )
}

#[test]
fn example_specs_check_with_only_expected_warnings() {
    let a = upstart_test_support::spec("kv/kv-1-2.ups");
    let b = upstart_test_support::spec("kv/kv-2-3.ups");
    let got = listing(&[&a, &b]);
    // U0072: kv 2 -> 3's reverse transform drops the revisions, which version 2 cannot keep.
    assert!(
        !got.is_empty()
            && got.lines().all(|l| {
                l.starts_with("U0041")
                    || l.starts_with("U0070")
                    || l.starts_with("U0072 144:1 the reverse transform never reads `revision`")
            }),
        "{got}"
    );
}

#[test]
fn unchanged_methods_need_no_rules() {
    check(
        &spec(
            "service S { fn f(x: u64) -> u64 }",
            "service S { fn f(x: u64) -> u64 }",
            "",
        ),
        "",
    );
}

#[test]
fn a_changed_method_needs_rules_both_ways() {
    check(
        &spec(
            "service S { fn f(x: u64) -> u64 }",
            "service S { fn f(x: u64, y: bool) -> u64 }",
            "",
        ),
        "U0033 3:16 `S.f` of version 1 is not answered on upgraded nodes\n\
         U0034 6:16 `S.f` of version 2 is not answered on old nodes",
    );
}

#[test]
fn past_rules_call_the_new_interface() {
    check(
        &spec(
            "service S { fn f(x: u64) -> u64 }",
            "service S { fn f(x: u64, y: bool) -> u64 }",
            "past S { f(x) = call f(x, true) }\nfuture S { f(x, y) = if y { call f(x) } else { disallow \"no\" } }",
        ),
        "",
    );
}

#[test]
fn call_reaches_only_the_other_version() {
    check(
        &spec(
            "service S { fn f(x: u64) -> u64\n fn old_only() -> u64 }",
            "service S { fn f(x: u64, y: bool) -> u64 }",
            "past S { f(_x) = call old_only()\n old_only() = 1 }\nfuture S { f(x, _y) = call f(x) }",
        ),
        "U0035 9:23 version 2 of `S` has no method `old_only`",
    );
}

#[test]
fn changed_records_are_never_converted_implicitly() {
    check(
        &spec(
            "record R { a: u64 }\nservice S { fn f() -> R }",
            "record R { a: u64, b: bool }\nservice S { fn f() -> R }",
            "past S { f() = call f() }\nfuture S { f() = (call f()) }",
        ),
        "U0057 10:16 `R` of version 2 is used where `R` of version 1 is expected\n\
         U0057 11:18 `R` of version 1 is used where `R` of version 2 is expected",
    );
}

#[test]
fn unchanged_records_cross_versions_freely() {
    check(
        &spec(
            "record R { a: u64 }\nservice S { fn f(k: string) -> option<R> }",
            "record R { a: u64 }\nservice S { fn f(k: string) -> option<R>\n fn g() -> R }",
            "future S { g() = R { a: 1 } }",
        ),
        "",
    );
}

#[test]
fn expected_types_pick_the_version_of_a_record_literal() {
    check(
        &spec(
            "record R { a: u64 }\nservice S { fn f() -> R }",
            "record R { a: u64, b: bool }\nservice S { fn f() -> R }",
            "past S { f() = R { a: (call f()).a } }\nfuture S { f() = R { a: (call f()).a, b: false } }",
        ),
        "",
    );
}

#[test]
fn ambiguous_record_names_must_be_qualified() {
    check(
        &spec(
            "record R { a: u64 }\nstate { n: u64 }",
            "record R { a: u64, b: bool }\nstate { n: u64 }",
            "invariant (old, new) { let r = R { a: 1 }; r.a == old.n }",
        ),
        "U0058 10:32 `R` means different types in versions 1 and 2",
    );
}

#[test]
fn literals_take_their_type_from_context() {
    check(
        &spec(
            "service S { fn f(x: u64) -> u64 }",
            "service S { fn f(x: i64) -> i64 }",
            "past S { f(x) = u64(call f(i64(x) + 1)) }\nfuture S { f(x) = if x < 0 { -1 } else { i64(call f(u64(x))) } }",
        ),
        "",
    );
    check(
        &spec("service S { fn f(x: u64) -> u64 }", "service S { fn f(x: i64) -> u64 }", "past S { f(_x) = call f(18446744073709551615) }\nfuture S { f(_x) = call f(-1) }"),
        "U0066 8:25 `18446744073709551615` does not fit in `i64`\nU0066 9:27 `-1` does not fit in `u64`",
    );
}

#[test]
fn matches_must_be_exhaustive_and_arms_reachable() {
    let v = "enum E { A, B(u64), C }\nservice S { fn f(e: E) -> u64 }";
    let w = "enum E { A, B(u64), C }\nservice S { fn f(e: E) -> u64\n fn g() -> u64 }";
    check(
        &spec(v, w, "future S { g() = match E::A { A => 1, B(n) => n } }"),
        "U0060 11:18 `match` does not cover `C`",
    );
    check(
        &spec(v, w, "future S { g() = match E::A { _ => 1, A => 2 } }"),
        "U0064 11:39 this arm is never chosen",
    );
}

#[test]
fn transform_must_assign_every_new_field_and_read_every_old_one() {
    check(
        &spec(
            "state { a: map<string, u64>, lost: u64 }",
            "state { a: map<string, u64>, b: bool }",
            "invariant (o, n) { keys(o.a) == keys(n.a) }\ntransform (o) -> n { a: o.a }",
        ),
        "U0068 3:30 the transform never reads `lost`\n\
         U0054 9:1 the transform does not assign `b`",
    );
}

#[test]
fn reverse_transform_assigns_the_old_state_from_the_new_one() {
    let (v1, v2) = (
        "state { a: map<string, u64>, c: string }",
        "state { a: map<string, u64>, b: bool, c: string }",
    );
    let fwd = "invariant (o, n) { keys(o.a) == keys(n.a) }\ntransform (o) -> n { a: o.a, b: true, c: o.c }";
    // Types come from the old state; `new` is the new state; every old field is assigned; a
    // field the old state does not have is refused; unread new fields are named together.
    check(
        &spec(
            v1,
            v2,
            &format!("{fwd}\ntransform (new) -> old {{ a: new.b, zz: 1 }}"),
        ),
        "U0054 10:1 the reverse transform does not assign `c`\n\
         U0072 10:1 the reverse transform never reads `a`, `c` of the new state\n\
         U0050 10:29 expected `map<string, u64>`, found `bool`\n\
         U0067 10:36 the state of version 1 has no field `zz`",
    );
    check(
        &spec(
            v1,
            v2,
            &format!("{fwd}\ntransform (new) -> old {{ a: new.a, c: new.c }}"),
        ),
        "U0072 10:1 the reverse transform never reads `b` of the new state",
    );
    check(
        &spec(
            v1,
            v2,
            &format!("{fwd}\ntransform (new) -> old {{ a: new.a, c: if new.b {{ new.c }} else {{ \"\" }} }}"),
        ),
        "",
    );
    check(
        &spec(
            v1,
            v2,
            &format!("{fwd}\ntransform (new) -> old {{ a: new.a, c: new.c, b: new.b }}\ntransform (new) -> old {{ a: new.a, c: new.c }}"),
        ),
        "U0067 10:46 the state of version 1 has no field `b`\n\
         U0012 11:1 the reverse transform is given twice",
    );
}

#[test]
fn invariant_clauses_are_booleans() {
    check(
        &spec(
            "state { a: u64 }",
            "state { a: u64 }",
            "invariant (o, n) { o.a + 1 }",
        ),
        "U0065 8:20 an invariant clause must be `bool`, found `u64`",
    );
}

#[test]
fn chains_must_agree_at_the_joint() {
    let a = "upgrade kv 1 -> 2\nversion 1 { service S { fn f() -> u64 } }\nversion 2 { service S { fn f() -> u64 } }\nschedule { rolling { batch: 1, max_unavailable: 1 } }";
    let b = "upgrade kv 2 -> 3\nversion 2 { service S { fn f() -> i64 } }\nversion 3 { service S { fn f() -> i64 } }\nschedule { rolling { batch: 1, max_unavailable: 1 } }";
    let got = listing(&[a, b]);
    assert_eq!(got, "U0091 2:1 the two specs disagree on version 2");
    let c = "upgrade kv 3 -> 4\nversion 3 { service S { fn f() -> i64 } }\nversion 4 { service S { fn f() -> i64 } }\nschedule { rolling { batch: 1, max_unavailable: 1 } }";
    assert_eq!(
        listing(&[a, c]),
        "U0090 1:1 the chain has no spec from version 2 to version 3"
    );
}

#[test]
fn several_syntax_errors_are_reported_at_once() {
    let got = listing(&["upgrade t 1 -> 2\nversion 1 { record A { x: } }\nversion 2 { }\npast S { f( = 1 }\nschedule { }\n"]);
    let codes: Vec<&str> = got
        .lines()
        .map(|l| l.split(' ').next().unwrap_or(""))
        .collect();
    assert_eq!(codes, ["U0001", "U0001"], "{got}");
}

#[test]
fn large_spec_is_long_and_clean() {
    let text = lang::synth::large_spec(2_000);
    assert!(text.lines().count() >= 2_000);
    let mut sources = SourceMap::new();
    sources.add("big.ups", text);
    let out = check_sources(&sources);
    let messages: Vec<&str> = out.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert!(out.diagnostics.is_empty(), "{messages:?}");
}

/// Expression types are keyed by node, not by span: the tuple payload the parser synthesizes
/// for `E::V(a, b)` shares the variant's span, and still has its own type.
#[test]
fn a_synthesized_payload_keeps_its_own_type() {
    use crate::model::Ty;
    use lang::ast::{ExprKind, Item};
    let text = spec(
        "enum E { V((u64, u64)) }\nstate { e: E }",
        "enum E { V((u64, u64)) }\nstate { e: E }",
        "invariant (x, y) { y.e == E::V(1, 2) }",
    );
    let mut sources = SourceMap::new();
    sources.add("t.ups", text);
    let out = check_sources(&sources);
    let model = out.models.first().unwrap();
    let clause = model
        .spec
        .items
        .iter()
        .find_map(|i| match i {
            Item::Invariant(inv) => inv.clauses.first(),
            _ => None,
        })
        .unwrap();
    let ExprKind::Binary(_, _, variant) = &clause.kind else {
        panic!("{clause:?}")
    };
    let ExprKind::Variant {
        payload: Some(payload),
        ..
    } = &variant.kind
    else {
        panic!("{variant:?}")
    };
    assert_eq!(payload.span, variant.span);
    assert_eq!(model.type_of(payload), &Ty::Tuple(vec![Ty::U64, Ty::U64]));
    assert!(
        matches!(model.type_of(variant), Ty::Named(_)),
        "{:?}",
        model.type_of(variant)
    );
}

/// A spec with no services and the given schedule settings (after a rolling strategy).
fn with_schedule(settings: &str) -> String {
    format!(
        "upgrade t 1 -> 2\nversion 1 {{ }}\nversion 2 {{ }}\nschedule {{\n  rolling {{ batch: 1, max_unavailable: 1 }}\n{settings}\n}}\n"
    )
}

#[test]
fn schedule_timeout_is_compared_with_healthy_for() {
    check(
        &with_schedule("  healthy_for: 90s\n  timeout: 1m"),
        "U0088 7:12 `timeout` (1m) is shorter than `healthy_for` (90s)",
    );
    // Equal is enough; either alone is not compared.
    check(&with_schedule("  healthy_for: 2m\n  timeout: 2m"), "");
    check(&with_schedule("  timeout: 1s"), "");
    check(&with_schedule("  healthy_for: 1h"), "");
}

#[test]
fn schedule_window_is_compared_with_healthy_for() {
    // Across midnight: 23:50 .. 00:10 is 20 minutes.
    check(
        &with_schedule("  window: \"23:50\" .. \"00:10\"\n  healthy_for: 21m"),
        "U0089 6:11 the window (20m) is shorter than one node's upgrade (`healthy_for` 21m)",
    );
    check(
        &with_schedule("  window: \"23:50\" .. \"00:10\"\n  healthy_for: 20m"),
        "",
    );
    // A window from 04:00 to 02:00 is 22 hours long, not negative.
    check(
        &with_schedule("  window: \"04:00\" .. \"02:00\"\n  healthy_for: 3h"),
        "",
    );
    check(&with_schedule("  window: \"02:00\" .. \"02:30\""), "");
}

#[test]
fn an_unread_rule_parameter_is_warned() {
    let v1 = "service S { fn put(k: string, ttl: u64) -> unit }";
    let v2 = "service S { fn put(k: string) -> unit\n fn has(k: string) -> bool }";
    check(
        &spec(v1, v2, "past S { put(k, ttl) = call put(k) }\nfuture S { put(k) = call put(k, 0)\n has(k) = false }"),
        "U0042 9:17 parameter `ttl` of the `past` rule for `put` is never used\n\
         U0042 11:6 parameter `k` of the `future` rule for `has` is never used",
    );
    // `_` opts out; a rule that always refuses needs no argument; a read in a closure counts.
    check(
        &spec(v1, v2, "past S { put(k, _ttl) = call put(k) }\nfuture S { put(k) = call put(\"\", len([1].map(|_i| k)))\n has(k) = disallow \"no\" }"),
        "U0041 11:2 `has` is refused to version 2 callers on version 1 nodes",
    );
}

#[test]
fn a_catch_all_arm_names_the_variants_only_one_version_has() {
    let v1 = "enum E { A, B }\nservice S { fn f() -> E }";
    let v2 = "enum E { A, B, C(u64), D }\nservice S { fn f() -> E }";
    let future = "future S { f() = match call f() { v1::E::A => v2::E::A, v1::E::B => v2::E::B } }";
    check(
        &spec(v1, v2, &format!("past S {{ f() = match call f() {{ v2::E::B => v1::E::B, _ => v1::E::A }} }}\n{future}")),
        "U0073 10:55 `_` also matches `E::C`, `E::D`, which version 1's `E` does not have",
    );
    // A bare name catches all too; variants given their own arm are not swallowed.
    check(
        &spec(v1, v2, &format!("past S {{ f() = match call f() {{ v2::E::C(_) => v1::E::B, e => v1::E::A }} }}\n{future}")),
        "U0073 10:58 this catch-all arm also matches `E::D`, which version 1's `E` does not have",
    );
    check(
        &spec(v1, v2, &format!("past S {{ f() = match call f() {{ v2::E::C(_) => v1::E::B, v2::E::D => v1::E::B, _ => v1::E::A }} }}\n{future}")),
        "",
    );
    // An enum of one version only has nothing to differ from.
    check(
        &spec(
            "service S { fn f() -> u64 }",
            "enum E { A, B }\nservice S { fn f() -> u64\n fn g() -> E }",
            "future S { g() = match E::A { E::A => E::B, _ => E::A } }",
        ),
        "",
    );
}

#[test]
fn null_says_what_to_write_instead() {
    let v1 = "service S { fn f() -> option<u64> }";
    let v2 = "service S { fn f() -> option<u64>\n fn g() -> unit\n fn h() -> bool }";
    check(
        &spec(v1, v2, "future S { g() = null\n h() = null == null }"),
        "U0074 10:18 there is no `null`\nU0074 11:8 there is no `null`\nU0074 11:16 there is no `null`",
    );
    // A binding named `null` is just a name.
    check(
        &spec(
            v1,
            v2,
            "future S { g() = ()\n h() = { let null = true; null } }",
        ),
        "",
    );
}

#[test]
fn a_rule_can_allow_its_own_warnings_by_name() {
    let v1 = "service S { fn f(x: u64) -> u64 }";
    let v2 = "service S { fn f(x: u64) -> u64\n fn g(y: u64) -> u64\n fn h(z: u64) -> u64 }";
    check(
        &spec(v1, v2, "future S {\n#[allow(disallowed_method)] g(y) = disallow \"no\"\n#[allow(unused_rule_parameter, unused_variable)]\nh(z) = { let a = 1; 2 } }"),
        "",
    );
    // Only the rule's own warnings, only warnings, only known names.
    check(
        &spec(v1, v2, "future S {\n#[allow(disallowed_method)] g(y) = disallow \"no\"\nh(z) = disallow \"no\" }"),
        "U0041 12:1 `h` is refused to version 2 callers on version 1 nodes",
    );
    check(
        &spec(
            v1,
            v2,
            "future S {\n#[allow(type_mismatch, disallowed)] g(y) = disallow \"no\"\n#[allow(verify_round_trip)] h(z) = z }",
        ),
        "U0043 11:9 `type_mismatch` is not a warning that can be allowed\n\
         U0043 11:24 `disallowed` is not a warning that can be allowed\n\
         U0041 11:37 `g` is refused to version 2 callers on version 1 nodes\n\
         U0043 12:9 `verify_round_trip` is not a warning that can be allowed",
    );
}

#[test]
fn method_models_are_typed_over_their_versions_state() {
    let v1 = "record Entry { key: string, value: string }\nservice S {\n  fn get(key: string) -> option<string> = get(state.entries, key)\n  fn put(key: string, value: string) -> unit { let e = Entry { key: key, value: value }; state.entries = insert(state.entries, e.key, e.value) }\n  fn bad(key: string) -> u64 { state.entries = key; disallow \"no\" }\n  fn wrong() -> bool = call get(\"a\")\n}\nstate { entries: map<string, string> }";
    let v2 = "record Entry { key: string, value: u64 }\nservice S {\n  fn get(key: string) -> option<string> = some(Entry { key: key, value: 1 }.key)\n  fn put(key: string, value: string) -> unit\n  fn bad(key: string) -> u64\n  fn wrong() -> bool\n}\nstate { entries: map<string, string> }";
    check(
        &spec(v1, v2, ""),
        "U0050 7:48 expected `map<string, string>`, found `string`\nU0038 7:53 `disallow` in a method model\nU0037 8:24 `call` in a method model",
    );
}

#[test]
fn map_literals_take_their_types_from_entries_or_context() {
    let v1 = "service S { fn f() -> map<string, u64> }";
    let v2 = "service S { fn f() -> map<string, i64> }";
    // The expected type flows into `{}` and into each entry's literals.
    check(
        &spec(
            v1,
            v2,
            "past S { f() = {\"a\": 1, \"b\": 18446744073709551615} }\nfuture S { f() = if true { {} } else { {\"a\": -1} } }",
        ),
        "",
    );
    // Entries must agree with the expected type and with each other; keys must be keys.
    check(
        &spec(
            v1,
            v2,
            "past S { f() = {\"a\": -1} }\nfuture S { f() = { let _m = {1.5: 1, 2.5: 2}; {\"a\": 1, 2: 2} } }",
        ),
        "U0066 8:22 `-1` does not fit in `u64`\n\
         U0019 9:30 `f64` cannot be a map key\n\
         U0050 9:56 expected `string`, found `i64`",
    );
}

#[test]
fn a_chain_agrees_on_the_models_of_the_version_it_shares() {
    let a = "upgrade t 1 -> 2\nversion 1 { service S { fn n() -> u64 } state { n: u64 } }\nversion 2 { service S { fn n() -> u64 = state.n } state { n: u64 } }\nschedule { rolling { batch: 1, max_unavailable: 1 } }\n";
    let same = "upgrade t 2 -> 3\nversion 2 { service S { fn n() -> u64 =\n  state.n } state { n: u64 } }\nversion 3 { service S { fn n() -> u64 } state { n: u64 } }\nschedule { rolling { batch: 1, max_unavailable: 1 } }\n";
    assert_eq!(listing(&[a, same]), "");
    let unmodelled = same.replace("=\n  state.n", "");
    assert_eq!(listing(&[a, &unmodelled]), "");
    let other = same.replace("state.n }", "state.n + 1 }");
    let got = listing(&[a, &other]);
    assert_eq!(got, "U0091 2:1 the two specs disagree on version 2");
}

#[test]
fn helper_functions_are_typed_where_they_are_called() {
    let v1 =
        "record Item { v: u64 }\nservice S { fn f(x: u64) -> u64 }\nstate { xs: map<string, u64> }";
    let v2 = "record Item { v: u64 }\nservice S { fn f(x: u64, y: u64) -> u64 }\nstate { xs: map<string, u64> }";
    let rest = "fn double(x: u64) -> u64 = x * 2\n\
                fn total(m: map<string, u64>) -> u64 = sum(values(m)).double()\n\
                fn wrap(i: Item) -> Item = Item { v: double(i.v) }\n\
                invariant (old, new) { total(old.xs) == total(new.xs) }\n\
                transform (old) -> new { xs: map_values(old.xs, |x| wrap(Item { v: x }).v) }\n\
                past S { f(x) = call f(double(x), 1) }\n\
                future S { f(x, y) = call f(double(x) + y) }";
    check(&spec(v1, v2, rest), "");
    // Unknown names suggest the helpers too; arity and argument types are checked.
    check(
        &spec(
            v1,
            v2,
            "fn double(x: u64) -> u64 = x * 2\n\
             past S { f(x) = call f(doubel(x), double(x, x)) }\n\
             future S { f(x, y) = call f(double(\"a\") + y + x) }",
        ),
        "U0055 13:24 unknown function `doubel`\n\
         U0056 13:35 `double` takes 1 argument, found 2\n\
         U0050 14:36 expected `u64`, found `string`",
    );
}

#[test]
fn helper_functions_may_not_recurse_nor_take_taken_names() {
    let v1 = "record Item { v: u64 }\nservice S { fn f(x: u64) -> u64 }";
    let v2 = "record Item { v: string }\nservice S { fn f(x: u64) -> u64 }";
    check(
        &spec(
            v1,
            v2,
            "fn fact(n: u64) -> u64 = if n == 0 { 1 } else { n * fact(n - 1) }\n\
             fn even(n: u64) -> bool = n == 0 || odd(n - 1)\n\
             fn odd(n: u64) -> bool = n != 0 && even(n - 1)\n\
             fn keys(n: u64) -> u64 = n\n\
             fn fine(n: u64) -> u64 = n\n\
             fn fine(n: u64) -> u64 = n\n\
             fn pick(i: Item) -> u64 = call f(1)\n\
             fn v1_item(i: v1::Item) -> u64 = i.v",
        ),
        "U0044 10:53 function `fact` calls itself\n\
         U0044 11:37 function `even` calls itself through `odd`\n\
         U0044 12:36 function `odd` calls itself through `even`\n\
         U0045 13:4 `keys` is a built-in function\n\
         U0045 15:4 function `fine` is defined twice\n\
         U0058 16:12 `Item` means different types in versions 1 and 2\n\
         U0037 16:27 `call` in a function",
    );
}

#[test]
fn a_declared_meaning_change_needs_rules_like_a_changed_signature() {
    let v1 = "record Limit { amount: u64 }\nservice S { fn wait(ms: u64) -> u64\n fn cap() -> Limit }\nstate { timeout: u64 }";
    let v2 = "record Limit { changed amount: u64 }\nservice S { changed fn wait(ms: u64) -> u64\n fn cap() -> Limit }\nstate { changed timeout: u64 }";
    // Same types, but declared changed: rules both ways, and a transform.
    check(
        &spec(v1, v2, ""),
        "U0033 4:16 `S.wait` of version 1 is not answered on upgraded nodes\n\
         U0033 5:5 `S.cap` of version 1 is not answered on upgraded nodes\n\
         U0034 10:24 `S.wait` of version 2 is not answered on old nodes\n\
         U0034 11:5 `S.cap` of version 2 is not answered on old nodes\n\
         U0023 12:1 the state changed in version 2, but there is no transform",
    );
    // The two `Limit`s are two types now, never converted implicitly; rules are not unneeded.
    let rules = "transform (old) -> new { timeout: old.timeout / 1000 }\n\
                 past S { wait(ms) = call wait(ms / 1000) * 1000\n cap() = call cap() }\n\
                 future S { wait(s) = call wait(s * 1000) / 1000\n cap() = { let l = call cap(); v2::Limit { amount: l.amount / 1000 } } }";
    check(
        &spec(v1, v2, rules),
        "U0024 14:1 the transform has no invariant\n\
         U0057 16:10 `Limit` of version 2 is used where `Limit` of version 1 is expected",
    );
    // Marks of the old version are its own upgrade's (a block copied along a chain): ignored.
    check(&spec(v2, v1, ""), "");
}

#[test]
fn a_chain_may_copy_a_version_block_with_its_marks() {
    let a = "upgrade t 1 -> 2\nversion 1 { service S { fn f(x: u64) -> u64 } }\n\
             version 2 { service S { changed fn f(x: u64) -> u64 } }\n\
             past S { f(x) = call f(x * 2) }\nfuture S { f(x) = call f(x / 2) }\n\
             schedule { all_at_once { } }";
    let b = "upgrade t 2 -> 3\nversion 2 { service S { changed fn f(x: u64) -> u64 } }\n\
             version 3 { service S { fn f(x: u64) -> u64 } }\nschedule { all_at_once { } }";
    assert_eq!(listing(&[a, b]), "");
}

#[test]
fn an_unneeded_rule_that_converts_values_points_to_changed() {
    let v = "service S { fn f(x: u64) -> u64\n fn g(x: u64) -> u64 }";
    let mut sources = SourceMap::new();
    sources.add(
        "t.ups",
        spec(
            v,
            v,
            "past S { f(x) = call f(x)\n g(x) = call g(x * 1000) }",
        ),
    );
    let out = check_sources(&sources);
    let helps: Vec<(String, String)> = out
        .diagnostics
        .iter()
        .map(|d| (d.message.clone(), d.help.clone().unwrap_or_default()))
        .collect();
    assert_eq!(helps.len(), 2, "{helps:#?}");
    assert_eq!(helps[0].1, "remove the rule");
    assert!(
        helps[1]
            .1
            .contains("declare it `changed fn g(...)` in version 2")
            && !helps[1].1.starts_with("remove"),
        "{helps:#?}"
    );
}

#[test]
fn a_renamed_method_is_the_old_one_under_a_new_name() {
    let v1 = "service S { fn get(key: string) -> option<string>\n fn put(key: string, v: string) -> unit }";
    let v2 = "service S { fn lookup(key: string) -> option<string> renamed from get\n fn store(key: string, v: string, ttl: u64) -> unit renamed from put }";
    // `get` is unchanged but for its name: no rules; `put` changed: rules under each name.
    check(
        &spec(
            v1,
            v2,
            "past S { put(key, v) = call store(key, v, 0) }\nfuture S { store(key, v, ttl) = if ttl == 0 { call put(key, v) } else { disallow \"ttl\" } }",
        ),
        "",
    );
    check(
        &spec(v1, v2, ""),
        "U0033 4:5 `S.put` of version 1 is not answered on upgraded nodes\n\
         U0034 8:5 `S.store` of version 2 is not answered on old nodes",
    );
    // A rule for the unchanged renamed method is unneeded, under either name.
    check(
        &spec(
            v1,
            v2,
            "past S { get(key) = call lookup(key)\n put(key, v) = call store(key, v, 0) }\nfuture S { lookup(key) = call get(key)\n store(key, v, ttl) = call put(key, v) }",
        ),
        "U0040 10:10 `get` did not change, so this rule is never needed\n\
         U0040 12:12 `lookup` did not change, so this rule is never needed\n\
         U0042 13:16 parameter `ttl` of the `future` rule for `store` is never used",
    );
}

#[test]
fn a_rename_must_name_an_old_method_nothing_else_claims() {
    let v1 = "service S { fn get(key: string) -> string\n fn put(key: string) -> unit }";
    check(
        &spec(
            v1,
            "service S { fn a(key: string) -> string renamed from gett\n fn b(key: string) -> unit renamed from put\n fn c(key: string) -> unit renamed from put\n fn get(key: string) -> string\n fn d(key: string) -> string renamed from get }",
            "",
        ),
        "U0034 7:16 `S.a` of version 2 is not answered on old nodes\n\
         U0046 7:54 version 1 of `S` has no method `gett` to rename\n\
         U0046 9:41 `put` is renamed twice\n\
         U0034 10:5 `S.get` of version 2 is not answered on old nodes\n\
         U0046 11:43 `get` is renamed to `d` but version 2 still declares `get`",
    );
}

#[test]
fn a_rule_passing_a_renamed_call_on_is_plain_forwarding() {
    let mut sources = SourceMap::new();
    sources.add(
        "t.ups",
        spec(
            "service S { fn get(key: string) -> string }",
            "service S { fn lookup(key: string) -> string renamed from get }",
            "past S { get(key) = call lookup(key) }",
        ),
    );
    let out = check_sources(&sources);
    let helps: Vec<String> = out
        .diagnostics
        .iter()
        .map(|d| format!("{} {}", d.code, d.help.clone().unwrap_or_default()))
        .collect();
    assert_eq!(helps, ["U0040 remove the rule"]);
}

#[test]
fn a_renamed_field_is_not_a_dropped_one() {
    let v1 = "record Item { value: string, n: u64 }\nservice S { fn get() -> Item }\nstate { items: list<Item> }";
    let v2 = "record Item { text: string renamed from value, n: u64 }\nservice S { fn get() -> Item }\nstate { entries: list<Item> renamed from items }";
    // `get` needs no rule: its `Item`s convert under the renamed field, in the state too.
    let rules = "transform (old) -> new { entries: old.items }\n\
                 invariant (old, new) { len(old.items) == len(new.entries) }";
    check(&spec(v1, v2, rules), "");
    // Without the rename, `value` is dropped, and `Item` converts no more.
    let plain = v2.replace(" renamed from value", "");
    let explicit =
        "transform (old) -> new { entries: old.items.map(|i| Item { text: i.value, n: i.n }) }\n\
         invariant (old, new) { len(old.items) == len(new.entries) }\n\
         past S { get() = { let i = call get(); v1::Item { value: i.text, n: i.n } } }\n\
         future S { get() = { let i = call get(); v2::Item { text: i.value, n: i.n } } }";
    check(
        &spec(v1, &plain, explicit),
        "U0069 3:15 field `value` of record `Item` is dropped in version 2",
    );
    // A rename names an old field nothing else claims, which the new record does not keep.
    check(
        &spec(
            "record Item { value: string, n: u64 }",
            "record Item { a: string renamed from valeu, b: u64 renamed from n, c: u64 renamed from n, d: string renamed from value, value: string }",
            "",
        ),
        "U0046 6:38 record `Item` of version 1 has no field `valeu` to rename\n\
         U0046 6:88 `n` is renamed twice\n\
         U0046 6:114 `value` is renamed to `d` but record `Item` of version 2 still has `value`",
    );
}

#[test]
fn values_differing_only_by_renamed_fields_convert_implicitly() {
    let v1 = "record Tag { label: string, n: u64 }\nenum Mark { Plain, Tagged(Tag) }\nservice S { fn tags() -> list<Tag>\n fn mark() -> Mark }";
    let v2 = "record Tag { name: string renamed from label, n: u64 }\nenum Mark { Plain, Tagged(Tag) }\nservice S { fn tags(all: bool) -> list<Tag>\n fn mark(x: u64) -> Mark }";
    let rules = "past S { tags() = call tags(true)\n mark() = call mark(0) }\nfuture S { tags(all) = if all { call tags() } else { [] }\n mark(_x) = call mark() }";
    check(&spec(v1, v2, rules), "");
    // A method whose signature differs only by renamed fields needs no rule at all.
    let v2_same = "record Tag { name: string renamed from label, n: u64 }\nenum Mark { Plain, Tagged(Tag) }\nservice S { fn tags() -> list<Tag>\n fn mark() -> Mark }";
    check(&spec(v1, v2_same, ""), "");
    // Anything else changed as well, and the conversion is the author's again.
    let v2_more = "record Tag { name: string renamed from label, n: i64 }\nenum Mark { Plain, Tagged(Tag) }\nservice S { fn tags(all: bool) -> list<Tag>\n fn mark(x: u64) -> Mark }";
    check(
        &spec(v1, v2_more, rules),
        "U0057 14:19 `Tag` of version 2 is used where `Tag` of version 1 is expected\n\
         U0057 15:11 `Mark` of version 2 is used where `Mark` of version 1 is expected\n\
         U0057 16:31 `Tag` of version 1 is used where `Tag` of version 2 is expected\n\
         U0057 17:13 `Mark` of version 1 is used where `Mark` of version 2 is expected",
    );
}

/// The code a help tells the user to write names keywords with `r#`, as a spec must.
#[test]
fn helps_write_keyword_names_escaped() {
    let text = spec(
        "service S { fn r#in(r#let: string) -> u64 = 1 }\nstate { a: u64 }",
        "service S {\n  changed fn r#in(r#let: string) -> u64\n  fn r#match(r#exists: string) -> u64\n  fn r#fn() -> u64 renamed from r#in\n}\nstate { a: u64 }",
        "",
    );
    let mut sources = SourceMap::new();
    sources.add("helps.ups", text.clone());
    let helps: Vec<String> = check_sources(&sources)
        .diagnostics
        .into_iter()
        .filter_map(|d| d.help)
        .collect();
    for wanted in [
        "`past S { r#in(r#let) = ... }`",
        "`future S { r#match(r#exists) = disallow \"match needs version 2\" }`",
        "remove `renamed from r#in`",
    ] {
        assert!(
            helps.iter().any(|h| h.contains(wanted)),
            "no help with {wanted}: {helps:#?}"
        );
    }
    // An unneeded converting rule of a renamed keyword method: declare the new version's
    // method changed, under its name there.
    let text = spec(
        "service S { fn r#in(x: u64) -> u64 }",
        "service S { fn r#fn(x: u64) -> u64 renamed from r#in }",
        "past S { r#in(x) = call r#fn(x) + 1 }",
    );
    let mut sources = SourceMap::new();
    sources.add("unneeded.ups", text);
    let helps: Vec<String> = check_sources(&sources)
        .diagnostics
        .into_iter()
        .filter_map(|d| d.help)
        .collect();
    assert!(
        helps
            .iter()
            .any(|h| h.contains("`changed fn r#fn(...)` in version 2")),
        "{helps:#?}"
    );
    // A model assigning a misspelt state field, and one of a version without state.
    let text = spec(
        "service S { fn f() -> unit { state.r#matc = 1 } }\nstate { r#match: u64 }",
        "service S { fn f() -> unit }\nstate { r#match: u64 }",
        "",
    );
    let mut sources = SourceMap::new();
    sources.add("typo.ups", text);
    let helps: Vec<String> = check_sources(&sources)
        .diagnostics
        .into_iter()
        .filter_map(|d| d.help)
        .collect();
    assert!(
        helps.iter().any(|h| h == "did you mean `r#match`?"),
        "{helps:#?}"
    );

    let text = spec(
        "service S { fn f() -> unit { state.r#match = 1 } }",
        "service S { fn f() -> unit }",
        "",
    );
    let mut sources = SourceMap::new();
    sources.add("model.ups", text);
    let helps: Vec<String> = check_sources(&sources)
        .diagnostics
        .into_iter()
        .filter_map(|d| d.help)
        .collect();
    assert!(
        helps.iter().any(|h| h.contains("`state { r#match: ... }`")),
        "{helps:#?}"
    );
}
