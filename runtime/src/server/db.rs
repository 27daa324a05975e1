//! The upgrade database: an embedded SQLite file owned by one dedicated thread.
//!
//! Tables: `bundles`, `rollouts` (state `pending|running|paused|done|rolled_back`, and the
//! counts of nodes as of its last change of state, and whether the operator let its nodes drop
//! writes), `nodes` (version, phase and since when, health, last seen, current rollout and
//! assignment) and `events`, an append-only log (triggers refuse updates and
//! deletes), and `enrolled_nodes`, the nodes an operator enrolled with their public keys (only
//! they may poll and report). The schema is versioned with
//! `PRAGMA user_version`; [`MIGRATIONS`] run in order, each in its own transaction.
//!
//! Writers send closures to the thread ([`Db::write`] waits for the commit, [`Db::send`] does
//! not); the thread runs everything queued in one transaction (one savepoint per closure, so a
//! failing write does not undo the others), which batches heartbeats and group-commits.

use crate::api::Progress;
use rusqlite::{params, Connection, OptionalExtension};
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::thread;
use tokio::sync::oneshot;

/// The schema, one migration per `user_version` step.
pub const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE bundles (
        id TEXT PRIMARY KEY,
        spec TEXT NOT NULL,
        from_version INTEGER NOT NULL,
        to_version INTEGER NOT NULL,
        spec_hash TEXT NOT NULL,
        key_id TEXT NOT NULL,
        header BLOB NOT NULL,
        pushed_at_ms INTEGER NOT NULL
    );
    CREATE TABLE rollouts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        bundle TEXT NOT NULL REFERENCES bundles(id),
        system TEXT NOT NULL,
        from_version INTEGER NOT NULL,
        to_version INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'paused', 'done', 'rolled_back')),
        reason TEXT NOT NULL DEFAULT '',
        seed INTEGER NOT NULL,
        canary_passed INTEGER NOT NULL DEFAULT 0,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL
    );
    CREATE TABLE nodes (
        id TEXT PRIMARY KEY,
        system TEXT NOT NULL,
        address TEXT NOT NULL,
        version INTEGER NOT NULL,
        phase TEXT NOT NULL CHECK (phase IN ('serving', 'draining', 'transforming', 'starting',
            'health-checking', 'upgraded', 'failed', 'rolled-back')),
        healthy INTEGER NOT NULL,
        healthy_since_ms INTEGER,
        last_seen_ms INTEGER NOT NULL,
        rollout INTEGER REFERENCES rollouts(id),
        batch INTEGER,
        assigned_at_ms INTEGER
    );
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        at_ms INTEGER NOT NULL,
        rollout INTEGER,
        node TEXT,
        kind TEXT NOT NULL,
        message TEXT NOT NULL
    );
    CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;",
    // 2: enrolled nodes.
    "CREATE TABLE enrolled_nodes (
        id TEXT PRIMARY KEY,
        public_key TEXT NOT NULL UNIQUE,
        enrolled_at_ms INTEGER NOT NULL,
        enrolled_by TEXT NOT NULL
    );",
    // 3: what a restart must not lose: a rollout's counts of nodes as of its last change of
    // state (a finished rollout is not counted again), whether the operator let its nodes drop
    // writes that cannot be carried back, and since when a node reports its phase (an old
    // failure must not count against a newer assignment; NULL: since it was last seen).
    "ALTER TABLE nodes ADD COLUMN phase_since_ms INTEGER;
    ALTER TABLE rollouts ADD COLUMN discard_writes INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollouts ADD COLUMN progress_total INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollouts ADD COLUMN progress_done INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollouts ADD COLUMN progress_in_flight INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollouts ADD COLUMN progress_pending INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollouts ADD COLUMN progress_failed INTEGER NOT NULL DEFAULT 0;",
];

/// A write to run on the database thread.
pub type WriteFn = Box<dyn FnOnce(&Connection) -> rusqlite::Result<()> + Send>;

enum Op {
    Write(WriteFn, Option<oneshot::Sender<Result<(), DbError>>>),
    /// Replies once everything sent before it is committed.
    Flush(oneshot::Sender<()>),
}

/// The handle of the database thread. Dropping every handle ends the thread after it has
/// committed what was queued.
#[derive(Debug, Clone)]
pub struct Db {
    tx: mpsc::Sender<Op>,
}

impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Op::Write(..) => "Write",
            Op::Flush(..) => "Flush",
        })
    }
}

