//! The shim: interception of a node's traffic and translation between versions.
//!
//! A [`Shim`] is a tokio proxy in front of the node program's listening port and in the path
//! of its outgoing connections to peers:
//!
//! - **Inbound** ([`ShimConfig::listeners`]): an outside client speaks the version of the port
//!   it reached; a peer's shim opens with a one-line handshake (`UPSTART/1 kv 2`) that says
//!   its node's version, answered with ours (or refused with a reason). A caller at the node's
//!   own version is copied byte for byte (the fast path); a caller at another version is
//!   decoded as JSON-RPC 2.0 ([`Framing::Lines`] or [`Framing::Length`]) and each request is
//!   answered through the plugin chain's past (older caller) or future (newer caller) rules,
//!   whose delegate calls reach the node. A call that cannot be simulated is answered with
//!   error `-32001`, the spec's reason as `message` and `data.disallowed = true`. A protocol
//!   that is not JSON-RPC passes through untranslated.
//! - **Hand-off** ([`ShimConfig::handoff`]): when the node program runs under the LD_PRELOAD
//!   library and registers its listening socket, a same-version connection is passed to the
//!   program itself (`SCM_RIGHTS`) and the shim leaves its path entirely.
//! - **Outbound**: the node's connections to a peer reach the shim through an explicit
//!   [`PeerRoute`] port, or through the LD_PRELOAD library (`shim/preload`), which redirects
//!   `connect` to [`ShimConfig::outbound`]. The shim dials the peer's shim with the handshake.
//! - **Control**: the owner (the node agent) swaps the route (node address, version and plugin
//!   chain) with [`Shim::set_route`], and drains connections around an upgrade with
//!   [`Shim::drain`] and [`Shim::resume`].
//!
//! Bad input (an oversized frame, malformed JSON, an unknown method, a peer at an unknown
//! version) gets a clear error on its own connection; the others go on. Buffers are bounded by
//! the frame limit, a translated connection reads ahead at most a bounded queue of frames (a
//! fast sender is held back by TCP) and pipelines their delegate calls on its one link to the
//! node (`requests`), and every connection is bounded: a deadline for its first
//! bytes and for each frame, an idle timeout, a limit per port where a newcomer replaces the
//! oldest connection not answered yet, and separate room for peers' shims (see `limits`).

mod codec;
mod config;
mod context;
mod error;
mod faults;
mod fdlimit;
mod frames;
mod handoff;
mod handshake;
mod inbound;
mod jsonrpc;
mod limits;
mod node;
mod outbound;
mod requests;
mod route;
mod shim;
mod signatures;
mod splice;
mod stats;
mod targets;
mod translate;

pub use config::{
    FastPath, Framing, Limits, ListenerConfig, ListenerError, ParamStyle, PeerRoute, ShimConfig,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_FRAME, DEFAULT_PEER_CONNECTIONS,
};
pub use error::ShimError;
pub use fdlimit::{fd_limit, raise_fd_limit, FdLimit};
pub use handoff::{parse_registration, RegistrationError, SNIFF_WAIT};
pub use handshake::{connect_line, hello, parse_line, HandshakeError, Line, OK_LINE};
pub use jsonrpc::code;
pub use route::Route;
pub use shim::{DrainReport, Shim, ShimAddrs};
pub use stats::ShimStats;
