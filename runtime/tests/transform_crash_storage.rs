//! Crash safety of the state transform for the state kinds beyond one JSON file: a SQLite
//! database and a directory of JSON documents (see `runtime::transform::storage`). As in
//! `transform_crash.rs`, this binary re-runs itself as a helper (`storage_helper`, active only
//! under `UPSTART_STORAGE_HELPER`) that transforms the state and is killed with SIGKILL at each
//! durable point; then a rerun completes, or a recovery rolls back, and the state must hold
//! exactly the old records or exactly their transform, in its own kind.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
#![allow(clippy::indexing_slicing, clippy::panic, reason = "tests")]

use runtime::transform::{self, Invariant, Point, Policy, ReverseTransform, StateTransform};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod crash;
use crash::Helper;

/// `{"entries": {k: {"value": v}}}` -> `{"items": {k: {"value": v, "len": |v|}}}`; invariant:
/// the same keys and values.
struct Split;

fn parse(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice(bytes)
}

impl StateTransform for Split {
    fn transform(&self, old: &[u8]) -> Result<Vec<u8>, transform::Cause> {
        let v = parse(old)?;
        let entries = v["entries"].as_object().ok_or("no entries")?;
        let items: Map<String, Value> = entries
            .iter()
            .map(|(k, e)| {
                let s = e["value"].as_str().unwrap_or_default();
                (k.clone(), json!({"value": s, "len": s.len()}))
            })
            .collect();
        Ok(serde_json::to_vec(
            &json!({ "items": items, "version": 2 }),
        )?)
    }
}

impl Invariant for Split {
    fn check_invariant(&self, old: &[u8], new: &[u8]) -> Result<bool, transform::Cause> {
        let (o, n) = (parse(old)?, parse(new)?);
        let (Some(o), Some(n)) = (o["entries"].as_object(), n["items"].as_object()) else {
            return Ok(false);
        };
        Ok(o.len() == n.len()
            && o.iter()
                .all(|(k, e)| n.get(k).map(|i| &i["value"]) == Some(&e["value"])))
    }
}

impl ReverseTransform for Split {
    fn reverse_transform(&self, new: &[u8]) -> Result<Vec<u8>, transform::Cause> {
        let v = parse(new)?;
        let items = v["items"].as_object().ok_or("no items")?;
        let entries: Map<String, Value> = items
            .iter()
            .map(|(k, i)| (k.clone(), json!({"value": i["value"]})))
            .collect();
        Ok(serde_json::to_vec(&json!({ "entries": entries }))?)
    }
}

/// [`Split`] with the layouts a spec declaring `state sqlite` gives: `entries (value TEXT)` at
/// version 1, `items (value TEXT, len INTEGER)` at version 2.
struct Declared;

fn sqlite_layout(new: bool) -> transform::storage::Layout {
    let cols = |c: &[(&str, &str)]| {
        c.iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect::<Vec<_>>()
    };
    let table = if new {
        (
            "items".to_owned(),
            cols(&[("value", "TEXT"), ("len", "INTEGER")]),
        )
    } else {
        ("entries".to_owned(), cols(&[("value", "TEXT")]))
    };
    transform::storage::Layout {
        kind: transform::storage::Kind::Sqlite,
        tables: transform::storage::Tables::new([table]),
    }
}

impl Invariant for Declared {
    fn check_invariant(&self, old: &[u8], new: &[u8]) -> Result<bool, transform::Cause> {
        Split.check_invariant(old, new)
    }
}

impl StateTransform for Declared {
    fn transform(&self, old: &[u8]) -> Result<Vec<u8>, transform::Cause> {
        StateTransform::transform(&Split, old)
    }

    fn layout(&self, new: bool) -> Option<transform::storage::Layout> {
        Some(sqlite_layout(new))
    }
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Sqlite,
    Dir,
}

/// The records of a state as the test sees them, read without the runtime: table (or
/// sub-directory) -> key -> record, plus the scalars.
type Records = BTreeMap<String, BTreeMap<String, Value>>;

fn n_entries(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            (
                format!("key-{i:05}"),
                format!("value {i} {}", "x".repeat(i % 50)),
            )
        })
        .collect()
}

