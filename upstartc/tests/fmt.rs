//! `upstartc fmt` on every spec under `specs/`: formatting is idempotent, keeps every comment,
//! leaves the syntax tree unchanged (spans aside) and the check results (codes and messages)
//! unchanged. Specs under `specs/ui/` that do not parse are refused, and left as they are.
//! Comments sprinkled between the tokens of the example specs survive formatting too.
//!
//! Also drives the real binary: `upstartc fmt --check` lists what would change and exits 1,
//! `upstartc fmt` rewrites in place, and refuses a file with syntax errors without touching it.
#![allow(clippy::unwrap_used, reason = "tests")]

use compiler::check::check_sources;
use lang::span::SourceMap;
use lang::{lex, spans};
use std::path::PathBuf;
use std::process::Command;
use upstart_fmt::{format, FormatError};
use upstart_test_support::{all_specs, example_specs, repo_root};

fn parses(text: &str) -> bool {
    let parsed = lang::parse(lang::FileId(0), text);
    parsed.spec.is_some() && !parsed.diagnostics.iter().any(|d| d.is_error())
}

/// `(code, severity, message)` of every diagnostic of checking `text` alone.
fn check_results(name: &str, text: &str) -> Vec<(String, String, String)> {
    let mut sources = SourceMap::new();
    sources.add(name, text);
    check_sources(&sources)
        .diagnostics
        .iter()
        .map(|d| {
            (
                d.code.to_string(),
                d.severity.as_str().to_string(),
                d.message.clone(),
            )
        })
        .collect()
}

fn comment_texts(text: &str) -> Vec<String> {
    lex::comments(text).into_iter().map(|c| c.text).collect()
}

