//! The LD_PRELOAD library: puts an unmodified node program's sockets in the shim's hands, as
//! the original Upstart's interposed socket library did, so the program needs no
//! configuration.
//!
//! ```sh
//! UPSTART_SHIM_OUTBOUND=127.0.0.1:7400 UPSTART_REDIRECT=10.0.0.2:7000,10.0.0.3:7000 \
//!     UPSTART_SHIM_HANDOFF=/run/kv/shim.sock LD_PRELOAD=libupstart_preload.so ./node ...
//! ```
//!
//! - `UPSTART_SHIM_OUTBOUND`: the shim's outbound port ([`shim::ShimConfig::outbound`]). Unset,
//!   no `connect` is redirected.
//! - `UPSTART_REDIRECT`: the destinations to redirect, comma-separated `IP:PORT`s, or `*` for
//!   every TCP destination but the shim itself. Unset: nothing is redirected.
//! - `UPSTART_SHIM_HANDOFF`: the shim's hand-off socket ([`shim::ShimConfig::handoff`]): the
//!   program's listening sockets are registered there and same-version connections handed to
//!   the program itself, so the shim is not in their path (module `handoff`), and waits for
//!   those sockets with `poll`, `ppoll`, `select` or `pselect` wake up for them (module
//!   `wait`). Unset, `listen`, `accept`, `epoll_ctl` and the waits behave as the C library's.
//!
//! Outgoing connections (module `connect`): a redirected `connect` connects the socket to the shim instead, sends
//! `UPSTART/1 connect DEST\n` and waits for `UPSTART/1 ok\n`, which the shim sends once it
//! reached the peer's shim. A refusal (`UPSTART/1 error ...`) fails the `connect` with
//! `ECONNREFUSED`, as an unreachable peer would. A non-blocking socket is made blocking for the
//! exchange (on loopback) and restored, and `connect` then reports success at once.
//!
//! Linux only. This crate is the one place of the workspace besides the plugin loader with
//! `unsafe` code: the interposed C entry points and the raw socket calls they make.
#![allow(
    unsafe_code,
    reason = "the interposed C entry points and the raw socket calls they make"
)]

#[cfg(target_os = "linux")]
mod connect;
#[cfg(target_os = "linux")]
mod handoff;
#[cfg(target_os = "linux")]
mod sys;
#[cfg(target_os = "linux")]
mod wait;

#[cfg(target_os = "linux")]
pub use connect::connect;
#[cfg(target_os = "linux")]
pub use handoff::{accept, accept4, epoll_ctl, listen};
#[cfg(target_os = "linux")]
pub use wait::{__poll_chk, __ppoll_chk, poll, ppoll, pselect, select};
