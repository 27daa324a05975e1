//! `upstart bundle --plugin P --binary B --spec S --release N --key KEY -o OUT.bundle`: sign a
//! bundle, with what it says about running its program (`--health-method`, ...).

use super::{parse_json, CliResult};
use runtime::bundle::program::{parse_errors, parse_signal};
use runtime::bundle::{create, keys, BuildInput, HealthProbe, ProgramSpec};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plugin built by `upstartc compile` from the spec.
    #[arg(long, value_name = "PLUGIN")]
    pub plugin: PathBuf,
    /// The new version's node program: a file, or a directory (its release: a program with its
    /// scripts, libraries and config, every file packed with its relative path and executable
    /// bit, unpacked per bundle on each node; `--exec` then says how to run it, with
    /// `{release}/PATH`).
    #[arg(long, visible_alias = "dir", value_name = "BINARY|DIR")]
    pub binary: PathBuf,
    /// The spec the plugin was built from (its hash must match the plugin's).
    #[arg(long, value_name = "SPEC")]
    pub spec: PathBuf,
    /// The release number: counted per system from 1, higher than every earlier bundle of the
    /// system (servers and nodes refuse a release that is not newer).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub release: u64,
    /// The private key to sign with (from `upstart keygen`).
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// The bundle file to write.
    #[arg(long, short = 'o', value_name = "OUT")]
    pub out: PathBuf,
    /// The new program's command line, a template (see `upstart node --exec`): declared in the
    /// bundle, it replaces the nodes' `--exec` for this version; the program is then ready
    /// when it accepts connections on `{port}`.
    #[arg(long, value_name = "TEMPLATE")]
    pub exec: Option<String>,
    /// The signal that asks the new program to stop (`TERM`, `INT`, `QUIT`, `HUP`, ...),
    /// instead of the nodes' `--stop-signal`.
    #[arg(long, value_name = "SIGNAL", value_parser = parse_signal)]
    pub stop_signal: Option<String>,
    /// The JSON-RPC method nodes probe the new program's health with (declared in the bundle,
    /// it replaces the nodes' `--health-method`, `--health-params` and `--health-errors` for
    /// this version).
    #[arg(long, value_name = "METHOD")]
    pub health_method: Option<String>,
    /// The probe's params (a JSON object or array).
    #[arg(long, value_name = "JSON", default_value = "{}", requires = "health_method", value_parser = parse_json)]
    pub health_params: serde_json::Value,
    /// What an error answer to the probe counts as: `healthy` (the program answers) or
    /// `unhealthy` (only a result is healthy).
    #[arg(long, value_name = "HEALTHY|UNHEALTHY", default_value = "unhealthy", requires = "health_method", value_parser = parse_errors)]
    pub health_errors: bool,
}

impl Args {
    /// What the bundle says about running its program.
    pub fn program(&self) -> ProgramSpec {
        ProgramSpec {
            exec: self.exec.clone(),
            stop_signal: self.stop_signal.clone(),
            health: self.health_method.as_ref().map(|method| HealthProbe {
                method: method.clone(),
                params: self.health_params.clone(),
                errors_healthy: self.health_errors,
            }),
        }
    }
}

pub fn run(args: &Args) -> CliResult {
    let key = keys::read_signing_key(&args.key)?;
    let input = BuildInput {
        plugin: args.plugin.clone(),
        binary: args.binary.clone(),
        spec: args.spec.clone(),
        release: args.release,
        program: args.program(),
    };
    let signed = create(&input, &key, &args.out)?;
    let m = &signed.manifest;
    println!(
        "wrote `{}`: {} {} -> {} release {}, bundle {}, signed by key {}",
        args.out.display(),
        m.spec,
        m.from,
        m.to,
        m.release,
        signed.id(),
        signed.key_id()
    );
    Ok(())
}
