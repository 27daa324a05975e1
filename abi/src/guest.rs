//! The plugin side of the boundary, used by generated code: a plugin is a type implementing
//! [`Plugin`] (safe Rust over bytes, strings and [`Host`]), and [`vtable`] makes its C-ABI
//! table: entry points that turn raw slices into bytes, results into [`CallResult`]s, catch
//! panics and give buffers back. Generated code holds no `unsafe` and calls nothing that takes
//! a raw pointer.
//!
//! With the loader in `runtime`, this is the only place that handles raw pointers; the
//! functions that read them are `unsafe fn` or private, and each `unsafe` block says why it is
//! sound.
#![allow(
    unsafe_code,
    reason = "the plugin side of the C ABI: raw slices and buffers"
)]

use crate::rt::RuleError;
use crate::{Buf, CallResult, HostCallbacks, PluginVTable, Slice, Status, ABI_VERSION};
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The bytes behind a [`Slice`] given to an entry point.
///
/// # Safety
///
/// Unless `s.ptr` is null or `s.len` is 0, `s.ptr` must point at `s.len` initialised bytes that
/// stay valid and unmodified for `'a`: for a slice an entry point received, the caller must use
/// the result only within that call.
pub unsafe fn bytes<'a>(s: Slice) -> &'a [u8] {
    if s.ptr.is_null() || s.len == 0 {
        return &[];
    }
    // SAFETY: the caller guarantees `ptr` points at `len` initialised bytes valid for `'a`.
    unsafe { std::slice::from_raw_parts(s.ptr, s.len) }
}

/// A [`Slice`] borrowing `data` (valid while `data` lives).
pub fn slice(data: &[u8]) -> Slice {
    Slice {
        ptr: data.as_ptr(),
        len: data.len(),
    }
}

/// Gives a vector's allocation to the other side as a [`Buf`]; it comes back through [`free_buf`].
pub fn into_buf(data: Vec<u8>) -> Buf {
    let mut data = ManuallyDrop::new(data);
    Buf {
        ptr: data.as_mut_ptr(),
        len: data.len(),
        cap: data.capacity(),
    }
}

/// Releases a [`Buf`] made by [`into_buf`] in this same binary.
///
/// # Safety
///
/// `buf` must come from [`into_buf`] in this binary, with its pointer, length and capacity
/// unchanged, and be released only once.
pub unsafe fn free_buf(buf: Buf) {
    if buf.ptr.is_null() {
        return;
    }
    // SAFETY: the caller guarantees `buf` is an unchanged `into_buf` of a `Vec<u8>` of this
    // binary, released once.
    drop(unsafe { Vec::from_raw_parts(buf.ptr, buf.len, buf.cap) });
}

/// The `free` entry of a [`vtable`]: private, reached only through the table, whose caller (the
/// loader) holds the ABI's contract that each `Buf` this plugin returned comes back exactly
/// once, unchanged.
extern "C" fn entry_free(buf: Buf) {
    // SAFETY: by the ABI, `buf` is one this plugin returned (made by `into_buf`), given back
    // once.
    unsafe { free_buf(buf) }
}

/// Builds a [`CallResult`].
pub fn result(status: Status, data: Vec<u8>) -> CallResult {
    CallResult {
        status: status as u32,
        data: into_buf(data),
    }
}

/// Runs an entry point's body: a panic becomes [`Status::Internal`], a [`RuleError`] its status.
pub fn guard(body: impl FnOnce() -> Result<Vec<u8>, RuleError>) -> CallResult {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(bytes)) => result(Status::Ok, bytes),
        Ok(Err(e)) => result(e.status(), e.into_message().into_bytes()),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_string());
            result(
                Status::Internal,
                format!("plugin panicked: {what}").into_bytes(),
            )
        }
    }
}

/// The host as generated rules see it: delegate calls by method name with JSON arguments.
#[derive(Debug, Clone, Copy)]
pub struct Host {
    callbacks: Option<HostCallbacks>,
}

impl Host {
    /// Wraps the pointer an entry point received (null means no host: calls fail).
    ///
    /// # Safety
    ///
    /// A non-null `ptr` must point at a valid `HostCallbacks` (as the `host` argument of
    /// `PluginVTable::simulate` does for the call), and the `Host` must be used only while the
    /// callbacks' context stays valid: within that call.
    pub unsafe fn from_ptr(ptr: *const HostCallbacks) -> Host {
        if ptr.is_null() {
            return Host { callbacks: None };
        }
        // SAFETY: the caller guarantees a non-null `ptr` points at a valid `HostCallbacks`; we
        // copy the (Copy) struct out immediately.
        let callbacks = unsafe { *ptr };
        Host {
            callbacks: Some(callbacks),
        }
    }

