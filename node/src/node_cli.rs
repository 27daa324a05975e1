//! `upstart node`: the command line of the node agent ([`crate::agent`]).
//!
//! ```sh
//! upstart node --id n1 --server http://127.0.0.1:7070 --trust ops.key.pub --system kv \
//!     --version 1 --binary ./kv-v1 --state n1/state.json --data n1/agent \
//!     --listen 127.0.0.1:7001 --listen 1@127.0.0.1:7101 \
//!     --peer 127.0.0.1:7002 --peer 127.0.0.1:7003
//! ```
//!
//! The program is started as `BINARY --listen 127.0.0.1:0 --state STATE --peer ROUTE...
//! [--program-arg ARG]...` and must print `listening ADDR` once it serves. The node takes part
//! in rollouts once an operator enrolled its key (`upstart enroll --id n1 --node-key
//! n1/agent/node.key.pub`); until then it serves its version.

use crate::agent::config::{AgentConfig, HealthConfig};
use runtime::cli::{CliError, CliResult};
use runtime::schedule::settings::duration_ms;
use shim::{Framing, ListenerConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The node's id in the upgrade database.
    #[arg(long, value_name = "ID")]
    pub id: String,
    /// The upgrade server, `http://HOST:PORT` or `https://HOST:PORT`.
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// The CA certificate (PEM) that signed the server's certificate, for an `https://` server.
    #[arg(long, value_name = "CA.pem")]
    pub server_ca: Option<PathBuf>,
    /// A public key bundles may be signed with (repeatable); the node checks every bundle
    /// itself.
    #[arg(long, value_name = "KEY.pub", required = true)]
    pub trust: Vec<PathBuf>,
    /// The `upgrade NAME` of the system the node runs.
    #[arg(long, value_name = "NAME")]
    pub system: String,
    /// The version the node runs when its agent first starts (later: the agent's record).
    #[arg(long, value_name = "N")]
    pub version: u64,
    /// The node program of that version.
    #[arg(long, value_name = "PATH")]
    pub binary: PathBuf,
    /// The program's persistent state (JSON), transformed at upgrades.
    #[arg(long, value_name = "PATH")]
    pub state: PathBuf,
    /// The agent's directory (its record, bundle store, installed programs, and the node's key
    /// `node.key`, made at the first start: an operator enrolls its `node.key.pub` with
    /// `upstart enroll`).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// A client port of the shim: `ADDR` (speaks the node's version; peers use the first) or
    /// `VERSION@ADDR` (pinned, for clients of that version). Repeatable.
    #[arg(long = "listen", value_name = "[V@]ADDR", value_parser = ListenerConfig::parse, required = true)]
    pub listen: Vec<ListenerConfig>,
    /// A peer's shim (its first client port). Repeatable.
    #[arg(long = "peer", value_name = "ADDR")]
    pub peers: Vec<SocketAddr>,
    /// An extra argument for the node program. Repeatable.
    #[arg(long = "program-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub program_args: Vec<String>,
    /// Runs the node program under this LD_PRELOAD library (`libupstart_preload.so`): the
    /// shim then hands same-version client connections to the program instead of copying them.
    #[arg(long, value_name = "LIB")]
    pub preload: Option<PathBuf>,
    /// The program's JSON-RPC framing: `lines` or `length`.
    #[arg(long, default_value = "lines")]
    pub framing: Framing,
    /// How long in-flight calls get to finish before the program stops for an upgrade.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub drain_grace: Duration,
    /// How long the program gets to exit after SIGTERM before SIGKILL.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub stop_timeout: Duration,
    /// How long a started program gets to print `listening ADDR`.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub start_timeout: Duration,
    /// The JSON-RPC method of the health probe (any answer, result or error, is healthy).
    #[arg(long, default_value = "get")]
    pub health_method: String,
    /// Its params (JSON).
    #[arg(long, default_value = r#"{"key":"upstart-health-probe"}"#, value_parser = parse_json)]
    pub health_params: serde_json::Value,
    /// The longest a poll of the server is held.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub poll_wait: Duration,
    /// Testing only: stop at this point of the state transform (`begun`, `backed-up`,
    /// `new-written`, `prepared`, `switched`, `done`), print `reached POINT` and wait to be
    /// killed.
    #[arg(long, hide = true, value_name = "POINT")]
    pub stop_at: Option<String>,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    duration_ms(text)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("`{text}` is not a duration such as `500ms` or `5s`"))
}

fn parse_json(text: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(text).map_err(|e| format!("`{text}` is not JSON: {e}"))
}

impl Args {
    pub fn config(&self) -> AgentConfig {
        AgentConfig {
            id: self.id.clone(),
            server: self.server.clone(),
            server_ca: self.server_ca.clone(),
            system: self.system.clone(),
            trust: self.trust.clone(),
            data: self.data.clone(),
            state: self.state.clone(),
            version: self.version,
            binary: self.binary.clone(),
            listeners: self.listen.clone(),
            peers: self.peers.clone(),
            program_args: self.program_args.clone(),
            preload: self.preload.clone(),
            framing: self.framing,
            drain_grace: self.drain_grace,
            stop_timeout: self.stop_timeout,
            start_timeout: self.start_timeout,
            health: HealthConfig {
                method: self.health_method.clone(),
                params: self.health_params.clone(),
                ..HealthConfig::default()
            },
            poll_wait: self.poll_wait,
            stop_at: self.stop_at.clone(),
        }
    }
}

pub async fn run(args: &Args) -> CliResult {
    if let Some(p) = &args.stop_at {
        if !runtime::transform::Point::ALL.iter().any(|x| x.name() == p) {
            return Err(CliError(format!(
                "`{p}` is not a point of the state transform"
            )));
        }
    }
    crate::agent::run(args.config()).await.map_err(CliError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_and_durations_parse() {
        let l = ListenerConfig::parse("2@127.0.0.1:7000").unwrap();
        assert_eq!(l.version, Some(2));
        assert_eq!(
            ListenerConfig::parse("127.0.0.1:7000").unwrap().version,
            None
        );
        assert!(ListenerConfig::parse("x@127.0.0.1:1")
            .unwrap_err()
            .contains("`x`"));
        assert!(ListenerConfig::parse("nowhere")
            .unwrap_err()
            .contains("`nowhere`"));
        assert_eq!(parse_duration("300ms").unwrap(), Duration::from_millis(300));
        assert!(parse_duration("soon").unwrap_err().contains("`soon`"));
    }
}
