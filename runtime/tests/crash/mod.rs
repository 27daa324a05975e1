//! What the crash tests of the state transform share: the test binary re-run as a helper
//! process (one test of it, alone) that transforms a state and is killed, and the progress
//! lines it prints (`reached POINT`, `finished`).
#![allow(clippy::unwrap_used, reason = "tests")]

use runtime::transform::Point;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A helper process, killed (SIGKILL) when dropped.
pub struct Helper(pub Child);

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a helper process is to do: transform `state` (upgrade, or reverse when `reverse`),
/// stopping at the point named `stop_at` until killed. [`helper_task`] reads it back.
#[derive(Debug, Clone, Copy)]
pub struct Task<'a> {
    pub state: &'a Path,
    pub stop_at: Option<&'a str>,
    pub reverse: bool,
}

/// Re-runs this test binary's test `test` alone as a helper, its stdout piped: `switch` set
/// (the helper test does its task only then), `task` in its environment; `configure` sets
/// whatever else that test's helper reads.
pub fn spawn(
    test: &str,
    switch: &str,
    task: Task<'_>,
    configure: impl FnOnce(&mut Command),
) -> Helper {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        test,
        "--nocapture",
        "--test-threads=1",
        "--quiet",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .env(switch, "1")
    .env("UPSTART_STATE", task.state);
    set_or_remove(&mut cmd, "UPSTART_STOP_AT", task.stop_at);
    set_or_remove(&mut cmd, "UPSTART_REVERSE", task.reverse.then_some("1"));
    configure(&mut cmd);
    Helper(cmd.spawn().unwrap())
}

/// Sets `var` to `value`, or removes it from what the child inherits.
pub fn set_or_remove(cmd: &mut Command, var: &str, value: Option<impl AsRef<OsStr>>) {
    match value {
        Some(v) => cmd.env(var, v),
        None => cmd.env_remove(var),
    };
}

/// The helper's first line starting with `reached` or `finished`, waiting at most 60 s; `None`
/// when it died or took longer.
pub fn next_line(h: &mut Helper) -> Option<String> {
    let out = h.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Reads to the end, so the helper never writes into a closed pipe.
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if line.starts_with("reached") || line.starts_with("finished") {
                let _ = tx.send(line);
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60)).ok()
}

/// What the helper process is to do ([`Task`], as [`spawn`] wrote it), read from its
/// environment (`None` outside the helper, when `switch` is not set): the state
/// (`UPSTART_STATE`), the transform's hook, which at the point named by `UPSTART_STOP_AT`
/// prints `reached POINT` and waits to be killed, and whether to reverse (`UPSTART_REVERSE`).
pub fn helper_task(switch: &str) -> Option<(PathBuf, impl Fn(Point), bool)> {
    std::env::var_os(switch)?;
    let state = PathBuf::from(std::env::var("UPSTART_STATE").unwrap());
    let stop_at = std::env::var("UPSTART_STOP_AT").ok();
    let hook = move |p: Point| {
        if stop_at.as_deref() == Some(p.name()) {
            println!("reached {}", p.name());
            std::thread::sleep(Duration::from_secs(60));
            std::process::exit(3);
        }
    };
    Some((state, hook, std::env::var_os("UPSTART_REVERSE").is_some()))
}

/// Waits for the helper to print `finished`, then to exit with success.
pub fn finishes(mut h: Helper, case: &str) {
    assert_eq!(next_line(&mut h).as_deref(), Some("finished"), "{case}");
    assert!(h.0.wait().unwrap().success(), "{case}");
}
