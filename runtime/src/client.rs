//! The HTTP client of the upgrade server, used by the `upstart` CLI and by node agents: push
//! bundles, control rollouts, enroll and remove nodes, read the status, poll and report as a
//! node, and fetch a bundle into a local store, verifying it end to end. Every request but a
//! read is signed with the client's key ([`Client::with_key`]; see [`crate::auth`]).

use crate::api::{
    BundleInfo, Directive, Enroll, EnrolledNode, ErrorBody, PollRequest, Report, RolloutInfo,
    StartRollout, Status,
};
use crate::bundle::{BundleError, Limits, Store, StoredBundle, TrustedKeys};
use ed25519_dalek::SigningKey;
use reqwest::header::{CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use reqwest::{Method, StatusCode};
use std::sync::Arc;
use std::time::Duration;

/// A client of one server.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
    /// Signs requests: an operator's key or a node's.
    key: Option<Arc<SigningKey>>,
}

/// An error that a [`ClientError`] wraps.
type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why a request did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server's address is malformed.
    #[error("`{url}` is not a server address: write it as `http://HOST:PORT`")]
    BadUrl { url: String },
    /// No answer (connection refused, timeout): `reason` is `source` with its causes, in words.
    #[error("cannot reach the upgrade server at `{url}`: {reason}")]
    Unreachable {
        url: String,
        reason: String,
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with an error.
    #[error("the server refused ({status}): {message}")]
    Server { status: u16, message: String },
    /// The answer did not decode.
    #[error("the answer of `{url}` does not decode: {source}")]
    Decode {
        url: String,
        #[source]
        source: Cause,
    },
    /// The request could not be signed.
    #[error("cannot sign the request: {source}")]
    Sign {
        #[source]
        source: Cause,
    },
    /// TLS cannot be set up as asked.
    #[error("{reason}")]
    Tls {
        reason: String,
        #[source]
        source: Option<Cause>,
    },
    /// A downloaded bundle did not verify.
    #[error(transparent)]
    Bundle(#[from] BundleError),
}

impl ClientError {
    fn unreachable(url: &str, source: reqwest::Error) -> ClientError {
        ClientError::Unreachable {
            url: url.to_string(),
            reason: describe(&source),
            source,
        }
    }
}

/// The answer to a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollAnswer {
    /// A directive, with the ETag to send next time.
    Directive {
        directive: Box<Directive>,
        etag: Option<String>,
    },
    /// The directive is the one the node already has (`If-None-Match` matched).
    NotModified,
}

/// What [`Client::control`] does to a rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Pause,
    Resume,
    Rollback,
}

impl Control {
    pub fn as_str(self) -> &'static str {
        match self {
            Control::Pause => "pause",
            Control::Resume => "resume",
            Control::Rollback => "rollback",
        }
    }
}

impl Client {
    /// A client of the server at `server` (`http://HOST:PORT`; the scheme may be left out).
    pub fn new(server: &str) -> Result<Client, ClientError> {
        Client::connect(server, None)
    }

