//! The cross-version path: frames from a caller of another version are decoded, each request
//! bound to its method's parameters and answered through the plugin chain (past rules for an
//! older caller, future rules for a newer one), whose calls reach the node.
//!
//! A connection is pipelined: its frames are read (with their deadlines) by the connection's
//! task while a blocking job, started when frames wait and ended when none do, answers them one
//! after another in their order over the connection's one link to the node, and writes each
//! answer to the caller as soon as it is made (the task writes what the socket did not take).
//! At most [`MAX_QUEUED_FRAMES`] frames (or [`MAX_QUEUED_BYTES`]) wait; beyond, the next frame
//! is not read, so a fast caller is held back by TCP, not by a growing buffer. A drain closes
//! the connection between requests: frames not begun are dropped, the one being answered is
//! answered first.

use crate::codec::{frame_into, FrameError, FrameReader};
use crate::context::{Phase, Shared};
use crate::jsonrpc::{batch_response, code, decode, error_response, Incoming, Request, RpcError};
use crate::limits::Slot;
use crate::node::NodeLink;
use crate::requests::Requests;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::Notify;

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
/// How long an answering job waits for the next frame before it ends (its thread parked).
const LINGER: std::time::Duration = std::time::Duration::from_millis(2);

/// Answers held back while more frames wait, at most (then written).
const COALESCE_BYTES: usize = 64 * 1024;

/// What the connection's task and its answering job share.
#[derive(Debug, Default)]
struct Pipeline {
    /// Frames read, not begun, in order.
    queue: VecDeque<Vec<u8>>,
    queued_bytes: usize,
    /// The link to the node while no job runs (a job holds it while it runs).
    link: Option<NodeLink>,
    /// A job runs (answering frames, or lingering for the next one).
    running: bool,
    /// The job is answering a frame.
    answering: bool,
    /// The lingering job's thread, to wake when a frame comes.
    parked: Option<std::thread::Thread>,
    /// Framed answers the socket did not take yet, in order; the task writes them.
    out: Vec<u8>,
    /// The task is writing answers taken from `out` (later ones must wait behind them).
    writing: bool,
    /// Stop answering: frames not begun are dropped (a drain, or the connection ends).
    stop: bool,
    /// Writing to the caller failed.
    broken: bool,
    /// The task waits for the job's progress (room in the queue, the job's end).
    wake_task: bool,
    /// When the last answer was made.
    last_answer: Option<tokio::time::Instant>,
}

impl Pipeline {
    /// Frames read and not answered yet.
    fn busy(&self) -> bool {
        self.answering || !self.queue.is_empty()
    }

    fn has_room(&self) -> bool {
        self.queue.len() < MAX_QUEUED_FRAMES && self.queued_bytes < MAX_QUEUED_BYTES
    }
}

/// One translated connection, as its task and its answering job see it.
struct Conn {
    state: Mutex<Pipeline>,
    /// The job's news for the task (see [`Pipeline::wake_task`]).
    ready: Notify,
    write: OwnedWriteHalf,
    caller: u64,
    shared: Arc<Shared>,
}

impl Conn {
    fn lock(&self) -> MutexGuard<'_, Pipeline> {
        match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Writes the answers the socket did not take, in order, until none are left.
    async fn flush(&self, spare: &mut Vec<u8>) -> std::io::Result<()> {
        loop {
            {
                let mut state = self.lock();
                if state.out.is_empty() {
                    state.writing = false;
                    return Ok(());
                }
                std::mem::swap(&mut state.out, spare);
                state.writing = true;
            }
            let written = write_all(&self.write, spare).await;
            spare.clear();
            if let Err(e) = written {
                let mut state = self.lock();
                state.broken = true;
                state.writing = false;
                return Err(e);
            }
        }
    }

    /// Queues an answer made by the task itself (after every answer before it) and writes it.
    async fn answer(&self, payload: &[u8], spare: &mut Vec<u8>) -> std::io::Result<()> {
        frame_into(self.shared.config.framing, payload, &mut self.lock().out);
        self.flush(spare).await
    }

    /// Waits until every frame read is answered and written (or writing failed); `false` when
    /// the shim closes meanwhile.
    async fn settle(&self, spare: &mut Vec<u8>, phase: &mut PhaseWatch) -> bool {
        loop {
            {
                let mut state = self.lock();
                if state.broken || (!state.busy() && state.out.is_empty()) {
                    return true;
                }
                state.wake_task = true;
            }
            if self.flush(spare).await.is_err() {
                return true;
            }
            tokio::select! {
                _ = self.ready.notified() => {}
                _ = phase.wait_for(|p| *p == Phase::Closing) => return false,
            }
        }
    }

