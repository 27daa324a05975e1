//! The HTTP client of the upgrade server, used by the `upstart` CLI and by node agents: push
//! bundles, control rollouts, read the status, poll and report as a node, and fetch a bundle
//! into a local store, verifying it end to end.

use crate::api::{
    BundleInfo, Directive, ErrorBody, PollRequest, Report, RolloutInfo, StartRollout, Status,
};
use crate::bundle::{BundleError, Limits, Store, StoredBundle, TrustedKeys};
use reqwest::header::{ETAG, IF_NONE_MATCH};
use reqwest::StatusCode;
use std::fmt;
use std::time::Duration;

/// A client of one server.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
}

/// Why a request did not succeed.
#[derive(Debug)]
pub enum ClientError {
    /// The server's address is malformed.
    BadUrl { url: String },
    /// No answer (connection refused, timeout).
    Unreachable { url: String, reason: String },
    /// The server answered with an error.
    Server { status: u16, message: String },
    /// The answer did not decode.
    Decode { url: String, reason: String },
    /// A downloaded bundle did not verify.
    Bundle(BundleError),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::BadUrl { url } => write!(
                f,
                "`{url}` is not a server address: write it as `http://HOST:PORT`"
            ),
            ClientError::Unreachable { url, reason } => {
                write!(f, "cannot reach the upgrade server at `{url}`: {reason}")
            }
            ClientError::Server { status, message } => {
                write!(f, "the server refused ({status}): {message}")
            }
            ClientError::Decode { url, reason } => {
                write!(f, "the answer of `{url}` does not decode: {reason}")
            }
            ClientError::Bundle(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<BundleError> for ClientError {
    fn from(e: BundleError) -> Self {
        ClientError::Bundle(e)
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
        let trimmed = server.trim().trim_end_matches('/');
        let base = if trimmed.contains("://") {
            trimmed.to_string()
        } else {
            format!("http://{trimmed}")
        };
        let host = base.strip_prefix("http://").unwrap_or("");
        if host.is_empty() || host.contains('/') || host.contains(char::is_whitespace) {
            return Err(ClientError::BadUrl {
                url: server.to_string(),
            });
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| ClientError::Unreachable {
                url: base.clone(),
                reason: e.to_string(),
            })?;
        Ok(Client { base, http })
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
        let resp = req.send().await.map_err(|e| ClientError::Unreachable {
            url: url.to_string(),
            reason: describe(&e),
        })?;
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
        let bytes = resp.bytes().await.map_err(|e| ClientError::Unreachable {
            url: url.to_string(),
            reason: describe(&e),
        })?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
            url: url.to_string(),
            reason: e.to_string(),
        })
    }

    async fn bytes(&self, path: &str) -> Result<Vec<u8>, ClientError> {
        let url = self.url(path);
        let resp = self
            .send(self.http.get(&url).timeout(Duration::from_secs(600)), &url)
            .await?;
        let bytes = resp.bytes().await.map_err(|e| ClientError::Unreachable {
            url: url.clone(),
            reason: describe(&e),
        })?;
        Ok(bytes.to_vec())
    }

    /// `POST /v1/bundles`.
    pub async fn push(&self, bundle: Vec<u8>) -> Result<BundleInfo, ClientError> {
        let url = self.url("/v1/bundles");
        let req = self
            .http
            .post(&url)
            .timeout(Duration::from_secs(600))
            .body(bundle);
        let resp = self.send(req, &url).await?;
        self.json(resp, &url).await
    }

    /// `POST /v1/rollouts`.
    pub async fn start_rollout(
        &self,
        bundle: &str,
        seed: Option<u64>,
    ) -> Result<RolloutInfo, ClientError> {
        let url = self.url("/v1/rollouts");
        let body = StartRollout {
            bundle: bundle.to_string(),
            seed,
        };
        let resp = self
            .send(
                self.http
                    .post(&url)
                    .timeout(Duration::from_secs(30))
                    .json(&body),
                &url,
            )
            .await?;
        self.json(resp, &url).await
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
        let url = self.url(&format!("/v1/rollouts/{id}/{}{query}", what.as_str()));
        let resp = self
            .send(self.http.post(&url).timeout(Duration::from_secs(30)), &url)
            .await?;
        self.json(resp, &url).await
    }

    /// `GET /v1/status`.
    pub async fn status(&self) -> Result<Status, ClientError> {
        let url = self.url("/v1/status");
        let resp = self
            .send(self.http.get(&url).timeout(Duration::from_secs(30)), &url)
            .await?;
        self.json(resp, &url).await
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
        let url = self.url(&format!("/v1/nodes/{node}/poll?wait_ms={wait_ms}"));
        let mut r = self
            .http
            .post(&url)
            .timeout(Duration::from_millis(wait_ms + 30_000))
            .json(req);
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
        let url = self.url(&format!("/v1/nodes/{node}/report"));
        let resp = self
            .send(
                self.http
                    .post(&url)
                    .timeout(Duration::from_secs(30))
                    .json(report),
                &url,
            )
            .await?;
        self.json(resp, &url).await
    }

    /// `GET /v1/bundles`.
    pub async fn bundles(&self) -> Result<Vec<BundleInfo>, ClientError> {
        let url = self.url("/v1/bundles");
        let resp = self
            .send(self.http.get(&url).timeout(Duration::from_secs(30)), &url)
            .await?;
        self.json(resp, &url).await
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
                    reason: e.to_string(),
                })??;
        }
        let (store, trust, limits) = (store.clone(), trust.clone(), *limits);
        Ok(
            tokio::task::spawn_blocking(move || store.put_header(&header, &trust, &limits))
                .await
                .map_err(|e| ClientError::Decode {
                    url: self.base.clone(),
                    reason: e.to_string(),
                })??,
        )
    }
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
