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

mod dir;
mod sqlite;
#[cfg(test)]
mod tests;

use dir::*;
use sqlite::*;
