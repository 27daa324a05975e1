//! The LD_PRELOAD library: redirects an unmodified node program's outgoing `connect`s to its
//! peers through the local shim, as the original Upstart's interposed socket library did, so
//! the program keeps its peers' real addresses and needs no configuration.
//!
//! ```sh
//! UPSTART_SHIM_OUTBOUND=127.0.0.1:7400 UPSTART_REDIRECT=10.0.0.2:7000,10.0.0.3:7000 \
//!     LD_PRELOAD=libupstart_preload.so ./node ...
//! ```
//!
//! - `UPSTART_SHIM_OUTBOUND`: the shim's outbound port ([`shim::ShimConfig::outbound`]). Unset,
//!   the library does nothing.
//! - `UPSTART_REDIRECT`: the destinations to redirect, comma-separated `IP:PORT`s, or `*` for
//!   every TCP destination but the shim itself. Unset: nothing is redirected.
//!
//! A redirected `connect` connects the socket to the shim instead, sends
//! `UPSTART/1 connect DEST\n` and waits for `UPSTART/1 ok\n`, which the shim sends once it
//! reached the peer's shim. A refusal (`UPSTART/1 error ...`) fails the `connect` with
//! `ECONNREFUSED`, as an unreachable peer would. A non-blocking socket is made blocking for the
//! exchange (on loopback) and restored, and `connect` then reports success at once.
//!
//! Linux only. This crate is the one place of the workspace besides the plugin loader with
//! `unsafe` code: the interposed C entry point and the raw socket calls it makes.
#![allow(unsafe_code)]

#[cfg(target_os = "linux")]
mod linux {
    use libc::{c_int, c_void, sockaddr, sockaddr_in, sockaddr_in6, socklen_t};
    use std::mem::size_of;
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
    use std::sync::OnceLock;

    type ConnectFn = unsafe extern "C" fn(c_int, *const sockaddr, socklen_t) -> c_int;

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

    /// The C library's `connect`, found once.
    fn real_connect() -> Option<ConnectFn> {
        static REAL: OnceLock<usize> = OnceLock::new();
        let address = *REAL.get_or_init(|| {
            // SAFETY: `dlsym` with `RTLD_NEXT` and a NUL-terminated name only looks the symbol
            // up in the objects loaded after this one; it has no other precondition.
            unsafe { libc::dlsym(libc::RTLD_NEXT, c"connect".as_ptr()) as usize }
        });
        if address == 0 {
            return None;
        }
        // SAFETY: the symbol `connect` of the C library has exactly this signature (POSIX), and
        // a non-null result of `dlsym` is the address of that function.
        Some(unsafe { std::mem::transmute::<usize, ConnectFn>(address) })
    }

    fn set_errno(code: c_int) {
        // SAFETY: `__errno_location` returns a valid pointer to this thread's errno.
        unsafe { *libc::__errno_location() = code };
    }

    /// The interposed `connect`.
    ///
    /// # Safety
    /// As for the C library's `connect`: `addr` points at `len` readable bytes of a socket
    /// address (or is null, which the C library refuses).
    #[no_mangle]
    pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
        let Some(real) = real_connect() else {
            set_errno(libc::ENOSYS);
            return -1;
        };
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

