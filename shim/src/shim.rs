//! The [`Shim`], the facade its owner (the node agent, or `upstart-shim`) holds: binds its
//! ports, runs their accept loops on the current tokio runtime, swaps the route (node address,
//! version, plugin chain) and drains connections around an upgrade. What the workers share is
//! in `context`; they never import this module.

use crate::config::ShimConfig;
use crate::context::{Phase, Shared};
use crate::error::ShimError;
use crate::faults::{self, Faults};
use crate::fdlimit;
use crate::handoff;
use crate::limits::Pool;
use crate::route::{Route, RouteCell};
use crate::stats::{ShimStats, Stats};
use crate::targets::Targets;
use crate::{inbound, outbound};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use upstart_plugin_host::Chain;

/// What [`Shim::drain`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrainReport {
    /// Connections that ended by themselves within the grace period.
    pub finished: usize,
    /// Connections cut when the grace period ended.
    pub cut: usize,
    pub took: Duration,
}

/// Newcomers to full client ports whose handshake is awaited at once (the oldest goes first).
const TRIAGE: usize = 64;

/// The addresses a shim listens on, in the order of its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShimAddrs {
    /// Each listener and the version it serves (`None`: the node's).
    pub listeners: Vec<(SocketAddr, Option<u64>)>,
    /// Each peer route: its local port (what the node is configured to reach the peer at) and
    /// the peer's shim.
    pub peers: Vec<(SocketAddr, SocketAddr)>,
    /// The port of the LD_PRELOAD library.
    pub outbound: Option<SocketAddr>,
}

/// A running shim. Dropping it stops its accept loops and closes its connections.
#[derive(Debug)]
pub struct Shim {
    shared: Arc<Shared>,
    addrs: ShimAddrs,
    tasks: std::sync::Mutex<Vec<JoinHandle<()>>>,
}

impl Shim {
    /// Binds every port of `config` and starts serving on the current tokio runtime. With no
    /// node address yet, inbound connections wait until [`Shim::set_node`].
    pub async fn start(config: ShimConfig, chain: Option<Arc<Chain>>) -> Result<Shim, ShimError> {
        check_config(&config)?;
        check_chain(&config.name, chain.as_deref())?;
        let mut bound = Vec::new();
        for l in &config.listeners {
            bound.push((bind(l.addr, "client port").await?, l.version));
        }
        let mut peers = Vec::new();
        for p in &config.peers {
            peers.push((bind(p.listen, "peer route").await?, p.remote));
        }
        let outbound_port = match config.outbound {
            Some(addr) => Some(bind(addr, "outbound port").await?),
            None => None,
        };
        let handoff_socket = match &config.handoff {
            Some(path) => Some(bind_unix(path)?),
            None => None,
        };
        let fault_socket = match &config.fault_control {
            Some(path) => Some(bind_private(path)?),
            None => None,
        };
        let addrs = ShimAddrs {
            listeners: bound.iter().map(|(l, v)| (local(l), *v)).collect(),
            peers: peers.iter().map(|(l, r)| (local(l), *r)).collect(),
            outbound: outbound_port.as_ref().map(local),
        };
        let route = Route::new(config.node_addr, config.node_version, chain);
        let shared = Arc::new(Shared {
            peers: Pool::new(config.limits.peer_connections),
            triage: Pool::new(TRIAGE),
            config,
            route: RouteCell::new(route),
            phase: watch::Sender::new(Phase::Running),
            route_gen: watch::Sender::new(0),
            active: AtomicUsize::new(0),
            idle: tokio::sync::Notify::new(),
            peers_active: AtomicUsize::new(0),
            peers_idle: tokio::sync::Notify::new(),
            stats: Stats::default(),
            handoff: Targets::default(),
            faults: Arc::new(if fault_socket.is_some() {
                Faults::on()
            } else {
                Faults::off()
            }),
        });
        let mut tasks = Vec::new();
        for (listener, version) in bound {
            tasks.push(tokio::spawn(inbound::accept_loop(
                listener,
                version,
                Arc::clone(&shared),
            )));
        }
        for (listener, remote) in peers {
            tasks.push(tokio::spawn(outbound::route_loop(
                listener,
                remote,
                Arc::clone(&shared),
            )));
        }
        if let Some(listener) = outbound_port {
            tasks.push(tokio::spawn(outbound::preload_loop(
                listener,
                Arc::clone(&shared),
            )));
        }
        if let Some(listener) = handoff_socket {
            tasks.push(tokio::spawn(handoff::serve(listener, Arc::clone(&shared))));
        }
        if let Some(listener) = fault_socket {
            tracing::warn!(
                socket = ?shared.config.fault_control,
                "TEST FAULT INJECTION IS ON: this shim's peer routes can be delayed and cut"
            );
            tasks.push(tokio::spawn(faults::serve(
                listener,
                Arc::clone(&shared.faults),
            )));
        }
        tracing::info!(name = %shared.config.name, version = shared.config.node_version, ?addrs, "shim started");
        let (budget, limit) = (
            fdlimit::fd_budget(&shared.config, TRIAGE),
            fdlimit::fd_limit(),
        );
        if budget > limit {
            tracing::warn!(
                "at its connection limits the shim holds up to {budget} file descriptors, but \
                 this process may open {limit}: raise `ulimit -n` or lower the limits"
            );
        }
        Ok(Shim {
            shared,
            addrs,
            tasks: std::sync::Mutex::new(tasks),
        })
    }

