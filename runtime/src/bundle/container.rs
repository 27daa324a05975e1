//! The bundle container: one file holding the signed manifest and the files it lists.
//!
//! Layout (integers big-endian):
//!
//! | bytes | content |
//! | --- | --- |
//! | 8 | magic `UPSTBNDL` |
//! | 4 | container format, [`CONTAINER_FORMAT`] |
//! | 4 | manifest length `M` (at most [`Limits::max_manifest`]) |
//! | `M` | the manifest's canonical JSON |
//! | 32 | the signer's ed25519 public key |
//! | 64 | the ed25519 signature of [`SIGNING_CONTEXT`] followed by the manifest bytes |
//! | ... | each file of the manifest in its order, exactly `size` bytes, nothing between |
//!
//! Nothing may follow the last file. Everything up to the signature is the *header*: the store
//! keeps it as is, and nodes download it to verify a bundle end to end.

use super::error::BundleError;
use super::keys::{key_id, TrustedKeys};
use super::manifest::BundleManifest;
use super::Limits;
use crate::digest::sha256_hex;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use std::io::{ErrorKind, Read};

/// The first 8 bytes of every bundle.
pub const MAGIC: &[u8; 8] = b"UPSTBNDL";
/// The container format this runtime writes and reads.
pub const CONTAINER_FORMAT: u32 = 1;
/// Prefixed to the manifest bytes before signing, so a bundle signature cannot be mistaken for
/// a signature of anything else.
pub const SIGNING_CONTEXT: &[u8] = b"upstart bundle manifest v1\n";

/// A manifest with its exact bytes and signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedManifest {
    pub manifest: BundleManifest,
    /// The canonical bytes that were signed.
    pub manifest_bytes: Vec<u8>,
    pub public_key: [u8; 32],
    pub signature: [u8; 64],
}

impl SignedManifest {
    /// Signs `manifest` with `key`.
    pub fn sign(manifest: BundleManifest, key: &SigningKey) -> SignedManifest {
        let manifest_bytes = manifest.canonical_bytes();
        let signature = key.sign(&signed_message(&manifest_bytes)).to_bytes();
        SignedManifest {
            manifest,
            manifest_bytes,
            public_key: key.verifying_key().to_bytes(),
            signature,
        }
    }

    /// The bundle's id: the sha-256 of its manifest bytes (the manifest names every file by
    /// content, so this addresses the whole bundle).
    pub fn id(&self) -> String {
        sha256_hex(&self.manifest_bytes)
    }

    /// The id of the key that signed it.
    pub fn key_id(&self) -> String {
        VerifyingKey::from_bytes(&self.public_key)
            .map(|k| key_id(&k))
            .unwrap_or_else(|_| crate::digest::hex(self.public_key.get(..8).unwrap_or(&[])))
    }

    /// The header: magic, format, manifest, public key and signature.
    pub fn header_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 4 + 4 + self.manifest_bytes.len() + 96);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&CONTAINER_FORMAT.to_be_bytes());
        let len = u32::try_from(self.manifest_bytes.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&self.manifest_bytes);
        out.extend_from_slice(&self.public_key);
        out.extend_from_slice(&self.signature);
        out
    }

    /// Reads a header from `r`, and accepts it only if a trusted key signed it and its manifest
    /// is well formed.
    pub fn read_verified(
        r: &mut impl Read,
        trust: &TrustedKeys,
        limits: &Limits,
    ) -> Result<SignedManifest, BundleError> {
        let mut magic = [0u8; 8];
        read_exact(r, &mut magic, "its magic")?;
        if &magic != MAGIC {
            return Err(BundleError::NotABundle);
        }
        let format = read_u32(r, "its format number")?;
        if format != CONTAINER_FORMAT {
            return Err(BundleError::UnsupportedFormat {
                found: format,
                supported: CONTAINER_FORMAT,
            });
        }
        let len = u64::from(read_u32(r, "the manifest length")?);
        if len > limits.max_manifest {
            return Err(BundleError::Oversized {
                what: "the bundle's manifest".into(),
                size: len,
                limit: limits.max_manifest,
            });
        }
        let mut manifest_bytes = vec![0u8; usize::try_from(len).unwrap_or(0)];
        read_exact(r, &mut manifest_bytes, "the manifest")?;
        let mut public_key = [0u8; 32];
        read_exact(r, &mut public_key, "the signer's key")?;
        let mut signature = [0u8; 64];
        read_exact(r, &mut signature, "the signature")?;
        verify_signature(&manifest_bytes, &public_key, &signature, trust)?;
        let manifest = BundleManifest::parse(&manifest_bytes, limits)?;
        Ok(SignedManifest {
            manifest,
            manifest_bytes,
            public_key,
            signature,
        })
    }

    /// [`read_verified`](Self::read_verified) on header bytes, which must hold nothing more.
    pub fn from_header_bytes(
        bytes: &[u8],
        trust: &TrustedKeys,
        limits: &Limits,
    ) -> Result<SignedManifest, BundleError> {
        let mut r = bytes;
        let signed = SignedManifest::read_verified(&mut r, trust, limits)?;
        if !r.is_empty() {
            return Err(BundleError::TrailingData);
        }
        Ok(signed)
    }
}

fn signed_message(manifest_bytes: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(SIGNING_CONTEXT.len() + manifest_bytes.len());
    message.extend_from_slice(SIGNING_CONTEXT);
    message.extend_from_slice(manifest_bytes);
    message
}

