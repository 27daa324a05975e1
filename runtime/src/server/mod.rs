//! The upgrade server: an HTTP API (axum) over the upgrade database (SQLite, [`db`]) and the
//! bundle store, answering node polls from an in-memory model ([`state`]) that the schedule
//! evaluator updates.
//!
//! Tasks: the HTTP server ([`http`]); the evaluator, every `eval_interval_ms` and whenever a
//! node's version, phase or health changes; the heartbeat flusher, which writes the heartbeats
//! of the last `flush_interval_ms` in one transaction. Structural changes (rollout states,
//! assignments) are committed before they are visible to nodes, under one async lock
//! ([`Shared::commands`]) so that they never interleave.
//!
//! Every request but a read is signed ([`auth`], [`guard`]): operators by a key given to the
//! server, nodes by the key they were enrolled with ([`nodes`]).

pub mod auth;
pub mod db;
mod error;
mod guard;
mod http;
mod nodes;
pub mod state;
pub mod tls;
mod unread;
mod upload;

use crate::api::{Event, Progress, RolloutState};
use crate::bundle::{Limits, Store, TrustedKeys};
use crate::schedule::{Assignment, Plan};
use db::Db;
pub use error::StartError;
use rusqlite::params;
use state::{BundleRec, Node, Rollout, State};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

/// How the server runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The SQLite upgrade database.
    pub db: PathBuf,
    /// The bundle store's directory.
    pub store: PathBuf,
    /// The keys pushed bundles must be signed with.
    pub trust: TrustedKeys,
    /// The operator keys requests may be signed with (none: no operator action is accepted).
    pub operators: TrustedKeys,
    /// How far a signed request's timestamp may be from the server's clock.
    pub clock_skew_ms: u64,
    pub limits: Limits,
    /// What nodes are told about when to poll next.
    pub poll_interval_ms: u64,
    /// A node not heard from for this long counts as offline.
    pub offline_after_ms: u64,
    /// How often the schedule is evaluated without a change.
    pub eval_interval_ms: u64,
    /// How often heartbeats are written.
    pub flush_interval_ms: u64,
    /// The longest a long poll (`?wait_ms=`) is held.
    pub max_wait_ms: u64,
    /// Serve HTTPS with this certificate and key (plain HTTP without).
    pub tls: Option<tls::TlsFiles>,
}

impl Config {
    /// Defaults for everything but the paths and keys: polls each second, offline after 30 s,
    /// evaluation every 250 ms, heartbeats written each second, long polls up to 25 s, signed
    /// requests within 30 s of the server's clock. No operator key: set [`Config::operators`].
    pub fn new(db: PathBuf, store: PathBuf, trust: TrustedKeys) -> Config {
        Config {
            db,
            store,
            trust,
            operators: TrustedKeys::default(),
            clock_skew_ms: 30_000,
            limits: Limits::default(),
            poll_interval_ms: 1000,
            offline_after_ms: 30_000,
            eval_interval_ms: 250,
            flush_interval_ms: 1000,
            max_wait_ms: 25_000,
            tls: None,
        }
    }
}

/// What every task shares.
#[derive(Debug)]
pub struct Shared {
    pub config: Config,
    state: Mutex<State>,
    /// Serializes structural changes (commands, evaluator) across their database writes.
    commands: tokio::sync::Mutex<()>,
    db: Db,
    store: Store,
    /// Operator keys, enrolled nodes, nonces.
    auth: auth::Auth,
    /// Carries `State::generation` to long polls.
    changed: watch::Sender<u64>,
    wake: Notify,
}

impl Shared {
    /// Locks the model. A panic while it was held cannot leave it half-updated in a way that
    /// matters more than stopping the server would, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tells long polls and the evaluator that something changed.
    fn publish(&self, generation: u64) {
        self.changed.send_replace(generation);
    }
}

