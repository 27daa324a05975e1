//! Helps that tell the user what to write: instead of `null`, keywords escaped with `r#`.

use super::{helps, spec};

check_tests! {
    null_says_what_to_write_instead {
        let v1 = "service S { fn f() -> option<u64> }";
        let v2 = "service S { fn f() -> option<u64>\n fn g() -> unit\n fn h() -> bool }";
        v1,
        v2,
        "future S { g() = null\n h() = null == null }"
            => "U0074 10:18 there is no `null`\nU0074 11:8 there is no `null`\nU0074 11:16 there is no `null`";
        // A binding named `null` is just a name.
        v1,
        v2,
        "future S { g() = ()\n h() = { let null = true; null } }"
            => "";
    }
}

/// The code a help tells the user to write names keywords with `r#`, as a spec must.
#[test]
fn helps_write_keyword_names_escaped() {
    let text = spec(
        "service S { fn r#in(r#let: string) -> u64 = 1 }\nstate { a: u64 }",
        "service S {\n  changed fn r#in(r#let: string) -> u64\n  fn r#match(r#exists: string) -> u64\n  fn r#fn() -> u64 renamed from r#in\n}\nstate { a: u64 }",
        "",
    );
    let got = helps(&text);
    for wanted in [
        "`past S { r#in(r#let) = ... }`",
        "`future S { r#match(r#exists) = disallow \"match needs version 2\" }`",
        "remove `renamed from r#in`",
    ] {
        assert!(
            got.iter().any(|h| h.contains(wanted)),
            "no help with {wanted}: {got:#?}"
        );
    }
    // An unneeded converting rule of a renamed keyword method: declare the new version's
    // method changed, under its name there.
    let text = spec(
        "service S { fn r#in(x: u64) -> u64 }",
        "service S { fn r#fn(x: u64) -> u64 renamed from r#in }",
        "past S { r#in(x) = call r#fn(x) + 1 }",
    );
    let got = helps(&text);
    assert!(
        got.iter()
            .any(|h| h.contains("`changed fn r#fn(...)` in version 2")),
        "{got:#?}"
    );
    // A model assigning a misspelt state field, and one of a version without state.
    let text = spec(
        "service S { fn f() -> unit { state.r#matc = 1 } }\nstate { r#match: u64 }",
        "service S { fn f() -> unit }\nstate { r#match: u64 }",
        "",
    );
    let got = helps(&text);
    assert!(
        got.iter().any(|h| h == "did you mean `r#match`?"),
        "{got:#?}"
    );

    let text = spec(
        "service S { fn f() -> unit { state.r#match = 1 } }",
        "service S { fn f() -> unit }",
        "",
    );
    let got = helps(&text);
    assert!(
        got.iter().any(|h| h.contains("`state { r#match: ... }`")),
        "{got:#?}"
    );
}
