//! Waits that see handed-off connections: `poll`, `ppoll`, `select`, `pselect` (and the
//! fortified `__poll_chk`, `__ppoll_chk` that `_FORTIFY_SOURCE` builds call).
//!
//! A connection the shim hands off arrives on the listening socket's hand-off socket, not on
//! the listening socket, so a program waiting for its listening socket to be readable would
//! not wake up for it. When a wait asks for the readability of a registered listening socket,
//! the wait also asks for its hand-off socket's; the hand-off socket's readiness (a passed
//! descriptor, or the shim's end closing) is reported as the listening socket's `POLLIN`, and
//! the hand-off socket itself never shows in the caller's results. The program then calls
//! `accept`, which returns the handed-off connection (module `handoff`).
//!
//! Without a registration, or when the wait does not ask for a registered listening socket,
//! the C library's function is called with the caller's arguments, untouched. `epoll` waits
//! (`epoll_wait`, `epoll_pwait`, `epoll_pwait2`) need nothing here: `epoll_ctl` adds the
//! hand-off socket to the same set. `select` can only add a hand-off socket below
//! `FD_SETSIZE`; above, that wait sees handed-off connections at its next wake-up.

use crate::handoff::{any_registered, registered_pairs, unregister};
use crate::sys::{errno, or_enosys, real, set_errno, socket_option};
use libc::{c_int, fd_set, nfds_t, pollfd, sigset_t, size_t, timespec, timeval};
use std::mem::size_of;

pub(crate) type PollFn = unsafe extern "C" fn(*mut pollfd, nfds_t, c_int) -> c_int;
type PpollFn = unsafe extern "C" fn(*mut pollfd, nfds_t, *const timespec, *const sigset_t) -> c_int;
type PollChkFn = unsafe extern "C" fn(*mut pollfd, nfds_t, c_int, size_t) -> c_int;
type PpollChkFn =
    unsafe extern "C" fn(*mut pollfd, nfds_t, *const timespec, *const sigset_t, size_t) -> c_int;
type SelectFn =
    unsafe extern "C" fn(c_int, *mut fd_set, *mut fd_set, *mut fd_set, *mut timeval) -> c_int;
type PselectFn = unsafe extern "C" fn(
    c_int,
    *mut fd_set,
    *mut fd_set,
    *mut fd_set,
    *const timespec,
    *const sigset_t,
) -> c_int;

/// The interposed `poll`.
///
/// # Safety
/// As for the C library's `poll`: `fds` is valid for `nfds` entries.
#[no_mangle]
pub unsafe extern "C" fn poll(fds: *mut pollfd, nfds: nfds_t, timeout: c_int) -> c_int {
    let real = or_enosys!(real!(c"poll", PollFn));
    // SAFETY: the caller's contract; `wait` gets a valid array and its length.
    unsafe { poll_with(fds, nfds, |fds, n| real(fds, n, timeout)) }
}

/// The interposed `ppoll`.
///
/// # Safety
/// As for the C library's `ppoll`.
#[no_mangle]
pub unsafe extern "C" fn ppoll(
    fds: *mut pollfd,
    nfds: nfds_t,
    timeout: *const timespec,
    sigmask: *const sigset_t,
) -> c_int {
    let real = or_enosys!(real!(c"ppoll", PpollFn));
    // SAFETY: as above; `timeout` and `sigmask` are the caller's, passed on.
    unsafe { poll_with(fds, nfds, |fds, n| real(fds, n, timeout, sigmask)) }
}

/// The interposed `__poll_chk` (`poll` in a program built with `_FORTIFY_SOURCE`).
///
/// # Safety
/// As for the C library's `__poll_chk`.
#[no_mangle]
pub unsafe extern "C" fn __poll_chk(
    fds: *mut pollfd,
    nfds: nfds_t,
    timeout: c_int,
    fdslen: size_t,
) -> c_int {
    if (fdslen / size_of::<pollfd>()) < nfds as usize {
        // An overflow: the C library's check reports it (and aborts).
        return match real!(c"__poll_chk", PollChkFn) {
            // SAFETY: the caller's arguments, unchanged, to the function it meant to call.
            Some(chk) => unsafe { chk(fds, nfds, timeout, fdslen) },
            None => {
                set_errno(libc::EINVAL);
                -1
            }
        };
    }
    // SAFETY: `fds` holds `nfds` entries, as just checked against its size.
    unsafe { poll(fds, nfds, timeout) }
}

/// The interposed `__ppoll_chk` (`ppoll` in a program built with `_FORTIFY_SOURCE`).
///
/// # Safety
/// As for the C library's `__ppoll_chk`.
#[no_mangle]
pub unsafe extern "C" fn __ppoll_chk(
    fds: *mut pollfd,
    nfds: nfds_t,
    timeout: *const timespec,
    sigmask: *const sigset_t,
    fdslen: size_t,
) -> c_int {
    if (fdslen / size_of::<pollfd>()) < nfds as usize {
        return match real!(c"__ppoll_chk", PpollChkFn) {
            // SAFETY: the caller's arguments, unchanged, to the function it meant to call.
            Some(chk) => unsafe { chk(fds, nfds, timeout, sigmask, fdslen) },
            None => {
                set_errno(libc::EINVAL);
                -1
            }
        };
    }
    // SAFETY: `fds` holds `nfds` entries, as just checked against its size.
    unsafe { ppoll(fds, nfds, timeout, sigmask) }
}

