//! `upstart test`: random mixed-version plans with faults, run against a real cluster on
//! loopback, checked by oracles, failing plans shrunk and replayable.
//!
//! - [`plan`]: plans generated from a seed, their timeline and JSON;
//! - [`shrink`]: a failing plan reduced to a smallest one failing the same oracle.

pub mod plan;
mod rng;
pub mod shrink;
