//! Tests of the language server's pure parts, without a client: hover, definition and
//! completion on fixtures, small specs with a cursor marker `$0` and inline expectations
//! (`expect-test`; `UPDATE_EXPECT=1 cargo test -p upstart-lsp` rewrites them in place, as
//! rust-analyzer's tests do), and quick fixes.

mod completion;
mod definition;
mod hover;

use super::actions::{fixes, Fix};
use super::analysis::Analysis;
use super::completion::completion;
use super::definition::definition;
use super::hover::hover;
use lang::diagnostic::{codes, Code, Diagnostic};
use lang::span::Span;

fn kv() -> String {
    upstart_test_support::spec("kv/kv-1-2.ups")
}

/// The analysis of a fixture and the cursor's offset in it.
fn analysis(fixture: &str) -> (Analysis, usize) {
    let (text, offset) = upstart_test_support::cursor(fixture);
    (Analysis::of(&text), offset)
}

/// The first diagnostic of `a` with this code whose message contains `what`.
fn first<'a>(a: &'a Analysis, code: Code, what: &str) -> &'a Diagnostic {
    a.diagnostics
        .iter()
        .find(|d| d.code == code && d.message.contains(what))
        .unwrap_or_else(|| panic!("no {code} with `{what}`: {:?}", a.diagnostics))
}

/// The preferred fix for the diagnostics at `range`.
fn preferred_fix(a: &Analysis, range: Span) -> Fix {
    fixes(a, range)
        .into_iter()
        .find(|f| f.preferred)
        .expect("a preferred fix")
}

/// `text` with `fix`'s edits made, and its analysis, which must parse.
fn apply(text: &str, fix: &Fix) -> (String, Analysis) {
    let mut fixed = text.to_string();
    for (span, new) in fix.edits.iter().rev() {
        fixed.replace_range(span.start..span.end, new);
    }
    let after = Analysis::of(&fixed);
    assert!(after.syntax_ok, "{}:\n{fixed}", fix.title);
    (fixed, after)
}

