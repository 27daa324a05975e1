//! Benchmark: translating a changed record through a compiled plugin, against a plain
//! serde_json decode + encode of the same message, in one run (bar: within 1.5x). Also the
//! time of `upstartc compile`: cold (empty cache), warm (dependencies built, new spec), cached.
//!
//! Run: `cargo bench -p compiler --bench translate`

use compiler::build::{build_plugin, BuildOptions};
use compiler::check::check_sources;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use upstart_plugin_host::{CallError, Direction, Expect, Plugin};

#[derive(Serialize, Deserialize)]
struct Entry {
    key: String,
    value: String,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// Median time per iteration of `a` and of `b`, over `rounds` rounds of `iters` calls each;
/// the rounds alternate so that load from other processes falls on both alike.
fn time_pair(
    rounds: usize,
    iters: usize,
    mut a: impl FnMut(),
    mut b: impl FnMut(),
) -> (Duration, Duration) {
    for _ in 0..iters {
        a();
        b();
    }
    let (mut sa, mut sb) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..iters {
            a();
        }
        sa.push(t.elapsed() / iters as u32);
        let t = Instant::now();
        for _ in 0..iters {
            b();
        }
        sb.push(t.elapsed() / iters as u32);
    }
    (median(sa), median(sb))
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../specs/kv/kv-1-2.ups");
    let text = std::fs::read_to_string(root).unwrap_or_default();
    let model_of = |text: &str| {
        let mut sources = lang::span::SourceMap::new();
        sources.add("kv-1-2.ups", text.to_string());
        check_sources(&sources).models.into_iter().next()
    };
    let Some(model) = model_of(&text) else {
        eprintln!("kv-1-2.ups does not check");
        return;
    };

    // --- compile times
    let cold_dir = std::env::temp_dir().join(format!("upstart-bench-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cold_dir);
    let mut options = BuildOptions::from_env();
    options.cache_dir = cold_dir.clone();
    let t = Instant::now();
    let built = build_plugin(&model, &text, &options, &mut |_| {});
    let cold = t.elapsed();
    let Ok(built) = built else {
        eprintln!("plugin build failed");
        return;
    };
    let variant = format!("{text}\n// a new spec hash: {}\n", std::process::id());
    let warm = model_of(&variant).map(|m| {
        let t = Instant::now();
        let _ = build_plugin(&m, &variant, &options, &mut |_| {});
        t.elapsed()
    });
    let t = Instant::now();
    let again = build_plugin(&model, &text, &options, &mut |_| {});
    let cached = t.elapsed();
    println!("upstartc compile kv-1-2:");
    println!(
        "  cold (empty cache, builds serde & co)   {:8.2} s",
        cold.as_secs_f64()
    );
    if let Some(w) = warm {
        println!(
            "  warm (dependencies built, new spec)     {:8.2} s",
            w.as_secs_f64()
        );
    }
    println!(
        "  cached (same spec)                      {:8.2} ms (served from cache: {})",
        cached.as_secs_f64() * 1e3,
        again.map(|b| b.cached).unwrap_or(false)
    );

    // --- translation
    let expect = Expect {
        spec_hash: Some(compiler::codegen::spec_hash(&text)),
        ..Expect::default()
    };
    let plugin = match Plugin::load(&built.plugin, &expect) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return;
        }
    };
    println!("\ntranslation of `replicate(entries)` from a version-1 caller on a version-2 node");
    println!("(past rule: list<Entry> -> map<string, Item>), against serde_json decode + encode of the same message:");
    println!(
        "{:>8} {:>10} {:>14} {:>14} {:>7}",
        "entries", "bytes", "plugin (us)", "serde (us)", "ratio"
    );
    // `cargo bench -p compiler --bench translate -- 1 10`: only those sizes (for profiling).
    let mut sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    if sizes.is_empty() {
        sizes = vec![1, 10, 100, 1000];
    }
    for n in sizes {
        let entries: Vec<Entry> = (0..n)
            .map(|i| Entry {
                key: format!("key-{i:06}"),
                value: format!("value number {i} with some text"),
            })
            .collect();
        let message = serde_json::to_vec(&(entries,)).unwrap_or_default();
        let iters = (20_000 / n).max(20);
        let mut host = |_m: &str, args: &[u8]| -> Result<Vec<u8>, CallError> {
            std::hint::black_box(args);
            Ok(b"null".to_vec())
        };
        let (plugin_time, serde_time) = time_pair(
            31,
            iters,
            || {
                let out = plugin.simulate(Direction::Past, "Kv", "replicate", &message, &mut host);
                std::hint::black_box(out.is_ok());
            },
            || {
                let decoded: (Vec<Entry>,) =
                    serde_json::from_slice(&message).unwrap_or((Vec::new(),));
                let encoded = serde_json::to_vec(&decoded).unwrap_or_default();
                std::hint::black_box(encoded);
            },
        );
        let ratio = plugin_time.as_secs_f64() / serde_time.as_secs_f64();
        println!(
            "{n:>8} {:>10} {:>14.2} {:>14.2} {:>6.2}x",
            message.len(),
            us(plugin_time),
            us(serde_time),
            ratio
        );
    }
    // UPSTART_BENCH_KEEP=1 keeps the plugin for a profiler to read its symbols.
    if std::env::var_os("UPSTART_BENCH_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&cold_dir);
    }
}
