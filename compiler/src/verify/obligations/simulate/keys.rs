//! What a generated state holds, which generated arguments are drawn from now and then: its
//! map keys, and every part of it (records, enum values, strings and numbers in fields).

use crate::eval::Value;
use crate::model::Ty;
use crate::verify::conform::conforms;
use crate::verify::gen::Scalars;
use crate::verify::obligations::Cx;
use crate::verify::rng::Rng;

/// Most keys, and most parts, [`state_keys`] collects.
const MAX_KEYS: usize = 64;
const MAX_PARTS: usize = 256;

/// The values a state holds.
#[derive(Debug, Default)]
pub(crate) struct Held {
    /// Map keys at any depth (ids, emails, the keys of a store).
    pub keys: Vec<Value>,
    /// Every other part: values of maps, record fields, payloads (a customer id in an order,
    /// an order's total).
    pub parts: Vec<Value>,
}

impl Held {
    /// Adds what another state holds (the new state of a related pair).
    pub(crate) fn extend(&mut self, other: Held) {
        self.keys.extend(other.keys);
        self.parts.extend(other.parts);
    }

    /// The strings and integers held, as keys or parts: a generated argument's own strings
    /// and integers are drawn from them now and then (an amount equal to an order's total in
    /// a payment whose currency is generated).
    pub(crate) fn scalars(&self) -> Scalars {
        Scalars::of(self.keys.iter().chain(&self.parts))
    }
}

/// What a state holds, at any depth. Generated arguments are drawn from it now and then, so
/// a call names what the state holds: a `get(id)` of an independently generated id rarely
/// finds anything, a `list_by_customer(c)` of a generated `c` rarely lists anything, and a
/// `pay(id, amount)` with a generated amount rarely matches the order's total, and a rule's
/// handling of what it finds would go unchecked.
pub(crate) fn state_keys(state: &Value) -> Held {
    let mut out = Held::default();
    let mut stack = vec![state];
    while let Some(v) = stack.pop() {
        if out.keys.len() >= MAX_KEYS && out.parts.len() >= MAX_PARTS {
            break;
        }
        if let Value::Map(m) = v {
            let room = MAX_KEYS.saturating_sub(out.keys.len());
            out.keys.extend(m.keys().take(room).cloned());
            stack.extend(m.values());
            continue;
        }
        stack.extend(v.parts());
        if v != state && out.parts.len() < MAX_PARTS {
            out.parts.push(v.clone());
        }
    }
    out
}

/// A held value of `ty`, if any: a map key half the time (when one fits), else a part.
pub(crate) fn pick_fitting(cx: &Cx<'_>, held: &Held, ty: &Ty, rng: &mut Rng) -> Option<Value> {
    let fitting = |vs: &[Value]| -> Vec<Value> {
        vs.iter()
            .filter(|k| conforms(k, ty, cx.model).is_ok())
            .cloned()
            .collect()
    };
    let keys = fitting(&held.keys);
    if !keys.is_empty() && rng.chance(1, 2) {
        return rng.pick(&keys).cloned();
    }
    let parts = fitting(&held.parts);
    rng.pick(&parts).or_else(|| rng.pick(&keys)).cloned()
}

/// An argument `name` of type `ty`: half the time a held value that fits, else a generated
/// one (under its name, its strings and integers now and then held ones).
pub(crate) fn held_or_generated(
    cx: &Cx<'_>,
    held: &Held,
    (name, ty): (&str, &Ty),
    rng: &mut Rng,
    size: u32,
) -> Value {
    let picked = if rng.chance(1, 2) {
        pick_fitting(cx, held, ty, rng)
    } else {
        None
    };
    picked.unwrap_or_else(|| {
        cx.gen
            .generate_named(Some(name), ty, rng, size, &held.scalars())
    })
}

/// A case's old state of type `state_ty`: a well-formed one when the old version has a
/// state; `None` when no well-formed state was found (the case is discarded).
pub(super) fn case_state(cx: &Cx<'_>, state_ty: &Ty, rng: &mut Rng, size: u32) -> Option<Value> {
    if cx.model.old.state.is_some() {
        cx.state(cx.model.old.number, rng, size)
    } else {
        Some(cx.gen.generate(state_ty, rng, size))
    }
}

/// What the two states of a case's pair hold: arguments are drawn from both, as a future
/// rule's caller holds the new one.
pub(super) fn pair_keys(old: &Value, new: Option<&Value>) -> Held {
    let mut held = state_keys(old);
    if let Some(new) = new {
        held.extend(state_keys(new));
    }
    held
}
