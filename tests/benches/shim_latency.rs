//! The shim's cost on loopback, in one run: a real `kv-v2` node reached directly, through its
//! shim at the same version (bytes copied by the shim, or the connection handed off to the node
//! running under the LD_PRELOAD library), and through the shim across versions (a v1 caller
//! through past rules, a v3 caller through future rules).
//!
//! ```sh
//! cargo bench -p e2e --bench shim_latency
//! ```
//!
//! Latency: one connection, sequential `get`s of one key, median and p99 per request, all
//! rounds' samples pooled. Throughput: `CONNECTIONS` connections for `SECONDS_PER_ROUND`,
//! each with 1 request in flight (closed loop) or `DEPTH` (pipelined); the shim-to-direct
//! ratio is taken per round (measured back to back) and the median ratio reported. Every case
//! is measured once per round, in turn, so that load from other processes falls on all alike.
//!
//! Bars (DESIGN.md): added median latency at the same version under 25 us, and at least 80%
//! of direct throughput; across versions (issue 13), added median latency under 20 us and
//! throughput at least 50% of direct pipelined. Run without `--bench` (the built binary, or
//! `cargo test --benches`), it makes one short round, for development. The shim runs in this process on a current-thread tokio runtime driven
//! by its own thread, as the node agent can run it; the node is a separate process.
//! `SHIM_BENCH_RUNTIME=multi` runs the shim on a 2-worker runtime instead, and
//! `SHIM_BENCH_FAST_PATH=threads` copies same-version traffic on dedicated threads, and
//! `SHIM_BENCH_SOAK=N` only runs case N (0 direct, 1 same version copied, 2 same version
//! handed off, 3 past, 4 future) in a closed loop for 10 s, to profile it (`perf record -a`),
//! with `SHIM_BENCH_DEPTH` requests in flight per connection (1 unless set).
//! `SHIM_BENCH_DETAIL=1` prints each round's latency quartiles per case as it goes.
//! Placement: every thread where the system puts it (as `upstart node` runs); for experiments,
//! `SHIM_BENCH_CPUS=1` or `=0,1` binds the shims and the node to those CPUs (as `taskset` would
//! bind a node agent and its program), and `SHIM_BENCH_CALLER_CPUS=...` the callers (this
//! process's measuring threads, standing in for clients).
//! CPU: the shims' threads' time on a CPU (`/proc/self/task/*/schedstat`) around each case's
//! measurements, per request, one at a time (the latency run), in closed loop and pipelined.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "benchmark")]

#[path = "../e2e/support/mod.rs"]
mod support;

use serde_json::{json, Value};
use shim::{Shim, ShimConfig};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WARMUP: usize = 2_000;
/// Rounds: every case is measured once per round, in turn, so that load from other processes
/// of the machine falls on all of them alike; latencies pool the rounds' samples, throughputs
/// take the median round.
const ROUNDS: usize = 7;
const SAMPLES_PER_ROUND: usize = 4_000;
const CONNECTIONS: usize = 8;
const SECONDS_PER_ROUND: f64 = 0.5;
/// Requests in flight per connection in the pipelined measurement.
const DEPTH: usize = 16;

struct Case {
    name: &'static str,
    addr: SocketAddr,
    request: Vec<u8>,
    times: Vec<Duration>,
    /// A new connection and one request on it, each.
    fresh: Vec<Duration>,
    closed: Vec<f64>,
    pipelined: Vec<f64>,
    /// The name of the threads of the shim that serves this case (none: direct).
    threads: Option<&'static str>,
    /// The shim's CPU time per request, in microseconds: one at a time, closed loop, pipelined.
    cpu: [Vec<f64>; 3],
}