    /// Queues a frame for the answering job, starting one if none runs.
    fn push(self: &Arc<Self>, frame: Vec<u8>) {
        let mut state = self.lock();
        state.queued_bytes += frame.len();
        state.queue.push_back(frame);
        if let Some(thread) = state.parked.take() {
            drop(state);
            thread.unpark();
        } else if !state.running {
            state.running = true;
            let link = state.link.take();
            drop(state);
            let conn = Arc::clone(self);
            drop(tokio::task::spawn_blocking(move || conn.work(link)));
        }
    }

    /// The answering job: begins the queued frames' requests in order, sends their calls to
    /// the node together (see [`Requests`]), and writes each frame's answer in order, as soon
    /// as it is made unless earlier ones are still being written or more answers are about to
    /// be made without waiting.
    fn work(&self, mut link: Option<NodeLink>) {
        let framing = self.shared.config.framing;
        let mut requests = Requests::new(self.caller, Arc::clone(&self.shared));
        // Since when no frame waited: the job lingers for [`LINGER`], so that a caller
        // sending one request at a time finds it (and its warm thread) still there.
        let mut lull: Option<std::time::Instant> = None;
        loop {
            // A failure in translation ends this connection, not the job's accounting (a job
            // that vanished would leave the connection waiting for it).
            let progressed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.advance(&mut requests, &mut link)
            }));
            if progressed.is_err() {
                tracing::error!(caller = self.caller, "a translation task failed: closing");
                self.lock().broken = true;
                requests.clear(&mut link);
            }
            let mut state = self.lock();
            if state.broken {
                requests.clear(&mut link);
            }
            let mut made = false;
            let (stop, broken) = (state.stop, state.broken);
            requests.take_answers(|answer| {
                made = true;
                if !stop && !broken {
                    frame_into(framing, &answer, &mut state.out);
                }
            });
            if made {
                state.last_answer = Some(tokio::time::Instant::now());
            }
            state.answering = requests.busy();
            // Answers are written before the job waits (for the node, or for frames), or when
            // enough accumulated, unless the task still writes earlier ones: a pipelining
            // caller gets them together, in one write.
            let waits = if requests.in_flight() {
                !requests.answer_buffered(&link)
            } else {
                !requests.has_todo() && state.queue.is_empty()
            };
            let due = waits || state.out.len() >= COALESCE_BYTES;
            if due && !state.writing && !state.out.is_empty() && !state.broken {
                // To the socket now; what it does not take is left to the task.
                match self.write.try_write(&state.out) {
                    Ok(n) => {
                        let n = n.min(state.out.len());
                        state.out.drain(..n);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => state.broken = true,
                }
            }
            let wake = (due && !state.out.is_empty()) || state.broken || state.wake_task;
            if wake {
                state.wake_task = false;
            }
            if requests.in_flight() {
                drop(state);
                if wake {
                    self.ready.notify_one();
                }
                // The node's next answer (blocking; the link's timeout bounds it).
                let resumed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    requests.resume(&mut link)
                }));
                if resumed.is_err() {
                    tracing::error!(caller = self.caller, "a translation task failed: closing");
                    self.lock().broken = true;
                    requests.clear(&mut link);
                }
                lull = None;
                continue;
            }
            if requests.has_todo() || (!state.queue.is_empty() && !state.stop && !state.broken) {
                lull = None;
                drop(state);
                if wake {
                    self.ready.notify_one();
                }
                continue;
            }
            // Nothing to do: linger for the next frame, or end.
            let since = *lull.get_or_insert_with(std::time::Instant::now);
            let left = LINGER.saturating_sub(since.elapsed());
            let linger = !state.stop && !state.broken && !left.is_zero();
            if linger {
                state.parked = Some(std::thread::current());
            } else {
                state.queue.clear();
                state.queued_bytes = 0;
                state.running = false;
                state.parked = None;
                state.link = link.take();
            }
            let wake = wake || std::mem::take(&mut state.wake_task) || !state.out.is_empty();
            drop(state);
            if wake {
                self.ready.notify_one();
            }
            if !linger {
                return;
            }
            std::thread::park_timeout(left);
            self.lock().parked = None;
        }
    }

    /// Begins the requests of the queued frames, in order, while none before them may still
    /// call the node, and sends their calls.
    fn advance(&self, requests: &mut Requests, link: &mut Option<NodeLink>) {
        while requests.may_begin(link) {
            if requests.begin_next(link) {
                continue;
            }
            if requests.has_todo() {
                // The route moved: the calls in flight are answered first.
                break;
            }
            let frame = {
                let mut state = self.lock();
                if state.stop || state.broken {
                    state.queue.clear();
                    state.queued_bytes = 0;
                }
                let frame = state.queue.pop_front();
                if let Some(frame) = &frame {
                    state.queued_bytes = state.queued_bytes.saturating_sub(frame.len());
                    state.answering = true;
                }
                frame
            };
            match frame {
                Some(frame) => requests.open(&frame),
                None => break,
            }
        }
        requests.send(link);
    }
}

