//! Framing of JSON-RPC messages, read from async streams (client connections and the node),
//! with a bound on the frame size: no buffer grows past `max_frame` plus one read.

use crate::config::Framing;
use std::fmt;
use std::io;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;

/// Why no frame was read.
#[derive(Debug)]
pub enum FrameError {
    /// The frame is (or announces itself as) larger than the limit; `size` is what is known of
    /// it: its announced length, or how much arrived without an end of line.
    TooLarge {
        size: usize,
        max: usize,
    },
    /// The connection ended in the middle of a frame.
    Truncated,
    /// Nothing came for the idle timeout (`idle`), or a frame begun did not end within the
    /// frame timeout.
    TimedOut {
        idle: bool,
        after: std::time::Duration,
    },
    Io(io::Error),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLarge { size, max } => write!(
                f,
                "frame too large: {size} bytes or more, the limit is {max} bytes"
            ),
            FrameError::Truncated => write!(f, "the connection closed in the middle of a frame"),
            FrameError::TimedOut { idle: true, after } => {
                write!(f, "idle for {} ms", after.as_millis())
            }
            FrameError::TimedOut { idle: false, after } => write!(
                f,
                "the request was not complete within {} ms",
                after.as_millis()
            ),
            FrameError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<io::Error> for FrameError {
    fn from(e: io::Error) -> FrameError {
        FrameError::Io(e)
    }
}

const CHUNK: usize = 8 * 1024;

/// Reads frames from an async stream. Bytes already read from the stream (while sniffing) are
/// given to [`FrameReader::new`] and come first.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    framing: Framing,
    max: usize,
    buf: Vec<u8>,
    /// Start of unconsumed bytes in `buf`.
    start: usize,
    /// When the first byte of the frame being read was seen.
    begun: Option<tokio::time::Instant>,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub fn new(inner: R, framing: Framing, max: usize, pending: Vec<u8>) -> FrameReader<R> {
        FrameReader {
            inner,
            framing,
            max,
            buf: pending,
            start: 0,
            begun: None,
        }
    }

    /// Like [`FrameReader::next`], within deadlines: the next frame's first byte must come
    /// within `idle`, and the frame must end within `frame` of its first byte (so a sender
    /// trickling bytes is cut too).
    #[cfg(test)]
    pub async fn next_within(
        &mut self,
        idle: std::time::Duration,
        frame: std::time::Duration,
    ) -> Result<Option<Vec<u8>>, FrameError> {
        self.next_until(tokio::time::Instant::now() + idle, idle, frame)
            .await
    }

    /// Like [`FrameReader::next_within`], with the idle deadline given: the next frame's first
    /// byte must come by `idle_deadline` (reported as `idle`).
    pub async fn next_until(
        &mut self,
        idle_deadline: tokio::time::Instant,
        idle: std::time::Duration,
        frame: std::time::Duration,
    ) -> Result<Option<Vec<u8>>, FrameError> {
        loop {
            if let Some(frame) = self.take_frame()? {
                self.begun = None;
                return Ok(Some(frame));
            }
            let rest = self.buf.get(self.start..).unwrap_or_default();
            let partial = match self.framing {
                Framing::Lines => rest.iter().any(|b| !b.is_ascii_whitespace()),
                Framing::Length => !rest.is_empty(),
            };
            let (deadline, timeout) = if partial {
                let begun = *self.begun.get_or_insert_with(tokio::time::Instant::now);
                (begun + frame, frame)
            } else {
                self.begun = None;
                (idle_deadline, idle)
            };
            match tokio::time::timeout_at(deadline, self.fill()).await {
                Err(_) => {
                    return Err(FrameError::TimedOut {
                        idle: !partial,
                        after: timeout,
                    })
                }
                Ok(more) => {
                    if !more? {
                        return if partial {
                            Err(FrameError::Truncated)
                        } else {
                            Ok(None)
                        };
                    }
                }
            }
        }
    }

    /// The next frame (for lines, without its end of line; blank lines are skipped), or `None`
    /// at a clean end of the stream.
    #[cfg(test)]
    pub async fn next(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        loop {
            if let Some(frame) = self.take_frame()? {
                return Ok(Some(frame));
            }
            if !self.fill().await? {
                let rest = self.buf.get(self.start..).unwrap_or_default();
                return if rest.iter().all(u8::is_ascii_whitespace) {
                    Ok(None)
                } else {
                    Err(FrameError::Truncated)
                };
            }
        }
    }

