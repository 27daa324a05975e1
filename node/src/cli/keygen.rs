//! `upstart keygen --out KEY`: a new ed25519 key pair for signing bundles: `KEY` (private,
//! mode 0600) and `KEY.pub` (for `upstart server --trust` and nodes).

use super::CliResult;
use runtime::bundle::keys;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to write the private key; the public key goes to the same path + `.pub`.
    #[arg(long, short = 'o', value_name = "KEY")]
    pub out: PathBuf,
    /// Replace existing key files.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: &Args) -> CliResult {
    let key = keys::generate()?;
    let public = keys::write_pair(&key, &args.out, args.force)?;
    println!(
        "wrote `{}` (private: keep it secret) and `{}` (key id {})",
        args.out.display(),
        public.display(),
        keys::key_id(&key.verifying_key())
    );
    Ok(())
}