/// A running server.
#[derive(Debug)]
pub struct Handle {
    pub addr: SocketAddr,
    /// Whether it serves HTTPS.
    pub https: bool,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Handle {
    /// Stops accepting, finishes the requests in progress, writes the last heartbeats.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Waits until the server stops by itself (it does not, unless it fails).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A bound listening socket, plain or TLS.
enum Bound {
    Plain(TcpListener),
    Tls(tls::TlsListener),
}

impl Handle {
    /// `http://ADDR` or `https://ADDR`.
    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }
}

/// Opens the database and store, binds `listen`, and serves until [`Handle::stop`].
pub async fn start(config: Config, listen: SocketAddr) -> Result<Handle, StartError> {
    let cannot_listen = |error| StartError::Listen {
        addr: listen,
        error,
    };
    let listener = TcpListener::bind(listen).await.map_err(cannot_listen)?;
    let addr = listener.local_addr().map_err(cannot_listen)?;
    let tls = match &config.tls {
        Some(files) => Some(tls::server_config(files)?),
        None => None,
    };
    let shared = open(config)?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = http::router(shared.clone());
    let evaluator = tokio::spawn(evaluate_loop(shared.clone()));
    let flusher = tokio::spawn(flush_loop(shared.clone()));
    let stopped = async move {
        let _ = rx.await;
    };
    let https = tls.is_some();
    let bound = match tls {
        Some(config) => Bound::Tls(tls::TlsListener::new(listener, config).map_err(cannot_listen)?),
        None => Bound::Plain(listener),
    };
    let task = tokio::spawn(async move {
        let served = match bound {
            Bound::Plain(l) => axum::serve(l, app).with_graceful_shutdown(stopped).await,
            Bound::Tls(l) => axum::serve(l, app).with_graceful_shutdown(stopped).await,
        };
        if let Err(e) = served {
            tracing::error!(error = %e, "the HTTP server failed");
        }
        evaluator.abort();
        flusher.abort();
        flush(&shared);
        shared.db.flush().await;
        tracing::info!("server stopped");
    });
    tracing::info!(%addr, https, "upgrade server listening");
    Ok(Handle {
        addr,
        https,
        shutdown: Some(tx),
        task,
    })
}

/// Loads the database into memory.
fn open(config: Config) -> Result<Arc<Shared>, StartError> {
    let conn = db::open(&config.db)?;
    let snapshot = db::load(&conn, state::RECENT_EVENTS).map_err(|error| StartError::Read {
        path: config.db.clone(),
        error,
    })?;
    let store = Store::open(&config.store).map_err(StartError::Store)?;
    let mut st = State {
        next_event_seq: snapshot.next_event_seq,
        needs_eval: true,
        ..State::default()
    };
    for (id, header) in snapshot.bundles {
        let signed = crate::bundle::SignedManifest::from_header_bytes(
            &header,
            &config.trust,
            &config.limits,
        )
        .map_err(|error| StartError::Unverified {
            bundle: id.clone(),
            error,
        })?;
        let rec = BundleRec::new(&signed)?;
        st.bundles.insert(id, rec);
    }
    for r in snapshot.rollouts {
        let Some(bundle) = st.bundles.get(&r.bundle) else {
            return Err(StartError::MissingBundle {
                rollout: r.id,
                bundle: r.bundle,
            });
        };
        let state = RolloutState::parse(&r.state).ok_or_else(|| StartError::RolloutState {
            rollout: r.id,
            state: r.state.clone(),
        })?;
        st.rollouts.insert(
            r.id,
            Rollout {
                id: r.id,
                schedule: bundle.schedule.clone(),
                bundle: r.bundle,
                system: r.system,
                from: r.from,
                to: r.to,
                state,
                reason: r.reason,
                seed: r.seed,
                canary_passed: r.canary_passed,
                created_at_ms: r.created_at_ms,
                updated_at_ms: r.updated_at_ms,
                progress: r.progress,
                going_back: Vec::new(),
                discard_writes: r.discard_writes,
            },
        );
    }
    let mut enrolled = auth::Enrollments::default();
    for e in snapshot.enrolled {
        let key = crate::digest::unhex::<32>(&e.public_key)
            .ok_or_else(|| StartError::EnrolledKey { node: e.id.clone() })?;
        enrolled.insert(auth::Enrolled {
            id: e.id,
            key,
            enrolled_at_ms: e.enrolled_at_ms,
            enrolled_by: e.enrolled_by,
        });
    }
    // A node that is not enrolled (heard from before enrollment existed) takes part in nothing.
    for n in snapshot
        .nodes
        .into_iter()
        .filter(|n| enrolled.contains(&n.id))
    {
        let phase = crate::api::Phase::parse(&n.phase).ok_or_else(|| StartError::NodePhase {
            node: n.id.clone(),
            phase: n.phase.clone(),
        })?;
        let assignment = match (n.batch, n.assigned_at_ms) {
            (Some(batch), Some(at_ms)) => Some(Assignment { batch, at_ms }),
            _ => None,
        };
        st.nodes.insert(
            n.id.clone(),
            Node {
                id: n.id,
                system: n.system,
                address: n.address,
                version: n.version,
                phase,
                healthy: n.healthy,
                healthy_since_ms: n.healthy_since_ms,
                last_seen_ms: n.last_seen_ms,
                phase_since_ms: n.phase_since_ms.unwrap_or(n.last_seen_ms),
                rollout: n.rollout,
                assignment,
                done: false,
            },
        );
    }
    // What is not written (progress, reasons and done flags of active rollouts, the nodes going
    // back) is what the evaluator plans from what was loaded: planned at once, so that the first
    // status after a restart shows what the last one before it did. Its decisions wait for the
    // evaluator, which commits them.
    st.plan(now_ms(), config.offline_after_ms);
    st.mark_done_of_finished();
    st.events = snapshot.events.into();
    tracing::info!(
        bundles = st.bundles.len(),
        rollouts = st.rollouts.len(),
        nodes = st.nodes.len(),
        "database loaded"
    );
    let db = Db::spawn(conn)?;
    let (changed, _) = watch::channel(0);
    let auth = auth::Auth::new(config.operators.clone(), config.clock_skew_ms, enrolled);
    Ok(Arc::new(Shared {
        auth,
        config,
        state: Mutex::new(st),
        commands: tokio::sync::Mutex::new(()),
        db,
        store,
        changed,
        wake: Notify::new(),
    }))
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Writes the heartbeats gathered since the last flush, in one transaction. The liveness
/// columns only: membership and assignments are written by the changes that make them.
fn flush(shared: &Shared) {
    let mut st = shared.lock();
    if st.dirty.is_empty() {
        return;
    }
    let ids: Vec<String> = st.dirty.drain().collect();
    let rows: Vec<Node> = ids
        .iter()
        .filter_map(|id| st.nodes.get(id).cloned())
        .collect();
    // Sent while the model is locked, so no later write of these nodes can be queued before it.
    shared
        .db
        .send(move |c| rows.iter().try_for_each(|n| write_liveness(c, n)));
}

/// Writes what a node says of itself (system, address, version, phase and since when, health,
/// last seen), inserting its row, with its membership, when it is new. A known node's
/// membership and assignment are written only by the changes that make them, so a copy of the
/// node taken before a change was applied in memory cannot undo that change in the database.
fn write_liveness(c: &rusqlite::Connection, n: &Node) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO nodes (id, system, address, version, phase, healthy, healthy_since_ms, last_seen_ms, phase_since_ms, rollout)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT(id) DO UPDATE SET system = excluded.system, address = excluded.address,
           version = excluded.version, phase = excluded.phase, healthy = excluded.healthy,
           healthy_since_ms = excluded.healthy_since_ms, last_seen_ms = excluded.last_seen_ms,
           phase_since_ms = excluded.phase_since_ms",
    )?
    .execute(params![n.id, n.system, n.address, n.version, n.phase.as_str(), n.healthy, n.healthy_since_ms, n.last_seen_ms, n.phase_since_ms, n.rollout])
    .map(|_| ())
}