    /// The socket address behind a C `sockaddr`, if IPv4 or IPv6.
    ///
    /// # Safety
    /// `addr` is null or points at `len` readable bytes.
    unsafe fn read_addr(addr: *const sockaddr, len: socklen_t) -> Option<SocketAddr> {
        if addr.is_null() || (len as usize) < size_of::<libc::sa_family_t>() {
            return None;
        }
        // SAFETY: `addr` points at enough bytes for the family field, which every socket
        // address starts with; read unaligned as the caller may not align it.
        let family = unsafe { std::ptr::addr_of!((*addr).sa_family).read_unaligned() };
        match c_int::from(family) {
            libc::AF_INET if len as usize >= size_of::<sockaddr_in>() => {
                // SAFETY: the family says it is a `sockaddr_in`, and `len` covers one.
                let a = unsafe { addr.cast::<sockaddr_in>().read_unaligned() };
                let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
                Some(SocketAddr::V4(SocketAddrV4::new(
                    ip,
                    u16::from_be(a.sin_port),
                )))
            }
            libc::AF_INET6 if len as usize >= size_of::<sockaddr_in6>() => {
                // SAFETY: the family says it is a `sockaddr_in6`, and `len` covers one.
                let a = unsafe { addr.cast::<sockaddr_in6>().read_unaligned() };
                let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
                Some(SocketAddr::V6(SocketAddrV6::new(
                    ip,
                    u16::from_be(a.sin6_port),
                    a.sin6_flowinfo,
                    a.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }

    /// `::ffff:a.b.c.d:p` as `a.b.c.d:p`.
    fn unmapped(addr: SocketAddr) -> SocketAddr {
        match addr {
            SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
                Some(v4) => SocketAddr::new(v4.into(), v6.port()),
                None => addr,
            },
            v4 => v4,
        }
    }

    fn is_stream(fd: c_int) -> bool {
        let mut kind: c_int = 0;
        let mut len = size_of::<c_int>() as socklen_t;
        // SAFETY: `kind` and `len` are valid for writes of the sizes given.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_TYPE,
                std::ptr::addr_of_mut!(kind).cast::<c_void>(),
                &mut len,
            )
        };
        rc == 0 && kind == libc::SOCK_STREAM
    }

    fn socket_family(fd: c_int) -> Option<c_int> {
        let mut family: c_int = 0;
        let mut len = size_of::<c_int>() as socklen_t;
        // SAFETY: `family` and `len` are valid for writes of the sizes given.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_DOMAIN,
                std::ptr::addr_of_mut!(family).cast::<c_void>(),
                &mut len,
            )
        };
        (rc == 0).then_some(family)
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
        let rc = match (family, shim) {
            (libc::AF_INET, SocketAddr::V4(v4)) => {
                let a = sockaddr_v4(v4);
                // SAFETY: `a` is a complete `sockaddr_in` and its size is passed.
                unsafe {
                    real(
                        fd,
                        std::ptr::addr_of!(a).cast::<sockaddr>(),
                        size_of::<sockaddr_in>() as socklen_t,
                    )
                }
            }
            (libc::AF_INET6, shim) => {
                let v6 = match shim {
                    SocketAddr::V6(v6) => v6,
                    SocketAddr::V4(v4) => {
                        SocketAddrV6::new(v4.ip().to_ipv6_mapped(), v4.port(), 0, 0)
                    }
                };
                let a = sockaddr_v6(v6);
                // SAFETY: `a` is a complete `sockaddr_in6` and its size is passed.
                unsafe {
                    real(
                        fd,
                        std::ptr::addr_of!(a).cast::<sockaddr>(),
                        size_of::<sockaddr_in6>() as socklen_t,
                    )
                }
            }
            _ => {
                return Err((
                    libc::EAFNOSUPPORT,
                    "the shim's address family does not fit the socket".into(),
                ))
            }
        };
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
        let answer = read_line(fd)
            .map_err(|e| (libc::ECONNREFUSED, format!("no answer from the shim: {e}")))?;
        if answer == "UPSTART/1 ok" {
            Ok(())
        } else {
            Err((libc::ECONNREFUSED, answer))
        }
    }

    fn sockaddr_v4(addr: SocketAddrV4) -> sockaddr_in {
        // SAFETY: `sockaddr_in` is plain old data; all zeroes is a valid value.
        let mut a: sockaddr_in = unsafe { std::mem::zeroed() };
        a.sin_family = libc::AF_INET as libc::sa_family_t;
        a.sin_port = addr.port().to_be();
        a.sin_addr.s_addr = u32::from(*addr.ip()).to_be();
        a
    }

    fn sockaddr_v6(addr: SocketAddrV6) -> sockaddr_in6 {
        // SAFETY: `sockaddr_in6` is plain old data; all zeroes is a valid value.
        let mut a: sockaddr_in6 = unsafe { std::mem::zeroed() };
        a.sin6_family = libc::AF_INET6 as libc::sa_family_t;
        a.sin6_port = addr.port().to_be();
        a.sin6_addr.s6_addr = addr.ip().octets();
        a.sin6_flowinfo = addr.flowinfo();
        a.sin6_scope_id = addr.scope_id();
        a
    }

    fn write_all(fd: c_int, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            // SAFETY: `bytes` is valid for reads of its length.
            let n = unsafe { libc::write(fd, bytes.as_ptr().cast::<c_void>(), bytes.len()) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            bytes = bytes.get(n as usize..).unwrap_or_default();
        }
        Ok(())
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
            if ready < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if ready == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the shim did not answer in time",
                ));
            }
            let mut byte = 0u8;
            // SAFETY: reads at most one byte into `byte`.
            let n = unsafe { libc::read(fd, std::ptr::addr_of_mut!(byte).cast::<c_void>(), 1) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the shim closed the connection",
                ));
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
}

#[cfg(target_os = "linux")]
pub use linux::connect;
