//! Issue 10's findings, tried as an attacker on the same network would: raw HTTP and TCP with
//! no credentials (or the wrong ones) against an in-process server. Each failed on the server
//! before authentication, enrollment, release numbers and streamed uploads.
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]
#![allow(clippy::indexing_slicing, reason = "tests")]

mod kit;

use kit::{
    key, kv_1_2, make_bundle, make_release, node_client, operator, operator_headers, push_refused,
    refused, start, start_with,
};
use runtime::api::{Action, Phase, PollRequest, Report, RolloutState, Status};
use runtime::bundle::Limits;
use runtime::client::{Client, ClientError, Control, PollAnswer};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn req(version: u64, phase: Phase) -> PollRequest {
    PollRequest {
        system: "kv".into(),
        version,
        phase,
        healthy: true,
        address: String::new(),
    }
}

fn report(version: u64, phase: Phase, message: &str) -> Report {
    Report {
        system: "kv".into(),
        version,
        phase,
        healthy: true,
        address: String::new(),
        message: message.into(),
    }
}

async fn poll(c: &Client, id: &str, version: u64, phase: Phase) -> runtime::api::Directive {
    match c.poll(id, &req(version, phase), None, None).await.unwrap() {
        PollAnswer::Directive { directive, .. } => *directive,
        PollAnswer::NotModified => panic!("no etag was sent"),
    }
}

/// A POST without credentials: its status and error message.
async fn anonymous_post(base: &str, path: &str, body: &str) -> (u16, String) {
    let resp = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let message = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or(text);
    (status, message)
}

fn state_of(s: &Status, id: u64) -> RolloutState {
    s.rollouts.iter().find(|r| r.id == id).unwrap().state
}

/// Finding 1: with no credentials, resume skipped the canary gate, rollback rolled back,
/// pause and start worked, and the event log said "by the operator".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_actions_without_credentials_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (b12, _) = kv_1_2(dir.path(), &[("canary", "1 then pause")]);
    let (b23, _) = make_bundle(dir.path(), "kv", 2, 3, &[], &key());
    let (handle, op) = start(dir.path()).await;
    let base = op.base().to_string();
    let n1 = node_client(&op, "n1").await;
    poll(&n1, "n1", 1, Phase::Serving).await;
    let info = op.push(std::fs::read(&b12).unwrap(), false).await.unwrap();
    op.start_rollout(&info.id, None).await.unwrap();
    op.control(None, Control::Pause).await.unwrap();
    let before = op.status().await.unwrap().events.len();

    for (path, body) in [
        ("/v1/rollouts/current/resume", ""),
        ("/v1/rollouts/1/rollback", ""),
        ("/v1/rollouts/1/pause", ""),
        ("/v1/rollouts", &format!("{{\"bundle\": \"{}\"}}", info.id)),
    ] {
        let (status, message) = anonymous_post(&base, path, body).await;
        assert_eq!(status, 401, "{path}: {message}");
        assert!(
            message.starts_with("the request is not signed"),
            "{path}: {message}"
        );
    }
    // A bundle upload without credentials is refused too, and nothing is registered.
    let resp = reqwest::Client::new()
        .post(format!("{base}/v1/bundles"))
        .body(std::fs::read(&b23).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let s = op.status().await.unwrap();
    assert_eq!(
        state_of(&s, 1),
        RolloutState::Paused,
        "the rollout is untouched"
    );
    assert_eq!(s.rollouts.len(), 1);
    assert_eq!(
        s.events.len(),
        before,
        "no event was logged: {:#?}",
        s.events
    );
    assert_eq!(op.bundles().await.unwrap().len(), 1);
    handle.stop().await;
}

/// Nodes `n1` and `n2`, enrolled by `op`, each polled once serving version 1: their clients.
async fn serving_n1_n2(op: &Client) -> (Client, Client) {
    let n1 = node_client(op, "n1").await;
    let n2 = node_client(op, "n2").await;
    poll(&n1, "n1", 1, Phase::Serving).await;
    poll(&n2, "n2", 1, Phase::Serving).await;
    (n1, n2)
}

