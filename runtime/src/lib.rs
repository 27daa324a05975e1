//! The runtime of Upstart: the plugin loader ([`plugin`]), signed bundles and their store
//! ([`bundle`]), the schedule evaluator ([`schedule`]), the upgrade server and its database
//! ([`server`]), its HTTP API's types, request signatures and client ([`api`], [`auth`],
//! [`client`]), the crash-safe state
//! transform ([`transform`]), and the `upstart` command line ([`cli`]).

//!
//! Without its default feature `full`, the crate is the plugin loader alone ([`plugin`] and
//! [`digest`]): what the shim links.

#[cfg(feature = "full")]
pub mod api;
#[cfg(feature = "full")]
pub mod auth;
#[cfg(feature = "full")]
pub mod bundle;
#[cfg(feature = "full")]
pub mod cli;
#[cfg(feature = "full")]
pub mod client;
pub mod digest;
pub mod plugin;
#[cfg(feature = "full")]
pub mod schedule;
#[cfg(feature = "full")]
pub mod server;
#[cfg(feature = "full")]
pub mod transform;
