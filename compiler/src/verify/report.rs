//! The result of `verify`: one line per obligation checked, and the diagnostics of the
//! failures. Printable for people ([`VerifyReport::summary`]) and serializable for tools.

use lang::Diagnostic;
use serde::Serialize;
use std::fmt;

/// The kinds of proof obligation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Obligation {
    /// The transform establishes the invariant.
    Invariant,
    /// A rule returns a value of its type or disallows, for every input.
    Total,
    /// A result taken old -> new -> old comes back equal.
    RoundTrip,
    /// The reverse transform gives an old state related to the new one by the invariant.
    Reverse,
    /// A rule (or a method passed through unchanged), its `call`s answered by the models of
    /// the node's version, answers as the caller's model does and keeps the states related.
    Simulation,
    /// Sequences of calls through the rules keep answering as the models and the states
    /// related.
    Sequence,
    /// Every method model of a version that declares `where` clauses keeps its states
    /// well-formed.
    WellFormed,
}

impl Obligation {
    pub fn title(self) -> &'static str {
        match self {
            Obligation::Invariant => "transform establishes the invariant",
            Obligation::Total => "rules are total",
            Obligation::RoundTrip => "round trips are lossless",
            Obligation::Reverse => "reverse transform carries the state back",
            Obligation::Simulation => "rules simulate the method models",
            Obligation::Sequence => "sequences of calls keep the states related",
            Obligation::WellFormed => "models keep the states well-formed",
        }
    }
}

/// How one obligation came out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// Every case held.
    Passed,
    /// A case failed; `diagnostic` is its index in [`VerifyReport::diagnostics`].
    Failed { diagnostic: usize },
    /// Not checked, for this reason.
    Skipped { reason: String },
}

/// One obligation for one subject (the transform, a rule, a method).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObligationResult {
    pub obligation: Obligation,
    /// What was checked, e.g. ``past rule `Kv.get` is total``.
    pub name: String,
    /// Cases run (up to and including a failing one).
    pub cases: u32,
    /// Cases that proved nothing: the rule disallowed the call (for round trips also a rule
    /// that failed, which the totality obligation reports).
    pub discarded: u32,
    #[serde(flatten)]
    pub status: Status,
    /// A remark on what was and was not checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl ObligationResult {
    pub fn passed(&self) -> bool {
        self.status == Status::Passed
    }

    pub fn failed(&self) -> bool {
        matches!(self.status, Status::Failed { .. })
    }

    pub fn skipped(&self) -> bool {
        matches!(self.status, Status::Skipped { .. })
    }
}

/// Everything `verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// `kv 1 -> 2`
    pub spec: String,
    pub seed: u64,
    /// Cases asked for per obligation.
    pub cases: u32,
    pub checked: Vec<ObligationResult>,
    /// One per failed obligation, in the order of `checked`.
    pub diagnostics: Vec<Diagnostic>,
}

impl VerifyReport {
    /// Whether some failure is an error (round trips only warn).
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The first failure with this code.
    pub fn failure(&self, code: lang::diagnostic::Code) -> Option<&Diagnostic> {
        self.diagnostics.iter().find(|d| d.code == code)
    }

    pub fn passed(&self) -> usize {
        self.checked.iter().filter(|c| c.passed()).count()
    }

    pub fn failed(&self) -> usize {
        self.checked.iter().filter(|c| c.failed()).count()
    }

    pub fn skipped(&self) -> usize {
        self.checked.iter().filter(|c| c.skipped()).count()
    }

    /// The report as text for people: one line per obligation, then the totals.
    pub fn summary(&self) -> String {
        self.to_string()
    }

    /// The report as JSON for tools.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "verify `{}`: seed {}, {} cases per obligation",
            self.spec, self.seed, self.cases
        )?;
        let width = self
            .checked
            .iter()
            .map(|c| c.name.chars().count())
            .max()
            .unwrap_or(0);
        for c in &self.checked {
            let (word, detail) = match &c.status {
                Status::Passed => ("ok", cases_text(c)),
                Status::Failed { diagnostic } => {
                    let code = self
                        .diagnostics
                        .get(*diagnostic)
                        .map(|d| format!(" ({})", d.code))
                        .unwrap_or_default();
                    let word = if self
                        .diagnostics
                        .get(*diagnostic)
                        .is_some_and(|d| !d.is_error())
                    {
                        "warning"
                    } else {
                        "FAILED"
                    };
                    (word, format!("{}{code}", failed_text(c)))
                }
                Status::Skipped { reason } => ("skipped", reason.clone()),
            };
            write!(f, "  {word:<8} {:<width$}  {detail}", c.name)?;
            if let Some(note) = &c.note {
                write!(f, " ({note})")?;
            }
            writeln!(f)?;
        }
        write!(
            f,
            "{} passed, {} failed, {} skipped",
            self.passed(),
            self.failed(),
            self.skipped()
        )
    }
}

fn plural(n: u32, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

fn cases_text(c: &ObligationResult) -> String {
    if c.discarded > 0 {
        let why = if matches!(c.obligation, Obligation::Total | Obligation::Simulation) {
            "disallowed"
        } else {
            "discarded"
        };
        format!("{}, {} {why}", plural(c.cases, "case"), c.discarded)
    } else {
        plural(c.cases, "case")
    }
}

fn failed_text(c: &ObligationResult) -> String {
    format!("failed at case {}", c.cases)
}
