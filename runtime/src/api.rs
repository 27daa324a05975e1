//! The upgrade server's HTTP API as types: what nodes and the `upstart` CLI send, and what the
//! server answers. JSON on the wire. Shared by the server ([`crate::server`]) and the client
//! ([`crate::client`]).
//!
//! | method and path | body | answer |
//! | --- | --- | --- |
//! | `POST /v1/bundles` (`?allow_downgrade=true`) | a bundle container (bytes) | [`BundleInfo`]; 400/403/409/413 when refused |
//! | `GET /v1/bundles` | | `[BundleInfo]` |
//! | `GET /v1/bundles/{id}` | | the bundle's signed header (bytes), for nodes to verify |
//! | `GET /v1/objects/{sha256}` | | a bundle file's bytes, by content address |
//! | `POST /v1/rollouts` | [`StartRollout`] | [`RolloutInfo`]; 409 when one is active |
//! | `POST /v1/rollouts/{id}/pause` (`resume`, `rollback`) | | [`RolloutInfo`]; `{id}` may be `current` |
//! | `POST /v1/nodes/{id}/poll` | [`PollRequest`] | [`Directive`]; 304 when `If-None-Match` matches |
//! | `POST /v1/nodes/{id}/report` | [`Report`] | [`Directive`] |
//! | `GET /v1/status` | | [`Status`] |
//! | `POST /v1/nodes` | [`Enroll`] | [`EnrolledNode`]; 409 when the id or key is taken |
//! | `GET /v1/nodes` | | `[EnrolledNode]` |
//! | `DELETE /v1/nodes/{id}` | | [`EnrolledNode`]: the node is decommissioned |
//!
//! Every request but a `GET` is signed ([`crate::auth`]): bundles, rollouts and nodes by an
//! operator key, polls and reports by the node's own enrolled key. Errors answer
//! `{"error": "..."}` with a 4xx or 5xx status (401: not signed, or not acceptably; 403: signed
//! by someone who may not do this).

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a node is doing, as it reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Running its version, not upgrading.
    Serving,
    /// Letting in-flight requests finish before stopping.
    Draining,
    /// Running the state transform.
    Transforming,
    /// Starting the new binary.
    Starting,
    /// Waiting for the new binary to pass its health check.
    HealthChecking,
    /// Upgraded: serving the new version.
    Upgraded,
    /// The upgrade failed (the node rolls itself back).
    Failed,
    /// Back on the old version after a failure or a rollback.
    RolledBack,
}

impl Phase {
    pub const ALL: [Phase; 8] = [
        Phase::Serving,
        Phase::Draining,
        Phase::Transforming,
        Phase::Starting,
        Phase::HealthChecking,
        Phase::Upgraded,
        Phase::Failed,
        Phase::RolledBack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Serving => "serving",
            Phase::Draining => "draining",
            Phase::Transforming => "transforming",
            Phase::Starting => "starting",
            Phase::HealthChecking => "health-checking",
            Phase::Upgraded => "upgraded",
            Phase::Failed => "failed",
            Phase::RolledBack => "rolled-back",
        }
    }

    pub fn parse(text: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.as_str() == text)
    }

    /// Between serving one version and serving the next: the node is down.
    pub fn is_in_progress(self) -> bool {
        matches!(
            self,
            Phase::Draining | Phase::Transforming | Phase::Starting | Phase::HealthChecking
        )
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state of a rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutState {
    /// Waiting for another rollout of the same upgrade name to end.
    Pending,
    Running,
    /// No node starts upgrading; nodes already upgrading finish.
    Paused,
    Done,
    /// Every node of the rollout goes back to the old version.
    RolledBack,
}

impl RolloutState {
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutState::Pending => "pending",
            RolloutState::Running => "running",
            RolloutState::Paused => "paused",
            RolloutState::Done => "done",
            RolloutState::RolledBack => "rolled_back",
        }
    }

    pub fn parse(text: &str) -> Option<RolloutState> {
        [
            RolloutState::Pending,
            RolloutState::Running,
            RolloutState::Paused,
            RolloutState::Done,
            RolloutState::RolledBack,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// Not yet over (pending, running or paused).
    pub fn is_active(self) -> bool {
        matches!(
            self,
            RolloutState::Pending | RolloutState::Running | RolloutState::Paused
        )
    }
}

impl fmt::Display for RolloutState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A node's heartbeat: who it is and what it is doing. The node id is in the path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollRequest {
    /// The `upgrade NAME` of the system the node runs (the spec name of its bundles).
    pub system: String,
    /// The version the node runs.
    pub version: u64,
    pub phase: Phase,
    /// Whether the node's own health check passes.
    pub healthy: bool,
    /// Where the node serves (informational).
    #[serde(default)]
    pub address: String,
}

