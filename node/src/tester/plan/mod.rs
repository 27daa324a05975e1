//! Plans of `upstart test`: what happens to a cluster, in order, generated from a seed.
//!
//! A plan fixes the cluster's size, the order in which its nodes upgrade and the batch size,
//! the versions of its clients and how many calls each makes, and a list of steps: hops along
//! the chain (1 -> 2 -> 3), pauses and resumes of a rollout, a rollback of the last hop (and,
//! less often, of the hops before it, newest first), and
//! faults at random points (the agent killed with SIGKILL at a point of its upgrade, the
//! program killed, the upgrade server down for a while). Generation is pure: the same seed and
//! settings give the same plan ([`generate`]). Plans are saved and read back as JSON and
//! printed as a timeline ([`Plan::timeline`]).
//!
//! Network faults (a peer route delayed or cut through the shims' test hook, a burst of idle
//! connections) are added to a generated plan's rollouts by `network_faults`, from a random
//! stream of their own.
//!
//! Skipped versions (1 -> 3 in one upgrade) are not generated: the product cannot make them
//! from the specs of a chain. A bundle carries one spec's hop (`from -> to`, one transform)
//! and an agent takes a bundle only from the version it runs, so a node at 1 goes to 3 by
//! two upgrades, 1 -> 2 then 2 -> 3; the composed rules of a chain only let nodes two
//! versions apart talk.

use super::rng::Rng;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// The workload's calls per version: a plan's sequential calls are a slice of them.
pub const MAX_CALLS: usize = 256;

/// Points of an upgrade where an agent can be stopped (`--stop-at`) and killed: the agent's
/// own steps before and after the state transform, and the transform's.
pub fn upgrade_points() -> Vec<&'static str> {
    let agent = crate::agent::AGENT_POINTS
        .iter()
        .copied()
        .filter(|p| !p.starts_with("rollback"));
    let transform = runtime::transform::Point::ALL.iter().map(|p| p.name());
    agent.chain(transform).collect()
}

/// One thing a plan does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "step")]
pub enum Step {
    /// Push the bundle of the hop `from -> to` and start its rollout.
    Hop { from: u64, to: u64 },
    /// Before the next hop: node `node` (an index) restarts with `--stop-at POINT`; when it
    /// reaches the point it is killed with SIGKILL and started again without the stop.
    KillAgentAt { node: usize, point: String },
    /// SIGKILL of node `node`'s program (its agent restarts it).
    CrashProgram { node: usize },
    /// SIGKILL of the upgrade server, which stays down for `ms`, then starts again.
    ServerDown { ms: u64 },
    /// `upstart pause` of the running rollout.
    Pause,
    /// `upstart resume`.
    Resume,
    /// Let time pass (the workload keeps running).
    Wait { ms: u64 },
    /// Wait until the running rollout is done.
    AwaitRollout,
    /// `upstart rollback` of the newest hop not rolled back yet (the last hop first, then the
    /// one before it), and wait until every node is back.
    Rollback,
    /// Node `node`'s peer route to node `peer` delayed: every chunk copied on it, either way,
    /// held back `delay_ms`, for `ms` (the shim's test fault hook); then it heals by itself.
    DelayRoute {
        node: usize,
        peer: usize,
        delay_ms: u64,
        ms: u64,
    },
    /// Node `node`'s peer route to node `peer` cut for `ms`: its connections closed, new ones
    /// closed as they come; then it heals by itself.
    CutRoute { node: usize, peer: usize, ms: u64 },
    /// `connections` idle connections (never a byte sent) opened to node `node`'s client
    /// port and held for `ms`.
    IdleBurst {
        node: usize,
        connections: usize,
        ms: u64,
    },
}

impl Step {
    /// A fault on a peer route (the agents then run with the shim's fault hook on).
    pub fn is_route_fault(&self) -> bool {
        matches!(self, Step::DelayRoute { .. } | Step::CutRoute { .. })
    }

    /// A fault of the network: a peer route delayed or cut, a burst of idle connections.
    pub fn is_network_fault(&self) -> bool {
        self.is_route_fault() || matches!(self, Step::IdleBurst { .. })
    }

    /// What is wrong with a network fault in a plan of `nodes` nodes, if anything.
    fn network_fault_error(&self, nodes: usize) -> Option<String> {
        match self {
            Step::DelayRoute { node, peer, .. } | Step::CutRoute { node, peer, .. } => {
                if *node >= nodes || *peer >= nodes {
                    Some(format!("no route from node {node} to node {peer}"))
                } else if node == peer {
                    Some(format!("node {node} has no route to itself"))
                } else {
                    None
                }
            }
            Step::IdleBurst { node, .. } if *node >= nodes => Some(format!("no node {node}")),
            _ => None,
        }
    }
}

