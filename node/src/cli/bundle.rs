//! `upstart bundle --plugin P --binary B --spec S --release N --key KEY -o OUT.bundle`: sign a
//! bundle.

use super::CliResult;
use runtime::bundle::{create, keys, BuildInput};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The plugin built by `upstartc compile` from the spec.
    #[arg(long, value_name = "PLUGIN")]
    pub plugin: PathBuf,
    /// The new version's node program.
    #[arg(long, value_name = "BINARY")]
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
}

pub fn run(args: &Args) -> CliResult {
    let key = keys::read_signing_key(&args.key)?;
    let input = BuildInput {
        plugin: args.plugin.clone(),
        binary: args.binary.clone(),
        spec: args.spec.clone(),
        release: args.release,
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
