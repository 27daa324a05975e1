//! Completion on fixtures: the labels offered at `$0`, in order (with the text inserted when it
//! is not the label, and the sort key when there is one). A test may give the text of the last
//! analysis that parsed (what the editor had before the keystroke).

use super::analysis;
use crate::analysis::Analysis;
use crate::completion::completion;
use expect_test::{expect, Expect};
use lsp_types::{CompletionItem, CompletionItemKind};

fn check(previous: Option<&str>, fixture: &str, expect: Expect) {
    let (a, offset) = analysis(fixture);
    let previous = previous.map(Analysis::of);
    let items = completion(&a, previous.as_ref(), offset);
    // The built-in functions, offered together wherever an expression may stand, show as one
    // line (the table's own tests cover each).
    let builtin = |i: &CompletionItem| {
        compiler::builtins::lookup(&i.label)
            .is_some_and(|b| i.detail.as_deref() == Some(b.signature))
    };
    // A run of plain keywords (nothing inserted but the word) shows on one line.
    let keyword = |i: &CompletionItem| {
        i.kind == Some(CompletionItemKind::KEYWORD)
            && i.insert_text.is_none()
            && i.sort_text.is_none()
    };
    let builtins = items.iter().filter(|i| builtin(i)).count();
    let mut lines: Vec<String> = Vec::new();
    let mut in_keywords = false;
    let mut builtins_shown = false;
    for i in &items {
        if builtin(i) {
            if !builtins_shown {
                lines.push(format!("({builtins} built-in functions)"));
                builtins_shown = true;
            }
            in_keywords = false;
            continue;
        }
        if keyword(i) {
            match lines.last_mut() {
                Some(line) if in_keywords => line.push_str(&format!(" {}", i.label)),
                _ => lines.push(format!("keywords: {}", i.label)),
            }
            in_keywords = true;
            continue;
        }
        in_keywords = false;
        let mut line = i.label.clone();
        if let Some(insert) = i.insert_text.as_ref().filter(|t| **t != i.label) {
            line.push_str(&format!(" -> {insert:?}"));
        }
        if let Some(sort) = &i.sort_text {
            line.push_str(&format!(" (sort {sort})"));
        }
        lines.push(line);
    }
    expect.assert_eq(&lines.join("\n"));
}

/// A spec around `{rules}` of a `future Kv` block and `{extra}` fields of version 2's state.
fn spec(extra: &str, rules: &str) -> String {
    format!(
        r#"upgrade kv 1 -> 2
version 1 {{
  record Entry {{ key: string, value: string }}
  service Kv {{
    fn get(key: string) -> option<string>
    fn put(key: string, value: string) -> unit
  }}
  state {{ entries: map<string, string> }}
}}
version 2 {{
  record Item {{ value: string, expires_at: option<u64> }}
  service Kv {{
    fn get(key: string) -> option<Item>
    fn put(key: string, value: string) -> unit
    fn delete(key: string) -> bool
  }}
  state {{ items: map<string, Item>{extra} }}
}}
transform (old) -> new {{
  items: map_values(old.entries, |v| Item {{ value: v, expires_at: none }})
}}
past Kv {{
  get(key) = (call get(key)).map(|i| i.value)
}}
future Kv {{
  get(key) = (call get(key)).map(|v| Item {{ value: v, expires_at: none }})
{rules}
}}
"#
    )
}

