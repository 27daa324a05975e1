//! A client load on the key-value example: workers, each calling one node's port pinned to
//! its version, over keys of its own, checking every answer against a model of what that
//! version's caller must see. The demo and the rolling-upgrade tests run it.
//!
//! A call whose connection closes before its answer (a node's connections close when it stops
//! for an upgrade) is sent again on a new connection, which the shim holds
//! until the node is back: every call the workers make is idempotent (a `put` writes the same
//! value again; a retried `delete` may find the key already gone, and either answer is
//! accepted). Such calls count as `retried`, not failed; a call that gets no answer within the
//! call timeout, or an error that is not a declared `disallow`, counts as `failed`; an answer
//! that does not match the model as `wrong`.

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Where one worker sends its calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The node's id (for reports).
    pub node: String,
    /// The node's shim port pinned to `version`.
    pub addr: SocketAddr,
    /// The version the worker speaks: 1 or 2.
    pub version: u64,
}

/// How the workers call.
#[derive(Debug, Clone, Copy)]
pub struct LoadConfig {
    /// Pause between two calls of a worker.
    pub pause: Duration,
    /// The longest a call may take, retries included.
    pub call_timeout: Duration,
}

impl Default for LoadConfig {
    fn default() -> LoadConfig {
        LoadConfig {
            pause: Duration::from_millis(5),
            call_timeout: Duration::from_secs(20),
        }
    }
}

/// Counts of calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub ok: u64,
    /// Refused by a `disallow` rule of the spec (declared).
    pub disallowed: u64,
    pub failed: u64,
    pub wrong: u64,
    /// Answered after being sent again on a new connection.
    pub retried: u64,
}

impl Counts {
    pub fn total(&self) -> u64 {
        self.ok + self.disallowed + self.failed + self.wrong
    }

    fn add(&mut self, o: &Counts) {
        self.ok += o.ok;
        self.disallowed += o.disallowed;
        self.failed += o.failed;
        self.wrong += o.wrong;
        self.retried += o.retried;
    }
}

#[derive(Debug, Default)]
struct Live {
    ok: AtomicU64,
    disallowed: AtomicU64,
    failed: AtomicU64,
    wrong: AtomicU64,
    retried: AtomicU64,
    max_latency_us: AtomicU64,
}

impl Live {
    fn counts(&self) -> Counts {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Counts {
            ok: g(&self.ok),
            disallowed: g(&self.disallowed),
            failed: g(&self.failed),
            wrong: g(&self.wrong),
            retried: g(&self.retried),
        }
    }
}

/// What a key holds, as its worker wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub value: String,
    pub with_ttl: bool,
}

/// What one worker did.
#[derive(Debug, Clone)]
pub struct WorkerReport {
    pub target: Target,
    pub counts: Counts,
    /// The keys it holds now, with their values.
    pub model: BTreeMap<String, Entry>,
    /// Every key it wrote at some point.
    pub touched: BTreeSet<String>,
    /// Its slowest call.
    pub max_latency: Duration,
    /// The failures and wrong answers, for people (the first few).
    pub problems: Vec<String>,
}

/// A running load.
#[derive(Debug)]
pub struct Load {
    config: LoadConfig,
    stop: Arc<AtomicBool>,
    workers: Vec<(Arc<Live>, JoinHandle<WorkerReport>)>,
}

impl Load {
    /// Starts one worker per target.
    pub fn start(targets: &[Target], config: LoadConfig) -> Load {
        let mut load = Load {
            config,
            stop: Arc::new(AtomicBool::new(false)),
            workers: Vec::new(),
        };
        load.add(targets);
        load
    }

    /// Starts more workers.
    pub fn add(&mut self, targets: &[Target]) {
        for t in targets {
            let live = Arc::new(Live::default());
            let n = self.workers.len();
            let (t2, live2, stop, config) = (
                t.clone(),
                Arc::clone(&live),
                Arc::clone(&self.stop),
                self.config,
            );
            let handle = std::thread::spawn(move || work(t2, n, config, &live2, &stop));
            self.workers.push((live, handle));
        }
    }

    /// The counts so far.
    pub fn counts(&self) -> Counts {
        let mut total = Counts::default();
        for (live, _) in &self.workers {
            total.add(&live.counts());
        }
        total
    }

    /// The slowest call so far.
    pub fn max_latency(&self) -> Duration {
        let us = self
            .workers
            .iter()
            .map(|(l, _)| l.max_latency_us.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0);
        Duration::from_micros(us)
    }

    /// Stops the workers (each finishes its call) and returns what they did.
    pub fn stop(self) -> Vec<WorkerReport> {
        self.stop.store(true, Ordering::SeqCst);
        self.workers
            .into_iter()
            .filter_map(|(_, h)| h.join().ok())
            .collect()
    }
}

/// The total of `reports`.
pub fn total(reports: &[WorkerReport]) -> Counts {
    let mut c = Counts::default();
    for r in reports {
        c.add(&r.counts);
    }
    c
}

