//! The `upstart` package: the node agent ([`agent`], the per-node upgrade layer that
//! `upstart node` runs through [`node_cli`]), `upstart demo` ([`demo`]) and the server-side
//! subcommands over the `runtime` library ([`cli`]). The binary (`src/main.rs`) dispatches to
//! them. This is the only package of the runtime side that depends on clap.

pub mod agent;
pub mod cli;
pub mod demo;
pub mod node_cli;
pub mod tester;
