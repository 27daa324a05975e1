//! Fault injection on the node's peer routes, for tests only (`upstart test`): a route
//! **delayed** (every chunk copied on it, either way, is held back for a while) or **cut** (its
//! connections closed, new ones closed as they come) for a time, after which it heals by itself.
//!
//! Off unless the shim's owner asked for it with [`ShimConfig::fault_control`]: without it the
//! table stays empty for the shim's life (no command is accepted), and the hooks in `outbound`
//! read one flag and go on. With it, the shim listens on a Unix socket (never TCP): the socket
//! file is made `0600`, and a caller whose user is not the shim's own is turned away before
//! it is read. One command per line, answered `ok` or `error: WHY`:
//!
//! - `delay PEER|* DELAY_MS FOR_MS`: the route to the peer's shim `PEER` (or every route);
//! - `cut PEER|* FOR_MS`;
//! - `heal PEER|*`: ends the faults set on the route now (`*`: every fault).
//!
//! A later fault of a route replaces the earlier one; a cut is seen by the connections already
//! open on the route (closed at once) and by new ones (closed as they come, until it heals).
//!
//! [`ShimConfig::fault_control`]: crate::ShimConfig::fault_control

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf};
use tokio::net::UnixListener;
use tokio::sync::watch;

/// What is done to a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Every chunk copied on the route waits this long.
    Delay(Duration),
    /// Connections closed, new ones closed as they come.
    Cut,
}

/// One fault in force.
#[derive(Debug, Clone, Copy)]
struct Active {
    /// The peer's shim; `None`: every route.
    target: Option<SocketAddr>,
    kind: Kind,
    until: Instant,
}

/// The faults in force on a shim's routes (see the module's header).
#[derive(Debug)]
pub struct Faults {
    on: bool,
    table: Mutex<Vec<Active>>,
    /// Bumped when a fault is set (connections wait on it for a cut).
    changed: watch::Sender<u64>,
}

/// The longest fault a command may set, and the longest delay: an hour.
const LONGEST: Duration = Duration::from_secs(3600);

impl Faults {
    /// The hook of a production shim: never any fault.
    pub fn off() -> Faults {
        Faults {
            on: false,
            table: Mutex::new(Vec::new()),
            changed: watch::Sender::new(0),
        }
    }