/// A plan: what to build and what happens, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The seed it was generated from (0 for a hand-written or shrunk plan keeps its parent's).
    pub seed: u64,
    /// The cluster's size.
    pub nodes: usize,
    /// Node indices in the order they upgrade (the nodes are named so that the schedule's
    /// `order: node_id` follows it).
    pub order: Vec<usize>,
    /// Nodes per batch of the rolling schedule.
    pub batch: usize,
    /// The versions of the clients: one sequential and `concurrent` concurrent clients of each
    /// version on each node.
    pub clients: Vec<u64>,
    pub concurrent: usize,
    /// Calls of each sequential client: the workload's calls `skip..skip + calls`.
    pub calls: usize,
    #[serde(default)]
    pub skip: usize,
    pub steps: Vec<Step>,
}

/// What plans are generated from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanSettings {
    /// The versions of the chain, oldest first (at least two).
    pub versions: Vec<u64>,
    /// The cluster's size: the smallest and largest (equal for a fixed size).
    pub nodes: (usize, usize),
    /// Calls of each sequential client.
    pub calls: usize,
    /// Whether faults are generated.
    pub faults: bool,
}

impl Default for PlanSettings {
    fn default() -> PlanSettings {
        PlanSettings {
            versions: vec![1, 2],
            nodes: (3, 3),
            calls: 40,
            faults: true,
        }
    }
}

/// Generates the plan of `seed`. Pure: the same seed and settings give the same plan.
pub fn generate(seed: u64, settings: &PlanSettings) -> Plan {
    let mut rng = Rng::new(seed);
    let (lo, hi) = settings.nodes;
    let (lo, hi) = (lo.clamp(1, 7), hi.clamp(1, 7).max(lo.clamp(1, 7)));
    let nodes = lo + rng.index(hi - lo + 1);
    let mut order: Vec<usize> = (0..nodes).collect();
    rng.shuffle(&mut order);
    let batch = 1 + rng.index(nodes.div_ceil(2));
    let versions = &settings.versions;
    let first = versions.first().copied().unwrap_or(1);
    // Half the plans have only sequential clients of the first version: the differential
    // oracle compares those with a cluster that never upgrades.
    let mut clients = vec![first];
    let mut concurrent = 0;
    if rng.chance(1, 2) {
        for v in versions.iter().skip(1) {
            if rng.chance(1, 2) {
                clients.push(*v);
            }
        }
        concurrent = rng.index(3);
    }
    let hops = versions.len().saturating_sub(1);
    // Most plans walk the whole chain; some stop early.
    let hops = if hops > 1 && rng.chance(1, 4) {
        1 + rng.index(hops - 1)
    } else {
        hops
    };
    let points = upgrade_points();
    let mut steps = Vec::new();
    for pair in versions.windows(2).take(hops) {
        let (from, to) = match pair {
            [a, b] => (*a, *b),
            _ => continue,
        };
        if settings.faults && rng.chance(1, 4) {
            if let Some(point) = rng.pick(&points) {
                steps.push(Step::KillAgentAt {
                    node: rng.index(nodes),
                    point: (*point).to_string(),
                });
            }
        }
        steps.push(Step::Hop { from, to });
        // What happens while the rollout runs, each group at a random point.
        let mut during: Vec<Vec<Step>> = Vec::new();
        if rng.chance(1, 4) {
            during.push(vec![
                Step::Pause,
                Step::Wait {
                    ms: 200 * (1 + rng.below(5)),
                },
                Step::Resume,
            ]);
        }
        if settings.faults && rng.chance(1, 4) {
            during.push(vec![Step::CrashProgram {
                node: rng.index(nodes),
            }]);
        }
        if settings.faults && rng.chance(1, 5) {
            during.push(vec![Step::ServerDown {
                ms: 500 * (1 + rng.below(4)),
            }]);
        }
        rng.shuffle(&mut during);
        for group in during {
            steps.push(Step::Wait {
                ms: 100 * rng.below(10),
            });
            steps.extend(group);
        }
        steps.push(Step::AwaitRollout);
    }
    if rng.chance(1, 4) {
        steps.push(Step::Wait {
            ms: 100 * rng.below(20),
        });
        steps.push(Step::Rollback);
        steps.extend(earlier_rollbacks(&mut rng, hops));
    }
    if settings.faults {
        network_faults(seed, nodes, &mut steps);
    }
    Plan {
        seed,
        nodes,
        order,
        batch,
        clients,
        concurrent,
        calls: settings.calls,
        skip: 0,
        steps,
    }
}

