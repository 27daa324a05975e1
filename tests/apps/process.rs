//! Child processes that are killed when dropped, and reading what they print at startup with a
//! bounded wait.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A child process killed (and reaped) on drop.
#[derive(Debug)]
pub struct ChildGuard {
    pub name: String,
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl ChildGuard {
    /// Spawns `command` with stdout piped (read line by line in a thread) and stderr inherited.
    pub fn spawn(name: &str, command: &mut Command) -> std::io::Result<ChildGuard> {
        let mut child = command
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()?;
        let (tx, lines) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            std::thread::spawn(move || forward(stdout, tx));
        }
        Ok(ChildGuard {
            name: name.to_string(),
            child,
            lines,
        })
    }

    /// The next line of stdout, waiting at most `wait`.
    pub fn line(&mut self, wait: Duration) -> Result<String, String> {
        self.lines.recv_timeout(wait).map_err(|_| {
            let status = self.child.try_wait().ok().flatten();
            format!(
                "`{}` printed no line within {wait:?} (exit status: {status:?})",
                self.name
            )
        })
    }

    /// The first stdout line that starts with `prefix`, its rest trimmed.
    pub fn line_after(&mut self, prefix: &str, wait: Duration) -> Result<String, String> {
        let deadline = std::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = self.line(left)?;
            if let Some(rest) = line.strip_prefix(prefix) {
                return Ok(rest.trim().to_string());
            }
        }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the child to exit by itself, at most `wait`; its exit code.
    pub fn wait_exit(&mut self, wait: Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + wait;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// The lines printed so far and not yet read.
    pub fn drain_lines(&mut self) -> Vec<String> {
        self.lines.try_iter().collect()
    }
}

fn forward(stdout: ChildStdout, tx: mpsc::Sender<String>) {
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        if tx.send(line).is_err() {
            break;
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
