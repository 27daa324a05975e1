//! The server's in-memory model of bundles, rollouts and nodes, loaded from the database at
//! start and kept in step with it. Polls are answered from here, so they cost a hash lookup;
//! the schedule evaluator runs over it periodically and on changes.

use crate::api::{
    Action, BundleInfo, BundleRef, Directive, Event, FileInfo, NodeInfo, Phase, PollRequest,
    Progress, RolloutInfo, RolloutState,
};
use crate::bundle::{FileRole, SignedManifest};
use crate::schedule::{
    Assignment, NodeStatus, NodeView, Plan, RolloutView, Schedule, ScheduleError,
};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;

/// How many events the server keeps in memory for `GET /v1/status`.
pub const RECENT_EVENTS: usize = 200;

#[derive(Debug, Clone)]
pub struct Node {
    pub id: String,
    pub system: String,
    pub address: String,
    pub version: u64,
    pub phase: Phase,
    pub healthy: bool,
    /// Since when the node has served healthily on its current version (unix ms).
    pub healthy_since_ms: Option<u64>,
    pub last_seen_ms: u64,
    /// Since when the node reports its current phase (unix ms). A failure counts against an
    /// assignment only if it was reported after it.
    pub phase_since_ms: u64,
    /// The rollout the node takes part in.
    pub rollout: Option<u64>,
    pub assignment: Option<Assignment>,
    /// Whether the evaluator last counted it done (in a rolled-back rollout: back at its
    /// source version).
    pub done: bool,
}

impl Node {
    /// Whether the node reports a failed upgrade that happened at or after `at_ms` (a failure
    /// of an earlier assignment does not hold back the one a resume made).
    pub fn failed_since(&self, at_ms: u64) -> bool {
        crate::schedule::failed_since(self.phase, Some(self.phase_since_ms), at_ms)
    }
}

#[derive(Debug, Clone)]
pub struct Rollout {
    pub id: u64,
    pub bundle: String,
    pub system: String,
    pub from: u64,
    pub to: u64,
    pub state: RolloutState,
    pub reason: String,
    pub seed: u64,
    pub canary_passed: bool,
    pub schedule: Schedule,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    pub progress: Progress,
    /// A rolled-back rollout: the nodes sent back to `from` now (paced by the schedule; not
    /// stored, recomputed after a restart of the server).
    pub going_back: Vec<String>,
    /// A rolled-back rollout: the operator allowed dropping writes that cannot be carried back.
    pub discard_writes: bool,
}

impl Rollout {
    /// What the schedule evaluator sees of this rollout at `now_ms`.
    fn view<'a>(
        &'a self,
        now_ms: u64,
        offline_after_ms: u64,
        after_elsewhere: Vec<&'a str>,
    ) -> RolloutView<'a> {
        RolloutView {
            schedule: &self.schedule,
            state: self.state,
            from: self.from,
            to: self.to,
            canary_passed: self.canary_passed,
            seed: self.seed,
            now_ms,
            offline_after_ms,
            after_elsewhere,
        }
    }
}

#[derive(Debug, Clone)]
pub struct BundleRec {
    pub info: BundleInfo,
    pub header: Arc<Vec<u8>>,
    pub reference: BundleRef,
    pub schedule: Schedule,
}

/// A verified bundle whose schedule this server cannot run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnrunnableSchedule {
    /// The bundle's id.
    pub bundle: String,
    pub error: ScheduleError,
}

impl fmt::Display for UnrunnableSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bundle `{}` has a schedule this server cannot run: {}",
            self.bundle, self.error
        )
    }
}

impl std::error::Error for UnrunnableSchedule {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl BundleRec {
    /// The record of a verified bundle; fails when its schedule cannot run here.
    pub fn new(signed: &SignedManifest) -> Result<BundleRec, UnrunnableSchedule> {
        let m = &signed.manifest;
        let schedule = Schedule::from_entries(&m.schedule).map_err(|error| UnrunnableSchedule {
            bundle: signed.id(),
            error,
        })?;
        let sha = |role| m.file(role).map(|f| f.sha256.clone()).unwrap_or_default();
        let info = BundleInfo {
            id: signed.id(),
            spec: m.spec.clone(),
            from: m.from,
            to: m.to,
            release: m.release,
            spec_hash: m.spec_hash.clone(),
            key_id: signed.key_id(),
            created_at: m.created_at,
            schedule: schedule.describe(),
            files: m
                .files
                .iter()
                .map(|f| FileInfo {
                    role: f.role.as_str().into(),
                    name: f.name.clone(),
                    sha256: f.sha256.clone(),
                    size: f.size,
                })
                .collect(),
        };
        let reference = BundleRef {
            id: signed.id(),
            from: m.from,
            to: m.to,
            plugin_sha256: sha(FileRole::Plugin),
            binary_sha256: sha(FileRole::Binary),
        };
        Ok(BundleRec {
            info,
            header: Arc::new(signed.header_bytes()),
            reference,
            schedule,
        })
    }
}

/// Everything in memory.
#[derive(Debug, Default)]
pub struct State {
    pub nodes: HashMap<String, Node>,
    pub rollouts: BTreeMap<u64, Rollout>,
    pub bundles: HashMap<String, BundleRec>,
    /// Nodes whose heartbeat is not yet written.
    pub dirty: HashSet<String>,
    pub events: VecDeque<Event>,
    pub next_event_seq: u64,
    /// Bumped whenever a directive may have changed (long polls wake on it).
    pub generation: u64,
    /// Set when something the evaluator looks at changed.
    pub needs_eval: bool,
}

/// What a heartbeat changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Observed {
    /// A new node.
    pub created: bool,
    /// Version, phase or health changed.
    pub changed: bool,
    /// The node joined this rollout.
    pub joined: Option<u64>,
}

