//! What a bundle says about running its new version's program, signed with the rest of the
//! manifest: its command line (a template, see [`super::exec`]), the signal that stops it, and
//! the health probe nodes check it with (method, params, and whether an error answer counts as
//! healthy). What a bundle does not say, each node takes from its own flags.

use super::error::BundleError;
use super::exec::Template;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// The longest method name a probe may declare.
const MAX_METHOD: usize = 200;

/// How nodes run and check the bundle's program.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramSpec {
    /// The command-line template (absent: the node's `--exec`, or the `--binary` convention).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<String>,
    /// The signal that asks the program to stop (`TERM`, `INT`, ...; absent: the node's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// The health probe of the new version (absent: the node's `--health-*` flags).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthProbe>,
}

/// A health probe: one JSON-RPC call `method(params)` on a fresh connection to the program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthProbe {
    pub method: String,
    pub params: Value,
    /// Whether an error answer counts as healthy (it proves the program reads and answers, not
    /// that it works); a result always does.
    pub errors_healthy: bool,
}

impl HealthProbe {
    /// A probe of `method` with `params` where an error answer is unhealthy.
    pub fn new(method: &str, params: Value) -> HealthProbe {
        HealthProbe {
            method: method.to_string(),
            params,
            errors_healthy: false,
        }
    }
}

impl ProgramSpec {
    /// Whether it declares nothing (then it is left out of the manifest).
    pub fn is_empty(&self) -> bool {
        self.health.is_none() && self.exec.is_none() && self.stop_signal.is_none()
    }

    /// Checks the declared fields.
    pub fn validate(&self) -> Result<(), BundleError> {
        if let Some(exec) = &self.exec {
            let template =
                Template::parse(exec).map_err(|e| BundleError::garbled(e.to_string()))?;
            if !template.uses_port() {
                return Err(BundleError::garbled(format!(
                    "its command template `{exec}` tells the program no port (`{{port}}` or `{{addr}}`)"
                )));
            }
        }
        if let Some(signal) = &self.stop_signal {
            parse_signal(signal).map_err(|e| BundleError::garbled(e.to_string()))?;
        }
        if let Some(h) = &self.health {
            if h.method.is_empty() || h.method.len() > MAX_METHOD {
                return Err(BundleError::garbled(format!(
                    "its health probe's method must have 1 to {MAX_METHOD} bytes"
                )));
            }
            if !(h.params.is_object() || h.params.is_array()) {
                return Err(BundleError::garbled(format!(
                    "its health probe's params `{}` are neither an object nor an array",
                    h.params
                )));
            }
        }
        Ok(())
    }
}

/// The signals a program may be asked to stop with.
pub const STOP_SIGNALS: [&str; 7] = ["TERM", "INT", "QUIT", "HUP", "USR1", "USR2", "KILL"];

/// A command-line or manifest value of a program setting that is not one of its choices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgramValueError {
    /// Not one of [`STOP_SIGNALS`] (with or without `SIG`, in any case).
    NotASignal { text: String },
    /// Neither `healthy` nor `unhealthy`.
    NotHealthyOrUnhealthy { text: String },
}

impl fmt::Display for ProgramValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProgramValueError::NotASignal { text } => write!(
                f,
                "`{text}` is not a stop signal\n  help: one of {}",
                STOP_SIGNALS.join(", ")
            ),
            ProgramValueError::NotHealthyOrUnhealthy { text } => write!(
                f,
                "`{text}` is not `healthy` or `unhealthy` (what an error answer to the probe \
                 counts as)"
            ),
        }
    }
}

/// It wraps no other error.
impl std::error::Error for ProgramValueError {}

/// A stop signal's name (`TERM`, `SIGINT`, `int`): its canonical name (`TERM`, `INT`).
pub fn parse_signal(text: &str) -> Result<String, ProgramValueError> {
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    STOP_SIGNALS
        .iter()
        .find(|s| **s == name)
        .map(|s| s.to_string())
        .ok_or_else(|| ProgramValueError::NotASignal { text: text.into() })
}

/// `healthy` or `unhealthy`: what an error answer to a probe counts as (a command-line value).
pub fn parse_errors(text: &str) -> Result<bool, ProgramValueError> {
    match text {
        "healthy" => Ok(true),
        "unhealthy" => Ok(false),
        _ => Err(ProgramValueError::NotHealthyOrUnhealthy { text: text.into() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_are_checked() {
        let ok = ProgramSpec {
            health: Some(HealthProbe::new("ping", serde_json::json!([]))),
            exec: Some("python3 {program} --port {port}".into()),
            stop_signal: Some("INT".into()),
        };
        ok.validate().unwrap();
        let mut bad = ok.clone();
        if let Some(h) = &mut bad.health {
            h.method.clear();
        }
        assert!(bad.validate().unwrap_err().to_string().contains("method"));
        let mut bad = ok;
        if let Some(h) = &mut bad.health {
            h.params = serde_json::json!(3);
        }
        assert!(bad.validate().unwrap_err().to_string().contains("`3`"));
        assert!(ProgramSpec::default().is_empty());
        let no_port = ProgramSpec {
            exec: Some("app --state {state}".into()),
            ..ProgramSpec::default()
        };
        assert!(no_port
            .validate()
            .unwrap_err()
            .to_string()
            .contains("no port"));
        let bad = ProgramSpec {
            exec: Some("app {nope}".into()),
            ..ProgramSpec::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("`{nope}`"));
        let bad = ProgramSpec {
            stop_signal: Some("STOP".into()),
            ..ProgramSpec::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("`STOP`"));
        assert_eq!(parse_signal("sigint").unwrap(), "INT");
        assert_eq!(parse_errors("healthy"), Ok(true));
        assert!(parse_errors("maybe")
            .unwrap_err()
            .to_string()
            .contains("`maybe`"));
    }

    #[test]
    fn value_errors_name_the_value_and_wrap_nothing() {
        use std::error::Error;
        let e = parse_signal("STOP").unwrap_err();
        assert_eq!(
            e.to_string(),
            "`STOP` is not a stop signal\n  help: one of TERM, INT, QUIT, HUP, USR1, USR2, KILL"
        );
        assert!(e.source().is_none());
        let e = parse_errors("maybe").unwrap_err();
        assert_eq!(
            e.to_string(),
            "`maybe` is not `healthy` or `unhealthy` (what an error answer to the probe counts as)"
        );
        assert!(e.source().is_none());
    }
}
