//! The one error of a call across the plugin boundary, on both sides: what a generated rule,
//! transform or invariant returns (`rt::RuleError`), and what the host reads back from a call
//! into a plugin or gives a delegate call (`CallError` of the plugin host). It crosses the
//! boundary as a [`Status`] and its message.

use crate::Status;
use std::fmt;

/// Why a call across the plugin boundary produced no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The call cannot be simulated across these versions (`disallow "reason"`); the reason is
    /// the spec's text.
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
    pub fn from_status(status: u32, data: Vec<u8>) -> Result<Vec<u8>, CallError> {
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
}
