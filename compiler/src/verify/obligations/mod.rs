//! The proof obligations, one module each, and what they share: the evaluator and generator
//! of the spec, one random stream per obligation (derived from the seed and the obligation's
//! name, so adding a rule does not change the cases of another), and the diagnostics found.

pub(crate) mod invariant;
pub(crate) mod reverse;
pub(crate) mod round_trip;
pub(crate) mod simulate;
mod state;
pub(crate) mod total;
pub(crate) mod wellformed;

use super::gen::{Generator, MAX_SIZE};
use super::report::{Obligation, ObligationResult, Status};
use super::rng::{hash_str, mix, Rng};
use super::VerifyOptions;
use crate::eval::{EvalError, Evaluator, Value};
use crate::model::SpecModel;
use crate::verify::wellformed::{clause_literals, Maker, Tally};
use lang::{Diagnostic, Span};
use std::cell::RefCell;
use std::collections::BTreeMap;

/// Most runs of a property while shrinking one failure.
pub(crate) const MAX_SHRINK_RUNS: u32 = 2000;
/// Steps one evaluation may take: far more than any rule needs on generated inputs.
const MAX_STEPS: u64 = 5_000_000;

/// What the obligations share.
pub(crate) struct Cx<'m> {
    pub model: &'m SpecModel,
    pub eval: Evaluator<'m>,
    pub gen: Generator<'m>,
    pub options: VerifyOptions,
    pub diagnostics: Vec<Diagnostic>,
    /// The string literals of the states' `where` clauses, which repairs draw from.
    pub clause_literals: Vec<String>,
    /// Per version: states generated and made well-formed (for U0108).
    pub tallies: RefCell<BTreeMap<u64, Tally>>,
}

impl<'m> Cx<'m> {
    pub fn new(model: &'m SpecModel, options: VerifyOptions) -> Cx<'m> {
        Cx {
            model,
            eval: Evaluator::for_model(model).with_limits(crate::eval::MAX_DEPTH, MAX_STEPS),
            gen: Generator::new(model),
            options,
            diagnostics: Vec::new(),
            clause_literals: clause_literals(model),
            tallies: RefCell::new(BTreeMap::new()),
        }
    }

    /// A generated well-formed state of version `number` (any state of its type when the
    /// version declares no `where` clauses); `None` when none could be made.
    pub fn state(&self, number: u64, rng: &mut Rng, size: u32) -> Option<Value> {
        let maker = Maker {
            eval: &self.eval,
            gen: &self.gen,
            model: self.model,
            literals: &self.clause_literals,
        };
        let mut tallies = self.tallies.borrow_mut();
        maker.state(number, rng, size, tallies.entry(number).or_default())
    }

    /// The seed of case `i` of the obligation called `name`.
    pub fn case_seed(&self, name: &str, i: u32) -> u64 {
        mix(mix(self.options.seed, hash_str(name)), u64::from(i))
    }

    /// The random stream of case `i`, and its size: small cases first, growing to
    /// [`MAX_SIZE`] over the run.
    pub fn case(&self, name: &str, i: u32) -> (Rng, u32) {
        let cases = u64::from(self.options.cases.max(1));
        let size = 1 + u64::from(i) * u64::from(MAX_SIZE) / cases;
        (
            Rng::new(self.case_seed(name, i)),
            u32::try_from(size).unwrap_or(MAX_SIZE).min(MAX_SIZE),
        )
    }

    /// Runs the cases of one obligation in order until one fails: `case(cx, i)` runs case `i`;
    /// the diagnostic of the first failing case is recorded.
    pub fn cases(
        &mut self,
        obligation: Obligation,
        name: String,
        note: Option<String>,
        mut case: impl FnMut(&Cx<'m>, u32) -> Case,
    ) -> ObligationResult {
        let cases = self.options.cases;
        let mut discarded = 0;
        for i in 0..cases {
            match case(self, i) {
                Case::Held => {}
                Case::Discarded => discarded += 1,
                Case::Failed(d) => {
                    return ObligationResult {
                        obligation,
                        name,
                        cases: i + 1,
                        discarded,
                        status: self.fail(d),
                        note,
                    };
                }
            }
        }
        ObligationResult {
            obligation,
            name,
            cases,
            discarded,
            status: Status::Passed,
            note,
        }
    }

    /// Records a failure's diagnostic; the status that points at it.
    pub fn fail(&mut self, d: Diagnostic) -> Status {
        self.diagnostics
            .push(d.help(format!("replay with `--seed {}`", self.options.seed)));
        Status::Failed {
            diagnostic: self.diagnostics.len() - 1,
        }
    }
}

/// What one case of an obligation came to.
pub(crate) enum Case {
    Held,
    /// The case proves nothing (the call was disallowed, an input was out of reach).
    Discarded,
    /// The case failed: its diagnostic, shrunk and with [`found_note`].
    Failed(Diagnostic),
}

/// A result with nothing checked.
pub(crate) fn skipped(
    obligation: Obligation,
    name: String,
    reason: impl Into<String>,
) -> ObligationResult {
    ObligationResult {
        obligation,
        name,
        cases: 0,
        discarded: 0,
        status: Status::Skipped {
            reason: reason.into(),
        },
        note: None,
    }
}

/// Where an evaluation error points: its own span, or `fallback` when it has none.
pub(crate) fn error_span(e: &EvalError, fallback: Span) -> Span {
    let s = e.span();
    if s == Span::default() {
        fallback
    } else {
        s
    }
}

/// "found by case 3 of 256, shrunk in 5 steps"
pub(crate) fn found_note(case: u32, cases: u32, steps: u32) -> String {
    format!(
        "found by case {} of {cases}, shrunk in {steps} step{}",
        case,
        if steps == 1 { "" } else { "s" }
    )
}