/// A `poll`-like wait over the caller's `fds` with the hand-off sockets of the registered
/// listening sockets it waits to read added; their readiness reported as the listening
/// sockets' `POLLIN`.
///
/// # Safety
/// `fds` is null or valid for reads and writes of `nfds` entries.
unsafe fn poll_with(
    fds: *mut pollfd,
    nfds: nfds_t,
    wait: impl FnOnce(*mut pollfd, nfds_t) -> c_int,
) -> c_int {
    if fds.is_null() || nfds == 0 || !any_registered() {
        return wait(fds, nfds);
    }
    let pairs = registered_pairs();
    // SAFETY: the caller's `fds` holds `nfds` entries, not otherwise borrowed during the call.
    let given = unsafe { std::slice::from_raw_parts_mut(fds, nfds as usize) };
    let watched: Vec<(usize, c_int)> = given
        .iter()
        .enumerate()
        .filter(|(_, p)| p.fd >= 0 && p.events & libc::POLLIN != 0)
        .filter_map(|(i, p)| {
            pairs
                .iter()
                .find(|(listen, _)| *listen == p.fd)
                .map(|&(_, handoff)| (i, handoff))
        })
        .collect();
    if watched.is_empty() {
        return wait(fds, nfds);
    }
    let mut all = Vec::with_capacity(given.len() + watched.len());
    all.extend_from_slice(given);
    all.extend(watched.iter().map(|&(_, handoff)| pollfd {
        fd: handoff,
        events: libc::POLLIN,
        revents: 0,
    }));
    let rc = wait(all.as_mut_ptr(), all.len() as nfds_t);
    if rc <= 0 {
        for (g, a) in given.iter_mut().zip(&all) {
            g.revents = a.revents;
        }
        return rc;
    }
    let saved = errno();
    let (own, extra) = all.split_at(given.len());
    for (g, a) in given.iter_mut().zip(own) {
        g.revents = a.revents;
    }
    for (&(i, _), handoff) in watched.iter().zip(extra) {
        if handoff.revents == 0 {
            continue;
        }
        if let Some(g) = given.get_mut(i) {
            if still_listening(g.fd) {
                g.revents |= libc::POLLIN;
            }
        }
    }
    set_errno(saved);
    given.iter().filter(|p| p.revents != 0).count() as c_int
}

/// Whether the registered `fd` still listens; a descriptor number reused by something else
/// ends its stale registration (the program closed its listening socket).
fn still_listening(fd: c_int) -> bool {
    if socket_option(fd, libc::SO_ACCEPTCONN) == Some(1) {
        return true;
    }
    unregister(fd);
    false
}

/// The interposed `select`.
///
/// # Safety
/// As for the C library's `select`.
#[no_mangle]
pub unsafe extern "C" fn select(
    nfds: c_int,
    readfds: *mut fd_set,
    writefds: *mut fd_set,
    exceptfds: *mut fd_set,
    timeout: *mut timeval,
) -> c_int {
    let real = or_enosys!(real!(c"select", SelectFn));
    // SAFETY: the caller's contract; the sets are the caller's, with `n` covering them.
    unsafe {
        select_with(nfds, readfds, |n| {
            real(n, readfds, writefds, exceptfds, timeout)
        })
    }
}

/// The interposed `pselect`.
///
/// # Safety
/// As for the C library's `pselect`.
#[no_mangle]
pub unsafe extern "C" fn pselect(
    nfds: c_int,
    readfds: *mut fd_set,
    writefds: *mut fd_set,
    exceptfds: *mut fd_set,
    timeout: *const timespec,
    sigmask: *const sigset_t,
) -> c_int {
    let real = or_enosys!(real!(c"pselect", PselectFn));
    // SAFETY: as for `select`.
    unsafe {
        select_with(nfds, readfds, |n| {
            real(n, readfds, writefds, exceptfds, timeout, sigmask)
        })
    }
}

/// A `select`-like wait with the hand-off sockets of the registered listening sockets in
/// `readfds` added to it (below `FD_SETSIZE`); their readiness reported as the listening
/// sockets'. `wait` is called with the number of descriptors to cover.
///
/// # Safety
/// `readfds` is null or a valid `fd_set`, which `wait` is the only other user of.
unsafe fn select_with(
    nfds: c_int,
    readfds: *mut fd_set,
    wait: impl FnOnce(c_int) -> c_int,
) -> c_int {
    if readfds.is_null() || nfds <= 0 || !any_registered() {
        return wait(nfds);
    }
    let limit = libc::FD_SETSIZE as c_int;
    // Every `FD_*` below is given the caller's valid `readfds` and a descriptor in
    // `0..FD_SETSIZE`.
    let in_set = |fd: c_int| {
        // SAFETY: as above.
        unsafe { libc::FD_ISSET(fd, readfds) }
    };
    let watched: Vec<(c_int, c_int)> = registered_pairs()
        .into_iter()
        .filter(|&(listen, handoff)| {
            (0..nfds.min(limit)).contains(&listen)
                && (0..limit).contains(&handoff)
                && in_set(listen)
                && !in_set(handoff)
        })
        .collect();
    if watched.is_empty() {
        return wait(nfds);
    }
    let mut top = nfds;
    for &(_, handoff) in &watched {
        // SAFETY: as above.
        unsafe { libc::FD_SET(handoff, readfds) };
        top = top.max(handoff + 1);
    }
    let rc = wait(top);
    let saved = errno();
    let mut count = rc;
    for &(listen, handoff) in &watched {
        let ready = in_set(handoff);
        // SAFETY: as above.
        unsafe { libc::FD_CLR(handoff, readfds) };
        if rc <= 0 || !ready {
            continue;
        }
        if in_set(listen) {
            count -= 1; // both were counted; the caller asked for one
        } else if still_listening(listen) {
            // SAFETY: as above.
            unsafe { libc::FD_SET(listen, readfds) };
        } else {
            count -= 1;
        }
    }
    set_errno(saved);
    count
}
