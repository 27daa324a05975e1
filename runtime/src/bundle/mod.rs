//! Signed upgrade bundles: the plugin built from a spec, the new node binary, and a manifest
//! (format, spec name, versions, spec hash, schedule, sha-256 and size of each file, creation
//! time) signed with ed25519.
//!
//! - [`keys`]: key pairs and key files (`upstart keygen`), the trusted keys of a verifier;
//! - [`manifest`]: the manifest and its canonical bytes;
//! - [`program`]: what the manifest says about running the new program (its command line,
//!   stop signal, health probe); [`exec`]: the command-line template;
//! - [`container`]: the single-file container format and header verification;
//! - [`store`]: the content-addressed store verified bundles are imported into;
//! - [`build`]: making a bundle (`upstart bundle`).
//!
//! Verification refuses an unknown signer, a bad signature, a malformed or oversized manifest,
//! a file whose content does not match its address, truncation and trailing bytes, each with
//! its own [`BundleError`], and installs nothing on refusal.

pub mod build;
pub mod container;
mod error;
pub mod exec;
pub mod keys;
pub mod manifest;
pub mod program;
pub mod store;

pub use build::{create, BuildInput};
pub use container::SignedManifest;
pub use error::BundleError;
pub use keys::TrustedKeys;
pub use manifest::{BundleFile, BundleManifest, FileRole};
pub use program::{HealthProbe, ProgramSpec};
pub use store::{Store, StoredBundle};

/// Size limits a verifier applies before reading or storing anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The manifest's bytes.
    pub max_manifest: u64,
    /// Each file.
    pub max_file: u64,
    /// All files together.
    pub max_total: u64,
}

impl Default for Limits {
    /// 1 MiB of manifest, 1 GiB per file, 2 GiB in all.
    fn default() -> Limits {
        Limits {
            max_manifest: 1 << 20,
            max_file: 1 << 30,
            max_total: 2 << 30,
        }
    }
}

impl Limits {
    /// The largest whole container these limits accept.
    pub fn max_container(&self) -> u64 {
        8 + 4 + 4 + self.max_manifest + 96 + self.max_total
    }
}
