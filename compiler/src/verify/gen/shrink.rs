//! Shrinking: the simpler candidates of a value, and the greedy search for the smallest
//! failing case among them.

use super::minimal::minimal_in;
use super::{variant_value, MAX_DEPTH};
use crate::eval::Value;
use crate::model::{FieldDef, SpecModel, Ty};
use crate::verify::resolve::{self, Named};
use std::collections::BTreeMap;

/// Most shrink candidates offered for one value.
const MAX_CANDIDATES: usize = 256;
/// Most elements of one collection tried one by one when shrinking.
const MAX_POSITIONS: usize = 16;

/// Simpler values of `ty` than `value`, simplest first: fewer map, list and set entries,
/// integers nearer 0, shorter strings, `none` for options, earlier variants; then each part
/// shrunk in place. Every candidate conforms to `ty` if `value` does.
pub fn shrink(value: &Value, ty: &Ty, model: &SpecModel) -> Vec<Value> {
    let mut out = shrink_in(value, ty, model, 0);
    out.truncate(MAX_CANDIDATES);
    out
}

fn shrink_in(value: &Value, ty: &Ty, model: &SpecModel, depth: usize) -> Vec<Value> {
    if depth > MAX_DEPTH {
        return Vec::new();
    }
    let d = depth + 1;
    let mut out = match (ty, value) {
        (Ty::Bool, Value::Bool(true)) => vec![Value::Bool(false)],
        (Ty::U64 | Ty::I64, Value::Int(n)) => shrink_int(*n).into_iter().map(Value::Int).collect(),
        (Ty::F64, Value::Float(x)) => {
            let mut out = Vec::new();
            if *x != 0.0 {
                out.push(Value::Float(0.0));
            }
            if x.is_finite() && x.trunc() != *x && x.trunc() != 0.0 {
                out.push(Value::Float(x.trunc()));
            }
            out
        }
        (Ty::Str, Value::Str(s)) => shrink_string(s).into_iter().map(Value::Str).collect(),
        (Ty::Bytes, Value::Bytes(b)) => {
            shrink_seq(b, |x| if *x == 0 { Vec::new() } else { vec![0] })
                .into_iter()
                .map(Value::Bytes)
                .collect()
        }
        (Ty::Option(t), Value::Option(Some(v))) => {
            let mut out = vec![Value::none()];
            out.extend(shrink_in(v, t, model, d).into_iter().map(Value::some));
            out
        }
        (Ty::List(t), Value::List(items)) => shrink_seq(items, |x| shrink_in(x, t, model, d))
            .into_iter()
            .map(Value::List)
            .collect(),
        (Ty::Set(t), Value::Set(items)) => {
            let list: Vec<Value> = items.iter().cloned().collect();
            let mut out: Vec<Value> = shrink_seq(&list, |x| shrink_in(x, t, model, d))
                .into_iter()
                .map(|l| Value::Set(l.into_iter().collect()))
                .collect();
            out.retain(|v| v != value);
            out
        }
        (Ty::Map(kt, vt), Value::Map(map)) => shrink_map(map, kt, vt, model, d),
        (Ty::Tuple(tys), Value::Tuple(items)) => {
            let mut out = Vec::new();
            for (i, (t, item)) in tys.iter().zip(items).enumerate() {
                for c in shrink_in(item, t, model, d) {
                    let mut next = items.clone();
                    if let Some(slot) = next.get_mut(i) {
                        *slot = c;
                    }
                    out.push(Value::Tuple(next));
                }
            }
            out
        }
        (_, Value::Record { name, fields }) => {
            shrink_fields(name, fields, resolve::record_fields(model, ty), model, d)
        }
        (
            Ty::Named(r),
            Value::Variant {
                enum_name,
                variant,
                payload,
            },
        ) => match resolve::named(model, r) {
            Some(Named::Enum(def)) => {
                let mut out = Vec::new();
                for v in def.variants.iter().take_while(|v| v.name.name != *variant) {
                    out.push(variant_value(enum_name, v, |t| minimal_in(t, model, d)));
                }
                let pty = def.variant(variant).and_then(|v| v.payload.as_ref());
                if let (Some(p), Some(t)) = (payload, pty) {
                    for c in shrink_in(p, t, model, d) {
                        out.push(Value::Variant {
                            enum_name: enum_name.clone(),
                            variant: variant.clone(),
                            payload: Some(Box::new(c)),
                        });
                    }
                }
                out
            }
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    out.truncate(MAX_CANDIDATES);
    out
}

/// 0, half way, one step nearer 0.
fn shrink_int(n: i128) -> Vec<i128> {
    let mut out = Vec::new();
    for c in [0, n / 2, n - n.signum()] {
        if c != n && !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// Empty, the first half, one character removed, one character made `a`.
fn shrink_string(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out: Vec<String> = Vec::new();
    let mut push = |c: String| {
        if c != s && !out.contains(&c) {
            out.push(c);
        }
    };
    if chars.is_empty() {
        return Vec::new();
    }
    push(String::new());
    push(chars.iter().take(chars.len() / 2).collect());
    for i in 0..chars.len().min(MAX_POSITIONS) {
        push(
            chars
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, c)| *c)
                .collect(),
        );
    }
    for i in 0..chars.len().min(MAX_POSITIONS) {
        if chars.get(i).is_some_and(|c| *c != 'a') {
            push(
                chars
                    .iter()
                    .enumerate()
                    .map(|(j, c)| if j == i { 'a' } else { *c })
                    .collect(),
            );
        }
    }
    out
}

/// Empty, the first half, one element removed, one element shrunk.
fn shrink_seq<T: Clone>(items: &[T], shrink_item: impl Fn(&T) -> Vec<T>) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    if items.is_empty() {
        return out;
    }
    out.push(Vec::new());
    if items.len() > 2 {
        out.push(items.iter().take(items.len() / 2).cloned().collect());
    }
    if items.len() > 1 {
        for i in 0..items.len().min(MAX_POSITIONS) {
            let mut next = items.to_vec();
            next.remove(i);
            out.push(next);
        }
    }
    for (i, item) in items.iter().enumerate().take(MAX_POSITIONS) {
        for c in shrink_item(item) {
            let mut next = items.to_vec();
            if let Some(slot) = next.get_mut(i) {
                *slot = c;
            }
            out.push(next);
            if out.len() >= MAX_CANDIDATES {
                return out;
            }
        }
    }
    out
}

/// Empty, one entry removed, one value shrunk, one key shrunk (unless it collides).
fn shrink_map(
    map: &BTreeMap<Value, Value>,
    kt: &Ty,
    vt: &Ty,
    model: &SpecModel,
    depth: usize,
) -> Vec<Value> {
    let mut out = Vec::new();
    if map.is_empty() {
        return out;
    }
    out.push(Value::Map(BTreeMap::new()));
    if map.len() > 1 {
        for k in map.keys().take(MAX_POSITIONS) {
            let mut next = map.clone();
            next.remove(k);
            out.push(Value::Map(next));
        }
    }
    for (k, v) in map.iter().take(MAX_POSITIONS) {
        for c in shrink_in(v, vt, model, depth) {
            let mut next = map.clone();
            next.insert(k.clone(), c);
            out.push(Value::Map(next));
        }
    }
    for (k, v) in map.iter().take(MAX_POSITIONS) {
        for c in shrink_in(k, kt, model, depth) {
            if map.contains_key(&c) {
                continue;
            }
            let mut next = map.clone();
            next.remove(k);
            next.insert(c, v.clone());
            out.push(Value::Map(next));
        }
    }
    out
}

fn shrink_fields(
    name: &str,
    fields: &BTreeMap<String, Value>,
    defs: &[FieldDef],
    model: &SpecModel,
    depth: usize,
) -> Vec<Value> {
    let mut out = Vec::new();
    for def in defs {
        let Some(v) = fields.get(&def.name.name) else {
            continue;
        };
        for c in shrink_in(v, &def.ty, model, depth) {
            let mut next = fields.clone();
            next.insert(def.name.name.clone(), c);
            out.push(Value::Record {
                name: name.to_string(),
                fields: next,
            });
            if out.len() >= MAX_CANDIDATES {
                return out;
            }
        }
    }
    out
}

/// A failing case after shrinking.
#[derive(Debug, Clone)]
pub struct Shrunk {
    /// The smallest failing case found.
    pub case: Vec<(Ty, Value)>,
    /// Candidates accepted (each one a smaller failing case).
    pub steps: u32,
    /// Times the property was run.
    pub runs: u32,
}

/// Greedy shrinking: tries the [`shrink`] candidates of each part of `case` in turn and keeps
/// the first one for which `still_fails` gives a failing case (which it may rewrite, e.g. to
/// record the answers a host actually gave), starting over after each success; stops when no
/// candidate fails or after `max_runs` runs of the property.
pub fn shrink_case<F>(
    case: Vec<(Ty, Value)>,
    model: &SpecModel,
    max_runs: u32,
    mut still_fails: F,
) -> Shrunk
where
    F: FnMut(&[(Ty, Value)]) -> Option<Vec<(Ty, Value)>>,
{
    let mut shrunk = Shrunk {
        case,
        steps: 0,
        runs: 0,
    };
    'outer: loop {
        for i in 0..shrunk.case.len() {
            let Some((ty, value)) = shrunk.case.get(i) else {
                break;
            };
            for candidate in shrink(value, ty, model) {
                if shrunk.runs >= max_runs {
                    break 'outer;
                }
                shrunk.runs += 1;
                let mut trial = shrunk.case.clone();
                if let Some(slot) = trial.get_mut(i) {
                    slot.1 = candidate;
                }
                if let Some(next) = still_fails(&trial) {
                    shrunk.case = next;
                    shrunk.steps += 1;
                    continue 'outer;
                }
            }
        }
        break;
    }
    shrunk
}

