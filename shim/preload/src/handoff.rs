//! Connection hand-off from the shim (`UPSTART_SHIM_HANDOFF`): the program's listening
//! sockets are registered with the shim, which then passes it same-version client connections
//! instead of copying their bytes.
//!
//! - `listen`: after the real `listen` of a TCP socket, a Unix stream socket is connected to
//!   the shim's hand-off path and `UPSTART/1 listen ADDR\n` sent on it. The pair (listening
//!   socket, hand-off socket) is remembered.
//! - `accept` / `accept4` on a registered listening socket: a connection the shim passed
//!   (one byte with the descriptor attached) is returned first, with the flags asked for
//!   (`SOCK_NONBLOCK`, `SOCK_CLOEXEC`) and the peer's address; otherwise the real `accept`. A
//!   blocking listening socket waits on both.
//! - `epoll_ctl` on a registered listening socket: the hand-off socket is added to (modified
//!   in, removed from) the same epoll set with the same data, so an event loop that waits for
//!   the listening socket (tokio, libuv...) wakes up, calls `accept` and gets the connection.
//!
//! - `poll`, `ppoll`, `select`, `pselect` (module `wait`): a wait for a registered listening
//!   socket to be readable also waits for its hand-off socket, whose readiness is reported as
//!   the listening socket's.
//!
//! When the shim goes away (its end closes), the registration ends and the program accepts
//! only from its own socket again.

use crate::sys::{
    errno, or_enosys, real, real_connect, set_errno, socket_addr, socket_option, write_addr,
    write_all,
};
use libc::{c_int, c_void, epoll_event, sockaddr, socklen_t};
use std::ffi::CString;
use std::mem::size_of;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

type ListenFn = unsafe extern "C" fn(c_int, c_int) -> c_int;
type AcceptFn = unsafe extern "C" fn(c_int, *mut sockaddr, *mut socklen_t) -> c_int;
type Accept4Fn = unsafe extern "C" fn(c_int, *mut sockaddr, *mut socklen_t, c_int) -> c_int;
type EpollCtlFn = unsafe extern "C" fn(c_int, c_int, c_int, *mut epoll_event) -> c_int;

/// A registered listening socket.
#[derive(Debug)]
struct Registered {
    listen_fd: c_int,
    handoff_fd: c_int,
    /// The epoll sets the hand-off socket was added to.
    epolls: Vec<c_int>,
}

/// Every registration; `ANY` lets the hooks skip the lock in programs without one.
static TABLE: Mutex<Vec<Registered>> = Mutex::new(Vec::new());
static ANY: AtomicBool = AtomicBool::new(false);

fn table() -> MutexGuard<'static, Vec<Registered>> {
    match TABLE.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// The hand-off path, from the environment, once.
fn handoff_path() -> Option<&'static CString> {
    static PATH: OnceLock<Option<CString>> = OnceLock::new();
    PATH.get_or_init(|| {
        let path = std::env::var("UPSTART_SHIM_HANDOFF").ok()?;
        let path = path.trim();
        if path.is_empty() {
            return None;
        }
        CString::new(path).ok()
    })
    .as_ref()
}

/// The interposed `listen`.
///
/// # Safety
/// As for the C library's `listen` (any descriptor is acceptable).
#[no_mangle]
pub unsafe extern "C" fn listen(fd: c_int, backlog: c_int) -> c_int {
    let real = or_enosys!(real!(c"listen", ListenFn));
    // SAFETY: the caller's arguments, unchanged, to the function it meant to call.
    let rc = unsafe { real(fd, backlog) };
    if rc == 0 && handoff_path().is_some() {
        let saved = errno();
        // No panic may unwind into C; a failed registration only means no hand-off.
        let _ = std::panic::catch_unwind(|| register(fd));
        set_errno(saved);
    }
    rc
}

