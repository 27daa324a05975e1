//! What a loaded plugin must be: its manifest decodes and is consistent, and matches what the
//! caller [`Expect`]s (upgrade name, versions, spec hash).

use super::error::{mismatch, LoadError};
use std::path::Path;
use upstart_abi::manifest::Manifest;
use upstart_abi::ABI_VERSION;

/// What the caller knows about the plugin it loads; `None` accepts anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expect {
    /// The `upgrade NAME` of the spec.
    pub name: Option<String>,
    /// The version the plugin upgrades from.
    pub from: Option<u64>,
    /// The version the plugin upgrades to.
    pub to: Option<u64>,
    /// The sha-256 of the spec text, hex (see [`spec_hash`](super::spec_hash)).
    pub spec_hash: Option<String>,
}

impl Expect {
    /// Refuses `manifest` (of the plugin at `path`) unless it is what `self` describes.
    pub fn check(&self, path: &Path, manifest: &Manifest) -> Result<(), LoadError> {
        let m = manifest;
        let hash = |expected: &String, found: &String| found.eq_ignore_ascii_case(expected.trim());
        let spec_hash = self.spec_hash.as_ref();
        field(mismatch::NAME, self.name.as_ref(), &m.name, String::eq)
            .and_then(|()| field(mismatch::FROM, self.from.as_ref(), &m.from, u64::eq))
            .and_then(|()| field(mismatch::TO, self.to.as_ref(), &m.to, u64::eq))
            .and_then(|()| field(mismatch::SPEC_HASH, spec_hash, &m.spec_hash, hash))
            .map_err(|(what, found, expected)| LoadError::Mismatch {
                path: path.to_path_buf(),
                what,
                found,
                expected,
            })
    }
}

/// One expectation of [`Expect::check`]: unset, or `matches(expected, found)`; else the
/// mismatch `(what, found, expected)`.
fn field<T: ToString>(
    what: &'static str,
    expected: Option<&T>,
    found: &T,
    matches: impl Fn(&T, &T) -> bool,
) -> Result<(), (&'static str, String, String)> {
    match expected {
        Some(expected) if !matches(expected, found) => {
            Err((what, found.to_string(), expected.to_string()))
        }
        _ => Ok(()),
    }
}

/// Decodes a plugin's manifest and checks it is consistent with this runtime: its ABI version,
/// and versions that go upward.
pub(crate) fn parse_manifest(path: &Path, json: &[u8]) -> Result<Manifest, LoadError> {
    let bad = |reason: String| LoadError::BadManifest {
        path: path.to_path_buf(),
        reason,
    };
    let manifest: Manifest = serde_json::from_slice(json).map_err(|e| bad(e.to_string()))?;
    if manifest.abi_version != ABI_VERSION {
        return Err(LoadError::Mismatch {
            path: path.to_path_buf(),
            what: mismatch::MANIFEST_ABI,
            found: manifest.abi_version.to_string(),
            expected: ABI_VERSION.to_string(),
        });
    }
    if manifest.from >= manifest.to {
        return Err(bad(format!(
            "it upgrades `{}` from version {} to version {}, which is not upward",
            manifest.name, manifest.from, manifest.to
        )));
    }
    Ok(manifest)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `kv 1 -> 2` with no rules (other modules' tests start from it too).
    pub(crate) fn manifest() -> Manifest {
        Manifest {
            abi_version: ABI_VERSION,
            name: "kv".into(),
            from: 1,
            to: 2,
            spec_hash: "ab12".into(),
            framing: "lines".into(),
            old: Vec::new(),
            new: Vec::new(),
            past: Vec::new(),
            future: Vec::new(),
            disallowed: Vec::new(),
            schedule: Vec::new(),
            reverse_transform: false,
            past_one_call: Vec::new(),
            future_one_call: Vec::new(),
            old_state: None,
            new_state: None,
        }
    }

    fn json(m: &Manifest) -> Vec<u8> {
        serde_json::to_vec(m).unwrap()
    }

    #[test]
    fn nothing_expected_accepts_all() {
        assert_eq!(
            Expect::default().check(Path::new("p.so"), &manifest()),
            Ok(())
        );
    }

    #[test]
    fn everything_expected_and_found() {
        let expect = Expect {
            name: Some("kv".into()),
            from: Some(1),
            to: Some(2),
            spec_hash: Some("AB12".into()),
        };
        assert_eq!(expect.check(Path::new("p.so"), &manifest()), Ok(()));
    }

    #[test]
    fn each_mismatch_names_what() {
        let path = Path::new("p.so");
        let m = manifest();
        let cases = [
            (
                Expect {
                    name: Some("db".into()),
                    ..Expect::default()
                },
                mismatch::NAME,
            ),
            (
                Expect {
                    from: Some(2),
                    ..Expect::default()
                },
                mismatch::FROM,
            ),
            (
                Expect {
                    to: Some(3),
                    ..Expect::default()
                },
                mismatch::TO,
            ),
            (
                Expect {
                    spec_hash: Some("ff".into()),
                    ..Expect::default()
                },
                mismatch::SPEC_HASH,
            ),
        ];
        for (expect, want) in cases {
            match expect.check(path, &m) {
                Err(LoadError::Mismatch { what, .. }) => assert_eq!(what, want),
                other => panic!("{want}: {other:?}"),
            }
        }
    }

    #[test]
    fn spec_hash_mismatch_message() {
        let expect = Expect {
            spec_hash: Some("ff".into()),
            ..Expect::default()
        };
        let text = expect
            .check(Path::new("p.so"), &manifest())
            .unwrap_err()
            .to_string();
        assert_eq!(
            text,
            "plugin `p.so` has spec hash `ab12`, expected `ff`: the spec changed since the plugin \
             was built: rebuild it from the current spec with `upstartc compile`"
        );
    }

    #[test]
    fn parses_a_good_manifest() {
        let m = manifest();
        assert_eq!(parse_manifest(Path::new("p.so"), &json(&m)), Ok(m));
    }

    #[test]
    fn garbage_is_a_bad_manifest() {
        let e = parse_manifest(Path::new("p.so"), b"{\"name\": 1").unwrap_err();
        assert!(matches!(e, LoadError::BadManifest { .. }), "{e:?}");
        assert!(
            e.to_string()
                .starts_with("plugin `p.so` has a malformed manifest: "),
            "{e}"
        );
    }

    #[test]
    fn manifest_abi_must_match() {
        let m = Manifest {
            abi_version: ABI_VERSION + 1,
            ..manifest()
        };
        let e = parse_manifest(Path::new("p.so"), &json(&m)).unwrap_err();
        assert!(
            matches!(
                e,
                LoadError::Mismatch {
                    what: mismatch::MANIFEST_ABI,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn versions_must_go_upward() {
        let m = Manifest {
            from: 2,
            to: 2,
            ..manifest()
        };
        let e = parse_manifest(Path::new("p.so"), &json(&m)).unwrap_err();
        assert!(
            e.to_string()
                .contains("from version 2 to version 2, which is not upward"),
            "{e}"
        );
    }
}
