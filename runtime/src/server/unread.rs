//! What the server does with a request body it will not use: a refused request's client may
//! still be writing its body, and a server that answers and closes at once makes that client
//! read a broken pipe or a reset instead of the refusal. So before a refusal is answered, the
//! rest of the body is read and dropped: up to [`DRAIN_AFTER_REFUSAL`] bytes (a declared
//! `Content-Length` larger than that is cut off at once, as is anything still arriving after
//! [`DRAIN_FOR`]), so a refusal costs the server bounded work whoever sends it.

use axum::body::{Body, Bytes, HttpBody};
use axum::http::{header, HeaderMap};
use std::pin::Pin;

/// The largest refused body that is still read to its end (and dropped) before the answer.
pub const DRAIN_AFTER_REFUSAL: u64 = 64 << 20;
/// How long a refused body is read at most.
const DRAIN_FOR: std::time::Duration = std::time::Duration::from_secs(5);

/// The body's declared `Content-Length`, if any.
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// Reads and drops what is left of a refused request's `body` (declared `length`) so that its
/// client reads the answer: all of it when it declared at most [`DRAIN_AFTER_REFUSAL`] bytes,
/// nothing when it declared more, an eighth of that cap when it declared nothing (chunked).
pub async fn drain_refused(body: &mut Body, length: Option<u64>) {
    let cap = match length {
        Some(len) if len <= DRAIN_AFTER_REFUSAL => len,
        Some(_) => return,
        None => DRAIN_AFTER_REFUSAL / 8,
    };
    let mut total = 0u64;
    let _ = tokio::time::timeout(DRAIN_FOR, async {
        while let Some(Ok(frame)) = next_frame(body).await {
            if let Some(data) = frame {
                total += data.len() as u64;
                if total > cap {
                    break;
                }
            }
        }
    })
    .await;
}

/// The next frame of `body`: its data, or `None` for a frame of trailers.
pub async fn next_frame(body: &mut Body) -> Option<Result<Option<Bytes>, axum::Error>> {
    std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx))
        .await
        .map(|frame| frame.map(|f| f.into_data().ok()))
}

/// The whole body when it has at most `limit` bytes; `None` (the rest drained as for any
/// refusal) when it is larger or breaks off.
pub async fn read_at_most(mut body: Body, length: Option<u64>, limit: usize) -> Option<Bytes> {
    if length.is_some_and(|len| len > limit as u64) {
        drain_refused(&mut body, length).await;
        return None;
    }
    let mut bytes = Vec::new();
    while let Some(frame) = next_frame(&mut body).await {
        let Ok(frame) = frame else {
            return None;
        };
        if let Some(data) = frame {
            if bytes.len() + data.len() > limit {
                drain_refused(&mut body, length).await;
                return None;
            }
            bytes.extend_from_slice(&data);
        }
    }
    Some(Bytes::from(bytes))
}
