//! Whether the new version accepted writes since the upgrade, and about how many: the state
//! now against the transform's output, `STATE.v<to>`, compared as JSON documents (a program
//! that rewrites its state in another layout at start has written nothing) and counted as the
//! values that differ. This is the point of no return of a rollback without a reverse
//! transform: before the first write, restoring the backup loses nothing.

use runtime::transform::{storage, StateFiles};
use serde_json::Value;
use std::path::Path;

/// What the new version wrote since the upgrade to version `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// The state is still the transform's output.
    Nothing,
    /// This many values (map entries, fields, list items) differ.
    Values(usize),
    /// It cannot be told (no `STATE.v<to>`, or a state that is not JSON): treated as written.
    Unknown,
}

impl Written {
    pub fn any(self) -> bool {
        self != Written::Nothing
    }

    /// For messages: `3 values`, `an unknown number of values`.
    pub fn describe(self) -> String {
        match self {
            Written::Nothing => "nothing".into(),
            Written::Values(1) => "1 value".into(),
            Written::Values(n) => format!("{n} values"),
            Written::Unknown => "an unknown number of values".into(),
        }
    }
}

/// Compares the state at `state` with the output of the upgrade to `to`. After a later
/// upgrade from `to` (a `STATE.v<n>` of a newer version exists), `STATE.v<to>` is that
/// upgrade's backup, not this one's output: what was written since cannot be told.
pub fn since_upgrade(state: &Path, to: u64) -> Written {
    if later_version(state, to) {
        return Written::Unknown;
    }
    let files = StateFiles::new(state);
    // The state of any kind as JSON; the program may be running.
    let (Ok(now), Ok(then)) = (
        storage::load_live(state),
        storage::load_live(&files.versioned(to)),
    ) else {
        return Written::Unknown;
    };
    if now == then {
        return Written::Nothing;
    }
    match (
        serde_json::from_slice::<Value>(&now),
        serde_json::from_slice::<Value>(&then),
    ) {
        (Ok(now), Ok(then)) => match differences(&now, &then) {
            0 => Written::Nothing,
            n => Written::Values(n),
        },
        _ => Written::Unknown,
    }
}

/// Whether a `STATE.v<n>` with `n` above `to` is beside `state` (copies kept aside,
/// `STATE.v<n>.<time>`, are no version).
fn later_version(state: &Path, to: u64) -> bool {
    let (Some(dir), Some(name)) = (state.parent(), state.file_name().and_then(|n| n.to_str()))
    else {
        return false;
    };
    let prefix = format!("{name}.v");
    let Ok(entries) = std::fs::read_dir(if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    }) else {
        return false;
    };
    entries.flatten().any(|e| {
        e.file_name()
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|n| n > to)
    })
}

/// The values that differ between `a` and `b`: an entry present on one side only counts once,
/// entries on both sides are compared inside.
fn differences(a: &Value, b: &Value) -> usize {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            let only_a = a.keys().filter(|k| !b.contains_key(*k)).count();
            let only_b = b.keys().filter(|k| !a.contains_key(*k)).count();
            let inside: usize = a
                .iter()
                .filter_map(|(k, va)| b.get(k).map(|vb| differences(va, vb)))
                .sum();
            only_a + only_b + inside
        }
        (Value::Array(a), Value::Array(b)) => {
            let common: usize = a.iter().zip(b).map(|(x, y)| differences(x, y)).sum();
            common + a.len().abs_diff(b.len())
        }
        (a, b) => usize::from(a != b),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_are_counted_as_values_that_differ() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        assert_eq!(since_upgrade(&state, 2), Written::Unknown);
        let then = json!({"items": {"a": {"value": "1", "expires_at": null}}});
        std::fs::write(
            StateFiles::new(&state).versioned(2),
            serde_json::to_vec(&then).unwrap(),
        )
        .unwrap();
        // Rewritten in another layout: nothing written.
        std::fs::write(&state, serde_json::to_vec_pretty(&then).unwrap()).unwrap();
        assert_eq!(since_upgrade(&state, 2), Written::Nothing);
        let now = json!({"items": {
            "a": {"value": "2", "expires_at": null},
            "b": {"value": "3", "expires_at": 9},
        }});
        std::fs::write(&state, serde_json::to_vec(&now).unwrap()).unwrap();
        assert_eq!(since_upgrade(&state, 2), Written::Values(2));
        std::fs::write(&state, b"not json").unwrap();
        assert_eq!(since_upgrade(&state, 2), Written::Unknown);
        assert!(Written::Unknown.any() && !Written::Nothing.any());
    }

    /// Found by `upstart test` (3 -> 2 rolled back, then 2 -> 1): the upgrade 2 -> 3 kept its
    /// backup of version 2 as `STATE.v2`, over the output of the upgrade 1 -> 2; after the
    /// rollback to 2 the state equalled it, so the rollback to 1 found nothing written and
    /// restored the version-1 backup, erasing every write made at versions 2 and 3.
    #[test]
    fn after_a_later_upgrade_what_was_written_cannot_be_told() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        let files = StateFiles::new(&state);
        let v2 = json!({"items": {"a": {"value": "written at 2", "expires_at": null}}});
        let bytes = serde_json::to_vec(&v2).unwrap();
        std::fs::write(&state, &bytes).unwrap();
        std::fs::write(files.versioned(2), &bytes).unwrap();
        // A copy kept aside is no version.
        std::fs::write(dir.path().join("state.json.v3.1796492634819"), b"{}").unwrap();
        assert_eq!(since_upgrade(&state, 2), Written::Nothing);
        std::fs::write(files.versioned(3), b"{}").unwrap();
        assert_eq!(since_upgrade(&state, 2), Written::Unknown);
        assert_eq!(since_upgrade(&state, 3), Written::Values(1));
    }
}