    /// The next frame if a whole one is already read (taking it does not wait).
    pub fn buffered(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        self.take_frame()
    }

    /// Cuts one frame from the buffer if a whole one is there.
    fn take_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let max = self.max;
        loop {
            let rest = self.buf.get(self.start..).unwrap_or_default();
            match self.framing {
                Framing::Lines => {
                    let Some(end) = rest.iter().position(|&b| b == b'\n') else {
                        if rest.len() > max {
                            return Err(FrameError::TooLarge {
                                size: rest.len(),
                                max,
                            });
                        }
                        return Ok(None);
                    };
                    if end > max {
                        return Err(FrameError::TooLarge { size: end, max });
                    }
                    let line = rest.get(..end).unwrap_or_default();
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    let blank = line.iter().all(u8::is_ascii_whitespace);
                    let frame = (!blank).then(|| line.to_vec());
                    self.start += end + 1;
                    if let Some(frame) = frame {
                        return Ok(Some(frame));
                    }
                }
                Framing::Length => {
                    let Some(header) = rest.get(..4) else {
                        return Ok(None);
                    };
                    let mut len = [0u8; 4];
                    len.copy_from_slice(header);
                    let len = u32::from_be_bytes(len) as usize;
                    if len > max {
                        return Err(FrameError::TooLarge { size: len, max });
                    }
                    let Some(body) = rest.get(4..4 + len) else {
                        return Ok(None);
                    };
                    let frame = body.to_vec();
                    self.start += 4 + len;
                    return Ok(Some(frame));
                }
            }
        }
    }

    /// Reads more bytes; `false` at the end of the stream. Cancel-safe: bytes land in the
    /// buffer only when the read completes.
    async fn fill(&mut self) -> io::Result<bool> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.reserve(CHUNK);
        Ok(self.inner.read_buf(&mut self.buf).await? > 0)
    }
}

/// `payload` framed: a line, or a length and the bytes.
pub fn frame(framing: Framing, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 4);
    frame_into(framing, payload, &mut out);
    out
}

/// `payload` framed, appended to `out` (a buffer reused across frames).
pub fn frame_into(framing: Framing, payload: &[u8], out: &mut Vec<u8>) {
    out.reserve(payload.len() + 4);
    frame_with(framing, out, |out| out.extend_from_slice(payload));
}

/// A payload framed as `write` appends it to `out` (a line, or a length and the bytes), without
/// a buffer of its own: what [`frame_into`] does with a payload it is given.
pub fn frame_with(framing: Framing, out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) {
    match framing {
        Framing::Lines => {
            write(out);
            out.push(b'\n');
        }
        Framing::Length => {
            let at = out.len();
            out.extend_from_slice(&[0; 4]);
            write(out);
            let len = out.len().saturating_sub(at + 4);
            let len = u32::try_from(len).unwrap_or(u32::MAX);
            if let Some(header) = out.get_mut(at..at + 4) {
                header.copy_from_slice(&len.to_be_bytes());
            }
        }
    }
}

/// Writes one framed payload to an async stream.
pub async fn write_frame<W: AsyncWrite + Unpin>(
    w: &mut W,
    framing: Framing,
    payload: &[u8],
) -> io::Result<()> {
    w.write_all(&frame(framing, payload)).await?;
    w.flush().await
}

