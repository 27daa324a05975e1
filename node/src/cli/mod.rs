//! The server-side `upstart` subcommands, one module per subcommand: each has its clap `Args`
//! and a `run` over the `runtime` library. The binary (`src/main.rs`) only dispatches; `node`
//! and `demo` are beside this module.
//!
//! Exit codes: 0 success, 1 the operation failed (refused bundle, unreachable server, ...),
//! 2 usage errors (from clap).

pub mod bundle;
pub mod control;
pub mod keygen;
pub mod nodes;
pub mod push;
pub mod server;
pub mod status;
pub mod verify;

use std::fmt;
use std::process::ExitCode;

/// A failed command: its message, printed as `error: MESSAGE`.
#[derive(Debug)]
pub struct CliError(pub String);

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<E: std::error::Error> From<E> for CliError {
    fn from(e: E) -> Self {
        CliError(e.to_string())
    }
}

pub type CliResult = Result<(), CliError>;

/// A flag's JSON value (clap's value parser of `--health-params`).
pub(crate) fn parse_json(text: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(text).map_err(|e| format!("`{text}` is not JSON: {e}"))
}

/// The environment variable naming the operator's private key when `--key` is not given.
pub const KEY_ENV: &str = "UPSTART_KEY";

/// A client of `server` (over HTTPS when it is `https://...`, verified against `ca`).
pub fn client(
    server: &str,
    ca: Option<&std::path::Path>,
) -> Result<runtime::client::Client, CliError> {
    Ok(runtime::client::Client::connect(server, ca)?)
}

/// A client of `server` (see [`client`]) signing with the operator key `key` (or the one
/// `UPSTART_KEY` names).
pub fn operator_client(
    server: &str,
    ca: Option<&std::path::Path>,
    key: Option<&std::path::Path>,
) -> Result<runtime::client::Client, CliError> {
    let path = match key {
        Some(p) => p.to_path_buf(),
        None => std::env::var_os(KEY_ENV)
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from)
            .ok_or_else(|| {
                CliError(format!(
                    "this command is signed with an operator key: pass `--key KEY` or set `{KEY_ENV}`"
                ))
            })?,
    };
    let key = runtime::bundle::keys::read_signing_key(&path)?;
    Ok(client(server, ca)?.with_key(key))
}

/// Logs to stderr, filtered by `UPSTART_LOG` (e.g. `debug`, `runtime=trace`), else `default`.
pub fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("UPSTART_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Runs `f` on a fresh multi-threaded tokio runtime.
pub fn block_on<F: std::future::Future<Output = CliResult>>(f: F) -> CliResult {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(f)
}

/// The working folder `given`, or else a new one `upstart-{name}-{pid}` in the system's
/// temporary folder (then `true`: the caller removes it when done), created.
pub fn work_dir(
    given: Option<&std::path::Path>,
    name: &str,
) -> Result<(std::path::PathBuf, bool), CliError> {
    let (dir, temporary) = match given {
        Some(d) => (d.to_path_buf(), false),
        None => (
            std::env::temp_dir().join(format!("upstart-{name}-{}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError(format!("cannot create `{}`: {e}", dir.display())))?;
    Ok((dir, temporary))
}

/// Prints the error of `result` and turns it into an exit code.
pub fn finish(result: CliResult) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
