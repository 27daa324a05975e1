//! Our diagnostics as LSP diagnostics: the code (`U0033`, with `upstartc explain` in mind), the
//! severity, the message followed by its notes and help, the secondary labels as related
//! information, and the primary label, notes and help again as structured `data`.

use super::analysis::Analysis;
use lang::diagnostic::{Diagnostic, Severity};
use lsp_types::{DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString, Uri};
use serde_json::json;

/// Every diagnostic of `analysis`, for `textDocument/publishDiagnostics`.
pub fn to_lsp(analysis: &Analysis, uri: &Uri) -> Vec<lsp_types::Diagnostic> {
    analysis
        .diagnostics
        .iter()
        .map(|d| one(analysis, uri, d))
        .collect()
}

fn one(a: &Analysis, uri: &Uri, d: &Diagnostic) -> lsp_types::Diagnostic {
    let mut message = d.message.clone();
    for n in &d.notes {
        message.push_str("\nnote: ");
        message.push_str(n);
    }
    if let Some(h) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(h);
    }
    let related: Vec<DiagnosticRelatedInformation> = d
        .secondary
        .iter()
        .map(|l| DiagnosticRelatedInformation {
            location: Location {
                uri: uri.clone(),
                range: a.index.range(&a.text, l.span),
            },
            message: l.message.clone(),
        })
        .collect();
    lsp_types::Diagnostic {
        range: a.index.range(&a.text, d.primary.span),
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(d.code.to_string())),
        code_description: None,
        source: Some("upstartc".to_string()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        tags: None,
        data: Some(json!({
            "code": d.code.to_string(),
            "label": d.primary.message,
            "notes": d.notes,
            "help": d.help,
        })),
    }
}
