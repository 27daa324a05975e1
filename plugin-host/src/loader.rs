//! Opening a plugin cdylib and every crossing of the C boundary: resolving the entry point,
//! reading the function table and manifest, calling entries, copying results out and handing
//! their buffers back, and the host callbacks (trampolines) that answer delegate `call`s.
//!
//! This is the only module of the plugin host (and of the runtime side) with unsafe code; each block says why it is sound.
//! Ownership of buffers follows the ABI: a [`Buf`] is freed by the side that allocated it, so a
//! plugin's results go back through its table's `free`, and the host's answers to delegate calls
//! (made with this binary's copy of `guest::into_buf`) through [`host_free`].
#![allow(
    unsafe_code,
    reason = "the C boundary of plugins: the only unsafe module of the plugin host"
)]
#![deny(clippy::undocumented_unsafe_blocks)]

use super::error::{CallError, LoadError};
use super::expect::{parse_manifest, Expect};
use super::host::NodeHost;
use libloading::Library;
use std::any::Any;
use std::ffi::c_void;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Component, Path, PathBuf};
use upstart_abi::manifest::Manifest;
use upstart_abi::{guest, Buf, CallResult, Direction, HostCallbacks, PluginVTable, Slice, Status};
use upstart_abi::{ABI_VERSION, ENTRY_SYMBOL};

/// The type of [`ENTRY_SYMBOL`] as the ABI declares it.
type Entry = extern "C" fn() -> *const PluginVTable;

/// A loaded, checked plugin. Its methods are safe: the plugin never unwinds (its entries are
/// wrapped in `catch_unwind`), every result is copied out before its buffer goes back, and
/// panics of the host are caught before they reach the plugin.
///
/// A plugin is `Send + Sync`, relying on generated plugins keeping no mutable state: its entries
/// may run on several threads at once.
pub struct Plugin {
    /// Copied out of the library; its function pointers point into `_library`.
    vtable: PluginVTable,
    manifest: Manifest,
    path: PathBuf,
    /// Keeps the code behind `vtable` mapped. Declared last so it is dropped last; no pointer
    /// into it escapes a `Plugin`.
    _library: Library,
}

impl Plugin {
    /// Opens the plugin at `path`, checks its ABI version and manifest, and refuses it unless it
    /// is what `expect` describes.
    ///
    /// Loading runs the library's code (its initialisers and entry point): only load files that
    /// are plugins built by `upstartc compile` from a trusted (verified) bundle.
    pub fn load(path: &Path, expect: &Expect) -> Result<Plugin, LoadError> {
        let library = open(path)?;
        let vtable = read_table(path, &library)?;
        let json = (vtable.manifest)();
        // SAFETY: the ABI makes `manifest` return static bytes of the library, which stays
        // loaded for this whole function (we own `library`); they are copied at once.
        let json = unsafe { copy(json.ptr, json.len) };
        let manifest = parse_manifest(path, &json)?;
        if manifest.reverse_transform != vtable.reverse_transform.is_some() {
            return Err(LoadError::BadManifest {
                path: path.to_path_buf(),
                reason: format!(
                    "its manifest says `reverse_transform: {}` but its function table {} one",
                    manifest.reverse_transform,
                    if vtable.reverse_transform.is_some() {
                        "has"
                    } else {
                        "lacks"
                    }
                ),
            });
        }
        expect.check(path, &manifest)?;
        Ok(Plugin {
            vtable,
            manifest,
            path: path.to_path_buf(),
            _library: library,
        })
    }

