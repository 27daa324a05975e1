//! JSON-RPC 2.0 messages as the shim sees them: requests (single or batched) decoded from a
//! frame, and responses encoded, including the shim's own error codes.

use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::io::Write as _;

/// Error codes of JSON-RPC 2.0 and of the shim (server errors, -32000 to -32099).
pub mod code {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL_ERROR: i64 = -32603;
    /// The call cannot be simulated across the versions: `message` is the spec's reason and
    /// `data` is `{"disallowed": true, ...}`.
    pub const DISALLOWED: i64 = -32001;
    /// The node could not be reached, or did not answer in time.
    pub const NODE_UNAVAILABLE: i64 = -32002;
    /// The caller's version is not one the shim's plugin chain bridges.
    pub const VERSION_NOT_BRIDGED: i64 = -32003;
    /// The shim serves as many connections as it may on this port: try again later.
    pub const BUSY: i64 = -32004;
    /// The request did not arrive whole within the frame deadline.
    pub const TIMED_OUT: i64 = -32005;
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn with_data(mut self, data: Value) -> RpcError {
        self.data = Some(data);
        self
    }

    /// A call refused by a `disallow` rule.
    pub fn disallowed(reason: &str, caller_version: u64, node_version: u64) -> RpcError {
        RpcError::new(code::DISALLOWED, reason).with_data(json!({
            "disallowed": true,
            "caller_version": caller_version,
            "node_version": node_version,
        }))
    }

    fn to_value(&self) -> Value {
        let mut error = Map::new();
        error.insert("code".into(), Value::from(self.code));
        error.insert("message".into(), Value::from(self.message.clone()));
        if let Some(data) = &self.data {
            error.insert("data".into(), data.clone());
        }
        Value::Object(error)
    }

    /// Reads an error object a node sent.
    pub fn from_value(value: &Value) -> RpcError {
        let code = value
            .get("code")
            .and_then(Value::as_i64)
            .unwrap_or(code::INTERNAL_ERROR);
        let message = value
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("the node answered an error without a message")
            .to_string();
        RpcError {
            code,
            message,
            data: value.get("data").cloned(),
        }
    }
}

/// One decoded request. `id` is `None` for a notification (no answer is sent).
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub id: Option<Value>,
    pub method: String,
    pub params: Params,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Params {
    None,
    ByPosition(Vec<Value>),
    ByName(Map<String, Value>),
}

/// What a frame held.
#[derive(Debug)]
pub enum Incoming {
    Single(Result<Request, (Value, RpcError)>),
    /// Each element decoded on its own; an invalid one is answered with its error.
    Batch(Vec<Result<Request, (Value, RpcError)>>),
}

/// Decodes a frame. A frame that is not JSON, or an empty batch, is answered as a whole
/// (`Err`: the error response to send).
pub fn decode(frame: &[u8]) -> Result<Incoming, Vec<u8>> {
    match decode_plain(frame) {
        Some(single) => Ok(Incoming::Single(single)),
        None => decode_value(frame),
    }
}

/// [`decode`] by way of the frame's [`Value`]: every frame, valid or not.
fn decode_value(frame: &[u8]) -> Result<Incoming, Vec<u8>> {
    let value: Value = match serde_json::from_slice(frame) {
        Ok(v) => v,
        Err(e) => {
            let error = RpcError::new(code::PARSE_ERROR, format!("parse error: {e}"));
            return Err(error_response(&Value::Null, &error));
        }
    };
    match value {
        Value::Array(items) if items.is_empty() => {
            let error = RpcError::new(code::INVALID_REQUEST, "invalid request: an empty batch");
            Err(error_response(&Value::Null, &error))
        }
        Value::Array(items) => Ok(Incoming::Batch(items.into_iter().map(request).collect())),
        other => Ok(Incoming::Single(request(other))),
    }
}

/// The members of a request object, read straight into their places (no map of the object's
/// members is built): the common case of [`decode`], see [`decode_plain`].
#[derive(Deserialize)]
struct Plain<'a> {
    #[serde(default, deserialize_with = "present")]
    id: Option<Value>,
    #[serde(default, borrow)]
    jsonrpc: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "present")]
    method: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    params: Option<Value>,
}