/// Registers the listening socket `fd` with the shim.
fn register(fd: c_int) {
    let Some(path) = handoff_path() else { return };
    let family = socket_option(fd, libc::SO_DOMAIN);
    if !matches!(family, Some(libc::AF_INET | libc::AF_INET6))
        || socket_option(fd, libc::SO_TYPE) != Some(libc::SOCK_STREAM)
    {
        return;
    }
    let Some(local) = socket_addr(fd, false) else {
        return;
    };
    match connect_unix(path) {
        Ok(handoff_fd) => {
            let line = format!("UPSTART/1 listen {local}\n");
            if let Err(e) = write_all(handoff_fd, line.as_bytes()) {
                eprintln!("upstart-preload: cannot register {local} with the shim: {e}");
                close(handoff_fd);
                return;
            }
            // SAFETY: sets a flag on the descriptor just made.
            unsafe { libc::fcntl(handoff_fd, libc::F_SETFL, libc::O_NONBLOCK) };
            let mut table = table();
            // A descriptor number reused after a close: the old registration is stale.
            if let Some(i) = table.iter().position(|r| r.listen_fd == fd) {
                let old = table.swap_remove(i);
                close(old.handoff_fd);
            }
            table.push(Registered {
                listen_fd: fd,
                handoff_fd,
                epolls: Vec::new(),
            });
            ANY.store(true, Ordering::Release);
        }
        Err(e) => eprintln!(
            "upstart-preload: no hand-off for {local}: cannot reach the shim at `{}`: {e}",
            path.to_string_lossy()
        ),
    }
}

fn connect_unix(path: &CString) -> std::io::Result<c_int> {
    let bytes = path.as_bytes_with_nul();
    // SAFETY: `sockaddr_un` is plain old data; all zeroes is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    if bytes.len() > addr.sun_path.len() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the path is too long for a Unix socket",
        ));
    }
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (dst, src) in addr.sun_path.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    // SAFETY: plain socket creation.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let Some(connect) = real_connect() else {
        close(fd);
        return Err(std::io::Error::from_raw_os_error(libc::ENOSYS));
    };
    // SAFETY: `addr` is a complete `sockaddr_un` and its size is passed.
    let rc = unsafe {
        connect(
            fd,
            std::ptr::addr_of!(addr).cast::<sockaddr>(),
            size_of::<libc::sockaddr_un>() as socklen_t,
        )
    };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        close(fd);
        return Err(e);
    }
    Ok(fd)
}

fn close(fd: c_int) {
    // SAFETY: closes a descriptor this library owns.
    unsafe { libc::close(fd) };
}

/// Whether any listening socket is registered (a lock-free check for the hot paths).
pub(crate) fn any_registered() -> bool {
    ANY.load(Ordering::Acquire)
}

/// The (listening, hand-off) pairs registered now.
pub(crate) fn registered_pairs() -> Vec<(c_int, c_int)> {
    table()
        .iter()
        .map(|r| (r.listen_fd, r.handoff_fd))
        .collect()
}

/// The hand-off socket of `listen_fd`, when it is registered.
fn handoff_of(listen_fd: c_int) -> Option<c_int> {
    if !ANY.load(Ordering::Acquire) {
        return None;
    }
    table()
        .iter()
        .find(|r| r.listen_fd == listen_fd)
        .map(|r| r.handoff_fd)
}

/// Ends the registration of `listen_fd`: out of the epoll sets, closed.
pub(crate) fn unregister(listen_fd: c_int) {
    let removed = {
        let mut table = table();
        table
            .iter()
            .position(|r| r.listen_fd == listen_fd)
            .map(|i| table.swap_remove(i))
    };
    if let Some(r) = removed {
        if let Some(ctl) = real!(c"epoll_ctl", EpollCtlFn) {
            for epfd in r.epolls {
                // SAFETY: removes a descriptor of ours from an epoll set; no event pointer is
                // read for `EPOLL_CTL_DEL`.
                unsafe {
                    ctl(
                        epfd,
                        libc::EPOLL_CTL_DEL,
                        r.handoff_fd,
                        std::ptr::null_mut(),
                    )
                };
            }
        }
        close(r.handoff_fd);
    }
}

/// The interposed `accept`.
///
/// # Safety
/// As for the C library's `accept`: `addr` is null or valid for `*len` bytes, `len` null or
/// valid.
#[no_mangle]
pub unsafe extern "C" fn accept(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    // SAFETY: the caller's contract, passed on.
    unsafe { accept_any(fd, addr, len, None) }
}

/// The interposed `accept4`.
///
/// # Safety
/// As for the C library's `accept4`.
#[no_mangle]
pub unsafe extern "C" fn accept4(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
    flags: c_int,
) -> c_int {
    // SAFETY: the caller's contract, passed on.
    unsafe { accept_any(fd, addr, len, Some(flags)) }
}

