//! Related pairs beyond the transform's image. The transform gives one new state per old
//! state, but once new nodes take writes, callers of the new version make new states the
//! transform never makes (an order in another currency, a postal code): a past rule must
//! answer old callers on those too. A pair `(old, transform(old))` is varied here by a walk
//! through the states related to `old`: one part of the new state at a time is generated
//! again (a field, a map entry's value, an option, an enum value with the new version's
//! variants, a map with an entry added or removed), and the step is kept when the new state
//! is still well-formed in its version and the invariant still holds between the two states.
//! Generic over the spec's types: nothing here knows any spec.
//!
//! Only the invariant says which pairs are related, so a spec without an invariant is not
//! varied (its pairs stay the transform's).

use crate::eval::Value;
use crate::model::Ty;
use crate::verify::gen::Scalars;
use crate::verify::obligations::simulate::call::related_pair;
use crate::verify::obligations::Cx;
use crate::verify::resolve;
use crate::verify::rng::Rng;
use crate::verify::wellformed::broken_clause;

/// Salt of the random stream a case's varied pair and its arguments are drawn from.
const VARIED_SALT: u64 = 0x7661_7269_6564;
/// Steps tried in one walk; each evaluates the invariant once.
const STEPS: u32 = 12;
/// How much likelier a part of the map entry the last kept step changed is to be chosen
/// (a second part of one order changes with the first: its currency, then its amount).
const NEAR: u64 = 16;

/// One step of a path into a value.
#[derive(Clone, PartialEq)]
enum Step {
    Field(String),
    Entry(Value),
    Index(usize),
    Some,
    Payload,
}

/// A part of a value: where it is and its type.
struct Site {
    path: Vec<Step>,
    ty: Ty,
}

/// Whether `new` is related to `old`: well-formed in the new version and the invariant holds.
pub(super) fn related(cx: &Cx<'_>, old: &Value, new: &Value) -> bool {
    old_well_formed(cx, old) && related_to_well_formed(cx, old, new)
}

/// Whether `old` is well-formed in the old version.
fn old_well_formed(cx: &Cx<'_>, old: &Value) -> bool {
    broken_clause(&cx.eval, cx.model, cx.model.old.number, old).is_none()
}

/// [`related`] for an `old` known to be well-formed: a walk checks its old state once, not
/// at every step.
fn related_to_well_formed(cx: &Cx<'_>, old: &Value, new: &Value) -> bool {
    let model = cx.model;
    let Some(inv) = model.spec.invariants().next() else {
        return false;
    };
    broken_clause(&cx.eval, model, model.new.number, new).is_none()
        && matches!(cx.eval.eval_invariant(inv, old, new), Ok(true))
}

/// A new state related to `old` other than `new` (the transform's), found by a short walk
/// from `new`; `None` when no step kept the states related (or the spec has no invariant).
fn vary(cx: &Cx<'_>, old: &Value, new: &Value, rng: &mut Rng, size: u32) -> Option<Value> {
    let model = cx.model;
    model.spec.invariants().next()?;
    model.new.state.as_ref()?;
    // No step can relate a new state to an old one that is not well-formed.
    if !old_well_formed(cx, old) {
        return None;
    }
    let ty = Ty::State(model.new.number);
    let mut current = new.clone();
    let mut changed = false;
    // The map entry the last kept step changed, if any.
    let mut near: Vec<Step> = Vec::new();
    for _ in 0..STEPS {
        let mut chooser = Chooser {
            cx,
            rng: &mut *rng,
            near: &near,
            total: 0,
            chosen: None,
        };
        chooser.visit(&current, &ty, &mut Vec::new());
        let site = chooser.chosen?;
        let mut trial = current.clone();
        let Some(part) = at_mut(&mut trial, &site.path) else {
            continue;
        };
        edit(cx, part, (name_of(&site.path), &site.ty), rng, size);
        if trial != current && related_to_well_formed(cx, old, &trial) {
            current = trial;
            changed = true;
            near = entry_of(&site.path);
        }
    }
    changed.then_some(current)
}

/// A case's pair of states, as the case generators take it: the old state, the transform's
/// new state (or `None`), and a varied new state (or `None`).
pub(super) type Pair<'a> = (&'a Value, Option<&'a Value>, Option<Value>);

