//! The language server, `upstartc lsp`: diagnostics as you type (the checker's, with codes,
//! related locations and help), hover, go to definition, completion, quick fixes for missing
//! rules, and formatting, over the Language Server Protocol on stdio.
//!
//! Everything but [`server`] is pure: functions of an [`Analysis`] (text, line index, checked
//! model, diagnostics) and a byte offset, unit-tested without a client. Positions are
//! converted between byte offsets and LSP's UTF-16 columns in [`position`]. An edit re-parses
//! only the top-level item it touched ([`lang::incremental`]).

pub mod actions;
pub mod analysis;
pub mod completion;
pub mod definition;
pub mod diagnostics;
pub mod hover;
pub mod locate;
pub mod position;
pub mod server;
#[cfg(test)]
mod tests;

pub use analysis::Analysis;
pub use server::run_stdio;
