//! Connection hand-off: the same-version fast path without the shim in it.
//!
//! Copying bytes costs every request two extra socket reads and writes and a wakeup of the
//! shim. When the node program runs under the LD_PRELOAD library with `UPSTART_SHIM_HANDOFF`
//! set to [`ShimConfig::handoff`](crate::ShimConfig::handoff), its `listen` registers each
//! listening socket here over a Unix socket (`UPSTART/1 listen ADDR\n`). From then on an
//! inbound connection that would take the fast path is passed to the program itself (the file
//! descriptor, with `SCM_RIGHTS`, after one byte `h`); its `accept` returns it as if it had
//! come from the listening socket, and the shim is out of the connection's path.
//!
//! A connection qualifies when nothing of it is left unread in the shim and its first bytes
//! came (peeked and left in place, by the first-bytes deadline: a silent socket never reaches
//! the program, it is closed at the deadline): on a port pinned to the node's version; on a
//! port that follows the node's version when those bytes are not a shim's handshake; from a
//! peer's shim at the node's version once the handshake is answered, when nothing came after
//! it (the peer waits for the answer). With `server_first` (the node may speak first), a
//! pinned port's connection is handed off at once, and a silent one on a following port after
//! [`SNIFF_WAIT`] (a shim always speaks first). Without a registration for the node's
//! address, or when a send fails, the connection takes the copying path as before. A
//! handed-off connection belongs to the program: it ends when the program stops (so at an
//! upgrade, as a copied one does), draining does not wait for it, and the shim's idle and frame
//! deadlines no longer apply to it.

use crate::context::{Phase, Shared};
use crate::handshake::{self, Start};
use crate::limits::Slot;
use crate::route::Route;
use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
use std::io::IoSlice;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, Interest};
use tokio::net::{TcpStream, UnixListener, UnixStream};

/// With `server_first`, how long a connection on a port that follows the node's version may
/// stay silent before it is taken for an outside client (a peer's shim sends its handshake as
/// soon as it connects); also how long a silent caller waits before the shim connects it to a
/// node that may speak first.
pub const SNIFF_WAIT: Duration = Duration::from_millis(200);

/// The longest registration line read.
const MAX_REGISTRATION: usize = 256;

/// Accepts the LD_PRELOAD library's registrations.
pub(crate) async fn serve(listener: UnixListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(register(stream, Arc::clone(&shared)));
            }
            Err(e) => {
                tracing::warn!(error = %e, "hand-off: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Reads one registration and keeps it until the program closes its end.
async fn register(mut stream: UnixStream, shared: Arc<Shared>) {
    let line =
        match tokio::time::timeout(shared.config.connect_timeout, read_line(&mut stream)).await {
            Ok(Ok(line)) => line,
            Ok(Err(why)) => {
                tracing::warn!("hand-off: bad registration: {why}");
                return;
            }
            Err(_) => {
                tracing::warn!("hand-off: no registration in time");
                return;
            }
        };
    let addr = match parse_registration(&line) {
        Ok(addr) => addr,
        Err(why) => {
            tracing::warn!("hand-off: bad registration `{line}`: {why}");
            return;
        }
    };
    let stream = Arc::new(stream);
    let id = shared.handoff.add(addr, Arc::clone(&stream));
    tracing::info!(%addr, "hand-off: the node program registered a listening socket");
    // The library writes nothing after its registration: data or the end of the stream means
    // the program closed the socket (or exited) or misbehaves; either way the registration ends.
    let mut probe = [0u8; 1];
    loop {
        if stream.readable().await.is_err() {
            break;
        }
        match stream.try_read(&mut probe) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            _ => break,
        }
    }
    shared.handoff.remove(id);
    tracing::info!(%addr, "hand-off: registration ended");
}

async fn read_line(stream: &mut UnixStream) -> Result<String, String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    // A byte at a time: the registration is one short line, and nothing after it is ours.
    while line.len() < MAX_REGISTRATION {
        let n = stream.read(&mut byte).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed before the end of the line".into());
        }
        if byte == [b'\n'] {
            return String::from_utf8(line).map_err(|_| "not UTF-8".to_string());
        }
        line.extend_from_slice(&byte);
    }
    Err(format!("longer than {MAX_REGISTRATION} bytes"))
}

