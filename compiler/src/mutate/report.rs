//! The result of `mutate`: per rule, how many mutants were made and killed, and every mutant
//! with what killed it. Printable as a table for people and serializable for tools.

use serde::Serialize;
use std::fmt;

/// How far `verify` checks a rule against the method models, on the spec itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(tag = "coverage", content = "reason", rename_all = "snake_case")]
pub enum Coverage {
    /// Its answers and the states it leaves are compared with the models.
    #[default]
    Simulated,
    /// `#[allow(verify_simulation_answer)]`: only the states it leaves are compared.
    AnswersNotCompared,
    /// The simulation obligation is skipped (why): only totality and round trips check it.
    NotSimulated(String),
}

impl fmt::Display for Coverage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Coverage::Simulated => write!(f, "simulated"),
            Coverage::AnswersNotCompared => write!(f, "answers not compared: allowed"),
            Coverage::NotSimulated(why) => write!(f, "not simulated: {why}"),
        }
    }
}

/// One rule's mutants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RuleTally {
    /// `past Kv.put`
    pub rule: String,
    /// The warnings the rule allows (`verify_simulation_answer`: its answers are not compared).
    pub allow: Vec<String>,
    /// How far `verify` checks the rule on the spec itself.
    pub coverage: Coverage,
    /// Mutants that check and that `verify` reported a failure of.
    pub killed: usize,
    /// Mutants that check and pass `verify`.
    pub survived: usize,
    /// Candidates the checker refused (not counted).
    pub ill_typed: usize,
    /// Candidates that came out the same as the rule or as an earlier mutant (not counted).
    pub duplicates: usize,
}

impl RuleTally {
    pub fn mutants(&self) -> usize {
        self.killed + self.survived
    }
}

/// One mutant that checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MutantResult {
    pub rule: String,
    /// Where the changed expression starts (one-based).
    pub line: usize,
    pub column: usize,
    /// What changed, in words.
    pub what: String,
    /// The codes of `verify`'s failures; empty: the mutant survived.
    pub killed_by: Vec<String>,
    /// Warnings `check` gives the mutant and not the spec (U0042 for a parameter left unused).
    pub new_warnings: Vec<String>,
}

impl MutantResult {
    pub fn survived(&self) -> bool {
        self.killed_by.is_empty()
    }
}

/// Everything `mutate` found on one spec.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MutationReport {
    /// The spec's file name.
    pub spec: String,
    pub seed: u64,
    pub cases: u32,
    pub rules: Vec<RuleTally>,
    pub mutants: Vec<MutantResult>,
}

impl MutationReport {
    pub fn killed(&self) -> usize {
        self.rules.iter().map(|r| r.killed).sum()
    }

    pub fn total(&self) -> usize {
        self.rules.iter().map(RuleTally::mutants).sum()
    }

    /// Killed mutants over all mutants, in percent (100 without mutants).
    pub fn kill_rate(&self) -> f64 {
        rate(self.killed(), self.total())
    }

    /// Killed and all mutants of the rules `verify` simulates with their answers compared.
    pub fn simulated(&self) -> (usize, usize) {
        self.rules
            .iter()
            .filter(|r| r.coverage == Coverage::Simulated)
            .fold((0, 0), |(k, t), r| (k + r.killed, t + r.mutants()))
    }

    /// The tally of the rule called `rule` (`past Kv.put`).
    pub fn rule(&self, rule: &str) -> Option<&RuleTally> {
        self.rules.iter().find(|r| r.rule == rule)
    }

    pub fn survivors(&self) -> impl Iterator<Item = &MutantResult> {
        self.mutants.iter().filter(|m| m.survived())
    }

    /// The report as JSON for tools (with the totals).
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.insert("killed".into(), self.killed().into());
            o.insert("total".into(), self.total().into());
            o.insert("kill_rate".into(), self.kill_rate().into());
            let (killed, total) = self.simulated();
            o.insert("simulated_killed".into(), killed.into());
            o.insert("simulated_total".into(), total.into());
        }
        v
    }
}

/// `killed` over `total` in percent; 100 when there is nothing to kill.
pub fn rate(killed: usize, total: usize) -> f64 {
    if total == 0 {
        100.0
    } else {
        killed as f64 * 100.0 / total as f64
    }
}

impl fmt::Display for MutationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "mutate `{}`: seed {}, {} cases per obligation",
            self.spec, self.seed, self.cases
        )?;
        let width = self
            .rules
            .iter()
            .map(|r| r.rule.chars().count())
            .chain(std::iter::once("simulated rules".len()))
            .max()
            .unwrap_or(0);
        writeln!(
            f,
            "  {:<width$}  {:>7}  {:>6}  {:>8}  {:>6}",
            "rule", "mutants", "killed", "survived", "rate"
        )?;
        for r in &self.rules {
            write!(
                f,
                "  {:<width$}  {:>7}  {:>6}  {:>8}  {:>5.1}%",
                r.rule,
                r.mutants(),
                r.killed,
                r.survived,
                rate(r.killed, r.mutants())
            )?;
            if r.coverage != Coverage::Simulated {
                write!(f, "  ({})", r.coverage)?;
            }
            writeln!(f)?;
        }
        write!(
            f,
            "  {:<width$}  {:>7}  {:>6}  {:>8}  {:>5.1}%",
            "total",
            self.total(),
            self.killed(),
            self.total() - self.killed(),
            self.kill_rate()
        )?;
        let (killed, total) = self.simulated();
        if total < self.total() {
            write!(
                f,
                "\n  {:<width$}  {:>7}  {:>6}  {:>8}  {:>5.1}%",
                "simulated rules",
                total,
                killed,
                total - killed,
                rate(killed, total)
            )?;
        }
        let survivors: Vec<&MutantResult> = self.survivors().collect();
        if !survivors.is_empty() {
            write!(f, "\nsurvivors:")?;
            for m in survivors {
                write!(
                    f,
                    "\n  {}:{}:{} {}: {}",
                    self.spec, m.line, m.column, m.rule, m.what
                )?;
                if !m.new_warnings.is_empty() {
                    write!(f, " (check warns: {})", m.new_warnings.join(", "))?;
                }
            }
        }
        Ok(())
    }
}
