//! The history of a state file: every state an upgrade or a rollback replaces is kept as
//! `STATE.v<version>.<unix-ms>` (with `-<n>` appended when that name is taken), written once and
//! never overwritten: a file of that name is created by a hard link from a synced temporary,
//! which fails rather than replace an existing file.

use super::error::TransformError;
use super::fsutil::{parent_dir, read_if_exists, remove_if_exists, sync_dir, with_suffix};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// A name not yet taken for a copy of `state` at `version`: `STATE.v<version>.<unix-ms>`, or
/// with `-1`, `-2`... appended. Only the file name (it lives beside `state`).
pub fn fresh_name(state: &Path, version: u64) -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let base = state
        .file_name()
        .map_or_else(|| "state".into(), |n| n.to_string_lossy().into_owned());
    let first = format!("{base}.v{version}.{ms}");
    let dir = parent_dir(state);
    let mut name = first.clone();
    let mut n = 0u32;
    while dir.join(&name).exists() {
        n += 1;
        name = format!("{first}-{n}");
    }
    name
}

/// The path of the history file `name` beside `state`.
pub fn path_of(state: &Path, name: &str) -> PathBuf {
    parent_dir(state).join(name)
}

/// Writes `bytes` durably as the history file `name` beside `state`, once: when the file
/// exists already with these bytes (a resumed run) nothing is done, and when it holds other
/// bytes it is left alone and the run refused.
pub fn keep(state: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, TransformError> {
    let path = path_of(state, name);
    if let Some(existing) =
        read_if_exists(&path).map_err(|e| TransformError::io(&path, "read", e))?
    {
        if existing == bytes {
            return Ok(path);
        }
        return Err(TransformError::Corrupt {
            reason: format!(
                "the history file `{}` exists with other content; it is never overwritten",
                path.display()
            ),
        });
    }
    let tmp = with_suffix(&path, ".tmp");
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        // A hard link never replaces an existing file (unlike a rename).
        fs::hard_link(&tmp, &path)?;
        fs::remove_file(&tmp)?;
        sync_dir(&parent_dir(&path))
    })();
    if let Err(e) = result {
        let _ = remove_if_exists(&tmp);
        return Err(TransformError::io(&path, "keep", e));
    }
    Ok(path)
}

/// The history files of `state`, oldest first: `(version, path)`.
pub fn list(state: &Path) -> Result<Vec<(u64, PathBuf)>, TransformError> {
    let dir = parent_dir(state);
    let base = state
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let prefix = format!("{base}.v");
    let mut out = Vec::new();
    let entries = fs::read_dir(&dir).map_err(|e| TransformError::io(&dir, "list", e))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(&prefix) else {
            continue;
        };
        // `<version>.<unix-ms>[-<n>]`: the `STATE.v<version>` backups have no second part.
        let Some((version, stamp)) = rest.split_once('.') else {
            continue;
        };
        let (ms, seq) = stamp.split_once('-').unwrap_or((stamp, "0"));
        let (Ok(version), Ok(ms), Ok(seq)) = (
            version.parse::<u64>(),
            ms.parse::<u128>(),
            seq.parse::<u32>(),
        ) else {
            continue;
        };
        out.push(((ms, seq), version, entry.path()));
    }
    out.sort();
    Ok(out.into_iter().map(|(_, v, p)| (v, p)).collect())
}