    /// A client of `server`: `http://HOST:PORT`, or `https://HOST:PORT` whose certificate must
    /// be signed by a certificate of the PEM file `ca` (and name `HOST`).
    pub fn connect(server: &str, ca: Option<&std::path::Path>) -> Result<Client, ClientError> {
        let trimmed = server.trim().trim_end_matches('/');
        let base = if trimmed.contains("://") {
            trimmed.to_string()
        } else {
            format!("http://{trimmed}")
        };
        let (https, host) = match (base.strip_prefix("http://"), base.strip_prefix("https://")) {
            (Some(h), _) => (false, h),
            (_, Some(h)) => (true, h),
            _ => (false, ""),
        };
        if host.is_empty() || host.contains('/') || host.contains(char::is_whitespace) {
            return Err(ClientError::BadUrl {
                url: server.to_string(),
            });
        }
        crate::server::tls::install_provider();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true);
        match (https, ca) {
            (true, Some(ca)) => builder = builder.tls_backend_preconfigured(tls_config(ca)?),
            (true, None) => {
                return Err(ClientError::Tls {
                    reason: format!(
                        "`{base}` is HTTPS: give the CA that signed its certificate (`--ca CA.pem`)"
                    ),
                    source: None,
                })
            }
            (false, Some(_)) => {
                return Err(ClientError::Tls {
                    reason: format!(
                        "a CA is given but `{base}` is plain HTTP: write the server as `https://HOST:PORT`"
                    ),
                    source: None,
                })
            }
            (false, None) => {}
        }
        let http = builder
            .build()
            .map_err(|e| ClientError::unreachable(&base, e))?;
        Ok(Client {
            base,
            http,
            key: None,
        })
    }

    /// This client, signing its requests with `key`.
    pub fn with_key(mut self, key: SigningKey) -> Client {
        self.key = Some(Arc::new(key));
        self
    }

    /// A request of `method` to `path` with `body` (JSON when `json`), signed when the client
    /// has a key.
    fn request(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        json: bool,
        timeout: Duration,
    ) -> Result<(reqwest::RequestBuilder, String), ClientError> {
        let url = self.url(path);
        let mut r = self.http.request(method.clone(), &url).timeout(timeout);
        if let Some(key) = &self.key {
            // Signed as the server will see it: percent-encoded as in the URL sent.
            let parsed =
                reqwest::Url::parse(&url).map_err(|_| ClientError::BadUrl { url: url.clone() })?;
            let sent = match parsed.query() {
                Some(q) => format!("{}?{q}", parsed.path()),
                None => parsed.path().to_string(),
            };
            let headers =
                crate::auth::headers(key, method.as_str(), &sent, &body).map_err(|e| {
                    ClientError::Sign {
                        source: Box::new(e),
                    }
                })?;
            for (name, value) in headers {
                r = r.header(name, value);
            }
        }
        if json {
            r = r.header(CONTENT_TYPE, "application/json");
        }
        Ok((r.body(body), url))
    }

    /// A signed request (30 s bound) whose answer is JSON: `body` is JSON when `json`.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Vec<u8>,
        json: bool,
    ) -> Result<T, ClientError> {
        let (req, url) = self.request(method, path, body, json, Duration::from_secs(30))?;
        let resp = self.send(req, &url).await?;
        self.json(resp, &url).await
    }

    fn json_body<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, ClientError> {
        serde_json::to_vec(value).map_err(|e| ClientError::Sign {
            source: Box::new(e),
        })
    }

    /// The server's base address.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<reqwest::Response, ClientError> {
        let resp = req
            .send()
            .await
            .map_err(|e| ClientError::unreachable(url, e))?;
        if resp.status().is_success() || resp.status() == StatusCode::NOT_MODIFIED {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let message = serde_json::from_str::<ErrorBody>(&text)
            .map(|b| b.error)
            .unwrap_or(text);
        Err(ClientError::Server { status, message })
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        resp: reqwest::Response,
        url: &str,
    ) -> Result<T, ClientError> {
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| ClientError::unreachable(url, e))?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
            url: url.to_string(),
            source: Box::new(e),
        })
    }

    /// `GET path` as it is (not signed), its JSON answer.
    async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let url = self.url(path);
        let resp = self
            .send(self.http.get(&url).timeout(Duration::from_secs(30)), &url)
            .await?;
        self.json(resp, &url).await
    }

    async fn bytes(&self, path: &str) -> Result<Vec<u8>, ClientError> {
        let url = self.url(path);
        let resp = self
            .send(self.http.get(&url).timeout(Duration::from_secs(600)), &url)
            .await?;
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| ClientError::unreachable(&url, e))?;
        Ok(bytes.to_vec())
    }

    /// `POST /v1/bundles`; with `allow_downgrade`, a release not newer than the newest the
    /// server accepted is taken too (the server logs it).
    pub async fn push(
        &self,
        bundle: Vec<u8>,
        allow_downgrade: bool,
    ) -> Result<BundleInfo, ClientError> {
        let path = if allow_downgrade {
            "/v1/bundles?allow_downgrade=true"
        } else {
            "/v1/bundles"
        };
        let (req, url) =
            self.request(Method::POST, path, bundle, false, Duration::from_secs(600))?;
        let resp = self.send(req, &url).await.map_err(|e| match e {
            ClientError::Unreachable {
                url,
                reason,
                source,
            } if reason.contains("Broken pipe") || reason.contains("reset") => {
                ClientError::Unreachable {
                    url,
                    reason: format!(
                        "{reason} (the server closed the connection during the upload: it cuts off a refused upload larger than 64 MiB, see its log)"
                    ),
                    source,
                }
            }
            other => other,
        })?;
        self.json(resp, &url).await
    }

    /// `POST /v1/rollouts`.
    pub async fn start_rollout(
        &self,
        bundle: &str,
        seed: Option<u64>,
    ) -> Result<RolloutInfo, ClientError> {
        let body = Self::json_body(&StartRollout {
            bundle: bundle.to_string(),
            seed,
        })?;
        self.call(Method::POST, "/v1/rollouts", body, true).await
    }

    /// Pauses, resumes or rolls back rollout `id` (`None`: the current one).
    pub async fn control(
        &self,
        id: Option<u64>,
        what: Control,
    ) -> Result<RolloutInfo, ClientError> {
        self.control_with(id, what, false).await
    }

    /// [`Client::control`]; a rollback with `discard_writes` also sends back nodes whose new
    /// version accepted writes that the spec has no reverse transform for (their state then is
    /// the one saved at the upgrade; what it replaces is kept on the node's disk).
    pub async fn control_with(
        &self,
        id: Option<u64>,
        what: Control,
        discard_writes: bool,
    ) -> Result<RolloutInfo, ClientError> {
        let id = id.map_or_else(|| "current".to_string(), |i| i.to_string());
        let query = if discard_writes && what == Control::Rollback {
            "?discard_writes=true"
        } else {
            ""
        };
        let path = format!("/v1/rollouts/{id}/{}{query}", what.as_str());
        self.call(Method::POST, &path, Vec::new(), false).await
    }

    /// `POST /v1/nodes`: enrolls node `id` with its public key `public_key`.
    pub async fn enroll(
        &self,
        id: &str,
        public_key: &ed25519_dalek::VerifyingKey,
    ) -> Result<EnrolledNode, ClientError> {
        let body = Self::json_body(&Enroll {
            id: id.to_string(),
            public_key: crate::digest::hex(public_key.as_bytes()),
        })?;
        self.call(Method::POST, "/v1/nodes", body, true).await
    }

    /// `GET /v1/nodes`.
    pub async fn nodes(&self) -> Result<Vec<EnrolledNode>, ClientError> {
        self.get_json("/v1/nodes").await
    }

    /// `DELETE /v1/nodes/{id}`: decommissions node `id`.
    pub async fn remove_node(&self, id: &str) -> Result<EnrolledNode, ClientError> {
        let path = format!("/v1/nodes/{id}");
        self.call(Method::DELETE, &path, Vec::new(), false).await
    }

    /// `GET /v1/status`.
    pub async fn status(&self) -> Result<Status, ClientError> {
        self.get_json("/v1/status").await
    }

    /// `POST /v1/nodes/{node}/poll`: a heartbeat, answered with what to do. With `etag` (from
    /// the last answer) an unchanged directive answers [`PollAnswer::NotModified`]; with `wait`
    /// too, the server holds the answer until it changes or `wait` passes.
    pub async fn poll(
        &self,
        node: &str,
        req: &PollRequest,
        etag: Option<&str>,
        wait: Option<Duration>,
    ) -> Result<PollAnswer, ClientError> {
        let wait_ms = wait.map_or(0, |w| w.as_millis() as u64);
        let path = format!("/v1/nodes/{node}/poll?wait_ms={wait_ms}");
        let (mut r, url) = self.request(
            Method::POST,
            &path,
            Self::json_body(req)?,
            true,
            Duration::from_millis(wait_ms + 30_000),
        )?;
        if let Some(tag) = etag {
            r = r.header(IF_NONE_MATCH, tag);
        }
        let resp = self.send(r, &url).await?;
        if resp.status() == StatusCode::NOT_MODIFIED {
            return Ok(PollAnswer::NotModified);
        }
        let etag = resp
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let directive = self.json(resp, &url).await?;
        Ok(PollAnswer::Directive {
            directive: Box::new(directive),
            etag,
        })
    }

    /// `POST /v1/nodes/{node}/report`: committed by the server before it answers.
    pub async fn report(&self, node: &str, report: &Report) -> Result<Directive, ClientError> {
        let path = format!("/v1/nodes/{node}/report");
        self.call(Method::POST, &path, Self::json_body(report)?, true)
            .await
    }

    /// `GET /v1/bundles`.
    pub async fn bundles(&self) -> Result<Vec<BundleInfo>, ClientError> {
        self.get_json("/v1/bundles").await
    }

    /// Downloads bundle `id` into `store`: its header (verified against `trust`, which should
    /// be the node's own trusted keys, not the server's word), then each file by content
    /// address (verified by size and sha-256). Files already in the store are not downloaded.
    pub async fn fetch_bundle(
        &self,
        id: &str,
        store: &Store,
        trust: &TrustedKeys,
        limits: &Limits,
    ) -> Result<StoredBundle, ClientError> {
        let header = self.bytes(&format!("/v1/bundles/{id}")).await?;
        let signed = crate::bundle::SignedManifest::from_header_bytes(&header, trust, limits)?;
        if signed.id() != id {
            return Err(ClientError::Bundle(BundleError::Garbled {
                reason: format!(
                    "the server answered bundle `{}` for bundle `{id}`",
                    signed.id()
                ),
            }));
        }
        for file in &signed.manifest.files {
            if store.object_path(&file.sha256).is_some() {
                continue;
            }
            let bytes = self.bytes(&format!("/v1/objects/{}", file.sha256)).await?;
            let (store, sha, size) = (store.clone(), file.sha256.clone(), file.size);
            tokio::task::spawn_blocking(move || store.put_object(&sha, size, bytes.as_slice()))
                .await
                .map_err(|e| ClientError::Decode {
                    url: self.base.clone(),
                    source: Box::new(e),
                })??;
        }
        let (store, trust, limits) = (store.clone(), trust.clone(), *limits);
        Ok(
            tokio::task::spawn_blocking(move || store.put_header(&header, &trust, &limits))
                .await
                .map_err(|e| ClientError::Decode {
                    url: self.base.clone(),
                    source: Box::new(e),
                })??,
        )
    }
}