    /// The manifest embedded in the plugin.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The file the plugin was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs the `direction` rule for `service.method` on `args` (a JSON array) and returns its
    /// result (JSON). The rule's delegate `call`s go to `host`; a panic there becomes
    /// [`CallError::Internal`] for the rule (and so, usually, for this call).
    pub fn simulate(
        &self,
        direction: Direction,
        service: &str,
        method: &str,
        args: &[u8],
        host: &mut dyn NodeHost,
    ) -> Result<Vec<u8>, CallError> {
        let mut bridge = Bridge { host };
        let callbacks = HostCallbacks {
            ctx: std::ptr::addr_of_mut!(bridge).cast::<c_void>(),
            call: host_call,
            free: host_free,
        };
        let out = (self.vtable.simulate)(
            direction as u32,
            guest::slice(service.as_bytes()),
            guest::slice(method.as_bytes()),
            guest::slice(args),
            &callbacks,
        );
        self.take(out)
    }

    /// Converts the old persistent state (JSON) into the new one (JSON).
    pub fn transform(&self, old_state: &[u8]) -> Result<Vec<u8>, CallError> {
        let out = (self.vtable.transform)(guest::slice(old_state));
        self.take(out)
    }

    /// Whether the plugin carries a reverse transform, so a rollback can carry the new version's
    /// state (and the writes it took) back to the old version.
    pub fn has_reverse(&self) -> bool {
        self.vtable.reverse_transform.is_some()
    }

    /// Converts the new persistent state (JSON) back into the old one (JSON): the spec's
    /// reverse transform. [`CallError::Disallowed`] when the plugin has none (see
    /// [`Plugin::has_reverse`]).
    pub fn reverse_transform(&self, new_state: &[u8]) -> Result<Vec<u8>, CallError> {
        let Some(reverse) = self.vtable.reverse_transform else {
            return Err(CallError::Disallowed(format!(
                "spec `{}` ({} -> {}) declares no reverse transform (`transform (new) -> old`), \
                 so its state cannot be carried back",
                self.manifest.name, self.manifest.from, self.manifest.to
            )));
        };
        let out = reverse(guest::slice(new_state));
        self.take(out)
    }

    /// Whether the spec's invariant holds between an old and a new state (both JSON).
    pub fn check_invariant(&self, old: &[u8], new: &[u8]) -> Result<bool, CallError> {
        let out = (self.vtable.check_invariant)(guest::slice(old), guest::slice(new));
        let data = self.take(out)?;
        serde_json::from_slice(&data).map_err(|_| {
            CallError::Internal(format!(
                "the invariant of plugin `{}` returned `{}`, not `true` or `false`",
                self.path.display(),
                String::from_utf8_lossy(&data)
            ))
        })
    }

    /// Copies a result out of the plugin, gives its buffer back, and reads its status.
    fn take(&self, out: CallResult) -> Result<Vec<u8>, CallError> {
        // SAFETY: `out.data` was just returned by this plugin and is not freed before the copy
        // is made: the ABI keeps its `len` bytes valid until it goes back through `free`.
        let data = unsafe { copy(out.data.ptr, out.data.len) };
        (self.vtable.free)(out.data);
        CallError::from_status(out.status, data)
    }
}

impl fmt::Debug for Plugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugin")
            .field("path", &self.path)
            .field("name", &self.manifest.name)
            .field("from", &self.manifest.from)
            .field("to", &self.manifest.to)
            .finish_non_exhaustive()
    }
}

