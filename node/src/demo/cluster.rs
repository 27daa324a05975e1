//! A cluster on loopback as child processes: one `upstart server` and `upstart node` agents,
//! each running a key-value program behind its shim. Every process is stopped when its guard
//! drops (an agent with SIGTERM, so that it stops its program, then SIGKILL; the programs it
//! announced are killed too, in case the agent could not). Agents are enrolled with the server
//! as an operator would (`upstart enroll` with the key the agent made at its first start).
//! Used by the demo and the tests.

use crate::agent::config::DataDir;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A child process with its stdout lines (read by a thread), killed on drop.
#[derive(Debug)]
pub struct Proc {
    pub name: String,
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Every line read so far, with when.
    seen: Vec<(Instant, String)>,
    /// Sends SIGTERM first on drop.
    gentle: bool,
}

impl Proc {
    /// Spawns `cmd` with stdout piped; stderr goes to `stderr` (inherited when `None`).
    pub fn spawn(
        name: &str,
        cmd: &mut Command,
        stderr: Option<&Path>,
        gentle: bool,
    ) -> Result<Proc, String> {
        cmd.stdin(Stdio::null()).stdout(Stdio::piped());
        match stderr {
            Some(path) => {
                let f = std::fs::File::create(path)
                    .map_err(|e| format!("cannot create `{}`: {e}", path.display()))?;
                cmd.stderr(f);
            }
            None => {
                cmd.stderr(Stdio::inherit());
            }
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let (tx, lines) = mpsc::channel();
        if let Some(out) = child.stdout.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Ok(Proc {
            name: name.to_string(),
            child,
            lines,
            seen: Vec::new(),
            gentle,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Reads the lines printed since the last call.
    pub fn poll_lines(&mut self) -> Vec<String> {
        let new: Vec<String> = self.lines.try_iter().collect();
        let now = Instant::now();
        self.seen.extend(new.iter().map(|l| (now, l.clone())));
        new
    }

    /// Every line so far, with when it was read.
    pub fn seen(&mut self) -> &[(Instant, String)] {
        self.poll_lines();
        &self.seen
    }

    /// Waits (at most `wait`) for a line starting with `prefix`; its rest, trimmed. Lines
    /// read meanwhile are kept in [`Proc::seen`].
    pub fn wait_line(&mut self, prefix: &str, wait: Duration) -> Result<String, String> {
        let deadline = Instant::now() + wait;
        let already = self
            .seen
            .iter()
            .find_map(|(_, l)| l.strip_prefix(prefix).map(|r| r.trim().to_string()));
        if let Some(rest) = already {
            return Ok(rest);
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push((Instant::now(), line.clone()));
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return Ok(rest.trim().to_string());
                    }
                }
                Err(_) => {
                    let status = self.child.try_wait().ok().flatten();
                    return Err(format!(
                        "{} printed no `{prefix}` line within {} s (exit status: {status:?})",
                        self.name,
                        wait.as_secs()
                    ));
                }
            }
        }
    }

    /// Whether the process ended, and how.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGKILL now (a crash).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then SIGKILL after `grace`.
    pub fn terminate(&mut self, grace: Duration) {
        if self.exited().is_none() {
            signal(self.child.id(), "TERM");
            let deadline = Instant::now() + grace;
            while self.exited().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.kill();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.gentle {
            self.terminate(Duration::from_secs(5));
        } else {
            self.kill();
        }
    }
}

/// Sends `SIG<name>` to `pid` with the `kill` program.
pub fn signal(pid: u32, name: &str) {
    let _ = crate::agent::supervisor::kill_command(pid, name).status();
}

/// Free ports on 127.0.0.1 for the shims' client ports, which must be known before the agents
/// start (peers are given each other's) and stay the same when an agent restarts.
///
/// They are taken below the kernel's ephemeral range (`ip_local_port_range`): a port the OS
/// hands out for `bind(0)` or an outgoing `connect` can be taken by any connection of any
/// process between its release here and the agent's bind (a CI run lost a test to exactly
/// that), while ports below the range are only ever taken by explicit binds. Each candidate is
/// bound to check that it is free and held until all are chosen; the ports handed out stay
/// reserved for the life of the process, so concurrent clusters in one test binary, and an
/// agent restarted on its old port, never collide.
pub struct Ports {
    held: Vec<TcpListener>,
}

/// The ports handed out by this process.
static RESERVED: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());

impl Ports {
    pub fn new() -> Ports {
        Ports { held: Vec::new() }
    }

