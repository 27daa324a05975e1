//! Why a bundle, a key or the store refused something. Every message is lowercase, names the
//! offending input in backticks, and says what to do where there is something to do.

use std::fmt;
use std::path::PathBuf;

/// The error of every bundle, key and store operation.
#[derive(Debug)]
pub enum BundleError {
    /// Reading or writing a file failed.
    Io {
        path: PathBuf,
        action: &'static str,
        error: std::io::Error,
    },
    /// The input does not start with the bundle magic.
    NotABundle,
    /// A container version this runtime does not read.
    UnsupportedFormat { found: u32, supported: u32 },
    /// The input ends before `what` does.
    Truncated { what: String },
    /// `what` is larger than the limit.
    Oversized { what: String, size: u64, limit: u64 },
    /// The container or manifest is malformed.
    Garbled { reason: String },
    /// Bytes follow the last file.
    TrailingData,
    /// The signature does not verify with the key it names.
    BadSignature { key_id: String },
    /// The signer is not among the trusted keys.
    UnknownKey { key_id: String },
    /// A file's content does not match its content address.
    HashMismatch {
        name: String,
        expected: String,
        found: String,
    },
    /// A key file is malformed.
    BadKey { path: PathBuf, reason: String },
    /// The store has no bundle or object of that id.
    Missing { what: String },
    /// A file would be overwritten.
    Exists { path: PathBuf },
    /// Building a bundle failed before anything was written (plugin refused, inputs wrong).
    Build { reason: String },
    /// The bundle's release is not newer than one already accepted (a downgrade).
    NotNewer {
        spec: String,
        release: u64,
        newest: u64,
        /// Who holds the newer release: `the newest accepted`, `the one this node runs`.
        holder: &'static str,
    },
}

impl BundleError {
    pub(crate) fn io(
        path: impl Into<PathBuf>,
        action: &'static str,
        error: std::io::Error,
    ) -> Self {
        BundleError::Io {
            path: path.into(),
            action,
            error,
        }
    }

    pub(crate) fn garbled(reason: impl Into<String>) -> Self {
        BundleError::Garbled {
            reason: reason.into(),
        }
    }
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BundleError::Io {
                path,
                action,
                error,
            } => write!(f, "cannot {action} `{}`: {error}", path.display()),
            BundleError::NotABundle => write!(
                f,
                "not an upstart bundle: it does not start with the bundle magic (make one with \
                 `upstart bundle`)"
            ),
            BundleError::UnsupportedFormat { found, supported } => write!(
                f,
                "bundle container format {found} is not supported (this runtime reads format \
                 {supported}): rebuild the bundle with this release's `upstart bundle`"
            ),
            BundleError::Truncated { what } => {
                write!(f, "the bundle is truncated: it ends inside {what}")
            }
            BundleError::Oversized { what, size, limit } => {
                write!(f, "{what} is {size} bytes, over the limit of {limit} bytes")
            }
            BundleError::Garbled { reason } => write!(f, "the bundle is garbled: {reason}"),
            BundleError::TrailingData => {
                write!(f, "the bundle is garbled: bytes follow its last file")
            }
            BundleError::BadSignature { key_id } => write!(
                f,
                "the bundle's signature does not verify with key `{key_id}`: it was altered \
                 after signing, or is corrupt"
            ),
            BundleError::UnknownKey { key_id } => write!(
                f,
                "the bundle is signed by key `{key_id}`, which is not trusted: pass its public \
                 key with `--trust`"
            ),
            BundleError::HashMismatch {
                name,
                expected,
                found,
            } => write!(
                f,
                "file `{name}` of the bundle has sha-256 `{found}`, but the manifest says \
                 `{expected}`: the bundle is corrupt"
            ),
            BundleError::BadKey { path, reason } => {
                write!(f, "key file `{}` is malformed: {reason}", path.display())
            }
            BundleError::Missing { what } => write!(f, "the store has no {what}"),
            BundleError::Exists { path } => write!(
                f,
                "`{}` already exists: choose another path, or pass `--force` to replace it",
                path.display()
            ),
            BundleError::Build { reason } => write!(f, "cannot build the bundle: {reason}"),
            BundleError::NotNewer {
                spec,
                release,
                newest,
                holder,
            } => write!(
                f,
                "release {release} of `{spec}` is not newer than release {newest}, {holder}: a \
                 downgrade is refused unless the operator allows it (`upstart push \
                 --allow-downgrade`)"
            ),
        }
    }
}

impl std::error::Error for BundleError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BundleError::Io { error, .. } => Some(error),
            _ => None,
        }
    }
}
