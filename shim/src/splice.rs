//! Byte copying between two connections (the same-version fast path, unknown protocols,
//! outgoing peer connections), and the bounded reads that come before it.
//!
//! A drain treats connections by their [`Lifetime`]: a client's connection copied to the node
//! ([`splice_requests`]) closes between requests once nothing is in flight, an unknown
//! protocol's is cut at the end of the grace; a peer's shim is served until the program
//! stopped; and the node's own outgoing connections to its peers ([`Lifetime::Own`]) are never
//! cut by a drain: the program still runs and may be replicating a write it has not
//! acknowledged yet.

use crate::context::{Lifetime, Shared};
use crate::frames::FrameCounter;
use crate::limits::Slot;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// Copies both ways until either side closes, the connection is idle (nothing came from `b`,
/// the node or peer, for the idle timeout), a newcomer takes its unproven `slot`, or (per its
/// `life`) the shim closes it. `a` is the caller; `b` answers, and its first bytes
/// prove the slot. `to_b` (bytes already read from `a`) and `to_a` (already read from `b`) go
/// first.
pub async fn splice<A, B>(
    a: &mut A,
    b: &mut B,
    to_b: &[u8],
    to_a: &[u8],
    shared: &Shared,
    slot: &Slot,
    life: Lifetime,
) where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let mut phase = shared.phase.subscribe();
    let answers = AtomicU64::new(0);
    if !to_a.is_empty() {
        slot.prove();
    }
    let copy = async {
        if !to_b.is_empty() {
            b.write_all(to_b).await?;
        }
        if !to_a.is_empty() {
            a.write_all(to_a).await?;
        }
        let mut b = Answers {
            inner: b,
            count: &answers,
            slot,
            proven: !to_a.is_empty(),
        };
        tokio::io::copy_bidirectional(a, &mut b).await.map(|_| ())
    };
    tokio::select! {
        r = copy => if let Err(e) = r {
            tracing::debug!(error = %e, "copied connection ended");
        },
        _ = idle(&answers, shared.config.limits.idle_timeout) => {
            shared.stats.timed_out.fetch_add(1, Ordering::Relaxed);
            tracing::debug!("closing an idle copied connection");
        }
        _ = slot.evicted() => {
            shared.stats.evicted.fetch_add(1, Ordering::Relaxed);
            tracing::debug!("closing a copied connection not answered yet: its port is full");
        }
        () = life.until_cut(&mut phase) => {
            tracing::debug!("closing a copied connection");
        }
    }
}

