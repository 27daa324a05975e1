//! Inbound connections: a listener's accept loop, and the first bytes that decide a
//! connection's path. A peer's shim opens with a handshake that gives its version; anyone else
//! speaks the listener's version. The node's own version goes the fast path (bytes copied,
//! nothing decoded); another version is decoded and translated; a protocol that is not
//! JSON-RPC (or one where the node speaks first) is copied untranslated.

use crate::config::FastPath;
use crate::handoff;
use crate::handshake::{self, Line, Sniff, Start};
use crate::node::NodeLink;
use crate::shim::{accept_each, Direction, Phase, Shared};
use crate::splice::{read_line, read_more, splice, splice_blocking, splice_requests, Cut};
use crate::translate::{self, Mode};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::OwnedSemaphorePermit;

/// Accepts on `listener` while the shim runs and has a node, within the connection limit.
pub async fn accept_loop(listener: TcpListener, version: Option<u64>, shared: Arc<Shared>) {
    accept_each(
        listener,
        shared,
        Direction::Inbound,
        move |stream, peer, shared, permit| {
            shared.stats.accepted.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%peer, ?version, "accepted");
            tokio::spawn(handle(stream, version, shared, permit));
        },
    )
    .await;
}

/// What spoke first.
enum First {
    Client(usize),
    Node,
}

async fn handle(
    client: TcpStream,
    listener_version: Option<u64>,
    shared: Arc<Shared>,
    _permit: OwnedSemaphorePermit,
) {
    let _tracked = shared.track();
    let _ = client.set_nodelay(true);
    let config = &shared.config;
    let route = shared.route.get();
    let Some(node_addr) = route.node_addr else {
        return;
    };
    // Handed to the node program when it registered for that: then the connection is its own.
    let mut client = match handoff::try_give(client, listener_version, &shared, &route).await {
        Ok(()) => return,
        Err(client) => client,
    };
    let mut node = match tokio::time::timeout(config.connect_timeout, TcpStream::connect(node_addr))
        .await
    {
        Ok(Ok(node)) => node,
        Ok(Err(e)) => {
            tracing::warn!(%node_addr, error = %e, "cannot connect to the node: closing the client");
            return;
        }
        Err(_) => {
            tracing::warn!(%node_addr, "connecting to the node timed out: closing the client");
            return;
        }
    };
    let _ = node.set_nodelay(true);

    // Whoever speaks first: the client (the usual case) or the node (a server-first protocol,
    // which the shim does not know: copied as is).
    let mut pending = Vec::new();
    let mut phase = shared.phase.subscribe();
    let first = tokio::select! {
        n = read_more(&mut client, &mut pending, handshake::MAX_LINE, None) => match n {
            Ok(n) => First::Client(n),
            Err(_) => return,
        },
        r = node.readable() => match r {
            Ok(()) => First::Node,
            Err(_) => return,
        },
        _ = phase.wait_for(|p| *p == Phase::Closing) => return,
    };
    match first {
        First::Client(0) => return,
        First::Client(_) => {}
        First::Node => {
            shared.stats.passthrough.fetch_add(1, Ordering::Relaxed);
            splice(&mut client, &mut node, &[], &[], &shared, Cut::AtClosing).await;
            return;
        }
    }

    // A handshake from a peer's shim, or an outside client's first bytes.
    let mut caller = listener_version.unwrap_or(route.node_version);
    let mut from_shim = false;
    loop {
        match handshake::starts_handshake(&pending) {
            Start::NotHandshake => break,
            Start::NeedMore => {
                match read_more(
                    &mut client,
                    &mut pending,
                    handshake::MAX_LINE,
                    Some(config.connect_timeout),
                )
                .await
                {
                    Ok(n) if n > 0 => continue,
                    _ => return,
                }
            }
            Start::Handshake => {
                let (line, rest) = match read_line(
                    &mut client,
                    pending,
                    handshake::MAX_LINE,
                    config.connect_timeout,
                )
                .await
                {
                    Ok(parts) => parts,
                    Err(why) => {
                        refuse(&mut client, &shared, &format!("bad handshake: {why}")).await;
                        return;
                    }
                };
                pending = rest;
                match accept_hello(&line, &shared) {
                    Ok(version) => {
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

    if caller == route.node_version && from_shim && pending.is_empty() {
        // A peer's shim at our version, its handshake answered: the rest is the node's.
        match handoff::give(client, &shared, &route).await {
            Ok(()) => return,
            Err(back) => client = back,
        }
    }
    if caller == route.node_version {
        shared.stats.fast_path.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(caller, from_shim, "fast path");
        match config.fast_path {
            FastPath::Threads => splice_blocking(client, node, pending, &shared).await,
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
                            Cut::AtClosing,
                        )
                        .await
                    }
                    Sniff::JsonRpc | Sniff::NeedMore => {
                        splice_requests(&mut client, &mut node, &pending, &shared).await
                    }
                }
            }
        }
        return;
    }

    // Another version: JSON-RPC is translated, anything else copied untranslated.
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
                    Cut::AtClosing,
                )
                .await;
                return;
            }
            Sniff::NeedMore => {
                match read_more(&mut client, &mut pending, handshake::MAX_LINE * 2, None).await {
                    Ok(n) if n > 0 => continue,
                    _ => return,
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
    translate::serve(client, pending, mode, Arc::clone(&shared)).await;
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
