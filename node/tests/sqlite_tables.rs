//! A SQLite state keeps the schema of every table through an upgrade, a reverse run and a
//! rollback, also where its rows say nothing of it: a table with no rows keeps its columns (the
//! old version's in the backup, the new version's in the transform's output, with the columns
//! the new version adds), and a column null in every row keeps the type the spec declares.
//! The transform is the kvsql example's plugin (`specs/kvsql`: `entries (key, value)` ->
//! `items (key, value, expires_at)`).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
#![allow(clippy::indexing_slicing, clippy::panic, reason = "tests")]

use runtime::plugin::{Expect, Plugin};
use runtime::transform;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The kvsql spec, under `specs/`.
const KVSQL: &str = "kvsql/kvsql-1-2.ups";

fn plugin() -> Plugin {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    let path = PATH.get_or_init(|| {
        upstart_test_support::plugins::build(&upstart_test_support::specs_dir().join(KVSQL))
    });
    Plugin::load(path, &Expect::default()).unwrap()
}

/// The kvsql plugin of a spec declaring `state dir` (a directory of JSON documents).
fn dir_plugin() -> Plugin {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    let path = PATH.get_or_init(|| {
        let text = upstart_test_support::spec(KVSQL);
        let dir = upstart_test_support::repo_root().join("target/node-tests/specs");
        std::fs::create_dir_all(&dir).unwrap();
        let spec = dir.join("kvsql-1-2-state-dir.ups");
        std::fs::write(&spec, text.replace("state sqlite {", "state dir {")).unwrap();
        upstart_test_support::plugins::build(&spec)
    });
    Plugin::load(path, &Expect::default()).unwrap()
}

/// The columns of `table` in the database `path`: (name, declared type).
fn columns(path: &Path, table: &str) -> Vec<(String, String)> {
    let db = rusqlite::Connection::open(path).unwrap();
    let mut stmt = db.prepare(&format!("PRAGMA table_info({table})")).unwrap();
    stmt.query_map([], |r| Ok((r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn cols(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect()
}

/// A database at schema 1, as the kvsql program makes it, holding `rows`.
fn schema_1(path: &Path, rows: &[(&str, &str)]) {
    let db = rusqlite::Connection::open(path).unwrap();
    db.execute_batch("CREATE TABLE entries (key TEXT PRIMARY KEY, value TEXT)")
        .unwrap();
    for (k, v) in rows {
        db.execute("INSERT INTO entries (key, value) VALUES (?1, ?2)", (k, v))
            .unwrap();
    }
}

/// A database at schema 1 holding `rows`, alone in a temporary directory, upgraded to schema 2
/// by the kvsql plugin `plugin`: the directory and the database's path.
fn upgraded(rows: &[(&str, &str)], plugin: &Plugin) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.db");
    schema_1(&state, rows);
    transform::upgrade(&state, 1, 2, plugin, None).unwrap();
    (dir, state)
}

const ITEMS: [(&str, &str); 3] = [
    ("key", "TEXT"),
    ("value", "TEXT"),
    ("expires_at", "INTEGER"),
];
const ENTRIES: [(&str, &str); 2] = [("key", "TEXT"), ("value", "TEXT")];

#[test]
fn an_empty_table_keeps_its_columns_and_gains_the_new_versions() {
    let (dir, state) = upgraded(&[], &plugin());
    assert_eq!(columns(&state, "items"), cols(&ITEMS));
    assert_eq!(
        columns(&dir.path().join("state.db.v2"), "items"),
        cols(&ITEMS)
    );
    assert_eq!(
        columns(&dir.path().join("state.db.v1"), "entries"),
        cols(&ENTRIES)
    );
    // The new program writes its rows as it always does.
    let db = rusqlite::Connection::open(&state).unwrap();
    db.execute(
        "INSERT INTO items (key, value, expires_at) VALUES ('k', 'v', 5)",
        [],
    )
    .unwrap();
}

#[test]
fn a_column_null_in_every_row_keeps_the_type_the_spec_declares() {
    let (_dir, state) = upgraded(&[("a", "one"), ("b", "two")], &plugin());
    assert_eq!(columns(&state, "items"), cols(&ITEMS));
    let v: serde_json::Value =
        serde_json::from_slice(&transform::storage::load(&state).unwrap()).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"items": {
            "a": {"value": "one", "expires_at": null},
            "b": {"value": "two", "expires_at": null},
        }})
    );
}

#[test]
fn a_rollback_and_a_reverse_run_give_the_old_versions_columns_back() {
    let plugin = plugin();
    // Rollback after a completed upgrade: the backup comes back, columns and all.
    let (_dir, state) = upgraded(&[], &plugin);
    transform::rollback(&state, 1, 2).unwrap();
    assert_eq!(columns(&state, "entries"), cols(&ENTRIES));
    // A reverse run of an empty version-2 table writes version 1's columns.
    transform::upgrade(&state, 1, 2, &plugin, None).unwrap();
    transform::reverse(&state, 2, 1, &plugin, None).unwrap();
    assert_eq!(columns(&state, "entries"), cols(&ENTRIES));
}

#[test]
fn a_state_of_another_kind_than_the_spec_declares_is_refused_untouched() {
    // The kvsql spec declares `state sqlite`: a JSON document and a directory are refused
    // before anything is written.
    let dir = tempfile::tempdir().unwrap();
    let plugin = plugin();
    let json = dir.path().join("state.json");
    std::fs::write(&json, br#"{"entries":{"a":{"value":"one"}}}"#).unwrap();
    let tree = dir.path().join("state.d");
    std::fs::create_dir_all(tree.join("entries")).unwrap();
    std::fs::write(tree.join("entries/a.json"), br#"{"value":"one"}"#).unwrap();
    for (state, found) in [(&json, "a JSON document"), (&tree, "a directory")] {
        let before = std::fs::read_dir(dir.path()).unwrap().count();
        let e = transform::upgrade(state, 1, 2, &plugin, None).unwrap_err();
        let shown = e.to_string();
        assert!(
            shown.starts_with("storage check failed: ")
                && shown.contains(found)
                && shown.contains(&format!(
                    "is {found}, but the spec declares version 1's state as `state sqlite`; \
                     nothing was changed\n  help: "
                )),
            "{shown}"
        );
        assert!(transform::check_storage(state, 1, &plugin).is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), before);
        assert!(transform::pending(state).unwrap().is_none());
    }
    assert_eq!(
        std::fs::read(&json).unwrap(),
        br#"{"entries":{"a":{"value":"one"}}}"#
    );
    // The database the spec declares passes.
    let db = dir.path().join("state.db");
    schema_1(&db, &[]);
    transform::check_storage(&db, 1, &plugin).unwrap();
}

/// The same for a directory: a map of records without records is an empty sub-directory
/// before and after the transform (not a `<field>.json` holding `{}`), in the backup and after
/// a rollback too.
#[test]
fn an_empty_map_in_a_state_directory_stays_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir_all(state.join("entries")).unwrap();
    let plugin = dir_plugin();
    transform::upgrade(&state, 1, 2, &plugin, None).unwrap();
    assert!(
        state.join("items").is_dir(),
        "{:?}",
        std::fs::read_dir(&state).unwrap().collect::<Vec<_>>()
    );
    assert!(!state.join("items.json").exists());
    assert!(dir.path().join("state.v1").join("entries").is_dir());
    transform::rollback(&state, 1, 2).unwrap();
    assert!(state.join("entries").is_dir());
    assert!(!state.join("entries.json").exists());
}
