//! Crash safety of the state transform, for real: this test binary re-runs itself as a helper
//! process (`crash_helper`, active only under `UPSTART_CRASH_HELPER`) that transforms a state
//! file and is killed with SIGKILL, either when it reaches an injected point (it announces the
//! point and waits to be killed) or at random moments. Then a rerun resumes, or a recovery
//! rolls back, and the state file must be exactly the old state or exactly its transform.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
#![allow(clippy::indexing_slicing, reason = "tests")]

use runtime::transform::{self, Invariant, Point, Policy, StateTransform};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use upstart_test_support::fixture;

mod crash;
use crash::Helper;

/// `{"entries": {k: v}}` -> `{"items": {k: {"value": v, "expires_at": null}}}`, as the kv
/// example's transform; invariant: same keys and values.
struct KvTransform;

impl StateTransform for KvTransform {
    fn transform(&self, old: &[u8]) -> Result<Vec<u8>, transform::Cause> {
        let v: serde_json::Value = serde_json::from_slice(old)?;
        let entries = v["entries"].as_object().ok_or("no entries")?;
        let items: serde_json::Map<String, serde_json::Value> = entries
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    serde_json::json!({"value": v, "expires_at": null}),
                )
            })
            .collect();
        Ok(serde_json::to_vec(&serde_json::json!({ "items": items }))?)
    }
}

impl Invariant for KvTransform {
    fn check_invariant(&self, old: &[u8], new: &[u8]) -> Result<bool, transform::Cause> {
        let o: serde_json::Value = serde_json::from_slice(old)?;
        let n: serde_json::Value = serde_json::from_slice(new)?;
        let (Some(o), Some(n)) = (o["entries"].as_object(), n["items"].as_object()) else {
            return Ok(false);
        };
        Ok(o.len() == n.len()
            && o.iter()
                .all(|(k, v)| n.get(k).map(|i| &i["value"]) == Some(v)))
    }
}

/// `{"items": {k: {"value": v, ...}}}` -> `{"entries": {k: v}}`: kv's reverse transform.
struct KvReverse;

impl transform::ReverseTransform for KvReverse {
    fn reverse_transform(&self, new: &[u8]) -> Result<Vec<u8>, transform::Cause> {
        let v: serde_json::Value = serde_json::from_slice(new)?;
        let items = v["items"].as_object().ok_or("no items")?;
        let entries: serde_json::Map<String, serde_json::Value> = items
            .iter()
            .map(|(k, i)| (k.clone(), i["value"].clone()))
            .collect();
        Ok(serde_json::to_vec(
            &serde_json::json!({ "entries": entries }),
        )?)
    }
}

/// The same invariant as [`KvTransform`]'s, kept backwards.
impl Invariant for KvReverse {
    fn check_invariant(&self, old: &[u8], new: &[u8]) -> Result<bool, transform::Cause> {
        KvTransform.check_invariant(old, new)
    }
}

fn kv_state(n: usize) -> Vec<u8> {
    let entries: serde_json::Map<String, serde_json::Value> = (0..n)
        .map(|i| {
            (
                format!("key-{i:06}"),
                serde_json::json!(format!("value {i} {}", "x".repeat(40))),
            )
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "entries": entries })).unwrap()
}

/// The helper process: transforms `UPSTART_STATE` (with the plugin at `UPSTART_PLUGIN`, or the
/// kv transform), stopping at `UPSTART_STOP_AT` until killed.
#[test]
fn crash_helper() {
    let Some((state, hook, reverse)) = crash::helper_task("UPSTART_CRASH_HELPER") else {
        return;
    };
    if reverse {
        match std::env::var_os("UPSTART_PLUGIN") {
            Some(plugin) => {
                let plugin =
                    runtime::plugin::Plugin::load(Path::new(&plugin), &Default::default()).unwrap();
                transform::reverse(&state, 2, 1, &plugin, Some(&hook)).unwrap();
            }
            None => {
                transform::reverse(&state, 2, 1, &KvReverse, Some(&hook)).unwrap();
            }
        }
        println!("finished");
        return;
    }
    let result = match std::env::var_os("UPSTART_PLUGIN") {
        Some(plugin) => {
            let plugin =
                runtime::plugin::Plugin::load(Path::new(&plugin), &Default::default()).unwrap();
            transform::upgrade(&state, 1, 2, &plugin, Some(&hook))
        }
        None => transform::upgrade(&state, 1, 2, &KvTransform, Some(&hook)),
    };
    result.unwrap();
    println!("finished");
}

