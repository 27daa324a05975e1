//! Run-time support for generated rule code: the error type, the `f64` of the language, the
//! built-in functions (`keys`, `map_values`, `to_map`, ...), checked integer arithmetic, and
//! the JSON plumbing of arguments, results and delegate calls.
//!
//! Every function has the meaning the reference evaluator (`compiler::eval`) gives the built-in
//! of the same name. Closures passed to built-ins return `Result`, so `?` and `disallow`
//! inside them abort the whole rule. Integers are checked in their static type: an overflow,
//! a division by zero, or a negative number made `u64` is [`RuleError::BadInput`].

mod collections;
mod float;
mod index;
mod int;
mod show;
#[cfg(test)]
mod tests;
mod wire;

pub use collections::*;
pub use float::*;
pub use index::*;
pub use int::*;
pub use show::*;
pub use wire::*;

use crate::guest::Host;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// Why a rule, transform or invariant did not produce a value: the boundary's one error, as
/// generated code names it (defined beside [`crate::Status`], which it crosses the boundary as).
pub use crate::CallError as RuleError;

/// The result of every generated function.
pub type RuleResult<T> = Result<T, RuleError>;

pub(crate) fn bad(message: impl Into<String>) -> RuleError {
    RuleError::BadInput(message.into())
}

/// `disallow "reason"`.
pub fn disallow(reason: &str) -> RuleError {
    RuleError::Disallowed(reason.to_string())
}
