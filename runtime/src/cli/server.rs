//! `upstart server --db PATH --listen ADDR --trust KEY.pub`: run the upgrade server until
//! Ctrl-C or SIGTERM.

use super::{CliError, CliResult};
use crate::bundle::TrustedKeys;
use crate::server::{self, Config};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The upgrade database (SQLite; created if missing).
    #[arg(long, value_name = "PATH")]
    pub db: PathBuf,
    /// The address to listen on (port 0: any free port, printed at start).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7070")]
    pub listen: SocketAddr,
    /// A public key bundles may be signed with (repeatable).
    #[arg(long, value_name = "KEY.pub", required = true)]
    pub trust: Vec<PathBuf>,
    /// Where bundle files are stored (default: the database path + `.store`).
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Seconds without a heartbeat after which a node counts as offline.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub offline_after: u64,
}

pub async fn run(args: &Args) -> CliResult {
    let trust = TrustedKeys::from_files(&args.trust)?;
    let store = args
        .store
        .clone()
        .unwrap_or_else(|| crate::transform::fsutil::with_suffix(&args.db, ".store"));
    let mut config = Config::new(args.db.clone(), store, trust);
    config.offline_after_ms = args.offline_after.saturating_mul(1000);
    let handle = server::start(config, args.listen).await.map_err(CliError)?;
    println!("upstart server listening on http://{}", handle.addr);
    let _ = std::io::stdout().flush();
    shutdown_signal().await;
    tracing::info!("stopping");
    handle.stop().await;
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C (Ctrl-C only where there is no SIGTERM). The node agent waits
/// on it too.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
