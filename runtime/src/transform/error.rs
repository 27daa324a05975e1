//! Why a state transform, recovery or rollback did not complete. In every case the state file
//! holds either exactly the old state or exactly the new one.

use std::fmt;
use std::path::PathBuf;

/// Why a transform, a reverse transform or an invariant gave no answer: a plugin's
/// [`CallError`](crate::plugin::CallError), or whatever error a transform of tests returns.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug)]
pub enum TransformError {
    /// A file operation failed.
    Io {
        path: PathBuf,
        action: &'static str,
        error: std::io::Error,
    },
    /// The plugin's transform refused the old state.
    Transform { source: Cause },
    /// The new state does not satisfy the spec's invariant with the old one.
    InvariantBroken,
    /// The invariant could not be evaluated.
    Invariant { source: Cause },
    /// A journal of another upgrade is pending.
    OtherUpgradePending { from: u64, to: u64 },
    /// Files are not what the journal says (changed by someone else, or damaged).
    Corrupt { reason: String },
    /// No backup of the old state to roll back to.
    NoBackup { path: PathBuf },
    /// The plugin's reverse transform refused the current state.
    Reverse { source: Cause },
    /// The reverse transform's result does not satisfy the invariant with the current state.
    ReverseInvariantBroken,
    /// A journal of the other direction (an upgrade for a rollback, or the reverse) is
    /// pending for these versions.
    OtherDirectionPending { from: u64, to: u64, reverse: bool },
    /// The state on disk is not of the kind the spec declares (`state json|dir|sqlite`);
    /// nothing was written.
    StorageMismatch {
        path: PathBuf,
        found: super::Kind,
        declared: super::Kind,
        version: u64,
    },
}

impl TransformError {
    pub(crate) fn io(
        path: impl Into<PathBuf>,
        action: &'static str,
        error: std::io::Error,
    ) -> Self {
        TransformError::Io {
            path: path.into(),
            action,
            error,
        }
    }
}

impl fmt::Display for TransformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransformError::Io {
                path,
                action,
                error,
            } => {
                write!(f, "cannot {action} `{}`: {error}", path.display())
            }
            TransformError::Transform { source } => {
                write!(
                    f,
                    "the transform refused the old state: {source}; the old state is kept"
                )
            }
            TransformError::InvariantBroken => write!(
                f,
                "the new state does not satisfy the spec's invariant with the old state; the old \
                 state is kept"
            ),
            TransformError::Invariant { source } => {
                write!(
                    f,
                    "the invariant could not be evaluated: {source}; the old state is kept"
                )
            }
            TransformError::OtherUpgradePending { from, to } => write!(
                f,
                "an interrupted upgrade of the state from version {from} to version {to} is \
                 pending: resume or roll it back first"
            ),
            TransformError::Corrupt { reason } => {
                write!(f, "the state files are inconsistent: {reason}")
            }
            TransformError::NoBackup { path } => write!(
                f,
                "there is no backup `{}` of the old state to roll back to",
                path.display()
            ),
            TransformError::Reverse { source } => write!(
                f,
                "the reverse transform refused the current state: {source}; the current state is \
                 kept"
            ),
            TransformError::ReverseInvariantBroken => write!(
                f,
                "the state the reverse transform gives does not satisfy the spec's invariant with \
                 the current state; the current state is kept"
            ),
            TransformError::OtherDirectionPending { from, to, reverse } => write!(
                f,
                "an interrupted {} of the state from version {from} to version {to} is pending: \
                 resume or roll it back first",
                if *reverse { "rollback" } else { "upgrade" }
            ),
            TransformError::StorageMismatch {
                path,
                found,
                declared,
                version,
            } => write!(
                f,
                "storage check failed: the state `{}` is {}, but the spec declares version \
                 {version}'s state as `state {}`; nothing was changed\n  help: point the node \
                 at the state the program keeps, or declare `state {}` in the spec",
                path.display(),
                found.described(),
                declared.name(),
                found.name()
            ),
        }
    }
}

impl std::error::Error for TransformError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TransformError::Io { error, .. } => Some(error),
            TransformError::Transform { source }
            | TransformError::Invariant { source }
            | TransformError::Reverse { source } => Some(source.as_ref()),
            _ => None,
        }
    }
}