    /// Adds a route for the node's connections to another peer (one that joined, or whose
    /// shim's address became known after start); returns the local port to give the node.
    pub async fn add_peer(
        &self,
        listen: SocketAddr,
        remote: SocketAddr,
    ) -> Result<SocketAddr, ShimError> {
        let listener = bind(listen, "peer route").await?;
        let addr = local(&listener);
        let task = tokio::spawn(outbound::route_loop(
            listener,
            remote,
            Arc::clone(&self.shared),
        ));
        self.tasks_mut().push(task);
        tracing::info!(%addr, %remote, "shim: peer route added");
        Ok(addr)
    }

    fn tasks_mut(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        match self.tasks.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The bound addresses (OS-chosen ports resolved).
    pub fn addrs(&self) -> &ShimAddrs {
        &self.addrs
    }

    /// The current route.
    pub fn route(&self) -> Arc<Route> {
        self.shared.route.get()
    }

    /// Points the shim at the node (started, or restarted elsewhere); same version and chain.
    pub fn set_node(&self, addr: SocketAddr) {
        self.shared.route.update(|r| Route {
            node_addr: Some(addr),
            ..r.clone()
        });
        self.shared.route_gen.send_modify(|g| *g += 1);
        tracing::info!(%addr, "shim: node address set");
    }

    /// Swaps the whole route at once: the node's address and version and the plugin chain, as
    /// an upgrade does. Connections decoded from then on use the new route; byte-copying
    /// connections keep theirs until drained, so drain (and [`Shim::hold`] once the program
    /// stopped) before swapping.
    pub fn set_route(
        &self,
        node_addr: Option<SocketAddr>,
        node_version: u64,
        chain: Option<Arc<Chain>>,
    ) -> Result<(), ShimError> {
        check_chain(&self.shared.config.name, chain.as_deref())?;
        self.shared
            .route
            .update(|_| Route::new(node_addr, node_version, chain));
        self.shared.route_gen.send_modify(|g| *g += 1);
        tracing::info!(?node_addr, node_version, "shim: route swapped");
        Ok(())
    }

    /// Swaps only the plugin chain (a new future rule installed before the node upgrades).
    pub fn set_chain(&self, chain: Option<Arc<Chain>>) -> Result<(), ShimError> {
        let route = self.route();
        self.set_route(route.node_addr, route.node_version, chain)
    }

    /// Stops serving clients (a new one waits, unread, for [`Shim::resume`]) and waits, at
    /// most `grace`, until no client request is in flight: decoded and copied JSON-RPC
    /// connections close between requests (idle ones at once), others end by themselves; what
    /// is left when the grace ends is cut. Peers' shims are still served, new ones too, by the
    /// program, which runs until the drain is over (and while it stops): it may be finishing a
    /// write that waits for a peer whose own write waits for it, when both upgrade in one batch.
    /// The node's own outgoing peer connections and routes are not touched. Once the program
    /// stopped, call [`Shim::hold`]; then [`Shim::resume`] to serve again.
    pub async fn drain(&self, grace: Duration) -> DrainReport {
        let started = Instant::now();
        let before = self.active_connections();
        self.shared.phase.send_replace(Phase::Draining);
        let ended = self.until_idle(started + grace).await;
        let left = if ended { 0 } else { self.active_connections() };
        if left > 0 {
            self.shared.phase.send_replace(Phase::Closing);
            self.until_idle(Instant::now() + CUT_WAIT).await;
        }
        let report = DrainReport {
            finished: before.saturating_sub(left),
            cut: left,
            took: started.elapsed(),
        };
        tracing::info!(?report, "shim drained");
        report
    }

    /// Waits until no client connection is left (`true`) or `deadline` passes (`false`).
    async fn until_idle(&self, deadline: Instant) -> bool {
        let shared = &self.shared;
        until_none(&shared.active, &shared.idle, deadline).await
    }

    /// The node's program stopped (after [`Shim::drain`]): the connections of peers' shims it
    /// served are cut (what they sent and it did not answer goes to the next program: the peer
    /// sends it again), and every new connection waits in the listen backlog until
    /// [`Shim::resume`]. Returns once those connections closed (at most a second): none goes to
    /// the old program's address after, where the next program may listen. The connections
    /// left then, if any.
    pub async fn hold(&self) -> usize {
        self.shared.phase.send_replace(Phase::Held);
        let shared = &self.shared;
        let deadline = Instant::now() + CUT_WAIT;
        let left = if until_none(&shared.peers_active, &shared.peers_idle, deadline).await {
            0
        } else {
            shared.peers_active.load(Ordering::SeqCst)
        };
        if left > 0 {
            tracing::warn!(left, "shim held: connections of peers still open");
        } else {
            tracing::info!("shim held");
        }
        left
    }

    /// Serves again after [`Shim::drain`] (and [`Shim::hold`]): the connections that waited
    /// begin, with the route of now.
    pub fn resume(&self) {
        self.shared.phase.send_replace(Phase::Running);
        tracing::info!("shim resumed");
    }

    /// Drains with `grace` and stops.
    pub async fn shutdown(mut self, grace: Duration) -> DrainReport {
        let report = self.drain(grace).await;
        self.stop();
        report
    }

    /// Connections being served.
    pub fn active_connections(&self) -> usize {
        self.shared.active.load(Ordering::SeqCst)
    }

    /// Whether the node program listening at `addr` registered for hand-off.
    pub fn handoff_registered(&self, addr: SocketAddr) -> bool {
        self.shared.handoff.has(addr)
    }

    /// The counters since start.
    pub fn stats(&self) -> ShimStats {
        self.shared.stats.snapshot()
    }

    fn stop(&mut self) {
        self.shared.phase.send_replace(Phase::Stopped);
        for task in self.tasks_mut().drain(..) {
            task.abort();
        }
    }
}

impl Drop for Shim {
    fn drop(&mut self) {
        self.stop();
        if let Some(path) = &self.shared.config.handoff {
            let _ = std::fs::remove_file(path);
        }
        if let Some(path) = &self.shared.config.fault_control {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// How long connections get to close once cut (at the end of a drain's grace, or when the
/// program stopped).
const CUT_WAIT: Duration = Duration::from_secs(1);

/// Waits until `count` is zero (`true`) or `deadline` passes (`false`); `zero` is notified
/// when it drops to zero.
async fn until_none(count: &AtomicUsize, zero: &tokio::sync::Notify, deadline: Instant) -> bool {
    let deadline = tokio::time::Instant::from_std(deadline);
    loop {
        let notified = zero.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if count.load(Ordering::SeqCst) == 0 {
            return true;
        }
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep_until(deadline) => return count.load(Ordering::SeqCst) == 0,
        }
    }
}

/// Listens at the Unix socket `path`, replacing a stale socket left by a shim that died
/// (anything else at the path is an error, not removed).
fn bind_unix(path: &std::path::Path) -> Result<tokio::net::UnixListener, ShimError> {
    use std::os::unix::fs::FileTypeExt;
    let err = |error: std::io::Error| ShimError::BindUnix {
        path: path.to_path_buf(),
        error,
    };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "the path exists and is not a socket",
            )));
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                "another shim serves it",
            )));
        }
        std::fs::remove_file(path).map_err(err)?;
    }
    tokio::net::UnixListener::bind(path).map_err(err)
}

