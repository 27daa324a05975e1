//! A client load on the key-value example: workers, each calling one node's port pinned to
//! its version, over keys of its own, checking every answer against a model of what that
//! version's caller must see. The demo and the rolling-upgrade tests run it.
//!
//! A call whose connection closes before its answer (a node's connections close when it stops
//! for an upgrade) is sent again on a new connection, which the shim holds
//! until the node is back: every call the workers make is idempotent (a `put` writes the same
//! value again; a retried `delete` may find the key already gone, and either answer is
//! accepted). Such calls count as `retried`, not failed; a call that gets no answer within the
//! call timeout, or an error that is not a declared `disallow`, counts as `failed`; an answer
//! that does not match the model as `wrong`.
//!
//! A write sent again answers for its last sending only: the first one may have been applied
//! by the program that stopped before answering it. When the last sending is refused (a
//! `put` with a ttl or a `delete` that reached the node after its rollback to version 1, where
//! the spec disallows them) or fails, whether the write took effect is not known: the key may
//! hold its value from before the write or from after it (`unsure`), until a read says which,
//! and only its own node is checked until the next acknowledged write (the first sending may
//! have reached some peers and not others).

mod conn;
#[cfg(test)]
mod going_back;
mod model;
mod verify;
mod worker;

pub use model::{item_matches, Entry};
pub use verify::{get, verify};

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use worker::work;

/// Where one worker sends its calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The node's id (for reports).
    pub node: String,
    /// The node's shim port pinned to `version`.
    pub addr: SocketAddr,
    /// The version the worker speaks: 1 or 2.
    pub version: u64,
}

/// How the workers call.
#[derive(Debug, Clone, Copy)]
pub struct LoadConfig {
    /// Pause between two calls of a worker.
    pub pause: Duration,
    /// The longest a call may take, retries included.
    pub call_timeout: Duration,
}

impl Default for LoadConfig {
    fn default() -> LoadConfig {
        LoadConfig {
            pause: Duration::from_millis(5),
            call_timeout: Duration::from_secs(20),
        }
    }
}

/// Counts of calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub ok: u64,
    /// Refused by a `disallow` rule of the spec (declared).
    pub disallowed: u64,
    pub failed: u64,
    pub wrong: u64,
    /// Answered after being sent again on a new connection.
    pub retried: u64,
    /// Writes whose effect is not known: sent again and refused (or failed) the last time, so
    /// the first sending may or may not have taken effect.
    pub unsure: u64,
}

impl Counts {
    pub fn total(&self) -> u64 {
        self.ok + self.disallowed + self.failed + self.wrong
    }

    fn add(&mut self, o: &Counts) {
        self.ok += o.ok;
        self.disallowed += o.disallowed;
        self.failed += o.failed;
        self.wrong += o.wrong;
        self.retried += o.retried;
        self.unsure += o.unsure;
    }
}

/// One worker's counts and slowest answer so far: the worker (`worker.rs`) adds to them as it
/// goes, [`Load::counts`] and [`Load::max_latency`] read them over all workers while the load
/// runs.
#[derive(Debug, Default)]
struct Live {
    ok: AtomicU64,
    disallowed: AtomicU64,
    failed: AtomicU64,
    wrong: AtomicU64,
    retried: AtomicU64,
    unsure: AtomicU64,
    max_latency_us: AtomicU64,
}

impl Live {
    fn counts(&self) -> Counts {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Counts {
            ok: g(&self.ok),
            disallowed: g(&self.disallowed),
            failed: g(&self.failed),
            wrong: g(&self.wrong),
            retried: g(&self.retried),
            unsure: g(&self.unsure),
        }
    }
}

/// What one worker did.
#[derive(Debug, Clone)]
pub struct WorkerReport {
    pub target: Target,
    pub counts: Counts,
    /// The keys it holds now, with their values (keys in `unsure` are not here).
    pub model: BTreeMap<String, Entry>,
    /// The keys whose last write's effect is not known (see [`Counts::unsure`]): the values
    /// each may hold (`None`: no value), one once a read said which. Until the next
    /// acknowledged write, such a key is known on the worker's own node only: the write's
    /// first sending may have reached some peers and not others.
    pub unsure: BTreeMap<String, Vec<Option<Entry>>>,
    /// Every key it wrote at some point.
    pub touched: BTreeSet<String>,
    /// Its slowest call.
    pub max_latency: Duration,
    /// The failures and wrong answers, for people (the first few).
    pub problems: Vec<String>,
}

/// A running load.
#[derive(Debug)]
pub struct Load {
    config: LoadConfig,
    stop: Arc<AtomicBool>,
    workers: Vec<(Arc<Live>, JoinHandle<WorkerReport>)>,
}

impl Load {
    /// Starts one worker per target.
    pub fn start(targets: &[Target], config: LoadConfig) -> Load {
        let mut load = Load {
            config,
            stop: Arc::new(AtomicBool::new(false)),
            workers: Vec::new(),
        };
        load.add(targets);
        load
    }

    /// Starts more workers.
    pub fn add(&mut self, targets: &[Target]) {
        for t in targets {
            let live = Arc::new(Live::default());
            let n = self.workers.len();
            let (t2, live2, stop, config) = (
                t.clone(),
                Arc::clone(&live),
                Arc::clone(&self.stop),
                self.config,
            );
            let handle = std::thread::spawn(move || work(t2, n, config, &live2, &stop));
            self.workers.push((live, handle));
        }
    }

    /// The counts so far.
    pub fn counts(&self) -> Counts {
        let mut total = Counts::default();
        for (live, _) in &self.workers {
            total.add(&live.counts());
        }
        total
    }

    /// The slowest call so far.
    pub fn max_latency(&self) -> Duration {
        let us = self
            .workers
            .iter()
            .map(|(l, _)| l.max_latency_us.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0);
        Duration::from_micros(us)
    }

    /// Stops the workers (each finishes its call) and returns what they did.
    pub fn stop(self) -> Vec<WorkerReport> {
        self.stop.store(true, Ordering::SeqCst);
        self.workers
            .into_iter()
            .filter_map(|(_, h)| h.join().ok())
            .collect()
    }
}

/// The total of `reports`.
pub fn total(reports: &[WorkerReport]) -> Counts {
    let mut c = Counts::default();
    for r in reports {
        c.add(&r.counts);
    }
    c
}
