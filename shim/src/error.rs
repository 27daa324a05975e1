//! Why a shim could not start or refused a change.

use std::fmt;
use std::net::SocketAddr;

#[derive(Debug)]
pub enum ShimError {
    /// A port could not be bound.
    Bind {
        what: &'static str,
        addr: SocketAddr,
        error: std::io::Error,
    },
    /// The hand-off socket could not be bound.
    BindUnix {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
    /// The configuration is inconsistent.
    Config(String),
    /// The plugin chain is for another upgrade.
    ChainName { found: String, expected: String },
}

impl fmt::Display for ShimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShimError::Bind { what, addr, error } => {
                write!(f, "cannot listen on {addr} ({what}): {error}")
            }
            ShimError::BindUnix { path, error } => {
                write!(
                    f,
                    "cannot listen on `{}` (hand-off socket): {error}",
                    path.display()
                )
            }
            ShimError::Config(m) => write!(f, "bad shim configuration: {m}"),
            ShimError::ChainName { found, expected } => write!(
                f,
                "the plugin chain is for upgrade `{found}`, but this shim serves `{expected}`"
            ),
        }
    }
}

impl std::error::Error for ShimError {}
