//! The wire encoding: decoding arguments and states, encoding results, delegate calls through the host.

use super::*;

/// A value as JSON, for the arguments of a delegate call.
pub fn json<T: Serialize + ?Sized>(value: &T) -> RuleResult<serde_json::Value> {
    serde_json::to_value(value)
        .map_err(|e| RuleError::Internal(format!("cannot encode a value: {e}")))
}

/// A value in the wire encoding.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> RuleResult<Vec<u8>> {
    serde_json::to_vec(value)
        .map_err(|e| RuleError::Internal(format!("cannot encode a value: {e}")))
}

/// Decodes `bytes`; `what` names the input in the error (`the old state`).
pub fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> RuleResult<T> {
    serde_json::from_slice(bytes).map_err(|e| bad(format!("{what} does not decode: {e}")))
}

/// A value of one version as the same-shaped type of another (an unchanged state).
pub fn recode<T: Serialize, U: DeserializeOwned>(value: &T) -> RuleResult<U> {
    let v = json(value)?;
    serde_json::from_value(v)
        .map_err(|e| RuleError::Internal(format!("cannot convert a value: {e}")))
}

/// Text given to an entry point (a service or method name).
pub fn utf8<'a>(bytes: &'a [u8], what: &str) -> RuleResult<&'a str> {
    std::str::from_utf8(bytes).map_err(|_| bad(format!("{what} is not UTF-8")))
}

/// The arguments of `method` (`Service.method`): a JSON array of exactly `params.len()` values.
pub fn args(bytes: &[u8], method: &str, params: &[&str]) -> RuleResult<Vec<serde_json::Value>> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| bad(format!("the arguments of `{method}` are not JSON: {e}")))?;
    let serde_json::Value::Array(items) = value else {
        return Err(bad(format!(
            "the arguments of `{method}` must be a JSON array, got {}",
            json_kind(&value)
        )));
    };
    if items.len() != params.len() {
        let n = params.len();
        let names = params
            .iter()
            .map(|p| format!("`{p}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let listed = if n == 0 {
            String::new()
        } else {
            format!(" ({names})")
        };
        return Err(bad(format!(
            "`{method}` takes {n} argument{}{listed}, got {}",
            if n == 1 { "" } else { "s" },
            items.len()
        )));
    }
    Ok(items)
}

/// Decodes the argument `param` of `method`, taken from the iterator over [`args`].
pub fn arg<T: DeserializeOwned>(
    value: Option<serde_json::Value>,
    method: &str,
    param: &str,
) -> RuleResult<T> {
    let value = value.ok_or_else(|| bad(format!("`{method}` is missing argument `{param}`")))?;
    serde_json::from_value(value).map_err(|e| {
        bad(format!(
            "argument `{param}` of `{method}` does not decode: {e}"
        ))
    })
}

pub(super) fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a bool",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The arguments of a call without parameters: the JSON array `[]`.
#[derive(Debug, Clone, Copy)]
pub struct NoArgs;

impl Serialize for NoArgs {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        s.serialize_seq(Some(0))?.end()
    }
}

/// The arguments of `method` decoded at once as a tuple (one pass over the JSON array), or
/// `None` when they do not decode: then [`args`] and [`arg`] say precisely why.
pub fn fast_args<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    serde_json::from_slice(bytes).ok()
}

/// `call method(args)`: the delegate call to the node's own object, through the host. `args`
/// serializes as a JSON array (a tuple of references, [`NoArgs`], or a slice of values); the
/// answer must decode as the method's result type.
pub fn call<A: Serialize + ?Sized, R: DeserializeOwned>(
    host: &Host,
    method: &str,
    args: &A,
) -> RuleResult<R> {
    host.call_with(method, &encode(args)?, |answer| {
        serde_json::from_slice(answer).map_err(|e| {
            bad(format!(
                "the node's answer to `call {method}` does not decode: {e}"
            ))
        })
    })
}

/// [`call`] of a method whose result is `unit`: whatever the node answers means "done".
pub fn call_unit<A: Serialize + ?Sized>(host: &Host, method: &str, args: &A) -> RuleResult<()> {
    host.call_with(method, &encode(args)?, |_| Ok(()))
}
