//! Expression typing: records across versions, literals typed from context, matches.

use super::spec;
use crate::check::check_text;

check_tests! {
    changed_records_are_never_converted_implicitly {
        "record R { a: u64 }\nservice S { fn f() -> R }",
        "record R { a: u64, b: bool }\nservice S { fn f() -> R }",
        "past S { f() = call f() }\nfuture S { f() = (call f()) }"
            => "U0057 10:16 `R` of version 2 is used where `R` of version 1 is expected\n\
                U0057 11:18 `R` of version 1 is used where `R` of version 2 is expected";
    }

    unchanged_records_cross_versions_freely {
        "record R { a: u64 }\nservice S { fn f(k: string) -> option<R> }",
        "record R { a: u64 }\nservice S { fn f(k: string) -> option<R>\n fn g() -> R }",
        "future S { g() = R { a: 1 } }"
            => "";
    }

    expected_types_pick_the_version_of_a_record_literal {
        "record R { a: u64 }\nservice S { fn f() -> R }",
        "record R { a: u64, b: bool }\nservice S { fn f() -> R }",
        "past S { f() = R { a: (call f()).a } }\nfuture S { f() = R { a: (call f()).a, b: false } }"
            => "";
    }

    ambiguous_record_names_must_be_qualified {
        "record R { a: u64 }\nstate { n: u64 }",
        "record R { a: u64, b: bool }\nstate { n: u64 }",
        "invariant (old, new) { let r = R { a: 1 }; r.a == old.n }"
            => "U0058 10:32 `R` means different types in versions 1 and 2";
    }

    literals_take_their_type_from_context {
        "service S { fn f(x: u64) -> u64 }",
        "service S { fn f(x: i64) -> i64 }",
        "past S { f(x) = u64(call f(i64(x) + 1)) }\nfuture S { f(x) = if x < 0 { -1 } else { i64(call f(u64(x))) } }"
            => "";
        "service S { fn f(x: u64) -> u64 }",
        "service S { fn f(x: i64) -> u64 }",
        "past S { f(_x) = call f(18446744073709551615) }\nfuture S { f(_x) = call f(-1) }"
            => "U0066 8:25 `18446744073709551615` does not fit in `i64`\nU0066 9:27 `-1` does not fit in `u64`";
    }

    matches_must_be_exhaustive_and_arms_reachable {
        let v = "enum E { A, B(u64), C }\nservice S { fn f(e: E) -> u64 }";
        let w = "enum E { A, B(u64), C }\nservice S { fn f(e: E) -> u64\n fn g() -> u64 }";
        v,
        w,
        "future S { g() = match E::A { A => 1, B(n) => n } }"
            => "U0060 11:18 `match` does not cover `C`";
        v,
        w,
        "future S { g() = match E::A { _ => 1, A => 2 } }"
            => "U0064 11:39 this arm is never chosen";
    }

    a_catch_all_arm_names_the_variants_only_one_version_has {
        let v1 = "enum E { A, B }\nservice S { fn f() -> E }";
        let v2 = "enum E { A, B, C(u64), D }\nservice S { fn f() -> E }";
        let future = "future S { f() = match call f() { v1::E::A => v2::E::A, v1::E::B => v2::E::B } }";
        v1,
        v2,
        &format!("past S {{ f() = match call f() {{ v2::E::B => v1::E::B, _ => v1::E::A }} }}\n{future}")
            => "U0073 10:55 `_` also matches `E::C`, `E::D`, which version 1's `E` does not have";
        // A bare name catches all too; variants given their own arm are not swallowed.
        v1,
        v2,
        &format!("past S {{ f() = match call f() {{ v2::E::C(_) => v1::E::B, e => v1::E::A }} }}\n{future}")
            => "U0073 10:58 this catch-all arm also matches `E::D`, which version 1's `E` does not have";
        v1,
        v2,
        &format!("past S {{ f() = match call f() {{ v2::E::C(_) => v1::E::B, v2::E::D => v1::E::B, _ => v1::E::A }} }}\n{future}")
            => "";
        // An enum of one version only has nothing to differ from.
        "service S { fn f() -> u64 }",
        "enum E { A, B }\nservice S { fn f() -> u64\n fn g() -> E }",
        "future S { g() = match E::A { E::A => E::B, _ => E::A } }"
            => "";
    }

    map_literals_take_their_types_from_entries_or_context {
        let v1 = "service S { fn f() -> map<string, u64> }";
        let v2 = "service S { fn f() -> map<string, i64> }";
        // The expected type flows into `{}` and into each entry's literals.
        v1,
        v2,
        "past S { f() = {\"a\": 1, \"b\": 18446744073709551615} }\nfuture S { f() = if true { {} } else { {\"a\": -1} } }"
            => "";
        // Entries must agree with the expected type and with each other; keys must be keys.
        v1,
        v2,
        "past S { f() = {\"a\": -1} }\nfuture S { f() = { let _m = {1.5: 1, 2.5: 2}; {\"a\": 1, 2: 2} } }"
            => "U0066 8:22 `-1` does not fit in `u64`\n\
                U0019 9:30 `f64` cannot be a map key\n\
                U0050 9:56 expected `string`, found `i64`";
    }
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
    let out = check_text(text);
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

/// A variant written with a payload it does not carry, or without the one it carries, in an
/// expression and in a pattern: one message for both, the label and help of each site.
#[test]
fn payload_mismatches_in_expressions_and_patterns() {
    let text = spec(
        "enum E { A, B(u64) }\nservice S { fn f(e: E) -> u64 }",
        "enum E { A, B(u64) }\nservice S { fn f(e: E) -> u64\n fn g() -> u64 }",
        "future S { g() = match E::A(1) { A(_) => 1, B => 0 } + match E::B { _ => 0 } }",
    );
    let got: Vec<String> = check_text(text)
        .diagnostics
        .iter()
        .map(|d| {
            let help = d.help.as_deref().unwrap_or("");
            format!("{} {} | {} | {help}", d.code, d.message, d.primary.message)
        })
        .collect();
    assert_eq!(
        got,
        [
            "U0071 variant `E::A` carries no payload | unexpected payload | write `E::A`",
            "U0071 variant `E::A` carries no payload | nothing to match here | write `A`",
            "U0071 variant `E::B` carries a `u64` | payload not matched | write `B(_)` to ignore it",
            "U0071 variant `E::B` carries a `u64` | payload missing | write `E::B(...)`",
        ]
    );
}
