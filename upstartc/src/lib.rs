//! The `upstartc` command line: diagnostic rendering for terminals and JSON ([`render`]), long
//! explanations of codes ([`explain`]), reading specs ([`input`]), writing to a stdout that may
//! be closed ([`output`]) and the file IO of `upstartc fmt` ([`fmt_cli`]). The binary
//! (`src/main.rs`) parses arguments and calls into `compiler`, `upstart-fmt` and `upstart-lsp`.
//!
//! Architecture invariant: this is the only compiler-side crate with terminal code (`clap`,
//! `codespan-reporting`); the crates it calls are pure or, for `compiler::build`, run cargo.

pub mod explain;
pub mod fmt_cli;
pub mod input;
pub mod mutate_cli;
pub mod output;
pub mod render;
