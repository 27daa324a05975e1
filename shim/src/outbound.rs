//! Outgoing peer connections of the node: accepted on an explicit peer route's port, or on the
//! port the LD_PRELOAD library redirects `connect`s to (which names the destination in a
//! first line). Either way the shim dials the peer's shim, opens with its node's version, and
//! then copies bytes: the peer's shim translates. A peer that refuses the version gets every
//! request of the node answered with an error that says why.

use crate::context::{accept_each, Direction, Lifetime, Shared};
use crate::faults::Delayed;
use crate::handoff::SNIFF_WAIT;
use crate::handshake::{self, Line};
use crate::jsonrpc::{code, RpcError};
use crate::limits::{Pool, Slot};
use crate::splice::{read_line, read_more, splice};
use crate::translate::{self, Mode};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// Accepts the node's connections to the peer at `remote`, each in a slot of the route's own
/// pool (a full pool of answered connections turns the newcomer away).
pub async fn route_loop(listener: TcpListener, remote: SocketAddr, shared: Arc<Shared>) {
    outbound_loop(listener, shared, move |stream, shared, slot| {
        tokio::spawn(carry(stream, remote, shared, slot));
    })
    .await;
}

/// Accepts the node's redirected connections from the LD_PRELOAD library.
pub async fn preload_loop(listener: TcpListener, shared: Arc<Shared>) {
    outbound_loop(listener, shared, |stream, shared, slot| {
        tokio::spawn(redirected(stream, shared, slot));
    })
    .await;
}

/// Accepts the node's connections on `listener` for as long as the shim lives, each counted
/// and given to `serve` with a slot of the port's own pool (none left: closed).
async fn outbound_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    serve: impl Fn(TcpStream, Arc<Shared>, Slot),
) {
    accept_each(
        listener,
        shared,
        Direction::Outbound,
        move |stream, _, shared, pool| {
            count_outbound(&stream, &shared);
            if let Some(slot) = admit(pool, &shared) {
                serve(stream, shared, slot);
            }
        },
    )
    .await;
}

fn admit(pool: &Arc<Pool>, shared: &Shared) -> Option<Slot> {
    let slot = pool.admit();
    if slot.is_none() {
        shared.stats.refused_busy.fetch_add(1, Ordering::Relaxed);
        tracing::debug!("outgoing port full: closing the node's connection");
    }
    slot
}

fn count_outbound(stream: &TcpStream, shared: &Shared) {
    shared.stats.outbound.fetch_add(1, Ordering::Relaxed);
    let _ = stream.set_nodelay(true);
}

/// Why a peer could not be used.
enum Dial {
    /// No connection, or no answer to the handshake (the peer is down or restarting): the node
    /// sees its connection closed.
    Unreachable(String),
    /// The peer's shim refused our version or upgrade (or answered something else): every
    /// request of the node's connection is answered with why.
    Refused(String),
}

/// Dials the peer's shim and says who we are; the stream and any bytes after its answer.
async fn dial(remote: SocketAddr, shared: &Shared) -> Result<(TcpStream, Vec<u8>), Dial> {
    let config = &shared.config;
    let version = shared.route.get().node_version;
    let mut stream =
        match tokio::time::timeout(config.connect_timeout, TcpStream::connect(remote)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                return Err(Dial::Unreachable(format!(
                    "cannot reach the peer at {remote}: {e}"
                )))
            }
            Err(_) => {
                return Err(Dial::Unreachable(format!(
                    "connecting to the peer at {remote} timed out"
                )))
            }
        };
    let _ = stream.set_nodelay(true);
    let hello = handshake::hello(&config.name, version);
    stream
        .write_all(hello.as_bytes())
        .await
        .map_err(|e| Dial::Unreachable(format!("cannot greet the peer at {remote}: {e}")))?;
    let (line, rest) = read_line(
        &mut stream,
        Vec::new(),
        handshake::MAX_LINE,
        config.connect_timeout,
    )
    .await
    .map_err(|why| {
        // Gone (restarting, say) rather than refusing: the node's connection closes and its
        // next one dials again, where a refusal would answer every later request on it too.
        Dial::Unreachable(format!(
            "the peer at {remote} did not answer the handshake: {why}"
        ))
    })?;
    match handshake::parse_line(&line) {
        Ok(Line::Hello {
            name,
            version: theirs,
        }) if name == config.name => {
            tracing::debug!(%remote, ours = version, theirs, "peer handshake done");
            Ok((stream, rest))
        }
        Ok(Line::Error(reason)) => Err(Dial::Refused(format!(
            "the peer at {remote} refused version {version}: {reason}"
        ))),
        Ok(other) => Err(Dial::Refused(format!(
            "the peer at {remote} answered {other:?} to the handshake"
        ))),
        Err(why) => Err(Dial::Refused(format!(
            "the peer at {remote} answered with no handshake: {why}"
        ))),
    }
}

