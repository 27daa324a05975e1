//! The authentication layer in front of every handler: reads (`GET`) are public; every other
//! request must be signed (see [`crate::auth`]) by an operator or an enrolled node, checked
//! before its body is read. The signer ([`Principal`]) goes to the handler, which decides
//! whether that signer may do what is asked. Bodies are at most [`MAX_SIGNED_BODY`] bytes and
//! must match the sha-256 they were signed with; a refused body is read and dropped first
//! ([`super::unread`]), so its client reads the refusal; a bundle upload instead streams to its
//! handler, which checks the hash as the bytes arrive ([`Declared`]).

use super::http::ApiError;
use super::unread::{declared_length, drain_refused, read_at_most};
use super::{now_ms, Shared};
use crate::digest::sha256_hex;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The largest signed body other than a bundle upload.
pub const MAX_SIGNED_BODY: usize = 1 << 20;

/// The sha-256 a streamed body was signed with.
#[derive(Debug, Clone)]
pub struct Declared(pub String);

/// The path that streams its body (bundle uploads).
pub const STREAMED: &str = "/v1/bundles";

pub async fn guard(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        return next.run(req).await;
    }
    let (mut parts, mut body) = req.into_parts();
    let length = declared_length(&parts.headers);
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_string(), |p| p.as_str().to_string());
    let (who, declared) = match shared.auth.verify(
        parts.method.as_str(),
        &path,
        &parts.headers,
        now_ms(),
    ) {
        Ok(v) => v,
        Err(refusal) => {
            tracing::info!(method = %parts.method, %path, reason = %refusal.message, "request refused");
            drain_refused(&mut body, length).await;
            return ApiError::from(refusal).into_response();
        }
    };
    parts.extensions.insert(who);
    if parts.uri.path() == STREAMED {
        parts.extensions.insert(Declared(declared));
        return next.run(Request::from_parts(parts, body)).await;
    }
    let bytes = match read_at_most(body, length, MAX_SIGNED_BODY).await {
        Some(b) => b,
        None => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body is larger than {MAX_SIGNED_BODY} bytes, or broke off"),
            )
            .into_response()
        }
    };
    if sha256_hex(&bytes) != declared {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "the request body does not match the sha-256 it was signed with",
        )
        .into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
