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
//! [--program-arg ARG]...` and must print `listening ADDR` once it serves; or, with `--exec
//! TEMPLATE`, with its own command line (`python3 app.py --port {port} --state {state}
//! {peers:--peer %}`), ready when it accepts connections on the port the agent chose. The node takes part
//! in rollouts once an operator enrolled its key (`upstart enroll --id n1 --node-key
//! n1/agent/node.key.pub`); until then it serves its version.

use crate::agent::config::{AgentConfig, HealthConfig};
use crate::cli::{parse_json, CliError, CliResult};
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
    /// The node program of that version (`{program}` of `--exec`). Without `--exec` it is
    /// started as `PATH --listen 127.0.0.1:0 --state STATE --peer ROUTE... ARGS` and must print
    /// `listening ADDR`.
    #[arg(long, value_name = "PATH", required_unless_present = "exec")]
    pub binary: Option<PathBuf>,
    /// The program's own command line, a template: `'python3 app.py --port {port} --state
    /// {state} {peers:--peer %}'`. Placeholders: {port}, {host}, {addr}, {state}, {data},
    /// {program}, {release}, {peers} (comma-separated) and {peers:WORDS} (WORDS per peer, `%`
    /// the peer); `{{` is a `{`. The program is ready when it accepts connections on {port}.
    /// A bundle may declare its own for its version (`upstart bundle --exec`).
    #[arg(long, value_name = "TEMPLATE", value_parser = parse_exec)]
    pub exec: Option<String>,
    /// The signal that asks the program to stop (`TERM`, `INT`, `QUIT`, `HUP`, `USR1`, `USR2`,
    /// `KILL`); SIGKILL follows after `--stop-timeout`.
    #[arg(long, value_name = "SIGNAL", default_value = "TERM", value_parser = runtime::bundle::program::parse_signal)]
    pub stop_signal: String,
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
    /// Connections the shim serves at once on each port; a newcomer to a full port takes the
    /// place of the oldest connection not answered yet.
    #[arg(long, value_name = "N", default_value_t = shim::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Connections of peers' shims served at once, counted apart from clients.
    #[arg(long, value_name = "N", default_value_t = shim::DEFAULT_PEER_CONNECTIONS)]
    pub peer_connections: usize,
    /// Deadline for a client's or peer's first bytes, from accept.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub first_bytes_timeout: Duration,
    /// Deadline for one request frame once its first byte came (slow senders are cut).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub frame_timeout: Duration,
    /// A connection with nothing to do for this long is closed.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub idle_timeout: Duration,
    /// The program's protocol may speak first (a greeting): a caller silent for a moment is
    /// connected to the program anyway (otherwise a silent socket costs the program nothing).
    #[arg(long)]
    pub server_first: bool,
    /// How long in-flight calls get to finish before the program stops for an upgrade.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub drain_grace: Duration,
    /// How long the program gets to exit after its stop signal before SIGKILL (the grace).
    #[arg(long, visible_alias = "stop-grace", value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub stop_timeout: Duration,
    /// How long a started program gets to be ready: print `listening ADDR`, or with `--exec`
    /// accept connections on its port.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub start_timeout: Duration,
    /// The JSON-RPC method of the health probe (a bundle may declare its own for its version:
    /// `upstart bundle --health-method`).
    #[arg(long, default_value = "get")]
    pub health_method: String,
    /// Its params (JSON).
    #[arg(long, default_value = r#"{"key":"upstart-health-probe"}"#, value_parser = parse_json)]
    pub health_params: serde_json::Value,
    /// What an error answer to the probe counts as: `unhealthy` (only a result is healthy) or
    /// `healthy` (any answer proves the program serves).
    #[arg(long, value_name = "HEALTHY|UNHEALTHY", default_value = "unhealthy", value_parser = runtime::bundle::program::parse_errors)]
    pub health_errors: bool,
    /// The longest a poll of the server is held.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub poll_wait: Duration,
    /// Testing only: stop at this point of an upgrade (`drained`, `stopped`, the state
    /// transform's `begun`, `backed-up`, `new-written`, `prepared`, `switched`, `done`, then
    /// `started`, `healthy`) or a rollback (`rollback-stopped`, `reverse-` and a transform
    /// point), print `reached POINT` and wait to be killed.
    #[arg(long, hide = true, value_name = "POINT")]
    pub stop_at: Option<String>,
    /// Testing only (`upstart test`): the shim takes commands that delay or cut its peer
    /// routes, on the Unix socket `DATA/faults.sock` (mode 0600, callers of the agent's own
    /// user only). Refused unless the environment also says `UPSTART_TEST_FAULTS=1`: a
    /// production node never runs with it.
    #[arg(long, hide = true)]
    pub test_faults: bool,
}

