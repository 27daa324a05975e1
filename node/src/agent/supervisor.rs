//! The node program as a child process: started with the agent's arguments, ready once it
//! prints `listening ADDR` on stdout; stopped with SIGTERM, then SIGKILL after a bound; and an
//! orphan left by a crashed agent is found by its process id and stopped.
//!
//! The program is started as `BINARY --listen 127.0.0.1:0 --state STATE [--peer ADDR]... ARGS`
//! (the peers being the shim's local routes to the peers' shims), the convention of the example
//! programs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How to start the program.
#[derive(Debug, Clone)]
pub struct Launch {
    pub binary: PathBuf,
    pub state: PathBuf,
    /// The shim's local routes to the peers.
    pub peers: Vec<SocketAddr>,
    pub extra_args: Vec<String>,
    /// Environment variables set for the program (the LD_PRELOAD library's).
    pub env: Vec<(String, String)>,
    /// Bound on the program saying where it listens.
    pub start_timeout: Duration,
}

impl Launch {
    fn args(&self) -> Vec<String> {
        let mut args = vec![
            "--listen".to_string(),
            "127.0.0.1:0".to_string(),
            "--state".to_string(),
            self.state.display().to_string(),
        ];
        for p in &self.peers {
            args.push("--peer".into());
            args.push(p.to_string());
        }
        args.extend(self.extra_args.iter().cloned());
        args
    }
}

/// A running node program.
#[derive(Debug)]
pub struct Program {
    child: Child,
    pub pid: u32,
    pub addr: SocketAddr,
    pub binary: PathBuf,
}

impl Program {
    /// Starts `launch.binary` and waits (at most `start_timeout`) for its `listening ADDR`.
    pub async fn start(launch: &Launch) -> Result<Program, String> {
        let bin = launch.binary.display();
        let mut child = Command::new(&launch.binary)
            .args(launch.args())
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start `{bin}`: {e}"))?;
        let pid = child.id().unwrap_or(0);
        let Some(stdout) = child.stdout.take() else {
            return Err(format!("`{bin}` has no stdout"));
        };
        let mut lines = BufReader::new(stdout).lines();
        let waited = tokio::time::timeout(launch.start_timeout, async {
            loop {
                match lines.next_line().await {
                    Ok(Some(line)) => {
                        if let Some(rest) = line.strip_prefix("listening ") {
                            return rest.trim().parse::<SocketAddr>().map_err(|e| {
                                format!("`{bin}` printed `{line}`, not an address: {e}")
                            });
                        }
                        tracing::debug!(program = %bin, "{line}");
                    }
                    Ok(None) | Err(_) => {
                        return Err(format!("`{bin}` ended before saying where it listens"))
                    }
                }
            }
        })
        .await;
        let addr = match waited {
            Ok(Ok(addr)) => addr,
            Ok(Err(e)) => {
                let _ = child.kill().await;
                return Err(e);
            }
            Err(_) => {
                let _ = child.kill().await;
                return Err(format!(
                    "`{bin}` did not say where it listens within {} ms",
                    launch.start_timeout.as_millis()
                ));
            }
        };
        // Keep reading its stdout, so that it never blocks on a full pipe.
        let name = bin.to_string();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!(program = %name, "{line}");
            }
        });
        tracing::info!(program = %bin, pid, %addr, "program started");
        Ok(Program {
            child,
            pid,
            addr,
            binary: launch.binary.clone(),
        })
    }

    /// Waits for the program to end by itself. Cancel-safe.
    pub async fn exited(&mut self) -> Option<ExitStatus> {
        self.child.wait().await.ok()
    }

    /// Stops the program: SIGTERM, then SIGKILL after `timeout`. Returns how it ended.
    pub async fn stop(mut self, timeout: Duration) -> Result<ExitStatus, String> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Ok(status);
        }
        signal(self.pid, "TERM").await;
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(Ok(status)) => Ok(status),
            _ => {
                tracing::warn!(pid = self.pid, "the program ignored SIGTERM: killing it");
                self.child
                    .kill()
                    .await
                    .map_err(|e| format!("cannot kill process {}: {e}", self.pid))?;
                self.child
                    .wait()
                    .await
                    .map_err(|e| format!("cannot reap process {}: {e}", self.pid))
            }
        }
    }
}

/// Sends `SIG<name>` to `pid` with the `kill` program.
async fn signal(pid: u32, name: &str) {
    let result = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
    if let Err(e) = result {
        tracing::warn!(pid, error = %e, "cannot run `kill`");
    }
}

/// Stops process `pid` if it still runs `binary` (an orphan left by a crashed agent); waits
/// (at most `timeout`) until it is gone. A process id reused by another program is left alone.
pub async fn stop_orphan(pid: u32, binary: &Path, timeout: Duration) {
    if !runs(pid, binary) {
        return;
    }
    tracing::warn!(pid, binary = %binary.display(), "stopping the program a previous agent left running");
    signal(pid, "KILL").await;
    let deadline = tokio::time::Instant::now() + timeout;
    while runs(pid, binary) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether process `pid` runs `binary` (its first command-line argument), by `/proc`. A zombie
/// (reaped by nobody yet) has an empty command line and does not count.
fn runs(pid: u32, binary: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    use std::os::unix::ffi::OsStrExt;
    let first = cmdline.split(|b| *b == 0).next().unwrap_or_default();
    !first.is_empty() && first == binary.as_os_str().as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_program_that_never_listens_is_refused_in_time() {
        let launch = Launch {
            binary: PathBuf::from("sleep"),
            state: PathBuf::from("10"),
            peers: Vec::new(),
            extra_args: Vec::new(),
            env: Vec::new(),
            start_timeout: Duration::from_millis(200),
        };
        // `sleep --listen ...` fails at once: it ends before listening.
        let e = Program::start(&launch).await.unwrap_err();
        assert!(
            e.contains("ended before") || e.contains("did not say"),
            "{e}"
        );
        let missing = Launch {
            binary: PathBuf::from("/nonexistent/program"),
            ..launch
        };
        let e = Program::start(&missing).await.unwrap_err();
        assert!(e.contains("cannot start `/nonexistent/program`"), "{e}");
    }

    #[test]
    fn a_process_runs_only_its_own_binary() {
        let me = std::process::id();
        assert!(!runs(me, Path::new("/nonexistent")));
        assert!(!runs(u32::MAX, Path::new("/bin/sh")));
    }
}
