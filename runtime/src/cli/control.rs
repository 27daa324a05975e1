//! `upstart pause|resume|rollback --server URL [--rollout ID] [--discard-writes]`.

use super::{CliError, CliResult};
use crate::client::{Client, Control};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The upgrade server, `http://HOST:PORT`.
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// The rollout (default: the current one).
    #[arg(long, value_name = "ID")]
    pub rollout: Option<u64>,
    /// `rollback` only: also send back nodes whose new version accepted writes that the spec
    /// has no reverse transform for; those writes are dropped from the state (each node keeps
    /// the state it replaces on disk, `STATE.v<VERSION>.<TIME>`).
    #[arg(long)]
    pub discard_writes: bool,
}

pub async fn run(args: &Args, what: Control) -> CliResult {
    let client = Client::new(&args.server)?;
    if args.discard_writes && what != Control::Rollback {
        return Err(CliError(
            "`--discard-writes` goes with `upstart rollback` only".into(),
        ));
    }
    let r = client
        .control_with(args.rollout, what, args.discard_writes)
        .await?;
    println!(
        "rollout {} ({} {} -> {}) is {}: {}",
        r.id, r.system, r.from, r.to, r.state, r.reason
    );
    Ok(())
}
