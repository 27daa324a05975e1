//! The plugin ABI: what a compiled upgrade plugin (a cdylib generated from one spec) exports,
//! and what the host (the runtime's loader) expects. Both sides depend on this small crate;
//! neither pulls in the compiler.
//!
//! One versioned `extern "C"` entry point, [`ENTRY_SYMBOL`], returns a [`PluginVTable`]. Data
//! crosses as bytes in the wire encoding (JSON: arguments as an array in declaration order,
//! results and states as values). Delegate `call`s go back to the host through [`HostCallbacks`].
//! No panic crosses the boundary: every entry is wrapped in `catch_unwind` ([`guest`]), and
//! errors are data ([`Status`]).

mod error;
pub mod guest;
pub mod manifest;
pub mod rt;

pub use error::CallError;

use std::ffi::c_void;

/// Bumped on any change to the types below; the loader refuses any other version.
///
/// - 1: the first table.
/// - 2: [`PluginVTable::reverse_transform`] (a rollback's state conversion, absent when the spec
///   declares none) and the manifest's `reverse_transform` flag.
/// - 3: the manifest's `past_one_call` and `future_one_call` (rules that make at most one
///   delegate call, so a host may send the calls of several requests to the node before
///   their answers come back).
pub const ABI_VERSION: u32 = 3;

/// The symbol every plugin exports: `extern "C" fn() -> *const PluginVTable`. It carries no
/// version: the table's first field does, so a plugin of another ABI is refused with a clear
/// "ABI version" error rather than "no entry point".
pub const ENTRY_SYMBOL: &str = "upstart_plugin_entry";

/// Borrowed bytes passed into a call; valid only for its duration.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Slice {
    pub ptr: *const u8,
    pub len: usize,
}

/// Bytes owned by whichever side allocated them; given back to that side's `free` to release.
#[repr(C)]
#[derive(Debug)]
pub struct Buf {
    pub ptr: *mut u8,
    pub len: usize,
    pub cap: usize,
}

/// The outcome of a call across the boundary.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `data` holds the result in the wire encoding.
    Ok = 0,
    /// The call cannot be simulated: `data` holds the reason (UTF-8).
    Disallowed = 1,
    /// The input did not decode, or failed at run time (missing key, overflow): `data` says why.
    BadInput = 2,
    /// A bug: a panic was caught, or the plugin and host disagree. `data` says what happened.
    Internal = 3,
}

impl Status {
    pub fn from_u32(n: u32) -> Status {
        match n {
            0 => Status::Ok,
            1 => Status::Disallowed,
            2 => Status::BadInput,
            _ => Status::Internal,
        }
    }
}

/// A result crossing the boundary: a [`Status`] and its bytes.
#[repr(C)]
#[derive(Debug)]
pub struct CallResult {
    pub status: u32,
    pub data: Buf,
}

/// Which way a rule translates.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A `past` rule: runs on a new node, answers an old caller; delegate calls reach the new version.
    Past = 0,
    /// A `future` rule: runs on an old node, answers a new caller; delegate calls reach the old version.
    Future = 1,
}

/// The host's side of delegate calls. `call` answers `method(args)` on the node's own object;
/// its result's `data` is freed by the plugin calling `free` with the same `ctx`.
///
/// A rule whose `call` fails stops and returns that failure, and a rule is deterministic: the
/// same arguments and the same answers make the same calls in the same order. So a host may
/// fail a call it has not answered yet, and run the rule again from the start with the answer
/// once it has it (the shim pipelines callers' requests that way).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct HostCallbacks {
    pub ctx: *mut c_void,
    pub call: extern "C" fn(ctx: *mut c_void, method: Slice, args: Slice) -> CallResult,
    pub free: extern "C" fn(ctx: *mut c_void, buf: Buf),
}

/// The table of functions a plugin exports. `abi_version` stays the first field in every ABI
/// version: the loader reads it before trusting the rest of the layout. Entries keep no state
/// and may be called from several threads at once. The `HostCallbacks` given to `simulate` are
/// valid only during that call, and only on the calling thread.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PluginVTable {
    /// Must equal [`ABI_VERSION`].
    pub abi_version: u32,
    /// The manifest (JSON, see [`manifest::Manifest`]); static, never freed.
    pub manifest: extern "C" fn() -> Slice,
    /// Runs the past or future rule for `service.method` on `args` (a JSON array).
    pub simulate: extern "C" fn(
        direction: u32,
        service: Slice,
        method: Slice,
        args: Slice,
        host: *const HostCallbacks,
    ) -> CallResult,
    /// Converts the old persistent state (JSON) into the new one.
    pub transform: extern "C" fn(old_state: Slice) -> CallResult,
    /// Evaluates the invariant on an old and a new state: `true` or `false` (JSON).
    pub check_invariant: extern "C" fn(old_state: Slice, new_state: Slice) -> CallResult,
    /// Releases a [`Buf`] this plugin returned.
    pub free: extern "C" fn(buf: Buf),
    /// Converts the new persistent state (JSON) back into the old one: the spec's reverse
    /// transform (`transform (new) -> old`), which a rollback runs on the current state. `None`
    /// (a null pointer) when the spec declares none; the manifest's `reverse_transform` says
    /// the same.
    pub reverse_transform: Option<extern "C" fn(new_state: Slice) -> CallResult>,
}