/// Finding 2: anyone could report for any node, and the event log kept the lie.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_for_another_node_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (handle, op) = start(dir.path()).await;
    let base = op.base().to_string();
    let (n1, n2) = serving_n1_n2(&op).await;
    let lie = r#"{"system":"kv","version":2,"phase":"upgraded","healthy":true,"message":"pwned"}"#;
    let (status, message) = anonymous_post(&base, "/v1/nodes/n2/report", lie).await;
    assert_eq!(status, 401, "{message}");
    let e = n1
        .report("n2", &report(2, Phase::Upgraded, "pwned"))
        .await
        .unwrap_err();
    let message = refused(&e, 403);
    assert!(message.contains("cannot speak for node `n2`"), "{message}");
    let e = n1
        .poll("n2", &req(2, Phase::Upgraded), None, None)
        .await
        .unwrap_err();
    refused(&e, 403);
    let s = op.status().await.unwrap();
    let n2_info = s.nodes.iter().find(|n| n.id == "n2").unwrap();
    assert_eq!((n2_info.version, n2_info.phase), (1, Phase::Serving));
    assert!(
        s.events.iter().all(|e| !e.message.contains("pwned")),
        "{:#?}",
        s.events
    );
    // Its own report goes through.
    n2.report("n2", &report(1, Phase::Serving, "fine"))
        .await
        .unwrap();
    handle.stop().await;
}

