//! The kinds of persistent state a node program keeps, and their one JSON value.
//!
//! The transform, the checker and `verify` see the state as one JSON value (a record, for the
//! kinds beyond a JSON document). On disk it is one of:
//!
//! | kind | on disk | the value |
//! | --- | --- | --- |
//! | [`Kind::Json`] | one file | the file's bytes, as they are |
//! | [`Kind::Dir`] | a directory | each `<field>.json` is the field's value; each sub-directory `<field>/` is a map of records, one `<key>.json` per record |
//! | [`Kind::Sqlite`] | a SQLite database file | each table with a `key` primary key is a map of records (a row per record, a column per field); each table with an `idx` integer primary key is a list of records; the table `_scalars (name TEXT PRIMARY KEY, value TEXT)` holds the other fields as JSON text |
//!
//! SQLite columns read by their declared type: a type containing `BOOL` reads 0/1 as
//! false/true, one containing `JSON` reads JSON text; the others read by the stored value
//! (integer, real, text, NULL as null; a blob is refused). Written, a column is `INTEGER`,
//! `REAL`, `TEXT` or `BOOLEAN` when all its values are of that kind, else `JSON TEXT`. A field that
//! does not fit a table (records with differing fields, values that are not records, a record
//! field named `key`/`idx`) is kept whole in `_scalars`. Indexes, views and triggers are not
//! state: the program recreates them when it opens the database.
//!
//! The values alone do not say every column: a table with no rows has no record to give its
//! columns, and a column null in every row has no value to give its type. The spec does
//! ([`Tables`], from the plugin's manifest): [`store_with`] writes each table it describes with
//! the records' fields as columns, of the declared types where the values say nothing, so an
//! empty table keeps its columns (the program's `CREATE TABLE IF NOT EXISTS` then finds the
//! table it expects) and an `option<u64>` column null everywhere stays `INTEGER`. In a
//! directory, a declared map of records with no records is an empty sub-directory (not a
//! `<field>.json` holding `{}`).
//!
//! In a directory, names starting with `.` or ending with `.tmp` are ignored; any other entry
//! that is not `*.json` or a directory of them is refused (it would not be carried over).
//!
//! The kind is read from the disk ([`Kind::of`]): a directory, a file starting with the SQLite
//! header, or else a JSON document. Every kind is written atomically ([`store`]): built beside
//! the target, fsynced, then renamed into place (a directory is exchanged with the old one by
//! `renameat2(RENAME_EXCHANGE)`, the old one then removed), and the directory fsynced.

use super::fsutil::{atomic_write_via, parent_dir, sync_dir, with_suffix};
use rusqlite::types::ValueRef;
use rusqlite::Connection;
use serde_json::{Map, Number, Value};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::Path;

/// The first 16 bytes of every SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// The table of a SQLite state's fields that are not tables.
pub const SCALARS: &str = "_scalars";

/// How a state is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Json,
    Dir,
    Sqlite,
}

impl Kind {
    /// The kind named `json`, `dir` or `sqlite` (as a spec's `state KIND { ... }` says it).
    pub fn from_name(name: &str) -> Option<Kind> {
        match name {
            "json" => Some(Kind::Json),
            "dir" => Some(Kind::Dir),
            "sqlite" => Some(Kind::Sqlite),
            _ => None,
        }
    }

    /// What a state of this kind is on disk, for messages.
    pub fn described(self) -> &'static str {
        match self {
            Kind::Json => "a JSON document",
            Kind::Dir => "a directory",
            Kind::Sqlite => "a SQLite database",
        }
    }

    /// The kind of the state at `path` (which exists).
    pub fn of(path: &Path) -> io::Result<Kind> {
        let meta = fs::metadata(path)?;
        if meta.is_dir() {
            return Ok(Kind::Dir);
        }
        let mut head = [0u8; 16];
        let mut f = File::open(path)?;
        let mut n = 0;
        while n < head.len() {
            let got = f.read(head.get_mut(n..).unwrap_or_default())?;
            if got == 0 {
                break;
            }
            n += got;
        }
        Ok(if &head == SQLITE_HEADER {
            Kind::Sqlite
        } else {
            Kind::Json
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Json => "json",
            Kind::Dir => "dir",
            Kind::Sqlite => "sqlite",
        }
    }
}