impl State {
    /// Records a heartbeat of node `id` at `now`.
    pub fn observe(&mut self, id: &str, req: &PollRequest, now: u64) -> Observed {
        let mut out = Observed::default();
        let node = self.nodes.entry(id.to_string()).or_insert_with(|| {
            out.created = true;
            Node {
                id: id.to_string(),
                system: req.system.clone(),
                address: req.address.clone(),
                version: req.version,
                phase: req.phase,
                healthy: req.healthy,
                healthy_since_ms: None,
                last_seen_ms: now,
                phase_since_ms: now,
                rollout: None,
                assignment: None,
                done: false,
            }
        });
        out.changed = out.created
            || node.version != req.version
            || node.phase != req.phase
            || node.healthy != req.healthy;
        if node.version != req.version || node.system != req.system {
            node.healthy_since_ms = None;
        }
        node.system.clone_from(&req.system);
        if !req.address.is_empty() {
            node.address.clone_from(&req.address);
        }
        node.version = req.version;
        if node.phase != req.phase {
            node.phase_since_ms = now;
        }
        node.phase = req.phase;
        node.healthy = req.healthy;
        node.last_seen_ms = now;
        if req.healthy && matches!(req.phase, Phase::Serving | Phase::Upgraded) {
            node.healthy_since_ms.get_or_insert(now);
        } else {
            node.healthy_since_ms = None;
        }
        let in_active = node
            .rollout
            .and_then(|r| self.rollouts.get(&r))
            .is_some_and(|r| {
                matches!(r.state, RolloutState::Running | RolloutState::Paused)
                    && r.system == node.system
            });
        if !in_active {
            let join = self.rollouts.values().rev().find(|r| {
                matches!(r.state, RolloutState::Running | RolloutState::Paused)
                    && r.system == node.system
                    && (node.version == r.from || node.version == r.to)
            });
            if let Some(r) = join {
                node.rollout = Some(r.id);
                node.assignment = None;
                out.joined = Some(r.id);
            }
        }
        self.dirty.insert(id.to_string());
        if out.changed || out.joined.is_some() {
            self.needs_eval = true;
            self.generation += 1;
        }
        out
    }

    /// What node `id` should do now.
    pub fn directive(&self, id: &str, poll_after_ms: u64) -> Directive {
        let stay = |reason: &str, bundles: Vec<BundleRef>| Directive {
            action: Action::Stay,
            rollout: None,
            bundle: None,
            reason: reason.to_string(),
            poll_after_ms,
            attempt: None,
            discard_writes: false,
            bundles,
        };
        let Some(node) = self.nodes.get(id) else {
            return stay("unknown node", Vec::new());
        };
        let announced = self.announced(&node.system);
        let Some(r) = node.rollout.and_then(|r| self.rollouts.get(&r)) else {
            return stay("no rollout concerns this node", announced);
        };
        let bundle = self.bundles.get(&r.bundle).map(|b| b.reference.clone());
        let mut d = Directive {
            action: Action::Stay,
            rollout: Some(r.id),
            bundle,
            reason: String::new(),
            poll_after_ms,
            attempt: node.assignment.map(|a| a.at_ms),
            discard_writes: r.state == RolloutState::RolledBack && r.discard_writes,
            bundles: announced,
        };
        let upgraded = node.version == r.to;
        match r.state {
            RolloutState::RolledBack => {
                let sent = r.going_back.iter().any(|n| n == id);
                if sent && (upgraded || (node.assignment.is_some() && node.phase.is_in_progress()))
                {
                    d.action = Action::Rollback;
                    d.reason = format!(
                        "rollout {} is rolled back: go back to version {}",
                        r.id, r.from
                    );
                } else if upgraded {
                    d.reason = format!(
                        "rollout {} is rolled back: waiting for a turn to go back to version {}",
                        r.id, r.from
                    );
                } else {
                    d.reason = format!("rollout {} is rolled back", r.id);
                }
            }
            RolloutState::Running | RolloutState::Paused => match node.assignment {
                Some(a) if !upgraded && !node.failed_since(a.at_ms) => {
                    d.action = Action::Upgrade;
                    d.reason = format!("batch {}: upgrade to version {}", a.batch, r.to);
                }
                Some(_) if !upgraded => {
                    d.reason = format!("the upgrade failed; rollout {} is {}", r.id, r.state);
                }
                _ if upgraded => {
                    d.reason = if node.done {
                        "upgraded: done".into()
                    } else {
                        "upgraded: settling".into()
                    }
                }
                _ => d.reason = r.reason.clone(),
            },
            RolloutState::Pending => {
                d.reason = format!("rollout {} waits for another rollout to end", r.id)
            }
            RolloutState::Done => d.reason = format!("rollout {} is done", r.id),
        }
        d
    }

