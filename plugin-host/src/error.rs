//! Errors of loading a plugin ([`LoadError`]) and of calls across the plugin boundary
//! ([`CallError`], the host-side view of the ABI's `Status`).

use std::fmt;
use std::path::PathBuf;
use upstart_abi::{Status, ENTRY_SYMBOL};

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

/// Why a call into a plugin (or a delegate call back to the host) produced no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The call cannot be simulated across these versions; the reason is the spec's text.
    Disallowed(String),
    /// The arguments or state did not decode, or failed at run time (missing key, overflow).
    BadInput(String),
    /// A bug: a panic was caught, or the plugin and host disagree.
    Internal(String),
}

impl CallError {
    /// The ABI status this error crosses the boundary as.
    pub fn status(&self) -> Status {
        match self {
            CallError::Disallowed(_) => Status::Disallowed,
            CallError::BadInput(_) => Status::BadInput,
            CallError::Internal(_) => Status::Internal,
        }
    }

    /// The reason or message, without the kind.
    pub fn message(&self) -> &str {
        match self {
            CallError::Disallowed(m) | CallError::BadInput(m) | CallError::Internal(m) => m,
        }
    }

    /// Takes the reason or message, without the kind.
    pub fn into_message(self) -> String {
        match self {
            CallError::Disallowed(m) | CallError::BadInput(m) | CallError::Internal(m) => m,
        }
    }

    /// Reads a result that crossed the boundary: its raw status and its (copied) bytes.
    pub(crate) fn from_status(status: u32, data: Vec<u8>) -> Result<Vec<u8>, CallError> {
        let text = || String::from_utf8_lossy(&data).into_owned();
        match status {
            s if s == Status::Ok as u32 => Ok(data),
            s if s == Status::Disallowed as u32 => Err(CallError::Disallowed(text())),
            s if s == Status::BadInput as u32 => Err(CallError::BadInput(text())),
            s if s == Status::Internal as u32 => Err(CallError::Internal(text())),
            other => Err(CallError::Internal(format!(
                "unknown status {other}: {}",
                text()
            ))),
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Disallowed(m) => write!(f, "disallowed: {m}"),
            CallError::BadInput(m) => write!(f, "bad input: {m}"),
            CallError::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl std::error::Error for CallError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip() {
        for e in [
            CallError::Disallowed("no".into()),
            CallError::BadInput("bad".into()),
            CallError::Internal("bug".into()),
        ] {
            let back = CallError::from_status(e.status() as u32, e.message().as_bytes().to_vec());
            assert_eq!(back, Err(e));
        }
        assert_eq!(CallError::from_status(0, b"1".to_vec()), Ok(b"1".to_vec()));
    }

    #[test]
    fn unknown_status_is_internal() {
        let e = CallError::from_status(42, b"what".to_vec());
        assert_eq!(
            e,
            Err(CallError::Internal("unknown status 42: what".into()))
        );
    }

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