/// [`shrink_case`] for a single value: the smallest value found for which `fails` holds.
pub fn shrink_value(
    value: Value,
    ty: &Ty,
    model: &SpecModel,
    max_runs: u32,
    mut fails: impl FnMut(&Value) -> bool,
) -> Value {
    let case = vec![(ty.clone(), value)];
    let shrunk = shrink_case(case, model, max_runs, |c| {
        let v = &c.first()?.1;
        fails(v).then(|| c.to_vec())
    });
    shrunk
        .case
        .into_iter()
        .next()
        .map_or(Value::Unit, |(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::gen::minimal;
    use crate::verify::gen::tests::model;

    #[test]
    fn ints_shrink_toward_zero() {
        assert_eq!(shrink_int(10), vec![0, 5, 9]);
        assert_eq!(shrink_int(-3), vec![0, -1, -2]);
        assert_eq!(shrink_int(1), vec![0]);
        assert!(shrink_int(0).is_empty());
    }

    #[test]
    fn strings_shrink_shorter_and_toward_a() {
        assert_eq!(shrink_string("ba"), vec!["", "b", "a", "aa"]);
        assert!(shrink_string("").is_empty());
    }

    #[test]
    fn greedy_shrinking_finds_the_smallest_failure() {
        let m = model();
        let ty = Ty::List(Box::new(Ty::I64));
        let big = Value::List((0..10).map(|i| Value::Int(i * 7 - 20)).collect());
        // Fails while some element is at least 10: the smallest such list is [10].
        let fails =
            |v: &Value| matches!(v, Value::List(xs) if xs.iter().any(|x| *x >= Value::Int(10)));
        assert_eq!(
            shrink_value(big, &ty, &m, 10_000, fails),
            Value::List(vec![Value::Int(10)])
        );
    }

    #[test]
    fn variants_shrink_to_earlier_ones() {
        let m = model();
        let ty = Ty::named(1, "Shape");
        let v = Value::variant("Shape", "Box", Some(Value::List(vec![Value::Int(3)])));
        let candidates = shrink(&v, &ty, &m);
        assert_eq!(
            candidates.first(),
            Some(&Value::variant("Shape", "Dot", None))
        );
        assert_eq!(
            candidates.get(1),
            Some(&Value::variant("Shape", "Circle", Some(Value::Int(0))))
        );
        assert_eq!(minimal(&ty, &m), Value::variant("Shape", "Dot", None));
    }
}
