//! The HTTP API (see [`crate::api`] for the table of endpoints): handlers, input checks, and
//! the commands that change rollouts. Requests pass [`super::guard`] first; handlers check
//! that the signer may do what it asks (operators command, nodes speak for themselves).

use super::auth::{Principal, Refusal};
use super::state::Rollout;
use super::{
    commit, now_ms, start_next, write_event, write_joined, write_liveness, Change, Shared,
};
use crate::api::{
    BundleInfo, Directive, ErrorBody, Phase, PollRequest, Report, RolloutInfo, RolloutState,
    StartRollout, Status,
};
use crate::digest::is_sha256_hex;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

type Shr = State<Arc<Shared>>;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/v1/bundles",
            post(super::upload::push_bundle).get(list_bundles),
        )
        .route("/v1/bundles/{id}", get(bundle_header))
        .route("/v1/objects/{sha256}", get(object))
        .route("/v1/rollouts", post(start_rollout))
        .route("/v1/rollouts/{id}/{action}", post(control))
        .route("/v1/nodes/{id}/poll", post(poll))
        .route("/v1/nodes/{id}/report", post(report))
        .route("/v1/status", get(status))
        .route(
            "/v1/nodes",
            post(super::nodes::enroll).get(super::nodes::list),
        )
        .route("/v1/nodes/{id}", delete(super::nodes::remove))
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "no such endpoint: the API is under `/v1/`",
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            super::guard::guard,
        ))
        .with_state(shared)
}

/// An error answer: a status and `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> ApiError {
        ApiError::new(r.status, r.message)
    }
}

impl ApiError {
    pub(super) fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub(super) fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub(super) fn internal(message: impl std::fmt::Display) -> ApiError {
        let message = message.to_string();
        tracing::error!(%message, "internal error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response()
    }
}

pub(super) fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(v)| v).map_err(|e| {
        ApiError::bad(format!(
            "the request body is not what this endpoint takes: {}",
            e.body_text()
        ))
    })
}

/// Node ids and system names: 1 to 128 of `A-Z a-z 0-9 . _ : -`.
pub(super) fn check_name(what: &str, name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    if ok {
        Ok(())
    } else {
        let shown: String = name.chars().take(40).collect();
        Err(ApiError::bad(format!(
            "{what} `{shown}` is not valid: use 1 to 128 letters, digits, `.`, `_`, `:` or `-`"
        )))
    }
}

fn etag_of(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{h:016x}\"")
}

#[derive(Debug, Deserialize)]
struct PollQuery {
    /// Hold the answer up to this long while it would be unchanged (`If-None-Match`).
    #[serde(default)]
    wait_ms: u64,
}

/// `POST /v1/nodes/{id}/poll`.
async fn poll(
    State(shared): Shr,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    Query(q): Query<PollQuery>,
    headers: HeaderMap,
    body: Result<Json<PollRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    check_name("node id", &id)?;
    who.node(&id)?;
    let req = json_body(body)?;
    check_name("system", &req.system)?;
    let interval = shared.config.poll_interval_ms;
    let (directive, observed, generation) = {
        let mut st = shared.lock();
        still_enrolled(&shared, &id)?;
        let observed = st.observe(&id, &req, now_ms());
        // Queued while the model is locked, so that no later change of the node (its
        // assignment) is queued before it and cleared by it.
        if let Some(rollout) = observed.joined {
            let node = id.clone();
            shared.db.send(move |c| write_joined(c, &node, rollout));
        }
        (st.directive(&id, interval), observed, st.generation)
    };
    if observed.changed || observed.joined.is_some() {
        shared.publish(generation);
        shared.wake.notify_one();
    }
    let mut body = serde_json::to_vec(&directive).map_err(|e| ApiError::internal(e.to_string()))?;
    let mut etag = etag_of(&body);
    let known = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if known.as_deref() == Some(etag.as_str()) {
        let wait = q.wait_ms.min(shared.config.max_wait_ms);
        if wait == 0 {
            return Ok(not_modified(&etag));
        }
        let mut rx = shared.changed.subscribe();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(wait);
        loop {
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {
                    let d = shared.lock().directive(&id, interval);
                    body = serde_json::to_vec(&d).map_err(|e| ApiError::internal(e.to_string()))?;
                    etag = etag_of(&body);
                    if known.as_deref() != Some(etag.as_str()) {
                        break;
                    }
                }
                _ => return Ok(not_modified(&etag)),
            }
        }
    }
    Ok(json_bytes(StatusCode::OK, body, Some(&etag)))
}

