//! The upgrade server over HTTP, in process: simulated nodes poll and report while rollouts
//! run through canary, pause, resume, failure and rollback; bad bundles are refused; ETags and
//! long polls; bundles fetched by nodes; and everything survives a restart on the same
//! database.
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]

mod kit;

use kit::{key, kv_1_2, make_bundle, node_client, push_refused, refused, start};
use runtime::api::{Action, Directive, Phase, PollRequest, Report, RolloutState};
use runtime::bundle::{Limits, Store, TrustedKeys};
use runtime::client::{Client, ClientError, Control, PollAnswer};
use runtime::server::Handle;
use std::time::Duration;

/// A simulated node, enrolled, with its own client.
struct Node {
    client: Client,
    id: String,
    system: String,
    version: u64,
    phase: Phase,
    healthy: bool,
}

impl Node {
    async fn new(op: &Client, id: &str, system: &str, version: u64) -> Node {
        Node {
            client: node_client(op, id).await,
            id: id.into(),
            system: system.into(),
            version,
            phase: Phase::Serving,
            healthy: true,
        }
    }

    fn req(&self) -> PollRequest {
        PollRequest {
            system: self.system.clone(),
            version: self.version,
            phase: self.phase,
            healthy: self.healthy,
            address: format!("127.0.0.1:9{}", self.id.len()),
        }
    }

    async fn poll(&self, _op: &Client) -> Directive {
        match self
            .client
            .poll(&self.id, &self.req(), None, None)
            .await
            .unwrap()
        {
            PollAnswer::Directive { directive, .. } => *directive,
            PollAnswer::NotModified => panic!("no etag was sent"),
        }
    }

    async fn report(
        &mut self,
        _c: &Client,
        phase: Phase,
        version: u64,
        message: &str,
    ) -> Directive {
        self.phase = phase;
        self.version = version;
        let r = Report {
            system: self.system.clone(),
            version,
            phase,
            healthy: self.healthy,
            address: String::new(),
            message: message.into(),
        };
        self.client.report(&self.id, &r).await.unwrap()
    }