/// Why a line is no registration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    #[error("expected `UPSTART/1 listen ADDR`")]
    NotListen,
    #[error("`{text}` is not a socket address")]
    BadAddress {
        text: String,
        #[source]
        source: std::net::AddrParseError,
    },
}

/// `UPSTART/1 listen ADDR`.
pub fn parse_registration(line: &str) -> Result<SocketAddr, RegistrationError> {
    let rest = line
        .trim_end_matches('\r')
        .strip_prefix("UPSTART/1 listen ")
        .ok_or(RegistrationError::NotListen)?;
    rest.trim()
        .parse()
        .map_err(|source| RegistrationError::BadAddress {
            text: rest.to_string(),
            source,
        })
}

/// What became of a just-accepted connection offered for hand-off.
pub(crate) enum Offer {
    /// The node program has it now.
    Given,
    /// Not handed off: the shim serves it (nothing of it was read).
    Kept(TcpStream),
    /// Closed: no first bytes by the deadline, or a newcomer took its slot.
    Gone,
}

/// Passes a just-accepted `client` to the node program when it qualifies (see the module
/// header); gives it back otherwise, untouched. Its first bytes must have come (by `deadline`)
/// before it is handed off, so a silent socket never reaches the program, unless the node's
/// protocol may speak first (`server_first`: then as soon as it qualifies).
pub(crate) async fn try_give(
    client: TcpStream,
    listener_version: Option<u64>,
    shared: &Shared,
    route: &Route,
    slot: &Slot,
    deadline: tokio::time::Instant,
) -> Offer {
    if target(shared, route).is_none() {
        return Offer::Kept(client);
    }
    let server_first = shared.config.limits.server_first;
    let wait = if server_first {
        deadline.min(tokio::time::Instant::now() + SNIFF_WAIT)
    } else {
        deadline
    };
    let pinned = match listener_version {
        Some(v) if v == route.node_version => true,
        Some(_) => return Offer::Kept(client),
        None => false,
    };
    if !(pinned && server_first) {
        match first_bytes(&client, wait, slot, shared).await {
            Peeked::Bytes(handshake) if pinned || !handshake => {}
            Peeked::Bytes(_) => return Offer::Kept(client),
            Peeked::Silent if server_first => {}
            Peeked::Silent => {
                shared.stats.timed_out.fetch_add(1, Ordering::Relaxed);
                tracing::debug!("no first bytes in time: closing the connection");
                return Offer::Gone;
            }
            Peeked::Evicted => {
                shared.stats.evicted.fetch_add(1, Ordering::Relaxed);
                return Offer::Gone;
            }
            Peeked::Closed => return Offer::Gone,
        }
    }
    match give(client, shared, route).await {
        Ok(()) => Offer::Given,
        Err(client) => Offer::Kept(client),
    }
}

/// The node's address and its registration, when the program registered and the shim serves:
/// then a hand-off may be tried.
fn target(shared: &Shared, route: &Route) -> Option<(SocketAddr, u64, Arc<UnixStream>)> {
    if shared.config.handoff.is_none() || *shared.phase.borrow() != Phase::Running {
        return None;
    }
    let node = route.node_addr?;
    let (id, stream) = shared.handoff.find(node)?;
    Some((node, id, stream))
}

