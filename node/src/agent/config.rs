//! What a node agent is told ([`AgentConfig`], from `upstart node`'s command line) and what it
//! remembers across restarts ([`Persisted`]: `DATA/agent.json`, replaced atomically and
//! durably before every step that a crash must be able to resume from), and the node's own key
//! (`DATA/node.key`, made at the first start; an operator enrolls its `.pub` with the server).

use runtime::bundle::{keys, BundleError, HealthProbe, ProgramSpec};
use runtime::transform::fsutil::{atomic_write, read_if_exists};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shim::{Framing, ListenerConfig};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Everything the agent needs to run one node.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// The node's id in the upgrade database.
    pub id: String,
    /// The upgrade server, `http://HOST:PORT` or `https://HOST:PORT`.
    pub server: String,
    /// The CA certificate (PEM) the server's certificate must be signed by (HTTPS).
    pub server_ca: Option<PathBuf>,
    /// The `upgrade NAME` of the system the node runs.
    pub system: String,
    /// Public keys bundles must be signed with (the node's own trust, not the server's word).
    pub trust: Vec<PathBuf>,
    /// The agent's directory: `agent.json`, the bundle store, installed binaries.
    pub data: PathBuf,
    /// The node program's persistent state (a JSON document).
    pub state: PathBuf,
    /// The version the node runs when the agent starts for the first time.
    pub version: u64,
    /// The node program of that version (`None`: `exec` names it).
    pub binary: Option<PathBuf>,
    /// The program's command-line template (`upstart node --exec`, see
    /// `runtime::bundle::exec`), for every version whose bundle declares none; `None`: the
    /// `--binary` convention.
    pub exec: Option<String>,
    /// The signal that asks the program to stop (`TERM`, `INT`, ...), for every version whose
    /// bundle declares none.
    pub stop_signal: String,
    /// The shim's client ports (`version: None` follows the node's version).
    pub listeners: Vec<ListenerConfig>,
    /// The peers' shims (their main client ports).
    pub peers: Vec<SocketAddr>,
    /// Arguments given to the node program after the ones the agent passes.
    pub program_args: Vec<String>,
    /// The LD_PRELOAD library (`libupstart_preload.so`) to run the program under: it registers
    /// the program's listening socket with the shim, which then hands same-version client
    /// connections to the program instead of copying them.
    pub preload: Option<PathBuf>,
    /// The node program's JSON-RPC framing.
    pub framing: Framing,
    /// The shim's bounds on connections.
    pub limits: shim::Limits,
    /// How long in-flight calls get to finish before an upgrade stops the program.
    pub drain_grace: Duration,
    /// How long the program gets to exit after its stop signal before SIGKILL.
    pub stop_timeout: Duration,
    /// How long a started program gets to be ready (say where it listens, or accept on the
    /// port its template gave it).
    pub start_timeout: Duration,
    /// The health probe.
    pub health: HealthConfig,
    /// The longest a poll of the server is held (long poll).
    pub poll_wait: Duration,
    /// Testing only: at this durable point of the state transform, print `reached POINT` and
    /// wait to be killed.
    pub stop_at: Option<String>,
    /// Testing only: the shim's peer routes take fault commands on [`DataDir::fault_socket`]
    /// (`upstart node --test-faults`, with `UPSTART_TEST_FAULTS=1`).
    pub test_faults: bool,
}

/// The health probe: a TCP connection to the program and one JSON-RPC call that must be
/// answered with a result (or with an error, when `errors_healthy`: it proves the program
/// reads and answers, not that it works).
#[derive(Debug, Clone, PartialEq)]
pub struct HealthConfig {
    pub method: String,
    pub params: Value,
    /// Whether an error answer counts as healthy.
    pub errors_healthy: bool,
    /// Bound on connecting and on the answer.
    pub timeout: Duration,
    /// Time between probes while serving and while checking a new version.
    pub interval: Duration,
}

impl HealthConfig {
    /// This probe with what a bundle declares (`None`: unchanged).
    pub fn with(&self, declared: Option<&HealthProbe>) -> HealthConfig {
        match declared {
            Some(p) => HealthConfig {
                method: p.method.clone(),
                params: p.params.clone(),
                errors_healthy: p.errors_healthy,
                ..self.clone()
            },
            None => self.clone(),
        }
    }
}

impl Default for HealthConfig {
    fn default() -> HealthConfig {
        HealthConfig {
            method: "get".into(),
            params: serde_json::json!({"key": "upstart-health-probe"}),
            errors_healthy: false,
            timeout: Duration::from_secs(2),
            interval: Duration::from_millis(250),
        }
    }
}

/// The format of `agent.json` this agent writes and reads.
pub const PERSISTED_FORMAT: u32 = 1;

