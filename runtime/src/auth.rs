//! Signed requests: how operators and nodes prove who sends a request to the upgrade server.
//!
//! Every request that changes something carries five headers:
//!
//! | header | value |
//! | --- | --- |
//! | `x-upstart-key` | the sender's ed25519 public key, 64 hex digits |
//! | `x-upstart-timestamp` | the sender's clock, unix milliseconds |
//! | `x-upstart-nonce` | 32 hex digits, random, never reused |
//! | `x-upstart-content-sha256` | the sha-256 of the body, 64 hex digits |
//! | `x-upstart-signature` | 128 hex digits: ed25519 over [`message`] |
//!
//! The signed message binds the method, the path with its query, the body's hash, the
//! timestamp and the nonce, behind a context line so that a request signature is never
//! mistaken for a bundle signature made with the same key. The server accepts a timestamp
//! within its clock-skew window and each nonce once (see `server::auth`), so a captured
//! request cannot be replayed, altered, or sent to another endpoint.

use crate::digest::{hex, sha256_hex};
use ed25519_dalek::{Signer, SigningKey};
use std::fmt;

pub const KEY: &str = "x-upstart-key";
pub const TIMESTAMP: &str = "x-upstart-timestamp";
pub const NONCE: &str = "x-upstart-nonce";
pub const CONTENT_SHA256: &str = "x-upstart-content-sha256";
pub const SIGNATURE: &str = "x-upstart-signature";

/// Prefixed to every signed request.
pub const REQUEST_CONTEXT: &str = "upstart request v1";

/// The bytes a request signature covers.
pub fn message(
    method: &str,
    path_and_query: &str,
    content_sha256: &str,
    timestamp_ms: u64,
    nonce: &str,
) -> Vec<u8> {
    format!(
        "{REQUEST_CONTEXT}\n{method}\n{path_and_query}\n{content_sha256}\n{timestamp_ms}\n{nonce}"
    )
    .into_bytes()
}

/// The operating system gave no random bytes for a nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoRandomness(pub getrandom::Error);

impl fmt::Display for NoRandomness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the operating system gave no random bytes: {}", self.0)
    }
}

impl std::error::Error for NoRandomness {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// A fresh nonce: 16 random bytes as hex.
pub fn nonce() -> Result<String, NoRandomness> {
    let mut n = [0u8; 16];
    getrandom::fill(&mut n).map_err(NoRandomness)?;
    Ok(hex(&n))
}

/// The unix time in milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The headers that sign `method path_and_query` with a body of sha-256 `content_sha256`, at
/// `timestamp_ms` with `nonce`.
pub fn headers_with(
    key: &SigningKey,
    method: &str,
    path_and_query: &str,
    content_sha256: &str,
    timestamp_ms: u64,
    nonce: &str,
) -> Vec<(&'static str, String)> {
    let signature = key.sign(&message(
        method,
        path_and_query,
        content_sha256,
        timestamp_ms,
        nonce,
    ));
    vec![
        (KEY, hex(key.verifying_key().as_bytes())),
        (TIMESTAMP, timestamp_ms.to_string()),
        (NONCE, nonce.to_string()),
        (CONTENT_SHA256, content_sha256.to_string()),
        (SIGNATURE, hex(&signature.to_bytes())),
    ]
}

/// The headers that sign a request with `body`, now, with a fresh nonce.
pub fn headers(
    key: &SigningKey,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> Result<Vec<(&'static str, String)>, NoRandomness> {
    Ok(headers_with(
        key,
        method,
        path_and_query,
        &sha256_hex(body),
        now_ms(),
        &nonce()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signature, Verifier};

    #[test]
    fn the_signature_covers_every_part() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let h = headers_with(&key, "POST", "/v1/x?a=1", &"0".repeat(64), 7, "ab");
        let sig = crate::digest::unhex::<64>(&h[4].1).unwrap();
        let sig = Signature::from_bytes(&sig);
        let good = message("POST", "/v1/x?a=1", &"0".repeat(64), 7, "ab");
        assert!(key.verifying_key().verify(&good, &sig).is_ok());
        for bad in [
            message("GET", "/v1/x?a=1", &"0".repeat(64), 7, "ab"),
            message("POST", "/v1/x?a=2", &"0".repeat(64), 7, "ab"),
            message("POST", "/v1/x?a=1", &"1".repeat(64), 7, "ab"),
            message("POST", "/v1/x?a=1", &"0".repeat(64), 8, "ab"),
            message("POST", "/v1/x?a=1", &"0".repeat(64), 7, "ac"),
        ] {
            assert!(key.verifying_key().verify(&bad, &sig).is_err());
        }
    }

    #[test]
    fn no_randomness_gives_the_getrandom_error_as_its_source() {
        use std::error::Error;
        let e = NoRandomness(getrandom::Error::UNSUPPORTED);
        assert!(
            e.to_string()
                .starts_with("the operating system gave no random bytes: "),
            "{e}"
        );
        let source = e.source().unwrap().downcast_ref::<getrandom::Error>();
        assert_eq!(source, Some(&getrandom::Error::UNSUPPORTED));
    }
}
