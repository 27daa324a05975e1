//! For unit tests: the checked models of example specs.
#![allow(clippy::unwrap_used, reason = "tests")]

use crate::check::check_sources;
use crate::model::SpecModel;
use lang::SourceMap;

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
