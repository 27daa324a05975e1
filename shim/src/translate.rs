//! The cross-version path: frames from a caller of another version are decoded, each request
//! bound to its method's parameters and answered through the plugin chain (past rules for an
//! older caller, future rules for a newer one), whose calls reach the node.
//!
//! A connection is served by its own task alone, with no other thread to wake: it reads the
//! caller's frames (with their deadlines), begins their requests in order (the rules run on the
//! task: they are computation only, microseconds, and a request waiting for the node holds
//! nothing but its place, see [`Requests`]), sends their delegate calls on the connection's one
//! link to the node, reads the node's answers as they come and writes the frames' answers in
//! order. Whatever is at hand is done before the task waits again: the frames already read
//! begin together, so a pipelining caller's calls reach the node in one write, and the answers
//! made together go to the caller in one write. At most [`MAX_QUEUED_FRAMES`] frames (or
//! [`MAX_QUEUED_BYTES`]) wait to begin and at most [`MAX_UNWRITTEN`] bytes of answers wait for
//! the caller to take them; beyond, the next frame is not read, so a fast caller is held back by
//! TCP, not by a growing buffer. A drain closes a client's connection between requests (a
//! peer's once the node's program stopped, see [`Lifetime`]): frames not begun are dropped,
//! those begun are answered first.

use crate::codec::{frame_into, write_queued, FrameError, FrameReader};
use crate::config::Framing;
use crate::context::{Lifetime, Shared};
use crate::jsonrpc::{batch_response, code, decode, error_response, Incoming, Request, RpcError};
use crate::limits::Slot;
use crate::node::{LinkEvent, NodeLink};
use crate::requests::{Begin, Requests};
use serde_json::Value;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// How a decoded connection is answered.
#[derive(Debug)]
pub enum Mode {
    /// Through the chain, for a caller at `caller` version.
    Translate { caller: u64, link: Option<NodeLink> },
    /// Every request gets this error (a peer that refused our handshake).
    Refuse(RpcError),
}

/// Frames read and not yet begun, at most (beyond, the next frame waits in the socket).
pub const MAX_QUEUED_FRAMES: usize = 64;
/// Bytes of frames read and not yet begun, at most (one frame of any allowed size still fits).
pub const MAX_QUEUED_BYTES: usize = 256 * 1024;
/// Bytes of answers the caller has not taken yet, at most, before the next frame is read.
pub const MAX_UNWRITTEN: usize = 64 * 1024;

/// One translated connection's requests, between its frames and its answers.
struct Conn {
    requests: Requests,
    /// The connection's link to the node (`None` until a request needs it, or once broken).
    link: Option<NodeLink>,
    /// Frames read, not begun, in order.
    queue: VecDeque<Vec<u8>>,
    queued_bytes: usize,
    /// Framed answers not written yet, in order.
    out: Vec<u8>,
    /// Frames not begun are dropped (a drain).
    stop: bool,
    /// The node's next frame (or why none came), for the oldest call in flight.
    arrived: Option<Result<Option<Vec<u8>>, FrameError>>,
    /// The link made for the request that waited for one (or why there is none).
    made: Option<Result<NodeLink, String>>,
    /// Since when the link waits for the node's next answer.
    waiting_since: Option<Instant>,
    /// When the last answer was made.
    last_answer: Option<Instant>,
    framing: Framing,
}

impl Conn {
    /// Frames read and not answered yet.
    fn busy(&self) -> bool {
        self.requests.busy() || !self.queue.is_empty()
    }

    fn has_room(&self) -> bool {
        !self.stop
            && self.queue.len() < MAX_QUEUED_FRAMES
            && self.queued_bytes < MAX_QUEUED_BYTES
            && self.out.len() < MAX_UNWRITTEN
    }

    fn push(&mut self, frame: Vec<u8>) {
        self.queued_bytes += frame.len();
        self.queue.push_back(frame);
    }

