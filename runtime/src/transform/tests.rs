//! Unit tests of the transform: a clean run, reruns from each durable point (the journal and
//! files as a crash there leaves them), refusals, and rollback. Real crashes (SIGKILL) are in
//! `runtime/tests/transform_crash.rs`.

use super::*;
use std::cell::RefCell;
use std::fs;

/// `{"n": N}` -> `{"n": N, "twice": 2N}`; invariant `twice == 2 n`.
struct Doubler {
    fail: bool,
    lie: bool,
}

impl StateTransform for Doubler {
    fn transform(&self, old: &[u8]) -> Result<Vec<u8>, String> {
        if self.fail {
            return Err("`n` is missing".into());
        }
        let v: serde_json::Value = serde_json::from_slice(old).map_err(|e| e.to_string())?;
        let n = v["n"].as_i64().ok_or("no n")?;
        let twice = if self.lie { n } else { 2 * n };
        Ok(serde_json::to_vec(&serde_json::json!({"n": n, "twice": twice})).unwrap())
    }

    fn check_invariant(&self, _old: &[u8], new: &[u8]) -> Result<bool, String> {
        let v: serde_json::Value = serde_json::from_slice(new).map_err(|e| e.to_string())?;
        Ok(v["twice"].as_i64() == v["n"].as_i64().map(|n| 2 * n))
    }
}

const GOOD: Doubler = Doubler {
    fail: false,
    lie: false,
};
const OLD: &[u8] = br#"{"n":21}"#;
const NEW: &[u8] = br#"{"n":21,"twice":42}"#;

fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    fs::write(&state, OLD).unwrap();
    (dir, state)
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn clean_upgrade_keeps_backup_and_new_beside() {
    let (dir, state) = setup();
    let seen = RefCell::new(Vec::new());
    let hook = |p: Point| seen.borrow_mut().push(p);
    let done = upgrade(&state, 1, 2, &GOOD, Some(&hook)).unwrap();
    assert!(!done.resumed);
    assert_eq!(fs::read(&state).unwrap(), NEW);
    assert_eq!(fs::read(dir.path().join("state.json.v1")).unwrap(), OLD);
    assert_eq!(fs::read(dir.path().join("state.json.v2")).unwrap(), NEW);
    assert_eq!(
        names(dir.path()),
        ["state.json", "state.json.v1", "state.json.v2"]
    );
    assert_eq!(*seen.borrow(), Point::ALL);
    assert_eq!(pending(&state).unwrap(), None);
}

/// Stops the upgrade at `point` by failing the hook (as a crash would, without the process
/// dying: the unwinding leaves the files as they are at that point).
fn interrupted_at(point: Point) -> (tempfile::TempDir, PathBuf) {
    let (dir, state) = setup();
    let hook = move |p: Point| {
        if p == point {
            std::panic::panic_any("crash");
        }
    };
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        upgrade(&state, 1, 2, &GOOD, Some(&hook))
    }));
    assert!(r.is_err(), "the hook stops the run at {point:?}");
    (dir, state)
}

#[test]
fn rerun_resumes_from_every_point() {
    for point in Point::ALL {
        let (_dir, state) = interrupted_at(point);
        let current = fs::read(&state).unwrap();
        assert!(current == OLD || current == NEW, "{point:?}");
        let done = upgrade(&state, 1, 2, &GOOD, None).unwrap();
        assert_eq!(done.new_sha256, sha256_hex(NEW), "{point:?}");
        assert_eq!(fs::read(&state).unwrap(), NEW, "{point:?}");
        assert_eq!(pending(&state).unwrap(), None, "{point:?}");
    }
}

#[test]
fn recover_rolls_back_from_every_point() {
    for point in Point::ALL {
        let (_dir, state) = interrupted_at(point);
        let r = recover(&state, &GOOD, Policy::RollBack).unwrap();
        if point == Point::Done {
            assert_eq!(r, Recovery::Clean);
            rollback(&state, 1, 2).unwrap();
        } else {
            assert_eq!(r, Recovery::RolledBack { from: 1, to: 2 }, "{point:?}");
        }
        assert_eq!(fs::read(&state).unwrap(), OLD, "{point:?}");
        assert_eq!(pending(&state).unwrap(), None, "{point:?}");
        // And the upgrade can then run again from the start.
        upgrade(&state, 1, 2, &GOOD, None).unwrap();
        assert_eq!(fs::read(&state).unwrap(), NEW, "{point:?}");
    }
}