/// The attempts of one case from the old state `state`: one made by `make` from the
/// transform's pair, and, when `varied_too` and a walk finds a varied pair, one from that
/// pair, drawn from a stream of its own (salted with [`VARIED_SALT`]) so the first stays as
/// it was.
pub(super) fn attempts<T>(
    cx: &Cx<'_>,
    state: &Value,
    varied_too: bool,
    rng: &mut Rng,
    size: u32,
    mut make: impl FnMut(Pair<'_>, &mut Rng) -> T,
) -> Vec<T> {
    let transformed = related_pair(cx, state).map(|(_, new)| new);
    let mut vrng = rng.fork(VARIED_SALT);
    let mut attempts = vec![make((state, transformed.as_ref(), None), rng)];
    let varied = match &transformed {
        Some(new) if varied_too => vary(cx, state, new, &mut vrng, size),
        _ => None,
    };
    if let Some(varied) = varied {
        attempts.push(make((state, None, Some(varied)), &mut vrng));
    }
    attempts
}

/// The name of the field at the end of `path` (through options): the comparisons of that
/// name guide what is generated there.
fn name_of(path: &[Step]) -> Option<&str> {
    path.iter()
        .rev()
        .find(|s| !matches!(s, Step::Some))
        .and_then(|s| match s {
            Step::Field(f) => Some(f.as_str()),
            _ => None,
        })
}

/// `path` up to its last map entry (empty when it crosses none).
fn entry_of(path: &[Step]) -> Vec<Step> {
    let end = path
        .iter()
        .rposition(|s| matches!(s, Step::Entry(_)))
        .map_or(0, |i| i + 1);
    path.iter().take(end).cloned().collect()
}

/// Chooses one part of a value at random (weighted reservoir sampling over every part, so a
/// large state is covered whole): parts under `near` weigh [`NEAR`], others 1.
struct Chooser<'a, 'c, 'm> {
    cx: &'a Cx<'m>,
    rng: &'c mut Rng,
    near: &'a [Step],
    total: u64,
    chosen: Option<Site>,
}

impl Chooser<'_, '_, '_> {
    fn visit(&mut self, v: &Value, ty: &Ty, path: &mut Vec<Step>) {
        let weight = if !self.near.is_empty() && path.starts_with(self.near) {
            NEAR
        } else {
            1
        };
        self.total += weight;
        if self.rng.below(self.total) < weight {
            self.chosen = Some(Site {
                path: path.clone(),
                ty: ty.clone(),
            });
        }
        let model = self.cx.model;
        let mut inner = |me: &mut Self, step: Step, v: &Value, ty: &Ty| {
            path.push(step);
            me.visit(v, ty, path);
            path.pop();
        };
        match (ty, v) {
            (Ty::Option(t), Value::Option(Some(x))) => inner(self, Step::Some, x, t),
            (Ty::List(t), Value::List(xs)) => {
                for (i, x) in xs.iter().enumerate() {
                    inner(self, Step::Index(i), x, t);
                }
            }
            (Ty::Tuple(ts), Value::Tuple(xs)) => {
                for (i, (t, x)) in ts.iter().zip(xs).enumerate() {
                    inner(self, Step::Index(i), x, t);
                }
            }
            (Ty::Map(_, vt), Value::Map(m)) => {
                for (k, x) in m {
                    inner(self, Step::Entry(k.clone()), x, vt);
                }
            }
            (_, Value::Record { fields, .. }) => {
                for f in resolve::record_fields(model, ty) {
                    if let Some(x) = fields.get(&f.name.name) {
                        inner(self, Step::Field(f.name.name.clone()), x, &f.ty);
                    }
                }
            }
            (
                _,
                Value::Variant {
                    variant,
                    payload: Some(p),
                    ..
                },
            ) => {
                if let Some(t) = resolve::payload_ty(model, ty, variant) {
                    inner(self, Step::Payload, p, t);
                }
            }
            _ => {}
        }
    }
}

/// The part of `v` at `path`.
fn at_mut<'v>(v: &'v mut Value, path: &[Step]) -> Option<&'v mut Value> {
    let Some((first, rest)) = path.split_first() else {
        return Some(v);
    };
    let next = match (first, v) {
        (Step::Field(f), Value::Record { fields, .. }) => fields.get_mut(f)?,
        (Step::Entry(k), Value::Map(m)) => m.get_mut(k)?,
        (Step::Index(i), Value::List(xs) | Value::Tuple(xs)) => xs.get_mut(*i)?,
        (Step::Some, Value::Option(Some(x))) => x.as_mut(),
        (
            Step::Payload,
            Value::Variant {
                payload: Some(p), ..
            },
        ) => p.as_mut(),
        _ => return None,
    };
    at_mut(next, rest)
}

/// Changes `v`, a value of `ty`: a map gains an entry (its value generated, or a copy of one
/// of its values, to be varied by later steps) or loses one; anything else is generated
/// again (the generator draws strings and numbers from the spec's literals, those the spec
/// compares the part's name with first, and enum values from all of their type's variants).
fn edit(cx: &Cx<'_>, v: &mut Value, (name, ty): (Option<&str>, &Ty), rng: &mut Rng, size: u32) {
    if let (Ty::Map(kt, vt), Value::Map(m)) = (ty, &mut *v) {
        if !m.is_empty() && rng.chance(1, 4) {
            let keys: Vec<Value> = m.keys().cloned().collect();
            if let Some(k) = rng.pick(&keys) {
                m.remove(k);
            }
            return;
        }
        let key = cx.gen.generate(kt, rng, size);
        let values: Vec<Value> = m.values().cloned().collect();
        let value = match rng.pick(&values) {
            Some(x) if rng.chance(1, 2) => x.clone(),
            _ => cx.gen.generate(vt, rng, size),
        };
        m.insert(key, value);
        return;
    }
    *v = cx
        .gen
        .generate_named(name, ty, rng, size, &Scalars::default());
}