/// Refuses unless `public_key` is trusted and signed `manifest_bytes` with `signature`.
fn verify_signature(
    manifest_bytes: &[u8],
    public_key: &[u8; 32],
    signature: &[u8; 64],
    trust: &TrustedKeys,
) -> Result<(), BundleError> {
    let Some(key) = trust.find(public_key) else {
        let id = VerifyingKey::from_bytes(public_key)
            .map(|k| key_id(&k))
            .unwrap_or_else(|_| sha256_hex(public_key).chars().take(16).collect());
        return Err(BundleError::UnknownKey { key_id: id });
    };
    let signature = Signature::from_bytes(signature);
    key.verify_strict(&signed_message(manifest_bytes), &signature)
        .map_err(|_| BundleError::BadSignature {
            key_id: key_id(key),
        })
}

pub(crate) fn read_exact(r: &mut impl Read, buf: &mut [u8], what: &str) -> Result<(), BundleError> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        ErrorKind::UnexpectedEof => BundleError::Truncated {
            what: what.to_string(),
        },
        _ => BundleError::io("the bundle", "read", e),
    })
}

fn read_u32(r: &mut impl Read, what: &str) -> Result<u32, BundleError> {
    let mut b = [0u8; 4];
    read_exact(r, &mut b, what)?;
    Ok(u32::from_be_bytes(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::manifest::tests::manifest;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn trust(k: &SigningKey) -> TrustedKeys {
        TrustedKeys::new(vec![k.verifying_key()])
    }

    #[test]
    fn header_round_trips() {
        let k = key(7);
        let signed = SignedManifest::sign(manifest(), &k);
        let header = signed.header_bytes();
        let back = SignedManifest::from_header_bytes(&header, &trust(&k), &Limits::default());
        assert_eq!(back.unwrap(), signed);
        assert_eq!(signed.id().len(), 64);
        assert_eq!(signed.key_id().len(), 16);
    }

    #[test]
    fn every_flipped_bit_of_the_header_is_refused() {
        let k = key(7);
        let header = SignedManifest::sign(manifest(), &k).header_bytes();
        for i in 0..header.len() {
            let mut bad = header.clone();
            bad[i] ^= 0x10;
            let r = SignedManifest::from_header_bytes(&bad, &trust(&k), &Limits::default());
            assert!(r.is_err(), "a flip at byte {i} was accepted");
        }
    }

    #[test]
    fn unknown_key_and_bad_signature() {
        let k = key(7);
        let signed = SignedManifest::sign(manifest(), &k);
        let header = signed.header_bytes();
        let other = trust(&key(8));
        let e = SignedManifest::from_header_bytes(&header, &other, &Limits::default());
        assert!(matches!(e, Err(BundleError::UnknownKey { .. })), "{e:?}");
        let mut tampered = signed.clone();
        tampered.manifest_bytes = manifest()
            .canonical_bytes()
            .replace_first(b"\"kv\"", b"\"kw\"");
        let e = SignedManifest::from_header_bytes(
            &tampered.header_bytes(),
            &trust(&k),
            &Limits::default(),
        );
        assert!(matches!(e, Err(BundleError::BadSignature { .. })), "{e:?}");
    }

    #[test]
    fn truncations_say_where() {
        let k = key(7);
        let header = SignedManifest::sign(manifest(), &k).header_bytes();
        for len in 0..header.len() {
            let e = SignedManifest::from_header_bytes(
                header.get(..len).unwrap(),
                &trust(&k),
                &Limits::default(),
            )
            .unwrap_err();
            assert!(matches!(e, BundleError::Truncated { .. }), "{len}: {e:?}");
        }
    }

    #[test]
    fn oversized_manifest_is_refused_before_reading() {
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(&CONTAINER_FORMAT.to_be_bytes());
        header.extend_from_slice(&u32::MAX.to_be_bytes());
        let e =
            SignedManifest::from_header_bytes(&header, &TrustedKeys::default(), &Limits::default())
                .unwrap_err();
        assert!(matches!(e, BundleError::Oversized { .. }), "{e:?}");
        assert!(
            e.to_string()
                .starts_with("the bundle's manifest is 4294967295 bytes"),
            "{e}"
        );
    }

    #[test]
    fn wrong_magic_and_format() {
        let e = SignedManifest::from_header_bytes(
            b"PK\x03\x04xxxxxxxxxxxx",
            &TrustedKeys::default(),
            &Limits::default(),
        );
        assert!(matches!(e, Err(BundleError::NotABundle)), "{e:?}");
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(&2u32.to_be_bytes());
        let e =
            SignedManifest::from_header_bytes(&header, &TrustedKeys::default(), &Limits::default());
        assert!(
            matches!(e, Err(BundleError::UnsupportedFormat { found: 2, .. })),
            "{e:?}"
        );
    }

    trait ReplaceFirst {
        fn replace_first(self, from: &[u8], to: &[u8]) -> Vec<u8>;
    }

    impl ReplaceFirst for Vec<u8> {
        fn replace_first(self, from: &[u8], to: &[u8]) -> Vec<u8> {
            let at = self.windows(from.len()).position(|w| w == from).unwrap();
            let mut out = self[..at].to_vec();
            out.extend_from_slice(to);
            out.extend_from_slice(&self[at + from.len()..]);
            out
        }
    }
}