/// Writes the table `table` into `state` as a program would: in a database a table of a
/// `key TEXT PRIMARY KEY` and `columns` (SQL column definitions, the name first) with a row per
/// record; in a directory a sub-directory `table/` with one `<key>.json` per record, an object
/// of the columns' names. A record is its key and its values, in the order of `columns`.
fn write_table(
    kind: Kind,
    state: &Path,
    table: &str,
    columns: &[&str],
    records: &[(&str, Vec<Value>)],
) {
    let names: Vec<&str> = columns
        .iter()
        .map(|c| c.split_whitespace().next().unwrap())
        .collect();
    match kind {
        Kind::Sqlite => {
            let db = rusqlite::Connection::open(state).unwrap();
            db.execute_batch(&format!(
                "PRAGMA journal_mode=WAL; CREATE TABLE {table} (key TEXT PRIMARY KEY, {});",
                columns.join(", ")
            ))
            .unwrap();
            let insert = format!(
                "INSERT INTO {table} (key, {}) VALUES (?1{})",
                names.join(", "),
                (2..=names.len() + 1)
                    .map(|i| format!(", ?{i}"))
                    .collect::<String>()
            );
            let tx = db.unchecked_transaction().unwrap();
            for (key, values) in records {
                let row = std::iter::once(rusqlite::types::Value::Text(key.to_string())).chain(
                    values.iter().map(|v| match v {
                        Value::Number(n) => rusqlite::types::Value::Integer(n.as_i64().unwrap()),
                        Value::String(s) => rusqlite::types::Value::Text(s.clone()),
                        other => panic!("no SQL value for {other}"),
                    }),
                );
                tx.execute(&insert, rusqlite::params_from_iter(row))
                    .unwrap();
            }
            tx.commit().unwrap();
        }
        Kind::Dir => {
            let sub = state.join(table);
            std::fs::create_dir_all(&sub).unwrap();
            for (key, values) in records {
                let record: Map<String, Value> = names
                    .iter()
                    .map(|n| n.to_string())
                    .zip(values.iter().cloned())
                    .collect();
                std::fs::write(
                    sub.join(format!("{key}.json")),
                    Value::Object(record).to_string(),
                )
                .unwrap();
            }
        }
    }
}

/// Writes the old (version 1) state as a program of version 1 would: a table `entries` with a
/// `key` primary key, or a directory `entries/` with one `<key>.json` per record.
fn write_old(kind: Kind, state: &Path, entries: &[(String, String)]) {
    let records: Vec<(&str, Vec<Value>)> = entries
        .iter()
        .map(|(k, v)| (k.as_str(), vec![json!(v)]))
        .collect();
    write_table(kind, state, "entries", &["value TEXT NOT NULL"], &records);
}

/// The records in `state`, read directly (rusqlite, or the files).
fn records(kind: Kind, state: &Path) -> Records {
    let mut out = Records::new();
    match kind {
        Kind::Sqlite => {
            assert!(state.is_file(), "`{}` is a database file", state.display());
            let db = rusqlite::Connection::open(state).unwrap();
            let tables: Vec<String> = db
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            for t in tables {
                let mut stmt = db.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
                let cols: Vec<String> = stmt.column_names().map(str::to_owned).collect();
                let rows = stmt
                    .query_map([], |r| {
                        let mut m = Map::new();
                        for (i, c) in cols.iter().enumerate() {
                            let v = match r.get_ref(i).unwrap() {
                                rusqlite::types::ValueRef::Integer(n) => json!(n),
                                rusqlite::types::ValueRef::Text(s) => {
                                    json!(String::from_utf8_lossy(s))
                                }
                                rusqlite::types::ValueRef::Null => Value::Null,
                                other => panic!("unexpected {other:?}"),
                            };
                            m.insert(c.clone(), v);
                        }
                        Ok(m)
                    })
                    .unwrap()
                    .map(Result::unwrap);
                let table = out.entry(t.clone()).or_default();
                for mut m in rows {
                    let key = m
                        .remove("key")
                        .or_else(|| m.remove("name"))
                        .and_then(|k| k.as_str().map(str::to_owned))
                        .unwrap();
                    table.insert(key, Value::Object(m));
                }
            }
        }
        Kind::Dir => {
            assert!(state.is_dir(), "`{}` is a directory", state.display());
            for e in std::fs::read_dir(state).unwrap() {
                let e = e.unwrap();
                let name = e.file_name().to_string_lossy().into_owned();
                if e.path().is_dir() {
                    let table = out.entry(name).or_default();
                    for f in std::fs::read_dir(e.path()).unwrap() {
                        let f = f.unwrap().path();
                        let key = f.file_stem().unwrap().to_string_lossy().into_owned();
                        table.insert(key, parse(&std::fs::read(&f).unwrap()).unwrap());
                    }
                } else {
                    let key = name.trim_end_matches(".json").to_owned();
                    out.entry(String::new())
                        .or_default()
                        .insert(key, parse(&std::fs::read(e.path()).unwrap()).unwrap());
                }
            }
        }
    }
    out
}

