//! `upstart push BUNDLE --server URL --key KEY`: upload a bundle (the server verifies it
//! against its trusted keys, and that its release is newer than the newest it accepted) and
//! start its rollout, signed with the operator's key.

use super::{operator_client, CliError, CliResult};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The bundle file (from `upstart bundle`).
    pub bundle: PathBuf,
    /// The upgrade server, `http://HOST:PORT`.
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// Only upload the bundle; start no rollout.
    #[arg(long)]
    pub no_start: bool,
    /// The seed of `order: random` (the server picks one otherwise).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The CA certificate (PEM) that signed the server's certificate, for `https://` servers.
    #[arg(long, value_name = "CA.pem")]
    pub ca: Option<PathBuf>,
    /// The operator's private key (default: the file `UPSTART_KEY` names).
    #[arg(long, value_name = "KEY")]
    pub key: Option<PathBuf>,
    /// Accept a release not newer than the newest the server holds (the server logs it).
    #[arg(long)]
    pub allow_downgrade: bool,
}

pub async fn run(args: &Args) -> CliResult {
    let client = operator_client(&args.server, args.ca.as_deref(), args.key.as_deref())?;
    let bytes = tokio::fs::read(&args.bundle)
        .await
        .map_err(|e| CliError(format!("cannot read `{}`: {e}", args.bundle.display())))?;
    let info = client.push(bytes, args.allow_downgrade).await?;
    println!(
        "pushed bundle {}: {} {} -> {} release {}, signed by key {}",
        info.id, info.spec, info.from, info.to, info.release, info.key_id
    );
    if args.no_start {
        return Ok(());
    }
    let r = client.start_rollout(&info.id, args.seed).await?;
    println!("rollout {} is {}: {}", r.id, r.state, r.schedule);
    println!("follow it with `upstart status --server {}`", client.base());
    Ok(())
}
