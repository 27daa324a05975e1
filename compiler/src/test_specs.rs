//! For unit tests: the checked models of example specs, and small specs built around the
//! versions a test gives.
#![allow(clippy::unwrap_used, reason = "tests")]

use crate::check::check_sources;
use crate::model::SpecModel;
use lang::SourceMap;

/// A spec `t 1 -> 2` of the versions `v1` and `v2` (their declarations), then `rest` (rules,
/// transforms, ...), with a schedule.
pub(crate) fn spec(v1: &str, v2: &str, rest: &str) -> String {
    format!(
        "upgrade t 1 -> 2\nversion 1 {{\n{v1}\n}}\nversion 2 {{\n{v2}\n}}\n{rest}\nschedule {{ rolling {{ batch: 1, max_unavailable: 1 }} }}\n"
    )
}

/// The models of `specs/kv/<file>` for each of `files`, checked together (a chain); panics
/// with the diagnostics when they do not check.
pub(crate) fn kv_models(files: &[&str]) -> Vec<SpecModel> {
    let mut sources = SourceMap::new();
    for f in files {
        sources.add(
            f.to_string(),
            upstart_test_support::spec(&format!("kv/{f}")),
        );
    }
    let out = check_sources(&sources);
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    out.models
}
