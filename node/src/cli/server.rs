//! `upstart server --db PATH --listen ADDR --trust KEY.pub --operator-key OPS.pub`: run the
//! upgrade server until Ctrl-C or SIGTERM.

use super::CliResult;
use runtime::bundle::TrustedKeys;
use runtime::server::{self, Config};
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
    /// An operator's public key (repeatable): requests that push, start, pause, resume, roll
    /// back, enroll or remove must be signed with one of them.
    #[arg(long, value_name = "OPS.pub", required = true)]
    pub operator_key: Vec<PathBuf>,
    /// The largest bundle upload, in bytes (`K`, `M`, `G` suffixes for KiB, MiB, GiB); larger
    /// uploads are refused before they are read.
    #[arg(long, value_name = "SIZE", default_value = "2G", value_parser = parse_size)]
    pub max_upload: u64,
    /// Serve HTTPS with this certificate chain (PEM); needs `--tls-key`.
    #[arg(long, value_name = "CERT.pem", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of `--tls-cert`.
    #[arg(long, value_name = "KEY.pem", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Seconds a signed request's timestamp may be off the server's clock.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub clock_skew: u64,
    /// Seconds without a heartbeat after which a node counts as offline.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub offline_after: u64,
}

pub async fn run(args: &Args) -> CliResult {
    let trust = TrustedKeys::from_files(&args.trust)?;
    let store = args
        .store
        .clone()
        .unwrap_or_else(|| runtime::transform::fsutil::with_suffix(&args.db, ".store"));
    let mut config = Config::new(args.db.clone(), store, trust);
    config.offline_after_ms = args.offline_after.saturating_mul(1000);
    config.operators = TrustedKeys::from_files(&args.operator_key)?;
    config.clock_skew_ms = args.clock_skew.saturating_mul(1000);
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        config.tls = Some(runtime::server::tls::TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        });
    }
    // The files together take what is left of the upload after the header.
    config.limits.max_total = args
        .max_upload
        .saturating_sub(config.limits.max_container() - config.limits.max_total);
    config.limits.max_file = config.limits.max_file.min(config.limits.max_total);
    let handle = server::start(config, args.listen).await?;
    println!("upstart server listening on {}", handle.url());
    let _ = std::io::stdout().flush();
    shutdown_signal().await;
    tracing::info!("stopping");
    handle.stop().await;
    Ok(())
}

/// `123`, `64K`, `512M`, `2G` (powers of 1024) as bytes.
fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (digits, shift) = match t.char_indices().last() {
        Some((i, 'K' | 'k')) => (t.get(..i).unwrap_or(""), 10),
        Some((i, 'M' | 'm')) => (t.get(..i).unwrap_or(""), 20),
        Some((i, 'G' | 'g')) => (t.get(..i).unwrap_or(""), 30),
        _ => (t, 0),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1u64 << shift))
        .ok_or_else(|| format!("`{text}` is not a size such as `512M` or `2G`"))
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
