//! `upstart verify BUNDLE --trust KEY.pub`: check a bundle as the server will, without a
//! server: signature by a trusted key, manifest, every file's size and content address.

use super::{CliError, CliResult};
use runtime::bundle::{Limits, Store, TrustedKeys};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The bundle file.
    pub bundle: PathBuf,
    /// A public key to accept signatures from (repeatable).
    #[arg(long, value_name = "KEY.pub", required = true)]
    pub trust: Vec<PathBuf>,
}

pub fn run(args: &Args) -> CliResult {
    let trust = TrustedKeys::from_files(&args.trust)?;
    // Import into a scratch store: the same checks as the server's, and nothing kept.
    let scratch = std::env::temp_dir().join(format!("upstart-verify-{}", std::process::id()));
    let result = Store::open(&scratch)
        .and_then(|store| store.import_file(&args.bundle, &trust, &Limits::default()));
    let _ = std::fs::remove_dir_all(&scratch);
    let stored = result.map_err(|e| {
        CliError(format!(
            "bundle `{}` does not verify: {e}",
            args.bundle.display()
        ))
    })?;
    let m = &stored.signed.manifest;
    println!(
        "`{}` verifies: {} {} -> {}, bundle {}, signed by key {}",
        args.bundle.display(),
        m.spec,
        m.from,
        m.to,
        stored.id,
        stored.signed.key_id()
    );
    for f in &m.files {
        println!(
            "  {:<7} {}  {} bytes  sha256 {}",
            f.role.as_str(),
            f.name,
            f.size,
            f.sha256
        );
    }
    Ok(())
}
