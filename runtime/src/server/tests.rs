//! The in-memory model (heartbeats, membership, directives) and how a node's row is written.

use super::state::{Rollout, State};
use crate::api::{Action, Phase, PollRequest, RolloutState};
use crate::schedule::{Assignment, Schedule};

fn req(version: u64, phase: Phase, healthy: bool) -> PollRequest {
    PollRequest {
        system: "kv".into(),
        version,
        phase,
        healthy,
        address: "127.0.0.1:1".into(),
    }
}

fn rollout(id: u64, state: RolloutState) -> Rollout {
    Rollout {
        id,
        bundle: "b".into(),
        system: "kv".into(),
        from: 1,
        to: 2,
        state,
        reason: "waiting".into(),
        seed: 1,
        canary_passed: false,
        schedule: Schedule::default(),
        created_at_ms: 0,
        updated_at_ms: 0,
        progress: Default::default(),
        going_back: Vec::new(),
        discard_writes: false,
    }
}

/// Node `id` assigned to batch 0 at `at_ms`.
fn assign(st: &mut State, id: &str, at_ms: u64) {
    st.nodes.get_mut(id).unwrap().assignment = Some(Assignment { batch: 0, at_ms });
}

#[test]
fn heartbeats_create_nodes_and_track_health() {
    let mut st = State::default();
    let o = st.observe("n1", &req(1, Phase::Serving, true), 1000);
    assert!(o.created && o.changed);
    assert_eq!(st.nodes["n1"].healthy_since_ms, Some(1000));
    let o = st.observe("n1", &req(1, Phase::Serving, true), 2000);
    assert!(!o.changed);
    assert_eq!(
        st.nodes["n1"].healthy_since_ms,
        Some(1000),
        "still healthy since the first beat"
    );
    st.observe("n1", &req(1, Phase::Serving, false), 3000);
    assert_eq!(st.nodes["n1"].healthy_since_ms, None);
    st.observe("n1", &req(2, Phase::Upgraded, true), 4000);
    assert_eq!(st.nodes["n1"].healthy_since_ms, Some(4000));
    assert!(st.dirty.contains("n1"));
}

#[test]
fn a_new_version_restarts_healthy_since() {
    let mut st = State::default();
    st.observe("n1", &req(1, Phase::Serving, true), 1000);
    st.observe("n1", &req(2, Phase::Upgraded, true), 1500);
    assert_eq!(st.nodes["n1"].healthy_since_ms, Some(1500));
}

#[test]
fn nodes_join_the_running_rollout_of_their_system_and_version() {
    let mut st = State::default();
    st.rollouts.insert(1, rollout(1, RolloutState::Running));
    let o = st.observe("n1", &req(1, Phase::Serving, true), 0);
    assert_eq!(o.joined, Some(1));
    let other = PollRequest {
        system: "db".into(),
        ..req(1, Phase::Serving, true)
    };
    assert_eq!(st.observe("d1", &other, 0).joined, None);
    assert_eq!(
        st.observe("n9", &req(7, Phase::Serving, true), 0).joined,
        None
    );
}

#[test]
fn directives_follow_the_rollout() {
    let mut st = State::default();
    st.rollouts.insert(1, rollout(1, RolloutState::Running));
    st.observe("n1", &req(1, Phase::Serving, true), 0);
    let d = st.directive("n1", 1000);
    assert_eq!(
        (d.action, d.rollout, d.reason.as_str()),
        (Action::Stay, Some(1), "waiting")
    );
    assign(&mut st, "n1", 0);
    assert_eq!(st.directive("n1", 1000).action, Action::Upgrade);
    st.rollouts.get_mut(&1).unwrap().state = RolloutState::Paused;
    assert_eq!(
        st.directive("n1", 1000).action,
        Action::Upgrade,
        "a paused rollout lets assigned nodes finish"
    );
    st.observe("n1", &req(1, Phase::Failed, false), 0);
    assert_eq!(
        st.directive("n1", 1000).action,
        Action::Stay,
        "a failed node is not told to retry"
    );
    st.observe("n1", &req(2, Phase::Upgraded, true), 0);
    st.rollouts.get_mut(&1).unwrap().state = RolloutState::RolledBack;
    assert_eq!(
        st.directive("n1", 1000).action,
        Action::Stay,
        "a rollback waits for the evaluator's pacing"
    );
    st.plan(0, 30_000);
    assert_eq!(st.directive("n1", 1000).action, Action::Rollback);
    st.observe("n1", &req(1, Phase::Serving, true), 0);
    assert_eq!(st.directive("n1", 1000).action, Action::Stay);
    assert_eq!(st.directive("nobody", 1000).reason, "unknown node");
}

