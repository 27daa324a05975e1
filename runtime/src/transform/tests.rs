//! Unit tests of the transform: a clean run, reruns from each durable point (the journal and
//! files as a crash there leaves them), refusals, and rollback. Real crashes (SIGKILL) are in
//! `runtime/tests/transform_crash.rs`.

use super::*;
use std::cell::RefCell;
use std::fs;
use std::path::PathBuf;

/// `{"n": N}` -> `{"n": N, "twice": 2N}`; invariant `twice == 2 n`.
struct Doubler {
    fail: bool,
    lie: bool,
}

impl StateTransform for Doubler {
    fn transform(&self, old: &[u8]) -> Result<Vec<u8>, Cause> {
        if self.fail {
            return Err("`n` is missing".into());
        }
        let v: serde_json::Value = serde_json::from_slice(old)?;
        let n = v["n"].as_i64().ok_or("no n")?;
        let twice = if self.lie { n } else { 2 * n };
        Ok(serde_json::to_vec(&serde_json::json!({"n": n, "twice": twice})).unwrap())
    }
}

impl Invariant for Doubler {
    fn check_invariant(&self, _old: &[u8], new: &[u8]) -> Result<bool, Cause> {
        let v: serde_json::Value = serde_json::from_slice(new)?;
        Ok(v["twice"].as_i64() == v["n"].as_i64().map(|n| 2 * n))
    }
}

const GOOD: Doubler = Doubler {
    fail: false,
    lie: false,
};
/// Refuses every state.
const REFUSES: Doubler = Doubler {
    fail: true,
    lie: false,
};
/// Writes a state its own invariant rejects.
const LIES: Doubler = Doubler {
    fail: false,
    lie: true,
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
    let files = names(dir.path());
    assert_eq!(files.len(), 4, "{files:?}");
    for f in ["state.json", "state.json.v1", "state.json.v2"] {
        assert!(files.iter().any(|g| g == f), "{files:?}");
    }
    // The old state is also kept in history, with its version and a time in its name.
    let kept = super::history::list(&state).unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].0, 1);
    assert_eq!(fs::read(&kept[0].1).unwrap(), OLD);
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
fn a_refusal_gives_the_transforms_own_error_as_its_source() {
    let (_dir, state) = setup();
    fs::write(&state, b"not json").unwrap();
    let e = upgrade(&state, 1, 2, &GOOD, None).unwrap_err();
    assert!(matches!(e, TransformError::Transform { .. }), "{e:?}");
    let source = std::error::Error::source(&e);
    assert!(source.is_some_and(|s| s.is::<serde_json::Error>()), "{e:?}");
    assert_eq!(fs::read(&state).unwrap(), b"not json");
}