    pub fn take(&mut self) -> Result<SocketAddr, String> {
        let (low, high) = fixed_port_range();
        let span = u32::from(high - low) + 1;
        let mut reserved = RESERVED.lock().map_err(|_| "the port table is poisoned")?;
        // A start that differs per process and per call, so parallel test binaries spread out.
        let seed = std::process::id()
            .wrapping_mul(2_654_435_761)
            .wrapping_add(reserved.len() as u32 * 7919);
        for i in 0..span {
            let port = low + ((seed.wrapping_add(i)) % span) as u16;
            if reserved.contains(&port) {
                continue;
            }
            if let Ok(l) = TcpListener::bind(("127.0.0.1", port)) {
                let addr = l.local_addr().map_err(|e| e.to_string())?;
                reserved.push(port);
                self.held.push(l);
                return Ok(addr);
            }
        }
        Err(format!("no free port in {low}..={high}"))
    }
}

/// Ports outside the kernel's ephemeral range: the 8,000 below its start (or 20000..=27999
/// when the range cannot be read).
fn fixed_port_range() -> (u16, u16) {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .filter(|&low| low > 10_000)
        .unwrap_or(28_000);
    (ephemeral_low - 8_000, ephemeral_low - 1)
}

impl Default for Ports {
    fn default() -> Ports {
        Ports::new()
    }
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ports({})", self.held.len())
    }
}

/// `upstart server` as a child process.
#[derive(Debug)]
pub struct Server {
    pub proc: Proc,
    pub url: String,
    pub addr: SocketAddr,
    /// The operator's private key (its `.pub` is the server's `--operator-key`).
    pub operator: PathBuf,
}

impl Server {
    /// Starts `upstart server` on `addr` (port 0: any) with the database `db`, trusting
    /// bundles signed with `trust` and requests signed with the private key `operator`.
    pub fn start(
        upstart: &Path,
        db: &Path,
        trust: &Path,
        operator: &Path,
        addr: SocketAddr,
        log: Option<&Path>,
    ) -> Result<Server, String> {
        let mut cmd = Command::new(upstart);
        cmd.arg("server")
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--db")
            .arg(db)
            .arg("--trust")
            .arg(trust)
            .arg("--operator-key")
            .arg(runtime::bundle::keys::public_path(operator))
            .env("UPSTART_LOG", "info");
        let mut proc = Proc::spawn("the upgrade server", &mut cmd, log, true)?;
        let url = proc.wait_line("upstart server listening on ", Duration::from_secs(30))?;
        let addr = url
            .trim_start_matches("http://")
            .parse::<SocketAddr>()
            .map_err(|e| format!("the server printed `{url}`: {e}"))?;
        Ok(Server {
            proc,
            url,
            addr,
            operator: operator.to_path_buf(),
        })
    }

    /// `upstart enroll` of node `spec`, whose agent made its key at `DATA/node.key`.
    pub fn enroll(&self, upstart: &Path, spec: &NodeSpec) -> Result<(), String> {
        let public = runtime::bundle::keys::public_path(&spec.data().node_key());
        let out = Command::new(upstart)
            .args(["enroll", "--id", &spec.id, "--server", &self.url])
            .arg("--node-key")
            .arg(&public)
            .arg("--key")
            .arg(&self.operator)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run `upstart enroll`: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "`upstart enroll --id {}` failed: {}",
                spec.id,
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }
}

/// How to start one agent.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    pub id: String,
    pub dir: PathBuf,
    /// The shim's main port (what peers are given).
    pub main: SocketAddr,
    /// Ports pinned to versions, for clients.
    pub pinned: Vec<(u64, SocketAddr)>,
    pub peers: Vec<SocketAddr>,
    pub extra: Vec<String>,
    /// Environment variables of the agent's process.
    pub env: Vec<(String, String)>,
    /// The `upgrade NAME` of the system (`--system`) and the version its agent starts at.
    pub system: String,
    pub version: u64,
    /// The name of the state in the node's directory (`state.json`).
    pub state_file: String,
}

impl NodeSpec {
    pub fn state(&self) -> PathBuf {
        self.dir.join(&self.state_file)
    }

    /// The agent's directory (`--data`): its key, record, sockets and store.
    pub fn data(&self) -> DataDir {
        DataDir::new(&self.dir.join("agent"))
    }
}

/// `upstart node` as a child process.
#[derive(Debug)]
pub struct Agent {
    pub spec: NodeSpec,
    pub proc: Proc,
    /// The programs it announced (killed on drop too).
    pids: Vec<u32>,
    /// The id of the node's key, once it said it (`node key ID PATH`).
    pub key_id: String,
}

/// How agents are started: `upstart` runs them (`upstart node`), trusting bundles signed with
/// the key `trust` (`--trust`), running `binary` at the version they start at (`--binary`).
#[derive(Debug, Clone, Copy)]
pub struct Launch<'a> {
    pub upstart: &'a Path,
    pub trust: &'a Path,
    pub binary: &'a Path,
}

impl Agent {
    /// Starts the agent of `spec` as `launch` says (its output also to `log`), enrolls it with
    /// `server` once it has made its key, and waits until its program runs.
    pub fn start(
        launch: &Launch,
        server: &Server,
        spec: &NodeSpec,
        log: Option<&Path>,
    ) -> Result<Agent, String> {
        let mut agent = Agent::spawn(launch, &server.url, spec, log)?;
        let key = agent.proc.wait_line("node key ", Duration::from_secs(30))?;
        agent.key_id = key
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        server.enroll(launch.upstart, spec)?;
        agent.wait_program(Duration::from_secs(30))?;
        Ok(agent)
    }