fn helper(state: &Path, stop_at: Option<&str>, plugin: Option<&Path>) -> Helper {
    helper_of(state, stop_at, plugin, false)
}

/// A helper running the kv reverse transform (2 -> 1) on the state.
fn reverse_helper(state: &Path, stop_at: Option<&str>) -> Helper {
    helper_of(state, stop_at, None, true)
}

fn helper_of(state: &Path, stop_at: Option<&str>, plugin: Option<&Path>, reverse: bool) -> Helper {
    let task = crash::Task {
        state,
        stop_at,
        reverse,
    };
    crash::spawn("crash_helper", "UPSTART_CRASH_HELPER", task, |cmd| {
        crash::set_or_remove(cmd, "UPSTART_PLUGIN", plugin);
    })
}

/// Waits (at most 60 s) for the helper to print a line starting with `reached` or `finished`.
fn wait_for_line(h: &mut Helper) -> String {
    crash::next_line(h).expect("the helper reached its point in time")
}

fn check_old_or_new(state: &Path, old: &[u8], new: &[u8], what: &str) -> bool {
    let now = std::fs::read(state).unwrap();
    assert!(
        now == old || now == new,
        "{what}: the state is neither the old nor the new one ({} bytes)",
        now.len()
    );
    now == new
}

#[test]
fn killed_at_each_point_then_rerun_completes() {
    let old = kv_state(2000);
    let new = KvTransform.transform(&old).unwrap();
    for point in Point::ALL {
        let (dir, state, line) = killed_at(point, &old, None, false);
        assert_eq!(line, format!("reached {}", point.name()));
        check_old_or_new(&state, &old, &new, point.name());
        crash::finishes(helper(&state, None, None), &format!("{point:?}"));
        assert_eq!(
            std::fs::read(&state).unwrap(),
            new,
            "{point:?}: the rerun completes the transform"
        );
        assert_eq!(
            std::fs::read(dir.path().join("state.json.v1")).unwrap(),
            old,
            "{point:?}: the backup is the old state"
        );
        assert!(transform::pending(&state).unwrap().is_none());
    }
}

#[test]
fn killed_at_each_point_then_recovery_rolls_back() {
    let old = kv_state(500);
    for point in Point::ALL {
        let (_dir, state, _) = killed_at(point, &old, None, false);
        transform::recover(&state, &KvTransform, Policy::RollBack).unwrap();
        if point == Point::Done {
            transform::rollback(&state, 1, 2).unwrap();
        }
        assert_eq!(
            std::fs::read(&state).unwrap(),
            old,
            "{point:?}: rolled back to exactly the old state"
        );
        assert!(transform::pending(&state).unwrap().is_none());
    }
}

#[test]
fn killed_at_each_point_with_a_real_plugin() {
    let plugin = fixture::plugin_1_2();
    let old = br#"{"count":21}"#.to_vec();
    let loaded = runtime::plugin::Plugin::load(plugin, &Default::default()).unwrap();
    let new = runtime::plugin::Plugin::transform(&loaded, &old).unwrap();
    for point in FILE_POINTS {
        let (_dir, state, _) = killed_at(point, &old, Some(plugin), false);
        check_old_or_new(&state, &old, &new, point.name());
        crash::finishes(helper(&state, None, Some(plugin)), &format!("{point:?}"));
        assert_eq!(std::fs::read(&state).unwrap(), new, "{point:?}");
    }
}

#[test]
fn killed_at_random_moments() {
    let old = kv_state(20_000);
    let new = KvTransform.transform(&old).unwrap();
    // How long a whole run takes, to spread the kills over it.
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    std::fs::write(&state, &old).unwrap();
    let start = Instant::now();
    let mut h = helper(&state, None, None);
    assert_eq!(wait_for_line(&mut h), "finished");
    let full = start.elapsed().as_micros() as u64;
    drop(h);
    assert_eq!(std::fs::read(&state).unwrap(), new);

    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let (mut saw_old, mut saw_new) = (0, 0);
    for round in 0..16 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        std::fs::write(&state, &old).unwrap();
        let h = helper(&state, None, None);
        // Between a third of a run and a run and a third: before, during and after the writes.
        std::thread::sleep(Duration::from_micros(full / 3 + seed % (full + 1)));
        drop(h);
        if check_old_or_new(&state, &old, &new, &format!("round {round}")) {
            saw_new += 1;
        } else {
            saw_old += 1;
        }
        // Alternate: finish the interrupted run, or roll it back.
        if round % 2 == 0 {
            crash::finishes(helper(&state, None, None), &format!("round {round}"));
            assert_eq!(std::fs::read(&state).unwrap(), new, "round {round}");
        } else {
            transform::recover(&state, &KvTransform, Policy::RollBack).unwrap();
            if std::fs::read(&state).unwrap() == new {
                transform::rollback(&state, 1, 2).unwrap();
            }
            assert_eq!(std::fs::read(&state).unwrap(), old, "round {round}");
        }
        assert!(
            transform::pending(&state).unwrap().is_none(),
            "round {round}"
        );
    }
    eprintln!("random kills: {saw_old} left the old state, {saw_new} the new one (a full run takes {full} us)");
}