/// The tables of a state as the spec declares them: for each state field that is a map or a
/// list of records, the records' fields in order, each with its SQL type (`INTEGER`, `REAL`,
/// `TEXT`, `BOOLEAN`; any other, JSON text). A database gets these columns; a directory keeps
/// each declared map a sub-directory, also when it is empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tables(BTreeMap<String, Vec<(String, String)>>);

impl Tables {
    pub fn new(tables: impl IntoIterator<Item = (String, Vec<(String, String)>)>) -> Tables {
        Tables(tables.into_iter().collect())
    }

    /// The declared columns of `field`, unless it has none or one named `key` or `idx` (such
    /// records are not kept as rows).
    fn of(&self, field: &str) -> Option<&[(String, String)]> {
        self.0
            .get(field)
            .filter(|c| !c.is_empty() && !c.iter().any(|(n, _)| n == "key" || n == "idx"))
            .map(Vec::as_slice)
    }
}

/// A version's state as the spec declares it: its kind, and its tables when a database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub kind: Kind,
    pub tables: Tables,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn sql_err(e: rusqlite::Error) -> io::Error {
    io::Error::other(format!("sqlite: {e}"))
}

/// The state at `path` as JSON bytes: a JSON document's bytes as they are, the value of a
/// directory or a database serialized.
pub fn load(path: &Path) -> io::Result<Vec<u8>> {
    match Kind::of(path)? {
        Kind::Json => fs::read(path),
        Kind::Dir => to_bytes(&dir_read(path)?),
        Kind::Sqlite => {
            let db = Connection::open(path).map_err(sql_err)?;
            // Applies (and removes) a write-ahead log or a hot journal the program left, so
            // that nothing but the database file holds the state.
            db.query_row("PRAGMA journal_mode=DELETE", [], |_| Ok(()))
                .map_err(sql_err)?;
            let value = db_read(&db)?;
            db.close().map_err(|(_, e)| sql_err(e))?;
            to_bytes(&value)
        }
    }
}

/// The state at `path` as JSON bytes, as [`load`] gives it, read while the program may be
/// running: a database is opened read-only and read in one transaction (a snapshot), and
/// nothing is changed on disk. (A directory's files are read one by one: a program writing
/// them meanwhile can make the read fail.)
pub fn load_live(path: &Path) -> io::Result<Vec<u8>> {
    match Kind::of(path)? {
        Kind::Sqlite => {
            let mut db = Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(sql_err)?;
            db.busy_timeout(std::time::Duration::from_secs(5))
                .map_err(sql_err)?;
            let tx = db.transaction().map_err(sql_err)?;
            let value = db_read(&tx)?;
            tx.finish().map_err(sql_err)?;
            to_bytes(&value)
        }
        _ => load(path),
    }
}

/// [`load`], or `None` when nothing is at `path`.
pub fn load_if_exists(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::symlink_metadata(path) {
        Ok(_) => load(path).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn to_bytes(value: &Value) -> io::Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| invalid(e.to_string()))
}

/// The bytes [`load`] gives after [`store`] of `bytes` in `kind`: the bytes themselves for a
/// JSON document; the value, as the directory or the database gives it back, for the others.
pub fn normalize(kind: Kind, bytes: &[u8]) -> io::Result<Vec<u8>> {
    match kind {
        Kind::Json => Ok(bytes.to_vec()),
        Kind::Dir => {
            let value = parse_record(bytes)?;
            // Refuses what the directory cannot hold, as `store` would.
            dir_layout(&value, &Tables::default())?;
            serde_json::to_vec(&value).map_err(|e| invalid(e.to_string()))
        }
        Kind::Sqlite => {
            let db = Connection::open_in_memory().map_err(sql_err)?;
            db_write(&db, &parse_record(bytes)?, &Tables::default())?;
            to_bytes(&db_read(&db)?)
        }
    }
}

fn parse_record(bytes: &[u8]) -> io::Result<Map<String, Value>> {
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(invalid(
            "a state kept in a directory or a database is a record".into(),
        )),
        Err(e) => Err(invalid(format!("the state is not JSON: {e}"))),
    }
}

/// Replaces the state at `path` by `bytes` (JSON) in `kind`, atomically and durably, building
/// it at `tmp` (beside `path`) first.
pub fn store(kind: Kind, path: &Path, tmp: &Path, bytes: &[u8]) -> io::Result<()> {
    store_with(kind, &Tables::default(), path, tmp, bytes)
}