/// Why the database could not be opened, migrated, started or written.
#[derive(Debug)]
pub enum DbError {
    /// SQLite cannot open the file.
    Open {
        path: PathBuf,
        error: rusqlite::Error,
    },
    /// The connection's settings (journal mode, foreign keys, busy timeout) are refused.
    Setup {
        path: PathBuf,
        error: rusqlite::Error,
    },
    /// The schema cannot be brought to this release's.
    Migrate { path: PathBuf, error: MigrateError },
    /// The operating system gave no thread.
    Thread(std::io::Error),
    /// The database thread has stopped: nothing more is written.
    Stopped,
    /// The write itself failed (and was rolled back alone).
    Write(rusqlite::Error),
    /// The transaction holding the write failed to commit (shared by every write in it).
    Commit(Arc<rusqlite::Error>),
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Open { path, error } => {
                write!(f, "cannot open the database `{}`: {error}", path.display())
            }
            DbError::Setup { path, error } => {
                write!(
                    f,
                    "cannot set up the database `{}`: {error}",
                    path.display()
                )
            }
            DbError::Migrate { path, error } => {
                write!(
                    f,
                    "cannot migrate the database `{}`: {error}",
                    path.display()
                )
            }
            DbError::Thread(error) => write!(f, "cannot start the database thread: {error}"),
            DbError::Stopped => f.write_str("the database thread has stopped"),
            DbError::Write(error) => write!(f, "{error}"),
            DbError::Commit(error) => write!(f, "the database commit failed: {error}"),
        }
    }
}

impl std::error::Error for DbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DbError::Open { error, .. } | DbError::Setup { error, .. } | DbError::Write(error) => {
                Some(error)
            }
            DbError::Migrate { error, .. } => Some(error),
            DbError::Thread(error) => Some(error),
            DbError::Commit(error) => Some(error.as_ref()),
            DbError::Stopped => None,
        }
    }
}

/// Why [`migrate`] stopped (the migrations before the failing one stay committed).
#[derive(Debug)]
pub enum MigrateError {
    /// The schema version (`PRAGMA user_version`) cannot be read.
    ReadVersion(rusqlite::Error),
    /// The schema is newer than this release knows.
    TooNew { found: i64, known: i64 },
    /// Migration `to` failed and was rolled back.
    Step { to: usize, error: rusqlite::Error },
}

impl fmt::Display for MigrateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MigrateError::ReadVersion(error) => {
                write!(f, "cannot read its schema version: {error}")
            }
            MigrateError::TooNew { found, known } => write!(
                f,
                "its schema version is {found}, newer than this upstart knows ({known}): use a \
                 newer upstart"
            ),
            MigrateError::Step { to, error } => write!(f, "migration {to}: {error}"),
        }
    }
}

impl std::error::Error for MigrateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MigrateError::ReadVersion(error) | MigrateError::Step { error, .. } => Some(error),
            MigrateError::TooNew { .. } => None,
        }
    }
}

/// Opens (creating if needed) and migrates the database at `path`.
pub fn open(path: &Path) -> Result<Connection, DbError> {
    let conn = Connection::open(path).map_err(|error| DbError::Open {
        path: path.to_path_buf(),
        error,
    })?;
    let setup = |error| DbError::Setup {
        path: path.to_path_buf(),
        error,
    };
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
    )
    .map_err(setup)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(setup)?;
    migrate(&conn).map_err(|error| DbError::Migrate {
        path: path.to_path_buf(),
        error,
    })?;
    Ok(conn)
}

/// Runs the migrations past the database's `user_version`.
pub fn migrate(conn: &Connection) -> Result<(), MigrateError> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(MigrateError::ReadVersion)?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(MigrateError::TooNew {
            found: version,
            known,
        });
    }
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(version).unwrap_or(0))
    {
        let to = i + 1;
        let run = || -> rusqlite::Result<()> {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            conn.execute_batch(sql)?;
            conn.pragma_update(None, "user_version", to as i64)?;
            conn.execute_batch("COMMIT")
        };
        if let Err(error) = run() {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(MigrateError::Step { to, error });
        }
        tracing::info!(version = to, "database migrated");
    }
    Ok(())
}

impl Db {
    /// Starts the database thread on `conn`.
    pub fn spawn(conn: Connection) -> Result<Db, DbError> {
        let (tx, rx) = mpsc::channel::<Op>();
        thread::Builder::new()
            .name("upstart-db".into())
            .spawn(move || run(conn, rx))
            .map_err(DbError::Thread)?;
        Ok(Db { tx })
    }

