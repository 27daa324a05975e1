//! The checked model of a spec text, for the tests that run `verify`, the evaluator or code
//! generation on it (behind the feature `compile`).

/// The model of the spec text `text` (named `name` in diagnostics), which must check without
/// errors: a panic with the diagnostics otherwise.
pub fn checked(name: &str, text: &str) -> compiler::model::SpecModel {
    let mut sources = lang::span::SourceMap::new();
    sources.add(name, text);
    let out = compiler::check::check_sources(&sources);
    if out.has_errors() {
        panic!("`{name}` does not check: {:#?}", out.diagnostics);
    }
    match out.models.into_iter().next() {
        Some(model) => model,
        None => panic!("`{name}` has no model"),
    }
}