/// The records of the old state: the same in both kinds.
fn old_records(entries: &[(String, String)]) -> Records {
    let t: BTreeMap<String, Value> = entries
        .iter()
        .map(|(k, v)| (k.clone(), json!({"value": v})))
        .collect();
    Records::from([("entries".to_owned(), t)])
}

fn new_records(kind: Kind, entries: &[(String, String)]) -> Records {
    let t: BTreeMap<String, Value> = entries
        .iter()
        .map(|(k, v)| (k.clone(), json!({"value": v, "len": v.len()})))
        .collect();
    // The scalar `version` lives in the table `_scalars` (as JSON text), or in `version.json`.
    let scalars = match kind {
        Kind::Sqlite => BTreeMap::from([("version".to_owned(), json!({"value": "2"}))]),
        Kind::Dir => BTreeMap::from([("version".to_owned(), json!(2))]),
    };
    let scalar_table = match kind {
        Kind::Sqlite => "_scalars",
        Kind::Dir => "",
    };
    Records::from([("items".to_owned(), t), (scalar_table.to_owned(), scalars)])
}

/// The helper process: upgrades (or reverses, under `UPSTART_REVERSE`) `UPSTART_STATE`,
/// stopping at `UPSTART_STOP_AT` until killed.
#[test]
fn storage_helper() {
    let Some((state, hook, reverse)) = crash::helper_task("UPSTART_STORAGE_HELPER") else {
        return;
    };
    if reverse {
        transform::reverse(&state, 2, 1, &Split, Some(&hook)).unwrap();
    } else if std::env::var_os("UPSTART_DECLARED").is_some() {
        transform::upgrade(&state, 1, 2, &Declared, Some(&hook)).unwrap();
    } else {
        transform::upgrade(&state, 1, 2, &Split, Some(&hook)).unwrap();
    }
    println!("finished");
}

fn helper(state: &Path, stop_at: Option<Point>, reverse: bool) -> Helper {
    helper_of(state, stop_at, reverse, false)
}

/// [`helper`]; `declared`: the upgrade runs with [`Declared`]'s layouts.
fn helper_of(state: &Path, stop_at: Option<Point>, reverse: bool, declared: bool) -> Helper {
    let task = crash::Task {
        state,
        stop_at: stop_at.map(Point::name),
        reverse,
    };
    crash::spawn("storage_helper", "UPSTART_STORAGE_HELPER", task, |cmd| {
        crash::set_or_remove(cmd, "UPSTART_DECLARED", declared.then_some("1"));
    })
}

/// Waits (at most 60 s) for the helper's `reached ...` or `finished` line.
fn wait_for_line(h: &mut Helper) -> String {
    crash::next_line(h).unwrap_or_else(|| "the helper died without reaching its point".to_owned())
}

fn state_path(kind: Kind, dir: &Path) -> PathBuf {
    match kind {
        Kind::Sqlite => dir.join("state.db"),
        Kind::Dir => dir.join("state"),
    }
}

/// A new state of `kind` made by `prepare`, and a helper upgrading it (reversing it, when
/// `reverse`) killed at `point`: the state's directory and path.
fn killed_at(
    kind: Kind,
    point: Point,
    reverse: bool,
    prepare: impl FnOnce(&Path),
) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let state = state_path(kind, dir.path());
    prepare(&state);
    let mut h = helper(&state, Some(point), reverse);
    assert_eq!(
        wait_for_line(&mut h),
        format!("reached {}", point.name()),
        "{kind:?}"
    );
    drop(h); // SIGKILL
    (dir, state)
}