    /// A hook that takes commands (a shim started with a fault control socket).
    pub fn on() -> Faults {
        Faults {
            on: true,
            ..Faults::off()
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Vec<Active>> {
        match self.table.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The fault in force on the route to `remote` now, if any (a cut before a delay).
    pub fn now(&self, remote: SocketAddr) -> Option<Kind> {
        if !self.on {
            return None;
        }
        let now = Instant::now();
        let mut table = self.table();
        table.retain(|a| a.until > now);
        let kinds: Vec<Kind> = table
            .iter()
            .filter(|a| a.target.is_none_or(|t| t == remote))
            .map(|a| a.kind)
            .collect();
        if kinds.contains(&Kind::Cut) {
            Some(Kind::Cut)
        } else {
            kinds.last().copied()
        }
    }

    /// Whether the route to `remote` is cut now.
    pub fn is_cut(&self, remote: SocketAddr) -> bool {
        self.now(remote) == Some(Kind::Cut)
    }

    /// Completes when the route to `remote` is cut (at once if it is); never when the hook is
    /// off.
    pub async fn cut(&self, remote: SocketAddr) {
        if !self.on {
            return std::future::pending().await;
        }
        let mut changed = self.changed.subscribe();
        loop {
            if self.is_cut(remote) {
                return;
            }
            if changed.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }

    /// Runs one command line; the answer to send back (`ok`) or why it was refused.
    pub fn command(&self, line: &str) -> Result<(), String> {
        if !self.on {
            return Err("fault injection is off on this shim".into());
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let (verb, target, numbers) = match words.as_slice() {
            [verb, target, numbers @ ..] => (*verb, *target, numbers),
            _ => return Err(format!("`{line}` is not a command; {USAGE}")),
        };
        let target = match target {
            "*" => None,
            t => Some(
                t.parse::<SocketAddr>()
                    .map_err(|_| format!("`{t}` is not a peer address or `*`"))?,
            ),
        };
        let ms = |text: &str| -> Result<Duration, String> {
            let d = text
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| format!("`{text}` is not a number of milliseconds"))?;
            if d > LONGEST {
                return Err(format!("`{text}` ms is longer than an hour"));
            }
            Ok(d)
        };
        let (kind, lasts) = match (verb, numbers) {
            ("delay", [delay, lasts]) => (Kind::Delay(ms(delay)?), ms(lasts)?),
            ("cut", [lasts]) => (Kind::Cut, ms(lasts)?),
            ("heal", []) => {
                // `*` heals every route; a peer, the faults set on its route.
                self.table()
                    .retain(|a| target.is_some() && a.target != target);
                return Ok(());
            }
            _ => return Err(format!("`{line}` is not a command; {USAGE}")),
        };
        let until = Instant::now() + lasts;
        {
            let mut table = self.table();
            table.retain(|a| a.target != target);
            table.push(Active {
                target,
                kind,
                until,
            });
        }
        self.changed.send_modify(|g| *g = g.wrapping_add(1));
        tracing::warn!(?target, ?kind, ?lasts, "test fault set on a peer route");
        Ok(())
    }
}

const USAGE: &str = "commands: `delay PEER|* DELAY_MS FOR_MS`, `cut PEER|* FOR_MS`, `heal PEER|*`";

/// Serves the fault control socket: one command per line from callers of this process's own
/// user, each answered `ok` or `error: WHY`.
pub async fn serve(listener: UnixListener, faults: std::sync::Arc<Faults>) {
    let own = own_uid();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let theirs = stream.peer_cred().ok().map(|c| c.uid());
        if own.is_none() || theirs != own {
            tracing::warn!(
                ?theirs,
                "fault control: a caller of another user turned away"
            );
            continue;
        }
        let faults = std::sync::Arc::clone(&faults);
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let answer = match faults.command(&line) {
                    Ok(()) => "ok\n".to_string(),
                    Err(why) => format!("error: {why}\n"),
                };
                if write.write_all(answer.as_bytes()).await.is_err() {
                    return;
                }
            }
        });
    }
}

/// The user this process runs as (the owner of `/proc/self`).
fn own_uid() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// A connection of a peer route whose reads wait out the route's delay, if any: a chunk read
/// while the route is delayed is handed on only after the delay (so every frame copied on it,
/// either way, arrives that much later). Writes pass through.
pub struct Delayed<'a, S> {
    inner: S,
    faults: &'a Faults,
    remote: SocketAddr,
    /// A chunk read and the end of its wait.
    held: Option<(Vec<u8>, Pin<Box<tokio::time::Sleep>>)>,
}

