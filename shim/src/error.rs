//! Why a shim could not start or refused a change.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ShimError {
    /// A port could not be bound.
    #[error("cannot listen on {addr} ({what}): {error}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        #[source]
        error: std::io::Error,
    },
    /// The hand-off socket could not be bound.
    #[error("cannot listen on `{}` (hand-off socket): {error}", path.display())]
    BindUnix {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    /// The configuration is inconsistent.
    #[error("bad shim configuration: {0}")]
    Config(String),
    /// The plugin chain is for another upgrade.
    #[error("the plugin chain is for upgrade `{found}`, but this shim serves `{expected}`")]
    ChainName { found: String, expected: String },
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    #[test]
    fn bind_errors_give_the_io_error_as_their_source() {
        let refused = || std::io::Error::from(std::io::ErrorKind::AddrInUse);
        let bind = ShimError::Bind {
            what: "outbound",
            addr: SocketAddr::from(([127, 0, 0, 1], 7000)),
            error: refused(),
        };
        let unix = ShimError::BindUnix {
            path: "/run/shim.sock".into(),
            error: refused(),
        };
        for e in [bind, unix] {
            let source = e.source().and_then(|s| s.downcast_ref::<std::io::Error>());
            assert_eq!(
                source.map(std::io::Error::kind),
                Some(std::io::ErrorKind::AddrInUse),
                "{e}"
            );
        }
        assert!(ShimError::Config("no".into()).source().is_none());
    }
}