/// Opens the library. A bare file name is taken relative to the current directory, as users
/// mean it, rather than searched for in the system's library path.
fn open(path: &Path) -> Result<Library, LoadError> {
    let mut parts = path.components();
    let bare = matches!(
        (parts.next(), parts.next()),
        (Some(Component::Normal(_)), None)
    );
    let target = if bare {
        Path::new(".").join(path)
    } else {
        path.to_path_buf()
    };
    // SAFETY: opening a library runs its initialisers in this process. That is sound for the
    // files this function is meant for, plugins built by `upstartc compile` (generated Rust
    // with no initialisers of its own); choosing to trust the file is `Plugin::load`'s
    // documented contract with its caller.
    unsafe { Library::new(target.as_os_str()) }.map_err(|e| LoadError::Open {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Resolves the entry point and copies the function table, once its ABI version is ours.
fn read_table(path: &Path, library: &Library) -> Result<PluginVTable, LoadError> {
    // SAFETY: the ABI declares `ENTRY_SYMBOL` as an `extern "C" fn() -> *const PluginVTable`;
    // the symbol's name is specific to this ABI, so a library exporting it is a plugin.
    let entry: Entry = match unsafe { library.get::<Entry>(ENTRY_SYMBOL) } {
        Ok(symbol) => *symbol,
        Err(_) => {
            return Err(LoadError::MissingEntry {
                path: path.to_path_buf(),
            })
        }
    };
    let table = entry();
    if table.is_null() {
        return Err(LoadError::Open {
            path: path.to_path_buf(),
            reason: format!("its entry point `{ENTRY_SYMBOL}` returned no function table"),
        });
    }
    // SAFETY: `table` is non-null and points at the plugin's static table, aligned for a
    // `PluginVTable` and so for a `u32`. Whatever the plugin's ABI version, the table is
    // `repr(C)` with `abi_version: u32` first, so these 4 bytes are initialised and are it;
    // nothing else of a table of unknown layout is read.
    let found = unsafe { table.cast::<u32>().read() };
    if found != ABI_VERSION {
        return Err(LoadError::AbiMismatch {
            path: path.to_path_buf(),
            found,
            expected: ABI_VERSION,
        });
    }
    // SAFETY: the table is of this ABI version, so it is a `PluginVTable` as declared in
    // `upstart_abi`, static in the library. The copy's function pointers stay valid as long as
    // the library is loaded, which `Plugin` guarantees by owning both.
    Ok(unsafe { table.read() })
}

/// Copies `len` bytes at `ptr` (null or empty: nothing).
///
/// # Safety
/// Unless null or `len` is 0, `ptr` must point at `len` initialised bytes, valid for the call.
unsafe fn copy(ptr: *const u8, len: usize) -> Vec<u8> {
    if ptr.is_null() || len == 0 {
        return Vec::new();
    }
    // SAFETY: the caller guarantees `len` initialised bytes at the non-null `ptr`.
    unsafe { std::slice::from_raw_parts(ptr, len) }.to_vec()
}

/// Borrows the bytes of a slice the plugin passed in.
///
/// # Safety
/// Unless null or empty, `s` must point at `s.len` initialised bytes that stay valid and
/// unmodified while the result is used.
unsafe fn view(s: &Slice) -> &[u8] {
    if s.ptr.is_null() || s.len == 0 {
        return &[];
    }
    // SAFETY: the caller guarantees the bytes are valid for the borrow.
    unsafe { std::slice::from_raw_parts(s.ptr, s.len) }
}

/// What `ctx` of the [`HostCallbacks`] points at during one `simulate`: a thin pointer to a
/// struct on `simulate`'s stack holding the (fat) host reference.
struct Bridge<'a> {
    host: &'a mut dyn NodeHost,
}

/// Answers a rule's delegate `call` through the [`NodeHost`] behind `ctx`. Never unwinds: a
/// panic of the host becomes [`Status::Internal`].
extern "C" fn host_call(ctx: *mut c_void, method: Slice, args: Slice) -> CallResult {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        if ctx.is_null() {
            return Err(CallError::Internal(
                "a delegate call came without its host context".into(),
            ));
        }
        // SAFETY: a non-null `ctx` is the one `Plugin::simulate` put in the callbacks it passed:
        // a pointer to its `Bridge`, alive and not otherwise used for the whole `simulate`
        // call. The ABI lets a plugin call back only during that call, and not concurrently,
        // so this is the only live reference to the bridge.
        let bridge = unsafe { &mut *ctx.cast::<Bridge<'_>>() };
        // SAFETY: the plugin passes slices valid for the duration of this callback, which
        // outlasts these borrows.
        let (method, args) = unsafe { (view(&method), view(&args)) };
        let method = std::str::from_utf8(method).map_err(|_| {
            CallError::BadInput("the method name of a delegate call is not UTF-8".into())
        })?;
        bridge.host.call(method, args)
    }));
    let result = outcome.unwrap_or_else(|panic| {
        Err(CallError::Internal(format!(
            "the node host panicked in a delegate call: {}",
            panic_message(panic.as_ref())
        )))
    });
    match result {
        Ok(bytes) => guest::result(Status::Ok, bytes),
        Err(e) => guest::result(e.status(), e.into_message().into_bytes()),
    }
}