fn main() {
    // `cargo bench` passes `--bench`; anything else (e.g. `cargo test --benches`) runs briefly.
    let quick = !std::env::args().any(|a| a == "--bench");
    let (rounds, samples, seconds) = if quick {
        (1, 300, 0.1)
    } else {
        (ROUNDS, SAMPLES_PER_ROUND, SECONDS_PER_ROUND)
    };

    let chain = support::chain();
    let dir = tempfile::tempdir().unwrap();
    // Where the shims and the node run: with `SHIM_BENCH_CPUS`, they start from this thread
    // bound to those CPUs and inherit them; then this thread (the callers) is bound again, to
    // every CPU it had unless `SHIM_BENCH_CALLER_CPUS` says otherwise.
    let everywhere = rustix::thread::sched_getaffinity(None).unwrap();
    let placement = std::env::var("SHIM_BENCH_CPUS")
        .ok()
        .map(|list| cpus(&list));
    if let Some((set, _)) = &placement {
        rustix::thread::sched_setaffinity(None, set).unwrap();
    }
    // A second shim, with hand-off: the node runs under the LD_PRELOAD library and registers
    // its listening socket with it, so that its same-version port hands connections over.
    let socket = dir.path().join("shim.sock");
    let mut handing = ShimConfig::new("kv", 2);
    handing.listeners = support::loopback_listeners(&[Some(2)]);
    handing.handoff = Some(socket.clone());
    let handing = RunningShim::start(handing, Arc::clone(&chain), false, HANDING);
    let env = [
        (
            "LD_PRELOAD",
            support::preload_library().display().to_string(),
        ),
        ("UPSTART_SHIM_HANDOFF", socket.display().to_string()),
    ];
    let (_node, node_addr) = support::start_node(2, &dir.path().join("bench.json"), &[], &env);
    handing.set_node(node_addr);
    let mut config = ShimConfig::new("kv", 2);
    config.node_addr = Some(node_addr);
    config.listeners = support::loopback_listeners(&[Some(1), Some(2), Some(3)]);
    let multi = std::env::var("SHIM_BENCH_RUNTIME").as_deref() == Ok("multi");
    if std::env::var("SHIM_BENCH_FAST_PATH").as_deref() == Ok("threads") {
        config.fast_path = shim::FastPath::Threads;
    }
    let shim = RunningShim::start(config, chain, multi, TRANSLATING);
    // The callers: unbound, unless `SHIM_BENCH_CALLER_CPUS` names their CPUs (a caller whose
    // packets always arrive on another CPU, as a remote one's may).
    let callers = std::env::var("SHIM_BENCH_CALLER_CPUS")
        .ok()
        .map(|list| cpus(&list));
    let caller_set = callers.as_ref().map_or(everywhere, |(set, _)| *set);
    rustix::thread::sched_setaffinity(None, &caller_set).unwrap();
    let port = |v: u64| shim.addrs.listeners[(v - 1) as usize].0;

    // One key to read, written through the node itself.
    let mut c =
        e2e::rpc::Client::connect(node_addr, e2e::rpc::Framing::Lines, support::WAIT).unwrap();
    c.call("put", json!(["bench-key", "bench-value", null]))
        .unwrap()
        .unwrap();

    let mut cases: Vec<Case> = [
        ("direct TCP to the node (v2)", node_addr, 2u64, None),
        (
            "shim, same version (v2 -> v2), copied",
            port(2),
            2,
            Some(TRANSLATING),
        ),
        (
            "shim, same version (v2 -> v2), handed off",
            handing.addrs.listeners[0].0,
            2,
            Some(HANDING),
        ),
        ("shim, past rules (v1 -> v2)", port(1), 1, Some(TRANSLATING)),
        (
            "shim, future rules (v3 -> v2)",
            port(3),
            3,
            Some(TRANSLATING),
        ),
    ]
    .into_iter()
    .map(|(name, addr, version, threads)| {
        let request = request();
        check_answer(addr, &request, version);
        Case {
            name,
            addr,
            request,
            times: Vec::new(),
            fresh: Vec::new(),
            closed: Vec::new(),
            pipelined: Vec::new(),
            threads,
            cpu: [Vec::new(), Vec::new(), Vec::new()],
        }
    })
    .collect();
    // A profiling aid: `SHIM_BENCH_SOAK=N` runs case N alone, closed loop, for 10 s.
    if let Some(n) = std::env::var("SHIM_BENCH_SOAK")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        let case = &cases[n];
        let depth = std::env::var("SHIM_BENCH_DEPTH")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(1);
        let (rps, _) = throughput(case.addr, &case.request, 10.0, depth);
        println!("{}: {rps:.0} requests/s", case.name);
        return;
    }
    let detail = std::env::var_os("SHIM_BENCH_DETAIL").is_some();
    for round in 0..rounds {
        for case in &mut cases {
            let threads = case.threads;
            let cpu_before = shim_cpu(threads);
            let mut times = latency(case.addr, &case.request, samples);
            let requests = (WARMUP.min(samples) + samples) as f64;
            case.cpu[0].push((shim_cpu(threads) - cpu_before) / requests);
            if detail {
                // Per round: the latency's quartiles, to tell a slow round from a wide one.
                times.sort_unstable();
                let q = |f: usize| us(times[times.len() * f / 4]);
                println!(
                    "round {round}, {}: {:.1} / {:.1} / {:.1} us",
                    case.name,
                    q(1),
                    q(2),
                    q(3)
                );
            }
            case.times.extend(times);
            case.fresh
                .extend(fresh_connections(case.addr, &case.request, samples / 8));
            for (depth, cpu) in [(1, 1), (DEPTH, 2)] {
                let cpu_before = shim_cpu(threads);
                let (rps, requests) = throughput(case.addr, &case.request, seconds, depth);
                case.cpu[cpu].push((shim_cpu(threads) - cpu_before) / requests.max(1) as f64);
                if depth == 1 {
                    case.closed.push(rps);
                } else {
                    case.pipelined.push(rps);
                }
            }
        }
    }

    let flavour = if multi {
        "multi-thread (2 workers)"
    } else {
        "current-thread"
    };
    let on = |placed: &Option<(rustix::thread::CpuSet, String)>| match placed {
        Some((_, list)) => format!("CPUs {list}"),
        None => "every CPU".to_string(),
    };
    let flavour = format!(
        "{flavour} tokio runtime, fast path {:?}; shims and node on {}, callers on {}",
        shim.fast_path,
        on(&placement),
        on(&callers)
    );
    println!(
        "shim benchmark: a kv-v2 node on loopback, `get` of one key; {rounds} rounds of {samples} \
         sequential requests, {CONNECTIONS} connections for {seconds} s with 1 request in flight \
         each (closed loop) and with {DEPTH} (pipelined); shim on a {flavour}"
    );
    println!();
    println!(
        "| path | median | p99 | req/s, closed loop | req/s, pipelined | connect + request, median |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    // Ratios of the same-version shim to direct, round by round (measured back to back).
    let per_round = |case: usize, pick: fn(&Case) -> &Vec<f64>| {
        let mut ratios: Vec<f64> = pick(&cases[case])
            .iter()
            .zip(pick(&cases[0]))
            .map(|(shim, direct)| shim / direct)
            .collect();
        median_of(&mut ratios)
    };
    let closed = per_round(1, |c| &c.closed);
    let pipelined = per_round(1, |c| &c.pipelined);
    let handed_closed = per_round(2, |c| &c.closed);
    let handed_pipelined = per_round(2, |c| &c.pipelined);
    let mut summary = Vec::new();
    for case in &mut cases {
        case.times.sort_unstable();
        let median = case.times[case.times.len() / 2];
        let p99 = case.times[case.times.len() * 99 / 100];
        let closed_rps = median_of(&mut case.closed.clone());
        let pipelined_rps = median_of(&mut case.pipelined.clone());
        case.fresh.sort_unstable();
        let fresh = case.fresh[case.fresh.len() / 2];
        println!(
            "| {} | {:.1} us | {:.1} us | {closed_rps:.0} | {pipelined_rps:.0} | {:.1} us |",
            case.name,
            us(median),
            us(p99),
            us(fresh)
        );
        summary.push(median);
    }
    println!();
    for (what, case, closed, pipelined) in [
        ("copied", 1, closed, pipelined),
        ("handed off", 2, handed_closed, handed_pipelined),
    ] {
        let added = us(summary[case]) - us(summary[0]);
        println!(
            "same version, {what}: added median latency {added:.1} us (bar: < 25 us) {}",
            verdict(added < 25.0)
        );
        println!(
            "same version, {what}: throughput {:.0}% of direct in closed loop, {:.0}% pipelined \
             (median of per-round ratios; bar: >= 80%) {} / {}",
            closed * 100.0,
            pipelined * 100.0,
            verdict(closed >= 0.8),
            verdict(pipelined >= 0.8)
        );
    }
    // Across versions: the added latency, and throughput against direct pipelined (per round).
    for (what, case) in [("past rules", 3), ("future rules", 4)] {
        let added = us(summary[case]) - us(summary[0]);
        let ratio = |pick: fn(&Case) -> &Vec<f64>| {
            let mut ratios: Vec<f64> = pick(&cases[case])
                .iter()
                .zip(&cases[0].pipelined)
                .map(|(shim, direct)| shim / direct)
                .collect();
            median_of(&mut ratios)
        };
        let (closed, pipelined) = (ratio(|c| &c.closed), ratio(|c| &c.pipelined));
        println!(
            "translated, {what}: added median latency {added:.1} us (bar: < 20 us) {}",
            verdict(added < 20.0)
        );
        println!(
            "translated, {what}: throughput {:.0}% (closed loop) and {:.0}% (pipelined) of direct \
             pipelined (median of per-round ratios; bar: >= 50%) {}",
            closed * 100.0,
            pipelined * 100.0,
            verdict(closed.max(pipelined) >= 0.5)
        );
    }
    println!();
    for case in &mut cases {
        if case.threads.is_none() {
            continue;
        }
        let [one, closed, piped] = case.cpu.each_mut().map(|v| median_of(v));
        println!(
            "{}: shim CPU per request {one:.1} us one at a time, {closed:.1} us closed loop, \
             {piped:.1} us pipelined (median round)",
            case.name
        );
    }
    drop(shim);
    drop(handing);
}

