//! The upgrade-spec language: source files and spans, the AST, the parser and the data types
//! of diagnostics. This crate does no IO: text comes in, data goes out.
//!
//! Architecture invariant: pest types never appear in this crate's public API.

pub mod ast;
pub mod diagnostic;
pub mod incremental;
pub mod lex;
pub mod parse;
pub mod span;
pub mod spans;
pub mod synth;

pub use diagnostic::{Diagnostic, Label, Severity};
pub use parse::{parse, Parsed};
pub use span::{FileId, SourceFile, SourceMap, Span};
