//! Tests of the language server's pure parts: hover, definition, completion and quick fixes on
//! the key-value example, without a client.

use super::actions::fixes;
use super::analysis::Analysis;
use super::completion::completion;
use super::definition::definition;
use super::hover::hover;
use lang::diagnostic::codes;
use lang::span::Span;
use lsp_types::HoverContents;

fn kv() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs/kv/kv-1-2.ups");
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The offset of the `nth` occurrence of `needle`, plus `delta`.
fn at(text: &str, needle: &str, nth: usize, delta: usize) -> usize {
    let mut from = 0;
    for _ in 0..nth {
        from = text[from..]
            .find(needle)
            .map(|i| from + i + 1)
            .unwrap_or_else(|| panic!("no {nth}th {needle:?}"));
    }
    text[from..]
        .find(needle)
        .map(|i| from + i + delta)
        .unwrap_or_else(|| panic!("no {needle:?}"))
}

fn hover_text(a: &Analysis, offset: usize) -> String {
    match hover(a, offset).map(|h| h.contents) {
        Some(HoverContents::Markup(m)) => m.value,
        other => panic!("no markdown hover: {other:?}"),
    }
}

fn line_of(a: &Analysis, span: Span) -> String {
    let start = a.text[..span.start].rfind('\n').map_or(0, |p| p + 1);
    let end = a.text[span.start..]
        .find('\n')
        .map_or(a.text.len(), |p| span.start + p);
    a.text[start..end].trim().to_string()
}

#[test]
fn hover_on_a_type_shows_its_record_in_its_version() {
    let text = kv();
    let a = Analysis::of(&text);
    // `Item` in `map<string, Item>` of version 2's state.
    let h = hover_text(&a, at(&text, "map<string, Item>", 0, 13));
    assert!(
        h.contains("record Item {\n  value: string,\n  expires_at: option<u64>,\n}"),
        "{h}"
    );
    assert!(h.contains("version 2"), "{h}");
    // `Entry` in version 1.
    let h = hover_text(&a, at(&text, "list<Entry>", 0, 6));
    assert!(h.contains("record Entry"), "{h}");
}

#[test]
fn hover_on_a_method_shows_both_versions() {
    let text = kv();
    let a = Analysis::of(&text);
    let h = hover_text(&a, at(&text, "put(key, value) = call", 0, 1));
    assert!(
        h.contains("// version 1\nfn put(key: string, value: string) -> unit"),
        "{h}"
    );
    assert!(
        h.contains("// version 2\nfn put(key: string, value: string, ttl_ms: option<u64>) -> unit"),
        "{h}"
    );
    // `delete` exists only in version 2.
    let h = hover_text(&a, at(&text, "fn delete", 0, 4));
    assert!(h.contains("// version 1: no `Kv.delete`"), "{h}");
}

#[test]
fn hover_on_variables_fields_and_builtins() {
    let text = kv();
    let a = Analysis::of(&text);
    let h = hover_text(&a, at(&text, "old.entries[k]", 0, 12));
    assert!(h.contains("k: string"), "{h}");
    let h = hover_text(&a, at(&text, "new.items[k].value", 0, 14));
    assert!(
        h.contains("value: string") && h.contains("field of `Item` (version 2)"),
        "{h}"
    );
    let h = hover_text(&a, at(&text, "map_values", 0, 2));
    assert!(
        h.contains("map_values(m: map<K, V>, f: |V| W) -> map<K, W>"),
        "{h}"
    );
    // A closure parameter: the type of its uses.
    let h = hover_text(&a, at(&text, "|i| i.value", 0, 1));
    assert!(h.contains("i: Item"), "{h}");
}

#[test]
fn definition_of_types_methods_variables_and_fields() {
    let text = kv();
    let a = Analysis::of(&text);
    let one = |offset: usize| {
        let d = definition(&a, offset);
        assert_eq!(d.len(), 1, "at {offset}: {d:?}");
        d[0]
    };
    // A record literal in the transform goes to version 2's record.
    let d = one(at(&text, "Item { value: v", 0, 1));
    assert_eq!(
        line_of(&a, d),
        "record Item { value: string, expires_at: option<u64> }"
    );
    // A past rule's method goes to version 1's method; `call` in it to version 2's.
    let d = one(at(&text, "put(key, value) = call", 0, 1));
    assert_eq!(line_of(&a, d), "fn put(key: string, value: string) -> unit");
    let d = one(at(&text, "call put(key, value, none)", 0, 6));
    assert_eq!(
        line_of(&a, d),
        "fn put(key: string, value: string, ttl_ms: option<u64>) -> unit"
    );
    // A future rule's method goes to version 2's.
    let d = one(at(&text, "delete(key) = disallow", 0, 1));
    assert_eq!(line_of(&a, d), "fn delete(key: string) -> bool");
    // A rule's parameter; a field read; a state field.
    let d = one(at(&text, "call get(key)).map(|i| i.value)", 0, 10));
    assert_eq!(&text[d.start..d.end], "key");
    assert!(line_of(&a, d).starts_with("get(key) = (call get(key)).map(|i| i.value)"));
    let d = one(at(&text, "new.items[k].value", 0, 14));
    assert_eq!(
        line_of(&a, d),
        "record Item { value: string, expires_at: option<u64> }"
    );
    let d = one(at(&text, "keys(old.entries) ==", 0, 10));
    assert_eq!(line_of(&a, d), "state { entries: map<string, string> }");
    // A method's declaration goes to the rule answering it.
    let d = one(at(&text, "fn replicate(entries", 0, 4));
    assert!(
        line_of(&a, d).starts_with("replicate(entries) = call replicate(to_map("),
        "{}",
        line_of(&a, d)
    );
}

