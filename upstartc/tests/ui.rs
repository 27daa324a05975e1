//! UI tests: every bad spec under `specs/ui/` yields exactly its expected diagnostic code, and
//! its rendered output (human and JSON) matches the files beside it.
//!
//! A case is `specs/ui/U0017-unknown_type.ups` (one file) or a folder
//! `specs/ui/U0090-chain_gap/` whose `*.ups` files are checked together as a chain. Expected
//! output sits beside it in `<case>.stderr` and `<case>.json`. Run with `UPSTART_BLESS=1` to
//! write them anew. Cases of codes U0100 and up (found by `verify`, not `check`) are also
//! verified, with seed 1 and 64 cases.
#![allow(clippy::unwrap_used, reason = "tests")]

use compiler::check::check_sources;
use compiler::verify::{verify, VerifyOptions};
use lang::diagnostic::codes::ALL;
use lang::diagnostic::Code;
use lang::span::SourceMap;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use upstart_test_support::{check_snapshot, repo_root, Mismatch};
use upstartc::render;

struct Case {
    /// `specs/ui/U0017-unknown_type` (no extension)
    stem: PathBuf,
    files: Vec<PathBuf>,
}

fn cases() -> Vec<Case> {
    let ui = repo_root().join("specs/ui");
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&ui)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            out.push(Case {
                files: upstart_test_support::ups_files(&path, &[]),
                stem: path,
            });
        } else if path.extension().is_some_and(|e| e == "ups") {
            out.push(Case {
                stem: path.with_extension(""),
                files: vec![path],
            });
        }
    }
    out
}

fn relative(path: &Path) -> String {
    path.strip_prefix(repo_root())
        .unwrap()
        .display()
        .to_string()
}

fn expected_code(stem: &Path) -> String {
    stem.file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .split('-')
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn ui_cases_match_their_expected_output() {
    let mut failures = Vec::new();
    let mut covered = BTreeSet::new();
    for case in cases() {
        let mut sources = SourceMap::new();
        for f in &case.files {
            sources.add(relative(f), std::fs::read_to_string(f).unwrap());
        }
        let mut out = check_sources(&sources);
        let want = expected_code(&case.stem);
        // Codes from U0100 on come from `verify`: such a case checks clean and fails verification.
        if Code::parse(&want).is_some_and(|c| c.0 >= 100) {
            if let Some(model) = out.models.first() {
                out.diagnostics
                    .extend(verify(model, &VerifyOptions { seed: 1, cases: 64 }).diagnostics);
            }
        }
        let got: BTreeSet<String> = out.diagnostics.iter().map(|d| d.code.to_string()).collect();
        let name = relative(&case.stem);
        if got.len() != 1 || !got.contains(&want) {
            failures.push(format!("{name}: expected only {want}, got {got:?}"));
        }
        covered.insert(want);
        let human = render::human(&sources, &out.diagnostics);
        let json = render::json_lines(&sources, &out.diagnostics);
        for (ext, actual) in [("stderr", human), ("json", json)] {
            let path = case.stem.with_extension(ext);
            match check_snapshot(&path, &actual) {
                Ok(()) => {}
                Err(Mismatch::Differs { expected }) => failures.push(format!(
                    "{name}.{ext} differs (UPSTART_BLESS=1 to accept)\n--- expected\n{expected}\n--- actual\n{actual}"
                )),
                Err(Mismatch::Missing) => failures.push(format!("{name}.{ext} is missing (UPSTART_BLESS=1 to write it)")),
            }
        }
    }
    for info in ALL {
        if !covered.contains(&info.code.to_string()) {
            failures.push(format!(
                "{} ({}) has no UI case under specs/ui/",
                info.code, info.name
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} UI failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn ui_case_names_match_the_registry() {
    for case in cases() {
        let file = case.stem.file_name().unwrap().to_str().unwrap().to_string();
        let (code, name) = file.split_once('-').unwrap_or((&file, ""));
        let info = ALL.iter().find(|i| i.code.to_string() == code);
        let info = info.unwrap_or_else(|| panic!("{file}: `{code}` is not a registered code"));
        assert_eq!(
            name, info.name,
            "{file}: a case is named `<code>-<name>` after the registry"
        );
    }
}
