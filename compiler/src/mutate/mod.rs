//! `upstartc mutate`: how good `verify` is at catching wrong rules. Every rule of a spec is
//! mutated (a part replaced by a constant, an empty collection or one of its own parts, a
//! variable by another in scope, a field by a sibling of the same type, an operator flipped,
//! branches or match arms swapped, a `call` sent to another method, arguments swapped, ...),
//! each mutant that still passes `check` without errors is verified, and a mutant is killed
//! when `verify` reports a failed obligation. The kill rate says how much of the rules'
//! meaning the obligations pin down; a survivor is a gap in `verify` or a mutant that means
//! the same as the rule (or is deliberately left unchecked, like an answer marked
//! `#[allow(verify_simulation_answer)]`).
//!
//! Pure and determined by the seed: the same spec and options give the same report.

mod ops;
mod report;
mod tree;

pub use report::{rate, Coverage, MutantResult, MutationReport, RuleTally};

use crate::check::check_spec;
use crate::model::SpecModel;
use crate::verify::{verify, Obligation, Status, VerifyOptions};
use lang::ast::{print::print_expr, Expr, Spec};
use lang::diagnostic::Severity;
use lang::span::{FileId, SourceFile, Span};
use std::collections::BTreeMap;

/// How to mutate and verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MutateOptions {
    /// The seed `verify` runs every mutant with.
    pub seed: u64,
    /// Cases per obligation for each mutant.
    pub cases: u32,
}

impl Default for MutateOptions {
    fn default() -> Self {
        MutateOptions { seed: 0, cases: 64 }
    }
}

/// Why a spec cannot be mutation-tested.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MutateError {
    /// The spec has syntax or check errors.
    #[error("the spec does not check without errors")]
    Check,
    /// The spec itself fails `verify` (these obligations): mutants could not be told apart.
    #[error(
        "the spec itself fails `verify` ({}): mutants could not be told from it",
        .0.join(", ")
    )]
    Verify(Vec<String>),
}

/// Mutates every rule of the spec `text` (named `name`), checks and verifies each mutant.
pub fn mutate(
    name: &str,
    text: &str,
    options: &MutateOptions,
) -> Result<MutationReport, MutateError> {
    let file = FileId(0);
    let source = SourceFile::new(name, text);
    let parsed = lang::parse(file, text);
    if parsed.diagnostics.iter().any(|d| d.is_error()) {
        return Err(MutateError::Check);
    }
    let Some(spec) = parsed.spec else {
        return Err(MutateError::Check);
    };
    let (model, diagnostics) = check_spec(file, spec.clone());
    if diagnostics.iter().any(|d| d.is_error()) {
        return Err(MutateError::Check);
    }
    let verify_options = VerifyOptions {
        seed: options.seed,
        cases: options.cases,
    };
    let baseline = verify(&model, &verify_options);
    let failed: Vec<String> = baseline
        .checked
        .iter()
        .filter(|c| c.failed())
        .map(|c| c.name.clone())
        .collect();
    if !failed.is_empty() {
        return Err(MutateError::Verify(failed));
    }
    let base_warnings = warning_codes(&diagnostics);
    let mut report = MutationReport {
        spec: name.to_string(),
        seed: options.seed,
        cases: options.cases,
        ..MutationReport::default()
    };
    for (b, block) in model.spec.rule_blocks().enumerate() {
        let services = method_names(&model, &block.service.name);
        for (r, rule) in block.rules.iter().enumerate() {
            let label = format!(
                "{} {}.{}",
                block.kind.keyword(),
                block.service.name,
                rule.method.name
            );
            let simulation = format!(
                "{} rule `{}.{}` simulates the model",
                block.kind.keyword(),
                block.service.name,
                rule.method.name
            );
            let mut tally = RuleTally {
                rule: label.clone(),
                allow: rule.allow.iter().map(|a| a.name.clone()).collect(),
                coverage: coverage(&baseline, &simulation),
                ..RuleTally::default()
            };
            let mut seen = vec![shape(&rule.body)];
            for candidate in ops::candidates(&model, text, rule, &services) {
                let Some(mutant) = apply(&spec, b, r, &candidate) else {
                    continue;
                };
                let Some(body) = rule_body(&mutant, b, r) else {
                    continue;
                };
                let key = shape(body);
                if seen.contains(&key) {
                    tally.duplicates += 1;
                    continue;
                }
                seen.push(key);
                let (mutant_model, diagnostics) = check_spec(file, mutant);
                if diagnostics.iter().any(|d| d.is_error()) {
                    tally.ill_typed += 1;
                    continue;
                }
                let result = judge(&mutant_model, &diagnostics, &base_warnings, &verify_options);
                let (line, column) = source.line_col(candidate.span.start);
                if result.killed_by.is_empty() {
                    tally.survived += 1;
                } else {
                    tally.killed += 1;
                }
                report.mutants.push(MutantResult {
                    rule: label.clone(),
                    line,
                    column,
                    what: candidate.what,
                    killed_by: result.killed_by,
                    new_warnings: result.new_warnings,
                });
            }
            report.rules.push(tally);
        }
    }
    Ok(report)
}

