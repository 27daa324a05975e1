//! The plugin ABI: what a compiled upgrade plugin (a cdylib generated from one spec) exports,
//! and what the host (the runtime's loader) expects. Both sides depend on this small crate;
//! neither pulls in the compiler.
//!
//! One versioned `extern "C"` entry point, [`ENTRY_SYMBOL`], returns a [`PluginVTable`]. Data
//! crosses as bytes in the wire encoding (JSON: arguments as an array in declaration order,
//! results and states as values). Delegate `call`s go back to the host through [`HostCallbacks`].
//! No panic crosses the boundary: every entry is wrapped in `catch_unwind` ([`guest`]), and
//! errors are data ([`Status`], read as one [`CallError`] on both sides).

pub mod guest;
pub mod manifest;
pub mod rt;

use std::ffi::c_void;
use std::fmt;

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

/// Why a call across the plugin boundary produced no value: the one error of both sides, what
/// generated rules return (as [`rt::RuleError`]) and what the host reads back from a call into
/// a plugin or gives a delegate call. It crosses the boundary as its [`Status`] and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The call cannot be simulated across these versions (`disallow "reason"`); the reason is
    /// the spec's text.
    Disallowed(String),
    /// The arguments or state did not decode, or failed at run time (missing key, overflow).
    BadInput(String),
    /// A bug: a panic was caught, or the plugin and host disagree.
    Internal(String),
}

impl CallError {
    /// The ABI status this error crosses the boundary as.
    pub fn status(&self) -> Status {
        match self {
            CallError::Disallowed(_) => Status::Disallowed,
            CallError::BadInput(_) => Status::BadInput,
            CallError::Internal(_) => Status::Internal,
        }
    }

    /// The reason or message, without the kind.
    pub fn message(&self) -> &str {
        match self {
            CallError::Disallowed(m) | CallError::BadInput(m) | CallError::Internal(m) => m,
        }
    }

    /// Takes the reason or message, without the kind.
    pub fn into_message(self) -> String {
        match self {
            CallError::Disallowed(m) | CallError::BadInput(m) | CallError::Internal(m) => m,
        }
    }

    /// The error a call's `status` and `message` say (`None`: the status is `Ok`).
    pub fn of(status: Status, message: &[u8]) -> Option<CallError> {
        let text = || String::from_utf8_lossy(message).into_owned();
        match status {
            Status::Ok => None,
            Status::Disallowed => Some(CallError::Disallowed(text())),
            Status::BadInput => Some(CallError::BadInput(text())),
            Status::Internal => Some(CallError::Internal(text())),
        }
    }

    /// Reads a result that crossed the boundary: its raw status and its (copied) bytes.
    pub fn from_status(status: u32, data: Vec<u8>) -> Result<Vec<u8>, CallError> {
        if status > Status::Internal as u32 {
            return Err(CallError::Internal(format!(
                "unknown status {status}: {}",
                String::from_utf8_lossy(&data)
            )));
        }
        match CallError::of(Status::from_u32(status), &data) {
            None => Ok(data),
            Some(e) => Err(e),
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Disallowed(m) => write!(f, "disallowed: {m}"),
            CallError::BadInput(m) => write!(f, "bad input: {m}"),
            CallError::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl std::error::Error for CallError {}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip() {
        for e in [
            CallError::Disallowed("no".into()),
            CallError::BadInput("bad".into()),
            CallError::Internal("bug".into()),
        ] {
            let back = CallError::from_status(e.status() as u32, e.message().as_bytes().to_vec());
            assert_eq!(back, Err(e));
        }
        assert_eq!(CallError::from_status(0, b"1".to_vec()), Ok(b"1".to_vec()));
    }

    #[test]
    fn unknown_status_is_internal() {
        let e = CallError::from_status(42, b"what".to_vec());
        assert_eq!(
            e,
            Err(CallError::Internal("unknown status 42: what".into()))
        );
    }
}
