//! The cross-version path: frames from a caller of another version are decoded, each request
//! bound to its method's parameters and answered through the plugin chain (past rules for an
//! older caller, future rules for a newer one), whose calls reach the node.
//!
//! A connection is served one frame at a time: the next frame is not read before the answer
//! to this one is written, so a fast caller is held back by TCP, not by a growing buffer.

use crate::codec::{write_frame, FrameError, FrameReader};
use crate::jsonrpc::{
    batch_response, code, decode, error_response, result_response, Incoming, Request, RpcError,
};
use crate::limits::Slot;
use crate::node::{Delegate, NodeLink};
use crate::route::Route;
use crate::shim::Shared;
use crate::signatures::bind;
use runtime::plugin::CallError;
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::net::TcpStream;

/// How a decoded connection is answered.
#[derive(Debug)]
pub enum Mode {
    /// Through the chain, for a caller at `caller` version.
    Translate { caller: u64, link: Option<NodeLink> },
    /// Every request gets this error (a peer that refused our handshake).
    Refuse(RpcError),
}

/// Serves `client` (whose first bytes, already read, are `pending`) until it closes, sends an
/// oversized frame, misses a deadline (idle between frames, or a frame not finished in time),
/// loses its slot before its first answer, or the shim drains.
pub async fn serve(
    client: TcpStream,
    pending: Vec<u8>,
    mut mode: Mode,
    shared: Arc<Shared>,
    slot: Slot,
) {
    let peer = client.peer_addr().ok();
    let (read, mut write) = client.into_split();
    let config = &shared.config;
    let mut reader = FrameReader::new(read, config.framing, config.max_frame, pending);
    let mut phase = shared.phase.subscribe();
    let mut proven = false;
    loop {
        let frame = tokio::select! {
            // A drain wins over a frame already buffered: close between frames.
            biased;
            _ = phase.wait_for(|p| p.is_draining()) => {
                tracing::debug!(?peer, "draining: closing a translated connection between frames");
                break;
            }
            _ = slot.evicted(), if !proven => {
                shared.stats.evicted.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(?peer, "closing a connection not answered yet: its port is full");
                break;
            }
            frame = reader.next_within(config.idle_timeout, config.frame_timeout) => frame,
        };
        let frame = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(FrameError::TooLarge { size, max }) => {
                shared.stats.frame_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(?peer, size, max, "frame too large: answering and closing");
                let error = RpcError::new(
                    code::INVALID_REQUEST,
                    format!(
                        "invalid request: frame too large ({size} bytes or more, the limit is \
                         {max} bytes); closing the connection"
                    ),
                );
                let _ = write_frame(
                    &mut write,
                    config.framing,
                    &error_response(&Value::Null, &error),
                )
                .await;
                break;
            }
            Err(FrameError::TimedOut { idle, after }) => {
                shared.stats.timed_out.fetch_add(1, Ordering::Relaxed);
                if !idle {
                    tracing::debug!(?peer, "a frame was not finished in time: closing");
                    let error = RpcError::new(
                        code::TIMED_OUT,
                        format!(
                            "request timed out: not complete within {} ms; closing the \
                             connection",
                            after.as_millis()
                        ),
                    );
                    let _ = write_frame(
                        &mut write,
                        config.framing,
                        &error_response(&Value::Null, &error),
                    )
                    .await;
                }
                break;
            }
            Err(e) => {
                tracing::debug!(?peer, error = %e, "connection ended");
                break;
            }
        };
        // A whole frame: a real caller, whose place a newcomer does not take.
        if !proven {
            proven = true;
            slot.prove();
        }
        let answer = match &mut mode {
            Mode::Refuse(error) => refuse_frame(&frame, error),
            Mode::Translate { caller, link } => {
                let caller = *caller;
                let route = shared.route.get();
                let owned = link.take();
                let shared2 = Arc::clone(&shared);
                let joined = tokio::task::spawn_blocking(move || {
                    let mut owned = owned;
                    let out = answer_frame(&frame, caller, &route, &mut owned, &shared2);
                    (owned, out)
                })
                .await;
                match joined {
                    Ok((back, out)) => {
                        *link = back;
                        out
                    }
                    Err(e) => {
                        tracing::error!(?peer, error = %e, "a translation task failed");
                        break;
                    }
                }
            }
        };
        if let Some(answer) = answer {
            if let Err(e) = write_frame(&mut write, config.framing, &answer).await {
                tracing::debug!(?peer, error = %e, "cannot answer: connection closed");
                break;
            }
        }
    }
}

/// Answers every request of a frame with `error`.
fn refuse_frame(frame: &[u8], error: &RpcError) -> Option<Vec<u8>> {
    let one = |r: Result<Request, (Value, RpcError)>| match r {
        Ok(Request { id: Some(id), .. }) => Some(error_response(&id, error)),
        Ok(Request { id: None, .. }) => None,
        Err((id, e)) => Some(error_response(&id, &e)),
    };
    match decode(frame) {
        Err(answer) => Some(answer),
        Ok(Incoming::Single(r)) => one(r),
        Ok(Incoming::Batch(items)) => {
            let parts: Vec<Vec<u8>> = items.into_iter().filter_map(one).collect();
            batch_response(&parts)
        }
    }
}

