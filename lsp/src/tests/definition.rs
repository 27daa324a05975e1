//! Go to definition on fixtures: the lines the name under `$0` is declared on.

use super::{analysis, line_of};
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

const SPEC: &str = r#"upgrade kv 1 -> 2
version 1 {
  service Kv {
    fn get(key: string) -> option<string>
    fn put(key: string, value: string) -> unit
  }
  state { entries: map<string, string> }
}
version 2 {
  record Item { value: string, expires_at: option<u64> }
  service Kv {
    fn get(key: string) -> option<Item>
    fn put(key: string, value: string, ttl_ms: option<u64>) -> unit
    fn delete(key: string) -> bool
  }
  state { items: map<string, Item> }
}
invariant (old, new) {
  keys(old.entries) == keys(new.items)
  forall k in keys(old.entries): old.entries[k] == new.items[k].value
}
transform (old) -> new {
  items: map_values(old.entries, |v| Item { value: v, expires_at: none })
}
transform (new) -> old {
  entries: map_values(new.items, |i| i.value)
}
past Kv {
  get(key) = (call get(key)).map(|i| i.value)
  put(key, value) = call put(key, value, none)
}
future Kv {
  get(key) = (call get(key)).map(|v| Item { value: v, expires_at: none })
  put(key, value, ttl_ms) = call put(key, value)
  delete(key) = disallow "delete needs version 2"
}
"#;

fn mark(at: &str) -> String {
    let plain = at.replacen('^', "", 1);
    assert!(SPEC.contains(&plain), "{plain:?} is not in the fixture");
    SPEC.replacen(&plain, &at.replacen('^', "$0", 1), 1)
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
        expect!["entries: state { entries: map<string, string> }"],
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
        expect!["entries: state { entries: map<string, string> }"],
    );
}
