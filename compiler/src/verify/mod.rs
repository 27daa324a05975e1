//! `upstartc verify`: the thesis' proof obligations of an upgrade spec, checked by property
//! testing on generated values with the reference evaluator.
//!
//! 1. the transform establishes the invariant (and runs, and gives a new state of the right
//!    type) on generated old states;
//! 2. every past and future rule is total: on generated arguments and generated answers to its
//!    `call`s it returns a value of its method's type or disallows, never fails at run time;
//! 3. a result taken old -> new -> old through a future and a past rule comes back equal,
//!    where the types drop no field;
//! 4. wherever methods have models (`obligations::simulate`): each rule, its `call`s answered
//!    by the node's models, answers as the caller's model and keeps the states related by the
//!    invariant, one call and sequences of calls.
//!
//! 5. wherever a version's state declares `where` clauses (`wellformed`): only well-formed
//!    states are generated, and the transform, every model and every rule keep them so.
//!
//! A failure is shrunk to a small counterexample and reported as a diagnostic (U0100 to
//! U0109). Everything is determined by the seed: the same seed gives the same report.

mod conform;
mod gen;
mod host;
mod literals;
mod obligations;
mod report;
pub(crate) mod resolve;
mod rng;
pub(crate) mod wellformed;

pub use conform::conforms;
pub use gen::{
    generate, minimal, shrink, shrink_case, shrink_value, Generator, Scalars, Shrunk, MAX_SIZE,
};
pub use literals::Literals;
pub use report::{Obligation, ObligationResult, Status, VerifyReport};
pub use rng::Rng;

use crate::model::SpecModel;

/// Cases per obligation when none are asked for.
pub const DEFAULT_CASES: u32 = 256;

/// How to verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Determines every generated value: the same seed replays the same cases.
    pub seed: u64,
    /// Cases per obligation (each rule, the transform, each round trip).
    pub cases: u32,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            seed: 0,
            cases: DEFAULT_CASES,
        }
    }
}

/// Checks the proof obligations of a checked spec. Give it a model whose check had no errors:
/// on a broken spec the obligations that cannot be stated are skipped.
pub fn verify(model: &SpecModel, options: &VerifyOptions) -> VerifyReport {
    let mut cx = obligations::Cx::new(model, *options);
    let mut checked = vec![obligations::invariant::check(&mut cx)];
    checked.extend(obligations::reverse::check(&mut cx));
    checked.extend(obligations::total::check(&mut cx));
    checked.extend(obligations::round_trip::check(&mut cx));
    checked.extend(obligations::simulate::check(&mut cx));
    checked.extend(obligations::wellformed::check(&mut cx));
    obligations::wellformed::rarely_wellformed(&mut cx);
    let spec = format!(
        "{} {} -> {}",
        model.spec.name.name, model.spec.from.value, model.spec.to.value
    );
    VerifyReport {
        spec,
        seed: options.seed,
        cases: options.cases,
        checked,
        diagnostics: cx.diagnostics,
    }
}
