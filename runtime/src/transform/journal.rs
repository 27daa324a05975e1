//! The transform journal (`STATE.upgrade`): which step of an upgrade of the state file has
//! durably completed, and the sha-256 of the old and new state so a rerun can tell which one a
//! file holds. It is replaced atomically, so it always reads as one whole step.

use super::error::TransformError;
use super::fsutil::{atomic_write, parent_dir, read_if_exists, remove_if_exists, sync_dir};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The journal format this runtime writes and reads.
pub const JOURNAL_FORMAT: u32 = 1;

/// The last step that durably completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The upgrade started; the state file is untouched. The backup may be partial.
    Begun,
    /// The backup and the new state (`STATE.v<to>`) are durable; the state file holds either
    /// the old or the new state.
    Prepared,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Journal {
    pub format: u32,
    pub step: Step,
    pub from: u64,
    pub to: u64,
    /// sha-256 of the old state, lowercase hex.
    pub old_sha256: String,
    /// sha-256 of the new state, once it is written.
    pub new_sha256: Option<String>,
    /// A rollback's run (`transform::reverse`): `from` is the newer version, the state it
    /// began from is of that version, and the reverse transform makes the state of `to`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub reverse: bool,
    /// The history file (beside the state, see `transform::history`) that keeps the state this
    /// run replaces; chosen when the run begins, written once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Journal {
    /// Reads the journal at `path`, `None` when there is none.
    pub fn read(path: &Path) -> Result<Option<Journal>, TransformError> {
        let Some(bytes) = read_if_exists(path).map_err(|e| TransformError::io(path, "read", e))?
        else {
            return Ok(None);
        };
        let journal: Journal =
            serde_json::from_slice(&bytes).map_err(|e| TransformError::Corrupt {
                reason: format!(
                    "the journal `{}` does not decode ({e}); it was not written by this runtime",
                    path.display()
                ),
            })?;
        if journal.format != JOURNAL_FORMAT {
            return Err(TransformError::Corrupt {
                reason: format!(
                    "the journal `{}` is of format {}, this runtime reads format {JOURNAL_FORMAT}",
                    path.display(),
                    journal.format
                ),
            });
        }
        Ok(Some(journal))
    }

    /// Replaces the journal at `path` atomically and durably.
    pub fn write(&self, path: &Path) -> Result<(), TransformError> {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        atomic_write(path, &bytes).map_err(|e| TransformError::io(path, "write", e))
    }

    /// Removes the journal at `path` durably.
    pub fn remove(path: &Path) -> Result<(), TransformError> {
        remove_if_exists(path).map_err(|e| TransformError::io(path, "remove", e))?;
        sync_dir(&parent_dir(path))
            .map_err(|e| TransformError::io(path, "sync the directory of", e))
    }
}