/// Releases a buffer [`host_call`] allocated (with this binary's `guest::into_buf`).
extern "C" fn host_free(_ctx: *mut c_void, buf: Buf) {
    // SAFETY: plugins give back, once and unchanged, the buffers `host_call` returned, which
    // `guest::result` made with this binary's `guest::into_buf`.
    unsafe { guest::free_buf(buf) };
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Calls back through `callbacks` as a plugin does, then frees the answer as a plugin does.
    fn call_back(cb: &HostCallbacks, method: &[u8], args: &[u8]) -> (u32, Vec<u8>) {
        let out = (cb.call)(cb.ctx, guest::slice(method), guest::slice(args));
        // SAFETY: `out.data` was just made by `host_call` and is freed only below.
        let data = unsafe { copy(out.data.ptr, out.data.len) };
        (cb.free)(cb.ctx, out.data);
        (out.status, data)
    }

    fn with_callbacks<R>(host: &mut dyn NodeHost, f: impl FnOnce(&HostCallbacks) -> R) -> R {
        let mut bridge = Bridge { host };
        let callbacks = HostCallbacks {
            ctx: std::ptr::addr_of_mut!(bridge).cast::<c_void>(),
            call: host_call,
            free: host_free,
        };
        f(&callbacks)
    }

    #[test]
    fn trampoline_reaches_the_host() {
        let mut host = |method: &str, args: &[u8]| {
            Ok(format!("{method}{}", String::from_utf8_lossy(args)).into_bytes())
        };
        let (status, data) = with_callbacks(&mut host, |cb| call_back(cb, b"get", b"[1]"));
        assert_eq!(status, Status::Ok as u32);
        assert_eq!(data, b"get[1]");
    }

    #[test]
    fn trampoline_passes_errors_as_statuses() {
        let mut host = |_: &str, _: &[u8]| Err(CallError::Disallowed("not now".into()));
        let (status, data) = with_callbacks(&mut host, |cb| call_back(cb, b"get", b"[]"));
        assert_eq!(status, Status::Disallowed as u32);
        assert_eq!(data, b"not now");
    }

    #[test]
    fn trampoline_catches_host_panics() {
        let mut host = |_: &str, _: &[u8]| -> Result<Vec<u8>, CallError> { panic!("host broke") };
        let (status, data) = with_callbacks(&mut host, |cb| call_back(cb, b"get", b"[]"));
        assert_eq!(status, Status::Internal as u32);
        assert_eq!(
            data,
            b"the node host panicked in a delegate call: host broke"
        );
    }

    #[test]
    fn trampoline_refuses_bad_method_names_and_null_context() {
        let mut host = |_: &str, _: &[u8]| Ok(Vec::new());
        let (status, _) = with_callbacks(&mut host, |cb| call_back(cb, &[0xff], b"[]"));
        assert_eq!(status, Status::BadInput as u32);
        let cb = HostCallbacks {
            ctx: std::ptr::null_mut(),
            call: host_call,
            free: host_free,
        };
        let (status, data) = call_back(&cb, b"get", b"[]");
        assert_eq!(status, Status::Internal as u32);
        assert_eq!(data, b"a delegate call came without its host context");
    }

    #[test]
    fn plugins_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Plugin>();
    }

    #[test]
    fn missing_file_is_an_open_error() {
        let e = Plugin::load(Path::new("no-such-plugin.so"), &Expect::default()).unwrap_err();
        assert!(matches!(e, LoadError::Open { .. }), "{e:?}");
        assert!(
            e.to_string()
                .starts_with("cannot load plugin `no-such-plugin.so`: "),
            "{e}"
        );
    }
}
