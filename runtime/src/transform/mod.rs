//! Crash-safe transform of a node's persistent state from version `from` to version `to`,
//! with rollback, and the reverse transform that carries the current state of the new version
//! back to the old one. The state is one JSON document, a directory of JSON documents or a
//! SQLite database ([`storage`]): every read below gives its JSON value, and `STATE`,
//! `STATE.v<from>`, `STATE.v<to>`, `STATE.reverse` and their temporaries are written in the
//! state's kind ([`storage::store`]); the history files hold the JSON value. When the plugin
//! says how the spec declares each version's state ([`StateTransform::layout`]), a run first
//! checks the kind on disk against it ([`check_storage`]: nothing is written otherwise), and a
//! database is written with every declared table's columns ([`storage::Tables`]); the switch
//! and a rollback copy the database file as it was written.
//!
//! Beside the state file `STATE` (e.g. `state.json`) live:
//!
//! | file | what |
//! | --- | --- |
//! | `STATE.upgrade` | the journal: the last durable step, sha-256 of the state before and after, direction, history name |
//! | `STATE.v<from>` | the backup of the old state, kept after the upgrade for [`rollback`] (replaced by the next upgrade from `from`) |
//! | `STATE.v<to>` | the transform's output (written as `STATE.new`, fsynced, renamed) |
//! | `STATE.v<version>.<unix-ms>[-<n>]` | history: every state an upgrade, a [`reverse`] or a [`rollback`] replaced, with its version; written once, never overwritten or removed ([`history`]) |
//! | `STATE.reverse` | the reverse transform's output while a [`reverse`] runs; after it, a copy of the state it gave |
//! | `STATE.reverse-backup` | while a [`reverse`] runs: a copy of the state it began from, in its kind, which undoing the run puts back (removed when the run ends) |
//! | `STATE.switch`, `*.tmp` | temporaries of atomic replacements |
//!
//! `STATE.v<from>` keeps its meaning ([`StateFiles::versioned`]): the agent's rollback reads it.
//! The history files are new: an upgrade keeps the old state there too, a [`rollback`] keeps the
//! state it discards there first, and a [`reverse`] keeps the new version's state there.
//!
//! The backups a run undoes itself from (`STATE.v<from>`, `STATE.reverse-backup`) are copies of
//! the state as it is on disk, not written again from its value: a database file is copied
//! whole, a directory keeps every sub-directory. The value alone does not say the columns of a
//! table without rows (nor a directory's empty sub-directories), and a rollback may run without
//! the plugin that declares them (the agent undoing an interrupted run at start).
//!
//! [`reverse`] runs like [`upgrade`], in the other direction: journal `begun` (with
//! `reverse: true`) -> the current state kept in history -> reverse transform and invariant
//! (between its result and the current state) -> `STATE.reverse` -> journal `prepared` ->
//! `STATE` replaced atomically -> journal removed. Its durable points are the same [`Point`]s.
//! A rerun resumes from the journal; [`recover_reverse`] resumes it or undoes it.
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
mod files;
pub mod fsutil;
pub mod history;
pub mod journal;
pub mod storage;

pub use error::{Cause, TransformError};
pub use files::StateFiles;
pub use journal::{Journal, Step};

use crate::digest::sha256_hex;
use crate::plugin::Plugin;
use fsutil::with_suffix;
use std::path::Path;
use storage::{Kind, Layout, Tables};

/// The spec's invariant between an old state and a new one, which a transform must keep in
/// either direction.
pub trait Invariant {
    /// Whether the invariant holds between `old` and `new` (JSON).
    fn check_invariant(&self, old: &[u8], new: &[u8]) -> Result<bool, Cause>;
}