#[test]
fn types_in_a_field_position() {
    // Version 2's types and the built-in ones; not version 1's `Entry`.
    check(
        None,
        &spec(", extra: I$0", ""),
        expect![[r#"
        bool
        i64
        u64
        f64
        string
        bytes
        unit
        option
        list
        set
        map
        Item"#]],
    );
}

#[test]
fn methods_in_a_rule_block() {
    // Without its `delete` rule, the future block offers `delete` first, with its parameters.
    let before = spec("", "");
    check(
        Some(&before),
        &spec("", "  del$0"),
        expect![[r#"
            get -> "get(key) = " (sort 1get)
            put -> "put(key, value) = " (sort 1put)
            delete -> "delete(key) = " (sort 0delete)"#]],
    );
}

#[test]
fn expressions_and_after_call() {
    check(
        None,
        &spec("", "  delete(key) = ma$0"),
        expect![[r#"
            (30 built-in functions)
            keywords: call disallow if else match let forall exists none true false
            Entry
            Item
            key"#]],
    );
    // After `call`: version 1's methods (it has no `delete`).
    check(
        None,
        &spec("", "  delete(key) = call $0"),
        expect![[r#"
        get
        put"#]],
    );
}

#[test]
fn after_a_dot_from_the_last_analysis_that_parsed() {
    // After `i.` of an `Item`: its fields and the built-ins that take it.
    let good = spec("", "  delete(key) = (call get(key)) == none");
    let broken =
        spec("", "  delete(key) = disallow \"x\"").replace("map(|i| i.value)", "map(|i| i.$0)");
    check(
        Some(&good),
        &broken,
        expect![[r#"
            value
            expires_at
            (30 built-in functions)"#]],
    );
}

#[test]
fn warning_names_in_a_rule_allow() {
    check(
        None,
        &spec("", "  #[allow(dis$0)]\n  delete(key) = disallow \"no\""),
        expect![[r#"
            missing_invariant
            unneeded_rule
            disallowed_method
            unused_rule_parameter
            unreachable_arm
            unused_state_field
            lossy_conversion
            unused_variable
            reverse_unread_field
            wildcard_swallows_variants
            missing_schedule
            timeout_shorter_than_health
            window_shorter_than_upgrade
            verify_simulation_answer
            verify_simulation_sequence"#]],
    );
}

#[test]
fn fields_of_the_state_in_a_method_model() {
    let previous = "upgrade kv 1 -> 2\nversion 1 {\n  service Kv {\n    fn size() -> u64 = len(state.entries)\n  }\n  state { entries: map<string, string>, hits: u64 }\n}\nversion 2 {\n  service Kv { fn size() -> u64 }\n  state { entries: map<string, string>, hits: u64 }\n}\n";
    check(
        Some(previous),
        &previous.replace("len(state.entries)", "len(state.$0)"),
        expect![[r#"
            entries
            hits
            (30 built-in functions)"#]],
    );
}

#[test]
fn helper_functions_are_offered_in_expressions() {
    let fixture = super::NEW_SYNTAX.replacen("twice(m) }", "tw$0 }", 1);
    check(
        None,
        &fixture,
        expect![[r#"
            (30 built-in functions)
            twice
            keywords: call disallow if else match let forall exists none true false
            v1::R
            v2::R"#]],
    );
}

/// Names that are keywords are inserted escaped: a method with no rule yet (still marked as
/// needing one), the method `call` reaches, a state field.
#[test]
fn keyword_names_are_inserted_with_their_escape() {
    let text = r#"upgrade kv 1 -> 2
version 1 {
  service Kv {
    fn r#in(r#let: string) -> u64
  }
  state { r#match: u64 }
}
version 2 {
  service Kv {
    changed fn r#in(r#let: string) -> u64
  }
  state { r#match: u64 }
}
transform (old) -> new { r#match: old.$0 }
past Kv {
  
}
"#;
    check(
        None,
        text,
        expect![[r#"
        match -> "r#match"
        (30 built-in functions)"#]],
    );
    let rules = text
        .replace("old.$0", "old.r#match")
        .replace("  \n}", "  $0\n}");
    check(
        Some(&text.replace("$0", "r#match")),
        &rules,
        expect![[r#"in -> "r#in(r#let) = " (sort 0in)"#]],
    );
    let call = text
        .replace("old.$0", "old.r#match")
        .replace("  \n}", "  r#in(r#let) = call $0\n}");
    check(None, &call, expect![[r#"in -> "r#in""#]]);
}

/// Inside a method's model, wherever an expression may stand, the method's parameters and
/// `state` are offered with the expressions.
#[test]
fn a_model_offers_its_parameters_and_state() {
    let text = r#"upgrade kv 1 -> 2
version 1 {
  service Kv {
    fn get(key: string) -> option<u64> = get(state.entries, k$0ey)
  }
  state { entries: map<string, u64> }
}
version 2 {
  service Kv {
    fn get(key: string) -> option<u64>
  }
  state { entries: map<string, u64> }
}
transform (old) -> new { entries: old.entries }
"#;
    let (a, offset) = super::analysis(text);
    let labels: Vec<String> = completion(&a, None, offset)
        .into_iter()
        .map(|i| i.label)
        .collect();
    for wanted in ["key", "state", "len", "if"] {
        assert!(
            labels.iter().any(|l| l == wanted),
            "no `{wanted}` in {labels:?}"
        );
    }
}

#[test]
fn field_names_in_a_rule_differs() {
    check(
        None,
        &spec("", "  #[differs(exp$0)]\n  delete(key) = disallow \"no\""),
        expect![[r#"
            value
            expires_at"#]],
    );
}

#[test]
fn state_in_a_where_clause() {
    let text = spec("", "  delete(key) = disallow \"no\"").replacen(
        "  state { entries: map<string, string> }",
        "  state { entries: map<string, string> } where { forall k in keys(st$0) : true }",
        1,
    );
    check(
        None,
        &text,
        expect![[r#"
            (30 built-in functions)
            keywords: call disallow if else match let forall exists none true false
            Entry
            Item
            state"#]],
    );
}