/// [`store`], a database's tables written with the columns `tables` declares (also without
/// rows).
pub fn store_with(
    kind: Kind,
    tables: &Tables,
    path: &Path,
    tmp: &Path,
    bytes: &[u8],
) -> io::Result<()> {
    match kind {
        Kind::Json => atomic_write_via(path, tmp, bytes),
        Kind::Dir => {
            let value = parse_record(bytes)?;
            remove_any(tmp)?;
            let result = dir_write(tmp, &value, tables).and_then(|()| switch_dir(tmp, path));
            if result.is_err() {
                let _ = remove_any(tmp);
            }
            result
        }
        Kind::Sqlite => {
            let value = parse_record(bytes)?;
            remove_any(&with_suffix(tmp, "-journal"))?;
            replace_through(tmp, path, || {
                let db = Connection::open(tmp).map_err(sql_err)?;
                db.execute_batch("PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL;")
                    .map_err(sql_err)?;
                db_write(&db, &value, tables)?;
                db.close().map_err(|(_, e)| sql_err(e))
            })
        }
    }
}

/// The tables a state directory at `src` has: its sub-directories (empty ones included), so
/// that the state written again from its value keeps each of them a directory.
pub fn dir_tables(src: &Path) -> io::Result<Tables> {
    let mut out = BTreeMap::new();
    for (name, entry) in sorted_entries(src)? {
        if entry.path().is_dir() {
            out.insert(name, Vec::new());
        }
    }
    Ok(Tables(out))
}

/// Replaces the database at `path` by a copy of the database file `src`, atomically and
/// durably, through `tmp` (beside `path`): its tables keep every column, with or without rows.
pub fn copy_database(src: &Path, path: &Path, tmp: &Path) -> io::Result<()> {
    replace_through(tmp, path, || fs::copy(src, tmp).map(|_| ()))
}

/// Replaces the file at `path`, atomically and durably, by what `fill` writes at `tmp`
/// (beside `path`): `tmp` is synced, renamed over `path` and the directory synced; on any
/// error `tmp` is removed and `path` is untouched.
fn replace_through(
    tmp: &Path,
    path: &Path,
    fill: impl FnOnce() -> io::Result<()>,
) -> io::Result<()> {
    remove_any(tmp)?;
    let result = (|| {
        fill()?;
        File::open(tmp)?.sync_all()?;
        fs::rename(tmp, path)?;
        sync_dir(&parent_dir(path))
    })();
    if result.is_err() {
        let _ = remove_any(tmp);
    }
    result
}

/// Removes a file or a directory tree at `path`, if any.
pub fn remove_any(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

// ---- a directory of JSON documents ----

/// A name usable as a file name in a state directory.
fn file_name_ok(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.ends_with(".tmp")
        && !name.contains(['/', '\0'])
        && name.len() <= 200
}

enum Entry<'a> {
    File(&'a Value),
    Records(&'a Map<String, Value>),
}

/// Where each field of `value` goes: a map of records with usable keys becomes a
/// sub-directory (also an empty map of a field `tables` declares: the program finds the
/// directory it keeps), anything else a file.
fn dir_layout<'a>(
    value: &'a Map<String, Value>,
    tables: &Tables,
) -> io::Result<Vec<(&'a str, Entry<'a>)>> {
    value
        .iter()
        .map(|(field, v)| {
            if !file_name_ok(field) {
                return Err(invalid(format!(
                    "the state field `{field}` cannot be a file name in a state directory"
                )));
            }
            let entry = match v {
                Value::Object(m)
                    if (!m.is_empty() || tables.0.contains_key(field))
                        && m.iter().all(|(k, r)| file_name_ok(k) && r.is_object()) =>
                {
                    Entry::Records(m)
                }
                _ => Entry::File(v),
            };
            Ok((field.as_str(), entry))
        })
        .collect()
}

fn dir_read(path: &Path) -> io::Result<Value> {
    let mut out = Map::new();
    for (name, entry) in sorted_entries(path)? {
        let p = entry.path();
        if p.is_dir() {
            let mut records = Map::new();
            for (file, sub) in sorted_entries(&p)? {
                let Some(key) = file.strip_suffix(".json") else {
                    return Err(not_state(&sub.path()));
                };
                if sub.path().is_dir() {
                    return Err(not_state(&sub.path()));
                }
                records.insert(key.to_owned(), read_json(&sub.path())?);
            }
            out.insert(name, Value::Object(records));
        } else {
            let Some(field) = name.strip_suffix(".json") else {
                return Err(not_state(&p));
            };
            out.insert(field.to_owned(), read_json(&p)?);
        }
    }
    Ok(Value::Object(out))
}

fn not_state(path: &Path) -> io::Error {
    invalid(format!(
        "`{}` in a state directory is neither a JSON document (`*.json`) nor a directory of them",
        path.display()
    ))
}

/// The entries of `dir` that are state, sorted by name (dot files and `*.tmp` left out).
fn sorted_entries(dir: &Path) -> io::Result<Vec<(String, fs::DirEntry)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.ends_with(".tmp") {
            continue;
        }
        out.push((name, entry));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn read_json(path: &Path) -> io::Result<Value> {
    serde_json::from_slice(&fs::read(path)?)
        .map_err(|e| invalid(format!("`{}` is not JSON: {e}", path.display())))
}

fn write_synced(path: &Path, value: &Value) -> io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(&to_bytes(value)?)?;
    f.sync_all()
}