    /// Calls `method` on the node's own object with `args` (a JSON array) and returns the
    /// JSON bytes of its result.
    pub fn call(&self, method: &str, args: &[u8]) -> Result<Vec<u8>, RuleError> {
        self.call_with(method, args, |answer| Ok(answer.to_vec()))
    }

    /// [`Host::call`] that reads the answer where the host left it, with `read`, instead of
    /// copying it out first (the host's buffer is given back as soon as `read` returns).
    pub fn call_with<R>(
        &self,
        method: &str,
        args: &[u8],
        read: impl FnOnce(&[u8]) -> Result<R, RuleError>,
    ) -> Result<R, RuleError> {
        let Some(cb) = self.callbacks else {
            return Err(RuleError::Internal(format!("no host to `call {method}`")));
        };
        let out = (cb.call)(cb.ctx, slice(method.as_bytes()), slice(args));
        // SAFETY: the host's answer is `len` bytes at `ptr`, valid until it is given back
        // through `free`, below: `data` is only read before that.
        let data = unsafe {
            bytes(Slice {
                ptr: out.data.ptr,
                len: out.data.len,
            })
        };
        let result = match RuleError::of(Status::from_u32(out.status), data) {
            None => read(data),
            Some(e) => Err(e),
        };
        (cb.free)(cb.ctx, out.data);
        result
    }
}

/// A plugin as generated code writes it: safe functions over the bytes of each entry point.
/// [`vtable`] turns it into the C-ABI table the loader reads.
pub trait Plugin {
    /// The manifest (JSON of [`crate::manifest::Manifest`]).
    const MANIFEST: &'static str;
    /// Whether the spec has a reverse transform ([`Plugin::reverse_transform`] answers).
    const HAS_REVERSE: bool;

    /// Runs the past (`direction` 0) or future (1) rule for `service.method` on `args`.
    fn simulate(
        direction: u32,
        service: &str,
        method: &str,
        args: &[u8],
        host: Host,
    ) -> Result<Vec<u8>, RuleError>;

    /// Converts the old persistent state (JSON) into the new one.
    fn transform(old_state: &[u8]) -> Result<Vec<u8>, RuleError>;

    /// Evaluates the invariant on an old and a new state: `true` or `false` (JSON).
    fn check_invariant(old_state: &[u8], new_state: &[u8]) -> Result<Vec<u8>, RuleError>;

    /// Converts the new persistent state back into the old one (only called when
    /// [`Plugin::HAS_REVERSE`]).
    fn reverse_transform(new_state: &[u8]) -> Result<Vec<u8>, RuleError>;
}

/// The C-ABI table of plugin `P`: each entry catches panics ([`guard`]) and reads its raw
/// slices only for the duration of its call.
pub const fn vtable<P: Plugin>() -> PluginVTable {
    PluginVTable {
        abi_version: ABI_VERSION,
        manifest: entry_manifest::<P>,
        simulate: entry_simulate::<P>,
        transform: entry_transform::<P>,
        check_invariant: entry_check_invariant::<P>,
        free: entry_free,
        reverse_transform: if P::HAS_REVERSE {
            Some(entry_reverse_transform::<P>)
        } else {
            None
        },
    }
}

extern "C" fn entry_manifest<P: Plugin>() -> Slice {
    slice(P::MANIFEST.as_bytes())
}

extern "C" fn entry_simulate<P: Plugin>(
    direction: u32,
    service: Slice,
    method: Slice,
    args: Slice,
    host: *const HostCallbacks,
) -> CallResult {
    guard(|| {
        // SAFETY: the ABI makes `host` (when not null) and the three slices valid for this
        // call, and none of them is used after it returns.
        let (host, service, method, args) = unsafe {
            (
                Host::from_ptr(host),
                bytes(service),
                bytes(method),
                bytes(args),
            )
        };
        let service = crate::rt::utf8(service, "the service name")?;
        let method = crate::rt::utf8(method, "the method name")?;
        P::simulate(direction, service, method, args, host)
    })
}

extern "C" fn entry_transform<P: Plugin>(old_state: Slice) -> CallResult {
    // SAFETY: the ABI makes the slice valid for this call; it is read only within it.
    guard(|| P::transform(unsafe { bytes(old_state) }))
}

extern "C" fn entry_check_invariant<P: Plugin>(old_state: Slice, new_state: Slice) -> CallResult {
    // SAFETY: the ABI makes both slices valid for this call; they are read only within it.
    guard(|| P::check_invariant(unsafe { bytes(old_state) }, unsafe { bytes(new_state) }))
}

extern "C" fn entry_reverse_transform<P: Plugin>(new_state: Slice) -> CallResult {
    // SAFETY: the ABI makes the slice valid for this call; it is read only within it.
    guard(|| P::reverse_transform(unsafe { bytes(new_state) }))
}