    /// Queues `f` for the next transaction now, behind every write queued before this call,
    /// and returns the wait for its commit (so a caller may queue it while the model is locked
    /// and wait once the lock is released).
    pub fn write(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<()> + Send + 'static,
    ) -> impl Future<Output = Result<(), DbError>> + Send + 'static {
        let (reply, wait) = oneshot::channel();
        let queued = self
            .tx
            .send(Op::Write(Box::new(f), Some(reply)))
            .map_err(|_| DbError::Stopped);
        async move {
            queued?;
            wait.await.map_err(|_| DbError::Stopped)?
        }
    }

    /// Runs `f` in the next transaction, without waiting.
    pub fn send(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<()> + Send + 'static) {
        if self.tx.send(Op::Write(Box::new(f), None)).is_err() {
            tracing::error!("the database thread has stopped: a write is lost");
        }
    }

    /// Waits until everything sent so far is committed.
    pub async fn flush(&self) {
        let (reply, wait) = oneshot::channel();
        if self.tx.send(Op::Flush(reply)).is_ok() {
            let _ = wait.await;
        }
    }
}

/// The thread: takes everything queued, runs it in one transaction, commits, replies.
fn run(mut conn: Connection, rx: mpsc::Receiver<Op>) {
    while let Ok(first) = rx.recv() {
        let mut ops = vec![first];
        while ops.len() < 10_000 {
            match rx.try_recv() {
                Ok(op) => ops.push(op),
                Err(_) => break,
            }
        }
        let mut replies = Vec::new();
        let mut flushes = Vec::new();
        let outcome = (|| -> rusqlite::Result<()> {
            let mut tx = conn.transaction()?;
            for op in ops {
                match op {
                    Op::Write(f, reply) => {
                        let mut sp = tx.savepoint()?;
                        let result = f(&sp);
                        match &result {
                            Ok(()) => sp.commit()?,
                            Err(e) => {
                                tracing::error!(error = %e, "a database write failed");
                                sp.rollback()?;
                            }
                        }
                        replies.push((reply, result.map_err(DbError::Write)));
                    }
                    Op::Flush(reply) => flushes.push(reply),
                }
            }
            tx.commit()
        })();
        let outcome = outcome.map_err(Arc::new);
        for (reply, result) in replies {
            let result = match (&outcome, result) {
                (Err(e), _) => Err(DbError::Commit(e.clone())),
                (Ok(()), r) => r,
            };
            if let Some(reply) = reply {
                let _ = reply.send(result);
            }
        }
        if let Err(e) = outcome {
            tracing::error!(error = %e, "a database transaction failed");
        }
        for f in flushes {
            let _ = f.send(());
        }
    }
    tracing::debug!("database thread stopped");
}

/// Everything the server loads at start.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub bundles: Vec<(String, Vec<u8>)>,
    pub rollouts: Vec<RolloutRow>,
    pub nodes: Vec<NodeRow>,
    pub events: Vec<crate::api::Event>,
    pub next_event_seq: u64,
    pub enrolled: Vec<EnrolledRow>,
}

#[derive(Debug, Clone)]
pub struct EnrolledRow {
    pub id: String,
    /// 64 hex digits.
    pub public_key: String,
    pub enrolled_at_ms: u64,
    pub enrolled_by: String,
}

#[derive(Debug, Clone)]
pub struct RolloutRow {
    pub id: u64,
    pub bundle: String,
    pub system: String,
    pub from: u64,
    pub to: u64,
    pub state: String,
    pub reason: String,
    pub seed: u64,
    pub canary_passed: bool,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    /// The counts of nodes written with the rollout's last change of state.
    pub progress: Progress,
    pub discard_writes: bool,
}

#[derive(Debug, Clone)]
pub struct NodeRow {
    pub id: String,
    pub system: String,
    pub address: String,
    pub version: u64,
    pub phase: String,
    pub healthy: bool,
    pub healthy_since_ms: Option<u64>,
    pub last_seen_ms: u64,
    pub rollout: Option<u64>,
    pub batch: Option<u32>,
    pub assigned_at_ms: Option<u64>,
    /// Since when the node reports its phase (`None`: written before it was kept).
    pub phase_since_ms: Option<u64>,
}

/// Every row `sql` (with `params`) selects, each read by `row`.
fn rows<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    let mut stmt = conn.prepare(sql)?;
    let out = stmt.query_map(params, row)?.collect();
    out
}

