//! The state's storage kind (`state sqlite { ... }`): parsed, and the same in both versions
//! of an upgrade.

use super::check_sources;
use lang::ast::{Decl, Item, StateStorage};
use lang::span::SourceMap;

fn spec(kind1: &str, kind2: &str) -> String {
    format!(
        "upgrade t 1 -> 2\nversion 1 {{\n  record A {{ cents: u64 }}\n  state {kind1}{{ accounts: map<string, A> }}\n}}\nversion 2 {{\n  record A {{ cents: u64 }}\n  state {kind2}{{ accounts: map<string, A> }}\n}}\ntransform (old) -> new {{ accounts: old.accounts }}\ninvariant (old, new) {{ old.accounts == new.accounts }}\nschedule {{ rolling {{ batch: 1, max_unavailable: 1 }} }}\n"
    )
}

fn codes(text: &str) -> Vec<String> {
    let mut sources = SourceMap::new();
    sources.add("t.ups".to_owned(), text.to_owned());
    check_sources(&sources)
        .diagnostics
        .iter()
        .map(|d| format!("{} {}", d.code, d.message))
        .collect()
}

#[test]
fn each_kind_parses_and_is_kept() {
    for (word, kind) in [
        ("json ", StateStorage::Json),
        ("dir ", StateStorage::Dir),
        ("sqlite ", StateStorage::Sqlite),
    ] {
        let text = spec(word, word);
        assert_eq!(codes(&text), Vec::<String>::new(), "{word}");
        let parsed = lang::parse::parse(lang::span::FileId(0), &text);
        let spec = parsed.spec.unwrap_or_else(|| panic!("{word}: no spec"));
        let states: Vec<_> = spec
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Version(v) => Some(v),
                _ => None,
            })
            .flat_map(|v| v.decls.iter())
            .filter_map(|d| match d {
                Decl::State(s) => Some(s.storage),
                _ => None,
            })
            .collect();
        assert_eq!(states, vec![Some(kind), Some(kind)], "{word}");
    }
    // Not said: a JSON document.
    assert_eq!(codes(&spec("", "json ")), Vec::<String>::new());
}

#[test]
fn a_changed_kind_is_refused() {
    let got = codes(&spec("json ", "sqlite "));
    assert_eq!(
        got,
        vec!["U0140 version 1 keeps its state as `json`, version 2 as `sqlite`".to_owned()]
    );
}

#[test]
fn an_unknown_kind_is_a_parse_error() {
    assert!(!codes(&spec("mysql ", "mysql ")).is_empty());
}