    /// Polls (at most 200 times, 10 ms apart) until the directive is `action`, and returns it.
    async fn poll_until(&self, c: &Client, action: Action) -> Directive {
        let mut d = self.poll(c).await;
        for _ in 0..200 {
            if d.action == action {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            d = self.poll(c).await;
        }
        panic!("`{}` was not told {action:?}: {d:?}", self.id);
    }

    /// Goes through the phases of an upgrade to `to`.
    async fn upgrade(&mut self, c: &Client, to: u64) {
        let from = self.version;
        for phase in [
            Phase::Draining,
            Phase::Transforming,
            Phase::Starting,
            Phase::HealthChecking,
        ] {
            self.report(c, phase, from, "").await;
        }
        self.report(c, Phase::Upgraded, to, "").await;
    }
}

/// Polls every node (and upgrades those told to) until `until` holds for the status, at most
/// `rounds` rounds of 25 ms. Returns the ids in the order they were told to upgrade.
async fn drive(
    c: &Client,
    nodes: &mut [Node],
    rounds: usize,
    until: impl Fn(&runtime::api::Status) -> bool,
) -> Vec<String> {
    let mut order = Vec::new();
    for _ in 0..rounds {
        for n in nodes.iter_mut() {
            let d = n.poll(c).await;
            if d.action == Action::Upgrade {
                order.push(n.id.clone());
                let to = d.bundle.as_ref().unwrap().to;
                // Only one node may be down at a time (max_unavailable 1 in these tests).
                let status = c.status().await.unwrap();
                let down = status
                    .nodes
                    .iter()
                    .filter(|x| x.phase.is_in_progress())
                    .count();
                assert_eq!(down, 0, "another node is down while `{}` starts", n.id);
                n.upgrade(c, to).await;
            }
        }
        if until(&c.status().await.unwrap()) {
            return order;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "the condition did not hold after {rounds} rounds: {:#?}",
        c.status().await.unwrap()
    );
}

fn rollout_state(s: &runtime::api::Status, id: u64) -> RolloutState {
    s.rollouts.iter().find(|r| r.id == id).unwrap().state
}

/// What the server showed before a restart (`before`) and after it (`after`, on the same
/// database) agree: every rollout whole, and what it decided of each node (membership,
/// assignment, done) with what the node said of itself.
fn same_after_restart(before: &runtime::api::Status, after: &runtime::api::Status) {
    assert_eq!(
        after.rollouts, before.rollouts,
        "a rollout reads the same after a restart as the server showed before it"
    );
    let decided = |s: &runtime::api::Status| -> Vec<_> {
        s.nodes
            .iter()
            .map(|n| {
                (
                    n.id.clone(),
                    n.version,
                    n.phase,
                    n.rollout,
                    n.assigned,
                    n.done,
                )
            })
            .collect()
    };
    assert_eq!(
        decided(after),
        decided(before),
        "a node reads the same after a restart as the server showed before it"
    );
}

/// A server over `dir` with nodes `ids` of `kv` enrolled at version 1 (each polled once), and
/// a rollout of `kv` 1 -> 2 with `schedule` started.
async fn rollout_started<const N: usize>(
    dir: &std::path::Path,
    schedule: &[(&str, &str)],
    ids: [&str; N],
) -> (Handle, Client, [Node; N]) {
    let (bundle, _) = kv_1_2(dir, schedule);
    let (handle, c) = start(dir).await;
    let mut nodes = Vec::new();
    for id in ids {
        let n = Node::new(&c, id, "kv", 1).await;
        n.poll(&c).await;
        nodes.push(n);
    }
    let info = c
        .push(std::fs::read(&bundle).unwrap(), false)
        .await
        .unwrap();
    c.start_rollout(&info.id, None).await.unwrap();
    let Ok(nodes) = nodes.try_into() else {
        panic!("{N} nodes were made");
    };
    (handle, c, nodes)
}

/// Stops the server and starts it again on the same database, checks that it shows what it
/// showed before (`before`, also once the evaluator has planned what it loaded), and points the
/// nodes' clients at it.
async fn restart(
    handle: Handle,
    dir: &std::path::Path,
    nodes: impl IntoIterator<Item = &mut Node>,
    before: &runtime::api::Status,
) -> (Handle, Client) {
    handle.stop().await;
    let (handle, c) = start(dir).await;
    same_after_restart(before, &c.status().await.unwrap());
    // The evaluator runs every 20 ms here.
    tokio::time::sleep(Duration::from_millis(200)).await;
    same_after_restart(before, &c.status().await.unwrap());
    for n in nodes {
        n.client = Client::new(c.base())
            .unwrap()
            .with_key(kit::node_key(&n.id));
    }
    (handle, c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_upgrade_with_canary_pause_resume_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let schedule = [
        ("rolling.batch", "1"),
        ("rolling.max_unavailable", "1"),
        ("order", "node_id"),
        ("healthy_for", "200ms"),
        ("canary", "1 then pause"),
    ];
    let (bundle, signed) = kv_1_2(dir.path(), &schedule);
    let (handle, c) = start(dir.path()).await;
    let mut nodes: Vec<Node> = Vec::new();
    for id in ["n3", "n1", "n2"] {
        nodes.push(Node::new(&c, id, "kv", 1).await);
    }
    for n in &nodes {
        assert_eq!(n.poll(&c).await.reason, "no rollout concerns this node");
    }
    let info = c
        .push(std::fs::read(&bundle).unwrap(), false)
        .await
        .unwrap();
    assert_eq!(info.id, signed.id());
    assert_eq!(
        info.schedule,
        "rolling batch 1, max unavailable 1; order node_id; healthy for 200ms; canary 1 then pause"
    );
    let again = c
        .push(std::fs::read(&bundle).unwrap(), false)
        .await
        .unwrap();
    assert_eq!(again, info, "pushing twice is idempotent");
    let r = c.start_rollout(&info.id, Some(1)).await.unwrap();
    assert_eq!((r.id, r.state), (1, RolloutState::Running));
    let e = c.start_rollout(&info.id, None).await.unwrap_err();
    assert!(e.to_string().contains("rollout 1 of bundle"), "{e}");

    // The canary goes first, alone, then the rollout pauses.
    let order = drive(&c, &mut nodes, 200, |s| {
        rollout_state(s, 1) == RolloutState::Paused
    })
    .await;
    assert_eq!(order, ["n1"]);
    let s = c.status().await.unwrap();
    assert!(
        s.rollouts[0]
            .reason
            .starts_with("the canary (`n1`) is healthy"),
        "{}",
        s.rollouts[0].reason
    );
    let waiting = nodes[0].poll(&c).await;
    assert_eq!((waiting.action, waiting.rollout), (Action::Stay, Some(1)));
    assert_eq!(
        waiting.bundle.as_ref().unwrap().id,
        info.id,
        "nodes learn of the bundle early"
    );

    // Resume: the others, one at a time in id order.
    let r = c.control(None, Control::Resume).await.unwrap();
    assert_eq!(r.state, RolloutState::Running);
    let order = drive(&c, &mut nodes, 400, |s| {
        rollout_state(s, 1) == RolloutState::Done
    })
    .await;
    assert_eq!(order, ["n2", "n3"]);
    let s = c.status().await.unwrap();
    assert!(
        s.nodes.iter().all(|n| n.version == 2 && n.done),
        "{:#?}",
        s.nodes
    );
    assert_eq!(s.rollouts[0].progress.done, 3);
    let kinds: Vec<&str> = s.events.iter().map(|e| e.kind.as_str()).collect();
    for k in ["bundle", "created", "assigned", "paused", "resumed", "done"] {
        assert!(kinds.contains(&k), "no `{k}` event in {kinds:?}");
    }
    let e = c.control(Some(1), Control::Pause).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "the server refused (409): rollout 1 is done: there is nothing to pause"
    );

    // Restart on the same database: everything is still there.
    handle.stop().await;
    let (handle, c) = start(dir.path()).await;
    let s2 = c.status().await.unwrap();
    assert_eq!(s2.rollouts[0].state, RolloutState::Done);
    same_after_restart(&s, &s2);
    assert!(
        s2.nodes
            .iter()
            .all(|n| n.version == 2 && n.phase == Phase::Upgraded && n.rollout == Some(1)),
        "{:#?}",
        s2.nodes
    );
    assert_eq!(
        s2.events.last().map(|e| e.seq),
        s.events.last().map(|e| e.seq)
    );
    assert_eq!(c.bundles().await.unwrap(), vec![info]);
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_pauses_and_rollback_sends_nodes_back() {
    let dir = tempfile::tempdir().unwrap();
    let schedule = [("rolling.batch", "2"), ("rolling.max_unavailable", "2")];
    let (handle, c, [mut a, mut b]) = rollout_started(dir.path(), &schedule, ["a", "b"]).await;
    let mut told = (false, false);
    for _ in 0..200 {
        told = (
            a.poll(&c).await.action == Action::Upgrade,
            b.poll(&c).await.action == Action::Upgrade,
        );
        if told == (true, true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(told, (true, true), "a batch of 2 starts both");
    a.report(&c, Phase::Draining, 1, "").await;
    let d = a
        .report(&c, Phase::Failed, 1, "the new binary exited with status 3")
        .await;
    assert_eq!(d.action, Action::Stay);
    b.upgrade(&c, 2).await;
    let mut paused = None;
    for _ in 0..200 {
        let s = c.status().await.unwrap();
        if s.rollouts[0].state == RolloutState::Paused {
            paused = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let s = paused.expect("the failure pauses the rollout");
    assert_eq!(s.rollouts[0].reason, "node `a` failed to upgrade");
    assert!(s
        .events
        .iter()
        .any(|e| e.kind == "failed" && e.message.contains("the new binary exited with status 3")));

    // A restart of the server here (one node failed, one upgraded, the rollout paused) loses
    // none of it, and the rollback below runs on the restarted server.
    let (handle, c) = restart(handle, dir.path(), [&mut a, &mut b], &s).await;

    let r = c.control(None, Control::Rollback).await.unwrap();
    assert_eq!(r.state, RolloutState::RolledBack);
    // Which upgraded nodes go back is the scheduler's next evaluation (a node waits for its
    // turn until then): polled until it says so, as a node would.
    let d = b.poll_until(&c, Action::Rollback).await;
    assert_eq!(d.reason, "rollout 1 is rolled back: go back to version 1");
    // The operator lets the nodes drop writes that cannot be carried back; a restart before
    // `b` has started going back tells it the same.
    c.control_with(Some(1), Control::Rollback, true)
        .await
        .unwrap();
    let d = b.poll(&c).await;
    assert!(d.discard_writes && d.action == Action::Rollback, "{d:?}");
    let s = c.status().await.unwrap();
    let (handle, c) = restart(handle, dir.path(), [&mut a, &mut b], &s).await;
    assert_eq!(b.poll(&c).await, d, "the same directive after a restart");
    assert_eq!(
        a.poll(&c).await.action,
        Action::Stay,
        "a is still on version 1"
    );
    let d = b.report(&c, Phase::RolledBack, 1, "").await;
    assert_eq!(d.action, Action::Stay);
    // Rolling back again is harmless; resuming a rolled back rollout is refused.
    assert_eq!(
        c.control(Some(1), Control::Rollback).await.unwrap().state,
        RolloutState::RolledBack
    );
    let e = c.control(Some(1), Control::Resume).await.unwrap_err();
    assert!(e.to_string().contains("nothing to resume"), "{e}");
    handle.stop().await;
}

/// A node that failed and went back is retried after a resume: told to upgrade again while it
/// still reports that it rolled back (before its new assignment). A restart of the server then
/// must not read that old failure as a new one and pause the rollout again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_node_is_not_failed_again_by_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let schedule = [("rolling.batch", "1"), ("rolling.max_unavailable", "1")];
    let (handle, c, [mut a]) = rollout_started(dir.path(), &schedule, ["a"]).await;
    a.poll_until(&c, Action::Upgrade).await;
    a.report(&c, Phase::Draining, 1, "").await;
    a.report(&c, Phase::Failed, 1, "the new binary exited with status 3")
        .await;
    a.report(&c, Phase::RolledBack, 1, "back on version 1")
        .await;
    drive(&c, &mut [], 200, |s| {
        rollout_state(s, 1) == RolloutState::Paused
    })
    .await;
    c.control(None, Control::Resume).await.unwrap();
    // Assigned again while it still says it rolled back (before the new assignment).
    let d = a.poll_until(&c, Action::Upgrade).await;
    let s = c.status().await.unwrap();
    assert_eq!(rollout_state(&s, 1), RolloutState::Running);
    let (handle, c) = restart(handle, dir.path(), [&mut a], &s).await;
    assert_eq!(a.poll(&c).await, d, "the same directive after a restart");
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bundles_are_refused_and_nothing_is_registered() {
    let dir = tempfile::tempdir().unwrap();
    let (handle, c) = start(dir.path()).await;
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[77; 32]);
    let (foreign, _) = make_bundle(dir.path(), "kv", 1, 2, &[], &stranger);
    let message = push_refused(&c, &foreign, 403).await;
    assert!(
        message.starts_with("bundle refused: the bundle is signed by key `"),
        "{message}"
    );
    let (good, _) = kv_1_2(dir.path(), &[]);
    let bytes = std::fs::read(&good).unwrap();
    let e = c
        .push(bytes[..bytes.len() - 3].to_vec(), false)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ClientError::Server { status: 400, message } if message.contains("truncated")),
        "{e:?}"
    );
    let mut flipped = bytes.clone();
    let n = flipped.len() - 1;
    flipped[n] ^= 1;
    let e = c.push(flipped, false).await.unwrap_err();
    assert!(
        matches!(&e, ClientError::Server { status: 400, message } if message.contains("sha-256")),
        "{e:?}"
    );
    let e = c.push(vec![b'x'; 3 << 20], false).await.unwrap_err();
    assert!(
        matches!(&e, ClientError::Server { status: 413, .. }),
        "{e:?}"
    );
    let (bad_schedule, _) = kv_1_2(dir.path(), &[("speed", "ludicrous")]);
    let e = c
        .push(std::fs::read(&bad_schedule).unwrap(), false)
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("schedule setting `speed` = `ludicrous`"),
        "{e}"
    );
    assert!(c.bundles().await.unwrap().is_empty());
    let e = c.start_rollout(&"0".repeat(64), None).await.unwrap_err();
    assert!(
        matches!(&e, ClientError::Server { status: 404, .. }),
        "{e:?}"
    );
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etags_long_polls_and_bad_requests() {
    let dir = tempfile::tempdir().unwrap();
    let (bundle, _) = kv_1_2(dir.path(), &[]);
    let (handle, c) = start(dir.path()).await;
    let n = Node::new(&c, "n1", "kv", 1).await;
    let op = c.clone();
    let c = n.client.clone();
    let PollAnswer::Directive { etag, .. } = c.poll("n1", &n.req(), None, None).await.unwrap()
    else {
        panic!()
    };
    let etag = etag.expect("an etag");
    assert_eq!(
        c.poll("n1", &n.req(), Some(&etag), None).await.unwrap(),
        PollAnswer::NotModified
    );
    // A long poll returns as soon as the answer changes.
    let (c2, req, tag) = (c.clone(), n.req(), etag.clone());
    let waiting = tokio::spawn(async move {
        let t = std::time::Instant::now();
        (
            c2.poll("n1", &req, Some(&tag), Some(Duration::from_secs(10)))
                .await
                .unwrap(),
            t.elapsed(),
        )
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let info = op
        .push(std::fs::read(&bundle).unwrap(), false)
        .await
        .unwrap();
    op.start_rollout(&info.id, None).await.unwrap();
    let (answer, took) = waiting.await.unwrap();
    match answer {
        PollAnswer::Directive { directive, .. } => assert_eq!(directive.rollout, Some(1)),
        other => panic!("{other:?}"),
    }
    assert!(
        took < Duration::from_secs(5),
        "the long poll waited {took:?}"
    );
    // An unchanged long poll times out with 304.
    let PollAnswer::Directive { etag, .. } = c.poll("n1", &n.req(), None, None).await.unwrap()
    else {
        panic!()
    };
    let got = c
        .poll(
            "n1",
            &n.req(),
            etag.as_deref(),
            Some(Duration::from_millis(300)),
        )
        .await
        .unwrap();
    assert!(matches!(
        got,
        PollAnswer::NotModified | PollAnswer::Directive { .. }
    ));

    let e = c.poll("bad id!", &n.req(), None, None).await.unwrap_err();
    assert!(
        matches!(&e, ClientError::Server { status: 400, message } if message.starts_with("node id `bad id!` is not valid")),
        "{e:?}"
    );
    let raw = reqwest::Client::new();
    let bad = "{\"version\": \"two\"}";
    let mut r = raw
        .post(format!("{}/v1/nodes/n1/poll", c.base()))
        .header("content-type", "application/json")
        .body(bad);
    let signed = runtime::auth::headers(
        &kit::node_key("n1"),
        "POST",
        "/v1/nodes/n1/poll",
        bad.as_bytes(),
    )
    .unwrap();
    for (k, v) in signed {
        r = r.header(k, v);
    }
    let resp = r.send().await.unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("the request body is not what this endpoint takes"),
        "{body}"
    );
    let resp = raw.get(format!("{}/nope", c.base())).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let resp = raw
        .get(format!("{}/v1/objects/xyz", c.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let e = op.control(None, Control::Pause).await.unwrap();
    assert_eq!(e.state, RolloutState::Paused);
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_fetch_and_verify_bundles() {
    let dir = tempfile::tempdir().unwrap();
    let (bundle, signed) = kv_1_2(dir.path(), &[]);
    let (handle, c) = start(dir.path()).await;
    let info = c
        .push(std::fs::read(&bundle).unwrap(), false)
        .await
        .unwrap();
    let node_store = Store::open(&dir.path().join("node-store")).unwrap();
    let trust = TrustedKeys::new(vec![key().verifying_key()]);
    let got = c
        .fetch_bundle(&info.id, &node_store, &trust, &Limits::default())
        .await
        .unwrap();
    assert_eq!(got.signed, signed);
    assert_eq!(std::fs::read(&got.plugin).unwrap(), b"plugin kv 1 2");
    // A node that does not trust the signer refuses the bundle, whatever the server says.
    let other_store = Store::open(&dir.path().join("other-store")).unwrap();
    let stranger = TrustedKeys::new(vec![
        ed25519_dalek::SigningKey::from_bytes(&[1; 32]).verifying_key()
    ]);
    let e = c
        .fetch_bundle(&info.id, &other_store, &stranger, &Limits::default())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not trusted"), "{e}");
    assert!(other_store.bundle_ids().unwrap().is_empty());
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_rollout_waits_for_the_first_then_takes_its_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let (b12, _) = kv_1_2(dir.path(), &[("all_at_once", "")]);
    let (b23, _) = make_bundle(dir.path(), "kv", 2, 3, &[("all_at_once", "")], &key());
    let (handle, c) = start(dir.path()).await;
    let mut nodes = vec![
        Node::new(&c, "x1", "kv", 1).await,
        Node::new(&c, "x2", "kv", 1).await,
    ];
    for n in &nodes {
        n.poll(&c).await;
    }
    let i12 = c.push(std::fs::read(&b12).unwrap(), false).await.unwrap();
    let i23 = c.push(std::fs::read(&b23).unwrap(), false).await.unwrap();
    assert_eq!(
        c.start_rollout(&i12.id, None).await.unwrap().state,
        RolloutState::Running
    );
    let second = c.start_rollout(&i23.id, None).await.unwrap();
    assert_eq!(second.state, RolloutState::Pending);
    assert_eq!(second.reason, "waits for rollout 1 to end");
    for n in nodes.iter_mut() {
        n.poll_until(&c, Action::Upgrade).await;
        n.upgrade(&c, 2).await;
    }
    let mut running = false;
    for _ in 0..200 {
        let s = c.status().await.unwrap();
        if rollout_state(&s, 1) == RolloutState::Done
            && rollout_state(&s, 2) == RolloutState::Running
        {
            running = true;
            break;
        }
        for n in &nodes {
            n.poll(&c).await;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(running, "{:#?}", c.status().await.unwrap());
    // The 2 -> 3 rollout takes the upgraded nodes.
    let d = nodes[0].poll_until(&c, Action::Upgrade).await;
    assert_eq!(d.bundle.unwrap().to, 3);
    handle.stop().await;
}

/// A refusal of a large request reaches its client as an answer, whoever refuses it (the
/// upload handler on a declared size over the limit, or the guard on a signer it does not
/// know): the server reads the rest of the body before it answers and closes, so the client,
/// still writing, never gets a broken pipe or a reset instead of the refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_refused_uploads_get_their_answer_not_a_broken_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let (handle, c) = start(dir.path()).await;
    let stranger = Client::new(&format!("http://{}", handle.addr))
        .unwrap()
        .with_key(ed25519_dalek::SigningKey::from_bytes(&[78; 32]));
    for round in 0..3 {
        let e = c.push(vec![b'x'; 20 << 20], false).await.unwrap_err();
        let message = refused(&e, 413);
        assert!(
            message.contains("over the limit"),
            "round {round}: {message}"
        );
        let e = stranger
            .push(vec![b'x'; 20 << 20], false)
            .await
            .unwrap_err();
        assert!(
            matches!(
                &e,
                ClientError::Server {
                    status: 401 | 403,
                    ..
                }
            ),
            "round {round}: {e:?}"
        );
    }
    assert!(c.bundles().await.unwrap().is_empty());
}