/// A blocking JSON-RPC connection (lines framing).
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    fn open(addr: SocketAddr, timeout: Duration) -> std::io::Result<Conn> {
        let s = TcpStream::connect_timeout(&addr, timeout)?;
        s.set_nodelay(true)?;
        let writer = s.try_clone()?;
        Ok(Conn {
            reader: BufReader::new(s),
            writer,
        })
    }

    fn call(&mut self, request: &[u8], wait: Duration) -> std::io::Result<Value> {
        let wait = wait.max(Duration::from_millis(1));
        self.writer.set_write_timeout(Some(wait))?;
        self.writer.write_all(request)?;
        self.reader.get_ref().set_read_timeout(Some(wait))?;
        let mut line = String::new();
        let n = self.reader.read_line(&mut line)?;
        if n == 0 || !line.ends_with('\n') {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the connection closed before the answer",
            ));
        }
        serde_json::from_str(&line)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }
}

/// One call's outcome: its answer (result or error object) and whether it was sent again.
type Outcome = Result<(Result<Value, Value>, bool), String>;

struct Worker<'a> {
    target: &'a Target,
    config: LoadConfig,
    conn: Option<Conn>,
    next_id: u64,
    report: WorkerReport,
    live: &'a Live,
}

fn work(
    target: Target,
    n: usize,
    config: LoadConfig,
    live: &Live,
    stop: &AtomicBool,
) -> WorkerReport {
    let prefix = format!("{}-v{}-w{n}-", target.node, target.version);
    let mut w = Worker {
        target: &target,
        config,
        conn: None,
        next_id: 1,
        report: WorkerReport {
            target: target.clone(),
            counts: Counts::default(),
            model: BTreeMap::new(),
            touched: BTreeSet::new(),
            max_latency: Duration::ZERO,
            problems: Vec::new(),
        },
        live,
    };
    let mut i: u64 = 0;
    while !stop.load(Ordering::SeqCst) {
        w.step(&prefix, i);
        i += 1;
        std::thread::sleep(config.pause);
    }
    w.report
}

impl Worker<'_> {
    fn call(&mut self, method: &str, params: Value) -> Outcome {
        let deadline = Instant::now() + self.config.call_timeout;
        let id = self.next_id;
        self.next_id += 1;
        let request = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let mut bytes = serde_json::to_vec(&request).map_err(|e| e.to_string())?;
        bytes.push(b'\n');
        let mut retried = false;
        let mut last = String::new();
        while Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if self.conn.is_none() {
                match Conn::open(self.target.addr, left.min(Duration::from_secs(2))) {
                    Ok(c) => self.conn = Some(c),
                    Err(e) => {
                        last = format!("cannot connect: {e}");
                        std::thread::sleep(Duration::from_millis(20));
                        continue;
                    }
                }
            }
            let Some(conn) = self.conn.as_mut() else {
                continue;
            };
            match conn.call(&bytes, left) {
                Ok(answer) => {
                    if answer.get("id").and_then(Value::as_u64) != Some(id) {
                        self.conn = None;
                        return Err(format!("an answer with another id: {answer}"));
                    }
                    let outcome = match answer.get("error") {
                        Some(e) => Err(e.clone()),
                        None => Ok(answer.get("result").cloned().unwrap_or(Value::Null)),
                    };
                    return Ok((outcome, retried));
                }
                Err(e) => {
                    last = e.to_string();
                    self.conn = None;
                    retried = true;
                }
            }
        }
        Err(format!(
            "no answer within {} ms: {last}",
            self.config.call_timeout.as_millis()
        ))
    }

    fn problem(&mut self, text: String) {
        if self.report.problems.len() < 20 {
            self.report.problems.push(text);
        }
    }

    fn step(&mut self, prefix: &str, i: u64) {
        let key = format!("{prefix}{}", i % 7);
        let value = format!("v{i}");
        let v = self.target.version;
        let ops: &[&str] = if v == 1 {
            &["put", "get", "get"]
        } else {
            &["put", "get", "put_ttl", "get", "delete", "get"]
        };
        let op = ops
            .get((i % ops.len() as u64) as usize)
            .copied()
            .unwrap_or("get");
        let (method, params) = match op {
            "put" if v == 1 => ("put", json!([key, value])),
            "put" => ("put", json!([key, value, null])),
            "put_ttl" => (
                "put",
                json!({"key": key, "value": value, "ttl_ms": 600_000}),
            ),
            "delete" => ("delete", json!([key])),
            _ => ("get", json!({"key": key})),
        };
        let started = Instant::now();
        let outcome = self.call(method, params);
        let took = started.elapsed();
        if took > self.report.max_latency {
            self.report.max_latency = took;
            self.live
                .max_latency_us
                .fetch_max(took.as_micros() as u64, Ordering::Relaxed);
        }
        let (answer, retried) = match outcome {
            Ok(x) => x,
            Err(e) => {
                self.count_failed(format!("`{method}` on {} failed: {e}", self.target.addr));
                return;
            }
        };
        if retried {
            self.report.counts.retried += 1;
            self.live.retried.fetch_add(1, Ordering::Relaxed);
        }
        let result = match answer {
            Ok(r) => r,
            Err(e) => {
                let disallowed = e
                    .get("data")
                    .and_then(|d| d.get("disallowed"))
                    .and_then(Value::as_bool)
                    == Some(true);
                if disallowed {
                    self.report.counts.disallowed += 1;
                    self.live.disallowed.fetch_add(1, Ordering::Relaxed);
                } else {
                    self.count_failed(format!(
                        "`{method}` on {} answered error {e}",
                        self.target.addr
                    ));
                }
                return;
            }
        };
        let right = match op {
            "put" | "put_ttl" => {
                let ok = result.is_null();
                if ok {
                    self.report.touched.insert(key.clone());
                    self.report.model.insert(
                        key.clone(),
                        Entry {
                            value,
                            with_ttl: op == "put_ttl",
                        },
                    );
                }
                ok
            }
            "delete" => {
                let existed = self.report.model.remove(&key).is_some();
                result == Value::Bool(existed) || (retried && result.is_boolean())
            }
            _ => item_matches(v, &result, self.report.model.get(&key)),
        };
        if right {
            self.report.counts.ok += 1;
            self.live.ok.fetch_add(1, Ordering::Relaxed);
        } else {
            self.report.counts.wrong += 1;
            self.live.wrong.fetch_add(1, Ordering::Relaxed);
            self.problem(format!(
                "wrong answer to `{method}` of `{key}` on {}: {result}",
                self.target.addr
            ));
        }
    }

    fn count_failed(&mut self, text: String) {
        self.report.counts.failed += 1;
        self.live.failed.fetch_add(1, Ordering::Relaxed);
        self.problem(text);
    }
}

