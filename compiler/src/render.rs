//! Renders diagnostics at the edge: with codespan-reporting for people, or as JSON lines for
//! editors and CI. This and the binary are the only places that know about terminals.

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term;
use lang::diagnostic::{Diagnostic, Severity};
use lang::span::SourceMap;
use serde_json::json;

fn files(sources: &SourceMap) -> SimpleFiles<String, String> {
    let mut files = SimpleFiles::new();
    for (_, f) in sources.iter() {
        files.add(f.name.clone(), f.text.clone());
    }
    files
}

fn to_codespan(d: &Diagnostic) -> cs::Diagnostic<usize> {
    let severity = match d.severity {
        Severity::Error => cs::Severity::Error,
        Severity::Warning => cs::Severity::Warning,
    };
    let mut labels = vec![cs::Label::primary(
        d.primary.file.0 as usize,
        d.primary.span.start..d.primary.span.end,
    )
    .with_message(&d.primary.message)];
    for l in &d.secondary {
        labels.push(
            cs::Label::secondary(l.file.0 as usize, l.span.start..l.span.end)
                .with_message(&l.message),
        );
    }
    let mut notes: Vec<String> = d.notes.iter().map(|n| format!("note: {n}")).collect();
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
    let files = files(sources);
    let config = term::Config::default();
    let mut out = String::new();
    for d in diagnostics {
        if let Err(e) = term::emit_to_string(&mut out, &config, &files, &to_codespan(d)) {
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
    let files = files(sources);
    let config = term::Config::default();
    let stream = term::termcolor::StandardStream::stderr(color);
    let mut lock = stream.lock();
    for d in diagnostics {
        if let Err(e) = term::emit_to_write_style(&mut lock, &config, &files, &to_codespan(d)) {
            eprintln!(
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