/// Answers one frame (blocking: calls the node). `link` is (re)connected on demand and left
/// `None` when it broke.
fn answer_frame(
    frame: &[u8],
    caller: u64,
    route: &Route,
    link: &mut Option<NodeLink>,
    shared: &Shared,
) -> Option<Vec<u8>> {
    let mut one = |r: Result<Request, (Value, RpcError)>| match r {
        Ok(request) => answer_request(request, caller, route, link, shared),
        Err((id, e)) => Some(error_response(&id, &e)),
    };
    match decode(frame) {
        Err(answer) => {
            shared.stats.frame_errors.fetch_add(1, Ordering::Relaxed);
            Some(answer)
        }
        Ok(Incoming::Single(r)) => one(r),
        Ok(Incoming::Batch(items)) => {
            let parts: Vec<Vec<u8>> = items.into_iter().filter_map(&mut one).collect();
            batch_response(&parts)
        }
    }
}

/// Answers one request; `None` for a notification.
fn answer_request(
    request: Request,
    caller: u64,
    route: &Route,
    link: &mut Option<NodeLink>,
    shared: &Shared,
) -> Option<Vec<u8>> {
    let id = request.id.clone();
    let outcome = call(request, caller, route, link, shared);
    if let Err(e) = &outcome {
        tracing::debug!(caller, node = route.node_version, code = e.code, message = %e.message, "call answered with an error");
    }
    let id = id?;
    Some(match outcome {
        Ok(result) => result_response(&id, &result),
        Err(error) => error_response(&id, &error),
    })
}

fn call(
    request: Request,
    caller: u64,
    route: &Route,
    link: &mut Option<NodeLink>,
    shared: &Shared,
) -> Result<Vec<u8>, RpcError> {
    let stats = &shared.stats;
    stats.calls_translated.fetch_add(1, Ordering::Relaxed);
    if !route.serves(caller) {
        return Err(RpcError::new(
            code::VERSION_NOT_BRIDGED,
            format!(
                "version {caller} is not bridged to this node (version {}): its plugin chain \
                 knows versions {}",
                route.node_version,
                route.served_list()
            ),
        ));
    }
    let node_link = connected(link, route, shared)?;
    let Some(chain) = route
        .chain
        .as_deref()
        .filter(|_| caller != route.node_version)
    else {
        // The node's own version (the route changed since the connection began): as is.
        let params = match request.params {
            crate::jsonrpc::Params::None => Value::Array(Vec::new()),
            crate::jsonrpc::Params::ByPosition(a) => Value::Array(a),
            crate::jsonrpc::Params::ByName(o) => Value::Object(o),
        };
        return match node_link.call(&request.method, &params) {
            Ok(Ok(result)) => Ok(serde_json::to_vec(&result).unwrap_or_default()),
            Ok(Err(error)) => Err(error),
            Err(why) => {
                *link = None;
                Err(unavailable(why))
            }
        };
    };
    let resolved = route.signatures.resolve(caller, &request.method)?;
    let args = bind(resolved.method, request.params)?;
    let args = serde_json::to_vec(&args).map_err(|e| {
        RpcError::new(
            code::INTERNAL_ERROR,
            format!("cannot encode arguments: {e}"),
        )
    })?;
    let mut host = Delegate {
        link: node_link,
        route,
        service: resolved.service,
        qualify: route.signatures.services(route.node_version) > 1,
        style: shared.config.node_params,
        node_error: None,
        unavailable: None,
        broken: false,
    };
    let out = chain.call(
        caller,
        route.node_version,
        resolved.service,
        &resolved.method.name,
        &args,
        &mut host,
    );
    let (node_error, why_unavailable, broken) = (host.node_error, host.unavailable, host.broken);
    if broken {
        *link = None;
    }
    let error = match out {
        Ok(result) => return Ok(result),
        Err(error) => error,
    };
    // The node's own failure is the caller's answer, whatever the rule made of it.
    if let Some(node_error) = node_error {
        return Err(node_error);
    }
    if let Some(why) = why_unavailable {
        return Err(unavailable(why));
    }
    match error {
        CallError::Disallowed(reason) => {
            stats.disallowed.fetch_add(1, Ordering::Relaxed);
            Err(RpcError::disallowed(&reason, caller, route.node_version))
        }
        CallError::BadInput(m) => Err(RpcError::new(
            code::INVALID_PARAMS,
            format!("invalid params of `{}`: {m}", request.method),
        )),
        CallError::Internal(m) => {
            tracing::error!(caller, node = route.node_version, method = %request.method, "translation failed: {m}");
            Err(RpcError::new(
                code::INTERNAL_ERROR,
                format!("internal error translating `{}`: {m}", request.method),
            ))
        }
    }
}

/// The link to the node, connected if it was not.
fn connected<'a>(
    link: &'a mut Option<NodeLink>,
    route: &Route,
    shared: &Shared,
) -> Result<&'a mut NodeLink, RpcError> {
    if link.as_ref().is_some_and(|l| l.addr != route.node_addr) {
        // The route moved to another node (an upgrade): reconnect.
        *link = None;
    }
    if link.is_none() {
        let config = &shared.config;
        let Some(addr) = route.node_addr else {
            return Err(unavailable("the node has not started".into()));
        };
        let stream = std::net::TcpStream::connect_timeout(&addr, config.connect_timeout)
            .map_err(|e| unavailable(format!("cannot connect to the node at {addr}: {e}")))?;
        let made = NodeLink::new(
            stream,
            config.framing,
            config.max_frame,
            config.call_timeout,
        )
        .map_err(|e| unavailable(format!("cannot set up the connection to the node: {e}")))?;
        *link = Some(made);
    }
    link.as_mut()
        .ok_or_else(|| unavailable("the node has not started".into()))
}

fn unavailable(why: String) -> RpcError {
    RpcError::new(code::NODE_UNAVAILABLE, format!("node unavailable: {why}"))
}