/// Whether `r` is what a `version` caller's `get` returns for `want`.
pub fn item_matches(version: u64, r: &Value, want: Option<&Entry>) -> bool {
    let Some(want) = want else { return r.is_null() };
    if version == 1 {
        return r.as_str() == Some(want.value.as_str());
    }
    let value_ok = r.get("value").and_then(Value::as_str) == Some(want.value.as_str());
    let expiry_ok = match r.get("expires_at") {
        Some(Value::Null) => true,
        Some(t) => t.is_u64() && want.with_ttl,
        None => false,
    };
    value_ok && expiry_ok
}

/// One `get` of `key` as a `version` caller at `addr` (a fresh connection).
pub fn get(addr: SocketAddr, version: u64, key: &str) -> Result<Value, String> {
    let _ = version;
    let mut conn = Conn::open(addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": "get", "params": {"key": key}});
    let mut bytes = serde_json::to_vec(&request).map_err(|e| e.to_string())?;
    bytes.push(b'\n');
    let answer = conn
        .call(&bytes, Duration::from_secs(10))
        .map_err(|e| e.to_string())?;
    match answer.get("error") {
        Some(e) => Err(format!("`get` of `{key}` answered error {e}")),
        None => Ok(answer.get("result").cloned().unwrap_or(Value::Null)),
    }
}

/// Checks that every write acknowledged to the workers is readable: each key a worker holds
/// has its value on every node (`ports`: each node's port pinned to version 1), and each key
/// it deleted is gone from its own node (deletes are not replicated). Returns the problems.
pub fn verify(reports: &[WorkerReport], ports: &BTreeMap<String, SocketAddr>) -> Vec<String> {
    let mut problems = Vec::new();
    for r in reports {
        for key in &r.touched {
            match r.model.get(key) {
                Some(want) => {
                    for (node, addr) in ports {
                        match get(*addr, 1, key) {
                            Ok(v) if v.as_str() == Some(want.value.as_str()) => {}
                            Ok(v) => problems.push(format!(
                                "`{key}` (written as `{}` through `{}`) reads {v} on `{node}`",
                                want.value, r.target.node
                            )),
                            Err(e) => problems.push(format!("`{key}` on `{node}`: {e}")),
                        }
                    }
                }
                None => match get(r.target.addr, r.target.version, key) {
                    Ok(Value::Null) => {}
                    Ok(v) => problems.push(format!(
                        "`{key}`, deleted on `{}`, reads {v} there",
                        r.target.node
                    )),
                    Err(e) => problems.push(format!("`{key}` on `{}`: {e}", r.target.node)),
                },
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_match_per_version() {
        let e = Entry {
            value: "x".into(),
            with_ttl: false,
        };
        assert!(item_matches(1, &json!("x"), Some(&e)));
        assert!(item_matches(
            2,
            &json!({"value": "x", "expires_at": null}),
            Some(&e)
        ));
        assert!(!item_matches(
            2,
            &json!({"value": "x", "expires_at": 5}),
            Some(&e)
        ));
        assert!(item_matches(1, &Value::Null, None));
        assert!(!item_matches(1, &json!("y"), Some(&e)));
    }
}
