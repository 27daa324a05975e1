//! The plugin host: loading compiled upgrade plugins and calling them safely.
//!
//! A [`Plugin`] is one cdylib built by `upstartc compile` from one spec (`NAME A -> B`), opened
//! and checked by [`Plugin::load`] against what the caller [`Expect`]s. Its safe methods run
//! simulation rules, the state transform and the invariant; delegate `call`s of rules reach a
//! [`NodeHost`]. A [`Chain`] composes the plugins of consecutive specs so that a caller several
//! versions away from a node still reaches it. [`digest`] holds the hex and sha-256 helpers
//! that content addresses (plugins' spec hashes, bundles, states) share.
//!
//! All unsafe code of the crate lives in the `loader` module. The crate is what the shim links:
//! no HTTP, no database, no async runtime.

mod chain;
pub mod digest;
mod error;
mod expect;
mod hash;
mod host;
mod loader;

pub use chain::{Chain, ChainError};
pub use error::{mismatch, CallError, LoadError};
pub use expect::Expect;
pub use hash::spec_hash;
pub use host::NodeHost;
pub use loader::Plugin;
pub use upstart_abi::manifest::Manifest;
pub use upstart_abi::Direction;