#[test]
fn every_spec_formats_idempotently_and_keeps_its_meaning() {
    let dump = std::env::var_os("UPSTART_FMT_DUMP");
    let mut formatted = 0;
    let mut refused = 0;
    for path in all_specs() {
        let name = path
            .strip_prefix(repo_root())
            .unwrap()
            .display()
            .to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        if !parses(&text) {
            // Only the bad specs of specs/ui/ may fail to parse, and they are refused.
            assert!(name.starts_with("specs/ui/"), "{name} does not parse");
            assert!(
                matches!(format(&text), Err(FormatError::Syntax(d)) if !d.is_empty()),
                "{name}: not refused"
            );
            refused += 1;
            continue;
        }
        let once = format(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        if dump.is_some() {
            println!("=== {name}\n{once}");
        }
        let twice = format(&once).unwrap_or_else(|e| panic!("{name} (second pass): {e}"));
        assert_eq!(once, twice, "{name}: formatting is not idempotent");
        let before = lang::parse(lang::FileId(0), &text).spec.unwrap();
        let after = lang::parse(lang::FileId(0), &once).spec.unwrap();
        assert_eq!(
            spans::without_spans(&before),
            spans::without_spans(&after),
            "{name}: the tree changed"
        );
        assert_eq!(
            comment_texts(&text),
            comment_texts(&once),
            "{name}: comments changed"
        );
        assert_eq!(
            check_results(&name, &text),
            check_results(&name, &once),
            "{name}: check results changed"
        );
        for line in once.lines() {
            assert_eq!(line, line.trim_end(), "{name}: trailing whitespace");
        }
        formatted += 1;
    }
    assert!(formatted >= 50, "only {formatted} specs formatted");
    assert!(refused >= 1, "no spec with syntax errors was tried");
}

#[test]
fn the_examples_keep_their_check_results_as_a_chain() {
    let kv: Vec<PathBuf> = ["specs/kv/kv-1-2.ups", "specs/kv/kv-2-3.ups"]
        .iter()
        .map(|p| repo_root().join(p))
        .collect();
    let mut before = SourceMap::new();
    let mut after = SourceMap::new();
    for p in &kv {
        let text = std::fs::read_to_string(p).unwrap();
        after.add(p.display().to_string(), format(&text).unwrap());
        before.add(p.display().to_string(), text);
    }
    let summary = |s: &SourceMap| -> Vec<(String, String)> {
        check_sources(s)
            .diagnostics
            .iter()
            .map(|d| (d.code.to_string(), d.message.clone()))
            .collect()
    };
    assert_eq!(summary(&before), summary(&after));
}

/// Inserts a comment at many token boundaries of each example spec: formatting keeps every
/// comment, keeps the tree, and is idempotent.
#[test]
fn comments_anywhere_survive() {
    let mut tried = 0;
    for path in example_specs() {
        let text = std::fs::read_to_string(&path).unwrap();
        let tokens = lex::tokens(&text);
        // Every 13th token boundary: a line comment, a block comment, an own-line comment.
        for (n, t) in tokens.iter().enumerate().step_by(13) {
            let comment = match n % 3 {
                0 => " // note\n",
                1 => " /* note */ ",
                _ => "\n// own line\n",
            };
            let mut mutated = text.clone();
            mutated.insert_str(t.end, comment);
            let once = match format(&mutated) {
                Ok(once) => once,
                // A comment inside a token: not a spec any more.
                Err(FormatError::Syntax(_)) => continue,
                Err(e) => panic!(
                    "{}: comment after token {n}: {e}\n{mutated}",
                    path.display()
                ),
            };
            let twice =
                format(&once).unwrap_or_else(|e| panic!("{}: second pass: {e}", path.display()));
            if once != twice {
                let around = mutated
                    .get(t.end.saturating_sub(80)..(t.end + 80).min(mutated.len()))
                    .unwrap_or("");
                panic!("{}: not idempotent with a comment after token {n}:\n...{around}...\n--- once ---\n{once}\n--- twice ---\n{twice}", path.display());
            }
            tried += 1;
        }
    }
    assert!(tried > 100, "only {tried} mutations tried");
}

// ---------------------------------------------------------------- the binary

fn upstartc(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_upstartc"))
        .args(args)
        .output()
        .unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("upstartc-fmt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn cli_check_lists_files_that_would_change_and_fmt_rewrites_them() {
    let dir = temp_dir("cli");
    let messy = dir.join("messy.ups");
    let tidy = dir.join("tidy.ups");
    let messy_text =
        "upgrade kv 1->2\nversion 1 { state { a: u64 } }\nversion 2 { state { a: u64 } }\n";
    std::fs::write(&messy, messy_text).unwrap();
    std::fs::write(&tidy, format(messy_text).unwrap()).unwrap();
    let files = [messy.to_str().unwrap(), tidy.to_str().unwrap()];
    let check = || upstartc(&[&["fmt", "--check"][..], &files].concat());

    let out = check();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let listed = String::from_utf8(out.stdout).unwrap();
    assert!(
        listed.contains("messy.ups") && !listed.contains("tidy.ups"),
        "{listed}"
    );
    assert_eq!(
        std::fs::read_to_string(&messy).unwrap(),
        messy_text,
        "--check must not write"
    );

    let out = upstartc(&[&["fmt"][..], &files].concat());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(&messy).unwrap(),
        format(messy_text).unwrap()
    );
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        2,
        "temporary files left behind: {leftovers:?}"
    );

    let out = check();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cli_refuses_a_file_with_syntax_errors_and_leaves_it_alone() {
    let dir = temp_dir("broken");
    let broken = dir.join("broken.ups");
    let text = "upgrade kv 1 -> 2\nversion 1 { record }\n";
    std::fs::write(&broken, text).unwrap();
    let out = upstartc(&["fmt", broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("U0001"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&broken).unwrap(), text);
    let missing = dir.join("missing.ups");
    assert_eq!(
        upstartc(&["fmt", missing.to_str().unwrap()]).status.code(),
        Some(2)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The layout of the input does not matter: an example with its comments removed, then put on
/// one line, formats as the same example with only its blank lines removed.
#[test]
fn the_layout_is_canonical() {
    for path in example_specs() {
        let text = std::fs::read_to_string(&path).unwrap();
        let mut bare = text.clone();
        for c in lex::comments(&text).iter().rev() {
            bare.replace_range(c.start..c.end, "");
        }
        let no_blank_lines: String = bare
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| format!("{l}\n"))
            .collect();
        let one_line = bare.split_whitespace().collect::<Vec<_>>().join(" ");
        let a = format(&no_blank_lines).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let b = format(&one_line).unwrap_or_else(|e| panic!("{} on one line: {e}", path.display()));
        assert_eq!(a, b, "{}", path.display());
    }
}

#[test]
fn a_large_generated_spec_formats_idempotently() {
    let text = lang::synth::large_spec(1_500);
    let once = format(&text).unwrap();
    assert_eq!(format(&once).unwrap(), once);
    assert_eq!(
        check_results("big.ups", &once),
        check_results("big.ups", &text)
    );
}