    /// Does everything at hand without waiting: goes on with the request that waited for a
    /// link and with the node's answers already read, begins the queued frames' requests in
    /// order (while none before them may still call the node), sends their calls, and frames
    /// the answers made, in order. `Some(addr)`: the next request needs a link to the node at
    /// `addr` first (see [`Conn::made`]).
    fn progress(&mut self) -> Option<SocketAddr> {
        if let Some(made) = self.made.take() {
            self.requests.connected(&mut self.link, made);
        }
        if let Some(frame) = self.arrived.take() {
            self.requests.resume(&mut self.link, frame);
            self.waiting_since = None;
        }
        let mut connect = None;
        loop {
            while self.requests.may_begin(&self.link) {
                match self.requests.begin_next(&mut self.link) {
                    Begin::Began => continue,
                    Begin::Connect(addr) => {
                        connect = Some(addr);
                        break;
                    }
                    Begin::Nothing => {}
                }
                if self.requests.has_todo() {
                    // The route moved: the calls in flight are answered first.
                    break;
                }
                if self.stop {
                    self.queue.clear();
                    self.queued_bytes = 0;
                }
                let Some(frame) = self.queue.pop_front() else {
                    break;
                };
                self.queued_bytes = self.queued_bytes.saturating_sub(frame.len());
                self.requests.open(&frame);
            }
            if let Some(link) = self.link.as_mut() {
                if let Err(e) = link.send() {
                    self.requests.send_failed(&mut self.link, &e);
                }
            }
            if connect.is_some() {
                break;
            }
            // The node's answers already read: their requests go on, and may let more begin.
            let mut resumed = false;
            while self.requests.in_flight() {
                let Some(link) = self.link.as_mut() else {
                    break;
                };
                let frame = match link.buffered() {
                    Ok(None) => break,
                    frame => frame,
                };
                self.requests.resume(&mut self.link, frame);
                self.waiting_since = None;
                resumed = true;
            }
            if !resumed {
                break;
            }
        }
        let mut made = false;
        let (framing, out) = (self.framing, &mut self.out);
        self.requests.take_answers(|answer| {
            made = true;
            frame_into(framing, &answer, out);
        });
        if made {
            self.last_answer = Some(Instant::now());
        }
        connect
    }
}

