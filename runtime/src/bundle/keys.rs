//! Signing keys: generating a pair, the key file formats, key ids, and the set of public keys
//! a verifier trusts.
//!
//! A private key file holds one line, `upstart-ed25519-secret-key <64 hex digits>` (the 32-byte
//! ed25519 seed), and is created with mode 0600. Its public key file (`KEY.pub`) holds
//! `upstart-ed25519-public-key <64 hex digits>`. A key's id is the first 16 hex digits of the
//! sha-256 of the public key bytes; errors and logs name keys by id.

use super::error::BundleError;
use crate::digest::{hex, sha256_hex, unhex};
pub use ed25519_dalek::{SigningKey, VerifyingKey};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

const SECRET_TAG: &str = "upstart-ed25519-secret-key";
const PUBLIC_TAG: &str = "upstart-ed25519-public-key";

/// The id of a public key: 16 hex digits of its sha-256.
pub fn key_id(key: &VerifyingKey) -> String {
    let full = sha256_hex(key.as_bytes());
    full.get(..16).unwrap_or(&full).to_string()
}

/// A fresh signing key from the operating system's random source.
pub fn generate() -> Result<SigningKey, BundleError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| BundleError::Build {
        reason: format!("the operating system gave no random bytes: {e}"),
    })?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The path of the public key file beside the private key `path`: `path` + `.pub`.
pub fn public_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// Writes `key` to `path` (mode 0600, refusing to overwrite unless `force`) and its public key
/// to `path.pub`. Returns the public key's path.
pub fn write_pair(key: &SigningKey, path: &Path, force: bool) -> Result<PathBuf, BundleError> {
    let public = public_path(path);
    if !force {
        for p in [path, public.as_path()] {
            if p.exists() {
                return Err(BundleError::Exists {
                    path: p.to_path_buf(),
                });
            }
        }
    }
    let secret = format!("{SECRET_TAG} {}\n", hex(&key.to_bytes()));
    write_private(path, secret.as_bytes())?;
    let public_text = format!("{PUBLIC_TAG} {}\n", hex(key.verifying_key().as_bytes()));
    std::fs::write(&public, public_text).map_err(|e| BundleError::io(&public, "write", e))?;
    Ok(public)
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), BundleError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| BundleError::io(path, "create", e))?;
    // `mode` applies only when the file is created: tighten a replaced file too.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(|e| BundleError::io(path, "set the permissions of", e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| BundleError::io(path, "write", e))
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), BundleError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| BundleError::io(path, "create", e))?;
    file.write_all(bytes)
        .map_err(|e| BundleError::io(path, "write", e))
}

/// Reads a private key file.
pub fn read_signing_key(path: &Path) -> Result<SigningKey, BundleError> {
    let bytes = read_key(
        path,
        SECRET_TAG,
        PUBLIC_TAG,
        "a public key; sign with the private key file (without `.pub`)",
    )?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// Reads a public key file.
pub fn read_public_key(path: &Path) -> Result<VerifyingKey, BundleError> {
    let bytes = read_key(
        path,
        PUBLIC_TAG,
        SECRET_TAG,
        "a private key; trust its `.pub` file instead, and keep the private key secret",
    )?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| BundleError::BadKey {
        path: path.to_path_buf(),
        reason: "its 32 bytes are not an ed25519 public key".into(),
    })
}

fn read_text(path: &Path) -> Result<String, BundleError> {
    let bytes = std::fs::read(path).map_err(|e| BundleError::io(path, "read", e))?;
    if bytes.len() > 4096 {
        return Err(BundleError::BadKey {
            path: path.to_path_buf(),
            reason: format!("it is {} bytes long, too long for a key", bytes.len()),
        });
    }
    String::from_utf8(bytes).map_err(|_| BundleError::BadKey {
        path: path.to_path_buf(),
        reason: "it is not text".into(),
    })
}

/// The 32 bytes of the key file at `path`: one line, `tag` and 64 hex digits; a file of the
/// `other` kind is refused with `other_hint`.
fn read_key(
    path: &Path,
    tag: &str,
    other: &str,
    other_hint: &str,
) -> Result<[u8; 32], BundleError> {
    let text = read_text(path)?;
    let bad = |reason: String| BundleError::BadKey {
        path: path.to_path_buf(),
        reason,
    };
    let line = text.trim();
    let (found_tag, digits) = line.split_once(' ').unwrap_or((line, ""));
    if found_tag == other {
        return Err(bad(format!("it is {other_hint}")));
    }
    if found_tag != tag {
        return Err(bad(format!(
            "it does not start with `{tag}` (make keys with `upstart keygen`)"
        )));
    }
    unhex::<32>(digits).ok_or_else(|| bad("its key is not 64 hex digits".into()))
}

/// The public keys a verifier accepts signatures from.
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys {
    keys: Vec<VerifyingKey>,
}

impl TrustedKeys {
    pub fn new(keys: Vec<VerifyingKey>) -> TrustedKeys {
        TrustedKeys { keys }
    }

    /// Reads each public key file.
    pub fn from_files(paths: &[PathBuf]) -> Result<TrustedKeys, BundleError> {
        let keys = paths
            .iter()
            .map(|p| read_public_key(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TrustedKeys { keys })
    }

    /// The trusted key with these bytes, if any.
    pub fn find(&self, public: &[u8; 32]) -> Option<&VerifyingKey> {
        self.keys.iter().find(|k| k.as_bytes() == public)
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The ids of the trusted keys.
    pub fn ids(&self) -> Vec<String> {
        self.keys.iter().map(key_id).collect()
    }
}