#[test]
fn recover_resumes() {
    let (_dir, state) = interrupted_at(Point::Prepared);
    match recover(&state, &GOOD, Policy::Resume).unwrap() {
        Recovery::Resumed(u) => assert!(u.resumed),
        other => panic!("{other:?}"),
    }
    assert_eq!(fs::read(&state).unwrap(), NEW);
    assert_eq!(
        recover(&state, &GOOD, Policy::Resume).unwrap(),
        Recovery::Clean
    );
}

#[test]
fn refused_transform_keeps_the_old_state() {
    let (dir, state) = setup();
    let e = upgrade(
        &state,
        1,
        2,
        &Doubler {
            fail: true,
            lie: false,
        },
        None,
    )
    .unwrap_err();
    assert!(matches!(e, TransformError::Transform { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "the transform refused the old state: `n` is missing; the old state is kept"
    );
    assert_eq!(fs::read(&state).unwrap(), OLD);
    assert_eq!(pending(&state).unwrap(), None);
    assert!(!dir.path().join("state.json.v2").exists());
}

#[test]
fn broken_invariant_keeps_the_old_state() {
    let (_dir, state) = setup();
    let e = upgrade(
        &state,
        1,
        2,
        &Doubler {
            fail: false,
            lie: true,
        },
        None,
    )
    .unwrap_err();
    assert!(matches!(e, TransformError::InvariantBroken), "{e:?}");
    assert_eq!(fs::read(&state).unwrap(), OLD);
    assert_eq!(pending(&state).unwrap(), None);
}

#[test]
fn other_pending_upgrade_is_refused() {
    let (_dir, state) = interrupted_at(Point::BackedUp);
    let e = upgrade(&state, 2, 3, &GOOD, None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "an interrupted upgrade of the state from version 1 to version 2 is pending: resume or roll it back first"
    );
    let e = rollback(&state, 2, 3).unwrap_err();
    assert!(
        matches!(e, TransformError::OtherUpgradePending { from: 1, to: 2 }),
        "{e:?}"
    );
}

#[test]
fn state_changed_under_a_pending_upgrade_is_corrupt() {
    let (_dir, state) = interrupted_at(Point::Prepared);
    fs::write(&state, b"{\"n\":5}").unwrap();
    let e = upgrade(&state, 1, 2, &GOOD, None).unwrap_err();
    assert!(matches!(e, TransformError::Corrupt { .. }), "{e:?}");
    assert!(
        e.to_string().contains("neither the old nor the new state"),
        "{e}"
    );
}

#[test]
fn rollback_after_completion_restores_and_is_idempotent() {
    let (_dir, state) = setup();
    upgrade(&state, 1, 2, &GOOD, None).unwrap();
    rollback(&state, 1, 2).unwrap();
    rollback(&state, 1, 2).unwrap();
    assert_eq!(fs::read(&state).unwrap(), OLD);
}

#[test]
fn rollback_without_backup_says_so() {
    let (_dir, state) = setup();
    let e = rollback(&state, 1, 2).unwrap_err();
    assert!(matches!(e, TransformError::NoBackup { .. }), "{e:?}");
    assert!(e.to_string().contains("state.json.v1"), "{e}");
}

#[test]
fn garbled_journal_is_reported() {
    let (dir, state) = setup();
    fs::write(dir.path().join("state.json.upgrade"), b"{not json").unwrap();
    let e = upgrade(&state, 1, 2, &GOOD, None).unwrap_err();
    assert!(e.to_string().contains("does not decode"), "{e}");
    assert_eq!(fs::read(&state).unwrap(), OLD);
}

#[test]
fn missing_state_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let e = upgrade(&dir.path().join("nope.json"), 1, 2, &GOOD, None).unwrap_err();
    assert!(e.to_string().starts_with("cannot read `"), "{e}");
}
