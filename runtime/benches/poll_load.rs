//! One upgrade server, 10,000 simulated nodes each polling once per second (spread evenly over
//! the second), over keep-alive loopback connections from a few client tasks. Measures the
//! answer latency of polls (send to full answer) over 20 s after a warm-up, with a rollout
//! running. Bar: p99 under 50 ms.
//!
//! `cargo bench -p runtime --bench poll_load` (`POLL_LOAD_SECS`, `POLL_LOAD_NODES`,
//! `POLL_LOAD_TASKS` override the duration, node count and client task count). Two phases:
//! nodes sending the ETag of their last answer (`If-None-Match`, mostly answered 304), then
//! nodes always asking for the full directive. Every node is enrolled and signs its polls with
//! its own key, as real agents do (so the figures include checking signatures and nonces).
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "benchmark")]

#[path = "../tests/kit/mod.rs"]
mod kit;

use runtime::api::{Phase, PollRequest};
use runtime::bundle::TrustedKeys;
use runtime::client::{Client, PollAnswer};
use runtime::server::{self, Config};
use std::time::{Duration, Instant};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let secs = env("POLL_LOAD_SECS", 20);
    let nodes = env("POLL_LOAD_NODES", 10_000) as usize;
    let tasks = env("POLL_LOAD_TASKS", 16) as usize;
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("server")
        .enable_all()
        .build()
        .unwrap();
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("clients")
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let operator = ed25519_dalek::SigningKey::from_bytes(&[6; 32]);
    let mut config = Config::new(
        dir.path().join("bench.db"),
        dir.path().join("store"),
        TrustedKeys::new(vec![key.verifying_key()]),
    );
    config.operators = TrustedKeys::new(vec![operator.verifying_key()]);
    let handle = server_rt
        .block_on(server::start(config, "127.0.0.1:0".parse().unwrap()))
        .unwrap();
    let base = format!("http://{}", handle.addr);
    println!("poll_load: {nodes} nodes, one poll per node per second, {tasks} client tasks, {secs} s per phase, server at {base}");

    client_rt.block_on(async {
        let c = Client::new(&base).unwrap().with_key(operator);
        // Register every node, then run a rollout over them (batches of 100).
        register(&c, nodes, tasks).await;
        let schedule = [("rolling.batch", "100"), ("healthy_for", "5s")];
        let (bundle, _) = kit::make_bundle(dir.path(), "kv", 1, 2, &schedule, &key);
        let info = c
            .push(std::fs::read(&bundle).unwrap(), false)
            .await
            .unwrap();
        c.start_rollout(&info.id, Some(1)).await.unwrap();
        for (name, etags) in [
            ("with ETags (If-None-Match)", true),
            ("full answers", false),
        ] {
            let lat = phase(&base, nodes, tasks, secs, etags).await;
            report(name, lat, secs);
        }
        let s = c.status().await.unwrap();
        println!(
            "status: {} nodes, rollout {} {}, {} in flight",
            s.nodes.len(),
            s.rollouts[0].id,
            s.rollouts[0].state,
            s.rollouts[0].progress.in_flight
        );
    });
    server_rt.block_on(handle.stop());
}

fn node_req(i: usize) -> PollRequest {
    PollRequest {
        system: "kv".into(),
        version: 1,
        phase: Phase::Serving,
        healthy: true,
        address: format!("10.0.{}.{}:7000", i / 256, i % 256),
    }
}

/// Node `i`'s key.
fn node_key(i: usize) -> ed25519_dalek::SigningKey {
    let mut seed = [7u8; 32];
    seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
    ed25519_dalek::SigningKey::from_bytes(&seed)
}

/// Enrolls every node (as the operator `c`), then polls once as each.
async fn register(c: &Client, nodes: usize, tasks: usize) {
    let mut joins = Vec::new();
    for t in 0..tasks {
        let c = c.clone();
        joins.push(tokio::spawn(async move {
            for i in (t..nodes).step_by(tasks) {
                let id = format!("node-{i}");
                let key = node_key(i);
                c.enroll(&id, &key.verifying_key()).await.unwrap();
                c.clone()
                    .with_key(key)
                    .poll(&id, &node_req(i), None, None)
                    .await
                    .unwrap();
            }
        }));
    }
    for j in joins {
        j.await.unwrap();
    }
}

