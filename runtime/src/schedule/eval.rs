//! The evaluator: given a rollout's schedule and state and the server's view of every node of
//! the rollout, which nodes may start upgrading now, whether the rollout must pause, and
//! whether it is complete. Pure: time comes in as `now_ms`.
//!
//! Words used below:
//! - a node is *upgraded* when it runs the target version in phase `upgraded` (or `serving`);
//! - *done* when upgraded, healthy, online, and healthy for `healthy_for` (the server tracks
//!   since when: `healthy_since_ms`);
//! - *failed* when it was told to upgrade and reported `failed` or `rolled-back`, or did not
//!   get upgraded within `timeout`;
//! - *in flight* when told to upgrade and neither done nor failed (also: upgrading or upgraded
//!   without having been told, e.g. across a server restart);
//! - *pending* otherwise;
//! - *unavailable* when offline, unhealthy, between versions, or failed.
//!
//! Batches are strict: nodes are told to upgrade in batch `k` (the canary is batch 0 when
//! there is one) until it holds `batch` nodes, and batch `k + 1` starts only when every node of
//! batch `k` is done. At most `max_unavailable` nodes are unavailable at a time, so a batch may
//! fill over several steps. `all_at_once` has one unbounded batch (after the canary).

use super::order::{glob_match, sort_ids};
use super::settings::{format_ms, Schedule, Strategy};
use crate::api::{Phase, Progress, RolloutState};

/// A node's assignment in a rollout: told to upgrade in `batch` at `at_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assignment {
    pub batch: u32,
    pub at_ms: u64,
}

/// The server's view of one node of the rollout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeView<'a> {
    pub id: &'a str,
    pub version: u64,
    pub phase: Phase,
    pub healthy: bool,
    /// Unix ms of the last heartbeat.
    pub last_seen_ms: u64,
    /// Unix ms since which the node has been upgraded and healthy without a break.
    pub healthy_since_ms: Option<u64>,
    /// Unix ms since which the node reports its phase (`None`: unknown, a failed phase counts).
    pub phase_since_ms: Option<u64>,
    pub assigned: Option<Assignment>,
}

/// Whether a node in `phase` since `phase_since_ms` (`None`: unknown) failed an upgrade at or
/// after `at_ms`, when it was assigned: a failure reported before was an earlier attempt's
/// (`upstart resume` assigned the node again) and does not hold this one back.
pub fn failed_since(phase: Phase, phase_since_ms: Option<u64>, at_ms: u64) -> bool {
    matches!(phase, Phase::Failed | Phase::RolledBack) && phase_since_ms.is_none_or(|t| t >= at_ms)
}

/// The rollout being evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutView<'a> {
    pub schedule: &'a Schedule,
    pub state: RolloutState,
    pub from: u64,
    pub to: u64,
    /// Whether the canary batch already completed (and any pause after it happened).
    pub canary_passed: bool,
    /// The seed of `order: random`.
    pub seed: u64,
    pub now_ms: u64,
    /// A node not heard from for this long is offline.
    pub offline_after_ms: u64,
    /// Nodes outside this rollout that match `after` and take part in a rollout that is not
    /// over for them: this rollout's other nodes wait for them too.
    pub after_elsewhere: Vec<&'a str>,
}

/// Where a node stands in the rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeStatus {
    Pending,
    InFlight,
    Done,
    /// `timed_out`: failed by the schedule's timeout rather than by its own report.
    Failed {
        timed_out: bool,
    },
}

/// What to do now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Nodes to tell to upgrade now, with their batch, in schedule order.
    pub start: Vec<(String, u32)>,
    /// The rollout must pause, for this reason.
    pub pause: Option<String>,
    /// The canary batch just completed: record it.
    pub canary_passed: bool,
    /// Every node is done.
    pub complete: bool,
    /// Why nothing (more) starts now, for people.
    pub waiting: String,
    pub progress: Progress,
}

