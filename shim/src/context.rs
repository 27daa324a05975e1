//! What every task of a shim shares, and nothing else: the [`Shared`] context (configuration,
//! route, phase, connection pools, counters, hand-off targets), the [`Phase`] of its
//! connections and the [`Lifetime`] of each, the guard that counts an inbound connection for
//! the drain, and the accept loop every port runs. The workers (`inbound`, `outbound`, `translate`, `splice`, `handoff`)
//! import this module; the facade (`shim`, the public [`crate::Shim`]) builds the context.

use crate::config::ShimConfig;
use crate::faults::Faults;
use crate::limits::Pool;
use crate::route::RouteCell;
use crate::stats::Stats;
use crate::targets::Targets;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Where a shim's connections stand. The phases of an upgrade come in this order: `Running`,
/// `Draining` (then `Closing` if the grace ends first), `Held` once the program stopped, and
/// `Running` again with the next program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Accepting and serving.
    Running,
    /// Accepting, but a new client waits unread (as in a listen backlog) until the shim serves
    /// again, and client connections close between requests. Peers' shims are still served by
    /// the node: its program runs until the drain is over, and while it finishes a write it may
    /// be waiting for a peer whose own write waits for it (nodes upgrading in one batch).
    Draining,
    /// The drain's grace is over: client connections close now; peers as while draining.
    Closing,
    /// The node's program stopped: every connection closes now, and new ones wait in the
    /// listen backlog until the shim serves again (the next program, or the old one back).
    Held,
    /// The shim stopped: every connection closes, waiting ones too.
    Stopped,
}

impl Phase {
    /// Whether inbound ports accept (what they accept may still have to wait, see
    /// [`Phase::Draining`]).
    pub fn accepts(self) -> bool {
        self <= Phase::Closing
    }
}

/// Until when a connection is served, by who opened it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lifetime {
    /// An outside client: takes no new request once the shim drains, cut when the drain's
    /// grace ends.
    Client,
    /// A peer's shim (its handshake answered): served for as long as the node's program runs,
    /// drain or not, and cut when it stopped (it was this program's).
    Peer,
    /// The node program's own outgoing connection: it ends with either side (or its deadlines),
    /// never by a drain.
    Own,
}

impl Lifetime {
    /// Whether the connection takes no new request in `phase`: it closes once those begun are
    /// answered.
    pub fn winds_down(self, phase: Phase) -> bool {
        match self {
            Lifetime::Client => phase >= Phase::Draining,
            Lifetime::Peer => phase >= Phase::Held,
            Lifetime::Own => false,
        }
    }

    /// Whether the connection closes at once in `phase`.
    pub fn cut(self, phase: Phase) -> bool {
        match self {
            Lifetime::Client => phase >= Phase::Closing,
            Lifetime::Peer => phase >= Phase::Held,
            Lifetime::Own => false,
        }
    }

    /// Completes once the connection must close at once (never for [`Lifetime::Own`]).
    pub async fn until_cut(self, phase: &mut watch::Receiver<Phase>) {
        if self == Lifetime::Own || phase.wait_for(|p| self.cut(*p)).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// What every task of a shim shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: ShimConfig,
    pub route: RouteCell,
    pub phase: watch::Sender<Phase>,
    /// Bumped on every route change (accept loops wait for a node).
    pub route_gen: watch::Sender<u64>,
    /// Connections of peers' shims, once their handshake is read (see `limits`).
    pub peers: Arc<Pool>,
    /// Newcomers to a full client port, while the shim waits for their handshake.
    pub triage: Arc<Pool>,
    /// Client (inbound) connections being served: what a drain waits for.
    pub active: AtomicUsize,
    /// Notified when `active` drops to zero.
    pub idle: tokio::sync::Notify,
    /// Connections of peers' shims being served: what [`crate::Shim::hold`] waits for.
    pub peers_active: AtomicUsize,
    /// Notified when `peers_active` drops to zero.
    pub peers_idle: tokio::sync::Notify,
    pub stats: Stats,
    /// The node program's registered listening sockets.
    pub handoff: Targets,
    /// Test faults on the peer routes (off unless `fault_control` is set).
    pub faults: Arc<Faults>,
}

/// Which way a port's connections go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Clients and peers calling the node: accepted while the shim has a node and its program
    /// runs (see [`Phase::accepts`]; a client accepted during a drain waits unread).
    Inbound,
    /// The node program's own connections to its peers: accepted for as long as the shim
    /// lives, drain or not (the program runs until the drain is over and may be replicating).
    Outbound,
}