struct Latencies {
    micros: Vec<u32>,
    not_modified: usize,
    errors: usize,
    late: usize,
}

/// Each task owns `nodes / tasks` nodes and sends their polls at evenly spaced times, one
/// connection per task (keep-alive), one request at a time.
async fn phase(base: &str, nodes: usize, tasks: usize, secs: u64, etags: bool) -> Latencies {
    let warmup = Duration::from_secs(3);
    let measure = Duration::from_secs(secs);
    let mut joins = Vec::new();
    let start = Instant::now() + Duration::from_millis(100);
    for t in 0..tasks {
        let c = Client::new(base).unwrap();
        joins.push(tokio::spawn(async move {
            let mine: Vec<usize> = (t..nodes).step_by(tasks).collect();
            // One connection per task, each node signing with its own key.
            let clients: Vec<Client> = mine
                .iter()
                .map(|i| c.clone().with_key(node_key(*i)))
                .collect();
            let mut tags: Vec<Option<String>> = vec![None; mine.len()];
            let reqs: Vec<PollRequest> = mine.iter().map(|i| node_req(*i)).collect();
            let ids: Vec<String> = mine.iter().map(|i| format!("node-{i}")).collect();
            let gap = Duration::from_secs(1) / mine.len() as u32;
            let offset = Duration::from_secs(1) * t as u32 / tasks as u32 / mine.len() as u32;
            let mut out = Latencies {
                micros: Vec::new(),
                not_modified: 0,
                errors: 0,
                late: 0,
            };
            let mut k: u32 = 0;
            loop {
                let at = start + offset + gap * k;
                if at > start + warmup + measure {
                    break;
                }
                let now = tokio::time::Instant::now();
                let at_t = tokio::time::Instant::from_std(at);
                if at_t > now {
                    tokio::time::sleep_until(at_t).await;
                } else if now - at_t > Duration::from_millis(50) {
                    out.late += usize::from(at >= start + warmup);
                }
                let j = k as usize % mine.len();
                let sent = Instant::now();
                let tag = if etags { tags[j].as_deref() } else { None };
                let answer = clients[j].poll(&ids[j], &reqs[j], tag, None).await;
                let took = sent.elapsed();
                if sent >= start + warmup {
                    match &answer {
                        Ok(PollAnswer::NotModified) => out.not_modified += 1,
                        Ok(_) => {}
                        Err(_) => out.errors += 1,
                    }
                    out.micros
                        .push(took.as_micros().min(u32::MAX as u128) as u32);
                }
                if let Ok(PollAnswer::Directive { etag, .. }) = answer {
                    tags[j] = etag;
                }
                k += 1;
            }
            out
        }));
    }
    let mut all = Latencies {
        micros: Vec::new(),
        not_modified: 0,
        errors: 0,
        late: 0,
    };
    for j in joins {
        let l = j.await.unwrap();
        all.micros.extend(l.micros);
        all.not_modified += l.not_modified;
        all.errors += l.errors;
        all.late += l.late;
    }
    all
}

fn report(name: &str, mut l: Latencies, secs: u64) {
    l.micros.sort_unstable();
    let n = l.micros.len();
    let pct = |p: f64| l.micros[((n as f64 * p) as usize).min(n - 1)] as f64 / 1000.0;
    println!(
        "{name}: {n} polls in {secs} s ({:.0}/s), {} answered 304, {} errors, {} sent >50 ms late",
        n as f64 / secs as f64,
        l.not_modified,
        l.errors,
        l.late
    );
    println!(
        "  latency ms: p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}   bar p99 < 50 ms: {}",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(0.999),
        l.micros[n - 1] as f64 / 1000.0,
        if pct(0.99) < 50.0 { "met" } else { "NOT met" }
    );
}