#[test]
fn the_current_rollout_is_the_running_or_paused_one_before_a_pending_one() {
    let mut st = State::default();
    st.rollouts.insert(1, rollout(1, RolloutState::Paused));
    st.rollouts.insert(2, rollout(2, RolloutState::Pending));
    assert_eq!(st.current_rollout(false), Some(1));
    st.rollouts.get_mut(&1).unwrap().state = RolloutState::Done;
    assert_eq!(st.current_rollout(false), Some(2));
}

#[test]
fn a_failure_of_an_earlier_assignment_does_not_hold_back_a_new_one() {
    let mut st = State::default();
    st.rollouts.insert(1, rollout(1, RolloutState::Running));
    st.observe("n1", &req(1, Phase::Serving, true), 0);
    assign(&mut st, "n1", 10);
    st.observe("n1", &req(1, Phase::RolledBack, true), 20);
    let d = st.directive("n1", 1000);
    assert_eq!((d.action, d.attempt), (Action::Stay, Some(10)));
    // `upstart resume` assigned it again: the old failure is not this attempt's.
    assign(&mut st, "n1", 30);
    st.observe("n1", &req(1, Phase::RolledBack, true), 40);
    let d = st.directive("n1", 1000);
    assert_eq!((d.action, d.attempt), (Action::Upgrade, Some(30)));
}

#[test]
fn an_unrunnable_schedule_gives_the_schedule_error_as_its_source() {
    use crate::bundle::{BundleManifest, SignedManifest};
    use crate::schedule::ScheduleError;
    use std::error::Error;
    let manifest = BundleManifest {
        format: 1,
        spec: "kv".into(),
        from: 1,
        to: 2,
        release: 1,
        spec_hash: "0".repeat(64),
        schedule: vec![("strategy".into(), "sideways".into())],
        files: Vec::new(),
        created_at: 0,
        program: None,
    };
    let signed = SignedManifest::sign(manifest, &ed25519_dalek::SigningKey::from_bytes(&[1; 32]));
    let e = super::state::BundleRec::new(&signed).unwrap_err();
    assert!(
        e.to_string().starts_with(&format!(
            "bundle `{}` has a schedule this server cannot run: schedule setting `strategy` = `sideways`",
            signed.id()
        )),
        "{e}"
    );
    let source = e.source().unwrap().downcast_ref::<ScheduleError>().unwrap();
    assert_eq!(source.key, "strategy");
}

/// What a node says of itself, written from a copy of the node taken before a change to its
/// membership and assignment was applied in memory (a report racing a commit), leaves that
/// change in the database: only the changes that make them write membership and assignments.
#[test]
fn a_stale_copy_of_a_node_does_not_undo_its_membership_or_assignment() {
    use super::{db, write_changes, write_liveness, Change};
    let dir = tempfile::tempdir().unwrap();
    let conn = db::open(&dir.path().join("u.db")).unwrap();
    conn.execute_batch(
        "INSERT INTO bundles VALUES ('b', 'spec', 1, 2, 'h', 'k', x'00', 1);
         INSERT INTO rollouts (bundle, system, from_version, to_version, state, seed,
             created_at_ms, updated_at_ms) VALUES ('b', 'kv', 1, 2, 'done', 7, 10, 20),
             ('b', 'kv', 1, 2, 'running', 8, 30, 30);",
    )
    .unwrap();
    let mut st = State::default();
    st.observe("n1", &req(1, Phase::Serving, true), 1000);
    let mut stale = st.nodes["n1"].clone();
    stale.rollout = Some(1);
    write_liveness(&conn, &stale).unwrap();
    let changes = [
        Change::Join {
            rollout: 2,
            node: "n1".into(),
        },
        Change::Assign {
            rollout: 2,
            node: "n1".into(),
            batch: 0,
            at_ms: 1500,
        },
    ];
    write_changes(&conn, &changes).unwrap();
    stale.phase = Phase::Draining;
    write_liveness(&conn, &stale).unwrap();
    let nodes = db::load(&conn, 10).unwrap().nodes;
    assert_eq!(nodes.len(), 1);
    let n = &nodes[0];
    assert_eq!(n.phase, "draining", "what the node says is written");
    assert_eq!(
        (n.rollout, n.batch, n.assigned_at_ms),
        (Some(2), Some(0), Some(1500)),
        "membership and assignment stay as the changes wrote them"
    );
}
