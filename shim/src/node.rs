//! Calls from the shim to its own node: the delegate `call`s of simulation rules (and calls a
//! same-version step of the chain passes on), over one connection per client connection,
//! driven by that connection's own task (no thread of its own). A link is pipelined: calls are
//! queued, sent together, and their answers read back in order. A rule runs against a
//! [`Replay`] host: run again from the start with the answers so far, it stops at the first
//! call not answered yet and says which, so a request waits for the node without holding a
//! thread.

use crate::codec::{frame_with, write_queued, FrameError, FrameReader};
use crate::config::{Framing, ParamStyle};
use crate::jsonrpc::{one_object, present, request_into, RpcError};
use crate::route::Route;
use crate::signatures::node_params;
use serde::Deserialize;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use upstart_plugin_host::{CallError, NodeHost};

/// A JSON-RPC connection to the node, driven by the task of the client connection it serves.
#[derive(Debug)]
pub struct NodeLink {
    /// The node this link reaches (a route swap to another node makes it stale).
    pub addr: Option<SocketAddr>,
    reader: FrameReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    framing: Framing,
    next_id: u64,
    /// Framed calls queued and not sent yet (or not all taken by the socket).
    outgoing: Vec<u8>,
    /// How long the node may take to answer (counted from when the link began waiting).
    timeout: Duration,
}

impl NodeLink {
    /// Wraps a connected stream; the node answers each call within `timeout`.
    pub fn new(
        stream: TcpStream,
        framing: Framing,
        max_frame: usize,
        timeout: Duration,
    ) -> std::io::Result<NodeLink> {
        stream.set_nodelay(true)?;
        let addr = stream.peer_addr().ok();
        let (read, writer) = stream.into_split();
        Ok(NodeLink {
            addr,
            reader: FrameReader::new(read, framing, max_frame, Vec::new()),
            writer,
            framing,
            next_id: 1,
            outgoing: Vec::new(),
            timeout,
        })
    }

    /// Connects to the node at `addr` within `connect_timeout`.
    pub async fn connect(
        addr: SocketAddr,
        connect_timeout: Duration,
        framing: Framing,
        max_frame: usize,
        timeout: Duration,
    ) -> std::io::Result<NodeLink> {
        let stream = tokio::time::timeout(connect_timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        NodeLink::new(stream, framing, max_frame, timeout)
    }

    /// Queues `method(params)` to go with the next [`NodeLink::send`]; its request id.
    pub fn queue(&mut self, method: &str, params: &Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        frame_with(self.framing, &mut self.outgoing, |out| {
            request_into(id, method, params, out);
        });
        id
    }

    /// Sends what of the queued calls the socket takes now, without waiting; what it does not
    /// take waits for [`NodeLink::writable`].
    pub fn send(&mut self) -> std::io::Result<()> {
        write_queued(&self.writer, &mut self.outgoing)
    }

    /// Queued calls the socket did not take yet.
    pub fn sending(&self) -> bool {
        !self.outgoing.is_empty()
    }

    /// The node's next answer if it is already read (taking it does not wait).
    pub fn buffered(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        self.reader.buffered()
    }

    /// Waits until the socket may take more of the queued calls (when some wait) or, with a
    /// `deadline`, for the node's next answer until then. Cancel-safe: bytes read stay in the
    /// link.
    pub async fn event(&mut self, deadline: Option<tokio::time::Instant>) -> LinkEvent {
        let timeout = self.timeout;
        let sending = self.sending();
        let (reader, writer) = (&mut self.reader, &self.writer);
        tokio::select! {
            ready = writer.writable(), if sending => LinkEvent::Writable(ready),
            frame = async {
                match deadline {
                    Some(deadline) => reader.next_until(deadline, timeout, timeout).await,
                    None => std::future::pending().await,
                }
            } => LinkEvent::Answer(frame),
        }
    }
}

/// What [`NodeLink::event`] saw.
#[derive(Debug)]
pub enum LinkEvent {
    /// The socket takes more of the queued calls (or failed).
    Writable(std::io::Result<()>),
    /// The node's next answer, or why none came (`None`: the node closed the connection).
    Answer(Result<Option<Vec<u8>>, FrameError>),
}

/// The node's answer (`frame`, or why there is none) to call `id` of `method`, the oldest call
/// not answered yet (the node answers a connection's requests in order).
pub fn answer_of(
    frame: Result<Option<Vec<u8>>, FrameError>,
    id: u64,
    method: &str,
) -> Result<Result<Value, RpcError>, String> {
    let frame = match frame {
        Ok(Some(frame)) => frame,
        Ok(None) => return Err(format!("the node closed the connection during `{method}`")),
        Err(FrameError::TimedOut { after, .. }) => {
            return Err(format!(
                "no answer from the node to `{method}` within {} ms",
                after.as_millis()
            ))
        }
        Err(e) => return Err(format!("no answer from the node to `{method}`: {e}")),
    };
    // One object without a duplicate member is read straight into `Response`; anything else
    // as a `Value` (the same members; the last of duplicates).
    let response = match one_object::<Response>(&frame) {
        Some(response) => response,
        None => {
            let value: Value = serde_json::from_slice(&frame)
                .map_err(|e| format!("the node's answer to `{method}` is not JSON: {e}"))?;
            match value {
                Value::Object(mut members) => Response {
                    id: members.remove("id"),
                    result: members.remove("result"),
                    error: members.remove("error"),
                },
                _ => Response::default(),
            }
        }
    };
    if response.id.as_ref().and_then(Value::as_u64) != Some(id) {
        return Err(format!(
            "the node answered `{method}` with another request's id"
        ));
    }
    if let Some(error) = &response.error {
        return Ok(Err(RpcError::from_value(error)));
    }
    match response.result {
        Some(result) => Ok(Ok(result)),
        None => Err(format!(
            "the node's answer to `{method}` has neither `result` nor `error`"
        )),
    }
}

/// The members of a node's answer the shim reads (`Some(Value::Null)`: there, as `null`).
#[derive(Debug, Default, Deserialize)]
struct Response {
    #[serde(default, deserialize_with = "present")]
    id: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    result: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    error: Option<Value>,
}

/// A call a request's rule needs answered before it can go on.
#[derive(Debug, Clone, PartialEq)]
pub struct Wanted {
    /// The node's method (`Service.method` when the node has several services).
    pub name: String,
    pub params: Value,
    /// Every rule running makes at most one call: the request makes no other after this one.
    pub last: bool,
}

/// The node's answer to one delegate call of a request: the method it answered, and its
/// result or error object.
pub type Answer = (String, Result<Value, RpcError>);

/// The node as the plugin chain's host for one run of a request's rules: the calls already
/// answered (`answers`, in order) are answered again from there; the first call beyond them is
/// recorded as [`Replay::wanted`] and fails the run, which is then run again with its answer.
/// Rules are deterministic, so every run makes the same calls in the same order. Remembers how
/// the node failed, so that the caller gets the node's own error.
#[derive(Debug)]
pub struct Replay<'a> {
    pub route: &'a Route,
    /// The service of the request; delegate calls stay in it.
    pub service: &'a str,
    /// Whether the node is called with `Service.method` (its version has several services)
    /// rather than the bare method name.
    pub qualify: bool,
    pub style: ParamStyle,
    pub answers: &'a [Answer],
    /// Calls made so far in this run.
    pub made: usize,
    /// The call this run stopped at.
    pub wanted: Option<Wanted>,
    /// The node's error answer to a delegate call, if any.
    pub node_error: Option<RpcError>,
}