/// A transform of state bytes, which keeps its [`Invariant`]. Plugins are one; tests use
/// their own.
pub trait StateTransform: Invariant {
    /// The new state (JSON) of the old state (JSON).
    fn transform(&self, old: &[u8]) -> Result<Vec<u8>, Cause>;
    /// How the old (`new == false`) or the new version keeps its state, as the spec declares
    /// it; `None`: not known (nothing is checked, tables are written as their rows say).
    fn layout(&self, new: bool) -> Option<Layout> {
        let _ = new;
        None
    }
}

/// The reverse transform of state bytes (a rollback's), which keeps its [`Invariant`].
pub trait ReverseTransform: Invariant {
    /// The old version's state (JSON) of the new version's state (JSON).
    fn reverse_transform(&self, new: &[u8]) -> Result<Vec<u8>, Cause>;
    /// As [`StateTransform::layout`]: the old (`new == false`) or the new version's.
    fn layout(&self, new: bool) -> Option<Layout> {
        let _ = new;
        None
    }
}

impl Invariant for Plugin {
    fn check_invariant(&self, old: &[u8], new: &[u8]) -> Result<bool, Cause> {
        Plugin::check_invariant(self, old, new).map_err(Cause::from)
    }
}

/// The layout a plugin's manifest gives a version's state.
fn plugin_layout(plugin: &Plugin, new: bool) -> Option<Layout> {
    let m = plugin.manifest();
    let l = if new { &m.new_state } else { &m.old_state };
    let l = l.as_ref()?;
    Some(Layout {
        kind: Kind::from_name(&l.storage)?,
        tables: Tables::new(
            l.tables
                .iter()
                .map(|t| (t.field.clone(), t.columns.clone())),
        ),
    })
}

impl StateTransform for Plugin {
    fn transform(&self, old: &[u8]) -> Result<Vec<u8>, Cause> {
        Plugin::transform(self, old).map_err(Cause::from)
    }

    fn layout(&self, new: bool) -> Option<Layout> {
        plugin_layout(self, new)
    }
}

impl ReverseTransform for Plugin {
    fn reverse_transform(&self, new: &[u8]) -> Result<Vec<u8>, Cause> {
        Plugin::reverse_transform(self, new).map_err(Cause::from)
    }

    fn layout(&self, new: bool) -> Option<Layout> {
        plugin_layout(self, new)
    }
}

