//! Inbound connections: a listener's accept loop, and the first bytes that decide a
//! connection's path. A peer's shim opens with a handshake that gives its version; anyone else
//! speaks the listener's version. The node's own version goes the fast path (bytes copied,
//! nothing decoded); another version is decoded and translated; a protocol that is not
//! JSON-RPC (or, with `server_first`, one where the node speaks first) is copied untranslated.
//! Every connection is bounded (see `limits`): a slot of its port's pool, a deadline for its
//! first bytes and handshake, and the deadlines of the path it takes. While the shim drains, a
//! peer's shim is served by the node's program still running, and anyone else waits unread
//! for the next program (see [`await_turn`]).

use crate::codec::write_frame;
use crate::config::FastPath;
use crate::context::{accept_each, Direction, Lifetime, Phase, Shared, Tracked};
use crate::handoff::{self, Offer, SNIFF_WAIT};
use crate::handshake::{self, Line, Sniff, Start};
use crate::jsonrpc::{code, error_response, RpcError};
use crate::limits::Slot;
use crate::node::NodeLink;
use crate::route::Route;
use crate::splice::{read_line, read_more, splice, splice_blocking, splice_requests};
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

/// Accepts on `listener` while the shim accepts (see [`Phase::accepts`]) and has a node. Each
/// connection takes a slot of
/// the port's pool; when every slot is held by an answered connection, the newcomer is given
/// [`TRIAGE_WAIT`] to show a peer's handshake (peers are counted apart) and is turned away
/// otherwise.
pub async fn accept_loop(listener: TcpListener, version: Option<u64>, shared: Arc<Shared>) {
    accept_each(
        listener,
        shared,
        Direction::Inbound,
        move |stream, peer, shared, pool| {
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

/// Serves one accepted connection once its turn came. `triage`: its port is full, only a
/// peer's handshake is taken.
async fn handle(
    client: TcpStream,
    listener_version: Option<u64>,
    shared: Arc<Shared>,
    slot: Slot,
    triage: bool,
) {
    let _ = client.set_nodelay(true);
    let Some(peer) = await_turn(&client, &shared, &slot).await else {
        return;
    };
    let mut tracked = shared.track();
    if peer {
        tracked.as_peer();
    }
    let Some(conn) = Conn::new(client, listener_version, shared, slot, triage, tracked) else {
        return;
    };
    let _ = steps(conn).await;
}

/// How long a connection whose first bytes are a part of a peer's greeting waits before it is
/// looked at again, while the shim drains.
const LOOK_AGAIN: Duration = Duration::from_millis(5);

/// Waits, reading nothing, until a connection may begin its course: at once while the shim
/// runs. While it drains (its grace over or not), a peer's shim (its first bytes, peeked, start a
/// handshake) begins at once and is served by the node's program, which runs until the drain is
/// over and may be finishing a write that waits for this very peer (nodes upgrading in one
/// batch replicate to each other); anyone else waits until the shim serves again, from the next
/// program, as in the listen backlog. Once the program stopped, everyone waits. `Some(true)`:
/// a peer's shim let through by a drain (served as a peer's from its first byte: a drain's
/// cut of clients does not apply to it); `None`: the connection is over (closed, its slot
/// taken, or the shim stopped).
async fn await_turn(client: &TcpStream, shared: &Shared, slot: &Slot) -> Option<bool> {
    let mut phase = shared.phase.subscribe();
    // Whether its first bytes start a peer's handshake, once some came.
    let mut peer = None;
    loop {
        let now = *phase.borrow_and_update();
        match now {
            Phase::Running => return Some(false),
            Phase::Stopped => return None,
            _ if now.accepts() && peer == Some(true) => return Some(true),
            _ => {}
        }
        let look = peer.is_none() && now.accepts();
        tokio::select! {
            changed = phase.changed() => changed.ok()?,
            () = slot.evicted() => {
                shared.stats.evicted.fetch_add(1, Ordering::Relaxed);
                tracing::debug!("closing a connection waiting for the drain's end: its port is full");
                return None;
            }
            first = peeks_handshake(client), if look => peer = Some(first?),
        }
    }
}

/// Whether the connection's first bytes, peeked and left in place, start a peer's handshake;
/// `None`: it closed first.
async fn peeks_handshake(client: &TcpStream) -> Option<bool> {
    loop {
        match handoff::peek_start(client).await? {
            Start::Handshake => return Some(true),
            Start::NotHandshake => return Some(false),
            // A part of a greeting: the rest is on its way.
            Start::NeedMore => tokio::time::sleep(LOOK_AGAIN).await,
        }
    }
}

/// The course of one connection, a step at a time. Each step returns `None` once the
/// connection's course is over: closed, timed out, refused, handed off, or served to its end.
async fn steps(conn: Conn) -> Option<()> {
    let mut conn = conn.offer_to_program().await?;
    conn.await_first_bytes(conn.triage).await?;
    conn.read_handshake().await?;
    if conn.triage && !conn.from_shim {
        return conn.turn_away().await;
    }
    let mut conn = conn.hand_off_peer().await?;
    conn.await_peer_first_bytes().await?;
    let node = conn.connect().await?;
    if conn.caller == conn.route.node_version {
        return conn.fast_path(node).await;
    }
    conn.translate(node).await
}

/// One inbound connection between its accept and the path it takes: what each step of
/// [`steps`] reads and leaves for the next.
struct Conn {
    client: TcpStream,
    shared: Arc<Shared>,
    /// The route when the connection came (a swap applies to the connections after it).
    route: Arc<Route>,
    node_addr: SocketAddr,
    listener_version: Option<u64>,
    /// Its slot: of the port's pool, of triage, or of the peers' once its handshake is read.
    slot: Slot,
    /// Its port is full: only a peer's handshake is taken.
    triage: bool,
    /// How long its first bytes and handshake may take, and by when.
    wait: Duration,
    deadline: Instant,
    /// Bytes read from the caller, not passed on yet.
    pending: Vec<u8>,
    /// The node, when connected before the caller spoke (with `server_first`).
    node: Option<TcpStream>,
    /// The caller's version: the port's (or the node's), or the one a peer's handshake gave.
    caller: u64,
    /// Whether the caller is a peer's shim, its handshake answered.
    from_shim: bool,
    /// Counts it for the drain (a client) or for the program's stop (a peer).
    tracked: Tracked,
}

impl Conn {
    /// `None` when the shim has no node to send to (yet).
    fn new(
        client: TcpStream,
        listener_version: Option<u64>,
        shared: Arc<Shared>,
        slot: Slot,
        triage: bool,
        tracked: Tracked,
    ) -> Option<Conn> {
        let route = shared.route.get();
        let node_addr = route.node_addr?;
        let wait = if triage {
            TRIAGE_WAIT.min(shared.config.limits.first_bytes_timeout)
        } else {
            shared.config.limits.first_bytes_timeout
        };
        Some(Conn {
            client,
            caller: listener_version.unwrap_or(route.node_version),
            shared,
            route,
            node_addr,
            listener_version,
            slot,
            triage,
            wait,
            deadline: Instant::now() + wait,
            pending: Vec::new(),
            node: None,
            from_shim: false,
            tracked,
        })
    }

    /// Until when the connection is served: a peer's shim's until the program stops, anyone
    /// else's until the drain.
    fn life(&self) -> Lifetime {
        if self.tracked.is_peer() {
            Lifetime::Peer
        } else {
            Lifetime::Client
        }
    }

    /// Hands the connection to the node program when it registered for that (then the
    /// connection is its own); a newcomer in triage stays.
    async fn offer_to_program(self) -> Option<Conn> {
        if self.triage {
            return Some(self);
        }
        let Conn {
            client,
            listener_version,
            deadline,
            ..
        } = self;
        let offer = handoff::try_give(
            client,
            listener_version,
            &self.shared,
            &self.route,
            &self.slot,
            deadline,
        )
        .await;
        match offer {
            Offer::Given | Offer::Gone => None,
            Offer::Kept(client) => Some(Conn { client, ..self }),
        }
    }

    /// Waits for the caller's first bytes (see [`Conn::first_bytes`]); when the node spoke
    /// first, copies the connection as is.
    async fn await_first_bytes(&mut self, triage: bool) -> Option<()> {
        match self.first_bytes(triage).await? {
            First::Client => Some(()),
            First::Node => {
                self.node_first().await;
                None
            }
        }
    }

    /// Reads a peer shim's handshake when the first bytes start one, and answers it: the
    /// caller is then the peer at the version it gave, counted among the peers. Anyone else is
    /// an outside client at the port's version.
    async fn read_handshake(&mut self) -> Option<()> {
        loop {
            let left = self.deadline.saturating_duration_since(Instant::now());
            match handshake::starts_handshake(&self.pending) {
                Start::NotHandshake => return Some(()),
                Start::NeedMore => {
                    let more = read_more(
                        &mut self.client,
                        &mut self.pending,
                        handshake::MAX_LINE,
                        Some(left),
                    )
                    .await;
                    match more {
                        Ok(n) if n > 0 => continue,
                        Ok(_) => return None,
                        Err(_) => return self.timed_out("handshake"),
                    }
                }
                Start::Handshake => {
                    let pending = std::mem::take(&mut self.pending);
                    let read =
                        read_line(&mut self.client, pending, handshake::MAX_LINE, left).await;
                    let line = match read {
                        Ok((line, rest)) => {
                            self.pending = rest;
                            line
                        }
                        Err(why) => return self.refuse(&format!("bad handshake: {why}")).await,
                    };
                    return self.answer_hello(&line).await;
                }
            }
        }
    }

    /// Takes a peer's greeting: a slot among the peers, our hello in answer.
    async fn answer_hello(&mut self, line: &[u8]) -> Option<()> {
        let version = match accept_hello(line, &self.shared) {
            Ok(version) => version,
            Err(why) => return self.refuse(&why).await,
        };
        let Some(peer_slot) = self.shared.peers.admit() else {
            self.shared
                .stats
                .refused_busy
                .fetch_add(1, Ordering::Relaxed);
            let why = format!(
                "busy: this shim serves {} connections of peers already",
                self.shared.config.limits.peer_connections
            );
            return self.refuse(&why).await;
        };
        self.slot = peer_slot;
        self.caller = version;
        self.from_shim = true;
        self.tracked.as_peer();
        let hello = handshake::hello(&self.shared.config.name, self.route.node_version);
        self.client.write_all(hello.as_bytes()).await.ok()
    }

    /// A peer's shim at our version, its handshake answered and nothing after it: the rest is
    /// the node program's, when it registered for hand-off.
    async fn hand_off_peer(self) -> Option<Conn> {
        if !(self.caller == self.route.node_version && self.from_shim && self.pending.is_empty()) {
            return Some(self);
        }
        let Conn { client, .. } = self;
        match handoff::give(client, &self.shared, &self.route).await {
            Ok(()) => None,
            Err(client) => Some(Conn { client, ..self }),
        }
    }

    /// A peer's shim that said nothing after its handshake yet: its first bytes are due by the
    /// deadline too, and the node is not bothered before.
    async fn await_peer_first_bytes(&mut self) -> Option<()> {
        if self.pending.is_empty() && self.node.is_none() {
            self.await_first_bytes(false).await?;
        }
        Some(())
    }

    /// The node: connected already, or now (unless the connection is cut first: a peer's once
    /// the program of its route stopped).
    async fn connect(&mut self) -> Option<TcpStream> {
        if let Some(node) = self.node.take() {
            return Some(node);
        }
        let life = self.life();
        let mut phase = self.shared.phase.subscribe();
        if life.cut(*phase.borrow_and_update()) {
            return None;
        }
        tokio::select! {
            node = connect_node(self.node_addr, &self.shared) => node,
            () = life.until_cut(&mut phase) => None,
        }
    }

    /// The caller speaks the node's version: bytes copied (JSON-RPC, or not yet known, request
    /// by request, so that a drain can close the connection between requests).
    async fn fast_path(mut self, mut node: TcpStream) -> Option<()> {
        let life = self.life();
        let (shared, slot) = (&self.shared, &self.slot);
        let config = &shared.config;
        shared.stats.fast_path.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            caller = self.caller,
            from_shim = self.from_shim,
            "fast path"
        );
        match config.fast_path {
            FastPath::Threads => {
                splice_blocking(self.client, node, self.pending, shared, slot, life).await
            }
            FastPath::Async => {
                let (client, pending) = (&mut self.client, &self.pending);
                match handshake::sniff(config.framing, pending, config.max_frame) {
                    Sniff::Other => {
                        copy_as_is(client, &mut node, pending, shared, slot, life).await
                    }
                    Sniff::JsonRpc | Sniff::NeedMore => {
                        splice_requests(client, &mut node, pending, shared, slot, life).await
                    }
                }
            }
        }
        Some(())
    }

    /// Another version: JSON-RPC is translated, anything else copied untranslated. Its first
    /// bytes are due by the deadline (a peer's, after its handshake, too).
    async fn translate(mut self, mut node: TcpStream) -> Option<()> {
        let config = &self.shared.config;
        loop {
            match handshake::sniff(config.framing, &self.pending, config.max_frame) {
                Sniff::JsonRpc => break,
                Sniff::Other => {
                    self.shared
                        .stats
                        .passthrough
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(caller = self.caller, "not JSON-RPC: copied untranslated");
                    let (shared, slot, life) = (&self.shared, &self.slot, self.life());
                    copy_as_is(
                        &mut self.client,
                        &mut node,
                        &self.pending,
                        shared,
                        slot,
                        life,
                    )
                    .await;
                    return Some(());
                }
                Sniff::NeedMore => {
                    let left = self.deadline.saturating_duration_since(Instant::now());
                    let limit = handshake::MAX_LINE * 2;
                    let more = tokio::select! {
                        n = read_more(&mut self.client, &mut self.pending, limit, Some(left)) => n,
                        _ = self.slot.evicted() => return evicted(&self.shared),
                    };
                    match more {
                        Ok(n) if n > 0 => continue,
                        Ok(_) => return None,
                        Err(_) => return self.timed_out("first request"),
                    }
                }
            }
        }
        self.shared.stats.translated.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            caller = self.caller,
            node = self.route.node_version,
            from_shim = self.from_shim,
            "translating"
        );
        let link = NodeLink::new(node, config.framing, config.max_frame, config.call_timeout).ok();
        let mode = Mode::Translate {
            caller: self.caller,
            link,
        };
        let life = self.life();
        translate::serve(
            self.client,
            self.pending,
            mode,
            Arc::clone(&self.shared),
            self.slot,
            life,
        )
        .await;
        Some(())
    }

    /// Waits, until the deadline, for the caller's first bytes (into `pending`). The node is
    /// not connected before they come: a silent socket costs it nothing. With
    /// [`Limits::server_first`](crate::Limits::server_first), a caller silent for
    /// SNIFF_WAIT may be waiting for the node's greeting (a protocol the shim does not know:
    /// copied as is), so the node is connected (into `node`; not for a newcomer in `triage`,
    /// who must show a handshake) and whoever speaks first decides. `None`: the connection is
    /// over (closed, timed out, its slot taken, or the shim closing).
    async fn first_bytes(&mut self, triage: bool) -> Option<First> {
        let life = self.life();
        let shared = &self.shared;
        let (client, pending, slot, deadline) = (
            &mut self.client,
            &mut self.pending,
            &self.slot,
            self.deadline,
        );
        let mut phase = shared.phase.subscribe();
        let node_may_speak = shared.config.limits.server_first && !triage;
        let wait = if node_may_speak {
            deadline.min(Instant::now() + SNIFF_WAIT)
        } else {
            deadline
        };
        let quick = tokio::select! {
            n = read_more(client, pending, handshake::MAX_LINE, None) => Some(n),
            _ = tokio::time::sleep_until(wait) => None,
            _ = slot.evicted() => return evicted(shared),
            () = life.until_cut(&mut phase) => return None,
        };
        let n = match quick {
            Some(n) => n,
            None => {
                if node_may_speak && self.node.is_none() {
                    self.node = Some(connect_node(self.node_addr, shared).await?);
                }
                let node_speaks = async {
                    match self.node.as_ref() {
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
                    () = life.until_cut(&mut phase) => return None,
                }
            }
        };
        match n {
            Ok(n) if n > 0 => Some(First::Client),
            _ => None,
        }
    }

    /// The node spoke first: a protocol the shim does not know, copied as is.
    async fn node_first(&mut self) {
        if let Some(mut node) = self.node.take() {
            self.shared
                .stats
                .passthrough
                .fetch_add(1, Ordering::Relaxed);
            let (shared, slot, life) = (&self.shared, &self.slot, self.life());
            copy_as_is(&mut self.client, &mut node, &[], shared, slot, life).await;
        }
    }

    /// Turns away a newcomer to a full port that is not a peer's shim.
    async fn turn_away(self) -> Option<()> {
        busy(self.client, &self.pending, &self.shared).await;
        None
    }

    fn timed_out<T>(&self, what: &str) -> Option<T> {
        self.shared.stats.timed_out.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            "no {what} within {} ms: closing the connection",
            self.wait.as_millis()
        );
        None
    }

    async fn refuse<T>(&mut self, why: &str) -> Option<T> {
        refuse(&mut self.client, &self.shared, why).await;
        None
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

/// Copies the connection as is, `pending` first, until either side ends (or the shim cuts it,
/// per its `life`).
async fn copy_as_is(
    client: &mut TcpStream,
    node: &mut TcpStream,
    pending: &[u8],
    shared: &Shared,
    slot: &Slot,
    life: Lifetime,
) {
    splice(client, node, pending, &[], shared, slot, life).await;
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
                config.limits.max_connections
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
    match handshake::parse_line(line).map_err(|e| e.to_string())? {
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