/// Writes what of `queued` (framed bytes waiting to go) the socket takes now, without waiting,
/// and drops it from the queue; what it does not take waits for the socket to be writable.
pub fn write_queued(writer: &OwnedWriteHalf, queued: &mut Vec<u8>) -> io::Result<()> {
    while !queued.is_empty() {
        match writer.try_write(queued) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                queued.drain(..n.min(queued.len()));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn frames(framing: Framing, max: usize, input: &[u8]) -> Vec<Result<Vec<u8>, String>> {
        let mut reader = FrameReader::new(input, framing, max, Vec::new());
        let mut out = Vec::new();
        loop {
            match reader.next().await {
                Ok(Some(f)) => out.push(Ok(f)),
                Ok(None) => break,
                Err(e) => {
                    out.push(Err(e.to_string()));
                    break;
                }
            }
        }
        out
    }

    #[test]
    fn framing_in_place_is_framing_a_payload() {
        for framing in [Framing::Lines, Framing::Length] {
            for payload in [&b""[..], b"{}", &[b'x'; 70_000]] {
                // The wire format itself: a line, or a big-endian u32 length and the bytes.
                let mut expected = b"ab".to_vec();
                match framing {
                    Framing::Lines => {
                        expected.extend_from_slice(payload);
                        expected.push(b'\n');
                    }
                    Framing::Length => {
                        let len = u32::try_from(payload.len()).unwrap();
                        expected.extend_from_slice(&len.to_be_bytes());
                        expected.extend_from_slice(payload);
                    }
                }
                let mut out = b"ab".to_vec();
                frame_with(framing, &mut out, |out| out.extend_from_slice(payload));
                assert_eq!(out, expected);
                let mut into = b"ab".to_vec();
                frame_into(framing, payload, &mut into);
                assert_eq!(into, expected);
            }
        }
    }

    #[tokio::test]
    async fn lines_are_cut_at_newlines() {
        let got = frames(Framing::Lines, 100, b"{\"a\":1}\r\n\n  \n[1]\n").await;
        assert_eq!(got, vec![Ok(b"{\"a\":1}".to_vec()), Ok(b"[1]".to_vec())]);
        let got = frames(Framing::Lines, 100, b"{\"a\":1}").await;
        assert_eq!(
            got,
            vec![Err("the connection closed in the middle of a frame".into())]
        );
    }

    #[tokio::test]
    async fn long_lines_are_refused() {
        let mut input = vec![b'x'; 50];
        input.push(b'\n');
        let got = frames(Framing::Lines, 10, &input).await;
        assert_eq!(
            got,
            vec![Err(
                "frame too large: 50 bytes or more, the limit is 10 bytes".into()
            )]
        );
        // Without a newline in sight, the limit still holds.
        let input = vec![b'x'; 100_000];
        let got = frames(Framing::Lines, 10, &input).await;
        assert!(matches!(got.as_slice(), [Err(e)] if e.starts_with("frame too large")));
    }

    #[tokio::test]
    async fn length_frames() {
        let mut input = frame(Framing::Length, b"{}");
        input.extend(frame(Framing::Length, b"[1,2]"));
        let got = frames(Framing::Length, 100, &input).await;
        assert_eq!(got, vec![Ok(b"{}".to_vec()), Ok(b"[1,2]".to_vec())]);
        let got = frames(Framing::Length, 3, &input).await;
        assert_eq!(got.len(), 2);
        assert!(got[1]
            .as_ref()
            .unwrap_err()
            .starts_with("frame too large: 5 bytes"));
    }

    #[tokio::test]
    async fn pending_bytes_come_first() {
        let mut reader = FrameReader::new(&b"2}\n"[..], Framing::Lines, 10, b"{\"a\":".to_vec());
        assert_eq!(reader.next().await.unwrap(), Some(b"{\"a\":2}".to_vec()));
        assert_eq!(reader.next().await.unwrap(), None);
    }

    #[tokio::test]
    async fn deadlines_cut_idle_and_trickling_senders() {
        use std::time::Duration;
        use tokio::io::AsyncWriteExt;
        let short = Duration::from_millis(50);
        let long = Duration::from_secs(30);
        // Nothing at all: idle.
        let (_keep, quiet) = tokio::io::duplex(64);
        let mut reader = FrameReader::new(quiet, Framing::Lines, 100, Vec::new());
        let got = reader.next_within(short, long).await;
        assert!(
            matches!(got, Err(FrameError::TimedOut { idle: true, .. })),
            "{got:?}"
        );
        // A frame begun and never finished: cut at the frame deadline though bytes keep coming.
        let (mut tx, rx) = tokio::io::duplex(64);
        let trickle = tokio::spawn(async move {
            for _ in 0..40 {
                if tx.write_all(b"x").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        let mut reader = FrameReader::new(rx, Framing::Lines, 100, Vec::new());
        let got = reader.next_within(long, Duration::from_millis(100)).await;
        assert!(
            matches!(got, Err(FrameError::TimedOut { idle: false, .. })),
            "{got:?}"
        );
        trickle.abort();
        // Frames in time pass.
        let mut reader = FrameReader::new(&b"{}\n"[..], Framing::Lines, 100, Vec::new());
        assert_eq!(
            reader.next_within(short, short).await.unwrap(),
            Some(b"{}".to_vec())
        );
        assert_eq!(reader.next_within(short, short).await.unwrap(), None);
    }
}
