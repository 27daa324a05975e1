//! `upstart push BUNDLE --server URL`: upload a bundle (the server verifies it against its
//! trusted keys) and start its rollout.

use super::{CliError, CliResult};
use crate::client::Client;
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
}

pub async fn run(args: &Args) -> CliResult {
    let client = Client::new(&args.server)?;
    let bytes = tokio::fs::read(&args.bundle)
        .await
        .map_err(|e| CliError(format!("cannot read `{}`: {e}", args.bundle.display())))?;
    let info = client.push(bytes).await?;
    println!(
        "pushed bundle {}: {} {} -> {}, signed by key {}",
        info.id, info.spec, info.from, info.to, info.key_id
    );
    if args.no_start {
        return Ok(());
    }
    let r = client.start_rollout(&info.id, args.seed).await?;
    println!("rollout {} is {}: {}", r.id, r.state, r.schedule);
    println!("follow it with `upstart status --server {}`", client.base());
    Ok(())
}