/// A node's joining of `rollout`, with no batch yet (a change, or the node's own poll or report
/// finding the active rollout of its system).
fn write_joined(c: &rusqlite::Connection, node: &str, rollout: u64) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE nodes SET rollout = ?1, batch = NULL, assigned_at_ms = NULL WHERE id = ?2",
        params![rollout, node],
    )
    .map(|_| ())
}

async fn flush_loop(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_millis(
        shared.config.flush_interval_ms.max(10),
    ));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        flush(&shared);
    }
}

async fn evaluate_loop(shared: Arc<Shared>) {
    let period = Duration::from_millis(shared.config.eval_interval_ms.max(10));
    loop {
        let _ = tokio::time::timeout(period, shared.wake.notified()).await;
        if let Err(e) = evaluate(&shared).await {
            tracing::error!(error = %e, "the schedule evaluation failed");
            tokio::time::sleep(period).await;
        }
    }
}

/// A structural change decided by the evaluator or a command, committed before it is applied.
#[derive(Debug, Clone)]
enum Change {
    Assign {
        rollout: u64,
        node: String,
        batch: u32,
        at_ms: u64,
    },
    Unassign {
        node: String,
    },
    Join {
        rollout: u64,
        node: String,
    },
    /// The rollout's new state, decided at `at_ms`, written with its counts of nodes then (so
    /// that a finished rollout's last counts survive a restart).
    SetState {
        rollout: u64,
        state: RolloutState,
        reason: String,
        at_ms: u64,
        progress: Progress,
    },
    CanaryPassed {
        rollout: u64,
    },
    /// The operator lets the rollout's nodes drop writes that cannot be carried back.
    AllowDiscard {
        rollout: u64,
    },
    Insert(Box<Rollout>),
    Event(Event),
}

