//! Generating values of a type, and shrinking a failing value to a small one.
//!
//! `random.rs`: random values of a type ([`Generator`]); `minimal.rs`: the smallest value of a
//! type; `shrink.rs`: the simpler candidates of a value and the greedy search for the smallest
//! failing case.

mod minimal;
mod random;
mod shrink;

pub use minimal::minimal;
pub use random::{generate, Generator, Scalars, MAX_SIZE};
pub use shrink::{shrink, shrink_case, shrink_value, Shrunk};

use crate::eval::Value;
use crate::model::{Ty, VariantDef};

/// Generation deeper than this gives the type's smallest value (recursive types stop here).
const MAX_DEPTH: usize = 24;

/// Variant `v` of enum `enum_name`, its payload (when it carries one) made by `payload`.
fn variant_value(enum_name: &str, v: &VariantDef, payload: impl FnOnce(&Ty) -> Value) -> Value {
    Value::Variant {
        enum_name: enum_name.to_string(),
        variant: v.name.name.clone(),
        payload: v.payload.as_ref().map(|t| Box::new(payload(t))),
    }
}

#[cfg(test)]
mod tests {
    use crate::check::check_sources;
    use crate::model::SpecModel;
    use lang::span::SourceMap;

    /// For the unit tests of generation and shrinking: a spec with an enum of plain and payload
    /// variants and a map in its state.
    pub(super) fn model() -> SpecModel {
        let mut sources = SourceMap::new();
        sources.add(
            "t.ups",
            "upgrade t 1 -> 2\n\
             version 1 { enum Shape { Dot, Circle(u64), Box(list<i64>) } state { m: map<string, i64> } }\n\
             version 2 { state { m: map<string, i64> } }\n\
             invariant (old, new) { old.m == new.m }\n\
             transform (old) -> new { m: old.m }\n",
        );
        let out = check_sources(&sources);
        assert!(!out.has_errors(), "{:#?}", out.diagnostics);
        out.models
            .into_iter()
            .next()
            .unwrap_or_else(|| unreachable!())
    }
}
