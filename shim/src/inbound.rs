//! Inbound connections: a listener's accept loop, and the first bytes that decide a
//! connection's path. A peer's shim opens with a handshake that gives its version; anyone else
//! speaks the listener's version. The node's own version goes the fast path (bytes copied,
//! nothing decoded); another version is decoded and translated; a protocol that is not
//! JSON-RPC (or, with `server_first`, one where the node speaks first) is copied untranslated.
//! Every connection is bounded (see `limits`): a slot of its port's pool, a deadline for its
//! first bytes and handshake, and the deadlines of the path it takes.

use crate::codec::write_frame;
use crate::config::FastPath;
use crate::context::{accept_each, Direction, Phase, Shared};
use crate::handoff::{self, Offer, SNIFF_WAIT};
use crate::handshake::{self, Line, Sniff, Start};
use crate::jsonrpc::{code, error_response, RpcError};
use crate::limits::{Pool, Slot};
use crate::node::NodeLink;
use crate::splice::{read_line, read_more, splice, splice_blocking, splice_requests, Cut};
use crate::translate::{self, Mode};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

/// How long a newcomer to a full port gets to show a peer's handshake (a shim sends it as soon
/// as it connects).
const TRIAGE_WAIT: Duration = Duration::from_secs(1);

/// Accepts on `listener` while the shim runs and has a node. Each connection takes a slot of
/// the port's pool; when every slot is held by an answered connection, the newcomer is given
/// [`TRIAGE_WAIT`] to show a peer's handshake (peers are counted apart) and is turned away
/// otherwise.
pub async fn accept_loop(listener: TcpListener, version: Option<u64>, shared: Arc<Shared>) {
    let pool = Pool::new(shared.config.max_connections);
    accept_each(
        listener,
        shared,
        Direction::Inbound,
        move |stream, peer, shared| {
            shared.stats.accepted.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%peer, ?version, "accepted");
            let (slot, triage) = match pool.admit() {
                Some(slot) => (slot, false),
                None => match shared.triage.admit() {
                    Some(slot) => (slot, true),
                    None => {
                        shared.stats.refused_busy.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                },
            };
            tokio::spawn(handle(stream, version, shared, slot, triage));
        },
    )
    .await;
}

/// What spoke first.
enum First {
    Client,
    Node,
}

