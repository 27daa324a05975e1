//! The files around one state file (see the table in the module above): the state, its
//! backups, a run's output and the temporaries, and how a state is written among them in its
//! kind.

use super::fsutil::with_suffix;
use super::journal::Journal;
use super::storage::{self, Kind, Layout, Tables};
use super::{history, TransformError};
use std::path::{Path, PathBuf};

/// The files around one state file.
#[derive(Debug, Clone)]
pub struct StateFiles {
    state: PathBuf,
    pub(super) kind: Kind,
}

impl StateFiles {
    /// The files around `state`, of the kind on disk (a JSON document when there is none).
    pub fn new(state: &Path) -> StateFiles {
        StateFiles {
            state: state.to_path_buf(),
            kind: Kind::of(state).unwrap_or(Kind::Json),
        }
    }

    /// How the state is stored.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Replaces `path` (the state, its backup or a run's output) by `bytes` in the state's
    /// kind, atomically, through the temporary `tmp`; a database's tables with the columns of
    /// `layout` (the version whose state `bytes` is), when known.
    pub(super) fn store(
        &self,
        path: &Path,
        tmp: &Path,
        bytes: &[u8],
        layout: Option<&Layout>,
    ) -> Result<(), TransformError> {
        let tables = layout.map_or_else(Tables::default, |l| l.tables.clone());
        storage::store_with(self.kind, &tables, path, tmp, bytes)
            .map_err(|e| TransformError::io(path, "write", e))
    }

    /// Replaces `path` by the state in the file `src`, which holds `bytes`: a database is
    /// copied as it is (its tables keep their columns, also without rows), a directory is
    /// written from `bytes` with the sub-directories `src` has (also empty ones), a JSON
    /// document from `bytes`.
    pub(super) fn copy(
        &self,
        src: &Path,
        path: &Path,
        tmp: &Path,
        bytes: &[u8],
    ) -> Result<(), TransformError> {
        if self.kind == Kind::Sqlite && Kind::of(src).ok() == Some(Kind::Sqlite) {
            return storage::copy_database(src, path, tmp)
                .map_err(|e| TransformError::io(path, "write", e));
        }
        if self.kind == Kind::Dir && src.is_dir() {
            let tables =
                storage::dir_tables(src).map_err(|e| TransformError::io(src, "read", e))?;
            return storage::store_with(self.kind, &tables, path, tmp, bytes)
                .map_err(|e| TransformError::io(path, "write", e));
        }
        self.store(path, tmp, bytes, None)
    }

    pub fn state(&self) -> &Path {
        &self.state
    }

    /// `STATE.v<version>`.
    pub fn versioned(&self, version: u64) -> PathBuf {
        with_suffix(&self.state, &format!(".v{version}"))
    }

    /// `STATE.upgrade`.
    pub fn journal(&self) -> PathBuf {
        with_suffix(&self.state, ".upgrade")
    }

    /// `STATE.reverse`: the output of a [`reverse`](super::reverse) run.
    pub fn reversed(&self) -> PathBuf {
        with_suffix(&self.state, ".reverse")
    }

    /// `STATE.reverse-backup`: the state a [`reverse`](super::reverse) run began from, as it was on disk.
    pub fn reverse_backup(&self) -> PathBuf {
        with_suffix(&self.state, ".reverse-backup")
    }

    /// The copy of the state a run began from, as it was on disk: `STATE.v<from>` for an
    /// upgrade, `STATE.reverse-backup` for a reverse run.
    pub(super) fn backup(&self, journal: &Journal) -> PathBuf {
        if journal.reverse {
            self.reverse_backup()
        } else {
            self.versioned(journal.from)
        }
    }

    /// Where a run's output is written: `STATE.v<to>` for an upgrade, `STATE.reverse` for a
    /// reverse run.
    pub(super) fn target(&self, journal: &Journal) -> PathBuf {
        if journal.reverse {
            self.reversed()
        } else {
            self.versioned(journal.to)
        }
    }

    /// The file holding the state a run began from: its history file, else (an upgrade
    /// journaled by an older runtime) `STATE.v<from>`.
    pub(super) fn before(&self, journal: &Journal) -> PathBuf {
        match &journal.history {
            Some(name) => history::path_of(&self.state, name),
            None => self.versioned(journal.from),
        }
    }

    pub(super) fn staging(&self) -> PathBuf {
        with_suffix(&self.state, ".new")
    }

    pub(super) fn switch_tmp(&self) -> PathBuf {
        with_suffix(&self.state, ".switch")
    }
}
