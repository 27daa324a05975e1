//! The content hash that ties a plugin to the spec it was built from: the manifest's
//! `spec_hash`, sha-256 of the spec text in lowercase hex.

/// The sha-256 of `spec_text` in lowercase hex, as plugin manifests carry it.
pub fn spec_hash(spec_text: &[u8]) -> String {
    crate::digest::sha256_hex(spec_text)
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
