//! Crash-safe transform of a node's persistent state (one JSON document) from version `from`
//! to version `to`, with rollback.
//!
//! Beside the state file `STATE` (e.g. `state.json`) live:
//!
//! | file | what |
//! | --- | --- |
//! | `STATE.upgrade` | the journal: the last durable step, sha-256 of the old and new state |
//! | `STATE.v<from>` | the backup of the old state, kept after the upgrade for rollback |
//! | `STATE.v<to>` | the transform's output (written as `STATE.new`, fsynced, renamed) |
//! | `STATE.switch`, `*.tmp` | temporaries of atomic replacements |
//!
//! [`upgrade`] runs: journal `begun` -> backup -> transform and invariant -> `STATE.v<to>` ->
//! journal `prepared` -> `STATE` replaced atomically by the new state -> journal removed. Each
//! write is fsynced and each rename followed by an fsync of the directory. After a crash at any
//! point, [`upgrade`] run again resumes from the journal (or, when the run had completed, sees
//! that `STATE` is already `STATE.v<to>` and does nothing), and [`recover`] resumes or rolls back
//! as asked: `STATE` always holds exactly the old state or exactly the transform of it.
//! [`rollback`] puts the backup back (also after a completed upgrade: what the new program
//! wrote since is then lost, as the old program could not read it).

mod error;
pub mod fsutil;
pub mod journal;

pub use error::TransformError;
pub use journal::{Journal, Step};

use crate::digest::sha256_hex;
use crate::plugin::Plugin;
use fsutil::{atomic_write_via, read_if_exists, remove_if_exists, with_suffix};
use std::path::{Path, PathBuf};

/// A transform of state bytes and the invariant between old and new state. Plugins are one;
/// tests use closures.
pub trait StateTransform {
    /// The new state (JSON) of the old state (JSON).
    fn transform(&self, old: &[u8]) -> Result<Vec<u8>, String>;
    /// Whether the spec's invariant holds between `old` and `new`.
    fn check_invariant(&self, old: &[u8], new: &[u8]) -> Result<bool, String>;
}

impl StateTransform for Plugin {
    fn transform(&self, old: &[u8]) -> Result<Vec<u8>, String> {
        Plugin::transform(self, old).map_err(|e| e.to_string())
    }

    fn check_invariant(&self, old: &[u8], new: &[u8]) -> Result<bool, String> {
        Plugin::check_invariant(self, old, new).map_err(|e| e.to_string())
    }
}

/// The durable points of an upgrade, reported to a hook right after each (tests stop the
/// process there to simulate crashes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// The journal says `begun`.
    Begun,
    /// The backup `STATE.v<from>` is durable.
    BackedUp,
    /// The new state `STATE.v<to>` is durable.
    NewWritten,
    /// The journal says `prepared`.
    Prepared,
    /// `STATE` holds the new state.
    Switched,
    /// The journal is removed: the upgrade is complete.
    Done,
}

impl Point {
    pub const ALL: [Point; 6] = [
        Point::Begun,
        Point::BackedUp,
        Point::NewWritten,
        Point::Prepared,
        Point::Switched,
        Point::Done,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Point::Begun => "begun",
            Point::BackedUp => "backed-up",
            Point::NewWritten => "new-written",
            Point::Prepared => "prepared",
            Point::Switched => "switched",
            Point::Done => "done",
        }
    }
}

/// The files around one state file.
#[derive(Debug, Clone)]
pub struct StateFiles {
    state: PathBuf,
}

impl StateFiles {
    pub fn new(state: &Path) -> StateFiles {
        StateFiles {
            state: state.to_path_buf(),
        }
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

    fn staging(&self) -> PathBuf {
        with_suffix(&self.state, ".new")
    }

    fn switch_tmp(&self) -> PathBuf {
        with_suffix(&self.state, ".switch")
    }
}

/// What a completed upgrade did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgraded {
    pub old_sha256: String,
    pub new_sha256: String,
    /// Whether it finished an interrupted run.
    pub resumed: bool,
}

/// What [`recover`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// No upgrade was pending.
    Clean,
    /// An interrupted upgrade was completed.
    Resumed(Upgraded),
    /// An interrupted upgrade was undone; `STATE` holds the old state.
    RolledBack { from: u64, to: u64 },
}

/// What [`recover`] does with an interrupted upgrade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Resume,
    RollBack,
}

/// The interrupted upgrade of `state`, if any.
pub fn pending(state: &Path) -> Result<Option<Journal>, TransformError> {
    Journal::read(&StateFiles::new(state).journal())
}

