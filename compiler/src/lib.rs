//! The upgrade-spec compiler: name resolution, type and compatibility checking, the reference
//! evaluator that gives the language its meaning, verification of proof obligations, code
//! generation and the plugin build.
//!
//! Architecture invariant: everything here except `build` (which writes and builds plugin
//! crates) is pure: no file, terminal or network IO. Cargo enforces the rest: this crate has no
//! terminal (`codespan-reporting`), command-line (`clap`) or LSP dependency; those live in
//! `upstartc` and `upstart-lsp`.

pub mod abi_source;
pub mod build;
pub mod builtins;
pub mod check;
pub mod codegen;
pub mod eval;
pub mod model;
pub mod mutate;
pub mod replay;
#[cfg(test)]
mod test_specs;
pub mod verify;
pub mod workload;
