//! What every task of a shim shares, and nothing else: the [`Shared`] context (configuration,
//! route, phase, connection pools, counters, hand-off targets), the [`Phase`] of its
//! connections, the guard that counts a client connection for the drain, and the accept loop
//! every port runs. The workers (`inbound`, `outbound`, `translate`, `splice`, `handoff`)
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

/// Where a shim's connections stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Accepting and serving.
    Running,
    /// Not accepting (new connections wait in the backlog); decoded connections close between
    /// frames, byte-copying ones run on.
    Draining,
    /// Every connection closes now.
    Closing,
}

impl Phase {
    pub fn is_draining(self) -> bool {
        self >= Phase::Draining
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
    pub stats: Stats,
    /// The node program's registered listening sockets.
    pub handoff: Targets,
    /// Test faults on the peer routes (off unless `fault_control` is set).
    pub faults: Arc<Faults>,
}

/// Which way a port's connections go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Clients and peers calling the node: accepted while the shim runs and has a node; a drain
    /// stops accepting them and waits for them.
    Inbound,
    /// The node program's own connections to its peers: accepted for as long as the shim
    /// lives, drain or not (the program runs until the drain is over and may be replicating).
    Outbound,
}

/// Accepts on `listener` (inbound: while the shim runs and has a node to send to), handing each
/// connection and its peer's address to `serve`, which decides on its slot (see `limits`):
/// accepting never waits for one. A failed accept (out of file descriptors, say) is retried
/// after a pause that doubles up to a second, so the loop neither spins nor dies.
pub(crate) async fn accept_each(
    listener: TcpListener,
    shared: Arc<Shared>,
    direction: Direction,
    serve: impl Fn(TcpStream, SocketAddr, Arc<Shared>),
) {
    let inbound = direction == Direction::Inbound;
    let mut pause = ACCEPT_PAUSE;
    loop {
        if inbound {
            shared.wait_open().await;
        }
        let mut phase = shared.phase.subscribe();
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = phase.wait_for(|p| *p != Phase::Running), if inbound => continue,
        };
        match accepted {
            Ok((stream, peer)) => {
                pause = ACCEPT_PAUSE;
                serve(stream, peer, Arc::clone(&shared));
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

/// Counts a client connection while alive (see [`Shared::active`]).
#[derive(Debug)]
pub(crate) struct Tracked {
    shared: Arc<Shared>,
}

impl Shared {
    /// Counts an inbound connection until the returned guard drops.
    pub fn track(self: &Arc<Self>) -> Tracked {
        self.active.fetch_add(1, Ordering::SeqCst);
        Tracked {
            shared: Arc::clone(self),
        }
    }

    /// Waits until the shim runs and has a node to send to (inbound ports only: outbound ones
    /// accept for as long as the shim lives).
    pub async fn wait_open(&self) {
        let mut phase = self.phase.subscribe();
        let mut gen = self.route_gen.subscribe();
        loop {
            let running = *phase.borrow_and_update() == Phase::Running;
            gen.borrow_and_update();
            let ready = self.route.get().node_addr.is_some();
            if running && ready {
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
        if self.shared.active.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.shared.idle.notify_waiters();
        }
    }
}