/// Upgrades `state` from version `from` to `to` with `tf` (resuming an interrupted run of the
/// same upgrade). `hook` is told of each durable point.
pub fn upgrade(
    state: &Path,
    from: u64,
    to: u64,
    tf: &dyn StateTransform,
    hook: Option<&dyn Fn(Point)>,
) -> Result<Upgraded, TransformError> {
    let files = StateFiles::new(state);
    let run = Run {
        files: &files,
        tf,
        hook,
    };
    match Journal::read(&files.journal())? {
        Some(j) if (j.from, j.to) != (from, to) => Err(TransformError::OtherUpgradePending {
            from: j.from,
            to: j.to,
        }),
        Some(j) => {
            tracing::warn!(state = %state.display(), from, to, step = ?j.step, "resuming an interrupted state transform");
            run.resume(j)
        }
        None => {
            let old = read(state)?;
            if let Some(done) = already_upgraded(&files, from, to, &old)? {
                tracing::info!(state = %state.display(), from, to, "the state is already transformed");
                return Ok(done);
            }
            let journal = Journal {
                format: journal::JOURNAL_FORMAT,
                step: Step::Begun,
                from,
                to,
                old_sha256: sha256_hex(&old),
                new_sha256: None,
            };
            journal.write(&files.journal())?;
            run.at(Point::Begun);
            let mut done = run.after_begun(journal, &old)?;
            done.resumed = false;
            Ok(done)
        }
    }
}

/// Deals with an interrupted upgrade of `state`: completes it (`Resume`, needing `tf`) or
/// undoes it (`RollBack`).
pub fn recover(
    state: &Path,
    tf: &dyn StateTransform,
    policy: Policy,
) -> Result<Recovery, TransformError> {
    let files = StateFiles::new(state);
    let Some(journal) = Journal::read(&files.journal())? else {
        return Ok(Recovery::Clean);
    };
    let run = Run {
        files: &files,
        tf,
        hook: None,
    };
    match policy {
        Policy::Resume => run.resume(journal).map(Recovery::Resumed),
        Policy::RollBack => {
            let (from, to) = (journal.from, journal.to);
            roll_back_pending(&files, &journal)?;
            Ok(Recovery::RolledBack { from, to })
        }
    }
}

/// Puts the old state of the upgrade `from -> to` back into `state`: undoes an interrupted
/// upgrade, or restores the backup `STATE.v<from>` after a completed one. Idempotent.
pub fn rollback(state: &Path, from: u64, to: u64) -> Result<(), TransformError> {
    let files = StateFiles::new(state);
    if let Some(journal) = Journal::read(&files.journal())? {
        if (journal.from, journal.to) != (from, to) {
            return Err(TransformError::OtherUpgradePending {
                from: journal.from,
                to: journal.to,
            });
        }
        return roll_back_pending(&files, &journal);
    }
    let backup = files.versioned(from);
    let Some(old) = read_if_exists(&backup).map_err(|e| TransformError::io(&backup, "read", e))?
    else {
        return Err(TransformError::NoBackup { path: backup });
    };
    atomic_write_via(state, &files.switch_tmp(), &old)
        .map_err(|e| TransformError::io(state, "restore", e))?;
    tracing::info!(state = %state.display(), from, to, "state rolled back");
    Ok(())
}

fn roll_back_pending(files: &StateFiles, journal: &Journal) -> Result<(), TransformError> {
    let state = files.state();
    let current = read(state)?;
    let sha = sha256_hex(&current);
    if sha != journal.old_sha256 {
        if journal.step != Step::Prepared || journal.new_sha256.as_deref() != Some(sha.as_str()) {
            return Err(corrupt(state, "neither the old nor the new state"));
        }
        let backup = files.versioned(journal.from);
        let old = read(&backup)?;
        if sha256_hex(&old) != journal.old_sha256 {
            return Err(corrupt(&backup, "not the old state"));
        }
        atomic_write_via(state, &files.switch_tmp(), &old)
            .map_err(|e| TransformError::io(state, "restore", e))?;
    }
    // The journal goes first: once it is gone nothing refers to the new state's file.
    Journal::remove(&files.journal())?;
    if journal.step == Step::Prepared {
        remove(&files.versioned(journal.to))?;
    }
    remove(&files.staging())?;
    tracing::info!(state = %state.display(), from = journal.from, to = journal.to, "interrupted state transform rolled back");
    Ok(())
}

struct Run<'a> {
    files: &'a StateFiles,
    tf: &'a dyn StateTransform,
    hook: Option<&'a dyn Fn(Point)>,
}