/// The names of the threads of the two shims (a name is at most 15 bytes).
const TRANSLATING: &str = "shim-translates";
const HANDING: &str = "shim-hands-off";

/// The time on a CPU of this process's threads named `name`, in microseconds (0: none).
fn shim_cpu(name: Option<&str>) -> f64 {
    let Some(name) = name else {
        return 0.0;
    };
    let mut ns = 0u64;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() != name {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        ns += stat
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
    }
    ns as f64 / 1000.0
}

/// The CPUs of a list such as `1` or `0,1`, and the list.
fn cpus(list: &str) -> (rustix::thread::CpuSet, String) {
    let mut set = rustix::thread::CpuSet::new();
    for cpu in list.split(',') {
        set.set(cpu.trim().parse().unwrap());
    }
    (set, list.to_string())
}

fn median_of(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// A shim on its own tokio runtime, driven by its own thread (as the node agent runs it).
struct RunningShim {
    addrs: shim::ShimAddrs,
    fast_path: shim::FastPath,
    shim: Option<Arc<Shim>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningShim {
    fn start(
        config: ShimConfig,
        chain: Arc<upstart_plugin_host::Chain>,
        multi: bool,
        name: &'static str,
    ) -> RunningShim {
        let runtime = if multi {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name(name)
                .enable_all()
                .build()
                .unwrap()
        } else {
            tokio::runtime::Builder::new_current_thread()
                .thread_name(name)
                .enable_all()
                .build()
                .unwrap()
        };
        let fast_path = config.fast_path;
        let (shim_tx, shim_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                runtime.block_on(async move {
                    let shim = Arc::new(Shim::start(config, Some(chain)).await.unwrap());
                    shim_tx.send(Arc::clone(&shim)).unwrap();
                    let _ = stopped.await;
                    drop(shim);
                });
            });
        let thread = thread.unwrap();
        let shim = shim_rx.recv_timeout(support::WAIT).unwrap();
        RunningShim {
            addrs: shim.addrs().clone(),
            fast_path,
            shim: Some(shim),
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Points the shim at the node.
    fn set_node(&self, addr: SocketAddr) {
        if let Some(shim) = &self.shim {
            shim.set_node(addr);
        }
    }
}

impl Drop for RunningShim {
    fn drop(&mut self) {
        self.shim = None;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "MET"
    } else {
        "NOT MET"
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// A `get` of the bench key, framed; every version spells it the same.
fn request() -> Vec<u8> {
    let mut bytes = serde_json::to_vec(
        &json!({"jsonrpc": "2.0", "id": 1, "method": "get", "params": {"key": "bench-key"}}),
    )
    .unwrap();
    bytes.push(b'\n');
    bytes
}

fn connect(addr: SocketAddr) -> (TcpStream, BufReader<TcpStream>) {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let reader = BufReader::new(stream.try_clone().unwrap());
    (stream, reader)
}

fn round_trip(
    stream: &mut TcpStream,
    reader: &mut BufReader<TcpStream>,
    request: &[u8],
    line: &mut Vec<u8>,
) {
    stream.write_all(request).unwrap();
    line.clear();
    reader.read_until(b'\n', line).unwrap();
    assert!(!line.is_empty(), "the connection closed");
}

/// The answer is the caller's version's: v1 a string, v2 an item, v3 an item with a revision.
fn check_answer(addr: SocketAddr, request: &[u8], version: u64) {
    let (mut stream, mut reader) = connect(addr);
    let mut line = Vec::new();
    round_trip(&mut stream, &mut reader, request, &mut line);
    let answer: Value = serde_json::from_slice(&line).unwrap();
    let result = &answer["result"];
    let ok = match version {
        1 => result == &json!("bench-value"),
        2 => result == &json!({"value": "bench-value", "expires_at": null}),
        _ => result == &json!({"value": "bench-value", "expires_at": null, "revision": 0}),
    };
    assert!(ok, "unexpected answer for a v{version} caller: {answer}");
}

fn latency(addr: SocketAddr, request: &[u8], samples: usize) -> Vec<Duration> {
    let (mut stream, mut reader) = connect(addr);
    let mut line = Vec::new();
    for _ in 0..WARMUP.min(samples) {
        round_trip(&mut stream, &mut reader, request, &mut line);
    }
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples {
        let start = Instant::now();
        round_trip(&mut stream, &mut reader, request, &mut line);
        times.push(start.elapsed());
    }
    times
}

/// Each sample: connect, one request, its answer, close (what hand-off adds per connection).
fn fresh_connections(addr: SocketAddr, request: &[u8], samples: usize) -> Vec<Duration> {
    let mut line = Vec::new();
    (0..samples.max(1))
        .map(|_| {
            let start = Instant::now();
            let (mut stream, mut reader) = connect(addr);
            round_trip(&mut stream, &mut reader, request, &mut line);
            start.elapsed()
        })
        .collect()
}

/// Requests per second over `CONNECTIONS` connections, each keeping `depth` in flight, and
/// how many were answered.
fn throughput(addr: SocketAddr, request: &[u8], seconds: f64, depth: usize) -> (f64, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (stop, done, request) = (Arc::clone(&stop), Arc::clone(&done), request.to_vec());
            std::thread::spawn(move || {
                let (mut stream, mut reader) = connect(addr);
                let mut line = Vec::new();
                stream.write_all(&request.repeat(depth)).unwrap();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    line.clear();
                    reader.read_until(b'\n', &mut line).unwrap();
                    assert!(!line.is_empty(), "the connection closed");
                    n += 1;
                    stream.write_all(&request).unwrap();
                }
                done.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let done = done.load(Ordering::Relaxed);
    (done as f64 / start.elapsed().as_secs_f64(), done)
}