/// The environment variable that must be `1` for `--test-faults` to be accepted.
pub const TEST_FAULTS_ENV: &str = "UPSTART_TEST_FAULTS";

fn parse_duration(text: &str) -> Result<Duration, String> {
    duration_ms(text)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("`{text}` is not a duration such as `500ms` or `5s`"))
}

/// A command template that parses and tells the program its port.
fn parse_exec(text: &str) -> Result<String, String> {
    let template = runtime::bundle::exec::Template::parse(text).map_err(|e| e.to_string())?;
    if !template.uses_port() {
        return Err(format!(
            "the command template `{text}` tells the program no port\n  help: pass `{{port}}` or `{{addr}}`: the agent chooses the port and the shim forwards to it"
        ));
    }
    Ok(text.to_string())
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
            exec: self.exec.clone(),
            stop_signal: self.stop_signal.clone(),
            listeners: self.listen.clone(),
            peers: self.peers.clone(),
            program_args: self.program_args.clone(),
            preload: self.preload.clone(),
            framing: self.framing,
            limits: shim::Limits {
                max_connections: self.max_connections,
                peer_connections: self.peer_connections,
                first_bytes_timeout: self.first_bytes_timeout,
                frame_timeout: self.frame_timeout,
                idle_timeout: self.idle_timeout,
                server_first: self.server_first,
            },
            drain_grace: self.drain_grace,
            stop_timeout: self.stop_timeout,
            start_timeout: self.start_timeout,
            health: HealthConfig {
                method: self.health_method.clone(),
                params: self.health_params.clone(),
                errors_healthy: self.health_errors,
                ..HealthConfig::default()
            },
            poll_wait: self.poll_wait,
            stop_at: self.stop_at.clone(),
            test_faults: self.test_faults,
        }
    }
}

pub async fn run(args: &Args) -> CliResult {
    check_test_faults(
        args.test_faults,
        std::env::var(TEST_FAULTS_ENV).ok().as_deref(),
    )?;
    if let Some(p) = &args.stop_at {
        let transform_point = |name: &str| {
            runtime::transform::Point::ALL
                .iter()
                .any(|x| x.name() == name)
        };
        let known = transform_point(p)
            || p.strip_prefix("reverse-").is_some_and(transform_point)
            || crate::agent::AGENT_POINTS.contains(&p.as_str());
        if !known {
            return Err(CliError(format!(
                "`{p}` is not a point of an upgrade or a rollback"
            )));
        }
    }
    crate::agent::run(args.config()).await.map_err(CliError)
}