/// Waits, until `deadline`, for the caller's first bytes (into `pending`). The node is not
/// connected before they come: a silent socket costs it nothing. With
/// [`ShimConfig::server_first`](crate::ShimConfig::server_first), a caller silent for
/// SNIFF_WAIT may be waiting for the node's greeting (a protocol the shim does not know:
/// copied as is), so the node is connected (into `node`; not for a newcomer in `triage`, who
/// must show a handshake) and whoever speaks first decides. `None`: the connection is over
/// (closed, timed out, its slot taken, or the shim closing).
#[allow(
    clippy::too_many_arguments,
    reason = "the state of one connection's start, shared by the two places that wait for it"
)]
async fn first_bytes(
    client: &mut TcpStream,
    pending: &mut Vec<u8>,
    node: &mut Option<TcpStream>,
    node_addr: SocketAddr,
    shared: &Shared,
    slot: &Slot,
    deadline: Instant,
    triage: bool,
) -> Option<First> {
    let mut phase = shared.phase.subscribe();
    let node_may_speak = shared.config.server_first && !triage;
    let wait = if node_may_speak {
        deadline.min(Instant::now() + SNIFF_WAIT)
    } else {
        deadline
    };
    let quick = tokio::select! {
        n = read_more(client, pending, handshake::MAX_LINE, None) => Some(n),
        _ = tokio::time::sleep_until(wait) => None,
        _ = slot.evicted() => return evicted(shared),
        _ = phase.wait_for(|p| *p == Phase::Closing) => return None,
    };
    let n = match quick {
        Some(n) => n,
        None => {
            if node_may_speak && node.is_none() {
                *node = Some(connect_node(node_addr, shared).await?);
            }
            let node_speaks = async {
                match node.as_ref() {
                    Some(n) => n.readable().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                n = read_more(client, pending, handshake::MAX_LINE, None) => n,
                r = node_speaks => return r.ok().map(|()| First::Node),
                _ = tokio::time::sleep_until(deadline) => {
                    shared.stats.timed_out.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!("no first bytes in time: closing the connection");
                    return None;
                }
                _ = slot.evicted() => return evicted(shared),
                _ = phase.wait_for(|p| *p == Phase::Closing) => return None,
            }
        }
    };
    match n {
        Ok(n) if n > 0 => Some(First::Client),
        _ => None,
    }
}

/// Connects to the node, within the connect timeout.
async fn connect_node(node_addr: SocketAddr, shared: &Shared) -> Option<TcpStream> {
    match tokio::time::timeout(shared.config.connect_timeout, TcpStream::connect(node_addr)).await {
        Ok(Ok(node)) => {
            let _ = node.set_nodelay(true);
            Some(node)
        }
        Ok(Err(e)) => {
            tracing::warn!(%node_addr, error = %e, "cannot connect to the node: closing the client");
            None
        }
        Err(_) => {
            tracing::warn!(%node_addr, "connecting to the node timed out: closing the client");
            None
        }
    }
}

/// Serves one accepted connection. `triage`: its port is full, only a peer's handshake is
/// taken.
async fn handle(
    client: TcpStream,
    listener_version: Option<u64>,
    shared: Arc<Shared>,
    mut slot: Slot,
    triage: bool,
) {
    let _tracked = shared.track();
    let _ = client.set_nodelay(true);
    let config = &shared.config;
    let route = shared.route.get();
    let Some(node_addr) = route.node_addr else {
        return;
    };
    let wait = if triage {
        TRIAGE_WAIT.min(config.first_bytes_timeout)
    } else {
        config.first_bytes_timeout
    };
    let deadline = Instant::now() + wait;
    let timed_out = |what: &str| {
        shared.stats.timed_out.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            "no {what} within {} ms: closing the connection",
            wait.as_millis()
        );
    };
    // Handed to the node program when it registered for that: then the connection is its own.
    let mut client = if triage {
        client
    } else {
        match handoff::try_give(client, listener_version, &shared, &route, &slot, deadline).await {
            Offer::Given | Offer::Gone => return,
            Offer::Kept(client) => client,
        }
    };

    let mut pending = Vec::new();
    let mut node = None;
    match first_bytes(
        &mut client,
        &mut pending,
        &mut node,
        node_addr,
        &shared,
        &slot,
        deadline,
        triage,
    )
    .await
    {
        None => return,
        Some(First::Client) => {}
        Some(First::Node) => return node_first(&mut client, node, &shared, &slot).await,
    }

    // A handshake from a peer's shim, or an outside client's first bytes.
    let mut caller = listener_version.unwrap_or(route.node_version);
    let mut from_shim = false;
    loop {
        match handshake::starts_handshake(&pending) {
            Start::NotHandshake => break,
            Start::NeedMore => {
                let left = deadline.saturating_duration_since(Instant::now());
                match read_more(&mut client, &mut pending, handshake::MAX_LINE, Some(left)).await {
                    Ok(n) if n > 0 => continue,
                    Ok(_) => return,
                    Err(_) => return timed_out("handshake"),
                }
            }
            Start::Handshake => {
                let left = deadline.saturating_duration_since(Instant::now());
                let (line, rest) =
                    match read_line(&mut client, pending, handshake::MAX_LINE, left).await {
                        Ok(parts) => parts,
                        Err(why) => {
                            refuse(&mut client, &shared, &format!("bad handshake: {why}")).await;
                            return;
                        }
                    };
                pending = rest;
                match accept_hello(&line, &shared) {
                    Ok(version) => {
                        // A peer: counted apart from clients from now on.
                        let Some(peer_slot) = shared.peers.admit() else {
                            shared.stats.refused_busy.fetch_add(1, Ordering::Relaxed);
                            let why = format!(
                                "busy: this shim serves {} connections of peers already",
                                config.peer_connections
                            );
                            refuse(&mut client, &shared, &why).await;
                            return;
                        };
                        slot = peer_slot;
                        caller = version;
                        from_shim = true;
                        let hello = handshake::hello(&config.name, route.node_version);
                        if client.write_all(hello.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                    Err(why) => {
                        refuse(&mut client, &shared, &why).await;
                        return;
                    }
                }
                break;
            }
        }
    }
    if triage && !from_shim {
        return busy(client, &pending, &shared).await;
    }

    if caller == route.node_version && from_shim && pending.is_empty() {
        // A peer's shim at our version, its handshake answered: the rest is the node's.
        match handoff::give(client, &shared, &route).await {
            Ok(()) => return,
            Err(back) => client = back,
        }
    }
    if pending.is_empty() && node.is_none() {
        // A peer's shim that said nothing after its handshake yet: its first bytes are due by
        // the deadline too, and the node is not bothered before.
        match first_bytes(
            &mut client,
            &mut pending,
            &mut node,
            node_addr,
            &shared,
            &slot,
            deadline,
            false,
        )
        .await
        {
            None => return,
            Some(First::Client) => {}
            Some(First::Node) => return node_first(&mut client, node, &shared, &slot).await,
        }
    }
    let mut node = match node {
        Some(node) => node,
        None => match connect_node(node_addr, &shared).await {
            Some(node) => node,
            None => return,
        },
    };
    if caller == route.node_version {
        shared.stats.fast_path.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(caller, from_shim, "fast path");
        match config.fast_path {
            FastPath::Threads => splice_blocking(client, node, pending, &shared, &slot).await,
            FastPath::Async => {
                // JSON-RPC (or not yet known: a peer's shim speaks the node's protocol) is
                // copied request by request, so a drain can close it between requests.
                match handshake::sniff(config.framing, &pending, config.max_frame) {
                    Sniff::Other => {
                        splice(
                            &mut client,
                            &mut node,
                            &pending,
                            &[],
                            &shared,
                            &slot,
                            Cut::AtClosing,
                        )
                        .await
                    }
                    Sniff::JsonRpc | Sniff::NeedMore => {
                        splice_requests(&mut client, &mut node, &pending, &shared, &slot).await
                    }
                }
            }
        }
        return;
    }

    // Another version: JSON-RPC is translated, anything else copied untranslated. Its first
    // bytes are due by the deadline (a peer's, after its handshake, too).
    loop {
        match handshake::sniff(config.framing, &pending, config.max_frame) {
            Sniff::JsonRpc => break,
            Sniff::Other => {
                shared.stats.passthrough.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(caller, "not JSON-RPC: copied untranslated");
                splice(
                    &mut client,
                    &mut node,
                    &pending,
                    &[],
                    &shared,
                    &slot,
                    Cut::AtClosing,
                )
                .await;
                return;
            }
            Sniff::NeedMore => {
                let left = deadline.saturating_duration_since(Instant::now());
                let more = tokio::select! {
                    n = read_more(&mut client, &mut pending, handshake::MAX_LINE * 2, Some(left)) => n,
                    _ = slot.evicted() => {
                        evicted::<()>(&shared);
                        return;
                    }
                };
                match more {
                    Ok(n) if n > 0 => continue,
                    Ok(_) => return,
                    Err(_) => return timed_out("first request"),
                }
            }
        }
    }
    shared.stats.translated.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(caller, node = route.node_version, from_shim, "translating");
    let link = node
        .into_std()
        .ok()
        .and_then(|s| NodeLink::new(s, config.framing, config.max_frame, config.call_timeout).ok());
    let mode = Mode::Translate { caller, link };
    translate::serve(client, pending, mode, Arc::clone(&shared), slot).await;
}

/// The node spoke first: a protocol the shim does not know, copied as is.
async fn node_first(client: &mut TcpStream, node: Option<TcpStream>, shared: &Shared, slot: &Slot) {
    if let Some(mut node) = node {
        shared.stats.passthrough.fetch_add(1, Ordering::Relaxed);
        splice(client, &mut node, &[], &[], shared, slot, Cut::AtClosing).await;
    }
}

fn evicted<T>(shared: &Shared) -> Option<T> {
    shared.stats.evicted.fetch_add(1, Ordering::Relaxed);
    tracing::debug!("closing a connection not answered yet: its port is full");
    None
}

/// Turns away a client that came to a full port: a JSON-RPC error when it speaks JSON-RPC,
/// then the end of the connection.
async fn busy(mut client: TcpStream, pending: &[u8], shared: &Shared) {
    shared.stats.refused_busy.fetch_add(1, Ordering::Relaxed);
    let config = &shared.config;
    tracing::debug!("port full: turning a client away");
    if handshake::sniff(config.framing, pending, config.max_frame) == Sniff::JsonRpc {
        let error = RpcError::new(
            code::BUSY,
            format!(
                "busy: this port serves {} connections already; try again later",
                config.max_connections
            ),
        );
        let answer = error_response(&serde_json::Value::Null, &error);
        let _ = tokio::time::timeout(
            config.connect_timeout,
            write_frame(&mut client, config.framing, &answer),
        )
        .await;
    }
    let _ = client.shutdown().await;
}

/// Checks a peer's greeting: our upgrade, a version we serve.
fn accept_hello(line: &[u8], shared: &Shared) -> Result<u64, String> {
    let route = shared.route.get();
    match handshake::parse_line(line)? {
        Line::Hello { name, version } => {
            if name != shared.config.name {
                return Err(format!(
                    "this shim serves upgrade `{}`, not `{name}`",
                    shared.config.name
                ));
            }
            if !route.serves(version) {
                return Err(format!(
                    "unknown version {version}: this node runs version {} of `{name}` and its \
                     plugin chain bridges versions {}",
                    route.node_version,
                    route.served_list()
                ));
            }
            Ok(version)
        }
        other => Err(format!(
            "unexpected handshake {other:?}: expected `UPSTART/1 NAME VERSION`"
        )),
    }
}

async fn refuse(client: &mut TcpStream, shared: &Shared, why: &str) {
    shared
        .stats
        .handshakes_refused
        .fetch_add(1, Ordering::Relaxed);
    tracing::warn!(peer = ?client.peer_addr().ok(), "handshake refused: {why}");
    let _ = client
        .write_all(handshake::error_line(why).as_bytes())
        .await;
    let _ = client.shutdown().await;
}