impl<'a, S> Delayed<'a, S> {
    pub fn new(inner: S, faults: &'a Faults, remote: SocketAddr) -> Delayed<'a, S> {
        Delayed {
            inner,
            faults,
            remote,
            held: None,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Delayed<'_, S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if let Some((data, wait)) = &mut this.held {
            if wait.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let n = data.len().min(buf.remaining());
            buf.put_slice(data.get(..n).unwrap_or_default());
            data.drain(..n);
            if data.is_empty() {
                this.held = None;
            }
            return Poll::Ready(Ok(()));
        }
        if !this.faults.on {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        let Some(Kind::Delay(delay)) = this.faults.now(this.remote) else {
            return Poll::Ready(Ok(()));
        };
        let data = buf.filled().get(before..).unwrap_or_default().to_vec();
        if data.is_empty() {
            return Poll::Ready(Ok(()));
        }
        buf.set_filled(before);
        let mut wait = Box::pin(tokio::time::sleep(delay));
        // Registers the waker; a zero delay is over at once.
        if wait.as_mut().poll(cx).is_ready() {
            buf.put_slice(&data);
            return Poll::Ready(Ok(()));
        }
        this.held = Some((data, wait));
        Poll::Pending
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Delayed<'_, S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use tokio::io::AsyncReadExt;

    fn peer(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn the_hook_is_inert_unless_enabled() {
        let off = Faults::off();
        for command in ["cut * 60000", "delay 127.0.0.1:7001 500 60000", "heal *"] {
            let e = off.command(command).unwrap_err();
            assert!(e.contains("fault injection is off"), "{e}");
        }
        assert_eq!(off.now(peer(7001)), None);
        assert!(!off.is_cut(peer(7001)));
        // Even a table filled by hand (nothing does that) is not read.
        off.table().push(Active {
            target: None,
            kind: Kind::Cut,
            until: Instant::now() + LONGEST,
        });
        assert_eq!(off.now(peer(7001)), None);
    }

    #[test]
    fn commands_set_replace_and_heal_faults_per_route() {
        let f = Faults::on();
        f.command("cut 127.0.0.1:7001 60000").unwrap();
        assert!(f.is_cut(peer(7001)));
        assert_eq!(f.now(peer(7002)), None);
        f.command("delay 127.0.0.1:7001 250 60000").unwrap();
        assert_eq!(
            f.now(peer(7001)),
            Some(Kind::Delay(Duration::from_millis(250)))
        );
        f.command("cut * 60000").unwrap();
        assert!(f.is_cut(peer(7001)) && f.is_cut(peer(7002)));
        f.command("heal 127.0.0.1:7001").unwrap();
        assert!(f.is_cut(peer(7001)), "the cut of every route stays");
        f.command("delay 127.0.0.1:7001 250 60000").unwrap();
        f.command("heal *").unwrap();
        assert_eq!(f.now(peer(7001)), None);
        assert_eq!(f.now(peer(7002)), None);
        // A fault ends by itself.
        f.command("cut * 0").unwrap();
        assert_eq!(f.now(peer(7001)), None);
        for bad in [
            "cut",
            "cut nowhere 10",
            "cut * soon",
            "delay * 10",
            "cut * 99999999999",
            "break * 10",
        ] {
            let e = f.command(bad).unwrap_err();
            assert!(e.contains('`'), "{bad}: {e}");
        }
    }

    #[tokio::test]
    async fn a_cut_wakes_the_connections_of_its_route() {
        let f = std::sync::Arc::new(Faults::on());
        let waiting = {
            let f = std::sync::Arc::clone(&f);
            tokio::spawn(async move { f.cut(peer(7001)).await })
        };
        tokio::task::yield_now().await;
        f.command("cut 127.0.0.1:7002 60000").unwrap();
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        f.command("cut 127.0.0.1:7001 60000").unwrap();
        tokio::time::timeout(Duration::from_secs(10), waiting)
            .await
            .unwrap()
            .unwrap();
        // Off, a cut never comes.
        let off = Faults::off();
        let never = tokio::time::timeout(Duration::from_millis(50), off.cut(peer(7001))).await;
        assert!(never.is_err());
    }

    #[tokio::test]
    async fn a_delayed_route_holds_each_chunk_and_passes_it_whole() {
        let f = Faults::on();
        f.command("delay * 200 60000").unwrap();
        let (mut w, r) = tokio::io::duplex(64);
        let mut delayed = Delayed::new(r, &f, peer(7001));
        w.write_all(b"hello").await.unwrap();
        let started = Instant::now();
        let mut got = [0u8; 5];
        delayed.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hello");
        assert!(started.elapsed() >= Duration::from_millis(200));
        // Healed: at once (no lower bound to check), and the bytes are the same.
        f.command("heal *").unwrap();
        w.write_all(b"again").await.unwrap();
        delayed.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"again");
    }
}