/// `accept` (`flags: None`) or `accept4`: a handed-off connection first, else the real one.
///
/// # Safety
/// As for the C library's `accept4`.
unsafe fn accept_any(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
    flags: Option<c_int>,
) -> c_int {
    let real = || -> c_int {
        match flags {
            Some(flags) => {
                let f = or_enosys!(real!(c"accept4", Accept4Fn));
                // SAFETY: the caller's arguments, unchanged, to the function it meant to call.
                unsafe { f(fd, addr, len, flags) }
            }
            None => {
                let f = or_enosys!(real!(c"accept", AcceptFn));
                // SAFETY: the caller's arguments, unchanged, to the function it meant to call.
                unsafe { f(fd, addr, len) }
            }
        }
    };
    let Some(handoff) = std::panic::catch_unwind(|| handoff_of(fd)).ok().flatten() else {
        return real();
    };
    let flags = flags.unwrap_or(0);
    loop {
        match take_handed(handoff, flags) {
            Handed::Fd(conn) => {
                if let Some(peer) = socket_addr(conn, true) {
                    // SAFETY: the caller's `addr` and `len`, as `accept` would fill them.
                    unsafe { write_addr(peer, addr, len) };
                }
                return conn;
            }
            Handed::Ended => {
                let _ = std::panic::catch_unwind(|| unregister(fd));
                return real();
            }
            Handed::Nothing => {}
        }
        // SAFETY: `fcntl(F_GETFL)` only reads the descriptor's flags.
        let listen_flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if listen_flags < 0 || listen_flags & libc::O_NONBLOCK != 0 {
            return real();
        }
        // A blocking listening socket: wait for either.
        let mut fds = [
            libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: handoff,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // The C library's `poll`, not the interposed one (which would add `handoff` again).
        let Some(real_poll) = real!(c"poll", crate::wait::PollFn) else {
            return real();
        };
        // SAFETY: two valid `pollfd`s.
        let ready = unsafe { real_poll(fds.as_mut_ptr(), 2, -1) };
        if ready < 0 {
            return -1; // EINTR and the like, as `accept` reports them
        }
        let [listening, handed] = fds;
        if handed.revents == 0 && listening.revents != 0 {
            return real();
        }
    }
}

enum Handed {
    Fd(c_int),
    Nothing,
    /// The shim closed its end (or the socket failed).
    Ended,
}

/// Takes one passed connection from `handoff` without waiting.
fn take_handed(handoff: c_int, flags: c_int) -> Handed {
    loop {
        let mut byte = 0u8;
        let mut iov = libc::iovec {
            iov_base: std::ptr::addr_of_mut!(byte).cast::<c_void>(),
            iov_len: 1,
        };
        // Room for one `cmsghdr` with one descriptor, aligned as `cmsghdr` requires.
        let mut control = [0u64; 8];
        // SAFETY: `msghdr` is plain old data; all zeroes is a valid value.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast::<c_void>();
        msg.msg_controllen = size_of::<[u64; 8]>() as _;
        let mut recv_flags = libc::MSG_DONTWAIT;
        if flags & libc::SOCK_CLOEXEC != 0 {
            recv_flags |= libc::MSG_CMSG_CLOEXEC;
        }
        // SAFETY: `msg` describes `byte` and `control`, both alive and writable.
        let n = unsafe { libc::recvmsg(handoff, &mut msg, recv_flags) };
        if n < 0 {
            return match errno() {
                libc::EINTR => continue,
                libc::EAGAIN => Handed::Nothing,
                _ => Handed::Ended,
            };
        }
        if n == 0 {
            return Handed::Ended;
        }
        let Some(conn) = descriptor_in(&msg) else {
            continue; // a byte without a descriptor: not ours to return
        };
        let nonblocking = flags & libc::SOCK_NONBLOCK != 0;
        // SAFETY: reads and sets the status flags of the descriptor just received. The shim
        // made it non-blocking and the flag belongs to the shared open file, so it is set to
        // what this `accept` asked for.
        unsafe {
            let current = libc::fcntl(conn, libc::F_GETFL);
            if current >= 0 {
                let wanted = if nonblocking {
                    current | libc::O_NONBLOCK
                } else {
                    current & !libc::O_NONBLOCK
                };
                libc::fcntl(conn, libc::F_SETFL, wanted);
            }
        }
        return Handed::Fd(conn);
    }
}

/// The descriptor of an `SCM_RIGHTS` message (extra ones, never sent by the shim, are closed).
fn descriptor_in(msg: &libc::msghdr) -> Option<c_int> {
    let mut found = None;
    // SAFETY: `msg` was filled by `recvmsg`; the CMSG macros walk its control buffer within
    // `msg_controllen`, and each data pointer is valid for the header's `cmsg_len`.
    unsafe {
        let mut header = libc::CMSG_FIRSTHDR(msg);
        while !header.is_null() {
            let h = &*header;
            if h.cmsg_level == libc::SOL_SOCKET && h.cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(header).cast::<c_int>();
                let bytes = (h.cmsg_len as usize).saturating_sub(libc::CMSG_LEN(0) as usize);
                for i in 0..bytes / size_of::<c_int>() {
                    let fd = data.add(i).read_unaligned();
                    if found.is_none() {
                        found = Some(fd);
                    } else {
                        close(fd);
                    }
                }
            }
            header = libc::CMSG_NXTHDR(msg, header);
        }
    }
    found
}

