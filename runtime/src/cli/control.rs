//! `upstart pause|resume|rollback --server URL [--rollout ID]`.

use super::CliResult;
use crate::client::{Client, Control};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The upgrade server, `http://HOST:PORT`.
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// The rollout (default: the current one).
    #[arg(long, value_name = "ID")]
    pub rollout: Option<u64>,
}

pub async fn run(args: &Args, what: Control) -> CliResult {
    let client = Client::new(&args.server)?;
    let r = client.control(args.rollout, what).await?;
    println!(
        "rollout {} ({} {} -> {}) is {}: {}",
        r.id, r.system, r.from, r.to, r.state, r.reason
    );
    Ok(())
}
