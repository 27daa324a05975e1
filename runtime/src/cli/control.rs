//! `upstart pause|resume|rollback --server URL --key KEY [--rollout ID]`, signed with the
//! operator's key.

use super::{operator_client, CliResult};
use crate::client::Control;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The upgrade server, `http://HOST:PORT`.
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// The rollout (default: the current one).
    #[arg(long, value_name = "ID")]
    pub rollout: Option<u64>,
    /// The CA certificate (PEM) that signed the server's certificate, for `https://` servers.
    #[arg(long, value_name = "CA.pem")]
    pub ca: Option<PathBuf>,
    /// The operator's private key (default: the file `UPSTART_KEY` names).
    #[arg(long, value_name = "KEY")]
    pub key: Option<PathBuf>,
}

pub async fn run(args: &Args, what: Control) -> CliResult {
    let client = operator_client(&args.server, args.ca.as_deref(), args.key.as_deref())?;
    let r = client.control(args.rollout, what).await?;
    println!(
        "rollout {} ({} {} -> {}) is {}: {}",
        r.id, r.system, r.from, r.to, r.state, r.reason
    );
    Ok(())
}
