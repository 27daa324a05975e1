//! The node program as a child process: started with the agent's arguments, ready once it
//! prints `listening ADDR` on stdout or, for a program started from a command template
//! (`--exec`), once it accepts connections on the port it was given; stopped with its stop
//! signal (SIGTERM unless told), then SIGKILL after a bound; and an orphan left by a crashed
//! agent is found by its process id and stopped.
//!
//! Without a template the program is started as `BINARY --listen 127.0.0.1:0 --state STATE
//! [--peer ADDR]... ARGS` (the peers being the shim's local routes to the peers' shims), the
//! convention of the example programs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// How to start the program.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// Environment variables set for the program (the LD_PRELOAD library's).
    pub env: Vec<(String, String)>,
    /// How the program shows it is ready.
    pub ready: Ready,
    /// Bound on the program being ready.
    pub start_timeout: Duration,
    /// The signal that asks it to stop (`TERM`, `INT`, ...).
    pub stop_signal: String,
}

/// How a started program shows it is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    /// It prints `listening ADDR` on stdout.
    Says,
    /// It accepts connections at this address (the agent connects until it does).
    Accepts(SocketAddr),
}

impl Launch {
    /// The `--binary` convention: `BINARY --listen 127.0.0.1:0 --state STATE [--peer ROUTE]...
    /// ARGS`, ready when it prints `listening ADDR`.
    pub fn conventional(
        binary: &Path,
        state: &Path,
        peers: &[SocketAddr],
        extra: &[String],
    ) -> Vec<String> {
        let mut args = vec![
            binary.display().to_string(),
            "--listen".to_string(),
            "127.0.0.1:0".to_string(),
            "--state".to_string(),
            state.display().to_string(),
        ];
        for p in peers {
            args.push("--peer".into());
            args.push(p.to_string());
        }
        args.extend(extra.iter().cloned());
        args
    }
}

/// Time between two connection attempts to a program that is not ready yet.
const READY_POLL: Duration = Duration::from_millis(20);

/// A running node program.
#[derive(Debug)]
pub struct Program {
    child: Child,
    pub pid: u32,
    pub addr: SocketAddr,
    /// Its first argument (the process's command name, for finding an orphan).
    pub binary: PathBuf,
    /// When it started (see [`start_time`]), for finding it as an orphan.
    pub started: Option<u64>,
    stop_signal: String,
}

impl Program {
    /// Starts `launch.argv` and waits (at most `start_timeout`) until it is ready.
    pub async fn start(launch: &Launch) -> Result<Program, String> {
        let Some((program, args)) = launch.argv.split_first() else {
            return Err("the program's command line is empty".into());
        };
        let bin = program.as_str();
        let mut child = Command::new(program)
            .args(args)
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start `{bin}`: {e}"))?;
        let pid = child.id().unwrap_or(0);
        let started = start_time(pid);
        let Some(stdout) = child.stdout.take() else {
            return Err(format!("`{bin}` has no stdout"));
        };
        let mut lines = BufReader::new(stdout).lines();
        let addr = match launch.ready {
            Ready::Accepts(addr) => {
                // Its stdout is read (and logged) from the start, so it never blocks on a full
                // pipe.
                log_stdout(lines, bin);
                if let Err(e) = accepts(&mut child, addr, bin, launch.start_timeout).await {
                    let _ = child.kill().await;
                    return Err(e);
                }
                addr
            }
            Ready::Says => {
                let waited =
                    tokio::time::timeout(launch.start_timeout, says(&mut lines, bin)).await;
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
                log_stdout(lines, bin);
                addr
            }
        };
        tracing::info!(program = %bin, pid, %addr, "program started");
        Ok(Program {
            child,
            pid,
            addr,
            binary: PathBuf::from(program),
            started,
            stop_signal: launch.stop_signal.clone(),
        })
    }

    /// Waits for the program to end by itself. Cancel-safe.
    pub async fn exited(&mut self) -> Option<ExitStatus> {
        self.child.wait().await.ok()
    }

    /// Stops the program: its stop signal, then SIGKILL after `timeout`. Returns how it ended.
    pub async fn stop(mut self, timeout: Duration) -> Result<ExitStatus, String> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Ok(status);
        }
        signal(self.pid, &self.stop_signal).await;
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(Ok(status)) => Ok(status),
            _ => {
                tracing::warn!(pid = self.pid, signal = %self.stop_signal, "the program ignored its stop signal: killing it");
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

/// Waits until `child` accepts a connection at `addr` (at most `timeout`); refuses a program
/// that ends first.
async fn accepts(
    child: &mut Child,
    addr: SocketAddr,
    bin: &str,
    timeout: Duration,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "`{bin}` ended ({status}) before it accepted connections on {addr}"
            ));
        }
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "`{bin}` did not accept connections on {addr} within {} ms",
                timeout.as_millis()
            ));
        }
        tokio::time::sleep(READY_POLL).await;
    }
}