/// Finding 3: one poll under a made-up id joined the running rollout, which then waited for it
/// forever; and no command removed a node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ghost_nodes_never_join_and_removed_nodes_are_not_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let schedule = [("all_at_once", ""), ("healthy_for", "50ms")];
    let (b12, _) = kv_1_2(dir.path(), &schedule);
    let (handle, op) = start(dir.path()).await;
    let base = op.base().to_string();
    let (n1, n2) = serving_n1_n2(&op).await;
    let info = op.push(std::fs::read(&b12).unwrap(), false).await.unwrap();
    op.start_rollout(&info.id, None).await.unwrap();
    // The ghost: unsigned, then signed by a key no operator enrolled.
    let body = serde_json::to_string(&req(1, Phase::Serving)).unwrap();
    let (status, message) = anonymous_post(&base, "/v1/nodes/ghost/poll", &body).await;
    assert_eq!(status, 401, "{message}");
    let stranger = Client::new(&base)
        .unwrap()
        .with_key(ed25519_dalek::SigningKey::from_bytes(&[99; 32]));
    let e = stranger
        .poll("ghost", &req(1, Phase::Serving), None, None)
        .await
        .unwrap_err();
    let message = refused(&e, 401);
    assert!(message.contains("is not enrolled"), "{message}");
    // n1 upgrades; n2 has gone silent (its machine died) and is decommissioned.
    let mut upgraded = false;
    for _ in 0..200 {
        if poll(&n1, "n1", 1, Phase::Serving).await.action == Action::Upgrade {
            n1.report("n1", &report(2, Phase::Upgraded, ""))
                .await
                .unwrap();
            upgraded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(upgraded);
    let removed = op.remove_node("n2").await.unwrap();
    assert_eq!(removed.id, "n2");
    let mut done = false;
    for _ in 0..300 {
        poll(&n1, "n1", 2, Phase::Upgraded).await;
        let s = op.status().await.unwrap();
        if state_of(&s, 1) == RolloutState::Done {
            done = true;
            assert_eq!(
                s.nodes.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
                ["n1"]
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(done, "{:#?}", op.status().await.unwrap());
    // The removed node's key no longer speaks for it.
    let e = n2
        .poll("n2", &req(1, Phase::Serving), None, None)
        .await
        .unwrap_err();
    refused(&e, 401);
    handle.stop().await;
}

/// Finding 4: an older, validly signed bundle pushed after a newer one was accepted and rolled
/// out (a rollback attack).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_release_is_refused_unless_a_downgrade_is_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let (old, _) = make_release(dir.path(), "kv", 1, 2, 1, &[], &key());
    let (new, _) = make_release(dir.path(), "kv", 1, 2, 2, &[], &key());
    let (handle, op) = start(dir.path()).await;
    let newer = op.push(std::fs::read(&new).unwrap(), false).await.unwrap();
    let message = push_refused(&op, &old, 409).await;
    assert!(
        message.contains("release 1 of `kv` is not newer than release 2"),
        "{message}"
    );
    assert_eq!(op.bundles().await.unwrap(), vec![newer.clone()]);
    // The same release again is not newer either; a newer one is fine.
    let (same, _) = make_release(dir.path(), "kv", 2, 3, 2, &[], &key());
    push_refused(&op, &same, 409).await;
    // The operator may allow a downgrade: it is logged with the key that allowed it.
    let older = op.push(std::fs::read(&old).unwrap(), true).await.unwrap();
    assert_eq!(older.release, 1);
    let s = op.status().await.unwrap();
    let logged = s.events.iter().find(|e| e.kind == "downgrade").unwrap();
    let ops = runtime::bundle::keys::key_id(&kit::operator().verifying_key());
    assert!(
        logged.message.contains(&format!(
            "a downgrade from release 2, allowed by operator key `{ops}`"
        )),
        "{}",
        logged.message
    );
    handle.stop().await;
}

/// Reads the answer's status line from `stream` if one came.
fn status_of(answer: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(answer);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// Sends a POST of `total` bytes (declared) starting with `first`, then zeros, until the server
/// answers or `cap` bytes are written; the answer and how many bytes were written.
async fn upload(
    base: &str,
    headers: &[(String, String)],
    first: &[u8],
    total: u64,
    cap: u64,
) -> (Vec<u8>, u64) {
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "POST /v1/bundles HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {total}\r\ncontent-type: application/octet-stream\r\n"
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let (mut rd, mut wr) = stream.split();
    wr.write_all(head.as_bytes()).await.unwrap();
    wr.write_all(first).await.unwrap();
    let mut written = first.len() as u64;
    let chunk = vec![0u8; 1 << 16];
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        tokio::select! {
            r = rd.read(&mut buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    answer.extend_from_slice(&buf[..n]);
                    if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            },
            _ = tokio::time::sleep(Duration::from_secs(10)), if written >= cap => break,
            w = wr.write_all(&chunk), if written < cap => match w {
                Ok(()) => written += chunk.len() as u64,
                Err(_) => {
                    // The server closed: read what it answered.
                    let _ = tokio::time::timeout(Duration::from_secs(5), rd.read_to_end(&mut answer)).await;
                    break;
                }
            },
        }
    }
    (answer, written)
}

fn tmp_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir.join("store").join("tmp"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Finding 6: a multi-gigabyte upload was written to temporary files and refused only at the
/// end, for a wrong magic number in its first bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_is_refused_from_its_first_bytes_before_its_body_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = kit::config(dir.path());
    config.limits = Limits::default();
    let (handle, op) = start_with(config).await;
    let base = op.base().to_string();
    let total: u64 = 1 << 30;
    let cap: u64 = 128 << 20;
    // Signed by the operator, but not a bundle: refused at the magic.
    let headers = operator_headers("POST", "/v1/bundles", &"0".repeat(64));
    let (answer, written) = upload(&base, &headers, b"PK\x03\x04 not a bundle", total, cap).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    assert_eq!(
        status_of(&answer),
        Some(400),
        "after {written} bytes: {text}"
    );
    assert!(text.contains("not an upstart bundle"), "{text}");
    assert!(
        written < 32 << 20,
        "{written} bytes were sent before the refusal"
    );
    assert!(
        tmp_bytes(dir.path()) < 1 << 20,
        "{} bytes stored",
        tmp_bytes(dir.path())
    );
    // A real bundle, but not the body the operator signed: refused, nothing kept.
    let (bundle, _) = kv_1_2(dir.path(), &[]);
    let bytes = std::fs::read(&bundle).unwrap();
    let headers = operator_headers(
        "POST",
        "/v1/bundles",
        &runtime::digest::sha256_hex(b"other"),
    );
    let (answer, _) = upload(&base, &headers, &bytes, bytes.len() as u64, 0).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    assert_eq!(status_of(&answer), Some(401), "{text}");
    assert!(
        text.contains("does not match the sha-256 it was signed with"),
        "{text}"
    );
    assert!(op.bundles().await.unwrap().is_empty());
    eprintln!(
        "refused after {written} bytes sent; {} bytes left in tmp",
        tmp_bytes(dir.path())
    );
    // Unsigned: refused before any of the body is read.
    let (answer, written) = upload(&base, &[], b"UPSTBNDL", total, cap).await;
    assert_eq!(
        status_of(&answer),
        Some(401),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(
        written < 32 << 20,
        "{written} bytes were sent before the refusal"
    );
    // Declared larger than the limit: refused before any of the body is read.
    let headers = operator_headers("POST", "/v1/bundles", &"0".repeat(64));
    let (answer, _) = upload(&base, &headers, b"UPSTBNDL", 1 << 40, cap).await;
    assert_eq!(
        status_of(&answer),
        Some(413),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(tmp_bytes(dir.path()) < 1 << 20);
    handle.stop().await;
}

/// A raw signed POST of `body` to `path` with `headers`: status and message.
async fn signed_post(
    base: &str,
    path: &str,
    headers: &[(String, String)],
    body: &str,
) -> (u16, String) {
    let mut r = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .body(body.to_string());
    for (k, v) in headers {
        r = r.header(k.as_str(), v.as_str());
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    let v: serde_json::Value = resp.json().await.unwrap_or_default();
    (status, v["error"].as_str().unwrap_or_default().to_string())
}

/// Build item 1: operator requests are signed with a timestamp and a nonce; a replay, an
/// alteration, a stale timestamp, a stranger's key or a node's key are each refused with a
/// clear message, and the event log names the key that acted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_requests_are_refused_when_replayed_altered_stale_or_from_strangers() {
    let dir = tempfile::tempdir().unwrap();
    let (b12, _) = kv_1_2(dir.path(), &[]);
    let (handle, op) = start(dir.path()).await;
    let base = op.base().to_string();
    let n1 = node_client(&op, "n1").await;
    op.push(std::fs::read(&b12).unwrap(), false).await.unwrap();
    let info = op
        .start_rollout(&op.bundles().await.unwrap()[0].id, None)
        .await
        .unwrap();
    let path = "/v1/rollouts/1/pause";
    let empty = runtime::digest::sha256_hex(b"");
    let headers = operator_headers("POST", path, &empty);
    let (status, message) = signed_post(&base, path, &headers, "").await;
    assert_eq!(status, 200, "{message}");
    // The same request again: a replay.
    let (status, message) = signed_post(&base, path, &headers, "").await;
    assert_eq!(status, 401);
    assert!(message.contains("already received"), "{message}");
    // Signed for pause, sent to rollback.
    let fresh = operator_headers("POST", path, &empty);
    let (status, message) = signed_post(&base, "/v1/rollouts/1/rollback", &fresh, "").await;
    assert_eq!(status, 401);
    assert!(message.contains("does not verify"), "{message}");
    // A body other than the one signed.
    let body = format!("{{\"bundle\": \"{}\"}}", info.bundle);
    let signed_for = operator_headers("POST", "/v1/rollouts", &runtime::digest::sha256_hex(b"{}"));
    let (status, message) = signed_post(&base, "/v1/rollouts", &signed_for, &body).await;
    assert_eq!(status, 401);
    assert!(message.contains("does not match the sha-256"), "{message}");
    // A timestamp from five minutes ago.
    let nonce = runtime::auth::nonce().unwrap();
    let stale: Vec<(String, String)> = runtime::auth::headers_with(
        &operator(),
        "POST",
        "/v1/rollouts/1/resume",
        &empty,
        runtime::auth::now_ms() - 300_000,
        &nonce,
    )
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let (status, message) = signed_post(&base, "/v1/rollouts/1/resume", &stale, "").await;
    assert_eq!(status, 401);
    assert!(
        message.contains("away from the server's clock"),
        "{message}"
    );
    // A key the server does not know, and a node's key, may not command.
    let stranger = Client::new(&base)
        .unwrap()
        .with_key(ed25519_dalek::SigningKey::from_bytes(&[42; 32]));
    let e = stranger.control(None, Control::Resume).await.unwrap_err();
    assert!(
        matches!(&e, ClientError::Server { status: 401, message } if message.contains("not an operator key this server trusts")),
        "{e:?}"
    );
    let e = n1.control(None, Control::Resume).await.unwrap_err();
    assert!(
        matches!(&e, ClientError::Server { status: 403, message } if message.contains("needs an operator key")),
        "{e:?}"
    );
    let e = n1.remove_node("n1").await.unwrap_err();
    refused(&e, 403);
    let s = op.status().await.unwrap();
    assert_eq!(state_of(&s, 1), RolloutState::Paused);
    let ops = runtime::bundle::keys::key_id(&operator().verifying_key());
    let paused = s.events.iter().find(|e| e.kind == "paused").unwrap();
    assert_eq!(
        paused.message,
        format!("rollout 1 paused by operator key `{ops}`")
    );
    handle.stop().await;
}
