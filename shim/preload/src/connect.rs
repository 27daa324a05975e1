//! Redirection of outgoing `connect`s to peers through the shim (`UPSTART_SHIM_OUTBOUND`).

use crate::sys::{
    is_stream, or_enosys, read_addr, real_connect, set_errno, socket_family, unmapped, write_all,
    CAddr, ConnectFn,
};
use libc::{c_int, c_void, sockaddr, socklen_t};
use std::net::{SocketAddr, SocketAddrV6};
use std::sync::OnceLock;

/// How long to wait for the shim's answer.
const ANSWER_TIMEOUT_MS: c_int = 15_000;
const MAX_ANSWER: usize = 512;

#[derive(Debug)]
struct Config {
    shim: SocketAddr,
    redirect: Redirect,
}

#[derive(Debug)]
enum Redirect {
    All,
    Only(Vec<SocketAddr>),
}

fn config() -> Option<&'static Config> {
    static CONFIG: OnceLock<Option<Config>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let shim = std::env::var("UPSTART_SHIM_OUTBOUND")
                .ok()?
                .trim()
                .parse()
                .ok()?;
            let list = std::env::var("UPSTART_REDIRECT").unwrap_or_default();
            let redirect = if list.trim() == "*" {
                Redirect::All
            } else {
                Redirect::Only(
                    list.split(',')
                        .filter_map(|a| a.trim().parse().ok())
                        .collect(),
                )
            };
            Some(Config { shim, redirect })
        })
        .as_ref()
}

/// The interposed `connect`.
///
/// # Safety
/// As for the C library's `connect`: `addr` points at `len` readable bytes of a socket
/// address (or is null, which the C library refuses).
#[no_mangle]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    let real = or_enosys!(real_connect());
    // No panic may unwind into C: a failure to decide means "do not redirect".
    let target = std::panic::catch_unwind(|| {
        // SAFETY: the caller's contract on `addr` and `len`, passed on.
        unsafe { decide(fd, addr, len) }
    })
    .ok()
    .flatten();
    match target {
        // SAFETY: the caller's arguments, unchanged, to the function it meant to call.
        None => unsafe { real(fd, addr, len) },
        Some((shim, dest)) => std::panic::catch_unwind(|| redirect(real, fd, shim, dest))
            .unwrap_or_else(|_| {
                set_errno(libc::ECONNREFUSED);
                -1
            }),
    }
}

/// The shim and destination when this `connect` is to be redirected.
///
/// # Safety
/// `addr` is null or points at `len` readable bytes.
unsafe fn decide(
    fd: c_int,
    addr: *const sockaddr,
    len: socklen_t,
) -> Option<(SocketAddr, SocketAddr)> {
    let config = config()?;
    // SAFETY: passed on from the caller.
    let dest = unsafe { read_addr(addr, len) }?;
    if dest == config.shim || !is_stream(fd) {
        return None;
    }
    let wanted = match &config.redirect {
        Redirect::All => true,
        Redirect::Only(list) => list.contains(&dest) || list.contains(&unmapped(dest)),
    };
    wanted.then_some((config.shim, dest))
}

/// Connects `fd` to the shim, asks it for `dest`, and reports as `connect` does.
fn redirect(real: ConnectFn, fd: c_int, shim: SocketAddr, dest: SocketAddr) -> c_int {
    // SAFETY: `fcntl(F_GETFL)` only reads the descriptor's flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    let nonblocking = flags >= 0 && flags & libc::O_NONBLOCK != 0;
    if nonblocking {
        // SAFETY: clears one flag of a descriptor the caller owns; restored below.
        unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) };
    }
    let outcome = exchange(real, fd, shim, dest);
    if nonblocking {
        // SAFETY: restores the flags read above.
        unsafe { libc::fcntl(fd, libc::F_SETFL, flags) };
    }
    match outcome {
        Ok(()) => 0,
        Err((errno, why)) => {
            eprintln!(
                "upstart-preload: connect to {dest} through the shim at {shim} failed: {why}"
            );
            set_errno(errno);
            -1
        }
    }
}

fn exchange(
    real: ConnectFn,
    fd: c_int,
    shim: SocketAddr,
    dest: SocketAddr,
) -> Result<(), (c_int, String)> {
    let family = socket_family(fd).unwrap_or(libc::AF_INET);
    let target = match (family, shim) {
        (libc::AF_INET, SocketAddr::V4(v4)) => SocketAddr::V4(v4),
        (libc::AF_INET6, SocketAddr::V6(v6)) => SocketAddr::V6(v6),
        (libc::AF_INET6, SocketAddr::V4(v4)) => {
            SocketAddr::V6(SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0))
        }
        _ => {
            return Err((
                libc::EAFNOSUPPORT,
                "the shim's address family does not fit the socket".into(),
            ))
        }
    };
    let c_addr = CAddr::new(target);
    let (addr, len) = c_addr.as_raw();
    // SAFETY: `addr` points at a complete socket address of `len` bytes, alive for the call.
    let rc = unsafe { real(fd, addr, len) };
    if rc != 0 {
        let errno = std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::ECONNREFUSED);
        return Err((
            errno,
            format!(
                "cannot reach the shim: {}",
                std::io::Error::from_raw_os_error(errno)
            ),
        ));
    }
    let request = format!("UPSTART/1 connect {dest}\n");
    write_all(fd, request.as_bytes())
        .map_err(|e| (libc::ECONNREFUSED, format!("cannot ask the shim: {e}")))?;
    let answer =
        read_line(fd).map_err(|e| (libc::ECONNREFUSED, format!("no answer from the shim: {e}")))?;
    if answer == "UPSTART/1 ok" {
        Ok(())
    } else {
        Err((libc::ECONNREFUSED, answer))
    }
}

/// What a call's result `rc` says: `true` for a count of one or more, `false` when a signal
/// interrupted it (call again), the error otherwise, and `nothing` as an error for `0`.
fn went_on(rc: isize, nothing: (std::io::ErrorKind, &'static str)) -> std::io::Result<bool> {
    match rc {
        0 => Err(std::io::Error::new(nothing.0, nothing.1)),
        n if n > 0 => Ok(true),
        _ => {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(e)
            }
        }
    }
}

/// Reads the shim's one-line answer, a byte at a time so that nothing after it is taken
/// from the program.
fn read_line(fd: c_int) -> std::io::Result<String> {
    let mut line = Vec::new();
    while line.len() < MAX_ANSWER {
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid `pollfd`.
        let ready = unsafe { libc::poll(&mut poll, 1, ANSWER_TIMEOUT_MS) };
        let timed_out = (
            std::io::ErrorKind::TimedOut,
            "the shim did not answer in time",
        );
        if !went_on(ready as isize, timed_out)? {
            continue;
        }
        let mut byte = 0u8;
        // SAFETY: reads at most one byte into `byte`.
        let n = unsafe { libc::read(fd, std::ptr::addr_of_mut!(byte).cast::<c_void>(), 1) };
        let closed = (
            std::io::ErrorKind::UnexpectedEof,
            "the shim closed the connection",
        );
        if !went_on(n, closed)? {
            continue;
        }
        if byte == b'\n' {
            return Ok(String::from_utf8_lossy(&line)
                .trim_end_matches('\r')
                .to_string());
        }
        line.push(byte);
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        "the shim's answer is too long",
    ))
}
