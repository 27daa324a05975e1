//! The `upstart` package: the node agent ([`agent`], the per-node upgrade layer that
//! `upstart node` runs through [`node_cli`]) and `upstart demo` ([`demo`]). The binary
//! (`src/main.rs`) dispatches to these and to the server-side subcommands of `runtime::cli`.

pub mod agent;
pub mod demo;
pub mod node_cli;
pub mod tester;
