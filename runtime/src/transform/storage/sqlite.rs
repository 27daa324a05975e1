//! A state kept as a SQLite database: tables of records (typed columns, declared ones kept for
//! empty tables), `_scalars` for the rest; read and written whole.

use super::*;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Col {
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

pub(super) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A field kept as a table: its rows' keys (map) or none (list), and its columns.
pub(super) struct Table<'a> {
    rows: Vec<(Option<&'a str>, &'a Map<String, Value>)>,
    columns: Vec<(&'a str, Col)>,
}

/// The table of `v`, when it is a map or a list of records with the same fields; its columns
/// are the records' fields, typed by their values, else by `declared` (the spec's columns of
/// this field), which also gives the columns of a table without rows.
pub(super) fn as_table<'a>(
    v: &'a Value,
    declared: Option<&'a [(String, String)]>,
) -> Option<Table<'a>> {
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

pub(super) fn to_sql(v: &Value, col: Col) -> io::Result<rusqlite::types::Value> {
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

pub(super) fn db_write(
    db: &Connection,
    value: &Map<String, Value>,
    tables: &Tables,
) -> io::Result<()> {
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

pub(super) fn from_sql(v: ValueRef<'_>, declared: Option<Col>, at: &str) -> io::Result<Value> {
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

pub(super) fn db_read(db: &Connection) -> io::Result<Value> {
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