/// How far the spec's own `verify` report checks the rule whose simulation obligation is
/// named `simulation`.
fn coverage(baseline: &crate::verify::VerifyReport, simulation: &str) -> Coverage {
    let Some(result) = baseline
        .checked
        .iter()
        .find(|c| c.obligation == Obligation::Simulation && c.name == simulation)
    else {
        return Coverage::NotSimulated("no method models".into());
    };
    match &result.status {
        Status::Skipped { reason } => Coverage::NotSimulated(reason.clone()),
        _ if result
            .note
            .as_deref()
            .is_some_and(|n| n.contains("answers not compared")) =>
        {
            Coverage::AnswersNotCompared
        }
        _ => Coverage::Simulated,
    }
}

/// What `check` and `verify` said of one mutant.
struct Judged {
    killed_by: Vec<String>,
    new_warnings: Vec<String>,
}

fn judge(
    model: &SpecModel,
    diagnostics: &[lang::Diagnostic],
    base_warnings: &BTreeMap<String, usize>,
    options: &VerifyOptions,
) -> Judged {
    let report = verify(model, options);
    // U0108 says the cases were few, not that an obligation failed: not a kill.
    let mut killed_by: Vec<String> = report
        .diagnostics
        .iter()
        .filter(|d| d.code != lang::diagnostic::codes::VERIFY_RARELY_WELLFORMED)
        .map(|d| d.code.to_string())
        .collect();
    killed_by.sort();
    killed_by.dedup();
    let mut new_warnings = Vec::new();
    for (code, n) in warning_codes(diagnostics) {
        if n > base_warnings.get(&code).copied().unwrap_or(0) {
            new_warnings.push(code);
        }
    }
    Judged {
        killed_by,
        new_warnings,
    }
}

fn warning_codes(diagnostics: &[lang::Diagnostic]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for d in diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
    {
        *out.entry(d.code.to_string()).or_insert(0) += 1;
    }
    out
}

/// The method names of `service` in either version: where a `call` could be sent instead.
fn method_names(model: &SpecModel, service: &str) -> Vec<String> {
    let mut names: Vec<String> = [&model.old, &model.new]
        .iter()
        .filter_map(|v| v.services.get(service))
        .flat_map(|s| s.methods.iter().map(|m| m.name.name.clone()))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The spec with one candidate applied to rule `r` of rule block `b`, renumbered.
fn apply(spec: &Spec, b: usize, r: usize, candidate: &ops::Candidate) -> Option<Spec> {
    let mut spec = spec.clone();
    let block = spec
        .items
        .iter_mut()
        .filter_map(|i| match i {
            lang::ast::Item::Rules(block) => Some(block),
            _ => None,
        })
        .nth(b)?;
    let rule = block.rules.get_mut(r)?;
    let target = tree::find_mut(&mut rule.body, candidate.target)?;
    target.kind = candidate.kind.clone();
    lang::spans::number_exprs(&mut spec);
    Some(spec)
}

fn rule_body(spec: &Spec, b: usize, r: usize) -> Option<&Expr> {
    Some(&spec.rule_blocks().nth(b)?.rules.get(r)?.body)
}

/// An expression's shape without spans: two mutants of one shape are one mutant.
fn shape(e: &Expr) -> String {
    let mut e = e.clone();
    lang::spans::map_expr(&mut e, &mut |_| Span::default());
    print_expr(&e)
}
