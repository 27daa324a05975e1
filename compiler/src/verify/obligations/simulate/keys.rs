//! The keys a generated state holds, which generated arguments are drawn from now and then.

use crate::eval::Value;
use crate::model::Ty;
use crate::verify::conform::conforms;
use crate::verify::obligations::Cx;
use crate::verify::rng::Rng;

/// Most keys [`state_keys`] collects.
const MAX_KEYS: usize = 64;

/// The map keys of a state, at any depth (ids, emails, the keys of a store). Generated
/// arguments are drawn from them now and then, so a call names what the state holds: a
/// `get(id)` of an independently generated id rarely finds anything, and a rule's handling of
/// what it finds would go unchecked.
pub(crate) fn state_keys(state: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    let mut stack = vec![state];
    while let Some(v) = stack.pop() {
        if out.len() >= MAX_KEYS {
            break;
        }
        match v {
            Value::Map(m) => {
                for (k, x) in m {
                    out.push(k.clone());
                    stack.push(x);
                }
            }
            Value::Record { fields, .. } => stack.extend(fields.values()),
            Value::List(xs) | Value::Tuple(xs) => stack.extend(xs),
            Value::Set(xs) => stack.extend(xs),
            Value::Option(Some(x)) => stack.push(x),
            Value::Variant {
                payload: Some(x), ..
            } => stack.push(x),
            _ => {}
        }
    }
    out
}

/// One of `keys` that is a value of `ty`, if any.
pub(crate) fn pick_fitting(cx: &Cx<'_>, keys: &[Value], ty: &Ty, rng: &mut Rng) -> Option<Value> {
    let fitting: Vec<&Value> = keys
        .iter()
        .filter(|k| conforms(k, ty, cx.model).is_ok())
        .collect();
    rng.pick(&fitting).map(|v| (*v).clone())
}