impl Run<'_> {
    fn at(&self, point: Point) {
        if let Some(hook) = self.hook {
            hook(point);
        }
    }

    fn resume(&self, journal: Journal) -> Result<Upgraded, TransformError> {
        match journal.step {
            Step::Begun => {
                let old = read(self.files.state())?;
                if sha256_hex(&old) != journal.old_sha256 {
                    return Err(corrupt(
                        self.files.state(),
                        "not the state the interrupted upgrade began from",
                    ));
                }
                self.after_begun(journal, &old)
            }
            Step::Prepared => self.after_prepared(journal),
        }
    }

    /// Backup, transform, invariant, new state, journal `prepared`, then the switch.
    fn after_begun(&self, mut journal: Journal, old: &[u8]) -> Result<Upgraded, TransformError> {
        let files = self.files;
        let backup = files.versioned(journal.from);
        atomic_write_via(&backup, &with_suffix(&backup, ".tmp"), old)
            .map_err(|e| TransformError::io(&backup, "write", e))?;
        self.at(Point::BackedUp);
        let new = match self.tf.transform(old) {
            Ok(new) => new,
            Err(reason) => return Err(self.abort(&journal, TransformError::Transform { reason })),
        };
        match self.tf.check_invariant(old, &new) {
            Ok(true) => {}
            Ok(false) => return Err(self.abort(&journal, TransformError::InvariantBroken)),
            Err(reason) => return Err(self.abort(&journal, TransformError::Invariant { reason })),
        }
        let target = files.versioned(journal.to);
        atomic_write_via(&target, &files.staging(), &new)
            .map_err(|e| TransformError::io(&target, "write", e))?;
        self.at(Point::NewWritten);
        journal.step = Step::Prepared;
        journal.new_sha256 = Some(sha256_hex(&new));
        journal.write(&files.journal())?;
        self.at(Point::Prepared);
        self.after_prepared(journal)
    }

    /// Makes `STATE` the new state (unless it already is), then removes the journal.
    fn after_prepared(&self, journal: Journal) -> Result<Upgraded, TransformError> {
        let files = self.files;
        let state = files.state();
        let new_sha = journal.new_sha256.clone().ok_or_else(|| {
            corrupt(
                &files.journal(),
                "a prepared journal without the new state's hash",
            )
        })?;
        let target = files.versioned(journal.to);
        let new = read(&target)?;
        if sha256_hex(&new) != new_sha {
            return Err(corrupt(&target, "not the new state the journal recorded"));
        }
        let current = sha256_hex(&read(state)?);
        if current == journal.old_sha256 {
            atomic_write_via(state, &files.switch_tmp(), &new)
                .map_err(|e| TransformError::io(state, "replace", e))?;
        } else if current != new_sha {
            return Err(corrupt(state, "neither the old nor the new state"));
        }
        self.at(Point::Switched);
        Journal::remove(&files.journal())?;
        self.at(Point::Done);
        tracing::info!(state = %state.display(), from = journal.from, to = journal.to, "state transformed");
        Ok(Upgraded {
            old_sha256: journal.old_sha256,
            new_sha256: new_sha,
            resumed: true,
        })
    }

    /// Gives up before anything but the backup was written: `STATE` is untouched.
    fn abort(&self, journal: &Journal, error: TransformError) -> TransformError {
        let _ = remove(&self.files.staging());
        if let Err(e) = Journal::remove(&self.files.journal()) {
            return e;
        }
        tracing::warn!(state = %self.files.state().display(), from = journal.from, to = journal.to, %error, "state transform refused");
        error
    }
}

/// A run that completed (killed after removing its journal, before its caller knew): `STATE`
/// is `STATE.v<to>` and the backup `STATE.v<from>` exists. Rerunning then transforms nothing.
fn already_upgraded(
    files: &StateFiles,
    from: u64,
    to: u64,
    current: &[u8],
) -> Result<Option<Upgraded>, TransformError> {
    let target = files.versioned(to);
    let Some(new) = read_if_exists(&target).map_err(|e| TransformError::io(&target, "read", e))?
    else {
        return Ok(None);
    };
    let backup = files.versioned(from);
    let Some(old) = read_if_exists(&backup).map_err(|e| TransformError::io(&backup, "read", e))?
    else {
        return Ok(None);
    };
    if new != current {
        return Ok(None);
    }
    Ok(Some(Upgraded {
        old_sha256: sha256_hex(&old),
        new_sha256: sha256_hex(&new),
        resumed: true,
    }))
}

fn read(path: &Path) -> Result<Vec<u8>, TransformError> {
    std::fs::read(path).map_err(|e| TransformError::io(path, "read", e))
}

fn remove(path: &Path) -> Result<(), TransformError> {
    remove_if_exists(path).map_err(|e| TransformError::io(path, "remove", e))
}

fn corrupt(path: &Path, what: &str) -> TransformError {
    TransformError::Corrupt {
        reason: format!("`{}` holds {what}", path.display()),
    }
}

#[cfg(test)]
mod tests;