type PhaseWatch = tokio::sync::watch::Receiver<Phase>;

/// Writes all of `bytes` to the shared write half.
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

/// Serves `client` (whose first bytes, already read, are `pending`) until it closes, sends an
/// oversized frame, misses a deadline (idle between frames, or a frame not finished in time),
/// loses its slot before its first answer, or the shim drains.
pub async fn serve(
    client: TcpStream,
    pending: Vec<u8>,
    mode: Mode,
    shared: Arc<Shared>,
    slot: Slot,
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
    let conn = Arc::new(Conn {
        state: Mutex::new(Pipeline {
            link,
            ..Pipeline::default()
        }),
        ready: Notify::new(),
        write,
        caller,
        shared: Arc::clone(&shared),
    });
    let mut spare = Vec::new();
    let mut proven = false;
    let mut last_frame = tokio::time::Instant::now();
    // What ends the connection, once the answers to the frames read are written.
    let last_word: Option<Vec<u8>> = loop {
        let (room, idle_since) = {
            let mut state = conn.lock();
            if state.broken {
                break None;
            }
            let room = state.has_room();
            // No room: the job says when there is.
            state.wake_task |= !room;
            // Idle since the last frame or answer; not while answering (checked again then).
            let since = if state.busy() {
                tokio::time::Instant::now()
            } else {
                state.last_answer.map_or(last_frame, |a| a.max(last_frame))
            };
            (room, since)
        };
        let idle_deadline = idle_since + config.limits.idle_timeout;
        let frame = tokio::select! {
            // A drain wins over a frame already buffered: close between frames.
            biased;
            _ = phase.wait_for(|p| p.is_draining()) => {
                tracing::debug!(?peer, "draining: closing a translated connection between frames");
                conn.lock().stop = true;
                break None;
            }
            _ = slot.evicted(), if !proven => {
                shared.stats.evicted.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(?peer, "closing a connection not answered yet: its port is full");
                break None;
            }
            _ = conn.ready.notified() => None,
            frame = reader.next_until(idle_deadline, config.limits.idle_timeout, config.limits.frame_timeout),
                if room => Some(frame),
        };
        let Some(frame) = frame else {
            // The job's news: answers to write, or room in the queue.
            if conn.flush(&mut spare).await.is_err() {
                break None;
            }
            continue;
        };
        let frame = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) => break None,
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
                break Some(error_response(&Value::Null, &error));
            }
            Err(FrameError::TimedOut { idle: true, .. }) => {
                // Idle only if nothing was answered since (the deadline was set before).
                let state = conn.lock();
                let now = tokio::time::Instant::now();
                if state.busy()
                    || state
                        .last_answer
                        .is_some_and(|a| a + config.limits.idle_timeout > now)
                {
                    continue;
                }
                drop(state);
                shared.stats.timed_out.fetch_add(1, Ordering::Relaxed);
                break None;
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
                break Some(error_response(&Value::Null, &error));
            }
            Err(e) => {
                tracing::debug!(?peer, error = %e, "connection ended");
                break None;
            }
        };
        last_frame = tokio::time::Instant::now();
        // A whole frame: a real caller, whose place a newcomer does not take.
        if !proven {
            proven = true;
            slot.prove();
        }
        match &refuse {
            Some(error) => {
                if let Some(answer) = refuse_frame(&frame, error) {
                    if conn.answer(&answer, &mut spare).await.is_err() {
                        break None;
                    }
                }
            }
            None => conn.push(frame),
        }
    };
    // The answers to the frames read (those begun, when draining) go out first.
    if conn.settle(&mut spare, &mut phase).await {
        if let Some(word) = last_word {
            let _ = conn.answer(&word, &mut spare).await;
        }
    }
    let mut state = conn.lock();
    state.stop = true;
    if state.answering {
        // The shim closes: the caller sees the end now, not when the node answers.
        let _ = rustix::net::shutdown(conn.write.as_ref(), rustix::net::Shutdown::Both);
    }
    if let Some(thread) = state.parked.take() {
        drop(state);
        thread.unpark();
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