/// Copies a caller's JSON-RPC connection to the node and back, counting requests and answers
/// (whole frames of the node's framing): once its `life` winds down (a client's when the shim
/// drains), no new request is read, and the connection closes as soon as every request sent has
/// its answer (at once when idle). Bounded like [`splice`]: the idle timeout (nothing from the
/// node), eviction of its unproven `slot` (the node's first answer proves it), and its cut (a
/// client's at the end of a drain's grace). `first` (bytes already read from the caller) goes
/// first. A notification (a request without an answer) keeps its connection open until the
/// cut.
pub async fn splice_requests(
    client: &mut TcpStream,
    node: &mut TcpStream,
    first: &[u8],
    shared: &Shared,
    slot: &Slot,
    life: Lifetime,
) {
    let framing = shared.config.framing;
    let (mut sent, mut answered) = (FrameCounter::new(framing), FrameCounter::new(framing));
    let (mut requests, mut answers) = (0u64, 0u64);
    let (mut client_read, mut client_write) = client.split();
    let (mut node_read, mut node_write) = node.split();
    if !first.is_empty() {
        if node_write.write_all(first).await.is_err() {
            return;
        }
        requests += sent.feed(first);
    }
    let mut phase = shared.phase.subscribe();
    let mut draining = life.winds_down(*phase.borrow_and_update());
    let mut client_open = true;
    let mut from_client = vec![0u8; 16 * 1024];
    let mut from_node = vec![0u8; 16 * 1024];
    let idle_timeout = shared.config.limits.idle_timeout;
    let mut quiet_since = tokio::time::Instant::now();
    loop {
        if requests <= answers && (draining || !client_open) {
            if draining {
                tracing::debug!("draining: closing a copied connection between requests");
            }
            break;
        }
        tokio::select! {
            r = client_read.read(&mut from_client), if client_open && !draining => match r {
                Ok(0) | Err(_) => {
                    client_open = false;
                    let _ = node_write.shutdown().await;
                }
                Ok(n) => {
                    let bytes = from_client.get(..n).unwrap_or_default();
                    if node_write.write_all(bytes).await.is_err() {
                        break;
                    }
                    requests += sent.feed(bytes);
                }
            },
            r = node_read.read(&mut from_node) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    slot.prove();
                    quiet_since = tokio::time::Instant::now();
                    let bytes = from_node.get(..n).unwrap_or_default();
                    if client_write.write_all(bytes).await.is_err() {
                        break;
                    }
                    answers += answered.feed(bytes);
                }
            },
            changed = phase.changed() => {
                if changed.is_err() {
                    break;
                }
                let now = *phase.borrow_and_update();
                if life.cut(now) {
                    tracing::debug!("closing a copied connection with a request in flight");
                    break;
                }
                draining = life.winds_down(now);
            }
            _ = tokio::time::sleep_until(quiet_since + idle_timeout) => {
                shared.stats.timed_out.fetch_add(1, Ordering::Relaxed);
                tracing::debug!("closing an idle copied connection");
                break;
            }
            _ = slot.evicted() => {
                shared.stats.evicted.fetch_add(1, Ordering::Relaxed);
                tracing::debug!("closing a copied connection not answered yet: its port is full");
                break;
            }
        }
    }
    let _ = client_write.shutdown().await;
}

/// Completes once `count` stayed the same for `timeout` (checked a few times per timeout).
async fn idle(count: &AtomicU64, timeout: Duration) {
    let tick = (timeout / 4).clamp(Duration::from_millis(5), Duration::from_secs(15));
    let mut seen = count.load(Ordering::Relaxed);
    let mut since = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(tick).await;
        let now = count.load(Ordering::Relaxed);
        if now != seen {
            seen = now;
            since = tokio::time::Instant::now();
        } else if since.elapsed() >= timeout {
            return;
        }
    }
}

/// The answering side of a copied connection: counts its reads (for the idle timeout) and
/// proves the slot at the first. One relaxed store per read: the fast path stays fast.
struct Answers<'a, B> {
    inner: &'a mut B,
    count: &'a AtomicU64,
    slot: &'a Slot,
    proven: bool,
}

impl<B: AsyncRead + Unpin> AsyncRead for Answers<'_, B> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut *self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            let n = self.count.load(Ordering::Relaxed);
            self.count.store(n.wrapping_add(1), Ordering::Relaxed);
            if !self.proven {
                self.proven = true;
                self.slot.prove();
            }
        }
        polled
    }
}

impl<B: AsyncWrite + Unpin> AsyncWrite for Answers<'_, B> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.inner).poll_shutdown(cx)
    }
}

/// Reads more bytes into `buf` (at most `max` in all), waiting at most `wait` (`None`: as
/// long as it takes); the number read, 0 at the end of the stream.
pub async fn read_more(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    max: usize,
    wait: Option<Duration>,
) -> Result<usize, String> {
    let room = max.saturating_sub(buf.len());
    if room == 0 {
        return Err(format!("no end of line within {max} bytes"));
    }
    let mut chunk = vec![0u8; room.min(4096)];
    let n = match wait {
        Some(wait) => tokio::time::timeout(wait, stream.read(&mut chunk))
            .await
            .map_err(|_| format!("nothing received within {} ms", wait.as_millis()))?,
        None => stream.read(&mut chunk).await,
    }
    .map_err(|e| e.to_string())?;
    buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    Ok(n)
}