/// Passes `client` to the node program, whose version its caller speaks and of which nothing
/// unread is left in the shim (a peer's shim after the handshake, say); gives it back when the
/// program did not register or the send fails.
pub(crate) async fn give(
    client: TcpStream,
    shared: &Shared,
    route: &Route,
) -> Result<(), TcpStream> {
    let Some((node, id, target)) = target(shared, route) else {
        return Err(client);
    };
    // Counted before the send: once the descriptor is sent the program may answer the caller,
    // and whoever then reads the stats must see the hand-off that served it.
    shared.stats.handed_off.fetch_add(1, Ordering::Relaxed);
    match send_fd(&target, &client).await {
        Ok(()) => {
            tracing::debug!(%node, "handed off");
            // Our descriptor closes here; the program holds its own.
            drop(client);
            Ok(())
        }
        Err(e) => {
            shared.stats.handed_off.fetch_sub(1, Ordering::Relaxed);
            tracing::warn!(%node, error = %e, "hand-off failed: copying instead");
            shared.handoff.remove(id);
            Err(client)
        }
    }
}

/// What the first bytes of a connection, peeked and left in place, said.
enum Peeked {
    /// Some came; `true` when they start a shim's handshake.
    Bytes(bool),
    /// None by the deadline.
    Silent,
    Evicted,
    Closed,
}

async fn first_bytes(
    client: &TcpStream,
    until: tokio::time::Instant,
    slot: &Slot,
    shared: &Shared,
) -> Peeked {
    let mut phase = shared.phase.subscribe();
    tokio::select! {
        start = peek_start(client) => match start {
            None => Peeked::Closed,
            Some(start) => Peeked::Bytes(!matches!(start, Start::NotHandshake)),
        },
        _ = tokio::time::sleep_until(until) => Peeked::Silent,
        _ = slot.evicted() => Peeked::Evicted,
        _ = phase.wait_for(|p| *p >= Phase::Closing) => Peeked::Closed,
    }
}

/// Whether the first bytes `client` has sent, peeked and left in place, start a peer's
/// handshake; `None`: it closed (or failed) before sending any.
pub(crate) async fn peek_start(client: &TcpStream) -> Option<Start> {
    let mut first = [0u8; 16];
    let n = client.peek(&mut first).await.ok().filter(|&n| n > 0)?;
    Some(handshake::starts_handshake(
        first.get(..n).unwrap_or_default(),
    ))
}

/// Sends one byte `h` with `client`'s descriptor attached.
async fn send_fd(target: &UnixStream, client: &TcpStream) -> std::io::Result<()> {
    let fd = client.as_fd();
    loop {
        target.writable().await?;
        let sent = target.try_io(Interest::WRITABLE, || {
            let fds = [fd];
            let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
            let mut control = SendAncillaryBuffer::new(&mut space);
            if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
                return Err(std::io::Error::other("no room for the descriptor"));
            }
            rustix::net::sendmsg(
                target,
                &[IoSlice::new(b"h")],
                &mut control,
                SendFlags::DONTWAIT | SendFlags::NOSIGNAL,
            )
            .map_err(std::io::Error::from)
        });
        match sent {
            Ok(1) => return Ok(()),
            Ok(_) => return Err(std::io::Error::other("the hand-off byte was not sent")),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registrations_parse() {
        assert_eq!(
            parse_registration("UPSTART/1 listen 127.0.0.1:7000"),
            Ok(SocketAddr::from(([127, 0, 0, 1], 7000)))
        );
        assert_eq!(
            parse_registration("UPSTART/1 listen [::1]:7000\r"),
            Ok("[::1]:7000"
                .parse()
                .unwrap_or(SocketAddr::from(([0; 4], 0))))
        );
        assert!(parse_registration("UPSTART/1 connect 127.0.0.1:7000").is_err());
        assert!(parse_registration("UPSTART/1 listen nowhere").is_err());
    }

    #[test]
    fn a_bad_address_is_the_error_s_source() {
        use std::error::Error;
        let e = parse_registration("UPSTART/1 listen nowhere").unwrap_err();
        assert_eq!(e.to_string(), "`nowhere` is not a socket address");
        assert!(e
            .source()
            .is_some_and(|s| s.is::<std::net::AddrParseError>()));
        let e = parse_registration("UPSTART/1 connect 127.0.0.1:7000").unwrap_err();
        assert_eq!(e.to_string(), "expected `UPSTART/1 listen ADDR`");
        assert!(e.source().is_none());
    }
}
