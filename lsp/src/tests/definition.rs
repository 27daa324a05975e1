//! Go to definition on fixtures: the lines the name under `$0` is declared on.

use super::{analysis, line_of, mark};
use crate::definition::definition;
use expect_test::{expect, Expect};

fn check(fixture: &str, expect: Expect) {
    let (a, offset) = analysis(fixture);
    let lines: Vec<String> = definition(&a, offset)
        .into_iter()
        .map(|span| format!("{}: {}", &a.text[span.start..span.end], line_of(&a, span)))
        .collect();
    expect.assert_eq(&lines.join("\n"));
}

#[test]
fn types_methods_variables_and_fields() {
    // A record literal in the transform goes to version 2's record.
    check(
        &mark("|v| I^tem { value: v"),
        expect!["Item: record Item { value: string, expires_at: option<u64> }"],
    );
    // A past rule's method goes to version 1's method; `call` in it to version 2's.
    check(
        &mark("  p^ut(key, value) = call"),
        expect!["put: fn put(key: string, value: string) -> unit"],
    );
    check(
        &mark("call p^ut(key, value, none)"),
        expect!["put: fn put(key: string, value: string, ttl_ms: option<u64>) -> unit"],
    );
    // A future rule's method goes to version 2's.
    check(
        &mark("d^elete(key) = disallow"),
        expect!["delete: fn delete(key: string) -> bool"],
    );
    // A rule's parameter; a field read; a state field.
    check(
        &mark("(call get(k^ey)).map(|i| i.value)"),
        expect!["key: get(key) = (call get(key)).map(|i| i.value)"],
    );
    check(
        &mark("new.items[k].va^lue"),
        expect!["value: record Item { value: string, expires_at: option<u64> }"],
    );
    check(
        &mark("keys(old.ent^ries) =="),
        expect!["entries: state { entries: map<string, string>, log: list<Entry> }"],
    );
    // A method's declaration goes to the rule answering it.
    check(
        &mark("fn de^lete"),
        expect![[r#"delete: delete(key) = disallow "delete needs version 2""#]],
    );
}

#[test]
fn the_reverse_transform_reads_the_new_state_and_assigns_the_old() {
    // `new.items` in its body goes to version 2's state field; the field assigned is version 1's.
    check(
        &mark("map_values(new.it^ems, |i|"),
        expect!["items: state { items: map<string, Item> }"],
    );
    check(
        &mark("  e^ntries: map_values(new.items"),
        expect!["entries: state { entries: map<string, string>, log: list<Entry> }"],
    );
}

#[test]
fn a_helper_function_call_goes_to_its_definition() {
    let fixture = super::NEW_SYNTAX.replacen("twice(m) }", "tw$0ice(m) }", 1);
    check(
        &fixture,
        expect![
            "twice: fn twice(m: map<string, u64>) -> map<string, u64> = map_values(m, |v| v * 2)"
        ],
    );
}

/// Version 1's `get` is version 2's `fetch`.
const RENAMED: &str = r#"upgrade kv 1 -> 2
version 1 {
  service Kv {
    fn get(key: string) -> option<string>
    fn find(key: string) -> option<string>
  }
}
version 2 {
  service Kv {
    fn fetch(key: string) -> option<string> renamed from get
    fn find(key: string) -> option<string>
  }
}
"#;

#[test]
fn a_renamed_method_s_declaration_goes_to_its_counterpart() {
    let at = |from: &str, to: &str| RENAMED.replacen(from, to, 1);
    check(
        &at("fn fetch", "fn fe$0tch"),
        expect!["get: fn get(key: string) -> option<string>"],
    );
    check(
        &at("fn get(key", "fn g$0et(key"),
        expect!["fetch: fn fetch(key: string) -> option<string> renamed from get"],
    );
    check(
        &at("fn find", "fn fi$0nd"),
        expect!["find: fn find(key: string) -> option<string>"],
    );
}

#[test]
fn renamed_from_goes_to_the_old_version_s_method() {
    check(
        &RENAMED.replacen("renamed from get", "renamed from g$0et", 1),
        expect!["get: fn get(key: string) -> option<string>"],
    );
}
