//! The oracles of `upstart test`, each with a name a failure is reported under:
//!
//! - `no-failed-call`: no call fails except declared `disallow`s (calls sent again after their
//!   connection closed are counted, not failed);
//! - `final-version`: every node ends at the plan's final version, none mid-upgrade;
//! - `start`: the cluster comes up (server, agents enrolled, programs serving);
//! - `rollout`: every rollout the plan waits for completes (a stuck or paused rollout fails);
//! - `no-orphan`: once the cluster is stopped, no process of the run is left, no agent lock is
//!   held, no temporary file or unfinished transform journal is left;
//! - `differential-answers` and `differential-state`: the same sequential workload run on a
//!   cluster that never upgrades answers the same, call by call, and its state, stopped and
//!   transformed along the plan's hops, is the rolling run's (equal, or related by the last
//!   hop's invariant);
//! - `model-answers` and `writes-readable` (where the spec gives method models, on plans whose
//!   only client is one sequential client): every answer agrees with the model of the
//!   caller's version, and at the end every node answers the reads of every written key as
//!   the model does after the acknowledged writes (see `runner::models`).
//!
//! Numbers that look like epoch milliseconds (10^12 to 10^14: expiry times and the like) are
//! compared as equal: two runs never write them at the same instant. Against a model, which
//! leaves time out, such a number agrees with any number.

use serde::Serialize;
use serde_json::Value;
use std::path::Path;

/// One oracle's verdict against a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The oracle's name (`no-failed-call`, ...).
    pub oracle: String,
    /// What went wrong, for people (the first few instances).
    pub detail: String,
}

impl Failure {
    pub fn new(oracle: &str, detail: impl Into<String>) -> Failure {
        Failure {
            oracle: oracle.to_string(),
            detail: detail.into(),
        }
    }

    /// The failure `oracle` when a check found anything: `summary` of how many were found,
    /// then the first of them (see [`first_found`]); `None` when nothing was found.
    pub fn when_found(
        oracle: &str,
        found: &[String],
        summary: impl FnOnce(usize) -> String,
    ) -> Option<Failure> {
        (!found.is_empty()).then(|| {
            let detail = format!("{}; first: {}", summary(found.len()), first_found(found));
            Failure::new(oracle, detail)
        })
    }
}

/// What a check found, for a failure's detail: the items joined, at most 600 characters.
pub fn first_found(found: &[String]) -> String {
    found.join("; ").chars().take(600).collect()
}

/// Whether `n` looks like a time in epoch milliseconds.
fn timestamp(n: &serde_json::Number) -> bool {
    n.as_u64()
        .is_some_and(|x| (1_000_000_000_000..100_000_000_000_000).contains(&x))
}

/// `v` with every timestamp-like number replaced by the same one.
pub fn normalize(v: &Value) -> Value {
    match v {
        Value::Number(n) if timestamp(n) => Value::from(1_000_000_000_000_u64),
        Value::Array(items) => Value::Array(items.iter().map(normalize).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), normalize(v))).collect())
        }
        other => other.clone(),
    }
}

/// Whether a real answer `got` agrees with the model's answer `want`: equal, but for
/// timestamp-like numbers in `got`, which agree with any number (a model keeps a ttl where the
/// program keeps its expiry time).
pub fn agrees(want: &Value, got: &Value) -> bool {
    match (want, got) {
        (Value::Number(_), Value::Number(n)) if timestamp(n) => true,
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| agrees(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, x)| b.get(k).is_some_and(|y| agrees(x, y)))
        }
        _ => want == got,
    }
}

/// Processes whose command line mentions `dir` (the run's directory): what outlived the run.
pub fn processes_under(dir: &Path) -> Vec<(u32, String)> {
    let needle = dir.display().to_string();
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let zombie = std::fs::read_to_string(e.path().join("stat"))
            .is_ok_and(|s| s.split(") ").nth(1).is_some_and(|r| r.starts_with('Z')));
        if zombie {
            continue;
        }
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(&needle) {
                found.push((pid, cmd.trim().to_string()));
            }
        }
    }
    found
}

/// Files under `dir` a clean stop leaves no trace of: temporaries (`*.tmp`, `*.part`),
/// transform journals still pending, and agent locks still held.
pub fn leftovers(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    walk(dir, &mut |path| {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.ends_with(".tmp") || name.ends_with(".part") {
            out.push(format!("temporary file `{}`", path.display()));
        }
        if name == "agent.lock" {
            let held = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
                .is_ok_and(|f| f.try_lock().is_err());
            if held {
                out.push(format!("lock `{}` still held", path.display()));
            }
        }
        if name == "state.json" {
            if let Ok(Some(j)) = runtime::transform::pending(path) {
                out.push(format!(
                    "unfinished transform of `{}`: {j:?}",
                    path.display()
                ));
            }
        }
    });
    out
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            walk(&path, f);
        } else {
            f(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use serde_json::json;

    #[test]
    fn timestamps_compare_equal_and_nothing_else_changes() {
        let a = json!({"items": {"k": {"value": "v", "expires_at": 1_764_000_000_123_u64}}, "revision": 3});
        let b = json!({"items": {"k": {"value": "v", "expires_at": 1_764_000_009_999_u64}}, "revision": 3});
        assert_ne!(a, b);
        assert_eq!(normalize(&a), normalize(&b));
        let c = json!({"items": {"k": {"value": "w", "expires_at": 1_764_000_000_123_u64}}, "revision": 3});
        assert_ne!(normalize(&a), normalize(&c));
        assert_eq!(normalize(&json!([1, 2, null])), json!([1, 2, null]));
    }

    #[test]
    fn answers_agree_with_models_but_for_timestamps() {
        let want = json!({"value": "v", "expires_at": 5});
        assert!(agrees(
            &want,
            &json!({"value": "v", "expires_at": 1_764_000_000_123_u64})
        ));
        assert!(!agrees(
            &want,
            &json!({"value": "w", "expires_at": 1_764_000_000_123_u64})
        ));
        assert!(!agrees(&want, &json!({"value": "v", "expires_at": 6})));
        assert!(!agrees(&want, &json!({"value": "v"})));
        assert!(!agrees(&json!(null), &json!("v")));
        assert!(agrees(&json!(["a", null]), &json!(["a", null])));
        assert!(!agrees(&json!(["a"]), &json!(["a", null])));
    }

    #[test]
    fn temporaries_and_held_locks_are_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("n1").join("agent");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join("agent.lock"), "1").unwrap();
        std::fs::write(dir.path().join("n1").join("state.json"), "{}").unwrap();
        assert!(
            leftovers(dir.path()).is_empty(),
            "{:?}",
            leftovers(dir.path())
        );
        let held = std::fs::File::open(sub.join("agent.lock")).unwrap();
        held.lock().unwrap();
        std::fs::write(dir.path().join("n1").join("state.json.tmp"), "{}").unwrap();
        let found = leftovers(dir.path());
        assert_eq!(found.len(), 2, "{found:?}");
        drop(held);
        assert_eq!(leftovers(dir.path()).len(), 1);
    }
}
