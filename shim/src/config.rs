//! What a shim is told: where the node listens and at which version, which ports it serves to
//! outside clients and peers, where the node's outgoing peer connections go, and its limits.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

/// How JSON-RPC messages are cut into frames on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Framing {
    /// One JSON text per line, ended by `\n` (a `\r` before it is ignored).
    #[default]
    Lines,
    /// A 4-byte big-endian length, then that many bytes of JSON.
    Length,
}

impl Framing {
    /// The word a spec's `protocol jsonrpc { framing: ... }` and a plugin manifest use.
    pub fn word(self) -> &'static str {
        match self {
            Framing::Lines => "lines",
            Framing::Length => "length",
        }
    }
}

impl FromStr for Framing {
    type Err = String;

    fn from_str(s: &str) -> Result<Framing, String> {
        match s {
            "lines" => Ok(Framing::Lines),
            "length" => Ok(Framing::Length),
            other => Err(format!(
                "unknown framing `{other}`: expected `lines` or `length`"
            )),
        }
    }
}

impl fmt::Display for Framing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// How the shim passes arguments when it calls the node itself (the delegate `call`s of
/// simulation rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ParamStyle {
    /// `params` is an object keyed by the node version's parameter names (when the plugin chain
    /// knows the method; by position otherwise).
    #[default]
    ByName,
    /// `params` is an array in declaration order.
    ByPosition,
}

/// How same-version connections are copied. Both copy bytes without decoding them; on the
/// benchmark (`cargo bench -p e2e --bench shim_latency`) neither is measurably faster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FastPath {
    /// Copied by the tokio runtime (`copy_bidirectional`, 8 KiB buffers each way): no thread
    /// per connection.
    #[default]
    Async,
    /// Two dedicated threads per connection with blocking reads and writes (64 KiB buffers):
    /// no event loop between a wakeup and its write. Costs two small-stack threads per open
    /// connection.
    Threads,
}

/// A port the shim serves to callers without a shim of their own (outside clients). Shims of
/// peers may reach any of them: their handshake says their version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerConfig {
    /// Where to listen; port 0 lets the OS choose (see [`Shim::addrs`](crate::Shim::addrs)).
    pub addr: SocketAddr,
    /// The version callers on this port speak; `None` follows the node's version (also after
    /// an upgrade). Old clients keep a port pinned to their version.
    pub version: Option<u64>,
}

impl ListenerConfig {
    /// `ADDR` (the node's version) or `VERSION@ADDR` (pinned), as command lines give it.
    pub fn parse(text: &str) -> Result<ListenerConfig, String> {
        let (version, addr) = match text.split_once('@') {
            Some((v, a)) => (
                Some(
                    v.parse::<u64>()
                        .map_err(|_| format!("`{v}` is not a version number"))?,
                ),
                a,
            ),
            None => (None, text),
        };
        let addr = addr
            .parse::<SocketAddr>()
            .map_err(|_| format!("`{addr}` is not an address such as `127.0.0.1:7000`"))?;
        Ok(ListenerConfig { addr, version })
    }
}

/// An outgoing route for the node's connections to one peer: the node is configured to reach
/// the peer at `listen`, the shim carries the connection to the peer's shim at `remote`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRoute {
    /// Where the shim listens for the node's connection (port 0: OS-chosen).
    pub listen: SocketAddr,
    /// The peer's shim.
    pub remote: SocketAddr,
}

/// Everything a [`Shim`](crate::Shim) needs to start.
#[derive(Debug, Clone)]
pub struct ShimConfig {
    /// The `upgrade NAME` of the specs: shims of other systems are refused at the handshake.
    pub name: String,
    /// Where the node program listens. `None`: not started yet; inbound connections wait in
    /// the listen backlog until [`Shim::set_node`](crate::Shim::set_node).
    pub node_addr: Option<SocketAddr>,
    /// The version the node program runs.
    pub node_version: u64,
    /// Ports for outside clients (and peers).
    pub listeners: Vec<ListenerConfig>,
    /// Explicit routes of the node's outgoing peer connections.
    pub peers: Vec<PeerRoute>,
    /// The port the LD_PRELOAD library sends the node's redirected `connect`s to.
    pub outbound: Option<SocketAddr>,
    /// A Unix socket where the node program's LD_PRELOAD library (`UPSTART_SHIM_HANDOFF`)
    /// registers its listening sockets; same-version inbound connections are then handed to
    /// the program itself instead of copied (see the `handoff` module). `None`: always copied.
    pub handoff: Option<std::path::PathBuf>,
    /// The node program's framing (and so every connection's).
    pub framing: Framing,
    /// The largest frame the shim decodes; a larger one is answered with an error and its
    /// connection closed. Same-version traffic is copied without decoding and not limited.
    pub max_frame: usize,
    /// How the shim passes arguments to the node.
    pub node_params: ParamStyle,
    /// How same-version connections are copied.
    pub fast_path: FastPath,
    /// Connections served at once (inbound and outbound); further ones wait in the backlog.
    pub max_connections: usize,
    /// Bound on connecting to the node or a peer, and on reading a handshake.
    pub connect_timeout: Duration,
    /// Bound on one call to the node.
    pub call_timeout: Duration,
}

/// 1 MiB.
pub const DEFAULT_MAX_FRAME: usize = 1 << 20;

impl ShimConfig {
    /// A shim for `name` in front of a node at `node_version`, with no ports yet and default
    /// limits: 1 MiB frames, 1024 connections, 5 s to connect, 30 s per call.
    pub fn new(name: impl Into<String>, node_version: u64) -> ShimConfig {
        ShimConfig {
            name: name.into(),
            node_addr: None,
            node_version,
            listeners: Vec::new(),
            peers: Vec::new(),
            outbound: None,
            handoff: None,
            framing: Framing::Lines,
            max_frame: DEFAULT_MAX_FRAME,
            node_params: ParamStyle::ByName,
            fast_path: FastPath::Async,
            max_connections: 1024,
            connect_timeout: Duration::from_secs(5),
            call_timeout: Duration::from_secs(30),
        }
    }
}
