//! Benchmark: editor latency of `upstartc lsp` on a generated 10,000-line spec (bar: under
//! 50 ms from a change to its published diagnostics).
//!
//! Runs the real server binary over stdio, as an editor does: opens the spec, then many times
//! sends a `didChange` that edits one character (a letter of a name on a line picked at random,
//! changed, then restored by the next edit) and measures the time until the
//! `publishDiagnostics` for that document version arrives. Reports median, p90 and max, and
//! the time to the first diagnostics after opening, and the time to format the whole file.
//!
//! Run: `cargo bench -p upstartc --bench lsp_latency` (`LINES=`, `RUNS=` to change the size
//! and the number of edits).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark")]
#![allow(clippy::indexing_slicing, reason = "benchmark")]

#[path = "../tests/lsp_wire/mod.rs"]
mod lsp_wire;

use lsp_wire::{spawn_server, write_message};
use serde_json::{json, Value};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

const URI: &str = "file:///bench/big.ups";

/// Waits for the diagnostics of `version`; returns when they arrived and how many there were.
fn diagnostics_for(rx: &Receiver<(Instant, Value)>, version: i64) -> (Instant, usize) {
    loop {
        let (at, msg) = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("diagnostics in time");
        if msg["method"] == "textDocument/publishDiagnostics"
            && msg["params"]["version"] == json!(version)
        {
            return (
                at,
                msg["params"]["diagnostics"].as_array().map_or(0, Vec::len),
            );
        }
    }
}

fn stats(mut ms: Vec<f64>) -> (f64, f64, f64, f64) {
    ms.sort_by(|a, b| a.total_cmp(b));
    let pick = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
    (pick(0.0), pick(0.5), pick(0.9), pick(1.0))
}

fn main() {
    let lines = std::env::var("LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let text = lang::synth::large_spec(lines);
    println!(
        "spec: {} lines, {} bytes; {runs} one-character edits",
        text.lines().count(),
        text.len()
    );

    let (mut child, mut stdin, rx) = spawn_server();
    write_message(
        &mut stdin,
        &json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": { "capabilities": {} } }),
    );
    let _ = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("initialize answered");
    write_message(
        &mut stdin,
        &json!({ "jsonrpc": "2.0", "method": "initialized", "params": {} }),
    );

    let t = Instant::now();
    write_message(
        &mut stdin,
        &json!({ "jsonrpc": "2.0", "method": "textDocument/didOpen", "params": { "textDocument": {
            "uri": URI, "languageId": "ups", "version": 1, "text": text } } }),
    );
    let (at, n) = diagnostics_for(&rx, 1);
    let open_ms = (at - t).as_secs_f64() * 1e3;
    assert_eq!(n, 0, "the generated spec checks clean");

    // Edit sites: the first letter of a name on lines picked at random (xorshift, fixed seed).
    let all_lines: Vec<&str> = text.lines().collect();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut sites = Vec::new();
    while sites.len() < runs.div_ceil(2) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let line = (seed % all_lines.len() as u64) as usize;
        let l = all_lines[line];
        // A letter inside a word, not a keyword's first: the second letter of the last word.
        let Some(col) = l
            .char_indices()
            .filter(|(i, c)| {
                c.is_ascii_lowercase() && *i > 0 && l.as_bytes()[i - 1].is_ascii_alphabetic()
            })
            .map(|(i, _)| i)
            .next_back()
        else {
            continue;
        };
        let old = &l[col..=col];
        sites.push((line, col, old.to_string()));
    }

    let mut samples = Vec::new();
    let mut with_errors = 0;
    let mut version = 1;
    for i in 0..runs {
        let (line, col, old) = &sites[i / 2];
        let new = if i % 2 == 0 {
            if old == "x" {
                "y"
            } else {
                "x"
            }
        } else {
            old.as_str()
        };
        version += 1;
        let range = json!({ "start": { "line": line, "character": col }, "end": { "line": line, "character": col + 1 } });
        let t = Instant::now();
        write_message(
            &mut stdin,
            &json!({ "jsonrpc": "2.0", "method": "textDocument/didChange", "params": {
                "textDocument": { "uri": URI, "version": version },
                "contentChanges": [{ "range": range, "text": new }] } }),
        );
        let (at, n) = diagnostics_for(&rx, version);
        if n > 0 {
            with_errors += 1;
        }
        samples.push((at - t).as_secs_f64() * 1e3);
    }
    // Formatting the whole document (the text is back to the generated one).
    let t = Instant::now();
    write_message(
        &mut stdin,
        &json!({ "jsonrpc": "2.0", "id": 3, "method": "textDocument/formatting", "params": {
            "textDocument": { "uri": URI }, "options": { "tabSize": 2, "insertSpaces": true } } }),
    );
    let format_ms = loop {
        let (at, msg) = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("formatting answered");
        if msg["id"] == json!(3) {
            assert!(msg.get("error").is_none(), "{msg}");
            break (at - t).as_secs_f64() * 1e3;
        }
    };
    write_message(
        &mut stdin,
        &json!({ "jsonrpc": "2.0", "id": 2, "method": "shutdown", "params": null }),
    );
    write_message(
        &mut stdin,
        &json!({ "jsonrpc": "2.0", "method": "exit", "params": null }),
    );
    drop(stdin);
    let _ = child.wait();

    let (min, med, p90, max) = stats(samples);
    println!("open -> diagnostics       {open_ms:7.2} ms (whole file parsed and checked)");
    println!("change -> diagnostics     min {min:7.2} ms  median {med:7.2} ms  p90 {p90:7.2} ms  max {max:7.2} ms");
    println!(
        "                          ({with_errors} of {runs} edits left diagnostics to publish)"
    );
    println!("formatting request        {format_ms:7.2} ms (whole file)");
    let verdict = if med < 50.0 { "meets" } else { "MISSES" };
    println!(
        "bar: change -> diagnostics under 50 ms -> {verdict} ({med:.2} ms median, {p90:.2} ms p90)"
    );
}
