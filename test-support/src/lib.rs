//! Dev-only support shared by the tests of the workspace: where the repository is, the example
//! specs under `specs/`, snapshot files compared with what a test produced (`UPSTART_BLESS=1`
//! writes them instead), table-driven tests ([`test_cases!`]), whether a socket read ran past its
//! read timeout ([`timed_out`]), the fixture plugin ([`fixture`]) and, with the feature
//! `compile`, checked models (`model`) and plugins built from specs (`plugins`).
//!
//! Without its feature `compile` it depends on no crate of the workspace, so every crate can
//! take it as a dev-dependency.
//! Failing to read the repository is a broken checkout, not a test result: these helpers panic
//! with the path.

#![allow(
    clippy::panic,
    reason = "test support: a missing file fails the test that asked"
)]

mod cases;
pub mod fixture;
#[cfg(feature = "compile")]
pub mod model;
#[cfg(feature = "compile")]
pub mod plugins;

use sha2::{Digest, Sha256};
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The repository's root (the workspace folder).
pub fn repo_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// The sha-256 of `bytes` in lowercase hex, as plugin manifests carry a spec's hash.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            // Writing to a `String` cannot fail.
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

/// Whether `e`, from a read on a socket given a read timeout, says the timeout passed (no byte
/// came): `WouldBlock` on Unix, `TimedOut` elsewhere, as `set_read_timeout` documents.
pub fn timed_out(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// `specs/` of the repository.
pub fn specs_dir() -> PathBuf {
    repo_root().join("specs")
}

/// `path` relative to the repository's root, as tests name files (`specs/kv/kv-1-2.ups`).
pub fn relative(path: &Path) -> String {
    path.strip_prefix(repo_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The text of a file, or a panic naming it.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The text of `specs/<rel>` (`spec("kv/kv-1-2.ups")`).
pub fn spec(rel: &str) -> String {
    read(&specs_dir().join(rel))
}

/// Every `*.ups` file under `dir`, recursively, sorted by path; folders in `skip` are left out.
pub fn ups_files(dir: &Path, skip: &[&Path]) -> Vec<PathBuf> {
    files(dir, "ups", &|folder| skip.contains(&folder))
}

/// Every file with extension `ext` under `dir`, recursively, sorted by path; folders for which
/// `skip` says so are left out.
pub fn files(dir: &Path, ext: &str, skip: &dyn Fn(&Path) -> bool) -> Vec<PathBuf> {
    fn walk(dir: &Path, ext: &str, skip: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>) {
        let entries =
            std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            if path.is_dir() {
                if !skip(&path) {
                    walk(&path, ext, skip, out);
                }
            } else if path.extension().is_some_and(|e| e == ext) {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, ext, skip, &mut out);
    out
}

/// Every Rust source of the repository, sorted: build output, hidden folders and the
/// standalone fixture crate (outside the workspace) left out. Panics unless the walk finds more
/// than `MIN_RUST_SOURCES`, so that a test over every source cannot pass by finding none.
pub fn rust_sources() -> Vec<PathBuf> {
    let out = files(&repo_root(), "rs", &|folder| {
        folder.file_name().is_some_and(|n| {
            let n = n.to_string_lossy();
            n == "target" || n.starts_with('.') || n == "fixture-plugin"
        })
    });
    assert!(
        out.len() > MIN_RUST_SOURCES,
        "the walk found too few Rust files: {}",
        out.len()
    );
    out
}

/// A walk that finds no more Rust sources than this has gone wrong (the repository has hundreds).
const MIN_RUST_SOURCES: usize = 100;

/// The example specs: every `*.ups` under `specs/` except the UI cases of `specs/ui/`, sorted.
pub fn example_specs() -> Vec<PathBuf> {
    let ui = specs_dir().join("ui");
    let out = ups_files(&specs_dir(), &[&ui]);
    assert!(
        out.len() >= 4,
        "too few example specs under specs/: {out:?}"
    );
    out
}

/// Every spec of the repository: the examples and the UI cases, sorted.
pub fn all_specs() -> Vec<PathBuf> {
    ups_files(&specs_dir(), &[])
}

/// The cursor marker of fixtures (as in rust-analyzer's tests).
pub const CURSOR: &str = "$0";

/// Splits a fixture at its one cursor marker `$0`: the text without it, and the cursor's byte
/// offset.
pub fn cursor(fixture: &str) -> (String, usize) {
    let offset = fixture
        .find(CURSOR)
        .unwrap_or_else(|| panic!("no `{CURSOR}` in the fixture:\n{fixture}"));
    let text = fixture.replacen(CURSOR, "", 1);
    assert!(
        !text.contains(CURSOR),
        "two `{CURSOR}` in the fixture:\n{fixture}"
    );
    (text, offset)
}

/// Whether this run writes snapshots instead of comparing them (`UPSTART_BLESS=1`).
pub fn blessing() -> bool {
    std::env::var_os("UPSTART_BLESS").is_some()
}

/// How a snapshot differs from what the test produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// There is no snapshot file.
    Missing,
    /// The snapshot holds other text (line endings normalized).
    Differs { expected: String },
}

/// Compares `actual` with the snapshot at `path`; under `UPSTART_BLESS=1` writes `actual` there
/// instead (and creates the folder).
pub fn check_snapshot(path: &Path, actual: &str) -> Result<(), Mismatch> {
    if blessing() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        }
        std::fs::write(path, actual)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        return Ok(());
    }
    match std::fs::read_to_string(path) {
        Err(_) => Err(Mismatch::Missing),
        Ok(expected) => {
            let expected = expected.replace("\r\n", "\n");
            if expected == actual {
                Ok(())
            } else {
                Err(Mismatch::Differs { expected })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn examples_leave_out_the_ui_cases() {
        let examples = example_specs();
        assert!(examples
            .iter()
            .all(|p| !relative(p).starts_with("specs/ui/")));
        let all = all_specs();
        assert!(all.len() > examples.len());
        assert!(examples.iter().all(|p| all.contains(p)));
        assert!(relative(examples.first().unwrap()).starts_with("specs/"));
    }

    #[test]
    fn the_cursor_is_where_the_marker_was() {
        assert_eq!(cursor("ab$0c"), ("abc".to_string(), 2));
        assert_eq!(cursor("$0"), (String::new(), 0));
    }

    #[test]
    fn a_snapshot_matches_or_says_how_not() {
        let dir = std::env::temp_dir().join(format!("upstart-ts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.snap");
        if !blessing() {
            assert_eq!(check_snapshot(&path, "x\n"), Err(Mismatch::Missing));
            std::fs::write(&path, "x\r\n").unwrap();
            assert_eq!(check_snapshot(&path, "x\n"), Ok(()));
            assert_eq!(
                check_snapshot(&path, "y\n"),
                Err(Mismatch::Differs {
                    expected: "x\n".to_string()
                })
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
