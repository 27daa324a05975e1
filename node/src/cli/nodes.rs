//! `upstart enroll --id ID --node-key NODE.pub --server URL --key KEY`: let a node in (its key
//! is `DATA/node.key.pub`, made by `upstart node` at its first start); `upstart nodes --server
//! URL`: the enrolled nodes; `upstart nodes remove ID --server URL --key KEY`: decommission
//! one (no rollout waits for it any more, and its key no longer speaks for it).

use super::{operator_client, CliResult};
use runtime::api::EnrolledNode;
use runtime::bundle::keys;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct EnrollArgs {
    /// The node's id (what it is started with: `upstart node --id ID`).
    #[arg(long, value_name = "ID")]
    pub id: String,
    /// The node's public key: `DATA/node.key.pub` of its agent.
    #[arg(long, value_name = "NODE.pub")]
    pub node_key: PathBuf,
    /// The upgrade server, `http://HOST:PORT`.
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// The operator's private key (default: the file `UPSTART_KEY` names).
    #[arg(long, value_name = "KEY")]
    pub key: Option<PathBuf>,
    /// The CA certificate (PEM) that signed the server's certificate, for `https://` servers.
    #[arg(long, value_name = "CA.pem")]
    pub ca: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct NodesArgs {
    #[command(subcommand)]
    pub command: Option<NodesCommand>,
    /// The upgrade server, `http://HOST:PORT`.
    #[arg(long, value_name = "URL", global = true)]
    pub server: Option<String>,
    /// The operator's private key (default: the file `UPSTART_KEY` names).
    #[arg(long, value_name = "KEY", global = true)]
    pub key: Option<PathBuf>,
    /// The CA certificate (PEM) that signed the server's certificate, for `https://` servers.
    #[arg(long, value_name = "CA.pem", global = true)]
    pub ca: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub enum NodesCommand {
    /// Decommission a node: its enrollment and record go; rollouts stop waiting for it.
    Remove {
        /// The node's id.
        id: String,
    },
}

pub async fn enroll(args: &EnrollArgs) -> CliResult {
    let public = keys::read_public_key(&args.node_key)?;
    let client = operator_client(&args.server, args.ca.as_deref(), args.key.as_deref())?;
    let n = client.enroll(&args.id, &public).await?;
    println!(
        "enrolled node `{}` with key {} (by operator key {})",
        n.id, n.key_id, n.enrolled_by
    );
    Ok(())
}

pub async fn nodes(args: &NodesArgs) -> CliResult {
    let server = args.server.as_deref().ok_or_else(|| {
        super::CliError("pass the upgrade server: `--server http://HOST:PORT`".into())
    })?;
    match &args.command {
        Some(NodesCommand::Remove { id }) => {
            let client = operator_client(server, args.ca.as_deref(), args.key.as_deref())?;
            let n = client.remove_node(id).await?;
            println!("removed node `{}` (key {})", n.id, n.key_id);
        }
        None => {
            let list = super::client(server, args.ca.as_deref())?.nodes().await?;
            print!("{}", render(&list));
        }
    }
    Ok(())
}

/// The table of enrolled nodes.
pub fn render(list: &[EnrolledNode]) -> String {
    use std::fmt::Write as _;
    let mut out = format!(
        "{:<20} {:<16}  {:>7}  {:<16} {:<16}\n",
        "NODE", "KEY", "VERSION", "PHASE", "ENROLLED BY"
    );
    for n in list {
        let (version, phase) = match &n.status {
            Some(s) => (s.version.to_string(), s.phase.as_str().to_string()),
            None => ("-".into(), "never heard from".into()),
        };
        let _ = writeln!(
            out,
            "{:<20} {:<16}  {:>7}  {:<16} {:<16}",
            n.id, n.key_id, version, phase, n.enrolled_by
        );
    }
    if list.is_empty() {
        out.push_str("no node is enrolled: enroll one with `upstart enroll`\n");
    }
    out
}
