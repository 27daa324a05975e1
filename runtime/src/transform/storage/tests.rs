//! The storage kinds round-tripped: what is stored loads back as `normalize` says.
#![allow(clippy::unwrap_used, reason = "tests")]
use super::*;
use serde_json::json;

fn roundtrip(kind: Kind, v: &Value) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s");
    let bytes = serde_json::to_vec(v).unwrap();
    store(kind, &p, &dir.path().join("s.new"), &bytes).unwrap();
    assert_eq!(Kind::of(&p).unwrap(), kind);
    let loaded = load(&p).unwrap();
    assert_eq!(
        loaded,
        normalize(kind, &bytes).unwrap(),
        "normalize is what load gives"
    );
    serde_json::from_slice(&loaded).unwrap()
}

#[test]
fn every_kind_keeps_the_value() {
    let v = json!({
        "accounts": {"a": {"cents": 5, "owner": "x", "open": true, "rate": 1.5, "tags": ["t"]},
                     "b": {"cents": -7, "owner": "y", "open": false, "rate": 2.0, "tags": []}},
        "log": [{"at": 1, "what": "a"}, {"at": 2, "what": null}],
        "mixed": {"a": {"x": 1}, "b": {"y": 2}},
        "key_named": {"a": {"key": 1}},
        "count": 3, "name": "n", "none": null, "big": u64::MAX, "empty_map": {}, "empty_list": [],
        "numbers": {"a": {"n": 1}, "b": {"n": 1.5}},
    });
    for kind in [Kind::Dir, Kind::Sqlite] {
        assert_eq!(roundtrip(kind, &v), v, "{kind:?}");
    }
}

/// The columns of `table` in the database `path`: (name, declared type).
fn columns(path: &Path, table: &str) -> Vec<(String, String)> {
    let db = Connection::open(path).unwrap();
    let mut stmt = db
        .prepare(&format!("PRAGMA table_info({})", quote(table)))
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn names(cols: &[(String, String)]) -> Vec<String> {
    cols.iter().map(|(n, t)| format!("{n} {t}")).collect()
}

#[test]
fn declared_tables_keep_their_columns_whatever_the_rows_say() {
    let declared = |cols: &[(&str, &str)]| {
        cols.iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect::<Vec<_>>()
    };
    let tables = Tables::new([
        (
            "m".to_owned(),
            declared(&[("v", "TEXT"), ("n", "INTEGER"), ("on", "BOOLEAN")]),
        ),
        (
            "l".to_owned(),
            declared(&[("at", "REAL"), ("what", "JSON TEXT")]),
        ),
        (
            "nulls".to_owned(),
            declared(&[("v", "TEXT"), ("n", "INTEGER")]),
        ),
        ("big".to_owned(), declared(&[("n", "INTEGER")])),
        (
            "keyed".to_owned(),
            declared(&[("key", "TEXT"), ("v", "TEXT")]),
        ),
    ]);
    let v = json!({
        "m": {}, "l": [],
        "nulls": {"a": {"v": "x", "n": null}, "b": {"v": "y", "n": null}},
        "big": {"a": {"n": u64::MAX}},
        "keyed": {},
    });
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s");
    let bytes = serde_json::to_vec(&v).unwrap();
    store_with(Kind::Sqlite, &tables, &p, &dir.path().join("s.new"), &bytes).unwrap();
    // Tables without rows: the declared columns, in the declared order.
    assert_eq!(
        names(&columns(&p, "m")),
        ["key TEXT", "v TEXT", "n INTEGER", "on BOOLEAN"]
    );
    assert_eq!(
        names(&columns(&p, "l")),
        ["idx INTEGER", "at REAL", "what JSON TEXT"]
    );
    // A column null in every row: its declared type, not JSON text.
    assert_eq!(
        names(&columns(&p, "nulls")),
        ["key TEXT", "v TEXT", "n INTEGER"]
    );
    // Values the declared type cannot hold keep the type they need.
    assert_eq!(names(&columns(&p, "big")), ["key TEXT", "n JSON TEXT"]);
    // Records with a field named `key` are not rows: nothing declared is used.
    assert_eq!(names(&columns(&p, "keyed")), ["key TEXT"]);
    // The value is the same as without declarations.
    let loaded: Value = serde_json::from_slice(&load(&p).unwrap()).unwrap();
    assert_eq!(loaded, v);
    assert_eq!(load(&p).unwrap(), normalize(Kind::Sqlite, &bytes).unwrap());
}

#[test]
fn a_declared_map_without_records_stays_a_directory() {
    let tables = Tables::new([("items".to_owned(), vec![("v".into(), "TEXT".into())])]);
    let v = json!({"items": {}, "other": {}});
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s");
    let bytes = serde_json::to_vec(&v).unwrap();
    store_with(Kind::Dir, &tables, &p, &dir.path().join("s.new"), &bytes).unwrap();
    assert!(p.join("items").is_dir());
    assert!(p.join("other.json").is_file());
    assert_eq!(
        serde_json::from_slice::<Value>(&load(&p).unwrap()).unwrap(),
        v
    );
    // Written again from its value with the tables it has, it keeps the sub-directory.
    let again = dir.path().join("t");
    let found = dir_tables(&p).unwrap();
    store_with(Kind::Dir, &found, &again, &dir.path().join("t.new"), &bytes).unwrap();
    assert!(again.join("items").is_dir());
}

#[test]
fn a_state_that_is_not_a_record_is_refused() {
    for kind in [Kind::Dir, Kind::Sqlite] {
        assert!(normalize(kind, b"[1]").is_err());
    }
}

#[test]
fn a_directory_is_replaced_whole() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s");
    let tmp = dir.path().join("s.new");
    store(Kind::Dir, &p, &tmp, br#"{"a":{"k":{"v":1}},"b":2}"#).unwrap();
    store(Kind::Dir, &p, &tmp, br#"{"c":3}"#).unwrap();
    assert_eq!(load(&p).unwrap(), br#"{"c":3}"#);
    assert!(!tmp.exists());
}
