//! Parser snapshots: every `*.ups` under `specs/` (except the bad specs of `specs/ui/`) parses
//! without diagnostics, and its printed AST matches `tests/snapshots/<path>.ast`, where
//! `<path>` is the spec's path under `specs/` without `.ups` and with `/` written `__`
//! (`specs/kv/kv-1-2.ups` -> `kv__kv-1-2.ast`).
//!
//! A snapshot holds its input: the whole spec, each line prefixed by `// `, then a line
//! `// ----`, then the tree from `lang::ast::print::print_spec`. So a change to either the spec
//! or the parser shows up as a diff of the snapshot.
//!
//! Run with `UPSTART_BLESS=1` to write the snapshots anew (and remove those whose spec is
//! gone); review the diff before committing.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

use lang::ast::print::print_spec;
use std::path::{Path, PathBuf};
use upstart_test_support::{
    blessing, check_snapshot, example_specs, relative, specs_dir, Mismatch,
};

fn snapshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots")
}

/// `specs/kv/kv-1-2.ups` -> `kv__kv-1-2.ast`
fn snapshot_name(spec: &Path) -> String {
    let relative = spec.strip_prefix(specs_dir()).unwrap().with_extension("");
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    format!("{}.ast", parts.join("__"))
}

/// The snapshot text: the input as `// ` comments, a `// ----` line, the tree.
fn snapshot_text(input: &str, tree: &str) -> String {
    let mut out = String::new();
    for line in input.lines() {
        if line.is_empty() {
            out.push_str("//\n");
        } else {
            out.push_str("// ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str("// ----\n");
    out.push_str(tree);
    out
}

/// A line diff (longest common subsequence) showing changed lines with 3 lines of context.
fn diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    let (n, m) = (a.len(), b.len());
    // lcs[i][j]: length of the LCS of a[i..] and b[j..]
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    // (tag, line number in expected/actual, text)
    let mut ops: Vec<(char, usize, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push((' ', i + 1, a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', i + 1, a[i]));
            i += 1;
        } else {
            ops.push(('+', j + 1, b[j]));
            j += 1;
        }
    }
    let near_change = |k: usize| {
        let lo = k.saturating_sub(3);
        let hi = (k + 3).min(ops.len() - 1);
        ops[lo..=hi].iter().any(|(tag, _, _)| *tag != ' ')
    };
    let mut out = String::new();
    let mut skipped = false;
    for (k, (tag, line, text)) in ops.iter().enumerate() {
        if near_change(k) {
            if skipped {
                out.push_str("   ...\n");
                skipped = false;
            }
            out.push_str(&format!("{tag} {line:>4} | {text}\n"));
        } else {
            skipped = true;
        }
    }
    out
}

#[test]
fn specs_parse_to_their_snapshots() {
    let bless = blessing();
    let specs = example_specs();
    assert!(
        !specs.is_empty(),
        "no specs found under {}",
        specs_dir().display()
    );
    if bless {
        std::fs::create_dir_all(snapshot_dir()).unwrap();
    }

    let mut failures = Vec::new();
    let mut wanted = std::collections::BTreeSet::new();
    for spec in &specs {
        let shown = relative(spec);
        let text = std::fs::read_to_string(spec).unwrap();
        let parsed = lang::parse(lang::FileId(0), &text);
        if !parsed.diagnostics.is_empty() {
            let codes: Vec<String> = parsed
                .diagnostics
                .iter()
                .map(|d| format!("{} {}", d.code, d.message))
                .collect();
            failures.push(format!("{shown}: expected no diagnostics, got {codes:#?}"));
            continue;
        }
        let Some(ast) = parsed.spec else {
            failures.push(format!("{shown}: no spec (header did not parse)"));
            continue;
        };
        let actual = snapshot_text(&text, &print_spec(&ast));
        let name = snapshot_name(spec);
        let path = snapshot_dir().join(&name);
        wanted.insert(name.clone());
        match check_snapshot(&path, &actual) {
            Err(Mismatch::Missing) => failures.push(format!(
                "{shown}: no snapshot lang/tests/snapshots/{name}; \
                 run `UPSTART_BLESS=1 cargo test -p lang --test snapshots` to create it"
            )),
            Err(Mismatch::Differs { expected }) => failures.push(format!(
                "{shown}: AST differs from lang/tests/snapshots/{name} \
                 (- snapshot, + now):\n{}",
                diff(&expected, &actual)
            )),
            Ok(()) => {}
        }
    }

    // Snapshots whose spec is gone.
    for entry in std::fs::read_dir(snapshot_dir()).into_iter().flatten() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".ast") || wanted.contains(&name) {
            continue;
        }
        if bless {
            std::fs::remove_file(&path).unwrap();
        } else {
            failures.push(format!(
                "lang/tests/snapshots/{name}: no spec under specs/ for it"
            ));
        }
    }

    assert!(
        failures.is_empty(),
        "{} of {} specs failed:\n\n{}\n\nIf the change is intended, bless the snapshots with \
         `UPSTART_BLESS=1 cargo test -p lang --test snapshots` and review the diff.",
        failures.len(),
        specs.len(),
        failures.join("\n\n")
    );
}

#[test]
fn diff_shows_changed_lines_with_context() {
    let d = diff("a\nb\nc\nd\ne\nf\ng\nh\ni\n", "a\nb\nc\nd\nE\nf\ng\nh\ni\n");
    assert_eq!(
        d,
        "   ...\n     2 | b\n     3 | c\n     4 | d\n-    5 | e\n+    5 | E\n     6 | f\n     7 | g\n     8 | h\n"
    );
    assert_eq!(diff("x\n", "x\n"), "");
}
