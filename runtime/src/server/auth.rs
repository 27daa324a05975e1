//! Who sent a request: the server's side of [`crate::auth`]. A request is accepted from an
//! operator key the server was started with, or from the key of an enrolled node; its
//! timestamp must be within the clock-skew window and its nonce new.
//!
//! Nonces are kept in memory for the skew window, so a replay is refused however often it is
//! tried. A restarted server has no memory of earlier nonces: it refuses requests signed
//! before it started (by its own clock), which a replay of a request captured before the
//! restart must be. At most [`MAX_NONCES`] nonces are held; past that, new requests are
//! refused (503) until old ones expire, rather than letting memory grow or a replay through.

use crate::auth::{CONTENT_SHA256, KEY, NONCE, SIGNATURE, TIMESTAMP};
use crate::bundle::keys::key_id;
use crate::bundle::TrustedKeys;
use crate::digest::{hex, is_sha256_hex, unhex};
use axum::http::{HeaderMap, StatusCode};
use ed25519_dalek::{Signature, VerifyingKey};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard};

/// The most nonces remembered at once.
pub const MAX_NONCES: usize = 1_000_000;

/// Who signed a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// An operator, by key id.
    Operator(String),
    /// An enrolled node, by node id.
    Node(String),
}

/// A refusal: a status and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub message: String,
}

fn unauthorized(message: impl Into<String>) -> Refusal {
    Refusal {
        status: StatusCode::UNAUTHORIZED,
        message: message.into(),
    }
}

impl Principal {
    /// The operator's key id, or a refusal naming who asked.
    pub fn operator(&self) -> Result<&str, Refusal> {
        match self {
            Principal::Operator(key) => Ok(key),
            Principal::Node(id) => Err(Refusal {
                status: StatusCode::FORBIDDEN,
                message: format!(
                    "this action needs an operator key; the request is signed by node `{id}`, which may only poll and report for itself"
                ),
            }),
        }
    }

    /// Refuses unless the request is node `id`'s own.
    pub fn node(&self, id: &str) -> Result<(), Refusal> {
        match self {
            Principal::Node(me) if me == id => Ok(()),
            Principal::Node(me) => Err(Refusal {
                status: StatusCode::FORBIDDEN,
                message: format!("node `{me}`'s key cannot speak for node `{id}`"),
            }),
            Principal::Operator(key) => Err(Refusal {
                status: StatusCode::FORBIDDEN,
                message: format!(
                    "operator key `{key}` cannot speak for node `{id}`: nodes poll and report with their own keys"
                ),
            }),
        }
    }
}

/// An enrolled node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolled {
    pub id: String,
    pub key: [u8; 32],
    pub enrolled_at_ms: u64,
    /// The operator key id that enrolled it.
    pub enrolled_by: String,
}

/// The enrolled nodes, by id and by key.
#[derive(Debug, Default)]
pub struct Enrollments {
    by_id: HashMap<String, Enrolled>,
    /// Node id and the key, decompressed once (not at every request).
    by_key: HashMap<[u8; 32], (String, Option<VerifyingKey>)>,
}

impl Enrollments {
    pub fn insert(&mut self, e: Enrolled) {
        let key = VerifyingKey::from_bytes(&e.key).ok();
        self.by_key.insert(e.key, (e.id.clone(), key));
        self.by_id.insert(e.id.clone(), e);
    }

    pub fn remove(&mut self, id: &str) -> Option<Enrolled> {
        let e = self.by_id.remove(id)?;
        self.by_key.remove(&e.key);
        Some(e)
    }

    pub fn get(&self, id: &str) -> Option<&Enrolled> {
        self.by_id.get(id)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    /// The node enrolled with `key`.
    pub fn node_of(&self, key: &[u8; 32]) -> Option<&str> {
        self.by_key.get(key).map(|(id, _)| id.as_str())
    }

    /// The node enrolled with `key`, and the key itself.
    fn node_key(&self, key: &[u8; 32]) -> Option<(String, Option<VerifyingKey>)> {
        self.by_key.get(key).cloned()
    }

    pub fn all(&self) -> impl Iterator<Item = &Enrolled> {
        self.by_id.values()
    }
}

/// Nonces seen within the window, oldest first.
#[derive(Debug, Default)]
struct Nonces {
    seen: HashSet<[u8; 16]>,
    order: VecDeque<(u64, [u8; 16])>,
}

/// The server's authentication state.
#[derive(Debug)]
pub struct Auth {
    operators: TrustedKeys,
    /// How far a request's timestamp may be from the server's clock, either way.
    skew_ms: u64,
    /// When this server started (unix ms): earlier timestamps are refused.
    started_ms: u64,
    nonces: Mutex<Nonces>,
    pub enrolled: Mutex<Enrollments>,
}

impl Auth {
    pub fn new(operators: TrustedKeys, skew_ms: u64, enrolled: Enrollments) -> Auth {
        Auth {
            operators,
            skew_ms,
            started_ms: crate::auth::now_ms(),
            nonces: Mutex::new(Nonces::default()),
            enrolled: Mutex::new(enrolled),
        }
    }