/// A member that is there, even as `null` (`Some(Value::Null)`); `None` is left for one
/// missing.
pub(crate) fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// A frame holding one request object, decoded without building a [`Value`] of the whole
/// object and checked by [`checked`], as [`request`] checks the frame's [`Value`]. `None` for
/// anything else (a batch, invalid JSON, a duplicate member, a `jsonrpc` that is not a string):
/// [`decode`] then decodes the frame as a [`Value`].
fn decode_plain(frame: &[u8]) -> Option<Result<Request, (Value, RpcError)>> {
    let plain: Plain = one_object(frame)?;
    Some(checked(
        plain.id,
        plain.jsonrpc.as_deref(),
        plain.method,
        plain.params,
    ))
}

/// A frame that is one JSON object, read straight into `T` (the members it names; no map of
/// the object is built); `None` for anything else, or an object `T` refuses (a duplicate
/// member), which the caller then reads as a [`Value`].
pub(crate) fn one_object<'a, T: Deserialize<'a>>(frame: &'a [u8]) -> Option<T> {
    if frame.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    serde_json::from_slice(frame).ok()
}

/// Decodes one request object; on error, the id to answer with and the error.
fn request(value: Value) -> Result<Request, (Value, RpcError)> {
    let Value::Object(mut object) = value else {
        return Err(invalid(Value::Null, "a request must be a JSON object"));
    };
    let jsonrpc = object.remove("jsonrpc");
    checked(
        object.remove("id"),
        jsonrpc.as_ref().and_then(Value::as_str),
        object.remove("method"),
        object.remove("params"),
    )
}

/// A request object's members (`None`: missing) checked and made a [`Request`]; on error, the
/// id to answer with and the error.
fn checked(
    id: Option<Value>,
    jsonrpc: Option<&str>,
    method: Option<Value>,
    params: Option<Value>,
) -> Result<Request, (Value, RpcError)> {
    let answer_id = id.clone().unwrap_or(Value::Null);
    if !matches!(
        id,
        None | Some(Value::Null | Value::Number(_) | Value::String(_))
    ) {
        return Err(invalid(
            Value::Null,
            "`id` must be a number, a string or null",
        ));
    }
    if jsonrpc != Some("2.0") {
        return Err(invalid(answer_id, "`jsonrpc` must be \"2.0\""));
    }
    let method = match method {
        Some(Value::String(m)) => m,
        _ => return Err(invalid(answer_id, "`method` must be a string")),
    };
    let params = match params {
        None | Some(Value::Null) => Params::None,
        Some(Value::Array(a)) => Params::ByPosition(a),
        Some(Value::Object(o)) => Params::ByName(o),
        Some(_) => return Err(invalid(answer_id, "`params` must be an array or an object")),
    };
    Ok(Request { id, method, params })
}

/// An invalid request's error, with the id to answer it with.
fn invalid(id: Value, why: &str) -> (Value, RpcError) {
    (
        id,
        RpcError::new(code::INVALID_REQUEST, format!("invalid request: {why}")),
    )
}

/// `{"jsonrpc":"2.0","id":ID,"result":RESULT}` with `result` given as JSON bytes.
pub fn result_response(id: &Value, result: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(result.len() + 40);
    out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":");
    out.extend_from_slice(&encode(id));
    out.extend_from_slice(b",\"result\":");
    if result.is_empty() {
        out.extend_from_slice(b"null");
    } else {
        out.extend_from_slice(result);
    }
    out.push(b'}');
    out
}

/// `{"jsonrpc":"2.0","id":ID,"error":{...}}`.
pub fn error_response(id: &Value, error: &RpcError) -> Vec<u8> {
    let response = json!({"jsonrpc": "2.0", "id": id, "error": error.to_value()});
    encode(&response)
}

/// A request to the node: `params` by name or by position.
#[cfg(test)]
pub fn request_bytes(id: u64, method: &str, params: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    request_into(id, method, params, &mut out);
    out
}

/// [`request_bytes`] appended to `out`, written as it goes: the bytes `json!({"jsonrpc": "2.0",
/// "id": id, "method": method, "params": params})` encodes to (its keys sorted, as a
/// `serde_json::Map` keeps them), without building that map.
pub fn request_into(id: u64, method: &str, params: &Value, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"id\":");
    let _ = write!(out, "{id}");
    out.extend_from_slice(b",\"jsonrpc\":\"2.0\",\"method\":");
    // Writing a string or a `Value` into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *out, method);
    out.extend_from_slice(b",\"params\":");
    let _ = serde_json::to_writer(&mut *out, params);
    out.push(b'}');
}

