//! One analysis of a document: its text, line index, diagnostics and checked model. Pure:
//! built from text (with the incremental parser's cache), read by every request.
//!
//! The diagnostics are exactly those `upstartc check` reports for the file alone: a file with
//! syntax errors reports only those. The model is built even then, from the items that parsed,
//! so hover, definition and completion keep working while the user types.

use super::position::LineIndex;
use compiler::check::check_spec;
use compiler::model::{SpecModel, VersionEnv};
use lang::diagnostic::Diagnostic;
use lang::incremental::IncrementalParser;
use lang::span::FileId;

/// The file id of the one document an analysis is about.
pub const FILE: FileId = FileId(0);

#[derive(Debug)]
pub struct Analysis {
    pub text: String,
    pub index: LineIndex,
    /// The checked model of what parsed; `None` only without a header.
    pub model: Option<SpecModel>,
    /// What `upstartc check` reports for this file alone, in its order.
    pub diagnostics: Vec<Diagnostic>,
    /// No syntax errors: the diagnostics include the checker's.
    pub syntax_ok: bool,
}

impl Analysis {
    /// Analyzes `text`, re-parsing only what changed since `parser` last saw it.
    pub fn new(text: String, parser: &mut IncrementalParser) -> Analysis {
        let parsed = parser.parse(FILE, &text);
        let syntax_ok = !parsed.diagnostics.iter().any(Diagnostic::is_error);
        let mut diagnostics = parsed.diagnostics;
        let model = parsed.spec.map(|spec| {
            let (model, checked) = check_spec(FILE, spec);
            if syntax_ok {
                diagnostics.extend(checked);
            }
            model
        });
        diagnostics.sort_by(|a, b| {
            (a.primary.file, a.primary.span.start, a.code).cmp(&(
                b.primary.file,
                b.primary.span.start,
                b.code,
            ))
        });
        let index = LineIndex::new(&text);
        Analysis {
            text,
            index,
            model,
            diagnostics,
            syntax_ok,
        }
    }

    /// Analyzes `text` from scratch.
    pub fn of(text: &str) -> Analysis {
        Analysis::new(text.to_string(), &mut IncrementalParser::new())
    }

    /// The declarations of version `v`, if the spec bridges it.
    pub fn env(&self, v: u64) -> Option<&VersionEnv> {
        let m = self.model.as_ref()?;
        [&m.old, &m.new].into_iter().find(|e| e.number == v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use compiler::check::check_sources;
    use lang::span::SourceMap;

    #[test]
    fn diagnostics_equal_upstartc_check() {
        let mut n = 0;
        for p in upstart_test_support::all_specs() {
            let text = upstart_test_support::read(&p);
            let mut sources = SourceMap::new();
            sources.add("x.ups", text.clone());
            let want = check_sources(&sources).diagnostics;
            assert_eq!(Analysis::of(&text).diagnostics, want, "{}", p.display());
            n += 1;
        }
        assert!(n > 20);
    }

    #[test]
    fn a_model_even_with_syntax_errors() {
        let a = Analysis::of(
            "upgrade kv 1 -> 2\nversion 1 { record A { x: u64 } }\nversion 2 { record }\n",
        );
        assert!(!a.syntax_ok);
        assert!(a
            .diagnostics
            .iter()
            .all(|d| d.code == lang::diagnostic::codes::SYNTAX));
        assert!(a.env(1).is_some_and(|e| e.records.contains_key("A")));
    }
}
