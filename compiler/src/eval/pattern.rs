//! Matching values against `match` patterns, collecting the bindings a pattern makes.
//!
//! A lone name without payload is a payload-less variant when the matched value's enum declares
//! a variant of that name, and otherwise a binding of the whole value (as the type checker
//! decides it from the scrutinee's type). When the value is a variant of an enum the spec does
//! not declare, the name is a variant if any enum of the spec declares it. Variant patterns
//! compare the variant name (the last path segment) only; a variant pattern without payload
//! matches whatever payload the value carries.

use lang::ast::{Lit, Pattern, PatternKind};

use super::expr::lit_value;
use super::value::Value;
use super::Evaluator;

impl Evaluator<'_> {
    /// Whether `value` matches `pattern`; on success the pattern's bindings, in order, are
    /// pushed to `binds` (on failure `binds` may hold partial bindings and is to be dropped).
    pub(super) fn match_pattern(
        &self,
        pattern: &Pattern,
        value: &Value,
        binds: &mut Vec<(String, Value)>,
    ) -> bool {
        match &pattern.kind {
            PatternKind::Wildcard => true,
            PatternKind::None => matches!(value, Value::Option(None)),
            PatternKind::Some(inner) => match value {
                Value::Option(Some(v)) => self.match_pattern(inner, v, binds),
                _ => false,
            },
            PatternKind::Lit(lit) => match_lit(lit, value),
            PatternKind::NegInt(n) => match value {
                Value::Float(f) => -(*n as f64) == *f,
                _ => *value == Value::Int(-i128::from(*n)),
            },
            PatternKind::Variant { path, payload } => {
                let Some(last) = path.last() else {
                    return false;
                };
                if path.len() == 1 && payload.is_none() && !self.names_variant(&last.name, value) {
                    binds.push((last.name.clone(), value.clone()));
                    return true;
                }
                match value {
                    Value::Variant {
                        variant,
                        payload: vp,
                        ..
                    } if *variant == last.name => match (payload, vp) {
                        (None, _) => true,
                        (Some(p), Some(v)) => self.match_pattern(p, v, binds),
                        (Some(_), None) => false,
                    },
                    _ => false,
                }
            }
        }
    }

    /// Whether a lone name in a pattern is a variant of the matched value's enum.
    fn names_variant(&self, name: &str, value: &Value) -> bool {
        match value {
            Value::Variant { enum_name, .. } => match self.enums.get(enum_name) {
                Some(variants) => variants.contains(name),
                None => self.is_variant_name(name),
            },
            _ => false,
        }
    }
}

/// An integer literal pattern also matches the equal float: the checker types a literal in
/// an `f64` position as `f64`.
fn match_lit(lit: &Lit, value: &Value) -> bool {
    match (lit, value) {
        (Lit::Int(n), Value::Float(f)) => *n as f64 == *f,
        _ => lit_value(lit) == *value,
    }
}
