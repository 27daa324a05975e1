//! Errors of loading a plugin ([`LoadError`]) and of calls across the plugin boundary
//! ([`CallError`], the ABI's own: the same type generated rules return).

use std::fmt;
use std::path::PathBuf;
pub use upstart_abi::CallError;
use upstart_abi::ENTRY_SYMBOL;

/// Why [`Plugin::load`](super::Plugin::load) refused a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    /// The file could not be opened as a dynamic library.
    Open { path: PathBuf, reason: String },
    /// The library does not export the entry point of this ABI.
    MissingEntry { path: PathBuf },
    /// The plugin's function table is of another ABI version.
    AbiMismatch {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
    /// The embedded manifest does not decode, or is not consistent.
    BadManifest { path: PathBuf, reason: String },
    /// The manifest is sound but not the one expected: `what` is one of the `Expect*` names in
    /// [`mismatch`].
    Mismatch {
        path: PathBuf,
        what: &'static str,
        found: String,
        expected: String,
    },
}

/// The values of [`LoadError::Mismatch`]'s `what`.
pub mod mismatch {
    /// The `upgrade NAME` of the spec.
    pub const NAME: &str = "upgrade name";
    /// The version the plugin upgrades from.
    pub const FROM: &str = "source version";
    /// The version the plugin upgrades to.
    pub const TO: &str = "target version";
    /// The sha-256 of the spec text.
    pub const SPEC_HASH: &str = "spec hash";
    /// The ABI version the manifest declares (as opposed to the function table's).
    pub const MANIFEST_ABI: &str = "manifest ABI version";
}

const REBUILD: &str = "rebuild it with `upstartc compile`";

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Open { path, reason } => write!(
                f,
                "cannot load plugin `{}`: {reason}; check the path, and that the file is a \
                 plugin built by `upstartc compile` for this platform",
                path.display()
            ),
            LoadError::MissingEntry { path } => write!(
                f,
                "`{}` is not a plugin this runtime can load: it does not export \
                 `{ENTRY_SYMBOL}` (it may be another library, or a plugin of another ABI \
                 version); {REBUILD}",
                path.display()
            ),
            LoadError::AbiMismatch {
                path,
                found,
                expected,
            } => write!(
                f,
                "plugin `{}` was built for ABI version {found}, this runtime speaks version \
                 {expected}: {REBUILD} from the same release as this runtime",
                path.display()
            ),
            LoadError::BadManifest { path, reason } => write!(
                f,
                "plugin `{}` has a malformed manifest: {reason}; {REBUILD}",
                path.display()
            ),
            LoadError::Mismatch {
                path,
                what,
                found,
                expected,
            } => {
                let hint = match *what {
                    mismatch::SPEC_HASH => {
                        "the spec changed since the plugin was built: rebuild it from the \
                         current spec with `upstartc compile`"
                    }
                    mismatch::MANIFEST_ABI => REBUILD,
                    _ => "it was built from another spec: use the plugin of this upgrade",
                };
                write!(
                    f,
                    "plugin `{}` has {what} `{found}`, expected `{expected}`: {hint}",
                    path.display()
                )
            }
        }
    }
}

impl std::error::Error for LoadError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi_mismatch_says_what_to_do() {
        let e = LoadError::AbiMismatch {
            path: "x.so".into(),
            found: 2,
            expected: 1,
        };
        let text = e.to_string();
        assert!(
            text.starts_with(
                "plugin `x.so` was built for ABI version 2, this runtime speaks version 1"
            ),
            "{text}"
        );
        assert!(text.contains("upstartc compile"), "{text}");
    }

    #[test]
    fn messages_are_lowercase_without_final_period() {
        let path = PathBuf::from("p.so");
        let all = [
            LoadError::Open {
                path: path.clone(),
                reason: "no such file".into(),
            },
            LoadError::MissingEntry { path: path.clone() },
            LoadError::AbiMismatch {
                path: path.clone(),
                found: 9,
                expected: 1,
            },
            LoadError::BadManifest {
                path: path.clone(),
                reason: "eof".into(),
            },
            LoadError::Mismatch {
                path,
                what: mismatch::SPEC_HASH,
                found: "ab".into(),
                expected: "cd".into(),
            },
        ];
        for e in all {
            let text = e.to_string();
            assert!(
                text.starts_with(|c: char| c.is_lowercase() || c == '`'),
                "{text}"
            );
            assert!(!text.ends_with('.'), "{text}");
            assert!(text.contains("`p.so`"), "{text}");
        }
    }
}
