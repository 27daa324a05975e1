//! Data-driven checker tests: `check(spec, expect)` compares a compact listing of the
//! diagnostics (`code line:col message`) with `expect`; most tests are rows of a
//! [`check_tests!`] table.

use super::{check_sources, check_text};
use crate::test_specs::spec;
use lang::span::SourceMap;

/// A table of checker tests: each entry is a `#[test]` named `$name`, which may bind names
/// (`let v1 = "...";`) and then checks each of its rows `version 1, version 2, rest =>
/// expected`: the listing of the spec [`spec`] makes of them must be `expected`.
macro_rules! check_tests {
    ($(
        $(#[$attr:meta])*
        $name:ident {
            $(let $var:pat = $val:expr;)*
            $($v1:expr, $v2:expr, $rest:expr => $expect:expr;)+
        }
    )*) => {
        $(
            $(#[$attr])*
            #[test]
            fn $name() {
                $(let $var = $val;)*
                $(super::check(&super::spec($v1, $v2, $rest), $expect);)+
            }
        )*
    };
}

mod chains;
mod functions;
mod helps;
mod renames;
mod rules;
mod schedule;
mod state;
mod typing;
mod whole_specs;

/// Checks the files together and lists diagnostics one per line.
fn listing(files: &[&str]) -> String {
    let mut sources = SourceMap::new();
    for (i, text) in files.iter().enumerate() {
        sources.add(format!("f{i}.ups"), text.to_string());
    }
    let out = check_sources(&sources);
    out.diagnostics
        .iter()
        .map(|d| {
            let f = sources
                .get(d.primary.file)
                .map(|f| f.line_col(d.primary.span.start))
                .unwrap_or((0, 0));
            format!("{} {}:{} {}", d.code, f.0, f.1, d.message)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn check(spec: &str, expect: &str) {
    let got = listing(&[spec]);
    assert_eq!(
        got.trim(),
        expect.trim(),
        "\n--- got\n{got}\n--- for spec\n{spec}"
    );
}

/// The helps of the diagnostics of one file's text.
fn helps(text: &str) -> Vec<String> {
    check_text(text)
        .diagnostics
        .into_iter()
        .filter_map(|d| d.help)
        .collect()
}