/// A node's report of something that happened: a phase change, a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub system: String,
    pub version: u64,
    pub phase: Phase,
    pub healthy: bool,
    #[serde(default)]
    pub address: String,
    /// What happened, for people (a failure's reason).
    #[serde(default)]
    pub message: String,
}

/// What a node should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Keep running the current version.
    Stay,
    /// Upgrade to the bundle's version now.
    Upgrade,
    /// Go back to the rollout's old version.
    Rollback,
}

/// The bundle a directive is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleRef {
    /// The bundle id (sha-256 of its manifest): fetch `GET /v1/bundles/{id}` for the header.
    pub id: String,
    pub from: u64,
    pub to: u64,
    /// Content addresses of the plugin and the binary: `GET /v1/objects/{sha256}`.
    pub plugin_sha256: String,
    pub binary_sha256: String,
}

/// The server's answer to a poll or a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directive {
    pub action: Action,
    /// The rollout concerning this node, if any.
    pub rollout: Option<u64>,
    /// The rollout's bundle: present whenever a rollout concerns the node, so that a node can
    /// fetch it early and install its future simulation objects at once.
    pub bundle: Option<BundleRef>,
    /// Why, for people (`waiting for batch 2`, `rollout paused`).
    pub reason: String,
    /// When to poll next, in milliseconds.
    pub poll_after_ms: u64,
    /// The node's assignment in the rollout (when it was assigned, unix ms): a new one after
    /// `upstart resume` retries a node that failed.
    #[serde(default)]
    pub attempt: Option<u64>,
    /// With [`Action::Rollback`]: the operator allowed dropping the writes the new version took
    /// when the spec has no reverse transform (`upstart rollback --discard-writes`).
    #[serde(default)]
    pub discard_writes: bool,
    /// Every bundle of the node's system whose rollout is pending, running or paused: a node
    /// installs the future rules of all of them at once (composed with the ones it has), so a
    /// caller of any version in play reaches it, however many versions apart.
    #[serde(default)]
    pub bundles: Vec<BundleRef>,
}

/// `POST /v1/rollouts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartRollout {
    pub bundle: String,
    /// The seed of `order: random`; chosen by the server when absent.
    #[serde(default)]
    pub seed: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleInfo {
    pub id: String,
    pub spec: String,
    pub from: u64,
    pub to: u64,
    /// The bundle's release number within its system (`spec`).
    pub release: u64,
    pub spec_hash: String,
    pub key_id: String,
    pub created_at: u64,
    pub schedule: String,
    pub files: Vec<FileInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    pub role: String,
    pub name: String,
    pub sha256: String,
    pub size: u64,
}

/// Counts of a rollout's nodes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub total: usize,
    pub done: usize,
    pub in_flight: usize,
    pub pending: usize,
    pub failed: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutInfo {
    pub id: u64,
    pub bundle: String,
    pub system: String,
    pub from: u64,
    pub to: u64,
    pub state: RolloutState,
    /// Why it is in this state or waiting (`canary healthy: resume with upstart resume`).
    pub reason: String,
    pub schedule: String,
    pub progress: Progress,
    /// Unix milliseconds.
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub id: String,
    pub system: String,
    pub address: String,
    pub version: u64,
    pub phase: Phase,
    pub healthy: bool,
    /// Milliseconds since the node was last heard from.
    pub last_seen_ms_ago: u64,
    pub online: bool,
    /// The rollout the node is taking part in.
    pub rollout: Option<u64>,
    /// Whether it was told to upgrade in that rollout.
    pub assigned: bool,
    /// Whether it counts as done in that rollout.
    pub done: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub at_ms: u64,
    pub rollout: Option<u64>,
    pub node: Option<String>,
    pub kind: String,
    pub message: String,
}

/// `GET /v1/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// Unix milliseconds of the server's clock.
    pub now_ms: u64,
    /// Newest first.
    pub rollouts: Vec<RolloutInfo>,
    /// Sorted by node id.
    pub nodes: Vec<NodeInfo>,
    /// The latest events, newest last.
    pub events: Vec<Event>,
}

/// The body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

/// `POST /v1/nodes`: enroll node `id` with its public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enroll {
    pub id: String,
    /// The node's ed25519 public key, 64 hex digits (the digits of its `node.key.pub`).
    pub public_key: String,
}

/// An enrolled node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrolledNode {
    pub id: String,
    /// The id of the node's key (16 hex digits of its sha-256).
    pub key_id: String,
    pub enrolled_at_ms: u64,
    /// The id of the operator key that enrolled it.
    pub enrolled_by: String,
    /// What the node last said, if it was heard from.
    pub status: Option<NodeInfo>,
}