fn not_modified(etag: &str) -> Response {
    let mut r = StatusCode::NOT_MODIFIED.into_response();
    if let Ok(v) = HeaderValue::from_str(etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

fn json_bytes(status: StatusCode, body: Vec<u8>, etag: Option<&str>) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(v) = etag.and_then(|e| HeaderValue::from_str(e).ok()) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

/// `POST /v1/nodes/{id}/report`: committed (with its event) before the answer.
async fn report(
    State(shared): Shr,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: Result<Json<Report>, JsonRejection>,
) -> Result<Json<Directive>, ApiError> {
    check_name("node id", &id)?;
    who.node(&id)?;
    let rep = json_body(body)?;
    check_name("system", &rep.system)?;
    let message: String = rep.message.chars().take(2000).collect();
    let now = now_ms();
    let req = PollRequest {
        system: rep.system,
        version: rep.version,
        phase: rep.phase,
        healthy: rep.healthy,
        address: rep.address,
    };
    let (event, committed) = {
        let mut st = shared.lock();
        still_enrolled(&shared, &id)?;
        let joined = st.observe(&id, &req, now).joined;
        st.dirty.remove(&id);
        let node = st
            .nodes
            .get(&id)
            .cloned()
            .ok_or_else(|| ApiError::internal("the node vanished"))?;
        let kind = if rep.phase == Phase::Failed {
            "failed"
        } else {
            "phase"
        };
        let mut text = format!(
            "`{id}` is {} at version {}{}",
            rep.phase,
            rep.version,
            if rep.healthy { "" } else { ", unhealthy" }
        );
        if !message.is_empty() {
            text.push_str(": ");
            text.push_str(&message);
        }
        let event = st.event(now, node.rollout, Some(&id), kind, text);
        let e = event.clone();
        // Queued while the model is locked, so that no later change of the node (its
        // assignment) is queued before it and cleared by its joining.
        let committed = shared.db.write(move |c| {
            write_liveness(c, &node)?;
            if let Some(rollout) = joined {
                write_joined(c, &node.id, rollout)?;
            }
            write_event(c, &e)
        });
        (event, committed)
    };
    committed.await.map_err(ApiError::internal)?;
    let (directive, generation) = {
        let mut st = shared.lock();
        st.push_event(event);
        st.generation += 1;
        (
            st.directive(&id, shared.config.poll_interval_ms),
            st.generation,
        )
    };
    shared.publish(generation);
    shared.wake.notify_one();
    Ok(Json(directive))
}

/// `GET /v1/status`.
async fn status(State(shared): Shr) -> Json<Status> {
    let now = now_ms();
    let offline = shared.config.offline_after_ms;
    let st = shared.lock();
    let rollouts = st
        .rollouts
        .values()
        .rev()
        .map(|r| st.rollout_info(r))
        .collect();
    let mut nodes: Vec<_> = st
        .nodes
        .values()
        .map(|n| st.node_info(n, now, offline))
        .collect();
    drop(st);
    nodes.sort_by(|a, b| crate::schedule::order::natural_cmp(&a.id, &b.id));
    let events = shared.lock().events.iter().cloned().collect();
    Json(Status {
        now_ms: now,
        rollouts,
        nodes,
        events,
    })
}

/// `GET /v1/bundles`.
async fn list_bundles(State(shared): Shr) -> Json<Vec<BundleInfo>> {
    let st = shared.lock();
    let mut list: Vec<BundleInfo> = st.bundles.values().map(|b| b.info.clone()).collect();
    list.sort_by(|a, b| {
        (a.spec.as_str(), a.from, a.created_at).cmp(&(b.spec.as_str(), b.from, b.created_at))
    });
    Json(list)
}

/// `GET /v1/bundles/{id}`: the signed header.
async fn bundle_header(State(shared): Shr, Path(id): Path<String>) -> Result<Response, ApiError> {
    let header = shared.lock().bundles.get(&id).map(|b| b.header.clone());
    let header =
        header.ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no bundle `{id}`")))?;
    let mut r = (StatusCode::OK, header.as_ref().clone()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    Ok(r)
}

/// `GET /v1/objects/{sha256}`.
async fn object(State(shared): Shr, Path(sha): Path<String>) -> Result<Response, ApiError> {
    if !is_sha256_hex(&sha) {
        return Err(ApiError::bad(format!(
            "`{sha}` is not a content address (64 lowercase hex digits)"
        )));
    }
    let path = shared
        .store
        .object_path(&sha)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no object `{sha}`")))?;
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| ApiError::internal(format!("cannot read object `{sha}`: {e}")))?;
    let mut r = (StatusCode::OK, Bytes::from(bytes)).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    Ok(r)
}

/// Refuses node `id` once it is no longer enrolled (removed since the request was checked).
/// Called with the model locked, so a removal cannot slip between the check and the change.
fn still_enrolled(shared: &Shared, id: &str) -> Result<(), ApiError> {
    if shared.auth.enrolled().contains(id) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            format!("node `{id}` is not enrolled"),
        ))
    }
}

