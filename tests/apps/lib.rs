//! The example node programs of the end-to-end tests and what they share: a blocking JSON-RPC
//! client and framing ([`rpc`]), the replicated key-value store in versions 1, 2 and 3
//! ([`kv`], run by the `kv-v1`, `kv-v2`, `kv-v3` binaries), and the child-process guard the
//! tests and the benchmark use ([`process`]).
//!
//! The store knows nothing of Upstart: it speaks plain JSON-RPC 2.0 over TCP, to clients and to
//! its peers.

pub mod kv;
pub mod process;
pub mod rpc;
