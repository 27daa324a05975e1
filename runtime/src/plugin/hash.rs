//! The content hash that ties a plugin to the spec it was built from: the manifest's
//! `spec_hash`, sha-256 of the spec text in lowercase hex.

use sha2::{Digest, Sha256};
use std::fmt::Write;

/// The sha-256 of `spec_text` in lowercase hex, as plugin manifests carry it.
pub fn spec_hash(spec_text: &[u8]) -> String {
    let digest = Sha256::digest(spec_text);
    let mut hex = String::with_capacity(64);
    for byte in digest.iter() {
        // Writing to a `String` cannot fail.
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        assert_eq!(
            spec_hash(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            spec_hash(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
