//! The runtime of Upstart: signed bundles and their store ([`bundle`]), the schedule
//! evaluator ([`schedule`]), the upgrade server and its database ([`server`]), its HTTP API's
//! types, request signatures and client ([`api`], [`auth`], [`client`]), the crash-safe state
//! transform ([`transform`]). The `upstart` command line over them is in the `upstart`
//! package (`node/`): this library has no command-line dependency.
//!
//! The plugin loader is its own crate, `upstart-plugin-host`, re-exported here as [`plugin`]
//! (bundles and the state transform take its plugins); [`digest`] is its hex and sha-256 helpers.

pub mod api;
pub mod auth;
pub mod bundle;
pub mod client;
pub mod schedule;
pub mod server;
pub mod transform;

pub use upstart_plugin_host as plugin;
pub use upstart_plugin_host::digest;
