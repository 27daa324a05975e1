//! The C-library plumbing the interposed functions share: finding the real functions,
//! `errno`, socket addresses in and out of their C form, and plain blocking writes.

use libc::{c_int, c_void, sockaddr, sockaddr_in, sockaddr_in6, socklen_t};
use std::mem::size_of;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::OnceLock;

pub(crate) type ConnectFn = unsafe extern "C" fn(c_int, *const sockaddr, socklen_t) -> c_int;

/// The address of the next definition of the C function `name` (the C library's), looked up
/// once per `cache`; 0 when there is none.
pub(crate) fn next_symbol(cache: &OnceLock<usize>, name: &std::ffi::CStr) -> usize {
    *cache.get_or_init(|| {
        // SAFETY: `dlsym` with `RTLD_NEXT` and a NUL-terminated name only looks the symbol up
        // in the objects loaded after this one; it has no other precondition.
        unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) as usize }
    })
}

/// The next definition of the C function `$name` as a `$ty`, looked up once per call site;
/// `None` when there is none.
macro_rules! real {
    ($name:literal, $ty:ty) => {{
        static REAL: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        let address = $crate::sys::next_symbol(&REAL, $name);
        if address == 0 {
            None
        } else {
            // SAFETY: the C library's function of this name has exactly this signature (POSIX
            // or Linux), and a non-null result of `dlsym` is its address.
            Some(unsafe { std::mem::transmute::<usize, $ty>(address) })
        }
    }};
}
pub(crate) use real;

/// The function `$found` holds (from [`real!`] or [`real_connect`]), or, when there is none, a
/// return from the calling interposer as the call fails without the C library's function:
/// `-1`, `errno` `ENOSYS`.
macro_rules! or_enosys {
    ($found:expr) => {
        match $found {
            Some(f) => f,
            None => {
                $crate::sys::set_errno(libc::ENOSYS);
                return -1;
            }
        }
    };
}
pub(crate) use or_enosys;

/// This thread's `errno`.
pub(crate) fn errno() -> c_int {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// The C library's `connect`, found once.
pub(crate) fn real_connect() -> Option<ConnectFn> {
    real!(c"connect", ConnectFn)
}

pub(crate) fn set_errno(code: c_int) {
    // SAFETY: `__errno_location` returns a valid pointer to this thread's errno.
    unsafe { *libc::__errno_location() = code };
}

/// The socket address behind a C `sockaddr`, if IPv4 or IPv6.
///
/// # Safety
/// `addr` is null or points at `len` readable bytes.
pub(crate) unsafe fn read_addr(addr: *const sockaddr, len: socklen_t) -> Option<SocketAddr> {
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
pub(crate) fn unmapped(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(v4.into(), v6.port()),
            None => addr,
        },
        v4 => v4,
    }
}

pub(crate) fn is_stream(fd: c_int) -> bool {
    socket_option(fd, libc::SO_TYPE) == Some(libc::SOCK_STREAM)
}

pub(crate) fn socket_family(fd: c_int) -> Option<c_int> {
    socket_option(fd, libc::SO_DOMAIN)
}

/// A socket address in its C form, for the calls that take a `sockaddr` and its size.
pub(crate) enum CAddr {
    V4(sockaddr_in),
    V6(sockaddr_in6),
}

impl CAddr {
    pub(crate) fn new(addr: SocketAddr) -> CAddr {
        match addr {
            SocketAddr::V4(a) => CAddr::V4(sockaddr_v4(a)),
            SocketAddr::V6(a) => CAddr::V6(sockaddr_v6(a)),
        }
    }

    /// The address as `connect` takes it, and its size: valid while `self` is.
    pub(crate) fn as_raw(&self) -> (*const sockaddr, socklen_t) {
        let (ptr, size) = match self {
            CAddr::V4(a) => (
                std::ptr::addr_of!(*a).cast::<sockaddr>(),
                size_of::<sockaddr_in>(),
            ),
            CAddr::V6(a) => (
                std::ptr::addr_of!(*a).cast::<sockaddr>(),
                size_of::<sockaddr_in6>(),
            ),
        };
        (ptr, size as socklen_t)
    }
}

pub(crate) fn sockaddr_v4(addr: SocketAddrV4) -> sockaddr_in {
    // SAFETY: `sockaddr_in` is plain old data; all zeroes is a valid value.
    let mut a: sockaddr_in = unsafe { std::mem::zeroed() };
    a.sin_family = libc::AF_INET as libc::sa_family_t;
    a.sin_port = addr.port().to_be();
    a.sin_addr.s_addr = u32::from(*addr.ip()).to_be();
    a
}

pub(crate) fn sockaddr_v6(addr: SocketAddrV6) -> sockaddr_in6 {
    // SAFETY: `sockaddr_in6` is plain old data; all zeroes is a valid value.
    let mut a: sockaddr_in6 = unsafe { std::mem::zeroed() };
    a.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    a.sin6_port = addr.port().to_be();
    a.sin6_addr.s6_addr = addr.ip().octets();
    a.sin6_flowinfo = addr.flowinfo();
    a.sin6_scope_id = addr.scope_id();
    a
}

pub(crate) fn write_all(fd: c_int, mut bytes: &[u8]) -> std::io::Result<()> {
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

/// Writes `addr` into a caller's `sockaddr` buffer of `*len` bytes as `accept` does: truncated
/// to the buffer, `*len` set to the full size. Nothing when `out` or `len` is null.
///
/// # Safety
/// `out` is null or valid for writes of `*len` bytes; `len` is null or valid for reads and
/// writes.
pub(crate) unsafe fn write_addr(addr: SocketAddr, out: *mut sockaddr, len: *mut socklen_t) {
    if out.is_null() || len.is_null() {
        return;
    }
    let c_addr = CAddr::new(addr);
    let (ptr, size) = c_addr.as_raw();
    let (ptr, size) = (ptr.cast::<u8>(), size as usize);
    // SAFETY: `len` is valid for reads and writes (the caller's contract).
    let room = unsafe { *len } as usize;
    // SAFETY: `ptr` points at `size` bytes of a local socket address; `out` is valid for
    // `room` bytes; the copy takes the smaller of the two, and the regions cannot overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(ptr, out.cast::<u8>(), size.min(room));
        *len = size as socklen_t;
    }
}

/// The address of the peer (`peer`) or the local end of a socket.
pub(crate) fn socket_addr(fd: c_int, peer: bool) -> Option<SocketAddr> {
    // SAFETY: `sockaddr_storage` is plain old data; all zeroes is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::sockaddr_storage>() as socklen_t;
    let out = std::ptr::addr_of_mut!(storage).cast::<sockaddr>();
    // SAFETY: `out` and `len` describe the whole of `storage`.
    let rc = unsafe {
        if peer {
            libc::getpeername(fd, out, &mut len)
        } else {
            libc::getsockname(fd, out, &mut len)
        }
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: the kernel wrote a socket address of `len` bytes into `storage`.
    unsafe { read_addr(out, len) }
}

/// An integer socket option of `fd` (`SOL_SOCKET`).
pub(crate) fn socket_option(fd: c_int, option: c_int) -> Option<c_int> {
    let mut value: c_int = 0;
    let mut len = size_of::<c_int>() as socklen_t;
    // SAFETY: `value` and `len` are valid for writes of the sizes given.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            option,
            std::ptr::addr_of_mut!(value).cast::<c_void>(),
            &mut len,
        )
    };
    (rc == 0).then_some(value)
}