/// Carries one connection of the node to `remote`. The peer is dialled once the node spoke,
/// within the first-bytes deadline (or, with `server_first`, stayed silent for SNIFF_WAIT:
/// the peer may speak first), so an idle socket on the route costs the peer nothing.
async fn carry(mut node: TcpStream, remote: SocketAddr, shared: Arc<Shared>, slot: Slot) {
    let config = &shared.config;
    if shared.faults.is_cut(remote) {
        tracing::debug!(%remote, "test fault: the route is cut, closing the node's connection");
        return;
    }
    let mut first = Vec::new();
    let silent_ok = config.limits.server_first;
    let wait = if silent_ok {
        SNIFF_WAIT.min(config.limits.first_bytes_timeout)
    } else {
        config.limits.first_bytes_timeout
    };
    tokio::select! {
        n = read_more(&mut node, &mut first, handshake::MAX_LINE, None) => match n {
            Ok(n) if n > 0 => {}
            _ => return,
        },
        _ = tokio::time::sleep(wait) => if !silent_ok {
            shared.stats.timed_out.fetch_add(1, Ordering::Relaxed);
            tracing::debug!("no first bytes from the node in time: closing its connection");
            return;
        },
        _ = slot.evicted() => {
            shared.stats.evicted.fetch_add(1, Ordering::Relaxed);
            return;
        }
    }
    match dial(remote, &shared).await {
        Ok((peer, rest)) => carry_faulty(node, peer, &first, &rest, remote, &shared, &slot).await,
        Err(Dial::Unreachable(why)) => {
            tracing::warn!(%remote, "{why}: closing the node's connection");
        }
        Err(Dial::Refused(why)) => {
            tracing::warn!(%remote, "{why}");
            refuse(node, first, why, shared, slot).await;
        }
    }
}

/// Serves one connection the LD_PRELOAD library redirected: `UPSTART/1 connect ADDR`, then
/// the node's traffic to ADDR.
async fn redirected(mut node: TcpStream, shared: Arc<Shared>, slot: Slot) {
    let wait = shared.config.limits.first_bytes_timeout;
    let (line, rest) = match read_line(&mut node, Vec::new(), handshake::MAX_LINE, wait).await {
        Ok(parts) => parts,
        Err(why) => {
            tracing::warn!("bad redirect request: {why}");
            let _ = node.write_all(handshake::error_line(&why).as_bytes()).await;
            return;
        }
    };
    let remote = match handshake::parse_line(&line) {
        Ok(Line::Connect(addr)) => addr,
        Ok(other) => {
            let why = format!("expected `UPSTART/1 connect ADDR`, got {other:?}");
            let _ = node.write_all(handshake::error_line(&why).as_bytes()).await;
            return;
        }
        Err(why) => {
            let _ = node
                .write_all(handshake::error_line(&why.to_string()).as_bytes())
                .await;
            return;
        }
    };
    if shared.faults.is_cut(remote) {
        tracing::debug!(%remote, "test fault: the route is cut, closing the node's connection");
        return;
    }
    match dial(remote, &shared).await {
        Ok((peer, from_peer)) => {
            if node.write_all(handshake::OK_LINE.as_bytes()).await.is_err() {
                return;
            }
            carry_faulty(node, peer, &rest, &from_peer, remote, &shared, &slot).await;
        }
        Err(Dial::Unreachable(why)) => {
            tracing::warn!(%remote, "{why}");
            let _ = node.write_all(handshake::error_line(&why).as_bytes()).await;
        }
        Err(Dial::Refused(why)) => {
            tracing::warn!(%remote, "{why}");
            if node.write_all(handshake::OK_LINE.as_bytes()).await.is_err() {
                return;
            }
            refuse(node, rest, why, shared, slot).await;
        }
    }
}

/// Answers every request on the node's connection (`read`: its bytes read so far) with an
/// error: the peer refused the bridge between the two versions (`why`).
async fn refuse(node: TcpStream, read: Vec<u8>, why: String, shared: Arc<Shared>, slot: Slot) {
    let error = RpcError::new(code::VERSION_NOT_BRIDGED, why);
    translate::serve(node, read, Mode::Refuse(error), shared, slot, Lifetime::Own).await;
}

/// Copies the node's connection to the peer (see [`splice`]) through the test fault hook: a
/// delay of the route holds each chunk either way, a cut closes both connections (the hook is
/// off on a production shim, see `faults`).
async fn carry_faulty(
    node: TcpStream,
    peer: TcpStream,
    to_peer: &[u8],
    to_node: &[u8],
    remote: SocketAddr,
    shared: &Shared,
    slot: &Slot,
) {
    let faults = &shared.faults;
    let mut node = Delayed::new(node, faults, remote);
    let mut peer = Delayed::new(peer, faults, remote);
    tokio::select! {
        () = splice(&mut node, &mut peer, to_peer, to_node, shared, slot, Lifetime::Own) => {}
        () = faults.cut(remote) => {
            tracing::debug!(%remote, "test fault: the route is cut, closing its connection");
        }
    }
}