    /// Starts the agent of `spec` polling the server at `server`, without waiting.
    pub fn spawn(
        launch: &Launch,
        server: &str,
        spec: &NodeSpec,
        log: Option<&Path>,
    ) -> Result<Agent, String> {
        std::fs::create_dir_all(&spec.dir)
            .map_err(|e| format!("cannot create `{}`: {e}", spec.dir.display()))?;
        let mut cmd = Command::new(launch.upstart);
        cmd.arg("node")
            .args([
                "--id",
                &spec.id,
                "--server",
                server,
                "--system",
                &spec.system,
                "--version",
                &spec.version.to_string(),
            ])
            .arg("--trust")
            .arg(launch.trust)
            .arg("--binary")
            .arg(launch.binary)
            .arg("--state")
            .arg(spec.state())
            .arg("--data")
            .arg(spec.data().root())
            .arg("--listen")
            .arg(spec.main.to_string());
        for (v, addr) in &spec.pinned {
            cmd.arg("--listen").arg(format!("{v}@{addr}"));
        }
        for p in &spec.peers {
            cmd.arg("--peer").arg(p.to_string());
        }
        cmd.args(&spec.extra)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .env(
                "UPSTART_LOG",
                std::env::var("UPSTART_LOG").unwrap_or_else(|_| "info".into()),
            );
        let proc = Proc::spawn(&format!("agent `{}`", spec.id), &mut cmd, log, true)?;
        Ok(Agent {
            spec: spec.clone(),
            proc,
            pids: Vec::new(),
            key_id: String::new(),
        })
    }

    /// Waits for the next `program PID ADDR version V` line; the program's version.
    pub fn wait_program(&mut self, wait: Duration) -> Result<u64, String> {
        let rest = self.proc.wait_line("program ", wait)?;
        let mut parts = rest.split_whitespace();
        if let Some(pid) = parts.next().and_then(|p| p.parse().ok()) {
            self.pids.push(pid);
        }
        Ok(rest
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    /// Every line printed so far.
    pub fn lines(&mut self) -> Vec<String> {
        let seen: Vec<String> = self.proc.seen().iter().map(|(_, l)| l.clone()).collect();
        for l in &seen {
            if let Some(pid) = l
                .strip_prefix("program ")
                .and_then(|r| r.split_whitespace().next())
                .and_then(|p| p.parse::<u32>().ok())
            {
                if !self.pids.contains(&pid) {
                    self.pids.push(pid);
                }
            }
        }
        seen
    }

    /// The port pinned to `version`.
    pub fn port(&self, version: u64) -> Option<SocketAddr> {
        self.spec
            .pinned
            .iter()
            .find(|(v, _)| *v == version)
            .map(|(_, a)| *a)
    }

    /// A crash: SIGKILL of the agent alone (its program, if any, is left running).
    pub fn crash(&mut self) {
        self.lines();
        self.proc.kill();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.lines();
        self.proc.terminate(Duration::from_secs(5));
        for pid in &self.pids {
            // Only if it still runs a program of ours; a reused id is someone else's.
            if std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains("--state"))
            {
                signal(*pid, "KILL");
            }
        }
    }
}

/// Specs of `n` nodes `n1..nN` under `dir`, each with a main port and ports pinned to
/// `versions`, each the peer of all others.
pub fn node_specs(dir: &Path, n: usize, versions: &[u64]) -> Result<Vec<NodeSpec>, String> {
    let mut ports = Ports::new();
    let mains: Vec<SocketAddr> = (0..n).map(|_| ports.take()).collect::<Result<_, _>>()?;
    let mut specs = Vec::new();
    for (i, main) in mains.iter().enumerate() {
        let pinned = versions
            .iter()
            .map(|&v| ports.take().map(|a| (v, a)))
            .collect::<Result<Vec<_>, _>>()?;
        specs.push(NodeSpec {
            id: format!("n{}", i + 1),
            dir: dir.join(format!("n{}", i + 1)),
            main: *main,
            pinned,
            peers: mains.iter().filter(|a| *a != main).copied().collect(),
            extra: Vec::new(),
            env: Vec::new(),
            system: "kv".into(),
            version: 1,
            state_file: "state.json".to_owned(),
        });
    }
    Ok(specs)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn ports_are_distinct_free_and_outside_the_ephemeral_range() {
        let (low, high) = fixed_port_range();
        let mut a = Ports::new();
        let mut b = Ports::new();
        let mut seen = Vec::new();
        for _ in 0..20 {
            seen.push(a.take().unwrap().port());
            seen.push(b.take().unwrap().port());
        }
        drop((a, b));
        // Released ports stay reserved: a later cluster does not get them again.
        let mut c = Ports::new();
        seen.push(c.take().unwrap().port());
        assert!(seen.iter().all(|p| (low..=high).contains(p)), "{seen:?}");
        let mut unique = seen.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), seen.len(), "{seen:?}");
    }
}