/// An upgrade killed at each point, then rerun: the state is the old or the new records right
/// after the kill, and the new ones after the rerun; the backup `STATE.v1` holds the old ones
/// in the same kind.
fn killed_at_each_point_then_rerun_completes(kind: Kind) {
    let entries = n_entries(300);
    let (old, new) = (old_records(&entries), new_records(kind, &entries));
    for point in Point::ALL {
        let (dir, state) = killed_at(kind, point, false, |s| write_old(kind, s, &entries));
        let now = records(kind, &state);
        assert!(
            now == old || now == new,
            "{kind:?} {point:?}: neither old nor new"
        );
        crash::finishes(helper(&state, None, false), &format!("{kind:?} {point:?}"));
        assert_eq!(
            records(kind, &state),
            new,
            "{kind:?} {point:?}: the rerun completes"
        );
        let backup = PathBuf::from(format!("{}.v1", state.display()));
        assert_eq!(
            records(kind, &backup),
            old,
            "{kind:?} {point:?}: the backup"
        );
        assert!(transform::pending(&state).unwrap().is_none());
        // Nothing is left beside the state but the backups, the output and the history.
        for e in std::fs::read_dir(dir.path()).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(
                !name.ends_with(".new") && !name.ends_with(".switch") && !name.ends_with(".tmp"),
                "{kind:?} {point:?}: `{name}` left behind"
            );
        }
    }
}

/// An upgrade killed at each point, then recovered with `RollBack` (and rolled back after a
/// completed run): exactly the old records.
fn killed_at_each_point_then_rollback(kind: Kind) {
    let entries = n_entries(100);
    let old = old_records(&entries);
    for point in Point::ALL {
        let (_dir, state) = killed_at(kind, point, false, |s| write_old(kind, s, &entries));
        transform::recover(&state, &Split, Policy::RollBack).unwrap();
        if point == Point::Done {
            transform::rollback(&state, 1, 2).unwrap();
        }
        assert_eq!(
            records(kind, &state),
            old,
            "{kind:?} {point:?}: rolled back"
        );
        assert!(transform::pending(&state).unwrap().is_none());
    }
}

/// A completed upgrade, then a reverse run killed at each point and rerun: the old kind of
/// records again, with the new version's records kept in history.
fn reverse_killed_at_each_point(kind: Kind) {
    let entries = n_entries(100);
    let (old, new) = (old_records(&entries), new_records(kind, &entries));
    for point in Point::ALL {
        let (_dir, state) = killed_at(kind, point, true, |s| {
            write_old(kind, s, &entries);
            transform::upgrade(s, 1, 2, &Split, None).unwrap();
            assert_eq!(records(kind, s), new);
        });
        let now = records(kind, &state);
        assert!(now == old || now == new, "{kind:?} {point:?}: neither");
        crash::finishes(helper(&state, None, true), &format!("{kind:?} {point:?}"));
        assert_eq!(records(kind, &state), old, "{kind:?} {point:?}: reversed");
        assert!(transform::pending(&state).unwrap().is_none());
        let kept: Vec<_> = transform::history::list(&state)
            .unwrap()
            .into_iter()
            .filter(|(v, _)| *v == 2)
            .collect();
        assert_eq!(
            kept.len(),
            1,
            "{kind:?} {point:?}: the version-2 state is kept once"
        );
    }
}

upstart_test_support::test_cases! { killed_at_each_point_then_rerun_completes;
    sqlite_killed_at_each_point_then_rerun_completes: (Kind::Sqlite),
    dir_killed_at_each_point_then_rerun_completes: (Kind::Dir),
}

upstart_test_support::test_cases! { killed_at_each_point_then_rollback;
    sqlite_killed_at_each_point_then_rollback: (Kind::Sqlite),
    dir_killed_at_each_point_then_rollback: (Kind::Dir),
}

upstart_test_support::test_cases! { reverse_killed_at_each_point;
    sqlite_reverse_killed_at_each_point: (Kind::Sqlite),
    dir_reverse_killed_at_each_point: (Kind::Dir),
}

/// Upgrades killed at moments spread over a whole run (so also in the middle of writing a
/// database or a directory), then alternately rerun or rolled back: the state is always the
/// old or the new records, and exactly the one asked for after.
fn killed_at_random_moments(kind: Kind) {
    // A directory is a file per record, each fsynced: fewer records keep its runs short.
    let entries = n_entries(match kind {
        Kind::Sqlite => 3000,
        Kind::Dir => 200,
    });
    let (old, new) = (old_records(&entries), new_records(kind, &entries));
    let dir = tempfile::tempdir().unwrap();
    let state = state_path(kind, dir.path());
    write_old(kind, &state, &entries);
    let start = std::time::Instant::now();
    let mut h = helper(&state, None, false);
    assert_eq!(wait_for_line(&mut h), "finished");
    let full = start.elapsed().as_micros() as u64;
    drop(h);
    assert_eq!(records(kind, &state), new);

    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..12 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let dir = tempfile::tempdir().unwrap();
        let state = state_path(kind, dir.path());
        write_old(kind, &state, &entries);
        let h = helper(&state, None, false);
        std::thread::sleep(Duration::from_micros(full / 3 + seed % (full + 1)));
        drop(h); // SIGKILL
        let now = records(kind, &state);
        assert!(now == old || now == new, "{kind:?} round {round}: neither");
        if round % 2 == 0 {
            crash::finishes(
                helper(&state, None, false),
                &format!("{kind:?} round {round}"),
            );
            assert_eq!(records(kind, &state), new, "{kind:?} round {round}");
        } else {
            transform::recover(&state, &Split, Policy::RollBack).unwrap();
            if records(kind, &state) == new {
                transform::rollback(&state, 1, 2).unwrap();
            }
            assert_eq!(records(kind, &state), old, "{kind:?} round {round}");
        }
        assert!(transform::pending(&state).unwrap().is_none());
    }
}