fn dir_write(root: &Path, value: &Map<String, Value>, tables: &Tables) -> io::Result<()> {
    fs::create_dir(root)?;
    for (field, entry) in dir_layout(value, tables)? {
        match entry {
            Entry::File(v) => write_synced(&root.join(format!("{field}.json")), v)?,
            Entry::Records(m) => {
                let sub = root.join(field);
                fs::create_dir(&sub)?;
                for (key, record) in m {
                    write_synced(&sub.join(format!("{key}.json")), record)?;
                }
                sync_dir(&sub)?;
            }
        }
    }
    sync_dir(root)
}

/// Makes the directory `new` the directory `path`: an atomic exchange when `path` exists (the
/// old tree, then at `new`, is removed), else a rename; the parent directory is fsynced.
fn switch_dir(new: &Path, path: &Path) -> io::Result<()> {
    if fs::symlink_metadata(path).is_ok() {
        rustix::fs::renameat_with(
            rustix::fs::CWD,
            new,
            rustix::fs::CWD,
            path,
            rustix::fs::RenameFlags::EXCHANGE,
        )?;
        sync_dir(&parent_dir(path))?;
        remove_any(new)?;
    } else {
        fs::rename(new, path)?;
    }
    sync_dir(&parent_dir(path))
}

// ---- a SQLite database ----

#[derive(Clone, Copy, PartialEq, Eq)]
enum Col {
    Integer,
    Real,
    Text,
    Boolean,
    Json,
}

impl Col {
    fn sql(self) -> &'static str {
        match self {
            Col::Integer => "INTEGER",
            Col::Real => "REAL",
            Col::Text => "TEXT",
            Col::Boolean => "BOOLEAN",
            // TEXT affinity: SQLite keeps the text as written (`JSON` alone would convert
            // numeric text to numbers).
            Col::Json => "JSON TEXT",
        }
    }

    fn of(v: &Value) -> Option<Col> {
        match v {
            Value::Null => None,
            Value::Bool(_) => Some(Col::Boolean),
            Value::Number(n) if n.is_i64() => Some(Col::Integer),
            Value::Number(n) if n.is_f64() => Some(Col::Real),
            Value::String(_) => Some(Col::Text),
            _ => Some(Col::Json),
        }
    }

    /// The column type a spec declares (`INTEGER`, `REAL`, `TEXT`, `BOOLEAN`, else JSON).
    fn named(sql: &str) -> Col {
        match sql.to_ascii_uppercase().as_str() {
            "INTEGER" => Col::Integer,
            "REAL" => Col::Real,
            "TEXT" => Col::Text,
            "BOOLEAN" => Col::Boolean,
            _ => Col::Json,
        }
    }

    fn declared(decl: &str) -> Option<Col> {
        let d = decl.to_ascii_uppercase();
        if d.contains("BOOL") {
            Some(Col::Boolean)
        } else if d.contains("JSON") {
            Some(Col::Json)
        } else {
            None
        }
    }
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A field kept as a table: its rows' keys (map) or none (list), and its columns.
struct Table<'a> {
    rows: Vec<(Option<&'a str>, &'a Map<String, Value>)>,
    columns: Vec<(&'a str, Col)>,
}