/// Two versions of a key-value store: the fixture of the hover and definition tests, the cursor
/// put in by [`mark`].
pub(super) const KV: &str = r#"upgrade kv 1 -> 2
version 1 {
  record Entry { key: string, value: string }
  service Kv {
    fn get(key: string) -> option<string>
    fn put(key: string, value: string) -> unit
  }
  state { entries: map<string, string>, log: list<Entry> }
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
  entries: map_values(new.items, |i| i.value),
  log: []
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

/// `KV` with `$0` put in place of the first `^` of `at` (`at` without `^` must occur in KV).
pub(super) fn mark(at: &str) -> String {
    let plain = at.replacen('^', "", 1);
    let with = at.replacen('^', "$0", 1);
    assert!(KV.contains(&plain), "{plain:?} is not in the fixture");
    KV.replacen(&plain, &with, 1)
}

/// `KV` with the attribute `attr` (`#[allow(...)]`, `#[differs(...)]`) on its `delete` rule.
pub(super) fn with_delete_attribute(attr: &str) -> String {
    let rule = "  delete(key) = disallow";
    assert!(KV.contains(rule), "{rule:?} is not in the fixture");
    KV.replacen(rule, &format!("  {attr} delete(key) = disallow"), 1)
}

/// The trimmed line of `a`'s text holding `span`'s start.
fn line_of(a: &Analysis, span: Span) -> String {
    let start = a.text[..span.start].rfind('\n').map_or(0, |p| p + 1);
    let end = a.text[span.start..]
        .find('\n')
        .map_or(a.text.len(), |p| span.start + p);
    a.text[start..end].trim().to_string()
}

#[test]
fn quick_fix_for_a_missing_rule_adds_one_that_checks() {
    let text = kv().replace("  delete(key) = disallow \"delete needs version 2\"\n", "");
    let a = Analysis::of(&text);
    let d = first(&a, codes::MISSING_FUTURE_RULE, "");
    let all = fixes(&a, d.primary.span);
    assert!(!all.is_empty());
    for fix in all {
        let (fixed, after) = apply(&text, &fix);
        assert!(
            !after
                .diagnostics
                .iter()
                .any(|x| x.code == codes::MISSING_FUTURE_RULE),
            "{}:\n{fixed}",
            fix.title
        );
    }
}

#[test]
fn quick_fix_creates_a_missing_rule_block() {
    let a = Analysis::of(&upstart_test_support::spec(
        "ui/U0033-missing_past_rule.ups",
    ));
    let d = first(&a, codes::MISSING_PAST_RULE, "");
    let skeleton = preferred_fix(&a, Span::new(d.primary.span.start, d.primary.span.start));
    assert!(skeleton.title.contains("past"), "{}", skeleton.title);
    let (fixed, after) = apply(&a.text, &skeleton);
    assert!(
        fixed.contains("past Kv {\n  put(key, value) = call put(key, value, none)\n}"),
        "{fixed}"
    );
    assert!(after.diagnostics.is_empty(), "{:?}", after.diagnostics);
}

#[test]
fn quick_fix_for_a_converting_unneeded_rule_declares_the_change() {
    let a = Analysis::of(&upstart_test_support::spec("ui/U0040-unneeded_rule.ups"));
    let converting = first(&a, codes::UNNEEDED_RULE, "`size`");
    let preferred = preferred_fix(&a, converting.primary.span);
    assert_eq!(preferred.title, "Declare `size` changed in version 2");
    let (fixed, after) = apply(&a.text, &preferred);
    assert!(fixed.contains("changed fn size() -> u64"), "{fixed}");
    // `size` now needs its future rule too, and its past rule is no longer unneeded.
    let codes: Vec<String> = after
        .diagnostics
        .iter()
        .map(|d| d.code.to_string())
        .collect();
    assert_eq!(codes, ["U0034", "U0040"], "{:?}", after.diagnostics);
    // A rule that only passes its call on is still removed by preference.
    let forwarding = first(&a, codes::UNNEEDED_RULE, "`get`");
    let all = fixes(&a, forwarding.primary.span);
    assert_eq!(all.len(), 1);
    assert!(all[0].preferred && all[0].title.starts_with("Remove"));
}

/// Map literals, helper functions, `changed`, `renamed from` and keyword escapes, for the
/// no-panic sweep.
pub(super) const NEW_SYNTAX: &str = r#"upgrade kv 1 -> 2
version 1 {
  record R { r#match: u64 }
  service Kv { fn r#exists(key: string) -> bool  fn size() -> map<string, u64> }
}
version 2 {
  record R { changed r#match: u64 }
  service Kv {
    fn has(key: string) -> bool renamed from r#exists
    changed fn size() -> map<string, u64>
  }
}
fn twice(m: map<string, u64>) -> map<string, u64> = map_values(m, |v| v * 2)
past Kv { size() = twice({"a": 1, "b": len(call size())}) }
future Kv { size() = { let m = call size(); if len(m) == 0 { {} } else { twice(m) } } }
"#;

#[test]
fn no_request_panics_anywhere_in_broken_text() {
    let base = kv();
    let half = base
        .char_indices()
        .nth(base.chars().count() / 2)
        .map_or(0, |(i, _)| i);
    let variants = [
        base.clone(),
        base[..half].to_string(),
        base.replace('}', ""),
        base.replace('(', "(("),
        base.replace("Item", "It\u{e9}m \u{1d11e}"),
        NEW_SYNTAX.to_string(),
        NEW_SYNTAX.replace('}', ""),
        "upgrade".to_string(),
        String::new(),
        "\u{e9}\u{1d11e}\n// x".to_string(),
    ];
    for text in variants {
        let a = Analysis::of(&text);
        for offset in 0..=text.len() + 1 {
            let _ = hover(&a, offset);
            let _ = definition(&a, offset);
            let _ = completion(&a, Some(&a), offset);
            let _ = fixes(&a, Span::new(offset, offset + 3));
        }
    }
}

/// `r#in` changed, `r#match` new, `lookup` is `get` renamed with another result: every
/// missing rule's quick fixes give rules that parse, answer the method (so its diagnostic
/// goes), and a renamed method's skeleton calls it under its other version's name.
const KEYWORDS_AND_RENAMES: &str = r#"upgrade kv 1 -> 2
version 1 {
  service Kv {
    fn r#in(r#let: string) -> u64
    fn get(key: string) -> option<string>
  }
}
version 2 {
  service Kv {
    changed fn r#in(r#let: string) -> u64
    fn r#match(r#exists: string) -> u64
    fn lookup(key: string) -> option<u64> renamed from get
  }
}
schedule { rolling { batch: 1, max_unavailable: 1 } }
"#;

#[test]
fn quick_fixes_escape_keywords_and_call_renamed_methods_by_their_other_name() {
    let text = KEYWORDS_AND_RENAMES;
    let a = Analysis::of(text);
    let missing: Vec<_> = a
        .diagnostics
        .iter()
        .filter(|d| {
            matches!(
                d.code,
                codes::MISSING_PAST_RULE | codes::MISSING_FUTURE_RULE
            )
        })
        .collect();
    assert_eq!(missing.len(), 5, "{:?}", a.diagnostics);
    let mut skeletons = Vec::new();
    for d in missing {
        let all = fixes(&a, d.primary.span);
        assert!(!all.is_empty(), "no fix for {}", d.message);
        for fix in all {
            let (fixed, after) = apply(text, &fix);
            assert!(
                !after
                    .diagnostics
                    .iter()
                    .any(|x| x.code == d.code && x.message == d.message),
                "{} leaves `{}`:\n{fixed}",
                fix.title,
                d.message
            );
            if fix.title.contains("calls version") {
                skeletons.push(fix.edits.iter().map(|(_, t)| t.clone()).collect::<String>());
            }
        }
    }
    let all = skeletons.join("");
    for rule in [
        "r#in(r#let) = call r#in(r#let)",
        "get(key) = call lookup(key)",
        "lookup(key) = call get(key)",
    ] {
        assert!(all.contains(rule), "no `{rule}` in:\n{all}");
    }
}