upstart_test_support::test_cases! { killed_at_random_moments;
    sqlite_killed_at_random_moments: (Kind::Sqlite),
    dir_killed_at_random_moments: (Kind::Dir),
}

/// The columns of `table` in the database `path`: `name TYPE` each.
fn columns(path: &Path, table: &str) -> Vec<String> {
    let db = rusqlite::Connection::open(path).unwrap();
    let mut stmt = db
        .prepare(&format!("PRAGMA table_info(\"{table}\")"))
        .unwrap();
    stmt.query_map([], |r| {
        Ok(format!(
            "{} {}",
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// An upgrade of a database whose table has no rows, with the spec's layouts, killed at each
/// point: rerun, the new table has the new version's columns and the backup the old one's;
/// recovered with `RollBack` (or rolled back after a completed run), the old table has its
/// columns again.
#[test]
fn sqlite_empty_tables_keep_their_columns_whatever_point_a_kill_hits() {
    for point in Point::ALL {
        for roll_back in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let state = state_path(Kind::Sqlite, dir.path());
            write_old(Kind::Sqlite, &state, &[]);
            let mut h = helper_of(&state, Some(point), false, true);
            assert_eq!(wait_for_line(&mut h), format!("reached {}", point.name()));
            drop(h); // SIGKILL
            if roll_back {
                transform::recover(&state, &Declared, Policy::RollBack).unwrap();
                if point == Point::Done {
                    transform::rollback(&state, 1, 2).unwrap();
                }
                assert_eq!(
                    columns(&state, "entries"),
                    ["key TEXT", "value TEXT"],
                    "{point:?}: rolled back"
                );
                continue;
            }
            let mut rerun = helper_of(&state, None, false, true);
            assert_eq!(wait_for_line(&mut rerun), "finished", "{point:?}");
            assert!(rerun.0.wait().unwrap().success());
            assert_eq!(
                columns(&state, "items"),
                ["key TEXT", "value TEXT", "len INTEGER"],
                "{point:?}"
            );
            let backup = PathBuf::from(format!("{}.v1", state.display()));
            assert_eq!(
                columns(&backup, "entries"),
                ["key TEXT", "value TEXT"],
                "{point:?}: the backup"
            );
        }
    }
}

/// Adds to the state `state` a table of the program's own that has no rows and that no spec
/// layout declares: `notes (key, text TEXT, at INTEGER)` in a database, an empty
/// sub-directory `notes/` in a directory. Only the state on disk says what it is.
fn add_empty_notes(kind: Kind, state: &Path) {
    write_table(
        kind,
        state,
        "notes",
        &["text TEXT NOT NULL", "at INTEGER"],
        &[],
    );
}

/// Writes a version-2 state as a program of version 2 would: `items` with a row (a record)
/// per entry, and the empty `notes`.
fn write_new_with_empty_notes(kind: Kind, state: &Path, entries: &[(String, String)]) {
    let records: Vec<(&str, Vec<Value>)> = entries
        .iter()
        .map(|(k, v)| (k.as_str(), vec![json!(v), json!(v.len())]))
        .collect();
    let columns = ["value TEXT NOT NULL", "len INTEGER NOT NULL"];
    write_table(kind, state, "items", &columns, &records);
    add_empty_notes(kind, state);
}

/// `records` with the empty `notes` table (sub-directory) added.
fn with_empty_notes(mut records: Records) -> Records {
    records.insert("notes".to_owned(), BTreeMap::new());
    records
}

/// What the agent does with an interrupted run when the plugin is not loaded: a pending run
/// is rolled back (`rollback` with the journal's versions); with no journal, `completed`
/// (what follows a completed run) is done.
fn roll_back_without_the_plugin(state: &Path, completed: impl FnOnce()) -> bool {
    match transform::pending(state).unwrap() {
        Some(j) => {
            transform::rollback(state, j.from, j.to).unwrap();
            true
        }
        None => {
            completed();
            false
        }
    }
}

/// The empty `notes` table has its declared columns, and `other` (a table with rows) its.
fn assert_notes_columns(state: &Path, other: (&str, &[&str]), case: &str) {
    assert_eq!(
        columns(state, "notes"),
        ["key TEXT", "text TEXT", "at INTEGER"],
        "{case}: the empty table's columns"
    );
    assert_eq!(columns(state, other.0), other.1, "{case}: `{}`", other.0);
}

/// A reverse run (2 -> 1) of a version-2 state holding an empty table, killed at each point,
/// then rolled back as the agent does without the plugin: the version-2 state again, its
/// empty table with its columns (in a directory: still a sub-directory) and every row of the
/// others; after a completed run (nothing pending), the version-1 state.
fn reverse_killed_then_rolled_back_without_the_plugin(kind: Kind) {
    let entries = n_entries(50);
    let old = old_records(&entries);
    let before: Records = {
        let t: BTreeMap<String, Value> = entries
            .iter()
            .map(|(k, v)| (k.clone(), json!({"value": v, "len": v.len()})))
            .collect();
        with_empty_notes(Records::from([("items".to_owned(), t)]))
    };
    for point in Point::ALL {
        let case = format!("{kind:?} {point:?}");
        let (_dir, state) = killed_at(kind, point, true, |s| {
            write_new_with_empty_notes(kind, s, &entries)
        });
        if roll_back_without_the_plugin(&state, || ()) {
            assert_eq!(records(kind, &state), before, "{case}: rolled back");
            if let Kind::Sqlite = kind {
                let items: &[&str] = &["key TEXT", "value TEXT", "len INTEGER"];
                assert_notes_columns(&state, ("items", items), &case);
            }
        } else {
            assert_eq!(point, Point::Done, "{case}: the journal is gone");
            assert_eq!(records(kind, &state), old, "{case}: reversed");
        }
        assert!(transform::pending(&state).unwrap().is_none(), "{case}");
    }
}

upstart_test_support::test_cases! { reverse_killed_then_rolled_back_without_the_plugin;
    sqlite_reverse_killed_then_rolled_back_without_the_plugin: (Kind::Sqlite),
    dir_reverse_killed_then_rolled_back_without_the_plugin: (Kind::Dir),
}

/// An upgrade (1 -> 2) of a version-1 state holding an empty table that the plugin's layout
/// does not declare (`declared`: [`Declared`]'s layouts, else none), killed at each point,
/// then rolled back as the agent does without the plugin (a pending run undone, a completed
/// one restored from its backup): the version-1 state, its empty table with its columns.
fn upgrade_killed_then_rolled_back_without_the_plugin(kind: Kind, declared: bool) {
    let entries = n_entries(50);
    let old = with_empty_notes(old_records(&entries));
    for point in Point::ALL {
        let case = format!("{kind:?} {point:?} declared {declared}");
        let dir = tempfile::tempdir().unwrap();
        let state = state_path(kind, dir.path());
        write_old(kind, &state, &entries);
        add_empty_notes(kind, &state);
        let mut h = helper_of(&state, Some(point), false, declared);
        assert_eq!(wait_for_line(&mut h), format!("reached {}", point.name()));
        drop(h); // SIGKILL
        roll_back_without_the_plugin(&state, || transform::rollback(&state, 1, 2).unwrap());
        assert_eq!(records(kind, &state), old, "{case}: rolled back");
        if let Kind::Sqlite = kind {
            let entries_cols: &[&str] = &["key TEXT", "value TEXT"];
            assert_notes_columns(&state, ("entries", entries_cols), &case);
        }
        assert!(transform::pending(&state).unwrap().is_none(), "{case}");
    }
}

upstart_test_support::test_cases! { upgrade_killed_then_rolled_back_without_the_plugin;
    sqlite_upgrade_killed_then_rolled_back_without_the_plugin: (Kind::Sqlite, false),
    sqlite_declared_upgrade_killed_then_rolled_back_without_the_plugin: (Kind::Sqlite, true),
    dir_upgrade_killed_then_rolled_back_without_the_plugin: (Kind::Dir, false),
}
