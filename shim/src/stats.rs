//! Counters of a shim's traffic, for logs, tests and the node agent's status.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters since start.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub accepted: AtomicU64,
    pub fast_path: AtomicU64,
    pub handed_off: AtomicU64,
    pub translated: AtomicU64,
    pub passthrough: AtomicU64,
    pub outbound: AtomicU64,
    pub handshakes_refused: AtomicU64,
    pub frame_errors: AtomicU64,
    pub calls_translated: AtomicU64,
    pub disallowed: AtomicU64,
    pub evicted: AtomicU64,
    pub refused_busy: AtomicU64,
    pub timed_out: AtomicU64,
    pub accept_errors: AtomicU64,
}

/// A snapshot of a shim's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShimStats {
    /// Inbound connections accepted.
    pub accepted: u64,
    /// Inbound connections copied byte for byte (same version).
    pub fast_path: u64,
    /// Inbound connections handed to the node program (no longer the shim's).
    pub handed_off: u64,
    /// Inbound connections decoded and translated (another version).
    pub translated: u64,
    /// Inbound connections of an unknown protocol, copied untranslated.
    pub passthrough: u64,
    /// Outgoing peer connections carried.
    pub outbound: u64,
    /// Handshakes refused (unknown version or upgrade, malformed).
    pub handshakes_refused: u64,
    /// Oversized or malformed frames.
    pub frame_errors: u64,
    /// Requests answered through the chain.
    pub calls_translated: u64,
    /// Requests refused by a `disallow` rule.
    pub disallowed: u64,
    /// Connections not answered yet that a newcomer to their full port took the place of.
    pub evicted: u64,
    /// Connections turned away: their port full of answered connections (and, on a client
    /// port, no peer's handshake in time), or too many peers.
    pub refused_busy: u64,
    /// Connections closed at a deadline: first bytes, a frame, or idle.
    pub timed_out: u64,
    /// Failed accepts (out of file descriptors, say).
    pub accept_errors: u64,
}

impl Stats {
    pub fn snapshot(&self) -> ShimStats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ShimStats {
            accepted: get(&self.accepted),
            fast_path: get(&self.fast_path),
            handed_off: get(&self.handed_off),
            translated: get(&self.translated),
            passthrough: get(&self.passthrough),
            outbound: get(&self.outbound),
            handshakes_refused: get(&self.handshakes_refused),
            frame_errors: get(&self.frame_errors),
            calls_translated: get(&self.calls_translated),
            disallowed: get(&self.disallowed),
            evicted: get(&self.evicted),
            refused_busy: get(&self.refused_busy),
            timed_out: get(&self.timed_out),
            accept_errors: get(&self.accept_errors),
        }
    }
}