/// Writes `changes` (and waits for the commit), then applies them to the model.
async fn commit(shared: &Shared, changes: Vec<Change>) -> Result<(), String> {
    if changes.is_empty() {
        return Ok(());
    }
    // Every heartbeat gathered since the last flush is queued before the changes: among them
    // the rows of nodes first seen since then, so that a change's update of a node always finds
    // its row (an update of no row would be lost).
    flush(shared);
    let to_write = changes.clone();
    shared
        .db
        .write(move |c| write_changes(c, &to_write))
        .await
        .map_err(|e| e.to_string())?;
    let mut st = shared.lock();
    for change in changes {
        match change {
            Change::Assign {
                rollout,
                node,
                batch,
                at_ms,
            } => {
                if let Some(n) = st.nodes.get_mut(&node) {
                    n.rollout = Some(rollout);
                    n.assignment = Some(Assignment { batch, at_ms });
                }
            }
            Change::Unassign { node } => {
                if let Some(n) = st.nodes.get_mut(&node) {
                    n.assignment = None;
                }
            }
            Change::Join { rollout, node } => {
                if let Some(n) = st.nodes.get_mut(&node) {
                    n.rollout = Some(rollout);
                    n.assignment = None;
                    n.done = false;
                }
            }
            Change::SetState {
                rollout,
                state,
                reason,
                at_ms,
                progress: _,
            } => {
                if let Some(r) = st.rollouts.get_mut(&rollout) {
                    r.state = state;
                    r.reason = reason;
                    r.updated_at_ms = at_ms;
                }
            }
            Change::CanaryPassed { rollout } => {
                if let Some(r) = st.rollouts.get_mut(&rollout) {
                    r.canary_passed = true;
                }
            }
            Change::AllowDiscard { rollout } => {
                if let Some(r) = st.rollouts.get_mut(&rollout) {
                    r.discard_writes = true;
                }
            }
            Change::Insert(r) => {
                st.rollouts.insert(r.id, *r);
            }
            Change::Event(e) => st.push_event(e),
        }
    }
    st.generation += 1;
    st.needs_eval = true;
    let generation = st.generation;
    drop(st);
    shared.publish(generation);
    shared.wake.notify_one();
    Ok(())
}

fn write_changes(c: &rusqlite::Connection, changes: &[Change]) -> rusqlite::Result<()> {
    for change in changes {
        match change {
            Change::Assign {
                rollout,
                node,
                batch,
                at_ms,
            } => {
                c.execute(
                    "UPDATE nodes SET rollout = ?1, batch = ?2, assigned_at_ms = ?3 WHERE id = ?4",
                    params![rollout, batch, at_ms, node],
                )?;
            }
            Change::Unassign { node } => {
                c.execute(
                    "UPDATE nodes SET batch = NULL, assigned_at_ms = NULL WHERE id = ?1",
                    params![node],
                )?;
            }
            Change::Join { rollout, node } => write_joined(c, node, *rollout)?,
            Change::SetState {
                rollout,
                state,
                reason,
                at_ms,
                progress: p,
            } => {
                c.execute(
                    "UPDATE rollouts SET state = ?1, reason = ?2, updated_at_ms = ?3,
                        progress_total = ?4, progress_done = ?5, progress_in_flight = ?6,
                        progress_pending = ?7, progress_failed = ?8 WHERE id = ?9",
                    params![
                        state.as_str(),
                        reason,
                        at_ms,
                        p.total,
                        p.done,
                        p.in_flight,
                        p.pending,
                        p.failed,
                        rollout
                    ],
                )?;
            }
            Change::CanaryPassed { rollout } => {
                c.execute(
                    "UPDATE rollouts SET canary_passed = 1 WHERE id = ?1",
                    params![rollout],
                )?;
            }
            Change::AllowDiscard { rollout } => {
                c.execute(
                    "UPDATE rollouts SET discard_writes = 1 WHERE id = ?1",
                    params![rollout],
                )?;
            }
            Change::Insert(r) => {
                c.execute(
                    "INSERT INTO rollouts (id, bundle, system, from_version, to_version, state, reason, seed, canary_passed, created_at_ms, updated_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                    params![r.id, r.bundle, r.system, r.from, r.to, r.state.as_str(), r.reason, r.seed as i64, r.canary_passed, r.created_at_ms, r.updated_at_ms],
                )?;
            }
            Change::Event(e) => write_event(c, e)?,
        }
    }
    Ok(())
}

