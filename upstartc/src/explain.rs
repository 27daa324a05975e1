//! Long explanations of diagnostic codes, for `upstartc explain`. The texts live in
//! `upstartc/explain/UNNNN.md`, one file per code, included at build time.

use lang::diagnostic::Code;

include!("explain_table.rs");

/// The explanation of a code, if it has one.
pub fn explanation(code: Code) -> Option<&'static str> {
    EXPLANATIONS
        .iter()
        .find(|(c, _)| *c == code.0)
        .map(|(_, t)| *t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lang::diagnostic::codes::ALL;

    #[test]
    fn every_code_has_an_explanation() {
        let missing: Vec<String> = ALL
            .iter()
            .filter(|i| explanation(i.code).is_none())
            .map(|i| i.code.to_string())
            .collect();
        assert!(missing.is_empty(), "codes without explanation: {missing:?}");
    }

    #[test]
    fn no_explanation_for_an_unknown_code() {
        assert!(explanation(Code(9999)).is_none());
    }
}
