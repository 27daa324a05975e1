//! `upstart-shim`: runs one shim in front of a node program until interrupted.
//!
//! ```sh
//! upstart-shim --name kv --node 127.0.0.1:7001 --node-version 2 \
//!     --listen 127.0.0.1:7000 --listen 1@127.0.0.1:7100 \
//!     --peer 127.0.0.1:7201=10.0.0.3:7000 --outbound 127.0.0.1:7300 \
//!     --handoff /run/kv/shim.sock --plugin kv-1-2.so --plugin kv-2-3.so
//! ```
//!
//! Prints one line per bound port on stdout (`listen ADDR version V|node`, `peer ADDR -> REMOTE`,
//! `outbound ADDR`), then `ready`; logs go to stderr (`RUST_LOG` filters them). Exit codes:
//! 0 after SIGINT/SIGTERM and a drain, 1 when it cannot start, 2 on usage errors.

use clap::Parser;
use shim::{Framing, Limits, ListenerConfig, ParamStyle, PeerRoute, Shim, ShimConfig};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use upstart_plugin_host::{Chain, Expect, Plugin};

#[derive(Debug, Parser)]
#[command(
    name = "upstart-shim",
    version,
    about = "The Upstart shim: version translation in front of a node program"
)]
struct Args {
    /// The upgrade's name (`upgrade NAME` of the specs).
    #[arg(long)]
    name: String,
    /// Where the node program listens.
    #[arg(long)]
    node: SocketAddr,
    /// The version the node program runs.
    #[arg(long)]
    node_version: u64,
    /// A port for clients: `ADDR` (the node's version) or `VERSION@ADDR`. Repeatable.
    #[arg(long = "listen", value_parser = ListenerConfig::parse)]
    listeners: Vec<ListenerConfig>,
    /// A route for the node's connections to a peer: `LOCAL=REMOTE_SHIM`. Repeatable.
    #[arg(long = "peer", value_parser = parse_peer)]
    peers: Vec<PeerRoute>,
    /// The port the LD_PRELOAD library redirects the node's connects to.
    #[arg(long)]
    outbound: Option<SocketAddr>,
    /// A Unix socket for the node program's LD_PRELOAD library (`UPSTART_SHIM_HANDOFF`): it
    /// registers the program's listening socket there, and same-version connections are then
    /// handed to the program instead of copied.
    #[arg(long, value_name = "PATH")]
    handoff: Option<PathBuf>,
    /// A plugin built by `upstartc compile`; several form a chain. Repeatable.
    #[arg(long = "plugin")]
    plugins: Vec<PathBuf>,
    /// The node's framing: `lines` or `length`.
    #[arg(long, default_value = "lines")]
    framing: Framing,
    /// The largest frame decoded, in bytes.
    #[arg(long, default_value_t = shim::DEFAULT_MAX_FRAME)]
    max_frame: usize,
    /// Connections served at once on each port; a newcomer to a full port takes the place of
    /// the oldest connection not answered yet.
    #[arg(long, default_value_t = shim::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Connections of peers' shims served at once (counted apart from clients).
    #[arg(long, default_value_t = shim::DEFAULT_PEER_CONNECTIONS)]
    peer_connections: usize,
    /// Deadline for a connection's first bytes, from accept (`500ms`, `10s`, `5m`).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    first_bytes_timeout: Duration,
    /// Deadline for one frame once its first byte came (slow senders are cut).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    frame_timeout: Duration,
    /// A connection with nothing to do for this long is closed.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    idle_timeout: Duration,
    /// The node's protocol may speak first: a caller silent for a moment is connected to the
    /// node anyway (otherwise a silent socket costs the node nothing).
    #[arg(long)]
    server_first: bool,
    /// Pass arguments to the node by position instead of by name.
    #[arg(long)]
    positional: bool,
    /// Seconds connections get to finish when stopping.
    #[arg(long, default_value_t = 5)]
    grace: u64,
}

/// `N` followed by `ms`, `s` or `m`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("`{text}` is not a duration such as `500ms`, `10s` or `5m`");
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let n: u64 = number.parse().map_err(|_| bad())?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
        _ => Err(bad()),
    }
}

fn parse_peer(text: &str) -> Result<PeerRoute, String> {
    let (local, remote) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not LOCAL=REMOTE"))?;
    Ok(PeerRoute {
        listen: local
            .parse()
            .map_err(|_| format!("`{local}` is not a socket address"))?,
        remote: remote
            .parse()
            .map_err(|_| format!("`{remote}` is not a socket address"))?,
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(run(args))
}

async fn run(args: Args) -> ExitCode {
    let chain = match load_chain(&args.name, &args.plugins) {
        Ok(chain) => chain,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let mut config = ShimConfig::new(args.name, args.node_version);
    config.node_addr = Some(args.node);
    config.listeners = args.listeners;
    config.peers = args.peers;
    config.outbound = args.outbound;
    config.handoff = args.handoff;
    config.framing = args.framing;
    config.max_frame = args.max_frame;
    config.limits = Limits {
        max_connections: args.max_connections,
        peer_connections: args.peer_connections,
        first_bytes_timeout: args.first_bytes_timeout,
        frame_timeout: args.frame_timeout,
        idle_timeout: args.idle_timeout,
        server_first: args.server_first,
    };
    match shim::raise_fd_limit() {
        Ok(l) if l.after > l.before => {
            tracing::info!("open file limit raised from {} to {}", l.before, l.after)
        }
        Ok(_) => {}
        Err(e) => tracing::warn!("cannot raise the open file limit: {e}"),
    }
    if args.positional {
        config.node_params = ParamStyle::ByPosition;
    }
    let shim = match Shim::start(config, chain).await {
        Ok(shim) => shim,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    print_addrs(&shim);
    wait_for_signal().await;
    let report = shim.shutdown(Duration::from_secs(args.grace)).await;
    tracing::info!(?report, "stopped");
    ExitCode::SUCCESS
}

fn load_chain(name: &str, paths: &[PathBuf]) -> Result<Option<Arc<Chain>>, String> {
    if paths.is_empty() {
        return Ok(None);
    }
    let expect = Expect {
        name: Some(name.to_string()),
        ..Expect::default()
    };
    let plugins = paths
        .iter()
        .map(|p| Plugin::load(p, &expect).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let chain = Chain::new(plugins).map_err(|e| e.to_string())?;
    Ok(Some(Arc::new(chain)))
}

fn print_addrs(shim: &Shim) {
    let addrs = shim.addrs();
    let mut out = std::io::stdout().lock();
    for (addr, version) in &addrs.listeners {
        let v = version.map_or_else(|| "node".to_string(), |v| v.to_string());
        let _ = writeln!(out, "listen {addr} version {v}");
    }
    for (addr, route) in &addrs.peers {
        let _ = writeln!(out, "peer {addr} -> {route}");
    }
    if let Some(addr) = addrs.outbound {
        let _ = writeln!(out, "outbound {addr}");
    }
    let _ = writeln!(out, "ready");
    let _ = out.flush();
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = term.recv() => {},
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
