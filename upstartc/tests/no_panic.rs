//! The checker never panics, whatever the input: truncated specs, garbled specs, token soup and
//! arbitrary strings all come back as diagnostics whose primary spans lie inside their file,
//! and rendering those diagnostics does not panic either.
//!
//! The inputs grow from the example specs under `specs/` (not the bad specs of `specs/ui/`),
//! read when the tests run. Deeply nested input is tested on a thread with a 64 MiB stack.
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]
#![allow(clippy::indexing_slicing, reason = "tests")]

use compiler::check::check_sources;
use lang::span::SourceMap;
use proptest::prelude::*;
use proptest::sample::Index;

use std::sync::OnceLock;
use upstartc::render;

// ---------------------------------------------------------------- inputs

/// `(name, text)` of every example spec under `specs/`, except `specs/ui/`.
fn examples() -> &'static [(String, String)] {
    static EXAMPLES: OnceLock<Vec<(String, String)>> = OnceLock::new();
    EXAMPLES.get_or_init(|| {
        let files = upstart_test_support::example_specs();
        let out: Vec<(String, String)> = files
            .into_iter()
            .map(|p| {
                let name = upstart_test_support::relative(&p);
                (name, upstart_test_support::read(&p))
            })
            .collect();
        assert!(
            !out.is_empty(),
            "no example specs under {}",
            upstart_test_support::specs_dir().display()
        );
        out
    })
}

fn example(i: Index) -> &'static (String, String) {
    let all = examples();
    &all[i.index(all.len())]
}

/// The largest char boundary at or before `at`.
fn floor_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The language's keywords and punctuation, plus a few names and literals that let the soup
/// get past the first token of a rule.
#[rustfmt::skip]
const TOKENS: &[&str] = &[
    // keywords and punctuation
    "upgrade", "version", "record", "enum", "service", "fn", "state", "invariant", "transform",
    "past", "future", "schedule", "call", "disallow", "match", "if", "else", "let", "forall",
    "exists", "{", "}", "(", ")", "<", ">", ",", ":", "->", "=>", "=", "|", ".", "::", "[", "]",
    "\"", "1", "5s", "none", "some",
    // more of the language, names, and things that open comments or break strings
    "protocol", "in", "then", "..", ";", "_", "!", "-", "+", "==", "&&", "||", "true", "\"a\"",
    "x", "old", "new", "Kv", "get", "u64", "string", "map", "option", "list", "v1", "2", "1.5",
    "//", "/*", "*/", "\\", "é", "🦀",
];

/// Characters that are likely to break or bend the grammar.
const SPICY: &[char] = &[
    '{', '}', '(', ')', '[', ']', '<', '>', '"', '\\', ':', ';', ',', '.', '|', '=', '-', '/', '*',
    '_', '0', '9', 'a', 'Z', ' ', '\n', '\t', '\r', '\0', 'é', '🦀', '\u{feff}', '\u{2028}',
];

/// Between soup tokens: mostly a space, sometimes nothing or a newline.
const SEPARATORS: &[&str] = &[" ", " ", " ", "", "\n"];

/// Names and literals to swap in for a word, so that many garbled specs still parse and the
/// checker sees wrong types, unknown names and mismatched versions.
#[rustfmt::skip]
const WORDS: &[&str] = &[
    "string", "u64", "i64", "f64", "bool", "unit", "map", "option", "list", "set", "Entry",
    "Item", "Order", "Status", "v1", "v2", "key", "value", "id", "old", "new", "get", "put",
    "keys", "values", "map_values", "unwrap_or", "len", "contains", "some", "none", "true", "0",
    "1", "3", "18446744073709551616", "5s", "1x", "x", "_", "past", "future", "then", "pause",
];