    /// The bundles of `system` whose rollouts are pending, running or paused, oldest first.
    fn announced(&self, system: &str) -> Vec<BundleRef> {
        let mut out: Vec<BundleRef> = Vec::new();
        for r in self
            .rollouts
            .values()
            .filter(|r| r.system == system && r.state.is_active())
        {
            if let Some(b) = self.bundles.get(&r.bundle) {
                if !out.iter().any(|x| x.id == b.reference.id) {
                    out.push(b.reference.clone());
                }
            }
        }
        out
    }

    /// The evaluator's views of rollout `r`'s nodes.
    fn views<'a>(&'a self, r: &Rollout) -> Vec<NodeView<'a>> {
        self.nodes
            .values()
            .filter(|n| n.rollout == Some(r.id))
            .map(|n| NodeView {
                id: &n.id,
                version: n.version,
                phase: n.phase,
                healthy: n.healthy,
                last_seen_ms: n.last_seen_ms,
                healthy_since_ms: n.healthy_since_ms,
                phase_since_ms: Some(n.phase_since_ms),
                assigned: n.assignment,
            })
            .collect()
    }

    /// Plans every running or paused rollout at `now` and paces every rolled-back one; also
    /// refreshes progress, reasons and the nodes' `done` flags (bookkeeping that needs no
    /// write; a rolled-back rollout's node is done when back at its source version).
    pub fn plan(&mut self, now: u64, offline_after_ms: u64) -> Vec<(u64, Plan)> {
        let mut plans = Vec::new();
        let mut done_flags: Vec<(String, bool)> = Vec::new();
        for r in self
            .rollouts
            .values()
            .filter(|r| matches!(r.state, RolloutState::Running | RolloutState::Paused))
        {
            let views = self.views(r);
            let after_elsewhere: Vec<&str> = match &r.schedule.after {
                Some(pattern) => self
                    .nodes
                    .values()
                    .filter(|n| {
                        n.rollout != Some(r.id)
                            && crate::schedule::order::glob_match(pattern, &n.id)
                    })
                    .filter(|n| {
                        n.rollout
                            .and_then(|o| self.rollouts.get(&o))
                            .is_some_and(|o| o.state.is_active() && !(n.version == o.to && n.done))
                    })
                    .map(|n| n.id.as_str())
                    .collect(),
                None => Vec::new(),
            };
            let view = r.view(now, offline_after_ms, after_elsewhere);
            for n in &views {
                done_flags.push((n.id.to_string(), view.classify(n) == NodeStatus::Done));
            }
            plans.push((r.id, view.evaluate(&views)));
        }
        done_flags.extend(self.pace_rollbacks(now, offline_after_ms));
        for (id, done) in done_flags {
            if let Some(n) = self.nodes.get_mut(&id) {
                if n.done != done {
                    n.done = done;
                    self.generation += 1;
                }
            }
        }
        for (id, plan) in &plans {
            if let Some(r) = self.rollouts.get_mut(id) {
                r.progress = plan.progress;
                if r.state == RolloutState::Running && r.reason != plan.waiting {
                    r.reason.clone_from(&plan.waiting);
                    self.generation += 1;
                }
            }
        }
        plans
    }

    /// Chooses, for every rolled-back rollout, the nodes that go back now. Returns its nodes'
    /// done flags: a node is done when it is back at the rollout's source version.
    fn pace_rollbacks(&mut self, now: u64, offline_after_ms: u64) -> Vec<(String, bool)> {
        let mut changed = Vec::new();
        let mut done_flags = Vec::new();
        for r in self
            .rollouts
            .values()
            .filter(|r| r.state == RolloutState::RolledBack)
        {
            let views = self.views(r);
            let view = r.view(now, offline_after_ms, Vec::new());
            let going: Vec<&str> = r.going_back.iter().map(String::as_str).collect();
            let next = view.rollback_now(&views, &going);
            // The rollback's own progress: nodes back at `from`, going back, waiting their turn.
            let mut back = 0;
            for n in &views {
                let is_back = n.version == r.from && !n.phase.is_in_progress();
                back += usize::from(is_back);
                done_flags.push((n.id.to_string(), is_back));
            }
            let progress = Progress {
                total: views.len(),
                done: back,
                in_flight: next.len(),
                pending: views.len().saturating_sub(back + next.len()),
                failed: 0,
            };
            if next != r.going_back || progress != r.progress {
                changed.push((r.id, next, progress));
            }
        }
        for (id, next, progress) in changed {
            if let Some(r) = self.rollouts.get_mut(&id) {
                r.going_back = next;
                r.progress = progress;
                self.generation += 1;
            }
        }
        done_flags
    }

    /// A new event with the next sequence number; the caller commits it (see `Change::Event`).
    pub fn event(
        &mut self,
        now: u64,
        rollout: Option<u64>,
        node: Option<&str>,
        kind: &str,
        message: String,
    ) -> Event {
        let e = Event {
            seq: self.next_event_seq,
            at_ms: now,
            rollout,
            node: node.map(str::to_string),
            kind: kind.into(),
            message,
        };
        self.next_event_seq += 1;
        tracing::info!(seq = e.seq, rollout = ?e.rollout, node = ?e.node, kind = %e.kind, "{}", e.message);
        e
    }

    /// Adds a committed event to the recent ones.
    pub fn push_event(&mut self, e: Event) {
        self.events.push_back(e);
        while self.events.len() > RECENT_EVENTS {
            self.events.pop_front();
        }
    }

    /// The newest active rollout (for `current`); for a rollback also the newest done or rolled
    /// back one (`upstart rollback --discard-writes` after a refused rollback).
    pub fn current_rollout(&self, include_done: bool) -> Option<u64> {
        // A running or paused rollout is the current one even when a newer one is pending
        // behind it (`upstart resume` continues the paused one).
        self.rollouts
            .values()
            .rev()
            .find(|r| matches!(r.state, RolloutState::Running | RolloutState::Paused))
            .or_else(|| self.rollouts.values().rev().find(|r| r.state.is_active()))
            .or_else(|| {
                if include_done {
                    self.rollouts
                        .values()
                        .rev()
                        .find(|r| matches!(r.state, RolloutState::Done | RolloutState::RolledBack))
                } else {
                    None
                }
            })
            .map(|r| r.id)
    }

    /// Whether another rollout of `system` is running or paused.
    pub fn busy(&self, system: &str, except: u64) -> Option<u64> {
        self.rollouts
            .values()
            .find(|r| {
                r.id != except
                    && r.system == system
                    && matches!(r.state, RolloutState::Running | RolloutState::Paused)
            })
            .map(|r| r.id)
    }

    /// After loading: a node still in a rollout that is done, at its target version, is done, as
    /// the server showed it when the rollout ended (only active rollouts' nodes are reclassified
    /// by [`State::plan`], and `done` itself is bookkeeping that is not written).
    pub fn mark_done_of_finished(&mut self) {
        for n in self.nodes.values_mut() {
            let finished = n
                .rollout
                .and_then(|id| self.rollouts.get(&id))
                .is_some_and(|r| r.state == RolloutState::Done && n.version == r.to);
            if finished {
                n.done = true;
            }
        }
    }

    /// The nodes that take part in rollout `r` when it starts: its system's nodes at its
    /// source or target version.
    pub fn members_at_start(&self, r: &Rollout) -> Vec<String> {
        let mut ids: Vec<String> = self
            .nodes
            .values()
            .filter(|n| n.system == r.system && (n.version == r.from || n.version == r.to))
            .map(|n| n.id.clone())
            .collect();
        ids.sort();
        ids
    }

    pub fn rollout_info(&self, r: &Rollout) -> RolloutInfo {
        RolloutInfo {
            id: r.id,
            bundle: r.bundle.clone(),
            system: r.system.clone(),
            from: r.from,
            to: r.to,
            state: r.state,
            reason: r.reason.clone(),
            schedule: r.schedule.describe(),
            progress: r.progress,
            created_at_ms: r.created_at_ms,
            updated_at_ms: r.updated_at_ms,
        }
    }

    pub fn node_info(&self, n: &Node, now: u64, offline_after_ms: u64) -> NodeInfo {
        let ago = now.saturating_sub(n.last_seen_ms);
        NodeInfo {
            id: n.id.clone(),
            system: n.system.clone(),
            address: n.address.clone(),
            version: n.version,
            phase: n.phase,
            healthy: n.healthy,
            last_seen_ms_ago: ago,
            online: ago <= offline_after_ms,
            rollout: n.rollout,
            assigned: n.assignment.is_some(),
            done: n.done,
        }
    }
}
