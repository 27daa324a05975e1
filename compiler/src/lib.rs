//! The upgrade-spec compiler: name resolution, type and compatibility checking, the reference
//! evaluator that gives the language its meaning, and diagnostic rendering for the CLI.
//!
//! Architecture invariant: everything here except `render`, `build` (which writes and builds
//! plugin crates), `input` (which reads spec files for the CLI), `output` (the CLI's writes) and the `upstartc`
//! binary is pure: no file, terminal or network IO.

pub mod build;
pub mod check;
pub mod codegen;
pub mod eval;
pub mod explain;
pub mod fmt;
pub mod input;
pub mod lsp;
pub mod model;
pub mod output;
pub mod render;
pub mod synth;
pub mod verify;