/// A TLS client configuration trusting only the certificates of the PEM file `ca`.
fn tls_config(ca: &std::path::Path) -> Result<rustls::ClientConfig, ClientError> {
    fn tls(reason: String, source: impl Into<Cause>) -> ClientError {
        ClientError::Tls {
            reason,
            source: Some(source.into()),
        }
    }
    let mut roots = rustls::RootCertStore::empty();
    for cert in crate::server::tls::read_certs(ca).map_err(|e| tls(e.to_string(), e))? {
        roots.add(cert).map_err(|e| {
            let reason = format!("`{}` is not a usable CA certificate: {e}", ca.display());
            tls(reason, e)
        })?;
    }
    Ok(
        rustls::ClientConfig::builder_with_provider(crate::server::tls::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| tls(e.to_string(), e))?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// A reqwest error with its causes, lowercase.
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "connection failed".to_string()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use std::error::Error;
    use std::io::{Read, Write};

    /// A server at `127.0.0.1` that answers every request with `answer`, once.
    fn answering(answer: &'static str) -> std::net::SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = listener.accept() {
                let mut request = [0u8; 4096];
                let _ = s.read(&mut request);
                let _ = s.write_all(answer.as_bytes());
            }
        });
        addr
    }

    #[tokio::test]
    async fn errors_give_what_they_wrap_as_their_source() {
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap()
        };
        let e = Client::new(&closed.to_string())
            .unwrap()
            .status()
            .await
            .unwrap_err();
        assert!(matches!(e, ClientError::Unreachable { .. }), "{e:?}");
        assert!(
            e.source().is_some_and(|s| s.is::<reqwest::Error>()),
            "{e:?}"
        );

        let garbled =
            answering("HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nnot");
        let e = Client::new(&garbled.to_string())
            .unwrap()
            .status()
            .await
            .unwrap_err();
        assert!(e.to_string().starts_with("the answer of `http://"), "{e}");
        assert!(
            e.source().is_some_and(|s| s.is::<serde_json::Error>()),
            "{e:?}"
        );

        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("ca.pem");
        let e = Client::connect("https://127.0.0.1:1", Some(&missing)).unwrap_err();
        assert!(
            e.source()
                .is_some_and(|s| s.is::<crate::server::tls::TlsError>()),
            "{e:?}"
        );

        // A bundle error is the bundle's: its message, and its own source.
        let e = ClientError::from(BundleError::Io {
            path: missing.clone(),
            action: "read",
            error: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
        let io = e.source().and_then(|s| s.downcast_ref::<std::io::Error>());
        assert_eq!(
            io.map(std::io::Error::kind),
            Some(std::io::ErrorKind::NotFound)
        );
    }
}