/// What the agent remembers: the version it runs, its binaries, its loaded bundles, and the
/// upgrade in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Persisted {
    pub format: u32,
    /// The version the node runs (or ran before the upgrade in progress).
    pub version: u64,
    /// The node program that runs each version on this node: the one it started with, and for
    /// a version reached by an upgrade, the program of the bundle that brought it (set when that
    /// upgrade begins, so a rollback goes back to what really ran before).
    pub binaries: BTreeMap<u64, PathBuf>,
    /// The node program of each fetched bundle, by bundle id (a content hash): two bundles of
    /// one version never share a program.
    #[serde(default)]
    pub programs: BTreeMap<String, PathBuf>,
    /// The bundles whose plugins are loaded into the shim, by id.
    pub bundles: Vec<String>,
    /// The upgrade in progress, if any.
    pub upgrade: Option<InProgress>,
    /// The process id of the running program: after a crash of the agent, an orphan left
    /// running is stopped before anything touches the state.
    pub program_pid: Option<u32>,
    /// The binary of that program (it may be the new version's, started before the upgrade was
    /// recorded as done).
    #[serde(default)]
    pub program_binary: Option<PathBuf>,
    /// When that program started (clock ticks since boot): an orphan is the process with its
    /// id and this start time, whatever it `exec`ed since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program_started: Option<u64>,
    /// The upgrade that failed on this node: it is not tried again while its rollout lasts.
    #[serde(default)]
    pub failed: Option<Failed>,
    /// The release number of the bundle whose program runs each version on this node (set
    /// when that upgrade begins; a version the node started with has none: release 0).
    #[serde(default)]
    pub releases: BTreeMap<u64, u64>,
    /// What the bundle that installed each version says about running its program (its
    /// health probe), set when that upgrade begins; a version the node started with has none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub launches: BTreeMap<u64, ProgramSpec>,
}

/// A failed upgrade, by the rollout that asked for it (`None`: unknown, the server was
/// unreachable) and the assignment (the attempt) it failed in: a new attempt of the same
/// rollout (after `upstart resume`) is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failed {
    pub rollout: Option<u64>,
    #[serde(default)]
    pub attempt: Option<u64>,
}

/// An upgrade that began: enough to finish it or undo it after a crash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InProgress {
    pub bundle: String,
    pub from: u64,
    pub to: u64,
    /// The last step begun.
    pub step: Step,
}

/// The steps of an upgrade that change something on disk or in the process tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The shim drains and the old program stops; the state is untouched.
    Stopping,
    /// The state transform may have begun: only the transform's journal says how far.
    Transforming,
    /// The state is transformed; the new program starts and is health-checked.
    Starting,
    /// Going back to `from` (after a failure, or the rollout's rollback): the program stops
    /// and the state is brought back (the transform's journal says how far a reverse got).
    RollingBack,
}

impl Persisted {
    /// A fresh record: `version` run by `binary`.
    pub fn new(version: u64, binary: &Path) -> Persisted {
        Persisted {
            format: PERSISTED_FORMAT,
            version,
            binaries: BTreeMap::from([(version, binary.to_path_buf())]),
            programs: BTreeMap::new(),
            bundles: Vec::new(),
            upgrade: None,
            program_pid: None,
            program_binary: None,
            program_started: None,
            failed: None,
            releases: BTreeMap::new(),
            launches: BTreeMap::new(),
        }
    }

    /// The release of the bundle that installed the version the node runs (0: none did).
    pub fn release(&self) -> u64 {
        self.releases.get(&self.version).copied().unwrap_or(0)
    }

    /// Refuses release `release` of `spec` unless it is newer than the one the node runs:
    /// a validly signed but older bundle replayed by the server is a downgrade.
    pub fn check_release(&self, spec: &str, release: u64) -> Result<(), String> {
        let running = self.release();
        if release > running {
            return Ok(());
        }
        Err(BundleError::NotNewer {
            spec: spec.to_string(),
            release,
            newest: running,
            holder: "the one this node runs",
        }
        .to_string())
    }

    /// The record at `path`, `None` when there is none.
    pub fn read(path: &Path) -> Result<Option<Persisted>, String> {
        let Some(bytes) =
            read_if_exists(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?
        else {
            return Ok(None);
        };
        let p: Persisted = serde_json::from_slice(&bytes).map_err(|e| {
            format!(
                "`{}` does not decode ({e}); it was not written by this agent",
                path.display()
            )
        })?;
        if p.format != PERSISTED_FORMAT {
            return Err(format!(
                "`{}` is of format {}, this agent reads format {PERSISTED_FORMAT}",
                path.display(),
                p.format
            ));
        }
        Ok(Some(p))
    }

    /// Replaces the record at `path` atomically and durably.
    pub fn write(&self, path: &Path) -> Result<(), String> {
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| format!("cannot encode the agent's record: {e}"))?;
        atomic_write(path, &bytes).map_err(|e| format!("cannot write `{}`: {e}", path.display()))
    }

