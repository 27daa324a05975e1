//! Hover on fixtures: what the name under `$0` is.

use super::{analysis, mark};
use crate::hover::hover;
use expect_test::{expect, Expect};
use lsp_types::HoverContents;

fn check(fixture: &str, expect: Expect) {
    let (a, offset) = analysis(fixture);
    let actual = match hover(&a, offset).map(|h| h.contents) {
        Some(HoverContents::Markup(m)) => m.value,
        other => format!("no markdown hover: {other:?}"),
    };
    expect.assert_eq(&actual);
}

#[test]
fn a_type_shows_its_record_in_its_version() {
    check(
        &mark("map<string, It^em>"),
        expect![[r#"
        ```ups
        record Item {
          value: string,
          expires_at: option<u64>,
        }
        ```

        version 2; version 1 has no `Item`"#]],
    );
    check(
        &mark("log: list<En^try> }"),
        expect![[r#"
        ```ups
        record Entry {
          key: string,
          value: string,
        }
        ```

        version 1; version 2 has no `Entry`"#]],
    );
}

#[test]
fn a_method_shows_both_versions() {
    check(
        &mark("  p^ut(key, value) = call"),
        expect![[r#"
        **`Kv.put`**

        ```ups
        // version 1
        fn put(key: string, value: string) -> unit
        // version 2
        fn put(key: string, value: string, ttl_ms: option<u64>) -> unit
        ```

        a `past` rule: answers version-1 callers on version-2 nodes"#]],
    );
    // `delete` exists only in version 2.
    check(
        &mark("fn de^lete"),
        expect![[r#"
        **`Kv.delete`**

        ```ups
        // version 1: no `Kv.delete`
        // version 2
        fn delete(key: string) -> bool
        ```"#]],
    );
}

#[test]
fn variables_fields_and_builtins() {
    check(
        &mark("old.entries[k^]"),
        expect![[r#"
        ```ups
        k: string
        ```"#]],
    );
    check(
        &mark("new.items[k].va^lue"),
        expect![[r#"
        ```ups
        value: string
        ```

        field of `Item` (version 2)"#]],
    );
    check(
        &mark("ma^p_values(old"),
        expect![[r#"
        ```ups
        map_values(m: map<K, V>, f: |V| W) -> map<K, W>
        ```

        built-in: applies `f` to every value; `x.map_values(...)` is `map_values(x, ...)`

        here: `map<string, Item>`"#]],
    );
    // A closure parameter: the type of its uses.
    check(
        &mark("|i^| i.value"),
        expect![[r#"
        ```ups
        i: Item
        ```"#]],
    );
}

#[test]
fn the_reverse_transform_reads_the_new_state_and_assigns_the_old() {
    // `new` in `transform (new) -> old` is version 2's state; `old` is version 1's.
    check(
        &mark("transform (n^ew) -> old"),
        expect![[r#"
        ```ups
        new: state of version 2
        ```"#]],
    );
    check(
        &mark("transform (new) -> o^ld"),
        expect![[r#"
        ```ups
        old: state of version 1
        ```"#]],
    );
}

#[test]
fn a_name_in_a_rule_allow_shows_its_warning() {
    check(
        &super::with_delete_attribute("#[allow(disallowed_me$0thod)]"),
        expect![[r#"
        warning `disallowed_method` (U0041): a method is always refused to callers of the other version

        allowed for this rule: not reported for it"#]],
    );
}

/// A spec whose version-1 `put` has the model `{ body }`.
fn with_model(body: &str) -> String {
    format!(
        "upgrade kv 1 -> 2\nversion 1 {{\n  service Kv {{\n    fn put(key: string, value: string) -> unit {{ {body} }}\n  }}\n  state {{ entries: map<string, string> }}\n}}\nversion 2 {{\n  service Kv {{ fn put(key: string, value: string) -> unit }}\n  state {{ entries: map<string, string> }}\n}}\n"
    )
}

#[test]
fn names_in_a_method_model() {
    check(
        &with_model("state.entries = insert(st$0ate.entries, key, value)"),
        expect![[r#"
            ```ups
            state: state of version 1
            ```"#]],
    );
    check(
        &with_model("state.entr$0ies = insert(state.entries, key, value)"),
        expect![[r#"
            ```ups
            entries: map<string, string>
            ```

            persistent state of version 1"#]],
    );
    check(
        &with_model("let k = ke$0y; state.entries = insert(state.entries, k, value)"),
        expect![[r#"
            ```ups
            key: string
            ```"#]],
    );
}

#[test]
fn a_helper_function_shows_its_signature() {
    let fixture = super::NEW_SYNTAX.replacen("twice({", "tw$0ice({", 1);
    check(
        &fixture,
        expect![[r#"
        ```ups
        fn twice(m: map<string, u64>) -> map<string, u64>
        ```

        helper function of this spec

        here: `map<string, u64>`"#]],
    );
}

/// A renamed method shows both versions' signatures, each under its own name; `renamed from`
/// names the old version's method.
#[test]
fn a_renamed_method_shows_its_counterpart() {
    let text = "upgrade kv 1 -> 2\nversion 1 {\n  service Kv {\n    fn get(key: string) -> option<string>\n  }\n}\nversion 2 {\n  service Kv {\n    fn lookup(key: string) -> option<string> renamed from get\n  }\n}\n";
    check(
        &text.replacen("fn lookup", "fn look$0up", 1),
        expect![[r#"
            **`Kv.lookup`**

            ```ups
            // version 1
            fn get(key: string) -> option<string>
            // version 2
            fn lookup(key: string) -> option<string>
            ```"#]],
    );
    check(
        &text.replacen("renamed from get", "renamed from g$0et", 1),
        expect![[r#"
            **`Kv.get`**

            ```ups
            // version 1
            fn get(key: string) -> option<string>
            // version 2
            fn lookup(key: string) -> option<string>
            ```

            version 1's name for this method"#]],
    );
}

/// A spec whose version-1 state has the `where` clause `clause`.
fn with_clause(clause: &str) -> String {
    format!(
        "upgrade kv 1 -> 2\nversion 1 {{\n  service Kv {{ fn put(key: string, value: string) -> unit }}\n  state {{ entries: map<string, string> }} where {{ {clause} }}\n}}\nversion 2 {{\n  service Kv {{ fn put(key: string, value: string) -> unit }}\n  state {{ entries: map<string, string> }}\n}}\n"
    )
}

#[test]
fn names_in_a_state_where_clause() {
    check(
        &with_clause("forall k in keys(st$0ate.entries): state.entries[k] != \"\""),
        expect![[r#"
            ```ups
            state: state of version 1
            ```"#]],
    );
    check(
        &with_clause("forall k in keys(state.entries): state.entries[k$0] != \"\""),
        expect![[r#"
            ```ups
            k: string
            ```"#]],
    );
}

#[test]
fn a_name_in_a_rule_differs_shows_what_it_means() {
    check(
        &super::with_delete_attribute("#[differs(val$0ue)]"),
        expect![[
            r#"record field `value`: this rule's answer may differ from the model's in it; `upstartc verify` compares the rest"#
        ]],
    );
}
