//! What the end-to-end tests and the benchmark share: the kv plugins built from `specs/kv`
//! (with the compiler's library, into the cache `upstartc compile` uses), the LD_PRELOAD
//! library (built into its own target directory: the outer cargo holds the lock of the
//! workspace's), and a three-node cluster, each node a real `kv-vN` process behind its own shim.
#![allow(dead_code, clippy::expect_used, reason = "tests")]
#![allow(clippy::indexing_slicing, reason = "tests")]

use e2e::process::ChildGuard;
use e2e::rpc::{Client, Framing};
use serde_json::Value;
use shim::{ListenerConfig, Shim, ShimConfig};
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use upstart_plugin_host::{Chain, Expect, Plugin};

pub const WAIT: Duration = Duration::from_secs(20);

/// Builds the plugin of `specs/kv/{spec}.ups` (served from upstartc's cache when up to date).
fn kv_plugin(spec: &str) -> PathBuf {
    let path = upstart_test_support::specs_dir()
        .join("kv")
        .join(format!("{spec}.ups"));
    upstart_test_support::plugins::build(&path)
}

/// The plugin chain `kv` 1 -> 2 -> 3, loaded once per test binary.
pub fn chain() -> Arc<Chain> {
    static CHAIN: OnceLock<Arc<Chain>> = OnceLock::new();
    Arc::clone(CHAIN.get_or_init(|| {
        let expect = Expect {
            name: Some("kv".into()),
            ..Expect::default()
        };
        let plugins = ["kv-1-2", "kv-2-3"]
            .iter()
            .map(|s| Plugin::load(&kv_plugin(s), &expect).expect("the kv plugin loads"))
            .collect();
        Arc::new(Chain::new(plugins).expect("the kv plugins form a chain"))
    }))
}

/// The LD_PRELOAD library, built once per test binary.
pub fn preload_library() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let ws = upstart_test_support::repo_root();
        let target = ws.join("target").join("preload");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "--locked",
                "-p",
                "upstart-preload",
                "--manifest-path",
            ])
            .arg(ws.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .expect("cargo runs");
        assert!(
            out.status.success(),
            "building the preload library failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lib = target.join("debug").join("libupstart_preload.so");
        assert!(lib.is_file(), "no `{}`", lib.display());
        lib
    })
}

/// Client ports on 127.0.0.1 (chosen by the OS), one per entry: `Some(v)` pinned to version
/// `v`, `None` following the node's version.
pub fn loopback_listeners(versions: &[Option<u64>]) -> Vec<ListenerConfig> {
    versions
        .iter()
        .map(|&version| ListenerConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            version,
        })
        .collect()
}

/// A shim for `name` at `version` with client ports `versions` (see [`loopback_listeners`])
/// and its hand-off socket at `socket`.
pub fn handoff_config(
    name: &str,
    version: u64,
    versions: &[Option<u64>],
    socket: &Path,
) -> ShimConfig {
    let mut config = ShimConfig::new(name, version);
    config.listeners = loopback_listeners(versions);
    config.handoff = Some(socket.to_path_buf());
    config
}

/// A `kv` shim at `version` in front of the node at `node`, with client ports `versions` (see
/// [`loopback_listeners`]).
pub fn node_config(version: u64, node: SocketAddr, versions: &[Option<u64>]) -> ShimConfig {
    let mut config = ShimConfig::new("kv", version);
    config.node_addr = Some(node);
    config.listeners = loopback_listeners(versions);
    config
}

/// Starts the shim of `config` on `runtime`, translating with the kv plugins' [`chain`].
pub fn kv_shim(runtime: &tokio::runtime::Runtime, config: ShimConfig) -> Shim {
    runtime
        .block_on(Shim::start(config, Some(chain())))
        .expect("the shim starts")
}

/// The environment of a program under the LD_PRELOAD library that registers its listening
/// sockets at the shim's hand-off `socket`.
pub fn preload_env(socket: &Path) -> [(&'static str, String); 2] {
    [
        ("LD_PRELOAD", preload_library().display().to_string()),
        ("UPSTART_SHIM_HANDOFF", socket.display().to_string()),
    ]
}

/// A tokio runtime for the shims of a test.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Starts `kv-v{version}` with `args`; its listening address.
pub fn start_node(
    version: u64,
    state: &Path,
    args: &[String],
    env: &[(&str, String)],
) -> (ChildGuard, SocketAddr) {
    let bin = match version {
        1 => env!("CARGO_BIN_EXE_kv-v1"),
        2 => env!("CARGO_BIN_EXE_kv-v2"),
        _ => env!("CARGO_BIN_EXE_kv-v3"),
    };
    let mut command = Command::new(bin);
    command.arg("--state").arg(state).args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child =
        ChildGuard::spawn(&format!("kv-v{version}"), &mut command).expect("the node starts");
    let addr = child
        .line_after("listening", WAIT)
        .expect("the node listens");
    (child, addr.parse().expect("a socket address"))
}

/// How the nodes reach their peers' shims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerMode {
    /// Each node is given its shim's peer-route ports.
    Explicit,
    /// Each node is given its peers' real (shim) addresses and runs under the LD_PRELOAD library.
    Preload,
}