    /// The program of bundle `id`.
    pub fn program(&self, id: &str) -> Result<&Path, String> {
        self.programs
            .get(id)
            .map(PathBuf::as_path)
            .ok_or_else(|| format!("the program of bundle `{id}` is not installed"))
    }

    /// The binary of `version`.
    pub fn binary(&self, version: u64) -> Result<&Path, String> {
        self.binaries
            .get(&version)
            .map(PathBuf::as_path)
            .ok_or_else(|| format!("no node program of version {version} is installed"))
    }
}

/// The files under the agent's directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: &Path) -> DataDir {
        DataDir {
            root: root.to_path_buf(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `agent.lock`: held (`flock`) by the one agent of this directory, and naming its pid.
    pub fn lock(&self) -> PathBuf {
        self.root.join("agent.lock")
    }

    /// The node's private key (`node.key.pub` beside it).
    pub fn node_key(&self) -> PathBuf {
        self.root.join("node.key")
    }

    /// `agent.json`.
    pub fn record(&self) -> PathBuf {
        self.root.join("agent.json")
    }

    /// The shim's test fault control socket (`--test-faults`).
    pub fn fault_socket(&self) -> PathBuf {
        self.root.join("faults.sock")
    }

    /// The shim's hand-off socket, for the program's LD_PRELOAD library.
    pub fn handoff_socket(&self) -> PathBuf {
        self.root.join("shim.sock")
    }

    /// The bundle store.
    pub fn store(&self) -> PathBuf {
        self.root.join("store")
    }

    /// A directory the program may keep files in (`{data}` of a command template), the same
    /// for every version.
    pub fn program_data(&self) -> PathBuf {
        self.root.join("program")
    }

    /// Where the release directory of bundle `id` is unpacked.
    pub fn release(&self, bundle: &str) -> PathBuf {
        self.root.join("release").join(bundle_dir(bundle))
    }

    /// Where the node program of bundle `id` is installed.
    pub fn binary(&self, bundle: &str, name: &str) -> PathBuf {
        self.root.join("bin").join(bundle_dir(bundle)).join(name)
    }
}

/// The directory of a bundle under `release/` and `bin/`: the first 16 characters of its id.
fn bundle_dir(bundle: &str) -> String {
    bundle.chars().take(16).collect()
}

/// The node's key: read from `DATA/node.key`, or made there (mode 0600, with `node.key.pub`)
/// at the first start.
pub fn node_key(data: &DataDir) -> Result<keys::SigningKey, String> {
    let path = data.node_key();
    if path.exists() {
        return keys::read_signing_key(&path).map_err(|e| e.to_string());
    }
    let key = keys::generate().map_err(|e| e.to_string())?;
    keys::write_pair(&key, &path, false).map_err(|e| e.to_string())?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_round_trips_and_refuses_other_formats() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.json");
        assert_eq!(Persisted::read(&path).unwrap(), None);
        let mut p = Persisted::new(1, Path::new("/bin/kv-v1"));
        p.upgrade = Some(InProgress {
            bundle: "b".into(),
            from: 1,
            to: 2,
            step: Step::Transforming,
        });
        p.write(&path).unwrap();
        assert_eq!(Persisted::read(&path).unwrap(), Some(p.clone()));
        assert_eq!(p.binary(1).unwrap(), Path::new("/bin/kv-v1"));
        assert!(p.binary(2).unwrap_err().contains("version 2"));
        std::fs::write(&path, br#"{"format": 9}"#).unwrap();
        assert!(Persisted::read(&path).is_err());
    }

    #[test]
    fn releases_only_move_forward() {
        let mut p = Persisted::new(1, Path::new("/bin/kv-v1"));
        assert!(p.check_release("kv", 1).is_ok(), "a first release");
        p.releases.insert(2, 5);
        p.version = 2;
        let e = p.check_release("kv", 5).unwrap_err();
        assert!(
            e.starts_with("release 5 of `kv` is not newer than release 5, the one this node runs"),
            "{e}"
        );
        assert!(p.check_release("kv", 4).is_err());
        assert!(p.check_release("kv", 6).is_ok());
    }

    #[test]
    fn the_node_key_is_made_once() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        let a = node_key(&data).unwrap();
        let b = node_key(&data).unwrap();
        assert_eq!(a.to_bytes(), b.to_bytes());
        assert!(keys::public_path(&data.node_key()).exists());
    }
}
