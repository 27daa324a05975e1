//! Rust names for spec names: raw identifiers (`r#type`) for Rust keywords, a trailing `_` for
//! the few names that cannot be raw (`self`, `Self`, `super`, `crate`) or that would be read
//! as a prelude variant in a pattern (`None`, `Some`, `Ok`, `Err`), and `__up_`-prefixed names
//! for the generated code's own variables, which spec names do not use.

use proc_macro2::{Ident, Span};

/// Keywords that become raw identifiers.
const RAW: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "dyn", "else", "enum", "extern", "false",
    "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "static", "struct", "trait", "true", "type", "unsafe", "use", "where",
    "while", "abstract", "become", "box", "do", "final", "macro", "override", "priv", "typeof",
    "unsized", "virtual", "yield", "try",
];

/// Names that cannot be identifiers even raw, or that patterns would read as something else.
const MANGLED: &[&str] = &[
    "self", "Self", "super", "crate", "None", "Some", "Ok", "Err",
];

/// The Rust identifier for a spec name, and whether it differs from the spec's spelling
/// (then serde needs a `rename`).
pub(crate) fn ident_of(name: &str) -> (Ident, bool) {
    if name == "_" {
        return (Ident::new("__up_underscore", Span::call_site()), true);
    }
    if MANGLED.contains(&name) {
        return (Ident::new(&format!("{name}_"), Span::call_site()), true);
    }
    if RAW.contains(&name) {
        return (Ident::new_raw(name, Span::call_site()), false);
    }
    (Ident::new(name, Span::call_site()), false)
}

/// The Rust identifier for a spec name.
pub(crate) fn ident(name: &str) -> Ident {
    ident_of(name).0
}

/// An identifier of the generated code itself.
pub(crate) fn internal(name: &str) -> Ident {
    Ident::new(&format!("__up_{name}"), Span::call_site())
}

/// The module of a version's types: `v1`.
pub(crate) fn version_module(version: u64) -> Ident {
    Ident::new(&format!("v{version}"), Span::call_site())
}

/// Cargo package name of a spec's plugin: `upstart-plugin-kv-1-2`.
pub(crate) fn package_name(spec: &str, from: u64, to: u64) -> String {
    let spec: String = spec
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("upstart-plugin-{spec}-{from}-{to}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_become_raw_or_mangled() {
        assert_eq!(ident("type").to_string(), "r#type");
        assert_eq!(
            ident_of("self"),
            (Ident::new("self_", Span::call_site()), true)
        );
        assert_eq!(ident("None").to_string(), "None_");
        assert_eq!(ident("_").to_string(), "__up_underscore");
        assert_eq!(ident("entries").to_string(), "entries");
        assert_eq!(
            package_name("kv_store", 1, 2),
            "upstart-plugin-kv-store-1-2"
        );
    }
}