/// One node of a cluster: its process and its shim.
pub struct Member {
    pub version: u64,
    pub shim: Shim,
    pub node: ChildGuard,
    pub node_addr: SocketAddr,
    pub state: PathBuf,
}

impl Member {
    /// The shim's port for clients of `version`.
    pub fn port(&self, version: u64) -> SocketAddr {
        self.shim
            .addrs()
            .listeners
            .iter()
            .find(|(_, v)| *v == Some(version))
            .map(|(a, _)| *a)
            .expect("a port per version")
    }

    /// The shim's main port (the node's version; what peers are told).
    pub fn main(&self) -> SocketAddr {
        self.shim
            .addrs()
            .listeners
            .first()
            .map(|(a, _)| *a)
            .expect("a main port")
    }

    pub fn client(&self, version: u64) -> Client {
        Client::connect(self.port(version), Framing::Lines, WAIT).expect("the shim accepts")
    }
}

/// Three nodes at versions 1, 2 and 3, each behind its own shim, replicating to each other.
pub struct Cluster {
    pub members: Vec<Member>,
    pub dir: tempfile::TempDir,
    // Dropped last: the shims' tasks run on it.
    pub runtime: tokio::runtime::Runtime,
}

impl Cluster {
    pub fn start(mode: PeerMode) -> Cluster {
        let chain = chain();
        let runtime = runtime();
        let dir = tempfile::tempdir().expect("a temporary directory");
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        let shims: Vec<Shim> = (1..=3)
            .map(|version| {
                let mut config = ShimConfig::new("kv", version);
                config.listeners = loopback_listeners(&[None, Some(1), Some(2), Some(3)]);
                config.outbound = Some(any);
                runtime
                    .block_on(Shim::start(config, Some(Arc::clone(&chain))))
                    .expect("the shim starts")
            })
            .collect();
        let mains: Vec<SocketAddr> = shims.iter().map(|s| s.addrs().listeners[0].0).collect();
        let mut members = Vec::new();
        for (i, shim) in shims.into_iter().enumerate() {
            let version = i as u64 + 1;
            let others: Vec<SocketAddr> = mains
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, a)| *a)
                .collect();
            let mut env = Vec::new();
            let peers: Vec<SocketAddr> = match mode {
                PeerMode::Explicit => others
                    .iter()
                    .map(|remote| {
                        runtime
                            .block_on(shim.add_peer(any, *remote))
                            .expect("a peer route")
                    })
                    .collect(),
                PeerMode::Preload => {
                    let outbound = shim.addrs().outbound.expect("an outbound port");
                    env.push(("LD_PRELOAD", preload_library().display().to_string()));
                    env.push(("UPSTART_SHIM_OUTBOUND", outbound.to_string()));
                    let list: Vec<String> = others.iter().map(SocketAddr::to_string).collect();
                    env.push(("UPSTART_REDIRECT", list.join(",")));
                    others.clone()
                }
            };
            let args: Vec<String> = peers
                .iter()
                .flat_map(|p| ["--peer".to_string(), p.to_string()])
                .collect();
            let state = dir.path().join(format!("node-{version}.json"));
            let (node, node_addr) = start_node(version, &state, &args, &env);
            shim.set_node(node_addr);
            members.push(Member {
                version,
                shim,
                node,
                node_addr,
                state,
            });
        }
        Cluster {
            members,
            dir,
            runtime,
        }
    }

    pub fn member(&self, version: u64) -> &Member {
        &self.members[(version - 1) as usize]
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Nodes first (their guards kill them), then the shims, inside the runtime.
        let members = std::mem::take(&mut self.members);
        let _guard = self.runtime.enter();
        drop(members);
    }
}

/// A JSON value from text, for expectations.
pub fn j(text: &str) -> Value {
    serde_json::from_str(text).expect("valid JSON in a test")
}

/// Sends `requests` (one JSON-RPC request a line) on a new connection to `addr` in one write;
/// the connection, to read the answers from.
pub fn pipeline(addr: SocketAddr, requests: &[Value]) -> BufReader<TcpStream> {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(WAIT)).expect("a read timeout");
    let mut batch = String::new();
    for r in requests {
        batch.push_str(&r.to_string());
        batch.push('\n');
    }
    (&stream)
        .write_all(batch.as_bytes())
        .expect("send the requests");
    BufReader::new(stream)
}