impl Replay<'_> {
    /// What the node is asked for `call method(args)`: its method name and parameters.
    fn node_call(&self, method: &str, args: &[u8]) -> Result<(String, Value), CallError> {
        let args: Vec<Value> = serde_json::from_slice(args).map_err(|e| {
            CallError::Internal(format!(
                "the arguments of `call {method}` are not a JSON array: {e}"
            ))
        })?;
        let sig = match self.style {
            ParamStyle::ByName => {
                self.route
                    .signatures
                    .method(self.route.node_version, self.service, method)
            }
            ParamStyle::ByPosition => None,
        };
        let name = if self.qualify {
            format!("{}.{method}", self.service)
        } else {
            method.to_string()
        };
        Ok((name, node_params(sig, args)))
    }
}

/// What a [`Replay`] answers a call beyond its answers with (the run stops there).
pub const WAITING: &str = "waiting for the node's answer";

impl NodeHost for Replay<'_> {
    fn call(&mut self, method: &str, args: &[u8]) -> Result<Vec<u8>, CallError> {
        self.call_last(method, args, false)
    }

    fn call_last(&mut self, method: &str, args: &[u8], last: bool) -> Result<Vec<u8>, CallError> {
        if self.wanted.is_some() {
            return Err(CallError::Internal(WAITING.into()));
        }
        let index = self.made;
        self.made += 1;
        let Some((answered, answer)) = self.answers.get(index) else {
            let (name, params) = self.node_call(method, args)?;
            self.wanted = Some(Wanted { name, params, last });
            return Err(CallError::Internal(WAITING.into()));
        };
        let name = if self.qualify {
            format!("{}.{method}", self.service)
        } else {
            method.to_string()
        };
        if *answered != name {
            return Err(CallError::Internal(format!(
                "a rule called `{name}` where it called `{answered}` before: rules must make \
                 the same calls for the same answers"
            )));
        }
        match answer {
            Ok(result) => serde_json::to_vec(result)
                .map_err(|e| CallError::Internal(format!("cannot encode the node's answer: {e}"))),
            Err(error) => {
                let text = format!(
                    "the node answered `{name}` with error {}: {}",
                    error.code, error.message
                );
                self.node_error = Some(error.clone());
                Err(CallError::Internal(text))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use serde_json::json;

    fn replay<'a>(route: &'a Route, answers: &'a [Answer]) -> Replay<'a> {
        Replay {
            route,
            service: "Kv",
            qualify: false,
            style: ParamStyle::ByPosition,
            answers,
            made: 0,
            wanted: None,
            node_error: None,
        }
    }

    /// `answer_of` as it was, reading the whole answer as a `Value`.
    fn answer_of_value(
        frame: &[u8],
        id: u64,
        method: &str,
    ) -> Result<Result<Value, RpcError>, String> {
        let mut response: Value = serde_json::from_slice(frame)
            .map_err(|e| format!("the node's answer to `{method}` is not JSON: {e}"))?;
        if response.get("id").and_then(Value::as_u64) != Some(id) {
            return Err(format!(
                "the node answered `{method}` with another request's id"
            ));
        }
        if let Some(error) = response.get("error") {
            return Ok(Err(RpcError::from_value(error)));
        }
        match response.get_mut("result") {
            Some(result) => Ok(Ok(result.take())),
            None => Err(format!(
                "the node's answer to `{method}` has neither `result` nor `error`"
            )),
        }
    }

    #[test]
    fn node_answers_read_as_their_value_does() {
        let frames = [
            r#"{"jsonrpc":"2.0","id":3,"result":{"value":"x","version":2}}"#,
            r#" {"result":[1,2.5,null,"\u00e9"],"id":3,"jsonrpc":"2.0","extra":{}} "#,
            r#"{"jsonrpc":"2.0","id":3,"result":null}"#,
            r#"{"jsonrpc":"2.0","id":3,"error":{"code":-32000,"message":"no such key","data":[1]}}"#,
            r#"{"jsonrpc":"2.0","id":3,"error":null,"result":1}"#,
            r#"{"jsonrpc":"2.0","id":3,"error":{"message":7}}"#,
            r#"{"jsonrpc":"2.0","id":3}"#,
            r#"{"jsonrpc":"2.0","id":4,"result":1}"#,
            r#"{"jsonrpc":"2.0","id":"3","result":1}"#,
            r#"{"jsonrpc":"2.0","id":3.0,"result":1}"#,
            r#"{"jsonrpc":"2.0","id":null,"result":1}"#,
            r#"{"jsonrpc":"2.0","result":1}"#,
            r#"{"jsonrpc":"2.0","id":3,"result":1,"result":2}"#,
            r#"{"jsonrpc":"2.0","id":4,"id":3,"result":1}"#,
            r#"{"\u0069d":3,"result":{"b":1,"a":{"b":1,"b":2}}}"#,
            r#"{"jsonrpc":"2.0","id":3,"result":1} x"#,
            r#"{"jsonrpc":"2.0","id":3,"result":"#,
            r#"[3,1,null]"#,
            r#"3"#,
            "",
        ];
        for frame in frames {
            let got = answer_of(Ok(Some(frame.as_bytes().to_vec())), 3, "get");
            assert_eq!(got, answer_of_value(frame.as_bytes(), 3, "get"), "{frame}");
        }
        assert!(one_object::<Response>(frames[0].as_bytes()).is_some());
    }

    #[test]
    fn a_run_stops_at_the_first_call_not_answered_and_says_which() {
        let route = Route::new(None, 2, None);
        let mut host = replay(&route, &[]);
        let e = host.call_last("get", br#"["a"]"#, true).unwrap_err();
        assert_eq!(e, CallError::Internal(WAITING.into()));
        assert_eq!(
            host.wanted,
            Some(Wanted {
                name: "get".into(),
                params: json!(["a"]),
                last: true
            })
        );
        // Whatever the rule does next is not sent: it waits for that answer.
        assert!(host.call_last("put", b"[]", true).is_err());
        assert_eq!(host.wanted.as_ref().unwrap().name, "get");
    }

    #[test]
    fn answers_so_far_are_replayed_in_order() {
        let route = Route::new(None, 2, None);
        let answers = [("get".to_string(), Ok(json!({"value": "x"})))];
        let mut host = replay(&route, &answers);
        assert_eq!(
            host.call_last("get", br#"["a"]"#, false).unwrap(),
            br#"{"value":"x"}"#
        );
        assert!(host.call_last("get", br#"["b"]"#, false).is_err());
        assert_eq!(
            host.wanted,
            Some(Wanted {
                name: "get".into(),
                params: json!(["b"]),
                last: false
            })
        );
    }

    #[test]
    fn a_node_error_is_kept_and_a_changed_call_is_refused() {
        let route = Route::new(None, 2, None);
        let error = RpcError::new(-32000, "no such key".to_string());
        let answers = [("get".to_string(), Err(error.clone()))];
        let mut host = replay(&route, &answers);
        assert!(host.call_last("get", br#"["a"]"#, true).is_err());
        assert_eq!(host.node_error, Some(error));
        assert_eq!(host.wanted, None);
        let mut host = replay(&route, &answers);
        let e = host.call_last("put", br#"["a"]"#, true).unwrap_err();
        assert!(
            matches!(&e, CallError::Internal(m) if m.contains("called `put` where it called `get`")),
            "{e:?}"
        );
    }
}
