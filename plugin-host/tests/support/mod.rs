//! What the plugin host's tests share: a node of the fixture's `Calc` service at any version,
//! for the plugins' delegate calls to reach.

use serde_json::Value;
use upstart_plugin_host::{CallError, NodeHost};

/// A node of `Calc` at `version`: 1 answers `double(n)`, 2 `add(a, b)`, 3 `sum(xs)`, every
/// version `echo(s)` (saying its version); records each call as `method args`.
#[derive(Debug)]
pub struct Node {
    pub version: u64,
    pub calls: Vec<String>,
}

impl Node {
    pub fn new(version: u64) -> Node {
        Node {
            version,
            calls: Vec::new(),
        }
    }
}

impl NodeHost for Node {
    fn call(&mut self, method: &str, args: &[u8]) -> Result<Vec<u8>, CallError> {
        self.calls
            .push(format!("{method} {}", String::from_utf8_lossy(args)));
        let args: Vec<Value> = serde_json::from_slice(args)
            .map_err(|e| CallError::BadInput(format!("arguments of `{method}`: {e}")))?;
        let int = |v: &Value| v.as_i64().unwrap_or_default();
        let value: Value = match (self.version, method, args.as_slice()) {
            (1, "double", [n]) => (2 * int(n)).into(),
            (2, "add", [a, b]) => (int(a) + int(b)).into(),
            (3, "sum", [xs]) => xs
                .as_array()
                .map(|xs| xs.iter().map(int).sum::<i64>())
                .into(),
            (_, "echo", [s]) => {
                format!("v{} says {}", self.version, s.as_str().unwrap_or("")).into()
            }
            _ => {
                return Err(CallError::Internal(format!(
                    "v{} has no `{method}`",
                    self.version
                )))
            }
        };
        Ok(value.to_string().into_bytes())
    }
}
