//! Benchmark: `upstartc check` on a generated 10,000-line spec (bar: under 50 ms).
//! Reports parse alone and parse + check, median and spread over repeated runs.
//!
//! Run: `cargo bench -p compiler --bench check_large`

use compiler::check::check_sources;
use lang::span::SourceMap;
use std::time::{Duration, Instant};

fn stats(mut samples: Vec<Duration>) -> (Duration, Duration, Duration) {
    samples.sort();
    let pick = |q: f64| {
        samples
            .get(((samples.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    (pick(0.0), pick(0.5), pick(0.9))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let lines = std::env::var("LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let runs = std::env::var("RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let text = lang::synth::large_spec(lines);
    let line_count = text.lines().count();
    println!("spec: {line_count} lines, {} bytes", text.len());

    let mut parse = Vec::new();
    let mut full = Vec::new();
    for i in 0..runs + 3 {
        let t = Instant::now();
        let parsed = lang::parse(lang::FileId(0), &text);
        let dt = t.elapsed();
        assert!(parsed.diagnostics.is_empty(), "generated spec must parse");
        let mut sources = SourceMap::new();
        sources.add("big.ups", text.clone());
        let t = Instant::now();
        let out = check_sources(&sources);
        let dt_full = t.elapsed();
        assert!(
            out.diagnostics.is_empty(),
            "generated spec must check clean"
        );
        if i >= 3 {
            parse.push(dt);
            full.push(dt_full);
        }
    }
    let (pmin, pmed, p90) = stats(parse);
    let (fmin, fmed, f90) = stats(full);
    println!(
        "parse only        min {:7.2} ms  median {:7.2} ms  p90 {:7.2} ms",
        ms(pmin),
        ms(pmed),
        ms(p90)
    );
    println!(
        "parse + check     min {:7.2} ms  median {:7.2} ms  p90 {:7.2} ms",
        ms(fmin),
        ms(fmed),
        ms(f90)
    );
    println!(
        "throughput        {:.0} lines/s (median)",
        line_count as f64 / fmed.as_secs_f64()
    );
    let verdict = if ms(fmed) < 50.0 { "meets" } else { "MISSES" };
    println!(
        "bar: parse + check under 50 ms -> {verdict} ({:.2} ms median over {runs} runs)",
        ms(fmed)
    );
}