/// `POST /v1/rollouts`.
async fn start_rollout(
    State(shared): Shr,
    Extension(who): Extension<Principal>,
    body: Result<Json<StartRollout>, JsonRejection>,
) -> Result<Response, ApiError> {
    let by = who.operator()?.to_string();
    let req = json_body(body)?;
    let _guard = shared.commands.lock().await;
    let now = now_ms();
    let (changes, id) = {
        let mut st = shared.lock();
        let bundle = st
            .bundles
            .get(&req.bundle)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("no bundle `{}`: push it first", req.bundle),
                )
            })?
            .clone();
        if let Some(r) = st
            .rollouts
            .values()
            .find(|r| r.bundle == req.bundle && r.state.is_active())
        {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "rollout {} of bundle `{}` is already {}",
                    r.id, req.bundle, r.state
                ),
            ));
        }
        let id = st.rollouts.keys().next_back().map_or(1, |last| last + 1);
        let busy = st.busy(&bundle.info.spec, id);
        let seed = match req.seed {
            Some(s) => s,
            None => {
                let mut b = [0u8; 8];
                getrandom::fill(&mut b).map_err(|e| ApiError::internal(e.to_string()))?;
                u64::from_le_bytes(b)
            }
        };
        let state = if busy.is_some() {
            RolloutState::Pending
        } else {
            RolloutState::Running
        };
        let reason = match busy {
            Some(other) => format!("waits for rollout {other} to end"),
            None => "started".into(),
        };
        let rollout = Rollout {
            id,
            bundle: req.bundle.clone(),
            system: bundle.info.spec.clone(),
            from: bundle.info.from,
            to: bundle.info.to,
            state,
            reason,
            seed,
            canary_passed: false,
            schedule: bundle.schedule.clone(),
            created_at_ms: now,
            updated_at_ms: now,
            progress: Default::default(),
            going_back: Vec::new(),
            discard_writes: false,
        };
        let mut changes = Vec::new();
        if state == RolloutState::Running {
            for node in st.members_at_start(&rollout) {
                changes.push(Change::Join { rollout: id, node });
            }
        }
        let text = format!(
            "rollout {id} of `{}` {} -> {} created by operator key `{by}` ({}); schedule: {}",
            rollout.system,
            rollout.from,
            rollout.to,
            rollout.state,
            rollout.schedule.describe()
        );
        changes.insert(0, Change::Insert(Box::new(rollout)));
        changes.push(Change::Event(st.event(
            now,
            Some(id),
            None,
            "created",
            text,
        )));
        (changes, id)
    };
    commit(&shared, changes).await.map_err(ApiError::internal)?;
    let info = rollout_info(&shared, id)?;
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

fn rollout_info(shared: &Shared, id: u64) -> Result<RolloutInfo, ApiError> {
    let st = shared.lock();
    st.rollouts
        .get(&id)
        .map(|r| st.rollout_info(r))
        .ok_or_else(|| ApiError::internal(format!("rollout {id} vanished")))
}

/// The query of `POST /v1/rollouts/{id}/rollback`.
#[derive(Debug, Deserialize)]
struct ControlQuery {
    discard_writes: Option<bool>,
}

/// The operator `by`'s decision on rollout `id`: its new `state` (with `reason`), and the event
/// `kind` that says who decided (`rollout 3 rolled back by operator key ...`).
fn decided(
    st: &mut super::state::State,
    now: u64,
    (id, by): (u64, &str),
    state: RolloutState,
    reason: String,
    kind: &str,
) -> [Change; 2] {
    let message = format!(
        "rollout {id} {} by operator key `{by}`",
        kind.replace('_', " ")
    );
    [
        Change::SetState {
            rollout: id,
            state,
            reason,
            at_ms: now,
            progress: st.rollouts.get(&id).map(|r| r.progress).unwrap_or_default(),
        },
        Change::Event(st.event(now, Some(id), None, kind, message)),
    ]
}

