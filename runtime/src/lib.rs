//! The runtime of Upstart: the plugin loader ([`plugin`]), signed bundles and their store
//! ([`bundle`]), the schedule evaluator ([`schedule`]), the upgrade server and its database
//! ([`server`]), its HTTP API's types and client ([`api`], [`client`]), the crash-safe state
//! transform ([`transform`]), and the `upstart` command line ([`cli`]).

pub mod api;
pub mod bundle;
pub mod cli;
pub mod client;
pub mod digest;
pub mod plugin;
pub mod schedule;
pub mod server;
pub mod transform;
