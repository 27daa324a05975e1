//! The workload's calls, as `upstartc workload SPEC... --seed N --json` derives them from the
//! specs (`node` never links the compiler), and the client that makes them: one JSON-RPC call
//! per line over TCP to a node's port pinned to the caller's version.
//!
//! A call whose connection closes before its answer (a node stops for an upgrade, its program
//! crashes) is sent again on a new connection, which the shim holds until the node serves
//! again; such calls are counted as resent, not failed. An error answer flagged
//! `data.disallowed` is a declared `disallow` of the spec; any other error, or no answer within
//! the call timeout, is a failure.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What `upstartc workload --json` prints.
#[derive(Debug, Clone, Deserialize)]
pub struct Workload {
    pub system: String,
    pub versions: Vec<VersionWorkload>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct VersionWorkload {
    pub version: u64,
    pub calls: Vec<Call>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    pub method: String,
    pub params: Value,
}

/// What `upstartc {command}` printed (its JSON), once it finished: its errors if it failed.
pub(crate) fn printed<T: serde::de::DeserializeOwned>(
    command: &str,
    out: &std::process::Output,
) -> Result<T, String> {
    if !out.status.success() {
        return Err(format!(
            "`upstartc {command}` failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("`upstartc {command}` printed no {command}: {e}"))
}

impl Workload {
    /// Runs `upstartc workload` on `specs`.
    pub fn derive(
        upstartc: &Path,
        specs: &[&Path],
        seed: u64,
        calls: usize,
    ) -> Result<Workload, String> {
        let out = Command::new(upstartc)
            .arg("workload")
            .args(specs)
            .args([
                "--seed",
                &seed.to_string(),
                "--calls",
                &calls.to_string(),
                "--json",
            ])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run `{}`: {e}", upstartc.display()))?;
        printed("workload", &out)
    }

    /// The calls of `version` (none when the chain has no such version).
    pub fn calls(&self, version: u64) -> &[Call] {
        self.versions
            .iter()
            .find(|v| v.version == version)
            .map_or(&[], |v| v.calls.as_slice())
    }

    /// The versions of the chain, oldest first.
    pub fn chain(&self) -> Vec<u64> {
        self.versions.iter().map(|v| v.version).collect()
    }
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "value")]
pub enum Answer {
    /// The `result`.
    Ok(Value),
    /// A declared `disallow` of the spec: its message.
    Disallowed(String),
    /// Anything else: an error answer, no answer, no connection.
    Failed(String),
}

/// A call's answer and how many times it was sent again after its connection closed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Made {
    pub answer: Answer,
    pub resent: u32,
}

/// Makes `call` at `addr`, sending it again on a new connection while connections close
/// before the answer, for at most `timeout`.
pub fn make(addr: SocketAddr, call: &Call, id: u64, timeout: Duration) -> Made {
    let deadline = Instant::now() + timeout;
    let request = json!({"jsonrpc": "2.0", "id": id, "method": call.method, "params": call.params});
    let mut line = request.to_string();
    line.push('\n');
    let mut resent = 0;
    loop {
        match once(addr, line.as_bytes(), deadline) {
            // The shim's "node unavailable" (the program stopped or crashed under a call it
            // translated) is what a closed connection is to a same-version caller: send again.
            Ok(answer) if unavailable(&answer) && Instant::now() < deadline => {
                resent += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(answer) => {
                return Made {
                    answer: classify(&answer),
                    resent,
                }
            }
            Err(Attempt::Closed(e)) | Err(Attempt::Refused(e)) => {
                if Instant::now() >= deadline {
                    return Made {
                        answer: Answer::Failed(format!(
                            "no answer within {} s: {e}",
                            timeout.as_secs()
                        )),
                        resent,
                    };
                }
                resent += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(Attempt::Bad(e)) => {
                return Made {
                    answer: Answer::Failed(e),
                    resent,
                }
            }
        }
    }
}

enum Attempt {
    /// No connection (the shim is restarting with its agent): try again.
    Refused(String),
    /// The connection closed before the answer: send again.
    Closed(String),
    /// An answer that is not JSON-RPC, or the deadline passed on an open connection.
    Bad(String),
}

fn once(addr: SocketAddr, line: &[u8], deadline: Instant) -> Result<Value, Attempt> {
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    let mut s =
        TcpStream::connect_timeout(&addr, left).map_err(|e| Attempt::Refused(e.to_string()))?;
    let _ = s.set_read_timeout(Some(left));
    s.write_all(line)
        .map_err(|e| Attempt::Closed(e.to_string()))?;
    let mut answer = String::new();
    let read = BufReader::new(s).read_line(&mut answer);
    match read {
        Ok(0) => Err(Attempt::Closed("the connection closed".into())),
        Ok(_) => serde_json::from_str(&answer)
            .map_err(|e| Attempt::Bad(format!("not JSON-RPC ({e}): {answer:?}"))),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Err(Attempt::Bad(format!(
                "no answer within the call timeout: {e}"
            )))
        }
        Err(e) => Err(Attempt::Closed(e.to_string())),
    }
}

/// The shim's code for a node that could not be reached or closed the connection mid-call.
const NODE_UNAVAILABLE: i64 = -32002;

fn unavailable(answer: &Value) -> bool {
    answer
        .get("error")
        .and_then(|e| e.get("code"))
        .and_then(Value::as_i64)
        == Some(NODE_UNAVAILABLE)
}

fn classify(answer: &Value) -> Answer {
    if let Some(e) = answer.get("error") {
        let disallowed = e
            .get("data")
            .and_then(|d| d.get("disallowed"))
            .and_then(Value::as_bool)
            == Some(true);
        let message = e
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if disallowed {
            Answer::Disallowed(message)
        } else {
            Answer::Failed(format!("error answer {e}"))
        }
    } else {
        Answer::Ok(answer.get("result").cloned().unwrap_or(Value::Null))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use std::net::TcpListener;

    /// A server that closes the first connection unanswered, then answers `answer`.
    fn flaky(answer: &'static str) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            for (i, s) in l.incoming().enumerate().take(2) {
                let mut s = s.unwrap();
                let mut line = String::new();
                BufReader::new(s.try_clone().unwrap())
                    .read_line(&mut line)
                    .unwrap();
                if i == 1 {
                    s.write_all(answer.as_bytes()).unwrap();
                }
            }
        });
        addr
    }

    fn call() -> Call {
        Call {
            method: "get".into(),
            params: json!({"key": "a"}),
        }
    }

    #[test]
    fn a_closed_connection_is_resent_and_answers_are_classified() {
        let addr = flaky("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"x\"}\n");
        let m = make(addr, &call(), 1, Duration::from_secs(10));
        assert_eq!(
            m,
            Made {
                answer: Answer::Ok(json!("x")),
                resent: 1
            }
        );
        let addr = flaky("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32000,\"message\":\"no\",\"data\":{\"disallowed\":true}}}\n");
        assert_eq!(
            make(addr, &call(), 1, Duration::from_secs(10)).answer,
            Answer::Disallowed("no".into())
        );
        let unavailable = "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32002,\"message\":\"node unavailable\"}}\n";
        let m = make(flaky(unavailable), &call(), 1, Duration::from_millis(300));
        assert!(matches!(m.answer, Answer::Failed(_)), "{m:?}");
        assert!(
            m.resent >= 2,
            "sent again while the node was unavailable: {m:?}"
        );
        let addr = flaky(
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32601,\"message\":\"unknown\"}}\n",
        );
        assert!(matches!(
            make(addr, &call(), 1, Duration::from_secs(10)).answer,
            Answer::Failed(_)
        ));
    }
}