/// The interposed `epoll_ctl`.
///
/// # Safety
/// As for the C library's `epoll_ctl`: `event` is valid for reads for `EPOLL_CTL_ADD` and
/// `EPOLL_CTL_MOD`.
#[no_mangle]
pub unsafe extern "C" fn epoll_ctl(
    epfd: c_int,
    op: c_int,
    fd: c_int,
    event: *mut epoll_event,
) -> c_int {
    let real = or_enosys!(real!(c"epoll_ctl", EpollCtlFn));
    // SAFETY: the caller's arguments, unchanged, to the function it meant to call.
    let rc = unsafe { real(epfd, op, fd, event) };
    if rc == 0 && ANY.load(Ordering::Acquire) {
        let saved = errno();
        let read = if event.is_null() || op == libc::EPOLL_CTL_DEL {
            None
        } else {
            // SAFETY: for ADD and MOD the caller's `event` is valid for reads; the struct is
            // packed on some targets, so it is read unaligned.
            Some(unsafe { event.read_unaligned() })
        };
        let _ = std::panic::catch_unwind(|| mirror(real, epfd, op, fd, read));
        set_errno(saved);
    }
    rc
}

/// Applies to the hand-off socket of `fd` what was just done to `fd` in `epfd`.
fn mirror(real: EpollCtlFn, epfd: c_int, op: c_int, fd: c_int, event: Option<epoll_event>) {
    let Some(handoff) = handoff_of(fd) else {
        return;
    };
    // A descriptor number reused by something that does not listen: a stale registration.
    if socket_option(fd, libc::SO_ACCEPTCONN) != Some(1) {
        unregister(fd);
        return;
    }
    match (op, event) {
        (libc::EPOLL_CTL_DEL, _) => {
            // SAFETY: removes our descriptor; no event pointer is read for DEL.
            unsafe { real(epfd, libc::EPOLL_CTL_DEL, handoff, std::ptr::null_mut()) };
            if let Some(r) = table().iter_mut().find(|r| r.listen_fd == fd) {
                r.epolls.retain(|&e| e != epfd);
            }
        }
        (libc::EPOLL_CTL_ADD | libc::EPOLL_CTL_MOD, Some(event)) => {
            let keep = (libc::EPOLLET | libc::EPOLLONESHOT) as u32;
            let mut ours = epoll_event {
                events: libc::EPOLLIN as u32 | (event.events & keep),
                u64: event.u64,
            };
            // SAFETY: `ours` is a valid event for the call.
            let mut rc = unsafe { real(epfd, op, handoff, &mut ours) };
            if rc != 0 && op == libc::EPOLL_CTL_ADD && errno() == libc::EEXIST {
                // SAFETY: as above.
                rc = unsafe { real(epfd, libc::EPOLL_CTL_MOD, handoff, &mut ours) };
            }
            if rc != 0 && op == libc::EPOLL_CTL_MOD && errno() == libc::ENOENT {
                // SAFETY: as above.
                rc = unsafe { real(epfd, libc::EPOLL_CTL_ADD, handoff, &mut ours) };
            }
            if rc == 0 {
                if let Some(r) = table().iter_mut().find(|r| r.listen_fd == fd) {
                    if !r.epolls.contains(&epfd) {
                        r.epolls.push(epfd);
                    }
                }
            }
        }
        _ => {}
    }
}
