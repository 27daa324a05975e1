//! `POST /v1/bundles`: a bundle upload, checked as it arrives. The body streams from the
//! connection into the store's importer (on a blocking thread, through a small channel), which
//! reads the header first: the magic, format, manifest, signer and signature, then the release
//! number against the newest the server accepted. A refusal there ends the upload after its
//! first bytes; only a verified header's files are written (to the store's `tmp/`, hashed as
//! they stream, kept only when every check passed). A declared `Content-Length` over the limit
//! is refused before anything is read; the body must match the sha-256 it was signed with. A
//! refused upload is read to its end as [`super::unread`] says (dropped, not stored) so that its
//! client reads the refusal rather than a broken connection.

use super::auth::Principal;
use super::guard::Declared;
use super::http::ApiError;
use super::state::BundleRec;
use super::unread::{declared_length, drain_refused, next_frame};
use super::{now_ms, write_event, Shared};
use crate::bundle::{BundleError, SignedManifest};
use crate::digest::Hasher;
use axum::body::{Body, Bytes};
use axum::extract::{Extension, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rusqlite::params;
use serde::Deserialize;
use std::io::Read;
use std::sync::Arc;
use tokio::sync::mpsc;

#[derive(Debug, Deserialize)]
pub struct PushQuery {
    /// Accept a release not newer than the newest accepted (logged).
    #[serde(default)]
    allow_downgrade: bool,
}

/// `POST /v1/bundles`.
pub async fn push_bundle(
    State(shared): State<Arc<Shared>>,
    Extension(who): Extension<Principal>,
    Extension(Declared(declared)): Extension<Declared>,
    Query(q): Query<PushQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let by = who.operator()?.to_string();
    let limit = shared.config.limits.max_container();
    let length = declared_length(&headers);
    let mut body = body;
    if let Some(len) = length.filter(|&len| len > limit) {
        drain_refused(&mut body, length).await;
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("bundle refused: the upload is {len} bytes, over the limit of {limit} bytes"),
        ));
    }
    let (tx, rx) = mpsc::channel(4);
    let (store, trust, limits, sh) = (
        shared.store.clone(),
        shared.config.trust.clone(),
        shared.config.limits,
        Arc::clone(&shared),
    );
    let allow = q.allow_downgrade;
    let import = tokio::task::spawn_blocking(move || {
        store.import_checked(BodyReader::new(rx), &trust, &limits, |signed| {
            check_release(&sh, signed, allow).map(|_| ())
        })
    });
    let pumped = pump(&mut body, tx, limit, &declared).await;
    let imported = import.await;
    if pumped.is_err() || !matches!(imported, Ok(Ok(_))) {
        // Refused, maybe from its first bytes: the rest of the body is read (and dropped) so
        // that its client reads the answer instead of a broken pipe.
        drain_refused(&mut body, length).await;
    }
    let imported = imported.map_err(|e| ApiError::internal(e.to_string()))?;
    pumped?;
    let stored = imported.map_err(|e| {
        let status = match &e {
            BundleError::UnknownKey { .. } | BundleError::BadSignature { .. } => {
                StatusCode::FORBIDDEN
            }
            BundleError::Oversized { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            BundleError::NotNewer { .. } => StatusCode::CONFLICT,
            BundleError::Io { .. } | BundleError::Build { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        tracing::warn!(error = %e, "bundle refused");
        ApiError::new(status, format!("bundle refused: {e}"))
    })?;
    let rec = BundleRec::new(&stored.signed).map_err(|e| ApiError::bad(e.to_string()))?;
    let info = rec.info.clone();
    let _guard = shared.commands.lock().await;
    if shared.lock().bundles.contains_key(&info.id) {
        return Ok((StatusCode::OK, Json(info)).into_response());
    }
    // Again under the lock: two uploads may have passed the early check together.
    let downgrade_from = check_release(&shared, &stored.signed, allow)
        .map_err(|e| ApiError::new(StatusCode::CONFLICT, format!("bundle refused: {e}")))?;
    let now = now_ms();
    let mut text = format!(
        "bundle `{}` pushed by operator key `{by}`: {} {} -> {} release {}, signed by `{}`",
        info.id, info.spec, info.from, info.to, info.release, info.key_id
    );
    if let Some(newest) = downgrade_from {
        text.push_str(&format!(
            "; a downgrade from release {newest}, allowed by operator key `{by}`"
        ));
        tracing::warn!("{text}");
    }
    let kind = if downgrade_from.is_some() {
        "downgrade"
    } else {
        "bundle"
    };
    let event = shared.lock().event(now, None, None, kind, text);
    let (row, e) = (info.clone(), event.clone());
    let header = rec.header.as_ref().clone();
    shared
        .db
        .write(move |c| {
            c.execute(
                "INSERT OR IGNORE INTO bundles (id, spec, from_version, to_version, spec_hash, key_id, header, pushed_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![row.id, row.spec, row.from, row.to, row.spec_hash, row.key_id, header, now],
            )?;
            write_event(c, &e)
        })
        .await
        .map_err(ApiError::internal)?;
    let mut st = shared.lock();
    st.bundles.insert(info.id.clone(), rec);
    st.push_event(event);
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

/// Refuses a release of a system not newer than the newest accepted one, unless `allow`;
/// with `allow`, the newer release it goes back from, if any. A bundle already held passes.
fn check_release(
    shared: &Shared,
    signed: &SignedManifest,
    allow: bool,
) -> Result<Option<u64>, BundleError> {
    let m = &signed.manifest;
    let st = shared.lock();
    if st.bundles.contains_key(&signed.id()) {
        return Ok(None);
    }
    let newest = st
        .bundles
        .values()
        .filter(|b| b.info.spec == m.spec)
        .map(|b| b.info.release)
        .max();
    match newest {
        Some(newest) if m.release <= newest => {
            if allow {
                Ok(Some(newest))
            } else {
                Err(BundleError::NotNewer {
                    spec: m.spec.clone(),
                    release: m.release,
                    newest,
                    holder: "the newest this server accepted",
                })
            }
        }
        _ => Ok(None),
    }
}

/// Feeds the body to the importer, counting and hashing it. Stops when the importer stops
/// reading (it refused the bundle: its error says why).
async fn pump(
    body: &mut Body,
    tx: mpsc::Sender<Result<Bytes, String>>,
    limit: u64,
    declared: &str,
) -> Result<(), ApiError> {
    let mut hasher = Hasher::new();
    let mut total = 0u64;
    while let Some(frame) = next_frame(body).await {
        let frame = match frame {
            Ok(f) => f,
            Err(e) => {
                let message = format!("the upload broke off: {e}");
                let _ = tx.send(Err(message.clone())).await;
                return Err(ApiError::bad(message));
            }
        };
        let Some(data) = frame else {
            continue;
        };
        total += data.len() as u64;
        if total > limit {
            let message = format!("bundle refused: the upload is over the limit of {limit} bytes");
            let _ = tx.send(Err(message.clone())).await;
            return Err(ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, message));
        }
        hasher.update(&data);
        if tx.send(Ok(data)).await.is_err() {
            return Ok(());
        }
    }
    if hasher.finish() != declared {
        let message = "the upload does not match the sha-256 it was signed with".to_string();
        let _ = tx.send(Err(message.clone())).await;
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, message));
    }
    Ok(())
}

/// The body as a blocking reader, for the importer's thread.
struct BodyReader {
    rx: mpsc::Receiver<Result<Bytes, String>>,
    current: Bytes,
}

impl BodyReader {
    fn new(rx: mpsc::Receiver<Result<Bytes, String>>) -> BodyReader {
        BodyReader {
            rx,
            current: Bytes::new(),
        }
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(bytes)) => self.current = bytes,
                Some(Err(message)) => return Err(std::io::Error::other(message)),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        let chunk = self.current.split_to(n);
        if let Some(dest) = buf.get_mut(..n) {
            dest.copy_from_slice(&chunk);
        }
        Ok(n)
    }
}