    /// Whether `key` is an operator key.
    pub fn is_operator(&self, key: &[u8; 32]) -> bool {
        self.operators.find(key).is_some()
    }

    /// Locks the enrollments (lock order: the server's model first, then this).
    pub fn enrolled(&self) -> MutexGuard<'_, Enrollments> {
        self.enrolled.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Checks the signature headers of `method path_and_query` at `now_ms`; returns who signed
    /// and the body's sha-256 they declared (the caller checks the body against it).
    pub fn verify(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &HeaderMap,
        now_ms: u64,
    ) -> Result<(Principal, String), Refusal> {
        let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let names = [KEY, TIMESTAMP, NONCE, CONTENT_SHA256, SIGNATURE];
        if names.iter().all(|n| headers.get(*n).is_none()) {
            return Err(unauthorized(
                "the request is not signed: operator actions need an operator key (`--key KEY` or `UPSTART_KEY`), node requests the node's enrolled key",
            ));
        }
        let missing: Vec<&str> = names.iter().copied().filter(|n| get(n).is_none()).collect();
        if !missing.is_empty() {
            return Err(unauthorized(format!(
                "the request's signature is incomplete: header `{}` is missing",
                missing.join("`, `")
            )));
        }
        let malformed =
            |name: &str| unauthorized(format!("the request's header `{name}` is malformed"));
        let key_bytes = get(KEY)
            .and_then(unhex::<32>)
            .ok_or_else(|| malformed(KEY))?;
        let timestamp: u64 = get(TIMESTAMP)
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| malformed(TIMESTAMP))?;
        let nonce = get(NONCE)
            .and_then(unhex::<16>)
            .ok_or_else(|| malformed(NONCE))?;
        let content = get(CONTENT_SHA256)
            .filter(|s| is_sha256_hex(s))
            .ok_or_else(|| malformed(CONTENT_SHA256))?
            .to_string();
        let signature = get(SIGNATURE)
            .and_then(unhex::<64>)
            .ok_or_else(|| malformed(SIGNATURE))?;
        let id = || {
            VerifyingKey::from_bytes(&key_bytes)
                .map(|k| key_id(&k))
                .unwrap_or_else(|_| hex(key_bytes.get(..8).unwrap_or_default()))
        };
        let (principal, key) = match self.operators.find(&key_bytes) {
            Some(key) => (Principal::Operator(key_id(key)), *key),
            None => match self.enrolled().node_key(&key_bytes) {
                Some((node, Some(key))) => (Principal::Node(node), key),
                Some((_, None)) => return Err(malformed(KEY)),
                None => {
                    return Err(unauthorized(format!(
                        "key `{}` is not enrolled and is not an operator key this server trusts: enroll a node with `upstart enroll`",
                        id()
                    )))
                }
            },
        };
        let message =
            crate::auth::message(method, path_and_query, &content, timestamp, &hex(&nonce));
        key.verify_strict(&message, &Signature::from_bytes(&signature))
            .map_err(|_| {
                unauthorized(format!(
                    "the request's signature does not verify with key `{}`: it was altered or signed for another request",
                    id()
                ))
            })?;
        let off = now_ms.abs_diff(timestamp);
        if off > self.skew_ms {
            return Err(unauthorized(format!(
                "the request was signed {off} ms away from the server's clock, more than the {} ms allowed: check the clocks and sign it again",
                self.skew_ms
            )));
        }
        if timestamp < self.started_ms {
            return Err(unauthorized(
                "the request was signed before the server started: sign it again",
            ));
        }
        self.remember(nonce, timestamp, now_ms)?;
        Ok((principal, content))
    }

