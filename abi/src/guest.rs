//! The plugin side of the boundary, used by generated code: turning raw slices into bytes,
//! results into [`CallResult`]s, catching panics, and calling the host back.
//!
//! With the loader in `runtime`, this is the only place that handles raw pointers; each
//! `unsafe` block says why it is sound.
#![allow(unsafe_code)]

use crate::rt::RuleError;
use crate::{Buf, CallResult, HostCallbacks, Slice, Status};
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// The bytes behind a [`Slice`] given to an entry point.
pub fn bytes<'a>(s: Slice) -> &'a [u8] {
    if s.ptr.is_null() || s.len == 0 {
        return &[];
    }
    // SAFETY: the ABI requires `ptr` to point at `len` initialised bytes that stay valid and
    // unmodified for the duration of the call that received the slice; callers of `bytes` only
    // use the result within that call.
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
pub extern "C" fn free_buf(buf: Buf) {
    if buf.ptr.is_null() {
        return;
    }
    // SAFETY: `buf` was produced by `into_buf` in this binary from a `Vec<u8>` whose pointer,
    // length and capacity it carries unchanged, and the ABI gives each `Buf` back exactly once.
    drop(unsafe { Vec::from_raw_parts(buf.ptr, buf.len, buf.cap) });
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
        Ok(Err(RuleError::Disallowed(reason))) => result(Status::Disallowed, reason.into_bytes()),
        Ok(Err(RuleError::BadInput(message))) => result(Status::BadInput, message.into_bytes()),
        Ok(Err(RuleError::Internal(message))) => result(Status::Internal, message.into_bytes()),
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
    /// Only for the `host` argument of `PluginVTable::simulate`, which the ABI guarantees valid
    /// for the call: generated entry points pass it straight here, so the function stays safe
    /// to call from generated code, which holds no `unsafe`.
    #[allow(clippy::not_unsafe_ptr_arg_deref)]
    pub fn from_ptr(ptr: *const HostCallbacks) -> Host {
        if ptr.is_null() {
            return Host { callbacks: None };
        }
        // SAFETY: a non-null `host` pointer given to `simulate` points at a `HostCallbacks` the
        // host keeps alive for the whole call; we copy the (Copy) struct out immediately.
        Host {
            callbacks: Some(unsafe { *ptr }),
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
        // The host's answer stays valid until it is given back through `free`, below: `data`
        // is only read before that.
        let data = bytes(Slice {
            ptr: out.data.ptr,
            len: out.data.len,
        });
        let result = match Status::from_u32(out.status) {
            Status::Ok => read(data),
            Status::Disallowed => Err(RuleError::Disallowed(
                String::from_utf8_lossy(data).into_owned(),
            )),
            Status::BadInput => Err(RuleError::BadInput(
                String::from_utf8_lossy(data).into_owned(),
            )),
            Status::Internal => Err(RuleError::Internal(
                String::from_utf8_lossy(data).into_owned(),
            )),
        };
        (cb.free)(cb.ctx, out.data);
        result
    }
}