/// Adds network faults to the rollouts of `steps`, each at a random point between a hop and
/// the wait for its rollout: a peer route delayed or cut (clusters of two nodes or more), a
/// burst of idle connections. From a random stream of its own, so the rest of a seed's plan
/// is the same with these faults or without.
fn network_faults(seed: u64, nodes: usize, steps: &mut Vec<Step>) {
    let mut rng = Rng::new(seed ^ 0x6e65_7477_6f72_6b21);
    let hops: Vec<usize> = steps
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s, Step::Hop { .. }))
        .map(|(i, _)| i)
        .collect();
    // From the last hop back, so the indices of earlier ones hold.
    for &hop in hops.iter().rev() {
        let Some(awaited) = steps
            .iter()
            .skip(hop)
            .position(|s| *s == Step::AwaitRollout)
            .map(|p| hop + p)
        else {
            continue;
        };
        let mut faults = Vec::new();
        if nodes > 1 && rng.chance(1, 3) {
            let node = rng.index(nodes);
            let peer = (node + 1 + rng.index(nodes - 1)) % nodes;
            let ms = 500 * (2 + rng.below(6));
            faults.push(if rng.chance(1, 2) {
                Step::CutRoute { node, peer, ms }
            } else {
                Step::DelayRoute {
                    node,
                    peer,
                    delay_ms: 50 * (1 + rng.below(8)),
                    ms,
                }
            });
        }
        if rng.chance(1, 6) {
            faults.push(Step::IdleBurst {
                node: rng.index(nodes),
                connections: 100 * (1 + rng.index(5)),
                ms: 500 * (1 + rng.below(6)),
            });
        }
        for fault in faults {
            let at = hop + 1 + rng.index(awaited - hop);
            steps.insert(at, fault);
        }
    }
}

/// After the rollback of the last of `hops` hops, rollbacks of the hops before it, each less
/// likely than the one after it (one in three, then one in nine, ...): 3 -> 2, then 2 -> 1.
fn earlier_rollbacks(rng: &mut Rng, hops: usize) -> Vec<Step> {
    let mut steps = Vec::new();
    for _ in 1..hops {
        if !rng.chance(1, 3) {
            break;
        }
        steps.push(Step::Wait {
            ms: 100 * rng.below(10),
        });
        steps.push(Step::Rollback);
    }
    steps
}

impl Plan {
    /// The version every node must run at the end: the last hop's, or, after `k` rollbacks
    /// (newest hop first), the version the `k`-th hop from the end started from.
    pub fn final_version(&self) -> Option<u64> {
        let mut applied: Vec<(u64, u64)> = Vec::new();
        for s in &self.steps {
            match s {
                Step::Hop { from, to } => applied.push((*from, *to)),
                Step::Rollback => {
                    let back = applied.pop();
                    if applied.is_empty() {
                        return back.map(|(from, _)| from);
                    }
                }
                _ => {}
            }
        }
        applied
            .last()
            .map(|(_, to)| *to)
            .or_else(|| self.clients.first().copied())
    }

    /// The version nodes start at.
    pub fn first_version(&self) -> u64 {
        self.steps
            .iter()
            .find_map(|s| match s {
                Step::Hop { from, .. } => Some(*from),
                _ => None,
            })
            .or_else(|| self.clients.first().copied())
            .unwrap_or(1)
    }

    /// The name of node `index`: ids sort in the plan's upgrade order (`n1` upgrades first).
    pub fn node_id(&self, index: usize) -> String {
        let rank = self.order.iter().position(|&n| n == index).unwrap_or(index);
        format!("n{}", rank + 1)
    }