/// The table of `v`, when it is a map or a list of records with the same fields; its columns
/// are the records' fields, typed by their values, else by `declared` (the spec's columns of
/// this field), which also gives the columns of a table without rows.
fn as_table<'a>(v: &'a Value, declared: Option<&'a [(String, String)]>) -> Option<Table<'a>> {
    let rows: Vec<(Option<&str>, &Map<String, Value>)> = match v {
        Value::Object(m) => m
            .iter()
            .map(|(k, r)| r.as_object().map(|r| (Some(k.as_str()), r)))
            .collect::<Option<_>>()?,
        Value::Array(a) => a
            .iter()
            .map(|r| r.as_object().map(|r| (None, r)))
            .collect::<Option<_>>()?,
        _ => return None,
    };
    let first = rows.first().map(|(_, r)| *r);
    let mut names: Vec<&str> = match (first, declared) {
        (Some(r), _) => r.keys().map(String::as_str).collect(),
        (None, Some(d)) => d.iter().map(|(n, _)| n.as_str()).collect(),
        (None, None) => Vec::new(),
    };
    let declared_col =
        |name: &str| declared.and_then(|d| d.iter().position(|(n, _)| n == name).map(|i| (i, d)));
    // In the spec's order, any field it does not declare last.
    names.sort_by_key(|n| declared_col(n).map_or(usize::MAX, |(i, _)| i));
    if names.iter().any(|n| *n == "key" || *n == "idx") {
        return None;
    }
    let same_fields = rows
        .iter()
        .all(|(_, r)| r.len() == names.len() && names.iter().all(|n| r.contains_key(*n)));
    if !same_fields {
        return None;
    }
    let columns = names
        .iter()
        .map(|n| {
            let mut col: Option<Col> = None;
            for (_, r) in &rows {
                let c = r.get(*n).and_then(Col::of);
                col = match (col, c) {
                    (None, c) => c,
                    (Some(a), Some(b)) if a != b => Some(Col::Json),
                    (a, _) => a,
                };
            }
            let declared = declared_col(n)
                .and_then(|(i, d)| d.get(i))
                .map(|(_, sql)| Col::named(sql));
            (*n, col.or(declared).unwrap_or(Col::Json))
        })
        .collect();
    Some(Table { rows, columns })
}

fn to_sql(v: &Value, col: Col) -> io::Result<rusqlite::types::Value> {
    use rusqlite::types::Value as S;
    Ok(match (v, col) {
        (Value::Null, _) => S::Null,
        (Value::Bool(b), Col::Boolean) => S::Integer(i64::from(*b)),
        (Value::Number(n), Col::Integer) => S::Integer(n.as_i64().unwrap_or_default()),
        (Value::Number(n), Col::Real) => S::Real(n.as_f64().unwrap_or_default()),
        (Value::String(s), Col::Text) => S::Text(s.clone()),
        (v, _) => S::Text(serde_json::to_string(v).map_err(|e| invalid(e.to_string()))?),
    })
}

fn db_write(db: &Connection, value: &Map<String, Value>, tables: &Tables) -> io::Result<()> {
    let tx = db.unchecked_transaction().map_err(sql_err)?;
    let mut scalars = Vec::new();
    for (field, v) in value {
        if field == SCALARS || field.starts_with("sqlite_") {
            return Err(invalid(format!(
                "the state field `{field}` cannot be a table name in a state database"
            )));
        }
        let Some(table) = as_table(v, tables.of(field)) else {
            scalars.push((field, v));
            continue;
        };
        let list = v.is_array();
        let key = if list {
            "\"idx\" INTEGER PRIMARY KEY"
        } else {
            "\"key\" TEXT PRIMARY KEY"
        };
        let mut ddl = format!("CREATE TABLE {} ({key}", quote(field));
        for (name, col) in &table.columns {
            ddl.push_str(&format!(", {} {}", quote(name), col.sql()));
        }
        ddl.push(')');
        tx.execute_batch(&ddl).map_err(sql_err)?;
        let placeholders: Vec<String> = (1..=table.columns.len() + 1)
            .map(|i| format!("?{i}"))
            .collect();
        let cols: Vec<String> = std::iter::once(if list { "idx" } else { "key" })
            .chain(table.columns.iter().map(|(n, _)| *n))
            .map(quote)
            .collect();
        let insert = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            quote(field),
            cols.join(", "),
            placeholders.join(", ")
        );
        let mut stmt = tx.prepare(&insert).map_err(sql_err)?;
        for (i, (k, r)) in table.rows.iter().enumerate() {
            let mut params = vec![match k {
                Some(k) => rusqlite::types::Value::Text((*k).to_owned()),
                None => rusqlite::types::Value::Integer(i64::try_from(i).unwrap_or(i64::MAX)),
            }];
            for (name, col) in &table.columns {
                params.push(to_sql(r.get(*name).unwrap_or(&Value::Null), *col)?);
            }
            stmt.execute(rusqlite::params_from_iter(params))
                .map_err(sql_err)?;
        }
    }
    if !scalars.is_empty() {
        tx.execute_batch(&format!(
            "CREATE TABLE {SCALARS} (name TEXT PRIMARY KEY, value TEXT)"
        ))
        .map_err(sql_err)?;
        for (name, v) in scalars {
            let text = serde_json::to_string(v).map_err(|e| invalid(e.to_string()))?;
            tx.execute(
                &format!("INSERT INTO {SCALARS} (name, value) VALUES (?1, ?2)"),
                (name, text),
            )
            .map_err(sql_err)?;
        }
    }
    tx.commit().map_err(sql_err)
}