/// `POST /v1/rollouts/{id}/{pause|resume|rollback}`; `{id}` may be `current`.
async fn control(
    State(shared): Shr,
    Extension(who): Extension<Principal>,
    Path((id, action)): Path<(String, String)>,
    Query(query): Query<ControlQuery>,
) -> Result<Json<RolloutInfo>, ApiError> {
    let by = who.operator()?.to_string();
    let discard = query.discard_writes.unwrap_or(false);
    if discard && action != "rollback" {
        return Err(ApiError::bad("`discard_writes` goes with `rollback` only"));
    }
    if !matches!(action.as_str(), "pause" | "resume" | "rollback") {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("unknown action `{action}`: use `pause`, `resume` or `rollback`"),
        ));
    }
    let _guard = shared.commands.lock().await;
    let now = now_ms();
    let (changes, id) = {
        let mut st = shared.lock();
        let id = if id == "current" {
            st.current_rollout(action == "rollback").ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("there is no rollout to {action}"),
                )
            })?
        } else {
            id.parse::<u64>().map_err(|_| {
                ApiError::bad(format!(
                    "`{id}` is not a rollout id: use a number or `current`"
                ))
            })?
        };
        let r = st
            .rollouts
            .get(&id)
            .cloned()
            .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no rollout {id}")))?;
        let conflict = |what: &str| {
            ApiError::new(
                StatusCode::CONFLICT,
                format!("rollout {id} is {}: there is nothing to {what}", r.state),
            )
        };
        let mut changes = Vec::new();
        match (action.as_str(), r.state) {
            ("pause", RolloutState::Paused) | ("resume", RolloutState::Running) => {}
            ("rollback", RolloutState::RolledBack) => {
                if discard && !r.discard_writes {
                    changes.push(Change::AllowDiscard { rollout: id });
                    changes.push(Change::Event(st.event(
                        now,
                        Some(id),
                        None,
                        "discard_writes",
                        format!(
                            "rollout {id}: operator key `{by}` allows dropping the writes that \
                             cannot be carried back"
                        ),
                    )));
                }
            }
            ("pause", RolloutState::Running | RolloutState::Pending) => {
                let reason = format!("paused by operator key `{by}`: resume with `upstart resume`");
                let state = RolloutState::Paused;
                changes.extend(decided(&mut st, now, (id, &by), state, reason, "paused"));
            }
            ("resume", RolloutState::Paused) => {
                if let Some(other) = st.busy(&r.system, id) {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        format!("rollout {other} of `{}` is active: end it first", r.system),
                    ));
                }
                // A rollout paused while pending gains its members now.
                for node in st.members_at_start(&r) {
                    if st.nodes.get(&node).is_some_and(|n| n.rollout != Some(id)) {
                        changes.push(Change::Join { rollout: id, node });
                    }
                }
                // Nodes that failed are retried after a resume.
                let failed: Vec<String> = st
                    .nodes
                    .values()
                    .filter(|n| {
                        n.rollout == Some(id)
                            && n.assignment.is_some()
                            && matches!(n.phase, Phase::Failed | Phase::RolledBack)
                    })
                    .map(|n| n.id.clone())
                    .collect();
                for node in failed {
                    changes.push(Change::Event(st.event(
                        now,
                        Some(id),
                        Some(&node),
                        "retry",
                        format!("`{node}` will be retried"),
                    )));
                    changes.push(Change::Unassign { node });
                }
                let (state, reason) = (RolloutState::Running, "resumed".into());
                changes.extend(decided(&mut st, now, (id, &by), state, reason, "resumed"));
            }
            (
                "rollback",
                RolloutState::Running
                | RolloutState::Paused
                | RolloutState::Pending
                | RolloutState::Done,
            ) => {
                // A done rollout whose nodes a later one of the system took over: they go
                // back through it only once every later one is rolled back (3 -> 2, then
                // 2 -> 1), and then they join it again.
                let done = r.state == RolloutState::Done;
                if let Some(later) = st.rollouts.values().find(|o| {
                    done && o.id > id && o.system == r.system && o.state != RolloutState::RolledBack
                }) {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        format!(
                            "rollout {} ({} -> {}) came after rollout {id}: roll it back first",
                            later.id, later.from, later.to
                        ),
                    ));
                }
                for node in st.members_at_start(&r).into_iter().filter(|_| done) {
                    if st.nodes.get(&node).is_some_and(|n| n.rollout != Some(id)) {
                        changes.push(Change::Join { rollout: id, node });
                    }
                }
                if discard {
                    changes.push(Change::AllowDiscard { rollout: id });
                }
                let reason = format!(
                    "rolled back by operator key `{by}`: nodes go back to version {}{}",
                    r.from,
                    if discard {
                        ", writes that cannot be carried back are dropped"
                    } else {
                        ""
                    }
                );
                let state = RolloutState::RolledBack;
                changes.extend(decided(
                    &mut st,
                    now,
                    (id, &by),
                    state,
                    reason,
                    "rolled_back",
                ));
                changes.extend(start_next(&mut st, id, now));
            }
            ("pause", _) => return Err(conflict("pause")),
            ("resume", _) => return Err(conflict("resume")),
            _ => return Err(conflict("roll back")),
        }
        (changes, id)
    };
    commit(&shared, changes).await.map_err(ApiError::internal)?;
    Ok(Json(rollout_info(&shared, id)?))
}
