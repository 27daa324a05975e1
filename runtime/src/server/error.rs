//! Why the upgrade server did not start: it cannot listen, its TLS files or database are
//! unusable, or what the database holds no longer loads. Every variant that wraps another
//! error says it in its message too (the command line prints messages only) and gives it as
//! its `source()`.

use super::db::DbError;
use super::state::UnrunnableSchedule;
use super::tls::TlsError;
use crate::bundle::BundleError;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The error of [`super::start`].
#[derive(Debug)]
pub enum StartError {
    /// The address cannot be bound (in use, not local, not permitted).
    Listen {
        addr: SocketAddr,
        error: std::io::Error,
    },
    /// The certificate or key cannot be used.
    Tls(TlsError),
    /// The database cannot be opened, migrated or started.
    Db(DbError),
    /// The database cannot be read into memory.
    Read {
        path: PathBuf,
        error: rusqlite::Error,
    },
    /// The bundle store cannot be opened.
    Store(BundleError),
    /// A bundle in the database no longer verifies (a key is no longer trusted, a limit is
    /// lower).
    Unverified { bundle: String, error: BundleError },
    /// A bundle in the database has a schedule this server cannot run.
    Schedule(UnrunnableSchedule),
    /// A rollout refers to a bundle the database does not hold.
    MissingBundle { rollout: u64, bundle: String },
    /// A rollout is in a state this server does not know.
    RolloutState { rollout: u64, state: String },
    /// A node is enrolled with a key that is not 64 hex digits.
    EnrolledKey { node: String },
    /// A node is in a phase this server does not know.
    NodePhase { node: String, phase: String },
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Listen { addr, error } => write!(f, "cannot listen on `{addr}`: {error}"),
            StartError::Tls(error) => write!(f, "{error}"),
            StartError::Db(error) => write!(f, "{error}"),
            StartError::Read { path, error } => {
                write!(f, "cannot read the database `{}`: {error}", path.display())
            }
            StartError::Store(error) => write!(f, "{error}"),
            StartError::Unverified { bundle, error } => write!(
                f,
                "bundle `{bundle}` in the database no longer verifies: {error}"
            ),
            StartError::Schedule(error) => write!(f, "{error}"),
            StartError::MissingBundle { rollout, bundle } => write!(
                f,
                "rollout {rollout} refers to bundle `{bundle}`, which the database does not hold"
            ),
            StartError::RolloutState { rollout, state } => {
                write!(f, "rollout {rollout} has state `{state}`")
            }
            StartError::EnrolledKey { node } => {
                write!(f, "node `{node}` is enrolled with a malformed key")
            }
            StartError::NodePhase { node, phase } => write!(f, "node `{node}` has phase `{phase}`"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Listen { error, .. } => Some(error),
            StartError::Tls(error) => Some(error),
            StartError::Db(error) => Some(error),
            StartError::Read { error, .. } => Some(error),
            StartError::Store(error) | StartError::Unverified { error, .. } => Some(error),
            StartError::Schedule(error) => Some(error),
            StartError::MissingBundle { .. }
            | StartError::RolloutState { .. }
            | StartError::EnrolledKey { .. }
            | StartError::NodePhase { .. } => None,
        }
    }
}

impl From<TlsError> for StartError {
    fn from(e: TlsError) -> Self {
        StartError::Tls(e)
    }
}

impl From<DbError> for StartError {
    fn from(e: DbError) -> Self {
        StartError::Db(e)
    }
}

impl From<UnrunnableSchedule> for StartError {
    fn from(e: UnrunnableSchedule) -> Self {
        StartError::Schedule(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::TrustedKeys;
    use crate::server::{start, tls::TlsFiles, Config};
    use std::error::Error;

    #[tokio::test]
    async fn start_errors_give_what_they_wrap_as_their_source() {
        let dir = tempfile::tempdir().unwrap();
        let config =
            |db: PathBuf| Config::new(db, dir.path().join("store"), TrustedKeys::default());
        let any_port: SocketAddr = "127.0.0.1:0".parse().unwrap();

        let taken = std::net::TcpListener::bind(any_port).unwrap();
        let addr = taken.local_addr().unwrap();
        let e = start(config(dir.path().join("u.db")), addr)
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with(&format!("cannot listen on `{addr}`: ")),
            "{e}"
        );
        assert!(e
            .source()
            .unwrap()
            .downcast_ref::<std::io::Error>()
            .is_some());

        let mut with_tls = config(dir.path().join("u.db"));
        with_tls.tls = Some(TlsFiles {
            cert: dir.path().join("missing-cert.pem"),
            key: dir.path().join("missing-key.pem"),
        });
        let e = start(with_tls, any_port).await.unwrap_err();
        assert!(e.to_string().contains("missing-cert.pem"), "{e}");
        let source = e.source().unwrap();
        assert!(source.downcast_ref::<TlsError>().is_some(), "{source:?}");

        // A directory is no database file.
        let e = start(config(dir.path().to_path_buf()), any_port)
            .await
            .unwrap_err();
        assert!(e.to_string().starts_with("cannot open the database"), "{e}");
        let source = e.source().unwrap();
        assert!(source.downcast_ref::<DbError>().is_some(), "{source:?}");
    }
}
