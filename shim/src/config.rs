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
    pub fn parse(text: &str) -> Result<ListenerConfig, ListenerError> {
        let (version, addr) = match text.split_once('@') {
            Some((v, a)) => (
                Some(v.parse::<u64>().map_err(|source| ListenerError::Version {
                    text: v.to_string(),
                    source,
                })?),
                a,
            ),
            None => (None, text),
        };
        let addr = addr
            .parse::<SocketAddr>()
            .map_err(|source| ListenerError::Address {
                text: addr.to_string(),
                source,
            })?;
        Ok(ListenerConfig { addr, version })
    }
}

/// Why a text is no [`ListenerConfig`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListenerError {
    #[error("`{text}` is not a version number")]
    Version {
        text: String,
        #[source]
        source: std::num::ParseIntError,
    },
    #[error("`{text}` is not an address such as `127.0.0.1:7000`")]
    Address {
        text: String,
        #[source]
        source: std::net::AddrParseError,
    },
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
    /// Bounds on connections, their deadlines, and whether the node may speak first.
    pub limits: Limits,
    /// Bound on connecting to the node or a peer, and on reading a peer's answer to our
    /// handshake.
    pub connect_timeout: Duration,
    /// Bound on one call to the node.
    pub call_timeout: Duration,
    /// Testing only (`upstart test`): a Unix socket where the shim takes commands that delay
    /// or cut its peer routes for a while (see the `faults` module). `None` (the default, and
    /// what a production node runs with): no socket, and no fault can ever be set.
    pub fault_control: Option<std::path::PathBuf>,
}

/// A shim's bounds on connections (how many, how long they may stay silent) and whether the
/// node's protocol may speak first: what an operator tunes per node (the agent and the shim's
/// command line both fill one in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once on each port (each client port, peer route and the preload
    /// port has its own count). A port never stops accepting: a connection beyond its limit
    /// takes the place of the oldest one that has not been answered yet (still silent, or
    /// trickling a request that is not complete), and is closed when there is none (on a client
    /// port, after a short wait for a peer's handshake, see [`peer_connections`](Limits::peer_connections)).
    pub max_connections: usize,
    /// Connections from peers' shims served at once, counted apart from clients: a connection
    /// leaves its port's count for this one as soon as its handshake is read, so clients,
    /// however many, never take a peer's place (and a full port still reads the handshake of a
    /// newcomer before turning it away).
    pub peer_connections: usize,
    /// Bound on a connection's first bytes (and on a peer's handshake line), from accept.
    pub first_bytes_timeout: Duration,
    /// Bound on one frame once its first byte arrived (a slowloris that never finishes a
    /// request is closed then), on connections the shim decodes.
    pub frame_timeout: Duration,
    /// A connection with nothing to do for this long is closed: between requests on decoded
    /// connections; on copied ones, when nothing came from the node (or peer) for this long.
    pub idle_timeout: Duration,
    /// The node's protocol may speak first (a greeting the shim does not know): a caller
    /// silent for [`SNIFF_WAIT`](crate::SNIFF_WAIT) is then connected to the node (and a
    /// node's silent connection on a peer route to the peer), and whoever speaks first decides.
    /// Off by default: a silent socket then costs the node and the peers nothing until its first
    /// bytes, and is closed at its deadline.
    pub server_first: bool,
}

impl Default for Limits {
    /// 4,096 connections per port and 1,024 from peers; 10 s for a connection's first bytes,
    /// 30 s for a frame, 5 min idle; the node does not speak first (see [`ShimConfig::new`] for
    /// why these).
    fn default() -> Limits {
        Limits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            peer_connections: DEFAULT_PEER_CONNECTIONS,
            first_bytes_timeout: Duration::from_secs(10),
            frame_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(300),
            server_first: false,
        }
    }
}

/// 1 MiB.
pub const DEFAULT_MAX_FRAME: usize = 1 << 20;
/// Connections per port (see [`Limits::max_connections`]).
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Connections from peers' shims (see [`Limits::peer_connections`]).
pub const DEFAULT_PEER_CONNECTIONS: usize = 1024;

impl ShimConfig {
    /// A shim for `name` in front of a node at `node_version`, with no ports yet and default
    /// limits: 1 MiB frames; 4,096 connections per port and 1,024 from peers; 10 s for a
    /// connection's first bytes, 30 s for a frame, 5 min idle; 5 s to connect, 30 s per call.
    ///
    /// Why these: a real client sends its request as soon as it connects, so 10 s covers slow
    /// links with a wide margin while an idle socket is gone quickly; 30 s lets a 1 MiB frame
    /// arrive at 35 KiB/s; 5 min keeps pooled connections (a peer's replication connection)
    /// across quiet spells without holding dead ones for long. 4,096 per port is what a busy
    /// node serves at once; each costs the shim two descriptors (the agent raises its limit).
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
            limits: Limits::default(),
            connect_timeout: Duration::from_secs(5),
            call_timeout: Duration::from_secs(30),
            fault_control: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    #[test]
    fn listener_errors_name_the_text_and_give_the_parse_error_as_their_source() {
        let e = ListenerConfig::parse("x@127.0.0.1:1").unwrap_err();
        assert_eq!(e.to_string(), "`x` is not a version number");
        assert!(e
            .source()
            .is_some_and(|s| s.is::<std::num::ParseIntError>()));
        let e = ListenerConfig::parse("2@nowhere").unwrap_err();
        assert_eq!(
            e.to_string(),
            "`nowhere` is not an address such as `127.0.0.1:7000`"
        );
        assert!(e
            .source()
            .is_some_and(|s| s.is::<std::net::AddrParseError>()));
    }
}