/// Reads until `buf` holds a `\n` (at most `max` bytes, within `wait`); returns the line
/// (without `\n`) and the bytes after it.
pub async fn read_line(
    stream: &mut TcpStream,
    mut buf: Vec<u8>,
    max: usize,
    wait: Duration,
) -> Result<(Vec<u8>, Vec<u8>), String> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if let Some(end) = buf.iter().position(|&b| b == b'\n') {
            let rest = buf.split_off(end + 1);
            buf.truncate(end);
            return Ok((buf, rest));
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if read_more(stream, &mut buf, max, Some(left)).await? == 0 {
            return Err("the connection closed before the end of the handshake".into());
        }
    }
}

/// Copies both ways on two dedicated threads doing blocking reads and writes: each message
/// costs one wakeup and a read and a write per hop, with no event loop in between (the
/// same-version fast path). Returns when both directions ended or the shim cuts the connection
/// (per its `life`).
pub async fn splice_blocking(
    a: TcpStream,
    b: TcpStream,
    to_b: Vec<u8>,
    shared: &Shared,
    slot: &Slot,
    life: Lifetime,
) {
    let (a, b) = match (blocking(a), blocking(b)) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return,
    };
    let (Ok(a2), Ok(b2)) = (a.try_clone(), b.try_clone()) else {
        return;
    };
    let (Ok(a_cut), Ok(b_cut)) = (a.try_clone(), b.try_clone()) else {
        return;
    };
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<()>(2);
    // Reads from `b` (the answers), for the idle timeout; the threads are not cut by a
    // newcomer, so the slot is proven at once.
    slot.prove();
    let answers = Arc::new(AtomicU64::new(0));
    let spawn = |from: std::net::TcpStream,
                 to: std::net::TcpStream,
                 first: Vec<u8>,
                 count: Option<Arc<AtomicU64>>| {
        let done = done_tx.clone();
        std::thread::Builder::new()
            .name("shim-copy".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                copy_blocking(from, to, &first, count.as_deref());
                let _ = done.blocking_send(());
            })
    };
    if spawn(a, b2, to_b, None).is_err()
        || spawn(b, a2, Vec::new(), Some(Arc::clone(&answers))).is_err()
    {
        let _ = a_cut.shutdown(std::net::Shutdown::Both);
        let _ = b_cut.shutdown(std::net::Shutdown::Both);
        return;
    }
    drop(done_tx);
    let mut phase = shared.phase.subscribe();
    let both = async {
        let _ = done_rx.recv().await;
        let _ = done_rx.recv().await;
    };
    let cut = tokio::select! {
        _ = both => false,
        _ = idle(&answers, shared.config.limits.idle_timeout) => {
            shared.stats.timed_out.fetch_add(1, Ordering::Relaxed);
            tracing::debug!("closing an idle copied connection");
            true
        }
        () = life.until_cut(&mut phase) => {
            tracing::debug!("closing a copied connection");
            true
        }
    };
    if cut {
        let _ = a_cut.shutdown(std::net::Shutdown::Both);
        let _ = b_cut.shutdown(std::net::Shutdown::Both);
    }
}

fn blocking(s: TcpStream) -> std::io::Result<std::net::TcpStream> {
    let s = s.into_std()?;
    s.set_nonblocking(false)?;
    Ok(s)
}

/// Copies `from` to `to` until the end of `from` (then ends `to`'s writing side) or an error.
/// Counts its reads in `count`.
fn copy_blocking(
    mut from: std::net::TcpStream,
    mut to: std::net::TcpStream,
    first: &[u8],
    count: Option<&AtomicU64>,
) {
    use std::io::{Read, Write};
    if !first.is_empty() && to.write_all(first).is_err() {
        return;
    }
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(count) = count {
            count.store(
                count.load(Ordering::Relaxed).wrapping_add(1),
                Ordering::Relaxed,
            );
        }
        let Some(chunk) = buf.get(..n) else { break };
        if to.write_all(chunk).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
    let _ = from.shutdown(std::net::Shutdown::Read);
}