/// Answers of a batch, joined into one array (`None` when every element was a notification).
pub fn batch_response(parts: &[Vec<u8>]) -> Option<Vec<u8>> {
    if parts.is_empty() {
        return None;
    }
    let mut out = vec![b'['];
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(part);
    }
    out.push(b']');
    Some(out)
}

fn encode(value: &Value) -> Vec<u8> {
    // Serialising a `Value` cannot fail: its map keys are strings.
    serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single(frame: &str) -> Result<Request, (Value, RpcError)> {
        match decode(frame.as_bytes()) {
            Ok(Incoming::Single(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn requests_decode() {
        let r = single(r#"{"jsonrpc":"2.0","id":7,"method":"get","params":{"key":"a"}}"#).unwrap();
        assert_eq!(r.id, Some(json!(7)));
        assert_eq!(r.method, "get");
        assert!(matches!(r.params, Params::ByName(_)));
        let r = single(r#"{"jsonrpc":"2.0","method":"put","params":["a","b"]}"#).unwrap();
        assert_eq!(r.id, None);
        assert_eq!(r.params, Params::ByPosition(vec![json!("a"), json!("b")]));
    }

    #[test]
    fn requests_decode_as_their_value_does() {
        let deep = format!("{}1{}", "[".repeat(126), "]".repeat(126));
        let deeper = format!("{}1{}", "[".repeat(127), "]".repeat(127));
        let frames = [
            r#"{"jsonrpc":"2.0","id":1,"method":"get","params":{"key":"bench-key"}}"#.to_string(),
            r#"  {"method":"get","params":["a",2,null],"jsonrpc":"2.0","id":"x"} "#.into(),
            r#"{"jsonrpc":"2.0","id":null,"method":"get"}"#.into(),
            r#"{"jsonrpc":"2.0","method":"note","params":null}"#.into(),
            r#"{"jsonrpc":"2.0","id":1.5e3,"method":"g\u00e9t\n","params":{}}"#.into(),
            r#"{"jsonrpc":"2.0","id":-0,"method":"get","params":[]}"#.into(),
            r#"{"jsonrpc":"2.0","id":18446744073709551616,"method":"get"}"#.into(),
            r#"{"jsonrpc":"2.0","id":"a\"b\\c\u0000","method":"get","extra":{"x":[1]}}"#.into(),
            r#"{"jsonrpc":"2\u002e0","id":1,"method":"get"}"#.into(),
            r#"{"\u0069d":7,"jsonrpc":"2.0","method":"get"}"#.into(),
            r#"{"jsonrpc":"2.0","id":1,"method":"g\u00e9t","params":{"k\u00e9":"\n"}}"#.into(),
            r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"get"}"#.into(),
            r#"{"jsonrpc":"2.0","id":1,"method":"get","method":"put"}"#.into(),
            r#"{"jsonrpc":"2.0","id":1,"method":"get","params":{"k":1,"k":2}}"#.into(),
            r#"{"jsonrpc":"2.0","id":[1],"method":"get"}"#.into(),
            r#"{"jsonrpc":"2.0","id":{},"method":"get"}"#.into(),
            r#"{"jsonrpc":"2.0","id":true,"method":"get"}"#.into(),
            r#"{"jsonrpc":2.0,"id":1,"method":"get"}"#.into(),
            r#"{"jsonrpc":null,"id":1,"method":"get"}"#.into(),
            r#"{"jsonrpc":"1.0","id":1,"method":"get"}"#.into(),
            r#"{"id":1,"method":"get"}"#.into(),
            r#"{"jsonrpc":"2.0","id":1,"method":5}"#.into(),
            r#"{"jsonrpc":"2.0","id":1,"method":null}"#.into(),
            r#"{"jsonrpc":"2.0","id":1}"#.into(),
            r#"{"jsonrpc":"2.0","id":1,"method":"get","params":"a"}"#.into(),
            r#"{"jsonrpc":"2.0","id":1,"method":"get","params":3}"#.into(),
            r#"{"jsonrpc":"2.0","id":1,"method":"get","params":{"key":"a"}} x"#.into(),
            r#"{"jsonrpc":"2.0","id":1,"method":"get","params":{"key":"a"}"#.into(),
            r#"{"jsonrpc":"2.0","id":1,"method":"get","params":[1e400]}"#.into(),
            format!(r#"{{"jsonrpc":"2.0","id":1,"method":"get","params":{deep}}}"#),
            format!(r#"{{"jsonrpc":"2.0","id":1,"method":"get","params":{deeper}}}"#),
            r#"[{"jsonrpc":"2.0","id":1,"method":"get"},{"id":2},3]"#.into(),
            "[]".into(),
            "42".into(),
            r#""s""#.into(),
            "{}".into(),
            "{nope".into(),
            "".into(),
        ];
        for frame in &frames {
            assert_eq!(
                format!("{:?}", decode(frame.as_bytes())),
                format!("{:?}", decode_value(frame.as_bytes())),
                "{frame}"
            );
        }
        // The common case takes the path without a map of the object.
        assert!(matches!(decode_plain(frames[0].as_bytes()), Some(Ok(_))));
    }

    #[test]
    fn bad_requests_get_their_error() {
        let (id, e) = single(r#"{"jsonrpc":"2.0","id":"x","method":5}"#).unwrap_err();
        assert_eq!(id, json!("x"));
        assert_eq!(e.code, code::INVALID_REQUEST);
        assert_eq!(e.message, "invalid request: `method` must be a string");
        let (_, e) = single(r#"{"id":1,"method":"get"}"#).unwrap_err();
        assert_eq!(e.message, "invalid request: `jsonrpc` must be \"2.0\"");
        let (_, e) = single("42").unwrap_err();
        assert_eq!(e.code, code::INVALID_REQUEST);
    }

    #[test]
    fn parse_errors_and_empty_batches_are_answered_whole() {
        let out = decode(b"{nope").unwrap_err();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["error"]["code"], json!(code::PARSE_ERROR));
        assert_eq!(v["id"], Value::Null);
        let out = decode(b"[]").unwrap_err();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["error"]["code"], json!(code::INVALID_REQUEST));
    }

    #[test]
    fn node_requests_are_the_bytes_the_json_map_encodes_to() {
        let methods = [
            "get",
            "Kv.put",
            "quote\"back\\slash",
            "tab\tnl\n\u{1}",
            "é 日本",
        ];
        let params = [
            json!([]),
            json!(["a", 1, -2.5, null, true]),
            json!({"key": "k", "value": {"z": 1, "a": [1, {"y": "\u{7f}"}]}, "ttl_ms": null}),
            json!({"b": 1e300, "a": u64::MAX, "c": i64::MIN}),
        ];
        for id in [0, 1, 42, u64::MAX] {
            for method in methods {
                for params in &params {
                    let map =
                        json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
                    let expected = serde_json::to_vec(&map).unwrap();
                    assert_eq!(
                        String::from_utf8(request_bytes(id, method, params)).unwrap(),
                        String::from_utf8(expected).unwrap()
                    );
                    let mut out = b"before".to_vec();
                    request_into(id, method, params, &mut out);
                    assert_eq!(out.get(..6), Some(&b"before"[..]));
                    assert_eq!(out.get(6..), Some(&request_bytes(id, method, params)[..]));
                }
            }
        }
    }

    #[test]
    fn responses_encode() {
        let out = result_response(&json!(1), b"{\"a\":null}");
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v, json!({"jsonrpc":"2.0","id":1,"result":{"a":null}}));
        let e = RpcError::disallowed("delete needs version 2", 2, 1);
        let v: Value = serde_json::from_slice(&error_response(&json!("k"), &e)).unwrap();
        assert_eq!(v["error"]["code"], json!(-32001));
        assert_eq!(v["error"]["message"], json!("delete needs version 2"));
        assert_eq!(v["error"]["data"]["disallowed"], json!(true));
        assert_eq!(batch_response(&[]), None);
        assert_eq!(
            batch_response(&[b"1".to_vec(), b"2".to_vec()]),
            Some(b"[1,2]".to_vec())
        );
    }
}
