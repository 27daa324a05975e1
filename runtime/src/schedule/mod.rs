//! The schedule evaluator: which nodes of a rollout may start upgrading now.
//!
//! - [`settings`]: the schedule parsed from a manifest's entries ([`Schedule::from_entries`]);
//! - [`order`]: node orderings and node-id globs;
//! - [`eval`]: the decision ([`RolloutView::evaluate`] -> [`Plan`]).
//!
//! Everything here is pure; the upgrade server runs it on its in-memory view of the nodes.

pub mod eval;
pub mod order;
pub mod settings;

pub use eval::{failed_since, Assignment, NodeStatus, NodeView, Plan, RolloutView};
pub use settings::{Canary, Order, Schedule, ScheduleError, Strategy, Window};

#[cfg(test)]
mod tests;
