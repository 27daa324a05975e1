//! Rules between versions: which changes need rules, what rules may call, and their warnings.

use super::{check, spec};
use crate::check::check_text;

check_tests! {
    unchanged_methods_need_no_rules {
        "service S { fn f(x: u64) -> u64 }",
        "service S { fn f(x: u64) -> u64 }",
        ""
            => "";
    }

    a_changed_method_needs_rules_both_ways {
        "service S { fn f(x: u64) -> u64 }",
        "service S { fn f(x: u64, y: bool) -> u64 }",
        ""
            => "U0033 3:16 `S.f` of version 1 is not answered on upgraded nodes\n\
                U0034 6:16 `S.f` of version 2 is not answered on old nodes";
    }

    past_rules_call_the_new_interface {
        "service S { fn f(x: u64) -> u64 }",
        "service S { fn f(x: u64, y: bool) -> u64 }",
        "past S { f(x) = call f(x, true) }\nfuture S { f(x, y) = if y { call f(x) } else { disallow \"no\" } }"
            => "";
    }

    call_reaches_only_the_other_version {
        "service S { fn f(x: u64) -> u64\n fn old_only() -> u64 }",
        "service S { fn f(x: u64, y: bool) -> u64 }",
        "past S { f(_x) = call old_only()\n old_only() = 1 }\nfuture S { f(x, _y) = call f(x) }"
            => "U0035 9:23 version 2 of `S` has no method `old_only`";
    }

    an_unread_rule_parameter_is_warned {
        let v1 = "service S { fn put(k: string, ttl: u64) -> unit }";
        let v2 = "service S { fn put(k: string) -> unit\n fn has(k: string) -> bool }";
        v1,
        v2,
        "past S { put(k, ttl) = call put(k) }\nfuture S { put(k) = call put(k, 0)\n has(k) = false }"
            => "U0042 9:17 parameter `ttl` of the `past` rule for `put` is never used\n\
                U0042 11:6 parameter `k` of the `future` rule for `has` is never used";
        // `_` opts out; a rule that always refuses needs no argument; a read in a closure counts.
        v1,
        v2,
        "past S { put(k, _ttl) = call put(k) }\nfuture S { put(k) = call put(\"\", len([1].map(|_i| k)))\n has(k) = disallow \"no\" }"
            => "U0041 11:2 `has` is refused to version 2 callers on version 1 nodes";
    }

    a_rule_can_allow_its_own_warnings_by_name {
        let v1 = "service S { fn f(x: u64) -> u64 }";
        let v2 = "service S { fn f(x: u64) -> u64\n fn g(y: u64) -> u64\n fn h(z: u64) -> u64 }";
        v1,
        v2,
        "future S {\n#[allow(disallowed_method)] g(y) = disallow \"no\"\n#[allow(unused_rule_parameter, unused_variable)]\nh(z) = { let a = 1; 2 } }"
            => "";
        // Only the rule's own warnings, only warnings, only known names.
        v1,
        v2,
        "future S {\n#[allow(disallowed_method)] g(y) = disallow \"no\"\nh(z) = disallow \"no\" }"
            => "U0041 12:1 `h` is refused to version 2 callers on version 1 nodes";
        v1,
        v2,
        "future S {\n#[allow(type_mismatch, disallowed)] g(y) = disallow \"no\"\n#[allow(verify_round_trip)] h(z) = z }"
            => "U0043 11:9 `type_mismatch` is not a warning that can be allowed\n\
                U0043 11:24 `disallowed` is not a warning that can be allowed\n\
                U0041 11:37 `g` is refused to version 2 callers on version 1 nodes\n\
                U0043 12:9 `verify_round_trip` is not a warning that can be allowed";
    }
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
fn an_unneeded_rule_that_converts_values_points_to_changed() {
    let v = "service S { fn f(x: u64) -> u64\n fn g(x: u64) -> u64 }";
    let out = check_text(spec(
        v,
        v,
        "past S { f(x) = call f(x)\n g(x) = call g(x * 1000) }",
    ));
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
