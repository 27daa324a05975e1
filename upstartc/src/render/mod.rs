//! Renders diagnostics at the edge: with codespan-reporting for people, or as JSON lines for
//! editors and CI. This and the binary are the only places that know about terminals. Lines
//! longer than [`cut::MAX_LINE`] bytes are shown cut around the labels ([`cut`]).

mod cut;

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term;
use lang::diagnostic::{Diagnostic, Severity};
use lang::span::SourceMap;
use serde_json::json;

/// The files as shown (long lines cut around the labels of `diagnostics`).
struct Shown {
    files: SimpleFiles<String, String>,
    cuts: Vec<cut::CutText>,
}

impl Shown {
    fn new(sources: &SourceMap, diagnostics: &[Diagnostic]) -> Shown {
        let mut files = SimpleFiles::new();
        let mut cuts = Vec::new();
        for (id, f) in sources.iter() {
            let spans: Vec<std::ops::Range<usize>> = diagnostics
                .iter()
                .flat_map(|d| std::iter::once(&d.primary).chain(&d.secondary))
                .filter(|l| l.file == id)
                .map(|l| l.span.start..l.span.end)
                .collect();
            let shown = cut::CutText::new(&f.text, &spans);
            files.add(f.name.clone(), shown.text.clone());
            cuts.push(shown);
        }
        Shown { files, cuts }
    }

    /// A label's range in the shown text of its file.
    fn range(&self, l: &lang::Label) -> std::ops::Range<usize> {
        match self.cuts.get(l.file.0 as usize) {
            Some(c) => c.map(l.span.start)..c.map(l.span.end),
            None => l.span.start..l.span.end,
        }
    }

    fn on_cut_line(&self, l: &lang::Label) -> bool {
        self.cuts
            .get(l.file.0 as usize)
            .is_some_and(|c| c.on_cut_line(l.span.start))
    }
}

fn to_codespan(sources: &SourceMap, shown: &Shown, d: &Diagnostic) -> cs::Diagnostic<usize> {
    let severity = match d.severity {
        Severity::Error => cs::Severity::Error,
        Severity::Warning => cs::Severity::Warning,
    };
    let mut labels = vec![
        cs::Label::primary(d.primary.file.0 as usize, shown.range(&d.primary))
            .with_message(&d.primary.message),
    ];
    for l in &d.secondary {
        labels
            .push(cs::Label::secondary(l.file.0 as usize, shown.range(l)).with_message(&l.message));
    }
    let mut notes: Vec<String> = d.notes.iter().map(|n| format!("note: {n}")).collect();
    if shown.on_cut_line(&d.primary) {
        let (line, column) = sources
            .get(d.primary.file)
            .map_or((0, 0), |f| f.line_col(d.primary.span.start));
        notes.push(format!(
            "note: line {line} is longer than {} bytes and shown cut around the labels; \
             this one starts at column {column}",
            cut::MAX_LINE
        ));
    }
    if let Some(h) = &d.help {
        notes.push(format!("help: {h}"));
    }
    cs::Diagnostic::new(severity)
        .with_code(d.code.to_string())
        .with_message(&d.message)
        .with_labels(labels)
        .with_notes(notes)
}

/// Plain text (no colour), as the UI tests compare it.
pub fn human(sources: &SourceMap, diagnostics: &[Diagnostic]) -> String {
    let shown = Shown::new(sources, diagnostics);
    let config = term::Config::default();
    let mut out = String::new();
    for d in diagnostics {
        let cs = to_codespan(sources, &shown, d);
        if let Err(e) = term::emit_to_string(&mut out, &config, &shown.files, &cs) {
            out.push_str(&format!(
                "{}[{}]: {} (could not show source: {e})\n",
                d.severity.as_str(),
                d.code,
                d.message
            ));
        }
    }
    out
}

/// Writes coloured output to stderr when `color` allows it.
pub fn human_to_stderr(
    sources: &SourceMap,
    diagnostics: &[Diagnostic],
    color: term::termcolor::ColorChoice,
) {
    let shown = Shown::new(sources, diagnostics);
    let config = term::Config::default();
    let stream = term::termcolor::StandardStream::stderr(color);
    let mut lock = stream.lock();
    for d in diagnostics {
        let cs = to_codespan(sources, &shown, d);
        if let Err(e) = term::emit_to_write_style(&mut lock, &config, &shown.files, &cs) {
            crate::say!(
                "{}[{}]: {} (could not show source: {e})",
                d.severity.as_str(),
                d.code,
                d.message
            );
        }
    }
}

/// One JSON object per diagnostic, one per line.
pub fn json_lines(sources: &SourceMap, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        out.push_str(&json_value(sources, d).to_string());
        out.push('\n');
    }
    out
}

fn position(sources: &SourceMap, file: lang::FileId, offset: usize) -> serde_json::Value {
    let (line, column) = sources.get(file).map_or((0, 0), |f| f.line_col(offset));
    json!({ "line": line, "column": column })
}

fn label_json(sources: &SourceMap, l: &lang::Label, primary: bool) -> serde_json::Value {
    json!({
        "file": sources.get(l.file).map(|f| f.name.clone()),
        "byte_start": l.span.start,
        "byte_end": l.span.end,
        "start": position(sources, l.file, l.span.start),
        "end": position(sources, l.file, l.span.end),
        "message": l.message,
        "primary": primary,
    })
}

pub fn json_value(sources: &SourceMap, d: &Diagnostic) -> serde_json::Value {
    let mut labels = vec![label_json(sources, &d.primary, true)];
    labels.extend(d.secondary.iter().map(|l| label_json(sources, l, false)));
    json!({
        "code": d.code.to_string(),
        "severity": d.severity.as_str(),
        "message": d.message,
        "file": sources.get(d.primary.file).map(|f| f.name.clone()),
        "byte_start": d.primary.span.start,
        "byte_end": d.primary.span.end,
        "start": position(sources, d.primary.file, d.primary.span.start),
        "end": position(sources, d.primary.file, d.primary.span.end),
        "labels": labels,
        "notes": d.notes,
        "help": d.help,
    })
}
