//! HTTPS for the upgrade server, where the operator gives a certificate chain and its private
//! key (PEM files; rustls with the ring provider, no OpenSSL). Handshakes run in their own
//! tasks, each bounded by [`HANDSHAKE_TIMEOUT`], so a client that never finishes one holds
//! neither the accept loop nor other clients; finished connections are handed to axum through
//! [`TlsListener`].

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// The longest a TLS handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The server's certificate chain and key (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The crypto of both ends: rustls with *ring*.
#[allow(
    deprecated,
    reason = "ring lacks post-quantum key exchange; aws-lc-rs would add a cmake C build to every build of the workspace"
)]
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Makes [`provider`] the process's default (reqwest builds every client's TLS from it, even
/// a plain HTTP client's). Idempotent.
pub fn install_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Another default installed first (by the embedding program) is fine too.
        let _ = rustls::crypto::CryptoProvider::install_default(provider().as_ref().clone());
    });
}

/// Why the server's TLS identity cannot be built from its files.
#[derive(Debug)]
pub enum TlsError {
    /// The certificate file cannot be read or is not PEM.
    Certs { path: PathBuf, error: pem::Error },
    /// The certificate file holds no certificate.
    NoCerts { path: PathBuf },
    /// The key file cannot be read or holds no PEM private key.
    Key { path: PathBuf, error: pem::Error },
    /// The crypto provider offers no safe protocol version.
    Protocols(rustls::Error),
    /// The certificate and key do not go together (or rustls refuses them).
    Identity {
        cert: PathBuf,
        key: PathBuf,
        error: rustls::Error,
    },
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Certs { path, error } => write!(
                f,
                "cannot read certificates from `{}`: {error}",
                path.display()
            ),
            TlsError::NoCerts { path } => {
                write!(f, "`{}` holds no PEM certificate", path.display())
            }
            TlsError::Key { path, error } => write!(
                f,
                "cannot read a private key from `{}`: {error}",
                path.display()
            ),
            TlsError::Protocols(error) => {
                write!(
                    f,
                    "the TLS provider offers no safe protocol version: {error}"
                )
            }
            TlsError::Identity { cert, key, error } => write!(
                f,
                "the certificate `{}` and key `{}` do not make a TLS identity: {error}",
                cert.display(),
                key.display()
            ),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TlsError::Certs { error, .. } | TlsError::Key { error, .. } => Some(error),
            TlsError::Protocols(error) | TlsError::Identity { error, .. } => Some(error),
            TlsError::NoCerts { .. } => None,
        }
    }
}

/// The rustls configuration of `files`.
pub fn server_config(files: &TlsFiles) -> Result<rustls::ServerConfig, TlsError> {
    let certs = read_certs(&files.cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|error| TlsError::Key {
        path: files.key.clone(),
        error,
    })?;
    rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Protocols)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|error| TlsError::Identity {
            cert: files.cert.clone(),
            key: files.key.clone(),
            error,
        })
}

/// The certificates of a PEM file (at least one).
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|error| TlsError::Certs {
            path: path.to_path_buf(),
            error,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCerts {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// TLS connections whose handshake finished, for `axum::serve`.
#[derive(Debug)]
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub fn new(listener: TcpListener, config: rustls::ServerConfig) -> std::io::Result<Self> {
        let addr = listener.local_addr()?;
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let (tx, ready) = mpsc::channel(64);
        let task = tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { ready, addr, task })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The accept task ended (it does not, unless aborted): no more connections.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    #[test]
    fn errors_give_the_pem_or_rustls_error_as_their_source() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let e = read_certs(&missing).unwrap_err();
        assert!(
            e.to_string().starts_with(&format!(
                "cannot read certificates from `{}`: ",
                missing.display()
            )),
            "{e}"
        );
        let source = e.source().unwrap();
        assert!(source.downcast_ref::<pem::Error>().is_some(), "{source:?}");

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let e = read_certs(&empty).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("`{}` holds no PEM certificate", empty.display())
        );
        assert!(e.source().is_none());

        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let other = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let files = TlsFiles {
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem"),
        };
        std::fs::write(&files.cert, cert.cert.pem()).unwrap();
        std::fs::write(&files.key, cert.signing_key.serialize_pem()).unwrap();
        server_config(&files).unwrap();

        let e = server_config(&TlsFiles {
            key: missing.clone(),
            ..files.clone()
        })
        .unwrap_err();
        assert!(
            e.to_string().contains("cannot read a private key from"),
            "{e}"
        );
        assert!(e.source().unwrap().downcast_ref::<pem::Error>().is_some());

        std::fs::write(&files.key, other.signing_key.serialize_pem()).unwrap();
        let e = server_config(&files).unwrap_err();
        assert!(e.to_string().contains("do not make a TLS identity"), "{e}");
        let source = e.source().unwrap();
        assert!(
            source.downcast_ref::<rustls::Error>().is_some(),
            "{source:?}"
        );
    }
}