/// Writes all of `bytes`.
async fn write_all(write: &OwnedWriteHalf, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        write.writable().await?;
        match write.try_write(bytes) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = bytes.get(n..).unwrap_or_default(),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Why the caller's side of a connection ends, once the answers to the frames read are
/// written: `Some` answer said last (an oversized or unfinished frame).
type Ending = Option<Option<Vec<u8>>>;

/// Serves `client` (whose first bytes, already read, are `pending`) until it closes, sends an
/// oversized frame, misses a deadline (idle between frames, or a frame not finished in time),
/// loses its slot before its first answer, or its `life` winds down (a client's when the shim
/// drains).
pub async fn serve(
    client: TcpStream,
    pending: Vec<u8>,
    mode: Mode,
    shared: Arc<Shared>,
    slot: Slot,
    life: Lifetime,
) {
    let peer = client.peer_addr().ok();
    let (read, write) = client.into_split();
    let config = &shared.config;
    let mut reader = FrameReader::new(read, config.framing, config.max_frame, pending);
    let mut phase = shared.phase.subscribe();
    let (caller, refuse, link) = match mode {
        Mode::Translate { caller, link } => (caller, None, link),
        Mode::Refuse(error) => (0, Some(error), None),
    };
    let mut conn = Conn {
        requests: Requests::new(caller, Arc::clone(&shared)),
        link,
        queue: VecDeque::new(),
        queued_bytes: 0,
        out: Vec::new(),
        stop: false,
        arrived: None,
        made: None,
        waiting_since: None,
        last_answer: None,
        framing: config.framing,
    };
    let mut proven = false;
    let mut last_frame = Instant::now();
    // Set when no more frames are read: the connection ends once the frames read are
    // answered.
    let mut ending: Ending = None;
    loop {
        // A failure in translation ends this connection.
        let progressed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| conn.progress()));
        let connect = match progressed {
            Ok(connect) => connect,
            Err(_) => {
                tracing::error!(caller, "a translation task failed: closing");
                return;
            }
        };
        if let Some(addr) = connect {
            let made = NodeLink::connect(
                addr,
                config.connect_timeout,
                config.framing,
                config.max_frame,
                config.call_timeout,
            )
            .await
            .map_err(|e| format!("cannot connect to the node at {addr}: {e}"));
            conn.made = Some(made);
            continue;
        }
        if write_queued(&write, &mut conn.out).is_err() {
            return;
        }
        if let Some(last_word) = &ending {
            if !conn.busy() && conn.out.is_empty() {
                if let Some(word) = last_word {
                    let mut framed = Vec::new();
                    frame_into(config.framing, word, &mut framed);
                    let _ = write_all(&write, &framed).await;
                }
                return;
            }
        }
        let room = ending.is_none() && conn.has_room();
        // Idle since the last frame or answer; not while answering (checked again then).
        let idle_since = if conn.busy() {
            Instant::now()
        } else {
            conn.last_answer.map_or(last_frame, |a| a.max(last_frame))
        };
        let idle_deadline = idle_since + config.limits.idle_timeout;
        let node_deadline = if conn.requests.in_flight() {
            let since = *conn.waiting_since.get_or_insert_with(Instant::now);
            Some(since + config.call_timeout)
        } else {
            None
        };
        let node_waits = conn
            .link
            .as_ref()
            .is_some_and(|l| node_deadline.is_some() || l.sending());
        let unwritten = !conn.out.is_empty();
        let ended = ending.is_some();
        let frame = tokio::select! {
            biased;
            // A drain wins over a frame already buffered: close between frames. Once no more
            // frames are read, only the cut ends the wait for their answers.
            _ = phase.wait_for(|p| if ended { life.cut(*p) } else { life.winds_down(*p) }) => {
                if ended {
                    // The shim closes: the caller sees the end now, not when the node answers.
                    return;
                }
                tracing::debug!(?peer, "draining: closing a translated connection between frames");
                conn.stop = true;
                ending = Some(None);
                continue;
            }
            _ = slot.evicted(), if !proven && ending.is_none() => {
                shared.stats.evicted.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(?peer, "closing a connection not answered yet: its port is full");
                ending = Some(None);
                continue;
            }
            event = node_event(&mut conn.link, node_deadline), if node_waits => {
                match event {
                    LinkEvent::Answer(frame) => conn.arrived = Some(frame),
                    LinkEvent::Writable(Ok(())) => {}
                    LinkEvent::Writable(Err(e)) => conn.requests.send_failed(&mut conn.link, &e),
                }
                continue;
            }
            ready = write.writable(), if unwritten => {
                if ready.is_err() {
                    return;
                }
                continue;
            }
            frame = reader.next_until(idle_deadline, config.limits.idle_timeout, config.limits.frame_timeout),
                if room => frame,
        };
        let frame = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                ending = Some(None);
                continue;
            }
            Err(FrameError::TooLarge { size, max }) => {
                shared.stats.frame_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(?peer, size, max, "frame too large: answering and closing");
                let error = RpcError::new(
                    code::INVALID_REQUEST,
                    format!(
                        "invalid request: frame too large ({size} bytes or more, the limit is \
                         {max} bytes); closing the connection"
                    ),
                );
                ending = Some(Some(error_response(&Value::Null, &error)));
                continue;
            }
            Err(FrameError::TimedOut { idle: true, .. }) => {
                // Idle only if nothing was answered since (the deadline was set before).
                let now = Instant::now();
                if conn.busy()
                    || conn
                        .last_answer
                        .is_some_and(|a| a + config.limits.idle_timeout > now)
                {
                    continue;
                }
                shared.stats.timed_out.fetch_add(1, Ordering::Relaxed);
                ending = Some(None);
                continue;
            }
            Err(FrameError::TimedOut { idle: false, after }) => {
                shared.stats.timed_out.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(?peer, "a frame was not finished in time: closing");
                let error = RpcError::new(
                    code::TIMED_OUT,
                    format!(
                        "request timed out: not complete within {} ms; closing the connection",
                        after.as_millis()
                    ),
                );
                ending = Some(Some(error_response(&Value::Null, &error)));
                continue;
            }
            Err(e) => {
                tracing::debug!(?peer, error = %e, "connection ended");
                ending = Some(None);
                continue;
            }
        };
        last_frame = Instant::now();
        // A whole frame: a real caller, whose place a newcomer does not take.
        if !proven {
            proven = true;
            slot.prove();
        }
        let mut next = Some(frame);
        while let Some(frame) = next.take() {
            match &refuse {
                Some(error) => {
                    if let Some(answer) = refuse_frame(&frame, error) {
                        frame_into(config.framing, &answer, &mut conn.out);
                    }
                }
                None => conn.push(frame),
            }
            // The frames already read come along (a pipelining caller's begin together).
            if conn.has_room() {
                next = reader.buffered().ok().flatten();
            }
        }
    }
}

/// The link's next event (see [`NodeLink::event`]); never, without a link.
async fn node_event(link: &mut Option<NodeLink>, deadline: Option<Instant>) -> LinkEvent {
    match link {
        Some(link) => link.event(deadline).await,
        None => std::future::pending().await,
    }
}

/// Answers every request of a frame with `error`.
fn refuse_frame(frame: &[u8], error: &RpcError) -> Option<Vec<u8>> {
    let one = |r: Result<Request, (Value, RpcError)>| match r {
        Ok(Request { id: Some(id), .. }) => Some(error_response(&id, error)),
        Ok(Request { id: None, .. }) => None,
        Err((id, e)) => Some(error_response(&id, &e)),
    };
    match decode(frame) {
        Err(answer) => Some(answer),
        Ok(Incoming::Single(r)) => one(r),
        Ok(Incoming::Batch(items)) => {
            let parts: Vec<Vec<u8>> = items.into_iter().filter_map(one).collect();
            batch_response(&parts)
        }
    }
}