    /// Records `nonce`, refusing one already seen.
    fn remember(&self, nonce: [u8; 16], timestamp: u64, now_ms: u64) -> Result<(), Refusal> {
        let mut n = self.nonces.lock().unwrap_or_else(|e| e.into_inner());
        // A nonce can be forgotten once its timestamp is out of the window for good.
        let horizon = now_ms.saturating_sub(self.skew_ms);
        while n.order.front().is_some_and(|(t, _)| *t < horizon) {
            if let Some((_, old)) = n.order.pop_front() {
                n.seen.remove(&old);
            }
        }
        if n.seen.contains(&nonce) {
            return Err(unauthorized(format!(
                "the request was already received (nonce `{}`): a replay is refused; sign a new request",
                hex(&nonce)
            )));
        }
        if n.seen.len() >= MAX_NONCES {
            return Err(Refusal {
                status: StatusCode::SERVICE_UNAVAILABLE,
                message: "too many signed requests in the replay window: try again shortly".into(),
            });
        }
        n.seen.insert(nonce);
        // Kept in timestamp order: a late timestamp goes to the back, an early one is kept
        // until the newest before it expires, which is never sooner than its own expiry.
        let at = timestamp.max(n.order.back().map_or(0, |b| b.0));
        n.order.push_back((at, nonce));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use ed25519_dalek::SigningKey;

    fn headers(h: Vec<(&'static str, String)>) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in h {
            map.insert(k, HeaderValue::from_str(&v).unwrap());
        }
        map
    }

    #[test]
    fn operators_nodes_strangers_replays_and_stale_requests() {
        let op = SigningKey::from_bytes(&[1; 32]);
        let node = SigningKey::from_bytes(&[2; 32]);
        let stranger = SigningKey::from_bytes(&[3; 32]);
        let mut enrolled = Enrollments::default();
        enrolled.insert(Enrolled {
            id: "n1".into(),
            key: node.verifying_key().to_bytes(),
            enrolled_at_ms: 0,
            enrolled_by: "x".into(),
        });
        let auth = Auth::new(TrustedKeys::new(vec![op.verifying_key()]), 30_000, enrolled);
        let now = crate::auth::now_ms();
        let sha = crate::digest::sha256_hex(b"");
        let sign = |k: &SigningKey, ts: u64, nonce: &str| {
            headers(crate::auth::headers_with(
                k, "POST", "/v1/x", &sha, ts, nonce,
            ))
        };
        let n1 = "0".repeat(32);
        let (who, _) = auth
            .verify("POST", "/v1/x", &sign(&op, now, &n1), now)
            .unwrap();
        assert!(matches!(who, Principal::Operator(_)));
        let e = auth
            .verify("POST", "/v1/x", &sign(&op, now, &n1), now)
            .unwrap_err();
        assert!(e.message.contains("already received"), "{e:?}");
        let (who, _) = auth
            .verify("POST", "/v1/x", &sign(&node, now, &"1".repeat(32)), now)
            .unwrap();
        assert_eq!(who, Principal::Node("n1".into()));
        let e = auth
            .verify("POST", "/v1/x", &sign(&stranger, now, &"2".repeat(32)), now)
            .unwrap_err();
        assert!(e.message.contains("is not enrolled"), "{e:?}");
        let e = auth
            .verify("POST", "/v1/y", &sign(&op, now, &"3".repeat(32)), now)
            .unwrap_err();
        assert!(e.message.contains("does not verify"), "{e:?}");
        let e = auth
            .verify(
                "POST",
                "/v1/x",
                &sign(&op, now - 60_000, &"4".repeat(32)),
                now,
            )
            .unwrap_err();
        assert!(
            e.message.contains("more than the 30000 ms allowed"),
            "{e:?}"
        );
        let e = auth
            .verify("POST", "/v1/x", &HeaderMap::new(), now)
            .unwrap_err();
        assert_eq!(e.status, StatusCode::UNAUTHORIZED);
        assert!(e.message.starts_with("the request is not signed"), "{e:?}");
        // Signed before this server started: its nonce may have been seen by the server that
        // ran before, so it is refused even within the window.
        let before = auth.started_ms - 1_000;
        let e = auth
            .verify("POST", "/v1/x", &sign(&op, before, &"6".repeat(32)), now)
            .unwrap_err();
        assert!(e.message.contains("before the server started"), "{e:?}");
        // Nonces expire with the window, so memory stays bounded.
        let later = now + 40_000;
        auth.verify("POST", "/v1/x", &sign(&op, later, &"5".repeat(32)), later)
            .unwrap();
        let n = auth.nonces.lock().unwrap();
        assert_eq!(n.seen.len(), 1);
    }
}
