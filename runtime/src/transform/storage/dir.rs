//! A state kept as a directory of JSON documents: `<field>.json` per field, a sub-directory of
//! `<key>.json` records per map of records; read, written beside the old one and exchanged.

use super::*;

/// A name usable as a file name in a state directory.
pub(super) fn file_name_ok(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.ends_with(".tmp")
        && !name.contains(['/', '\0'])
        && name.len() <= 200
}

pub(super) enum Entry<'a> {
    File(&'a Value),
    Records(&'a Map<String, Value>),
}

/// Where each field of `value` goes: a map of records with usable keys becomes a
/// sub-directory (also an empty map of a field `tables` declares: the program finds the
/// directory it keeps), anything else a file.
pub(super) fn dir_layout<'a>(
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

pub(super) fn dir_read(path: &Path) -> io::Result<Value> {
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

pub(super) fn not_state(path: &Path) -> io::Error {
    invalid(format!(
        "`{}` in a state directory is neither a JSON document (`*.json`) nor a directory of them",
        path.display()
    ))
}

/// The entries of `dir` that are state, sorted by name (dot files and `*.tmp` left out).
pub(super) fn sorted_entries(dir: &Path) -> io::Result<Vec<(String, fs::DirEntry)>> {
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

pub(super) fn read_json(path: &Path) -> io::Result<Value> {
    serde_json::from_slice(&fs::read(path)?)
        .map_err(|e| invalid(format!("`{}` is not JSON: {e}", path.display())))
}

pub(super) fn write_synced(path: &Path, value: &Value) -> io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(&to_bytes(value)?)?;
    f.sync_all()
}

pub(super) fn dir_write(
    root: &Path,
    value: &Map<String, Value>,
    tables: &Tables,
) -> io::Result<()> {
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
pub(super) fn switch_dir(new: &Path, path: &Path) -> io::Result<()> {
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