/// Reads the program's stdout up to its `listening ADDR` line (logging the lines before it),
/// and returns that address.
async fn says(lines: &mut Lines<BufReader<ChildStdout>>, bin: &str) -> Result<SocketAddr, String> {
    loop {
        match lines.next_line().await {
            Ok(Some(line)) => {
                if let Some(rest) = line.strip_prefix("listening ") {
                    return rest
                        .trim()
                        .parse::<SocketAddr>()
                        .map_err(|e| format!("`{bin}` printed `{line}`, not an address: {e}"));
                }
                tracing::debug!(program = %bin, "{line}");
            }
            Ok(None) | Err(_) => {
                return Err(format!("`{bin}` ended before saying where it listens"))
            }
        }
    }
}

/// Logs the rest of the program's stdout in a task of its own, until it closes.
fn log_stdout(mut lines: Lines<BufReader<ChildStdout>>, bin: &str) {
    let name = bin.to_string();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::debug!(program = %name, "{line}");
        }
    });
}

/// A port on 127.0.0.1 free now, for a program told where to listen.
pub fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port for the program: {e}"))
}

/// Sends `SIG<name>` to `pid` with the `kill` program.
async fn signal(pid: u32, name: &str) {
    let result = Command::from(kill_command(pid, name)).status().await;
    if let Err(e) = result {
        tracing::warn!(pid, error = %e, "cannot run `kill`");
    }
}

/// The `kill -<name> <pid>` command (it sends `SIG<name>` to `pid`), with no input or output.
pub fn kill_command(pid: u32, name: &str) -> std::process::Command {
    let mut kill = std::process::Command::new("kill");
    kill.arg(format!("-{name}"))
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    kill
}

/// Stops process `pid` if it is still the program a crashed agent started: the process that
/// started at `started` (its start time, which an `exec` keeps) or, when that was not recorded
/// (an older record), one that runs `binary`; waits (at most `timeout`) until it is gone. A
/// process id reused by another program is left alone.
pub async fn stop_orphan(pid: u32, binary: &Path, started: Option<u64>, timeout: Duration) {
    let ours = |pid| match started {
        Some(t) => start_time(pid) == Some(t),
        None => runs(pid, binary),
    };
    if !ours(pid) {
        return;
    }
    tracing::warn!(pid, binary = %binary.display(), "stopping the program a previous agent left running");
    signal(pid, "KILL").await;
    let deadline = tokio::time::Instant::now() + timeout;
    while ours(pid) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// When process `pid` started (clock ticks since boot, `/proc/PID/stat`), `None` when it does
/// not run (a zombie does not).
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name in parentheses (which may hold anything): state, then 18 fields,
    // then the start time (field 22 of the whole line).
    let rest = stat.rsplit_once(") ")?.1;
    let mut fields = rest.split_whitespace();
    if fields.next()? == "Z" {
        return None;
    }
    fields.nth(18)?.parse().ok()
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
            argv: Launch::conventional(Path::new("sleep"), Path::new("10"), &[], &[]),
            env: Vec::new(),
            ready: Ready::Says,
            start_timeout: Duration::from_millis(200),
            stop_signal: "TERM".into(),
        };
        // `sleep --listen ...` fails at once: it ends before listening.
        let e = Program::start(&launch).await.unwrap_err();
        assert!(
            e.contains("ended before") || e.contains("did not say"),
            "{e}"
        );
        let missing = Launch {
            argv: vec!["/nonexistent/program".into()],
            ..launch
        };
        let e = Program::start(&missing).await.unwrap_err();
        assert!(e.contains("cannot start `/nonexistent/program`"), "{e}");
    }

    /// Readiness without cooperation: a program that never prints `listening` is ready when it
    /// accepts on its port; one that never listens is refused at the timeout; one that ends
    /// first, at once.
    #[tokio::test]
    async fn a_program_is_ready_when_it_accepts_on_its_port() {
        let port = free_port().unwrap();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let script = format!(
            "import socket, time\ntime.sleep(0.2)\ns = socket.socket()\ns.bind(('127.0.0.1', {port}))\ns.listen(1)\ntime.sleep(30)\n"
        );
        let launch = Launch {
            argv: vec!["python3".into(), "-c".into(), script],
            env: Vec::new(),
            ready: Ready::Accepts(addr),
            start_timeout: Duration::from_secs(20),
            stop_signal: "INT".into(),
        };
        let p = Program::start(&launch).await.unwrap();
        assert_eq!(p.addr, addr);
        assert_eq!(p.binary, PathBuf::from("python3"));
        p.stop(Duration::from_secs(5)).await.unwrap();
        let silent = Launch {
            argv: vec!["sleep".into(), "30".into()],
            start_timeout: Duration::from_millis(300),
            ..launch.clone()
        };
        let e = Program::start(&silent).await.unwrap_err();
        assert!(e.contains("did not accept connections on"), "{e}");
        let ends = Launch {
            argv: vec!["true".into()],
            ..launch
        };
        let e = Program::start(&ends).await.unwrap_err();
        assert!(e.contains("ended"), "{e}");
    }

    #[test]
    fn a_process_runs_only_its_own_binary() {
        let me = std::process::id();
        assert!(start_time(me).is_some_and(|t| t > 0));
        assert_eq!(start_time(me), start_time(me));
        assert_eq!(start_time(u32::MAX), None);
        assert!(!runs(me, Path::new("/nonexistent")));
        assert!(!runs(u32::MAX, Path::new("/bin/sh")));
    }
}
