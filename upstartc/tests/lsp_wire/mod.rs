//! The editor's side of the language server's wire: Content-Length framed JSON-RPC over the
//! server's stdin and stdout, written here by hand (not with the `lsp-server` codec the server
//! itself uses, so that a framing bug on its side cannot hide). Shared by the LSP tests and
//! the latency benchmark.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Instant;

/// Starts `upstartc lsp`: the child, its stdin, and its messages as they arrive.
pub fn spawn_server() -> (Child, ChildStdin, Receiver<(Instant, Value)>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_upstartc"))
        .arg("lsp")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start upstartc lsp");
    let rx = read_messages(child.stdout.take().unwrap());
    let stdin = child.stdin.take().unwrap();
    (child, stdin, rx)
}

/// Writes one framed message.
pub fn write_message(out: &mut impl Write, msg: &Value) {
    let body = msg.to_string();
    write!(out, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    out.flush().unwrap();
}

/// Reads framed messages on a thread until the stream ends; each with when it arrived.
pub fn read_messages(stdout: impl Read + Send + 'static) -> Receiver<(Instant, Value)> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        loop {
            let mut length = None;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some(v) = line.strip_prefix("Content-Length: ") {
                    length = v.parse::<usize>().ok();
                }
            }
            let mut body = vec![0; length.expect("a Content-Length header")];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            let value: Value = serde_json::from_slice(&body).expect("a JSON message");
            if tx.send((Instant::now(), value)).is_err() {
                return;
            }
        }
    });
    rx
}
