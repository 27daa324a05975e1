//! Obligations 5 and 6, wherever methods have models: the simulation obligations.
//!
//! A pair of related states is made as the invariant obligation makes them: a generated old
//! state and the transform's new state (kept when the invariant holds between them); for the
//! calls of old callers (past rules, methods passed through) each case also runs on a new
//! state the transform does not make but the new version's callers do (`vary`: the new state
//! varied part by part while it stays well-formed and related to the old one). Then,
//! for each past rule, on generated arguments of the old method: the rule runs on the new
//! node, its `call`s answered by the new version's models on the new state, and must answer
//! what the old model answers on the old state, and the invariant must hold between the two
//! states afterwards. Future rules the same way round (the old models answer their `call`s,
//! the new model gives the expected answer). A method unchanged in both versions passes
//! through: the node's model must answer as the caller's. A `disallow` is allowed (counted):
//! the caller's state stays as it was. The sequence obligation then runs a few generated
//! calls in a row through the subjects that passed, from a related pair (and old callers'
//! calls from a varied one), and checks the same after each step; later calls reuse earlier
//! arguments and answers (the id a `create` answered), and a write is followed half the time
//! by a read of the same callers.
//!
//! Failures are shrunk and reported on the rule: U0104 (another answer), U0105 (the states
//! are no longer related), U0106 (after a sequence), U0107 (a model fails at run time).

mod call;
mod diagnostic;
pub(crate) mod keys;
mod sequence;
mod single;
mod subject;
mod vary;

use super::Cx;
use crate::verify::report::ObligationResult;
use sequence::check_sequences;
use single::check_subject;
use subject::subjects;

pub(crate) fn check(cx: &mut Cx<'_>) -> Vec<ObligationResult> {
    let model = cx.model;
    let has_models = [&model.old, &model.new]
        .iter()
        .flat_map(|v| v.services.values())
        .flat_map(|s| &s.methods)
        .any(|m| m.model.is_some());
    if !has_models {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut passed = Vec::new();
    let mut left_out = Vec::new();
    for subject in subjects(cx, &mut out) {
        let result = check_subject(cx, &subject);
        if subject.sequences_allowed() {
            left_out.push(subject.what());
        } else if result.passed() {
            passed.push(subject);
        }
        out.push(result);
    }
    let mut sequences = check_sequences(cx, &passed);
    if !left_out.is_empty() && !sequences.skipped() {
        let note = format!("without {}: allowed", left_out.join(", "));
        sequences.note = Some(match sequences.note {
            Some(n) => format!("{n}; {note}"),
            None => note,
        });
    }
    out.push(sequences);
    out
}