/// The version-2 state kept in history (by a reverse run).
fn kept_v2(state: &Path) -> Vec<Vec<u8>> {
    transform::history::list(state)
        .unwrap()
        .into_iter()
        .filter(|(v, _)| *v == 2)
        .map(|(_, p)| std::fs::read(p).unwrap())
        .collect()
}

/// A state holding `bytes`, in a folder of its own, and a run over it (the kv transform, or
/// `plugin`'s; `reverse` or not) killed (SIGKILL) at `point`; the folder, the state's path and
/// the last line the run printed.
fn killed_at(
    point: Point,
    bytes: &[u8],
    plugin: Option<&Path>,
    reverse: bool,
) -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    std::fs::write(&state, bytes).unwrap();
    let mut h = helper_of(&state, Some(point.name()), plugin, reverse);
    let line = wait_for_line(&mut h);
    drop(h); // SIGKILL
    (dir, state, line)
}

/// The points of a run where a file was just written (the plugin's runs are killed there).
const FILE_POINTS: [Point; 4] = [
    Point::BackedUp,
    Point::NewWritten,
    Point::Prepared,
    Point::Switched,
];

/// A kv state of `n` entries after the transform, and after the reverse transform too.
fn kv_written_and_back(n: usize) -> (Vec<u8>, Vec<u8>) {
    use transform::ReverseTransform;
    let written = KvTransform.transform(&kv_state(n)).unwrap();
    let back = KvReverse.reverse_transform(&written).unwrap();
    (written, back)
}

#[test]
fn reverse_killed_at_each_point_then_rerun_completes() {
    let (written, back) = kv_written_and_back(2000);
    for point in Point::ALL {
        let (_dir, state, line) = killed_at(point, &written, None, true);
        assert_eq!(line, format!("reached {}", point.name()));
        check_old_or_new(&state, &written, &back, point.name());
        crash::finishes(reverse_helper(&state, None), &format!("{point:?}"));
        assert_eq!(
            std::fs::read(&state).unwrap(),
            back,
            "{point:?}: the rerun completes"
        );
        assert!(transform::pending(&state).unwrap().is_none());
        // The state the rollback replaced is kept, once, whatever the point of the kill.
        assert_eq!(kept_v2(&state), std::slice::from_ref(&written), "{point:?}");
    }
}

#[test]
fn reverse_killed_at_each_point_then_recovery_undoes_it() {
    let (written, back) = kv_written_and_back(500);
    for point in Point::ALL {
        let (_dir, state, _) = killed_at(point, &written, None, true);
        transform::recover_reverse(&state, &KvReverse, Policy::RollBack).unwrap();
        let now = std::fs::read(&state).unwrap();
        if point == Point::Done {
            // Complete before the kill: nothing is pending, the rollback stands.
            assert_eq!(now, back, "{point:?}");
        } else {
            assert_eq!(
                now, written,
                "{point:?}: undone to exactly the state it began from"
            );
        }
        assert!(transform::pending(&state).unwrap().is_none());
        if point != Point::Begun {
            assert_eq!(kept_v2(&state), std::slice::from_ref(&written), "{point:?}");
        }
    }
}

#[test]
fn reverse_killed_at_each_point_with_a_real_plugin() {
    let plugin = fixture::plugin_1_2();
    let written = br#"{"count":50,"doubled":100}"#.to_vec();
    let loaded = runtime::plugin::Plugin::load(plugin, &Default::default()).unwrap();
    let back = loaded.reverse_transform(&written).unwrap();
    for point in FILE_POINTS {
        let (_dir, state, _) = killed_at(point, &written, Some(plugin), true);
        check_old_or_new(&state, &written, &back, point.name());
        crash::finishes(
            helper_of(&state, None, Some(plugin), true),
            &format!("{point:?}"),
        );
        assert_eq!(std::fs::read(&state).unwrap(), back, "{point:?}");
        assert_eq!(kept_v2(&state), std::slice::from_ref(&written), "{point:?}");
    }
}