/// Which conversion a run makes.
#[derive(Clone, Copy)]
enum Op<'a> {
    Upgrade(&'a dyn StateTransform),
    Reverse(&'a dyn ReverseTransform),
}

impl Op<'_> {
    fn reverse(self) -> bool {
        matches!(self, Op::Reverse(_))
    }

    /// The layout of the state a run begins from: the old version's for an upgrade, the new
    /// one's for a reverse run.
    fn before(self) -> Option<Layout> {
        match self {
            Op::Upgrade(tf) => tf.layout(false),
            Op::Reverse(tf) => tf.layout(true),
        }
    }

    /// The layout of the state a run gives.
    fn after(self) -> Option<Layout> {
        match self {
            Op::Upgrade(tf) => tf.layout(true),
            Op::Reverse(tf) => tf.layout(false),
        }
    }

    /// The state after the run of the state before it, checked against the invariant.
    fn convert(self, before: &[u8]) -> Result<Vec<u8>, TransformError> {
        match self {
            Op::Upgrade(tf) => {
                let new = tf
                    .transform(before)
                    .map_err(|source| TransformError::Transform { source })?;
                match tf.check_invariant(before, &new) {
                    Ok(true) => Ok(new),
                    Ok(false) => Err(TransformError::InvariantBroken),
                    Err(source) => Err(TransformError::Invariant { source }),
                }
            }
            Op::Reverse(tf) => {
                let old = tf
                    .reverse_transform(before)
                    .map_err(|source| TransformError::Reverse { source })?;
                match tf.check_invariant(&old, before) {
                    Ok(true) => Ok(old),
                    Ok(false) => Err(TransformError::ReverseInvariantBroken),
                    Err(source) => Err(TransformError::Invariant { source }),
                }
            }
        }
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

/// The new state of `old` under `tf`, checked against the invariant, exactly as [`upgrade`]
/// computes it, with nothing written: a node runs it on its current state before it stops
/// anything, so a state the transform refuses fails the upgrade while the old program serves.
pub fn preflight(old: &[u8], tf: &dyn StateTransform) -> Result<Vec<u8>, TransformError> {
    Op::Upgrade(tf).convert(old)
}

/// Checks that the state at `state` is of the kind the spec declares for the version an
/// upgrade by `tf` begins from (`state json|dir|sqlite`): run before anything is written, so a
/// node pointed at another kind of state refuses the upgrade with the state untouched. A
/// missing state, or a plugin that does not say, passes.
pub fn check_storage(
    state: &Path,
    version: u64,
    tf: &dyn StateTransform,
) -> Result<(), TransformError> {
    check_kind(state, version, Op::Upgrade(tf).before().as_ref())
}

fn check_kind(state: &Path, version: u64, layout: Option<&Layout>) -> Result<(), TransformError> {
    let Some(declared) = layout.map(|l| l.kind) else {
        return Ok(());
    };
    match Kind::of(state) {
        Ok(found) if found != declared => Err(TransformError::StorageMismatch {
            path: state.to_path_buf(),
            found,
            declared,
            version,
        }),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(TransformError::io(state, "read", e)),
    }
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
    start(state, from, to, Op::Upgrade(tf), hook)
}

/// Converts the current state of `state`, of version `from` (the newer), back to version `to`
/// with the reverse transform `tf`: a rollback that keeps the writes the new version took. The
/// state it replaces is kept in history (never overwritten). Resumes an interrupted run of
/// the same rollback; a rerun after a completed one (`STATE` already equal to its output
/// `STATE.reverse`) does nothing. `hook` is told of each durable point.
pub fn reverse(
    state: &Path,
    from: u64,
    to: u64,
    tf: &dyn ReverseTransform,
    hook: Option<&dyn Fn(Point)>,
) -> Result<Upgraded, TransformError> {
    start(state, from, to, Op::Reverse(tf), hook)
}

/// An upgrade or reverse run from its start, or resumed from its journal.
fn start(
    state: &Path,
    from: u64,
    to: u64,
    op: Op<'_>,
    hook: Option<&dyn Fn(Point)>,
) -> Result<Upgraded, TransformError> {
    let files = StateFiles::new(state);
    let run = Run {
        files: &files,
        op: Some(op),
        hook,
    };
    match Journal::read(&files.journal())? {
        Some(j) if (j.from, j.to) != (from, to) => Err(TransformError::OtherUpgradePending {
            from: j.from,
            to: j.to,
        }),
        Some(j) if j.reverse != op.reverse() => Err(TransformError::OtherDirectionPending {
            from: j.from,
            to: j.to,
            reverse: j.reverse,
        }),
        Some(j) => {
            tracing::warn!(state = %state.display(), from, to, step = ?j.step, reverse = j.reverse, "resuming an interrupted state transform");
            run.resume(j)
        }
        None => {
            // Before anything is written: a state of another kind than the spec declares.
            check_kind(state, from, op.before().as_ref())?;
            let old = read(state)?;
            let done = if op.reverse() {
                already_reversed(&files, &old)
            } else {
                already_upgraded(&files, from, to, &old)?
            };
            if let Some(done) = done {
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
                reverse: op.reverse(),
                history: Some(history::fresh_name(state, from)),
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
    recover_op(state, Op::Upgrade(tf), policy)
}

/// Deals with an interrupted [`reverse`] of `state` as [`recover`] does with an upgrade:
/// completes it (`Resume`, needing `tf`) or undoes it (`RollBack`: `STATE` holds the new
/// version's state it began from). Also undoes an interrupted upgrade when asked to.
pub fn recover_reverse(
    state: &Path,
    tf: &dyn ReverseTransform,
    policy: Policy,
) -> Result<Recovery, TransformError> {
    recover_op(state, Op::Reverse(tf), policy)
}

fn recover_op(state: &Path, op: Op<'_>, policy: Policy) -> Result<Recovery, TransformError> {
    let files = StateFiles::new(state);
    let Some(journal) = Journal::read(&files.journal())? else {
        return Ok(Recovery::Clean);
    };
    match policy {
        Policy::Resume => {
            // A prepared run only switches files: it needs neither transform.
            let op = (journal.reverse == op.reverse()).then_some(op);
            if op.is_none() && journal.step == Step::Begun {
                return Err(TransformError::OtherDirectionPending {
                    from: journal.from,
                    to: journal.to,
                    reverse: journal.reverse,
                });
            }
            let run = Run {
                files: &files,
                op,
                hook: None,
            };
            run.resume(journal).map(Recovery::Resumed)
        }
        Policy::RollBack => {
            let (from, to) = (journal.from, journal.to);
            // The layout of the state the run began from, when `op` ran in its direction.
            let before = (journal.reverse == op.reverse())
                .then(|| op.before())
                .flatten();
            roll_back_pending(&files, &journal, before.as_ref())?;
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
        return roll_back_pending(&files, &journal, None);
    }
    let backup = files.versioned(from);
    let Some(old) =
        storage::load_if_exists(&backup).map_err(|e| TransformError::io(&backup, "read", e))?
    else {
        return Err(TransformError::NoBackup { path: backup });
    };
    let current = read(state)?;
    if current == old {
        return Ok(());
    }
    // What the new version wrote is discarded from `STATE`, but kept on disk.
    let kept = history::keep(state, &history::fresh_name(state, to), &current)?;
    files.copy(&backup, state, &files.switch_tmp(), &old)?;
    tracing::info!(state = %state.display(), from, to, kept = %kept.display(), "state rolled back");
    Ok(())
}

/// Undoes the interrupted run of `journal`; `before`: the layout of the state it began from,
/// when known.
fn roll_back_pending(
    files: &StateFiles,
    journal: &Journal,
    before: Option<&Layout>,
) -> Result<(), TransformError> {
    let state = files.state();
    let current = read(state)?;
    let sha = sha256_hex(&current);
    if sha != journal.old_sha256 {
        if journal.step != Step::Prepared || journal.new_sha256.as_deref() != Some(sha.as_str()) {
            return Err(corrupt(state, "neither the old nor the new state"));
        }
        let backup = files.before(journal);
        let old = read(&backup)?;
        if sha256_hex(&old) != journal.old_sha256 {
            return Err(corrupt(&backup, "not the state the run began from"));
        }
        // The run's backup holds the state as it was on disk (a database with every table's
        // columns, a directory with its empty sub-directories); the history file holds only
        // its value, and `before` (the plugin's layout) may be unknown.
        let copy = files.backup(journal);
        let from_copy = storage::load_if_exists(&copy)
            .ok()
            .flatten()
            .is_some_and(|b| sha256_hex(&b) == journal.old_sha256);
        if from_copy {
            files.copy(&copy, state, &files.switch_tmp(), &old)?;
        } else {
            files.store(state, &files.switch_tmp(), &old, before)?;
        }
    }
    // The journal goes first: once it is gone nothing refers to the new state's file.
    Journal::remove(&files.journal())?;
    if journal.step == Step::Prepared {
        remove(&files.target(journal))?;
    }
    remove(&files.staging())?;
    if journal.reverse {
        remove(&files.reverse_backup())?;
    }
    tracing::info!(state = %state.display(), from = journal.from, to = journal.to, "interrupted state transform rolled back");
    Ok(())
}

struct Run<'a> {
    files: &'a StateFiles,
    /// The conversion; `None` when recovering a prepared run of the other direction.
    op: Option<Op<'a>>,
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
        let after = self.op.and_then(Op::after);
        // The state as it is on disk, for undoing the run (see the module's notes).
        let backup = files.backup(&journal);
        files.copy(files.state(), &backup, &with_suffix(&backup, ".tmp"), old)?;
        if let Some(name) = &journal.history {
            history::keep(files.state(), name, old)?;
        }
        self.at(Point::BackedUp);
        let Some(op) = self.op else {
            return Err(TransformError::OtherDirectionPending {
                from: journal.from,
                to: journal.to,
                reverse: journal.reverse,
            });
        };
        let new = match op.convert(old).and_then(|new| {
            // The bytes the state gives back once stored, which the journal's hash is of.
            storage::normalize(files.kind, &new).map_err(|e| TransformError::Transform {
                source: format!(
                    "its result cannot be kept as a {} state: {e}",
                    files.kind.name()
                )
                .into(),
            })
        }) {
            Ok(new) => new,
            Err(e) => return Err(self.abort(&journal, e)),
        };
        let target = files.target(&journal);
        files.store(&target, &files.staging(), &new, after.as_ref())?;
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
        let target = files.target(&journal);
        let new = read(&target)?;
        if sha256_hex(&new) != new_sha {
            return Err(corrupt(&target, "not the new state the journal recorded"));
        }
        let current = sha256_hex(&read(state)?);
        if current == journal.old_sha256 {
            // The run's output as it was written: a database keeps its tables' columns.
            files.copy(&target, state, &files.switch_tmp(), &new)?;
        } else if current != new_sha {
            return Err(corrupt(state, "neither the old nor the new state"));
        }
        self.at(Point::Switched);
        Journal::remove(&files.journal())?;
        if journal.reverse {
            remove(&files.reverse_backup())?;
        }
        self.at(Point::Done);
        tracing::info!(state = %state.display(), from = journal.from, to = journal.to, "state transformed");
        Ok(Upgraded {
            old_sha256: journal.old_sha256,
            new_sha256: new_sha,
            resumed: true,
        })
    }

    /// Gives up before anything but the backups were written: `STATE` is untouched (the
    /// history copy stays: it is never removed).
    fn abort(&self, journal: &Journal, error: TransformError) -> TransformError {
        let _ = remove(&self.files.staging());
        if let Err(e) = Journal::remove(&self.files.journal()) {
            return e;
        }
        if journal.reverse {
            let _ = remove(&self.files.reverse_backup());
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
    let Some(new) =
        storage::load_if_exists(&target).map_err(|e| TransformError::io(&target, "read", e))?
    else {
        return Ok(None);
    };
    let backup = files.versioned(from);
    let Some(old) =
        storage::load_if_exists(&backup).map_err(|e| TransformError::io(&backup, "read", e))?
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

/// A reverse run that completed (killed after removing its journal, before its caller knew):
/// `STATE` equals its output `STATE.reverse`, so it already holds the old version's state.
fn already_reversed(files: &StateFiles, current: &[u8]) -> Option<Upgraded> {
    let out = storage::load_if_exists(&files.reversed()).ok()??;
    (out == current).then(|| Upgraded {
        old_sha256: String::new(),
        new_sha256: sha256_hex(&out),
        resumed: true,
    })
}

/// The state (or its backup, a run's output, a history file) at `path` as JSON bytes.
fn read(path: &Path) -> Result<Vec<u8>, TransformError> {
    storage::load(path).map_err(|e| TransformError::io(path, "read", e))
}

/// Removes a run's output or temporary, a file or a directory.
fn remove(path: &Path) -> Result<(), TransformError> {
    // A database's rollback journal, when a run was killed while writing it.
    let journal = with_suffix(path, "-journal");
    storage::remove_any(&journal).map_err(|e| TransformError::io(&journal, "remove", e))?;
    storage::remove_any(path).map_err(|e| TransformError::io(path, "remove", e))
}

fn corrupt(path: &Path, what: &str) -> TransformError {
    TransformError::Corrupt {
        reason: format!("`{}` holds {what}", path.display()),
    }
}

#[cfg(test)]
mod tests;