#[test]
fn refused_transform_keeps_the_old_state() {
    let (dir, state) = setup();
    let e = upgrade(&state, 1, 2, &REFUSES, None).unwrap_err();
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
    let e = upgrade(&state, 1, 2, &LIES, None).unwrap_err();
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

/// `{"n": N, "twice": T}` -> `{"n": N}`; the invariant as [`Doubler`]'s, which a wrong reverse
/// (`lie`: `n` halved) breaks.
struct Halver {
    lie: bool,
}

impl ReverseTransform for Halver {
    fn reverse_transform(&self, new: &[u8]) -> Result<Vec<u8>, Cause> {
        let v: serde_json::Value = serde_json::from_slice(new)?;
        let n = v["n"].as_i64().ok_or("no n")?;
        let n = if self.lie { n / 2 } else { n };
        Ok(serde_json::to_vec(&serde_json::json!({ "n": n })).unwrap())
    }
}

impl Invariant for Halver {
    fn check_invariant(&self, old: &[u8], new: &[u8]) -> Result<bool, Cause> {
        let o: serde_json::Value = serde_json::from_slice(old)?;
        let n: serde_json::Value = serde_json::from_slice(new)?;
        Ok(o["n"] == n["n"] && GOOD.check_invariant(old, new)?)
    }
}

/// The state after an upgrade, then a write by the new version: `n` is 50.
const WRITTEN: &[u8] = br#"{"n":50,"twice":100}"#;

#[test]
fn reverse_carries_the_new_versions_writes_back_and_keeps_every_state() {
    let (_dir, state) = setup();
    upgrade(&state, 1, 2, &GOOD, None).unwrap();
    fs::write(&state, WRITTEN).unwrap();
    let seen = RefCell::new(Vec::new());
    let hook = |p: Point| seen.borrow_mut().push(p);
    let done = reverse(&state, 2, 1, &Halver { lie: false }, Some(&hook)).unwrap();
    assert!(!done.resumed);
    assert_eq!(fs::read(&state).unwrap(), br#"{"n":50}"#);
    assert_eq!(*seen.borrow(), Point::ALL);
    assert_eq!(pending(&state).unwrap(), None);
    // Every replaced state is on disk: the version-1 state the upgrade replaced and the
    // version-2 state (with its write) the rollback replaced; the agent's backups are as they were.
    assert_eq!(kept(&state), [(1, OLD.to_vec()), (2, WRITTEN.to_vec())]);
    assert_eq!(fs::read(StateFiles::new(&state).versioned(1)).unwrap(), OLD);
    // A rerun (the caller did not learn it finished) does nothing.
    let again = reverse(&state, 2, 1, &Halver { lie: false }, None).unwrap();
    assert!(again.resumed);
    assert_eq!(fs::read(&state).unwrap(), br#"{"n":50}"#);
    assert_eq!(super::history::list(&state).unwrap().len(), 2);
}

#[test]
fn a_reverse_that_breaks_the_invariant_keeps_the_current_state() {
    let (_dir, state) = setup();
    upgrade(&state, 1, 2, &GOOD, None).unwrap();
    fs::write(&state, WRITTEN).unwrap();
    let e = reverse(&state, 2, 1, &Halver { lie: true }, None).unwrap_err();
    assert!(matches!(e, TransformError::ReverseInvariantBroken), "{e}");
    assert_eq!(fs::read(&state).unwrap(), WRITTEN);
    assert_eq!(pending(&state).unwrap(), None);
}

#[test]
fn an_upgrade_journal_blocks_a_reverse_and_back() {
    let (_dir, state) = setup();
    let stop = |p: Point| {
        if p == Point::BackedUp {
            panic!("stop");
        }
    };
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        upgrade(&state, 2, 1, &GOOD, Some(&stop))
    }));
    assert!(r.is_err());
    let e = reverse(&state, 2, 1, &Halver { lie: false }, None).unwrap_err();
    assert!(
        matches!(
            e,
            TransformError::OtherDirectionPending { reverse: false, .. }
        ),
        "{e}"
    );
    assert!(recover_reverse(&state, &Halver { lie: false }, Policy::Resume).is_err());
    recover_reverse(&state, &Halver { lie: false }, Policy::RollBack).unwrap();
    assert_eq!(fs::read(&state).unwrap(), OLD);
}

/// Every state kept in history for `state`: its version and bytes.
fn kept(state: &Path) -> Vec<(u64, Vec<u8>)> {
    super::history::list(state)
        .unwrap()
        .into_iter()
        .map(|(v, p)| (v, fs::read(p).unwrap()))
        .collect()
}

#[test]
fn rollback_keeps_the_state_it_discards() {
    let (_dir, state) = setup();
    upgrade(&state, 1, 2, &GOOD, None).unwrap();
    fs::write(&state, WRITTEN).unwrap();
    rollback(&state, 1, 2).unwrap();
    assert_eq!(fs::read(&state).unwrap(), OLD);
    assert_eq!(kept(&state), [(1, OLD.to_vec()), (2, WRITTEN.to_vec())]);
    // Idempotent: a second rollback keeps nothing more.
    rollback(&state, 1, 2).unwrap();
    assert_eq!(super::history::list(&state).unwrap().len(), 2);
}

#[test]
fn history_files_are_never_overwritten() {
    let (_dir, state) = setup();
    let name = super::history::fresh_name(&state, 7);
    super::history::keep(&state, &name, b"first").unwrap();
    super::history::keep(&state, &name, b"first").unwrap();
    assert!(super::history::keep(&state, &name, b"second").is_err());
    assert_eq!(
        fs::read(super::history::path_of(&state, &name)).unwrap(),
        b"first"
    );
    assert_ne!(super::history::fresh_name(&state, 7), name);
}