/// [`bind_unix`], then the socket made readable and writable by its owner alone (`0600`; the
/// fault control also checks each caller's user).
fn bind_private(path: &std::path::Path) -> Result<tokio::net::UnixListener, ShimError> {
    use std::os::unix::fs::PermissionsExt;
    let listener = bind_unix(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|error| {
        ShimError::BindUnix {
            path: path.to_path_buf(),
            error,
        }
    })?;
    Ok(listener)
}

/// The listen backlog: connections the kernel completes while the accept loop is busy (a
/// burst of clients, or a flood). The default 128 overflows in a few milliseconds of a flood,
/// and each overflow costs a client a second (its SYN is resent); the kernel caps it at
/// `net.core.somaxconn`.
const BACKLOG: u32 = 4096;

async fn bind(addr: SocketAddr, what: &'static str) -> Result<TcpListener, ShimError> {
    let error = |error| ShimError::Bind { what, addr, error };
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()
    } else {
        tokio::net::TcpSocket::new_v6()
    }
    .map_err(error)?;
    socket.set_reuseaddr(true).map_err(error)?;
    socket.bind(addr).map_err(error)?;
    socket.listen(BACKLOG).map_err(error)
}

fn local(listener: &TcpListener) -> SocketAddr {
    listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
}

fn check_config(config: &ShimConfig) -> Result<(), ShimError> {
    if config.name.is_empty() || config.name.contains(char::is_whitespace) {
        return Err(ShimError::Config(format!(
            "the upgrade name `{}` must be one word",
            config.name
        )));
    }
    if config.max_frame == 0 || config.max_frame > u32::MAX as usize {
        return Err(ShimError::Config(format!(
            "the frame limit must be between 1 and {} bytes, got {}",
            u32::MAX,
            config.max_frame
        )));
    }
    if config.limits.max_connections == 0 || config.limits.peer_connections == 0 {
        return Err(ShimError::Config(
            "the connection limits must be at least 1".into(),
        ));
    }
    let deadlines = [
        ("first bytes", config.limits.first_bytes_timeout),
        ("frame", config.limits.frame_timeout),
        ("idle", config.limits.idle_timeout),
    ];
    if let Some((what, _)) = deadlines.iter().find(|(_, d)| d.is_zero()) {
        return Err(ShimError::Config(format!(
            "the {what} timeout must be longer than zero"
        )));
    }
    if config.listeners.is_empty() && config.peers.is_empty() && config.outbound.is_none() {
        return Err(ShimError::Config("no port to serve: add a listener".into()));
    }
    Ok(())
}

fn check_chain(name: &str, chain: Option<&Chain>) -> Result<(), ShimError> {
    match chain {
        Some(chain) if chain.name() != name => Err(ShimError::ChainName {
            found: chain.name().to_string(),
            expected: name.to_string(),
        }),
        _ => Ok(()),
    }
}