/// Accepts on `listener` (inbound: while the shim accepts and has a node to send to), handing each
/// connection and its peer's address to `serve` with the port's own pool of
/// `max_connections` slots, from which `serve` decides on its slot (see `limits`): accepting
/// never waits for one. A failed accept (out of file descriptors, say) is retried
/// after a pause that doubles up to a second, so the loop neither spins nor dies.
pub(crate) async fn accept_each(
    listener: TcpListener,
    shared: Arc<Shared>,
    direction: Direction,
    serve: impl Fn(TcpStream, SocketAddr, Arc<Shared>, &Arc<Pool>),
) {
    let inbound = direction == Direction::Inbound;
    let pool = Pool::new(shared.config.limits.max_connections);
    let mut pause = ACCEPT_PAUSE;
    loop {
        if inbound {
            shared.wait_open().await;
        }
        let mut phase = shared.phase.subscribe();
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = phase.wait_for(|p| !p.accepts()), if inbound => continue,
        };
        match accepted {
            Ok((stream, peer)) => {
                pause = ACCEPT_PAUSE;
                serve(stream, peer, Arc::clone(&shared), &pool);
            }
            Err(e) => {
                shared.stats.accept_errors.fetch_add(1, Ordering::Relaxed);
                if pause == ACCEPT_PAUSE {
                    tracing::warn!(error = %e, "accept failed: pausing this port");
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// The first pause after a failed accept.
const ACCEPT_PAUSE: Duration = Duration::from_millis(10);

/// Counts an inbound connection while alive: a client's in [`Shared::active`], a peer's in
/// [`Shared::peers_active`].
#[derive(Debug)]
pub(crate) struct Tracked {
    shared: Arc<Shared>,
    peer: bool,
}

impl Tracked {
    /// The connection turned out to be a peer's shim: counted among the peers from now on (a
    /// drain does not wait for it).
    pub fn as_peer(&mut self) {
        if !self.peer {
            self.shared.peers_active.fetch_add(1, Ordering::SeqCst);
            self.shared.untrack_client();
            self.peer = true;
        }
    }

    /// Whether it is counted as a peer's.
    pub fn is_peer(&self) -> bool {
        self.peer
    }
}

impl Shared {
    /// Counts an inbound connection, as a client's, until the returned guard drops.
    pub fn track(self: &Arc<Self>) -> Tracked {
        self.active.fetch_add(1, Ordering::SeqCst);
        Tracked {
            shared: Arc::clone(self),
            peer: false,
        }
    }

    fn untrack_client(&self) {
        if self.active.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.idle.notify_waiters();
        }
    }

    /// Waits until the shim accepts and has a node to send to (inbound ports only: outbound
    /// ones accept for as long as the shim lives).
    pub async fn wait_open(&self) {
        let mut phase = self.phase.subscribe();
        let mut gen = self.route_gen.subscribe();
        loop {
            let accepts = phase.borrow_and_update().accepts();
            gen.borrow_and_update();
            let ready = self.route.get().node_addr.is_some();
            if accepts && ready {
                return;
            }
            tokio::select! {
                r = phase.changed() => if r.is_err() { return },
                r = gen.changed() => if r.is_err() { return },
            }
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if !self.peer {
            self.shared.untrack_client();
        } else if self.shared.peers_active.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.shared.peers_idle.notify_waiters();
        }
    }
}