/// `--test-faults` only with `UPSTART_TEST_FAULTS=1` (`env`: its value, if set).
fn check_test_faults(flag: bool, env: Option<&str>) -> CliResult {
    if flag && env != Some("1") {
        return Err(CliError(format!(
            "`--test-faults` is for tests only and needs `{TEST_FAULTS_ENV}=1` in the environment\n  help: never give it to a production node: it lets a local caller delay and cut the node's peer routes"
        )));
    }
    Ok(())
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
            .to_string()
            .contains("`x`"));
        assert!(ListenerConfig::parse("nowhere")
            .unwrap_err()
            .to_string()
            .contains("`nowhere`"));
        assert_eq!(parse_duration("300ms").unwrap(), Duration::from_millis(300));
        assert!(parse_duration("soon").unwrap_err().contains("`soon`"));
    }

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    /// `upstart node` with the flags it requires but `--binary` or `--exec`.
    const REQUIRED: [&str; 17] = [
        "node",
        "--id",
        "n1",
        "--server",
        "http://127.0.0.1:1",
        "--trust",
        "k.pub",
        "--system",
        "kv",
        "--version",
        "1",
        "--state",
        "s.json",
        "--data",
        "d",
        "--listen",
        "127.0.0.1:0",
    ];

    /// [`REQUIRED`] and `--binary kv`.
    fn with_binary() -> Vec<&'static str> {
        REQUIRED
            .iter()
            .chain(&["--binary", "kv"])
            .copied()
            .collect()
    }

    #[test]
    fn shim_limits_default_to_the_shims_and_are_set_by_flags() {
        use clap::Parser;
        let base = with_binary();
        let config = Cli::try_parse_from(&base).unwrap().args.config();
        assert_eq!(config.limits, shim::Limits::default());
        let more = [
            "--first-bytes-timeout",
            "2s",
            "--idle-timeout",
            "1m",
            "--max-connections",
            "9",
        ];
        let config = Cli::try_parse_from(base.iter().chain(more.iter()))
            .unwrap()
            .args
            .config();
        assert_eq!(config.limits.first_bytes_timeout, Duration::from_secs(2));
        assert_eq!(config.limits.idle_timeout, Duration::from_secs(60));
        assert_eq!(config.limits.max_connections, 9);
        assert_eq!(config.limits.frame_timeout, Duration::from_secs(30));
    }

    #[test]
    fn test_faults_need_the_flag_and_the_environment() {
        use clap::Parser;
        let base = with_binary();
        assert!(
            !Cli::try_parse_from(&base)
                .unwrap()
                .args
                .config()
                .test_faults
        );
        let with = Cli::try_parse_from(base.iter().chain(&["--test-faults"])).unwrap();
        assert!(with.args.config().test_faults);
        assert!(check_test_faults(false, None).is_ok());
        assert!(check_test_faults(true, Some("1")).is_ok());
        for env in [None, Some("0"), Some("yes")] {
            let e = check_test_faults(true, env).unwrap_err().0;
            assert!(e.contains("UPSTART_TEST_FAULTS=1"), "{e}");
        }
    }

    #[test]
    fn a_command_template_replaces_the_binary() {
        use clap::Parser;
        let base = REQUIRED;
        let e = Cli::try_parse_from(base).unwrap_err().to_string();
        assert!(e.contains("--binary"), "{e}");
        let with = |extra: &[&str]| Cli::try_parse_from(base.iter().chain(extra.iter()));
        let config = with(&[
            "--exec",
            "python3 app.py --port {port} {peers:--peer %}",
            "--stop-signal",
            "sigint",
        ])
        .unwrap()
        .args
        .config();
        assert_eq!(config.binary, None);
        assert_eq!(config.stop_signal, "INT");
        assert!(config.exec.is_some_and(|e| e.starts_with("python3")));
        let e = with(&["--exec", "app --state {state}"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("tells the program no port"), "{e}");
        let e = with(&["--exec", "app {port} {nope}"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown placeholder `{nope}`"), "{e}");
        let e = with(&["--binary", "kv", "--stop-signal", "STOP"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("`STOP` is not a stop signal"), "{e}");
    }

    #[test]
    fn health_params_that_are_not_json_are_refused() {
        use clap::Parser;
        let args = with_binary()
            .into_iter()
            .chain(["--health-params", "{nope"]);
        let e = Cli::try_parse_from(args).unwrap_err().to_string();
        assert!(e.contains("`{nope` is not JSON"), "{e}");
    }
}