fn from_sql(v: ValueRef<'_>, declared: Option<Col>, at: &str) -> io::Result<Value> {
    Ok(match (v, declared) {
        (ValueRef::Null, _) => Value::Null,
        (ValueRef::Integer(n), Some(Col::Boolean)) => Value::Bool(n != 0),
        (ValueRef::Text(t), Some(Col::Json)) => {
            serde_json::from_slice(t).map_err(|e| invalid(format!("{at} is not JSON text: {e}")))?
        }
        (ValueRef::Integer(n), _) => Value::from(n),
        (ValueRef::Real(f), _) => Number::from_f64(f).map_or(Value::Null, Value::Number),
        (ValueRef::Text(t), _) => Value::String(String::from_utf8_lossy(t).into_owned()),
        (ValueRef::Blob(_), _) => return Err(invalid(format!("{at} is a blob, not state"))),
    })
}

fn db_read(db: &Connection) -> io::Result<Value> {
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(sql_err)?;
    let mut out = Map::new();
    for table in tables {
        // (name, declared type, primary key position)
        let info: Vec<(String, String, i64)> = db
            .prepare(&format!("PRAGMA table_info({})", quote(&table)))
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(1)?, r.get(2)?, r.get(5)?)))?
                    .collect()
            })
            .map_err(sql_err)?;
        let pk: Vec<&str> = info
            .iter()
            .filter(|c| c.2 > 0)
            .map(|c| c.0.as_str())
            .collect();
        let shape = match pk.as_slice() {
            ["name"] if table == SCALARS => "scalars",
            ["key"] => "map",
            ["idx"] => "list",
            _ => {
                return Err(invalid(format!(
                    "the table `{table}` has neither a `key` nor an `idx` primary key, so it is not a map or a list of records"
                )))
            }
        };
        let order = if shape == "list" {
            "idx"
        } else {
            pk.first().copied().unwrap_or("rowid")
        };
        let mut stmt = db
            .prepare(&format!(
                "SELECT * FROM {} ORDER BY {}",
                quote(&table),
                quote(order)
            ))
            .map_err(sql_err)?;
        let mut rows = stmt.query([]).map_err(sql_err)?;
        let mut map = Map::new();
        let mut list = Vec::new();
        while let Some(row) = rows.next().map_err(sql_err)? {
            let mut record = Map::new();
            let mut key = String::new();
            for (i, (name, decl, _)) in info.iter().enumerate() {
                let v = row.get_ref(i).map_err(sql_err)?;
                let at = format!("`{table}`.`{name}`");
                if (shape == "map" && name == "key") || (shape == "scalars" && name == "name") {
                    key = match from_sql(v, None, &at)? {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    continue;
                }
                if shape == "list" && name == "idx" {
                    continue;
                }
                let declared = if shape == "scalars" {
                    Some(Col::Json)
                } else {
                    Col::declared(decl)
                };
                record.insert(name.clone(), from_sql(v, declared, &at)?);
            }
            match shape {
                "scalars" => {
                    out.insert(key, record.remove("value").unwrap_or(Value::Null));
                }
                "map" => {
                    map.insert(key, Value::Object(record));
                }
                _ => list.push(Value::Object(record)),
            }
        }
        match shape {
            "map" => {
                out.insert(table, Value::Object(map));
            }
            "list" => {
                out.insert(table, Value::Array(list));
            }
            _ => {}
        }
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
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
}
