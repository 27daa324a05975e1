//! Renamed methods and fields: the old item under a new name, not a removal.

use super::{check, spec};
use crate::check::check_text;

check_tests! {
    a_renamed_method_is_the_old_one_under_a_new_name {
        let v1 = "service S { fn get(key: string) -> option<string>\n fn put(key: string, v: string) -> unit }";
        let v2 = "service S { fn lookup(key: string) -> option<string> renamed from get\n fn store(key: string, v: string, ttl: u64) -> unit renamed from put }";
        // `get` is unchanged but for its name: no rules; `put` changed: rules under each name.
        v1,
        v2,
        "past S { put(key, v) = call store(key, v, 0) }\nfuture S { store(key, v, ttl) = if ttl == 0 { call put(key, v) } else { disallow \"ttl\" } }"
            => "";
        v1,
        v2,
        ""
            => "U0033 4:5 `S.put` of version 1 is not answered on upgraded nodes\n\
                U0034 8:5 `S.store` of version 2 is not answered on old nodes";
        // A rule for the unchanged renamed method is unneeded, under either name.
        v1,
        v2,
        "past S { get(key) = call lookup(key)\n put(key, v) = call store(key, v, 0) }\nfuture S { lookup(key) = call get(key)\n store(key, v, ttl) = call put(key, v) }"
            => "U0040 10:10 `get` did not change, so this rule is never needed\n\
                U0040 12:12 `lookup` did not change, so this rule is never needed\n\
                U0042 13:16 parameter `ttl` of the `future` rule for `store` is never used";
    }

    a_rename_must_name_an_old_method_nothing_else_claims {
        let v1 = "service S { fn get(key: string) -> string\n fn put(key: string) -> unit }";
        v1,
        "service S { fn a(key: string) -> string renamed from gett\n fn b(key: string) -> unit renamed from put\n fn c(key: string) -> unit renamed from put\n fn get(key: string) -> string\n fn d(key: string) -> string renamed from get }",
        ""
            => "U0034 7:16 `S.a` of version 2 is not answered on old nodes\n\
                U0046 7:54 version 1 of `S` has no method `gett` to rename\n\
                U0046 9:41 `put` is renamed twice\n\
                U0034 10:5 `S.get` of version 2 is not answered on old nodes\n\
                U0046 11:43 `get` is renamed to `d` but version 2 still declares `get`";
    }
}

#[test]
fn a_rule_passing_a_renamed_call_on_is_plain_forwarding() {
    let out = check_text(spec(
        "service S { fn get(key: string) -> string }",
        "service S { fn lookup(key: string) -> string renamed from get }",
        "past S { get(key) = call lookup(key) }",
    ));
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
