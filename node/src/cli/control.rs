//! `upstart pause|resume|rollback --server URL --key KEY [--rollout ID] [--discard-writes]`,
//! signed with the operator's key.

use super::{operator_client, CliError, CliResult};
use runtime::client::Control;
use std::path::PathBuf;

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
    /// The CA certificate (PEM) that signed the server's certificate, for `https://` servers.
    #[arg(long, value_name = "CA.pem")]
    pub ca: Option<PathBuf>,
    /// The operator's private key (default: the file `UPSTART_KEY` names).
    #[arg(long, value_name = "KEY")]
    pub key: Option<PathBuf>,
}

pub async fn run(args: &Args, what: Control) -> CliResult {
    if args.discard_writes && what != Control::Rollback {
        return Err(CliError(
            "`--discard-writes` goes with `upstart rollback` only".into(),
        ));
    }
    let client = operator_client(&args.server, args.ca.as_deref(), args.key.as_deref())?;
    let r = client
        .control_with(args.rollout, what, args.discard_writes)
        .await?;
    println!(
        "rollout {} ({} {} -> {}) is {}: {}",
        r.id, r.system, r.from, r.to, r.state, r.reason
    );
    Ok(())
}