#[derive(Debug, Clone)]
enum Edit {
    Insert(Index, char),
    InsertToken(Index, &'static str),
    Delete(Index, usize),
    Replace(Index, char),
    /// Replaces the word (run of letters, digits and `_`) at or after the position.
    ReplaceWord(Index, &'static str),
    /// Deletes the whole line holding the position.
    DeleteLine(Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    let ch = prop_oneof![3 => proptest::sample::select(SPICY), 1 => any::<char>()];
    // Word and line edits mostly keep the spec parsing, so they are weighted up to give the
    // checker (which only runs on specs without syntax errors) its share of garbled input.
    prop_oneof![
        2 => (any::<Index>(), ch.clone()).prop_map(|(i, c)| Edit::Insert(i, c)),
        2 => (any::<Index>(), proptest::sample::select(TOKENS))
            .prop_map(|(i, t)| Edit::InsertToken(i, t)),
        2 => (any::<Index>(), 1usize..16).prop_map(|(i, n)| Edit::Delete(i, n)),
        2 => (any::<Index>(), ch).prop_map(|(i, c)| Edit::Replace(i, c)),
        5 => (any::<Index>(), proptest::sample::select(WORDS))
            .prop_map(|(i, w)| Edit::ReplaceWord(i, w)),
        3 => any::<Index>().prop_map(Edit::DeleteLine),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut s = text.to_string();
    for e in edits {
        let at = |i: &Index, s: &str| floor_boundary(s, i.index(s.len() + 1));
        match e {
            Edit::Insert(i, c) => {
                let p = at(i, &s);
                s.insert(p, *c);
            }
            Edit::InsertToken(i, t) => {
                let p = at(i, &s);
                s.insert_str(p, t);
            }
            Edit::Delete(i, n) => {
                let p = at(i, &s);
                let end = s[p..]
                    .char_indices()
                    .nth(*n)
                    .map_or(s.len(), |(k, _)| p + k);
                s.replace_range(p..end, "");
            }
            Edit::Replace(i, c) => {
                let p = at(i, &s);
                if let Some(old) = s[p..].chars().next() {
                    s.replace_range(p..p + old.len_utf8(), &c.to_string());
                } else {
                    s.push(*c);
                }
            }
            Edit::ReplaceWord(i, w) => {
                let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
                let p = at(i, &s);
                if let Some(start) = s[p..].find(is_word).map(|k| p + k) {
                    let end = s[start..]
                        .find(|c: char| !is_word(c))
                        .map_or(s.len(), |k| start + k);
                    s.replace_range(start..end, w);
                }
            }
            Edit::DeleteLine(i) => {
                let p = at(i, &s);
                let start = s[..p].rfind('\n').map_or(0, |k| k + 1);
                let end = s[p..].find('\n').map_or(s.len(), |k| p + k + 1);
                s.replace_range(start..end, "");
            }
        }
    }
    s
}

fn soup() -> impl Strategy<Value = String> {
    let sep = proptest::sample::select(SEPARATORS);
    (
        any::<bool>(),
        proptest::collection::vec((proptest::sample::select(TOKENS), sep), 0..150),
    )
        .prop_map(|(header, parts)| {
            let mut s = if header {
                "upgrade s 1 -> 2\n".to_string()
            } else {
                String::new()
            };
            for (token, sep) in parts {
                s.push_str(token);
                s.push_str(sep);
            }
            s
        })
}

// ---------------------------------------------------------------- the property

/// Checks `files` together; every diagnostic must point into its own file's text and render.
fn check_files(files: &[(&str, &str)]) {
    let mut sources = SourceMap::new();
    for (name, text) in files {
        sources.add(*name, *text);
    }
    let out = check_sources(&sources);
    for d in &out.diagnostics {
        let file = sources.get(d.primary.file).unwrap_or_else(|| {
            panic!(
                "{}: primary label in unknown file {:?}",
                d.code, d.primary.file
            )
        });
        let (span, len) = (d.primary.span, file.text.len());
        assert!(
            span.start <= span.end && span.end <= len,
            "{} `{}`: primary span {}..{} outside {} ({len} bytes)",
            d.code,
            d.message,
            span.start,
            span.end,
            file.name
        );
    }
    let _ = render::human(&sources, &out.diagnostics);
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        // Failures are reported with their shrunk input; no regression files in the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// (a) Every spec cut off at any byte (on a char boundary).
    #[test]
    fn truncated_specs(spec in any::<Index>(), cut in any::<Index>()) {
        let (name, text) = example(spec);
        let cut = floor_boundary(text, cut.index(text.len() + 1));
        check_files(&[(name, &text[..cut])]);
    }

    /// (b) Specs with characters or tokens inserted, deleted or replaced; sometimes checked
    /// next to an intact spec, so the chain check sees broken models too.
    #[test]
    fn garbled_specs(
        spec in any::<Index>(),
        edits in proptest::collection::vec(edit(), 1..6),
        neighbour in proptest::option::of(any::<Index>()),
    ) {
        let (name, text) = example(spec);
        let garbled = apply(text, &edits);
        match neighbour {
            Some(n) => {
                let (other, other_text) = example(n);
                check_files(&[(name, &garbled), (other, other_text)]);
            }
            None => check_files(&[(name, &garbled)]),
        }
    }

    /// (c) Random sequences of the language's keywords and punctuation.
    #[test]
    fn token_soup(text in soup()) {
        check_files(&[("soup.ups", &text)]);
    }

    /// (d) Arbitrary strings, with or without a valid header in front.
    #[test]
    fn arbitrary_strings(text in any::<String>(), header in any::<bool>()) {
        let text = if header { format!("upgrade s 1 -> 2\n{text}") } else { text };
        check_files(&[("any.ups", &text)]);
    }
}

// ---------------------------------------------------------------- deep nesting

const DEEP: usize = 5_000;

/// `open`×depth `1` `close`×depth as the one clause of an invariant.
fn nested(open: &str, close: &str, depth: usize) -> String {
    format!(
        "upgrade d 1 -> 2\ninvariant (old, new) {{\n  {}1{}\n}}\n",
        open.repeat(depth),
        close.repeat(depth)
    )
}

/// Checks `open`×depth `1` `close`×depth on a thread with a stack of `stack_mib` MiB.
fn check_nested(open: &str, close: &str, depth: usize, stack_mib: usize) {
    let text = nested(open, close, depth);
    let handle = std::thread::Builder::new()
        .stack_size(stack_mib << 20)
        .spawn(move || check_files(&[("deep.ups", &text)]))
        .unwrap();
    handle.join().unwrap();
}

// Brackets deeper than 128 levels are refused by the chunker before pest sees them. Everything
// else that nests without brackets (`else if` chains, `let` in a `let`, closures, quantifiers,
// `list<...>` types, runs of `!`/`-`, long operator chains) reaches pest, whose own guard keeps
// 64 KiB of stack, and the AST builder, which stops with 256 KiB left; either way the item is
// refused with U0007 and dropped without recursion. Before, `upstartc check` died with "has
// overflowed its stack" on, e.g., 3,000 `else if`s or a sum of 100,000 terms.

/// A spec whose one past rule's body is `body`.
fn rule_body(body: &str) -> String {
    format!(
        "upgrade d 1 -> 2\nversion 1 {{ service S {{ fn f(x: u64) -> u64 }} }}\n\
         version 2 {{ service S {{ fn f(x: u64) -> u64 }} }}\npast S {{ f(x) = {body} }}\n"
    )
}

/// Runs `f` on a thread with `stack_mib` MiB of stack; what it returned.
fn on_stack<T: Send + 'static>(stack_mib: usize, f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(stack_mib << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

/// Checks `text` as the file `name` and renders its diagnostics: the output and the codes.
fn check_and_render(name: &str, text: &str) -> (compiler::check::CheckOutput, Vec<String>) {
    let mut sources = SourceMap::new();
    sources.add(name, text);
    let out = check_sources(&sources);
    let _ = render::human(&sources, &out.diagnostics);
    let codes = out.diagnostics.iter().map(|d| d.code.to_string()).collect();
    (out, codes)
}

/// Checks `text` on a thread with `stack_mib` MiB of stack; the codes it gave.
fn codes_on_stack(text: String, stack_mib: usize) -> Vec<String> {
    on_stack(stack_mib, move || check_and_render("deep.ups", &text).1)
}

/// Every construct that nests without brackets, at depths from "checks" to "far past any
/// guard", on the 8 MiB stack `upstartc` runs on and on a 2 MiB test-thread stack: never a
/// crash, and U0007 once past the nesting limit.
#[test]
fn constructs_that_nest_without_brackets_are_refused_not_overflowed() {
    type Make = fn(usize) -> String;
    let cases: &[(&str, Make)] = &[
        ("`else if` chain", |n| {
            rule_body(&format!(
                "if x == 0 {{ 0 }} {}else {{ 2 }}",
                "else if x == 1 { 1 } ".repeat(n)
            ))
        }),
        ("`let` in `let`", |n| {
            rule_body(&format!("{}x{}", "let y = ".repeat(n), ";".repeat(n)))
        }),
        ("closures", |n| rule_body(&format!("{}x", "|y| ".repeat(n)))),
        ("quantifiers", |n| {
            rule_body(&format!("{}true", "forall k in [1]: ".repeat(n)))
        }),
        ("prefix operators", |n| {
            rule_body(&format!("{}x", "- ".repeat(n)))
        }),
        ("sum", |n| rule_body(&format!("{}x", "x + ".repeat(n * 10)))),
        ("types", |n| {
            format!(
                "upgrade d 1 -> 2\nversion 1 {{ state {{ a: {}u64{} }} }}\n",
                "list<".repeat(n),
                ">".repeat(n)
            )
        }),
    ];
    for (what, make) in cases {
        for depth in [200, 3_000, 20_000] {
            for stack in [8, 2] {
                let started = std::time::Instant::now();
                let codes = codes_on_stack(make(depth), stack);
                // 200 levels may check (expressions nest by their own rules); deeper ones
                // are refused.
                assert!(
                    depth == 200 || codes.iter().any(|c| c == "U0007"),
                    "{what} x{depth} on {stack} MiB: {codes:?}"
                );
                eprintln!("{what} x{depth} on {stack} MiB: {:?}", started.elapsed());
            }
        }
    }
}

/// 5 000 nested parentheses inside an invariant clause, on a 64 MiB stack.
#[test]
fn deeply_nested_parentheses() {
    check_nested("(", ")", DEEP, 64);
}

/// 5 000 nested list literals inside an invariant clause, on a 64 MiB stack.
#[test]
fn deeply_nested_lists() {
    check_nested("[", "]", DEEP, 64);
}

/// 5 000 `[` never closed: pest fails (the AST builder never sees it).
#[test]
fn deeply_nested_unclosed_lists() {
    check_nested("[", "", DEEP, 64);
}

/// 1 000 nested parentheses on the 8 MiB stack of a main thread, as `upstartc check` runs:
/// refused by the chunker (U0007) before anything recurses.
#[test]
fn nested_parentheses_on_a_main_thread_stack() {
    check_nested("(", ")", 1_000, 8);
    assert!(codes_on_stack(nested("(", ")", 1_000), 8).contains(&"U0007".to_string()));
}

/// A probe for the nesting depth at which checking overflows the stack (which aborts the
/// whole test process, so it cannot be caught): set `UPSTART_NEST=<open><close>` (`()` or
/// `[]`), `UPSTART_NEST_DEPTH` and optionally `UPSTART_NEST_STACK_MB` (default 64), then run
/// `cargo test -p upstartc --test no_panic -- --ignored --exact nesting_probe` and look at the
/// exit status; bisect on the depth.
#[test]
#[ignore = "a tool: reads its input from UPSTART_NEST* environment variables"]
fn nesting_probe() {
    let var = |k: &str| std::env::var(k).ok();
    let pair = var("UPSTART_NEST").unwrap_or_else(|| "()".to_string());
    let (open, close) = pair.split_at(pair.len() / 2);
    let depth: usize = var("UPSTART_NEST_DEPTH").map_or(DEEP, |d| d.parse().unwrap());
    let mib: usize = var("UPSTART_NEST_STACK_MB").map_or(64, |d| d.parse().unwrap());
    check_nested(open, close, depth, mib);
}

/// A spec whose invariant is one clause: `terms` comparisons joined by `op`, and a past rule
/// whose body is `terms` copies of `x` joined by `arith`.
fn chain_spec(op: &str, arith: &str, terms: usize) -> String {
    let clause = vec!["old.a == new.a"; terms].join(&format!(" {op} "));
    let body = vec!["x"; terms].join(&format!(" {arith} "));
    format!(
        "upgrade d 1 -> 2\nversion 1 {{ service S {{ fn f(x: u64) -> u64 }} state {{ a: u64 }} }}\n\
         version 2 {{ service S {{ fn f(x: u64) -> bool }} state {{ a: u64 }} }}\n\
         invariant (old, new) {{ {clause} }}\n\
         past S {{ f(x) = {body} }}\n\
         future S {{ f(x) = call f(x) > 0 }}\n\
         schedule {{ rolling {{ batch: 1, max_unavailable: 1 }} }}\n"
    )
}

/// Checks, verifies and generates the plugin's code for `text` on a 2 MiB stack (a test
/// thread's); the codes of the check's diagnostics.
fn every_pass_on_2_mib(text: String) -> Vec<String> {
    on_stack(2, move || {
        let (out, codes) = check_and_render("chain.ups", &text);
        if let Some(model) = out.models.first() {
            let options = compiler::verify::VerifyOptions { seed: 1, cases: 4 };
            let _ = compiler::verify::verify(model, &options);
            let tokens = compiler::codegen::lib_tokens(model, &text).unwrap();
            compiler::codegen::format_tokens(tokens).unwrap();
        }
        let _ = upstart_fmt::format(&text);
        codes
    })
}

/// A flat chain of one operator is not nesting: 129 terms (one past the nesting limit) and 250
/// check, verify, generate code and format on a 2 MiB stack, for `&&`, `||`, `+` and `*`.
/// Before, 129 terms were refused as "operators nest too deeply" (U0007). Longer chains are
/// still refused (U0007, "this expression is too long"), never overflowed.
#[test]
fn flat_operator_chains_are_not_nesting() {
    for (op, arith) in [("&&", "+"), ("||", "*")] {
        for terms in [129, 250] {
            let codes = every_pass_on_2_mib(chain_spec(op, arith, terms));
            assert!(codes.is_empty(), "{op} x{terms}: {codes:?}");
        }
        for terms in [300, 100_000] {
            let codes = every_pass_on_2_mib(chain_spec(op, arith, terms));
            assert!(
                codes.iter().any(|c| c == "U0007"),
                "{op} x{terms}: {codes:?}"
            );
        }
    }
}
