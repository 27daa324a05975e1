//! Calls from the shim to its own node: the delegate `call`s of simulation rules (and calls a
//! same-version step of the chain passes on), over one blocking connection per client
//! connection, run on tokio's blocking pool.

use crate::codec::{read_frame_sync, write_frame_sync};
use crate::config::{Framing, ParamStyle};
use crate::jsonrpc::{request_bytes, RpcError};
use crate::route::Route;
use crate::signatures::node_params;
use serde_json::Value;
use std::io::BufReader;
use std::net::TcpStream;
use std::time::Duration;
use upstart_plugin_host::{CallError, NodeHost};

/// A blocking JSON-RPC connection to the node.
#[derive(Debug)]
pub struct NodeLink {
    /// The node this link reaches (a route swap to another node makes it stale).
    pub addr: Option<std::net::SocketAddr>,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    framing: Framing,
    max_frame: usize,
    next_id: u64,
}

impl NodeLink {
    /// Wraps a connected stream; every read waits at most `timeout`.
    pub fn new(
        stream: TcpStream,
        framing: Framing,
        max_frame: usize,
        timeout: Duration,
    ) -> std::io::Result<NodeLink> {
        stream.set_nonblocking(false)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let writer = stream.try_clone()?;
        Ok(NodeLink {
            addr: stream.peer_addr().ok(),
            reader: BufReader::new(stream),
            writer,
            framing,
            max_frame,
            next_id: 1,
        })
    }

    /// Calls `method(params)`: the node's result, or its error object; `Err` when the node
    /// could not be reached or answered something that is not a response.
    pub fn call(
        &mut self,
        method: &str,
        params: &Value,
    ) -> Result<Result<Value, RpcError>, String> {
        let id = self.next_id;
        self.next_id += 1;
        let request = request_bytes(id, method, params);
        write_frame_sync(&mut self.writer, self.framing, &request)
            .map_err(|e| format!("cannot send `{method}` to the node: {e}"))?;
        let frame = read_frame_sync(&mut self.reader, self.framing, self.max_frame)
            .map_err(|e| format!("no answer from the node to `{method}`: {e}"))?
            .ok_or_else(|| format!("the node closed the connection during `{method}`"))?;
        let mut response: Value = serde_json::from_slice(&frame)
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
}

/// The node as the plugin chain's host for one request: passes `call method(args)` on to the
/// node and remembers how the node failed, so that the caller gets the node's own error.
#[derive(Debug)]
pub struct Delegate<'a> {
    pub link: &'a mut NodeLink,
    pub route: &'a Route,
    /// The service of the request; delegate calls stay in it.
    pub service: &'a str,
    /// Whether the node is called with `Service.method` (its version has several services)
    /// rather than the bare method name.
    pub qualify: bool,
    pub style: ParamStyle,
    /// The node's error answer to a delegate call, if any.
    pub node_error: Option<RpcError>,
    /// Why the node could not be reached, if it could not.
    pub unavailable: Option<String>,
    /// Whether the link is unusable after a transport error.
    pub broken: bool,
}

impl NodeHost for Delegate<'_> {
    fn call(&mut self, method: &str, args: &[u8]) -> Result<Vec<u8>, CallError> {
        if self.broken {
            return Err(CallError::Internal(
                "the connection to the node is broken".into(),
            ));
        }
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
        let params = node_params(sig, args);
        let name = if self.qualify {
            format!("{}.{method}", self.service)
        } else {
            method.to_string()
        };
        match self.link.call(&name, &params) {
            Ok(Ok(result)) => serde_json::to_vec(&result)
                .map_err(|e| CallError::Internal(format!("cannot encode the node's answer: {e}"))),
            Ok(Err(error)) => {
                let text = format!(
                    "the node answered `{name}` with error {}: {}",
                    error.code, error.message
                );
                self.node_error = Some(error);
                Err(CallError::Internal(text))
            }
            Err(why) => {
                self.broken = true;
                self.unavailable = Some(why.clone());
                Err(CallError::Internal(why))
            }
        }
    }
}