impl RolloutView<'_> {
    fn online(&self, n: &NodeView<'_>) -> bool {
        self.now_ms.saturating_sub(n.last_seen_ms) <= self.offline_after_ms
    }

    fn upgraded(&self, n: &NodeView<'_>) -> bool {
        n.version == self.to && matches!(n.phase, Phase::Upgraded | Phase::Serving)
    }

    /// Where `n` stands.
    pub fn classify(&self, n: &NodeView<'_>) -> NodeStatus {
        let up = self.upgraded(n);
        let settled = n
            .healthy_since_ms
            .is_some_and(|t| self.now_ms.saturating_sub(t) >= self.schedule.healthy_for_ms);
        if up && n.healthy && self.online(n) && settled {
            return NodeStatus::Done;
        }
        if let Some(a) = n.assigned {
            if failed_since(n.phase, n.phase_since_ms, a.at_ms) {
                return NodeStatus::Failed { timed_out: false };
            }
            if let Some(timeout) = self.schedule.timeout_ms {
                if !up && self.now_ms.saturating_sub(a.at_ms) > timeout {
                    return NodeStatus::Failed { timed_out: true };
                }
            }
            return NodeStatus::InFlight;
        }
        if up || n.phase.is_in_progress() {
            return NodeStatus::InFlight;
        }
        NodeStatus::Pending
    }

    fn unavailable(&self, n: &NodeView<'_>) -> bool {
        !self.online(n) || !n.healthy || n.phase.is_in_progress() || n.phase == Phase::Failed
    }

    /// The size of batch `b` (`None`: unbounded).
    fn batch_size(&self, b: u32) -> Option<usize> {
        if let (Some(c), 0) = (self.schedule.canary, b) {
            return Some(c.count as usize);
        }
        match self.schedule.strategy {
            Strategy::Rolling { batch, .. } => Some(batch as usize),
            Strategy::AllAtOnce => None,
        }
    }

    /// Decides what to do now for the rollout's `nodes`.
    pub fn evaluate(&self, nodes: &[NodeView<'_>]) -> Plan {
        let mut plan = Plan::default();
        let statuses: Vec<NodeStatus> = nodes.iter().map(|n| self.classify(n)).collect();
        let p = &mut plan.progress;
        p.total = nodes.len();
        for s in &statuses {
            match s {
                NodeStatus::Pending => p.pending += 1,
                NodeStatus::InFlight => p.in_flight += 1,
                NodeStatus::Done => p.done += 1,
                NodeStatus::Failed { .. } => p.failed += 1,
            }
        }
        if p.total > 0 && p.done == p.total {
            plan.complete = true;
            plan.waiting = format!("all {} nodes are done", p.total);
            return plan;
        }
        match self.state {
            RolloutState::Running => {}
            RolloutState::Paused => {
                plan.waiting = "the rollout is paused: resume it with `upstart resume`".into();
                return plan;
            }
            other => {
                plan.waiting = format!("the rollout is {other}");
                return plan;
            }
        }
        if let Some((n, s)) = nodes
            .iter()
            .zip(&statuses)
            .find(|(_, s)| matches!(s, NodeStatus::Failed { .. }))
        {
            let why = match s {
                NodeStatus::Failed { timed_out: true } => format!(
                    "node `{}` was not upgraded within the timeout of {}",
                    n.id,
                    format_ms(self.schedule.timeout_ms.unwrap_or(0))
                ),
                _ => format!("node `{}` failed to upgrade", n.id),
            };
            plan.waiting = format!("{why}: the rollout pauses");
            plan.pause = Some(why);
            return plan;
        }
        if nodes.is_empty() {
            plan.waiting = format!("no node at version {} has registered", self.from);
            return plan;
        }

        // The current batch and what room it has.
        let current = nodes
            .iter()
            .filter_map(|n| n.assigned.map(|a| a.batch))
            .max();
        let (batch, room) = match current {
            None => (0, self.batch_size(0)),
            Some(b) => {
                let members: Vec<(&NodeView<'_>, &NodeStatus)> = nodes
                    .iter()
                    .zip(&statuses)
                    .filter(|(n, _)| n.assigned.is_some_and(|a| a.batch == b))
                    .collect();
                let size = self.batch_size(b);
                let full = size.is_some_and(|size| members.len() >= size);
                let all_done = members.iter().all(|(_, s)| **s == NodeStatus::Done);
                if !full {
                    (b, size.map(|size| size.saturating_sub(members.len())))
                } else if all_done {
                    if self.schedule.canary.is_some() && b == 0 && !self.canary_passed {
                        plan.canary_passed = true;
                        if self.schedule.canary.is_some_and(|c| c.then_pause) {
                            let why = format!(
                                "the canary ({}) is healthy: check it, then continue with `upstart resume`",
                                list(members.iter().map(|(n, _)| n.id))
                            );
                            plan.waiting = why.clone();
                            plan.pause = Some(why);
                            return plan;
                        }
                    }
                    (b + 1, self.batch_size(b + 1))
                } else {
                    let waiting: Vec<&str> = members
                        .iter()
                        .filter(|(_, s)| **s != NodeStatus::Done)
                        .map(|(n, _)| n.id)
                        .collect();
                    plan.waiting = format!(
                        "batch {b}: waiting for {} to be done{}",
                        list(waiting.into_iter()),
                        self.healthy_for_text()
                    );
                    return plan;
                }
            }
        };

        if let Some(w) = self.schedule.window {
            let minute = u32::try_from((self.now_ms / 60_000) % 1440).unwrap_or(0);
            if !w.contains(minute) {
                plan.waiting = format!(
                    "outside the window {w}: it opens in {}",
                    format_ms(u64::from(w.opens_in(minute)) * 60_000)
                );
                return plan;
            }
        }

        let unavailable = nodes.iter().filter(|n| self.unavailable(n)).count();
        let mut allowed = room.unwrap_or(usize::MAX);
        if let Strategy::Rolling {
            max_unavailable, ..
        } = self.schedule.strategy
        {
            let left = (max_unavailable as usize).saturating_sub(unavailable);
            if left == 0 {
                plan.waiting = format!(
                    "{unavailable} node(s) unavailable, the most allowed is {max_unavailable}"
                );
                return plan;
            }
            allowed = allowed.min(left);
        }

        // `after`: the nodes matching the pattern go first, the others wait for them.
        let pattern = self.schedule.after.as_deref();
        let after_blocked = pattern.is_some_and(|pattern| {
            !self.after_elsewhere.is_empty()
                || nodes
                    .iter()
                    .zip(&statuses)
                    .any(|(n, s)| glob_match(pattern, n.id) && *s != NodeStatus::Done)
        });
        let mut eligible: Vec<&str> = nodes
            .iter()
            .zip(&statuses)
            .filter(|(n, s)| **s == NodeStatus::Pending && self.online(n) && n.healthy)
            .filter(|(n, _)| !after_blocked || pattern.is_some_and(|p| glob_match(p, n.id)))
            .map(|(n, _)| n.id)
            .collect();
        if eligible.is_empty() {
            plan.waiting = if plan.progress.pending == 0 {
                format!("waiting for {} node(s) in flight", plan.progress.in_flight)
            } else if after_blocked {
                format!(
                    "waiting for the nodes matching `{}` to be done",
                    pattern.unwrap_or_default()
                )
            } else {
                format!(
                    "{} pending node(s) are offline or unhealthy",
                    plan.progress.pending
                )
            };
            return plan;
        }
        sort_ids(&mut eligible, self.schedule.order, self.seed);
        plan.start = eligible
            .into_iter()
            .take(allowed)
            .map(|id| (id.to_string(), batch))
            .collect();
        plan.waiting = format!(
            "batch {batch}: starting {}",
            list(plan.start.iter().map(|(id, _)| id.as_str()))
        );
        plan
    }

    /// A rolled-back rollout: the nodes to send back to `from` now, paced like the upgrade
    /// was. `going` are the nodes already sent back (they stay sent until they serve `from`
    /// again); at most `max_unavailable` nodes are going back or unavailable at a time, and
    /// they go in the reverse of the rollout's order (the last upgraded first). Returns every
    /// node that should be going back now, `going`'s unfinished ones included.
    pub fn rollback_now(&self, nodes: &[NodeView<'_>], going: &[&str]) -> Vec<String> {
        let back = |n: &NodeView<'_>| {
            n.version == self.from && !n.phase.is_in_progress() && n.phase != Phase::Failed
        };
        let mut now: Vec<String> = nodes
            .iter()
            .filter(|n| going.contains(&n.id) && !back(n))
            .map(|n| n.id.to_string())
            .collect();
        let needs: Vec<&NodeView<'_>> = nodes
            .iter()
            .filter(|n| !now.iter().any(|id| id == n.id))
            .filter(|n| {
                (n.version == self.to && !back(n))
                    || (n.assigned.is_some() && n.phase.is_in_progress())
            })
            .collect();
        let room = match self.schedule.strategy {
            Strategy::Rolling {
                max_unavailable, ..
            } => {
                let others_down = nodes
                    .iter()
                    .filter(|n| !now.iter().any(|id| id == n.id) && self.unavailable(n))
                    .count();
                (max_unavailable as usize).saturating_sub(now.len() + others_down)
            }
            Strategy::AllAtOnce => usize::MAX,
        };
        // A node already on its way (in progress, or unhealthy) goes first: it is down anyway.
        let (mut down, mut up): (Vec<&str>, Vec<&str>) = needs
            .iter()
            .map(|n| (n.id, self.unavailable(n)))
            .fold((Vec::new(), Vec::new()), |(mut d, mut u), (id, is_down)| {
                if is_down {
                    d.push(id);
                } else {
                    u.push(id);
                }
                (d, u)
            });
        sort_ids(&mut down, self.schedule.order, self.seed);
        sort_ids(&mut up, self.schedule.order, self.seed);
        up.reverse();
        now.extend(down.into_iter().map(str::to_string));
        now.extend(up.into_iter().take(room).map(str::to_string));
        now
    }

    fn healthy_for_text(&self) -> String {
        if self.schedule.healthy_for_ms == 0 {
            String::new()
        } else {
            format!(" (healthy for {})", format_ms(self.schedule.healthy_for_ms))
        }
    }
}

/// `` `a`, `b`, `c` `` (at most 5, then `and N more`).
fn list<'a>(ids: impl Iterator<Item = &'a str>) -> String {
    let ids: Vec<&str> = ids.collect();
    let mut out: Vec<String> = ids.iter().take(5).map(|id| format!("`{id}`")).collect();
    if ids.len() > 5 {
        out.push(format!("and {} more", ids.len() - 5));
    }
    out.join(", ")
}