/// Reads everything the server keeps in memory (the latest `events` events).
pub fn load(conn: &Connection, events: usize) -> rusqlite::Result<Snapshot> {
    let bundles = rows(
        conn,
        "SELECT id, header FROM bundles ORDER BY pushed_at_ms",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let rollouts = rows(
        conn,
        "SELECT id, bundle, system, from_version, to_version, state, reason, seed, canary_passed,
                created_at_ms, updated_at_ms, progress_total, progress_done, progress_in_flight,
                progress_pending, progress_failed, discard_writes FROM rollouts ORDER BY id",
        [],
        |r| {
            Ok(RolloutRow {
                id: r.get(0)?,
                bundle: r.get(1)?,
                system: r.get(2)?,
                from: r.get(3)?,
                to: r.get(4)?,
                state: r.get(5)?,
                reason: r.get(6)?,
                seed: r.get::<_, i64>(7)? as u64,
                canary_passed: r.get(8)?,
                created_at_ms: r.get(9)?,
                updated_at_ms: r.get(10)?,
                progress: Progress {
                    total: r.get(11)?,
                    done: r.get(12)?,
                    in_flight: r.get(13)?,
                    pending: r.get(14)?,
                    failed: r.get(15)?,
                },
                discard_writes: r.get(16)?,
            })
        },
    )?;
    let nodes = rows(
        conn,
        "SELECT id, system, address, version, phase, healthy, healthy_since_ms, last_seen_ms, rollout,
                batch, assigned_at_ms, phase_since_ms FROM nodes",
        [],
        |r| {
            Ok(NodeRow {
                id: r.get(0)?,
                system: r.get(1)?,
                address: r.get(2)?,
                version: r.get(3)?,
                phase: r.get(4)?,
                healthy: r.get(5)?,
                healthy_since_ms: r.get(6)?,
                last_seen_ms: r.get(7)?,
                rollout: r.get(8)?,
                batch: r.get(9)?,
                assigned_at_ms: r.get(10)?,
                phase_since_ms: r.get(11)?,
            })
        },
    )?;
    let mut events: Vec<crate::api::Event> = rows(
        conn,
        "SELECT seq, at_ms, rollout, node, kind, message FROM events ORDER BY seq DESC LIMIT ?1",
        params![events as i64],
        |r| {
            Ok(crate::api::Event {
                seq: r.get(0)?,
                at_ms: r.get(1)?,
                rollout: r.get(2)?,
                node: r.get(3)?,
                kind: r.get(4)?,
                message: r.get(5)?,
            })
        },
    )?;
    events.reverse();
    let enrolled = rows(
        conn,
        "SELECT id, public_key, enrolled_at_ms, enrolled_by FROM enrolled_nodes ORDER BY id",
        [],
        |r| {
            Ok(EnrolledRow {
                id: r.get(0)?,
                public_key: r.get(1)?,
                enrolled_at_ms: r.get(2)?,
                enrolled_by: r.get(3)?,
            })
        },
    )?;
    let max: Option<u64> = conn
        .query_row("SELECT MAX(seq) FROM events", [], |r| r.get(0))
        .optional()?
        .flatten();
    Ok(Snapshot {
        bundles,
        rollouts,
        nodes,
        events,
        next_event_seq: max.map_or(1, |m| m + 1),
        enrolled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_refuses_newer_schemas() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u.db");
        let conn = open(&path).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
        drop(conn);
        let conn = open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let e = open(&path).unwrap_err().to_string();
        assert!(
            e.contains("schema version is 99, newer than this upstart knows (3)"),
            "{e}"
        );
    }

    #[test]
    fn rows_written_before_schema_3_read_with_zero_counts_and_no_phase_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u.db");
        let conn = Connection::open(&path).unwrap();
        for (version, sql) in MIGRATIONS.iter().take(2).enumerate() {
            conn.execute_batch(sql).unwrap();
            conn.pragma_update(None, "user_version", version + 1)
                .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO bundles VALUES ('b', 'spec', 1, 2, 'h', 'k', x'00', 1);
             INSERT INTO rollouts (bundle, system, from_version, to_version, state, seed,
                 created_at_ms, updated_at_ms) VALUES ('b', 'kv', 1, 2, 'done', 7, 10, 20);
             INSERT INTO nodes (id, system, address, version, phase, healthy, last_seen_ms)
                 VALUES ('n1', 'kv', '', 2, 'upgraded', 1, 30);",
        )
        .unwrap();
        drop(conn);
        let conn = open(&path).unwrap();
        let Snapshot {
            rollouts, nodes, ..
        } = load(&conn, 10).unwrap();
        assert_eq!(rollouts.len(), 1);
        assert_eq!(
            (rollouts[0].state.as_str(), rollouts[0].updated_at_ms),
            ("done", 20)
        );
        assert_eq!(rollouts[0].progress, Progress::default());
        assert!(!rollouts[0].discard_writes);
        assert_eq!((nodes[0].last_seen_ms, nodes[0].phase_since_ms), (30, None));
    }

    #[test]
    fn errors_give_the_sqlite_error_as_their_source() {
        use std::error::Error;
        let dir = tempfile::tempdir().unwrap();
        // A directory is no database file.
        let e = open(dir.path()).unwrap_err();
        assert!(
            e.to_string().starts_with(&format!(
                "cannot open the database `{}`: ",
                dir.path().display()
            )),
            "{e}"
        );
        let source = e.source().unwrap();
        assert!(
            source.downcast_ref::<rusqlite::Error>().is_some(),
            "{source:?}"
        );

        let path = dir.path().join("u.db");
        let conn = open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let e = open(&path).unwrap_err();
        let why = e.source().unwrap().downcast_ref::<MigrateError>().unwrap();
        assert!(
            matches!(why, MigrateError::TooNew { found: 99, .. }),
            "{why:?}"
        );
        assert!(why.source().is_none());

        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE bundles (id TEXT)")
            .unwrap();
        let e = migrate(&conn).unwrap_err();
        assert!(e.to_string().starts_with("migration 1: "), "{e}");
        let source = e.source().unwrap();
        assert!(
            source.downcast_ref::<rusqlite::Error>().is_some(),
            "{source:?}"
        );
    }

    #[test]
    fn events_are_append_only() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&dir.path().join("u.db")).unwrap();
        conn.execute(
            "INSERT INTO events (seq, at_ms, kind, message) VALUES (1, 0, 'k', 'm')",
            [],
        )
        .unwrap();
        let e = conn
            .execute("UPDATE events SET message = 'x'", [])
            .unwrap_err();
        assert!(e.to_string().contains("append-only"), "{e}");
        let e = conn.execute("DELETE FROM events", []).unwrap_err();
        assert!(e.to_string().contains("append-only"), "{e}");
    }

    #[test]
    fn bad_phases_and_states_are_refused_by_the_schema() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&dir.path().join("u.db")).unwrap();
        let e = conn
            .execute("INSERT INTO nodes (id, system, address, version, phase, healthy, last_seen_ms) VALUES ('a', 's', '', 1, 'dancing', 1, 0)", [])
            .unwrap_err();
        assert!(e.to_string().contains("CHECK"), "{e}");
    }

    #[tokio::test]
    async fn writes_commit_in_batches_and_failures_are_isolated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u.db");
        let db = Db::spawn(open(&path).unwrap()).unwrap();
        for i in 0..100 {
            db.send(move |c| {
                c.execute(
                    "INSERT INTO events (seq, at_ms, kind, message) VALUES (?1, 0, 'k', 'm')",
                    params![i + 1],
                )
                .map(|_| ())
            });
        }
        let bad = db
            .write(|c| c.execute("INSERT INTO nope VALUES (1)", []).map(|_| ()))
            .await
            .unwrap_err();
        assert!(bad.to_string().contains("no such table: nope"), "{bad}");
        let source = std::error::Error::source(&bad).unwrap();
        assert!(
            source.downcast_ref::<rusqlite::Error>().is_some(),
            "{source:?}"
        );
        db.flush().await;
        let conn = open(&path).unwrap();
        let s = load(&conn, 10).unwrap();
        assert_eq!(s.events.len(), 10);
        assert_eq!(s.next_event_seq, 101);
        assert_eq!(s.events.last().unwrap().seq, 100);
    }

    /// A write takes its place in the queue when it is called, not when its commit is awaited:
    /// a caller queues it while the model is locked and waits after releasing the lock, so that
    /// no write of a later decision is queued before it (and then undone by it).
    #[tokio::test]
    async fn a_write_is_queued_when_called_not_when_awaited() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u.db");
        let db = Db::spawn(open(&path).unwrap()).unwrap();
        let message = |text: &'static str| {
            move |c: &Connection| {
                c.execute(
                    "INSERT OR REPLACE INTO enrolled_nodes VALUES ('n', 'k', 0, ?1)",
                    params![text],
                )
                .map(|_| ())
            }
        };
        let first = db.write(message("first"));
        db.send(message("second"));
        first.await.unwrap();
        db.flush().await;
        let by: String = open(&path)
            .unwrap()
            .query_row("SELECT enrolled_by FROM enrolled_nodes", [], |r| r.get(0))
            .unwrap();
        assert_eq!(by, "second", "the write called first ran first");
    }
}