    /// Whether the plan is well formed: nodes in range, `order` a permutation, hops in a
    /// chain, rollbacks (at most one per hop) only after the last hop and followed by nothing
    /// but waits and further rollbacks, a pause resumed. An error says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=7).contains(&self.nodes) {
            return Err(format!("a plan has 1 to 7 nodes, not {}", self.nodes));
        }
        let mut sorted = self.order.clone();
        sorted.sort_unstable();
        if sorted != (0..self.nodes).collect::<Vec<_>>() {
            return Err(format!(
                "`order` {:?} is not an order of the {} nodes",
                self.order, self.nodes
            ));
        }
        if self.batch == 0 || self.batch > self.nodes {
            return Err(format!("batch {} out of 1..={}", self.batch, self.nodes));
        }
        if self.skip + self.calls > MAX_CALLS {
            return Err(format!(
                "calls {}..{} are past the workload's {MAX_CALLS}",
                self.skip,
                self.skip + self.calls
            ));
        }
        if self.clients.is_empty() {
            return Err("a plan has clients of at least one version".into());
        }
        let mut at: Option<u64> = None;
        let mut paused = false;
        let mut hops = 0;
        let mut rolled_back = 0;
        for (i, s) in self.steps.iter().enumerate() {
            let n = i + 1;
            if rolled_back > 0 && !matches!(s, Step::Wait { .. } | Step::Rollback) {
                return Err(format!("step {n} comes after the rollback"));
            }
            if let Some(e) = s.network_fault_error(self.nodes) {
                return Err(format!("step {n}: {e}"));
            }
            match s {
                Step::Hop { from, to } => {
                    if to <= from || at.is_some_and(|v| v != *from) {
                        return Err(format!("step {n}: the hop {from} -> {to} is out of chain"));
                    }
                    at = Some(*to);
                    hops += 1;
                }
                Step::KillAgentAt { node, .. } | Step::CrashProgram { node }
                    if *node >= self.nodes =>
                {
                    return Err(format!("step {n}: no node {node}"));
                }
                Step::Pause => paused = true,
                Step::Resume => paused = false,
                Step::AwaitRollout if paused => {
                    return Err(format!("step {n} waits for a paused rollout"));
                }
                Step::Rollback if at.is_none() => {
                    return Err(format!("step {n}: a rollback before any hop"));
                }
                Step::Rollback if rolled_back >= hops => {
                    return Err(format!("step {n}: a rollback of more hops than were made"));
                }
                Step::Rollback => rolled_back += 1,
                _ => {}
            }
        }
        Ok(())
    }

    /// Faults and steps, for the summary.
    pub fn counts(&self) -> (usize, usize) {
        let faults = self
            .steps
            .iter()
            .filter(|s| {
                matches!(
                    s,
                    Step::KillAgentAt { .. } | Step::CrashProgram { .. } | Step::ServerDown { .. }
                ) || s.is_network_fault()
            })
            .count();
        (self.steps.len(), faults)
    }

    /// The plan as a timeline people read.
    pub fn timeline(&self) -> String {
        let mut out = String::new();
        let order: Vec<String> = (0..self.nodes).map(|i| self.node_id(i)).collect();
        let mut sorted = order.clone();
        sorted.sort();
        let _ = writeln!(
            out,
            "plan {}: {} node{} ({}), batches of {}, clients of version {} ({} sequential call{} each, {} concurrent client{} per version and node)",
            self.seed,
            self.nodes,
            plural(self.nodes),
            sorted.join(" "),
            self.batch,
            self.clients
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            self.calls,
            plural(self.calls),
            self.concurrent,
            plural(self.concurrent),
        );
        for (i, s) in self.steps.iter().enumerate() {
            let _ = writeln!(out, "  {:>2}. {}", i + 1, self.describe(s));
        }
        if let Some(v) = self.final_version() {
            let _ = writeln!(out, "  end: every node at version {v}");
        }
        out
    }

    /// One step in words.
    pub fn describe(&self, s: &Step) -> String {
        match s {
            Step::Hop { from, to } => format!("push {from} -> {to} and start its rollout"),
            Step::KillAgentAt { node, point } => format!(
                "arm: {}'s agent is killed (SIGKILL) at `{point}` of its next upgrade, then restarted",
                self.node_id(*node)
            ),
            Step::CrashProgram { node } => {
                format!("crash: SIGKILL of {}'s program", self.node_id(*node))
            }
            Step::ServerDown { ms } => format!("the upgrade server is down for {ms} ms"),
            Step::Pause => "upstart pause".into(),
            Step::Resume => "upstart resume".into(),
            Step::Wait { ms } => format!("wait {ms} ms"),
            Step::AwaitRollout => "wait until the rollout is done".into(),
            Step::Rollback => {
                "upstart rollback of the newest hop not rolled back; wait until every node is back"
                    .into()
            }
            Step::DelayRoute {
                node,
                peer,
                delay_ms,
                ms,
            } => format!(
                "delay: {}'s route to {} holds each frame {delay_ms} ms, for {ms} ms",
                self.node_id(*node),
                self.node_id(*peer)
            ),
            Step::CutRoute { node, peer, ms } => format!(
                "cut: {}'s route to {} is cut for {ms} ms",
                self.node_id(*node),
                self.node_id(*peer)
            ),
            Step::IdleBurst {
                node,
                connections,
                ms,
            } => format!(
                "idle burst: {connections} idle connections to {} for {ms} ms",
                self.node_id(*node)
            ),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Result<Plan, String> {
        let plan: Plan = serde_json::from_str(text).map_err(|e| format!("not a plan: {e}"))?;
        plan.validate()?;
        Ok(plan)
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
pub(crate) mod tests;
