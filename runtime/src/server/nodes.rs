//! Enrolled nodes: `POST /v1/nodes` (an operator enrolls a node id with the node's public
//! key), `GET /v1/nodes` (the list, with what each node last said) and `DELETE /v1/nodes/{id}`
//! (decommission: the enrollment and the node's record go, so no rollout waits for it).
//!
//! Only an enrolled node's signed polls and reports are accepted, and only for its own id: a
//! made-up id never joins a rollout.

use super::auth::{Enrolled, Principal};
use super::http::{check_name, json_body, ApiError};
use super::{now_ms, write_event, Shared};
use crate::api::{Enroll, EnrolledNode};
use crate::bundle::keys::key_id;
use crate::digest::{hex, unhex};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ed25519_dalek::VerifyingKey;
use rusqlite::params;
use std::sync::Arc;

type Shr = State<Arc<Shared>>;

fn info(shared: &Shared, e: &Enrolled) -> EnrolledNode {
    let st = shared.lock();
    let status = st
        .nodes
        .get(&e.id)
        .map(|n| st.node_info(n, now_ms(), shared.config.offline_after_ms));
    EnrolledNode {
        id: e.id.clone(),
        key_id: VerifyingKey::from_bytes(&e.key)
            .map(|k| key_id(&k))
            .unwrap_or_default(),
        enrolled_at_ms: e.enrolled_at_ms,
        enrolled_by: e.enrolled_by.clone(),
        status,
    }
}

/// `POST /v1/nodes`.
pub async fn enroll(
    State(shared): Shr,
    Extension(who): Extension<Principal>,
    body: Result<Json<Enroll>, JsonRejection>,
) -> Result<Response, ApiError> {
    let by = who.operator()?.to_string();
    let req = json_body(body)?;
    check_name("node id", &req.id)?;
    let key = unhex::<32>(&req.public_key)
        .and_then(|k| VerifyingKey::from_bytes(&k).ok())
        .ok_or_else(|| {
            ApiError::bad(
                "`public_key` is not an ed25519 public key: give the 64 hex digits of the node's `node.key.pub`",
            )
        })?;
    let bytes = key.to_bytes();
    let kid = key_id(&key);
    let _guard = shared.commands.lock().await;
    {
        let enrolled = shared.auth.enrolled();
        if let Some(have) = enrolled.get(&req.id) {
            if have.key == bytes {
                let have = have.clone();
                drop(enrolled);
                return Ok((StatusCode::OK, Json(info(&shared, &have))).into_response());
            }
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "node `{}` is enrolled with another key: remove it first (`upstart nodes remove {}`)",
                    req.id, req.id
                ),
            ));
        }
        if let Some(other) = enrolled.node_of(&bytes) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("key `{kid}` is enrolled for node `{other}`: a key speaks for one node"),
            ));
        }
    }
    if shared.auth.is_operator(&bytes) {
        return Err(ApiError::bad(format!(
            "key `{kid}` is an operator key: a node needs its own key"
        )));
    }
    let now = now_ms();
    let e = Enrolled {
        id: req.id.clone(),
        key: bytes,
        enrolled_at_ms: now,
        enrolled_by: by.clone(),
    };
    let event = shared.lock().event(
        now,
        None,
        Some(&req.id),
        "enrolled",
        format!(
            "node `{}` enrolled with key `{kid}` by operator key `{by}`",
            req.id
        ),
    );
    let (row, ev) = (e.clone(), event.clone());
    shared
        .db
        .write(move |c| {
            c.execute(
                "INSERT INTO enrolled_nodes (id, public_key, enrolled_at_ms, enrolled_by) VALUES (?1, ?2, ?3, ?4)",
                params![row.id, hex(&row.key), row.enrolled_at_ms, row.enrolled_by],
            )?;
            write_event(c, &ev)
        })
        .await
        .map_err(ApiError::internal)?;
    shared.auth.enrolled().insert(e.clone());
    shared.lock().push_event(event);
    Ok((StatusCode::CREATED, Json(info(&shared, &e))).into_response())
}

/// `GET /v1/nodes`.
pub async fn list(State(shared): Shr) -> Json<Vec<EnrolledNode>> {
    let all: Vec<Enrolled> = shared.auth.enrolled().all().cloned().collect();
    let mut out: Vec<EnrolledNode> = all.iter().map(|e| info(&shared, e)).collect();
    out.sort_by(|a, b| crate::schedule::order::natural_cmp(&a.id, &b.id));
    Json(out)
}

/// `DELETE /v1/nodes/{id}`.
pub async fn remove(
    State(shared): Shr,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<EnrolledNode>, ApiError> {
    let by = who.operator()?.to_string();
    check_name("node id", &id)?;
    let _guard = shared.commands.lock().await;
    let Some(e) = shared.auth.enrolled().get(&id).cloned() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no node `{id}` is enrolled"),
        ));
    };
    let removed = info(&shared, &e);
    let now = now_ms();
    let event = shared.lock().event(
        now,
        None,
        Some(&id),
        "removed",
        format!("node `{id}` removed by operator key `{by}`: no rollout waits for it"),
    );
    let (node, ev) = (id.clone(), event.clone());
    shared
        .db
        .write(move |c| {
            c.execute("DELETE FROM enrolled_nodes WHERE id = ?1", params![node])?;
            c.execute("DELETE FROM nodes WHERE id = ?1", params![node])?;
            write_event(c, &ev)
        })
        .await
        .map_err(ApiError::internal)?;
    let generation = {
        // Lock order: the model, then the enrollments (as polls take them).
        let mut st = shared.lock();
        shared.auth.enrolled().remove(&id);
        st.nodes.remove(&id);
        st.dirty.remove(&id);
        st.push_event(event);
        st.generation += 1;
        st.needs_eval = true;
        st.generation
    };
    shared.publish(generation);
    shared.wake.notify_one();
    Ok(Json(removed))
}