fn labels(items: &[lsp_types::CompletionItem]) -> Vec<&str> {
    items.iter().map(|i| i.label.as_str()).collect()
}

#[test]
fn completion_of_types_in_a_field_position() {
    let text = kv().replace(
        "state { items: map<string, Item> }",
        "state { items: map<string, Item>, extra: I }",
    );
    let a = Analysis::of(&text);
    let items = completion(&a, None, at(&text, "extra: I", 0, 8));
    let l = labels(&items);
    assert!(
        l.contains(&"Item") && l.contains(&"u64") && l.contains(&"option"),
        "{l:?}"
    );
    assert!(
        !l.contains(&"Entry"),
        "version 1's record offered in version 2: {l:?}"
    );
}

#[test]
fn completion_of_methods_in_a_rule_block() {
    // Without its `delete` rule, the future block offers `delete` first, with its parameters.
    let before =
        Analysis::of(&kv().replace("  delete(key) = disallow \"delete needs version 2\"\n", ""));
    let text = kv().replace(
        "  delete(key) = disallow \"delete needs version 2\"\n",
        "  del\n",
    );
    let a = Analysis::of(&text);
    let items = completion(&a, Some(&before), at(&text, "  del\n", 0, 5));
    let delete = items
        .iter()
        .find(|i| i.label == "delete")
        .expect("delete offered");
    assert_eq!(delete.insert_text.as_deref(), Some("delete(key) = "));
    assert!(
        delete
            .sort_text
            .as_deref()
            .is_some_and(|s| s.starts_with('0')),
        "{delete:?}"
    );
    assert!(labels(&items).contains(&"replicate"));
}

#[test]
fn completion_in_expressions_and_after_call_and_dot() {
    let text = kv().replace(
        "delete(key) = disallow \"delete needs version 2\"",
        "delete(key) = ma",
    );
    let a = Analysis::of(&text);
    let items = completion(&a, None, at(&text, "delete(key) = ma", 0, 16));
    let l = labels(&items);
    assert!(
        l.contains(&"map")
            && l.contains(&"map_values")
            && l.contains(&"match")
            && l.contains(&"key"),
        "{l:?}"
    );

    let text = kv().replace(
        "delete(key) = disallow \"delete needs version 2\"",
        "delete(key) = call ",
    );
    let a = Analysis::of(&text);
    let items = completion(&a, None, at(&text, "delete(key) = call ", 0, 19));
    let l = labels(&items);
    assert!(
        l.contains(&"get") && l.contains(&"put") && !l.contains(&"delete"),
        "version 1 has no delete: {l:?}"
    );

    // After `i.`: the fields of `Item`, from the last analysis that parsed.
    let good = Analysis::of(&kv());
    let text = kv().replace(
        "(call get(key)).map(|i| i.value)",
        "(call get(key)).map(|i| i.)",
    );
    let a = Analysis::of(&text);
    let items = completion(&a, Some(&good), at(&text, "|i| i.)", 0, 6));
    let l = labels(&items);
    assert!(
        l.contains(&"value") && l.contains(&"expires_at") && l.contains(&"unwrap_or"),
        "{l:?}"
    );
}

#[test]
fn quick_fix_for_a_missing_rule_adds_one_that_checks() {
    let text = kv().replace("  delete(key) = disallow \"delete needs version 2\"\n", "");
    let a = Analysis::of(&text);
    let d = a
        .diagnostics
        .iter()
        .find(|d| d.code == codes::MISSING_FUTURE_RULE)
        .expect("U0034");
    let all = fixes(&a, d.primary.span);
    assert!(!all.is_empty());
    for fix in all {
        let mut fixed = text.clone();
        for (span, new) in fix.edits.iter().rev() {
            fixed.replace_range(span.start..span.end, new);
        }
        let after = Analysis::of(&fixed);
        assert!(after.syntax_ok, "{}:\n{fixed}", fix.title);
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
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../specs/ui/U0033-missing_past_rule.ups");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let a = Analysis::of(&text);
    let d = a
        .diagnostics
        .iter()
        .find(|d| d.code == codes::MISSING_PAST_RULE)
        .expect("U0033");
    let all = fixes(&a, Span::new(d.primary.span.start, d.primary.span.start));
    let skeleton = all.iter().find(|f| f.preferred).expect("a preferred fix");
    assert!(skeleton.title.contains("past"), "{}", skeleton.title);
    let mut fixed = text.clone();
    for (span, new) in skeleton.edits.iter().rev() {
        fixed.replace_range(span.start..span.end, new);
    }
    assert!(
        fixed.contains("past Kv {\n  put(key, value) = call put(key, value, none)\n}"),
        "{fixed}"
    );
    let after = Analysis::of(&fixed);
    assert!(after.diagnostics.is_empty(), "{:?}", after.diagnostics);
}

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

#[test]
fn the_reverse_transform_reads_the_new_state_and_assigns_the_old() {
    let text = kv();
    let a = Analysis::of(&text);
    // `new` in `transform (new) -> old` is version 2's state; `old` is version 1's.
    let head = at(&text, "transform (new) -> old", 0, 0);
    let h = hover_text(&a, head + "transform (".len());
    assert!(h.contains("version 2"), "{h}");
    let h = hover_text(&a, head + "transform (new) -> ".len());
    assert!(h.contains("version 1"), "{h}");
    // `new.items` in its body goes to version 2's state field.
    let d = definition(&a, at(&text, "new.items, |i| i.value", 0, 4));
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(line_of(&a, d[0]), "state { items: map<string, Item> }");
    // The field assigned (`entries:`) is version 1's.
    let d = definition(&a, at(&text, "entries: map_values(new.items", 0, 1));
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(line_of(&a, d[0]), "state { entries: map<string, string> }");
}