fn write_event(c: &rusqlite::Connection, e: &Event) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO events (seq, at_ms, rollout, node, kind, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![e.seq, e.at_ms, e.rollout, e.node, e.kind, e.message],
    )
    .map(|_| ())
}

/// One evaluation: plan every active rollout, commit what the plans decide.
async fn evaluate(shared: &Shared) -> Result<(), String> {
    let _guard = shared.commands.lock().await;
    let now = now_ms();
    let (changes, generation) = {
        let mut st = shared.lock();
        st.needs_eval = false;
        let before = st.generation;
        let plans = st.plan(now, shared.config.offline_after_ms);
        let mut changes = Vec::new();
        for (id, plan) in plans {
            changes.extend(changes_of_plan(&mut st, id, plan, now));
        }
        let generation = (st.generation != before).then_some(st.generation);
        (changes, generation)
    };
    if let Some(g) = generation {
        shared.publish(g);
    }
    commit(shared, changes).await
}

/// The structural changes a plan makes (events take their sequence numbers now).
fn changes_of_plan(st: &mut State, id: u64, plan: Plan, now: u64) -> Vec<Change> {
    let mut changes = Vec::new();
    for (node, batch) in &plan.start {
        changes.push(Change::Assign {
            rollout: id,
            node: node.clone(),
            batch: *batch,
            at_ms: now,
        });
        let e = st.event(
            now,
            Some(id),
            Some(node),
            "assigned",
            format!("`{node}` starts upgrading (batch {batch})"),
        );
        changes.push(Change::Event(e));
    }
    if plan.canary_passed {
        changes.push(Change::CanaryPassed { rollout: id });
    }
    if let Some(reason) = plan.pause {
        changes.push(Change::SetState {
            rollout: id,
            state: RolloutState::Paused,
            reason: reason.clone(),
            at_ms: now,
            progress: plan.progress,
        });
        let e = st.event(
            now,
            Some(id),
            None,
            "paused",
            format!("rollout {id} paused: {reason}"),
        );
        changes.push(Change::Event(e));
    }
    if plan.complete {
        changes.push(Change::SetState {
            rollout: id,
            state: RolloutState::Done,
            reason: plan.waiting.clone(),
            at_ms: now,
            progress: plan.progress,
        });
        let e = st.event(
            now,
            Some(id),
            None,
            "done",
            format!("rollout {id} is done: {}", plan.waiting),
        );
        changes.push(Change::Event(e));
        changes.extend(start_next(st, id, now));
    }
    changes
}

/// When rollout `ended` ends, the oldest pending rollout of its system starts.
fn start_next(st: &mut State, ended: u64, now: u64) -> Vec<Change> {
    let Some(system) = st.rollouts.get(&ended).map(|r| r.system.clone()) else {
        return Vec::new();
    };
    if st.busy(&system, ended).is_some() {
        return Vec::new();
    }
    let Some(next) = st
        .rollouts
        .values()
        .find(|r| r.system == system && r.state == RolloutState::Pending)
        .cloned()
    else {
        return Vec::new();
    };
    let mut changes = vec![Change::SetState {
        rollout: next.id,
        state: RolloutState::Running,
        reason: "started".into(),
        at_ms: now,
        progress: next.progress,
    }];
    // Nodes at the pending rollout's source version join it; they will be at the ended
    // rollout's target version when chaining 1 -> 2 -> 3.
    let mut candidate = next.clone();
    candidate.state = RolloutState::Running;
    for node in st.members_at_start(&candidate) {
        changes.push(Change::Join {
            rollout: next.id,
            node,
        });
    }
    let e = st.event(
        now,
        Some(next.id),
        None,
        "started",
        format!("rollout {} starts after rollout {ended} ended", next.id),
    );
    changes.push(Change::Event(e));
    changes
}

#[cfg(test)]
mod tests;
