//! `kv-load`: a load client of the key-value store that issues a mix of calls of one version
//! and checks every answer against what that version's caller must see.
//!
//! ```sh
//! kv-load --addr 127.0.0.1:7000 --version 3 --connections 4 --requests 200 --prefix a-
//! ```
//!
//! Each connection works on its own keys (`PREFIX` + connection + key number) and keeps a model
//! of them, so answers are checked exactly whatever the node's version: a call refused by a
//! `disallow` rule counts as `disallowed`, an error or lost connection as `failed`, an answer
//! that does not match as `wrong`. Prints one JSON line of counts; exits 0 when nothing failed
//! and nothing was wrong.

use e2e::rpc::{Client, Framing, RpcError};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Clone)]
struct Options {
    addr: SocketAddr,
    version: u64,
    connections: usize,
    requests: usize,
    prefix: String,
    framing: Framing,
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    ok: u64,
    disallowed: u64,
    failed: u64,
    wrong: u64,
}

impl Counts {
    fn add(&mut self, o: Counts) {
        self.ok += o.ok;
        self.disallowed += o.disallowed;
        self.failed += o.failed;
        self.wrong += o.wrong;
    }
}

const USAGE: &str = "usage: kv-load --addr ADDR --version 1|2|3 [--connections N] [--requests N] [--prefix P] [--framing lines|length]";

fn parse() -> Result<Options, String> {
    let mut o = Options {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        version: 0,
        connections: 2,
        requests: 100,
        prefix: "load-".into(),
        framing: Framing::Lines,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| format!("`{flag}` needs a value; {USAGE}"))?;
        let number = |v: &str| v.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--addr" => o.addr = value.parse().map_err(|e| format!("--addr: {e}"))?,
            "--version" => o.version = value.parse().map_err(|e| format!("--version: {e}"))?,
            "--connections" => o.connections = number(&value)?,
            "--requests" => o.requests = number(&value)?,
            "--prefix" => o.prefix = value,
            "--framing" => o.framing = value.parse()?,
            other => return Err(format!("unknown argument `{other}`; {USAGE}")),
        }
    }
    if !(1..=3).contains(&o.version) || o.addr.port() == 0 {
        return Err(format!(
            "--addr and --version (1, 2 or 3) are required; {USAGE}"
        ));
    }
    Ok(o)
}

fn main() -> ExitCode {
    let options = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("kv-load: error: {e}");
            return ExitCode::from(2);
        }
    };
    let workers: Vec<_> = (0..options.connections)
        .map(|c| {
            let o = options.clone();
            std::thread::spawn(move || run(&o, c))
        })
        .collect();
    let mut total = Counts::default();
    for w in workers {
        match w.join() {
            Ok(c) => total.add(c),
            Err(_) => total.failed += 1,
        }
    }
    println!(
        "{}",
        json!({"version": options.version, "ok": total.ok, "disallowed": total.disallowed,
               "failed": total.failed, "wrong": total.wrong})
    );
    if total.failed == 0 && total.wrong == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// What a key holds, as this client wrote it.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    value: String,
    with_ttl: bool,
}

struct Worker<'a> {
    o: &'a Options,
    client: Client,
    model: BTreeMap<String, Entry>,
    counts: Counts,
    prefix: String,
}

fn run(o: &Options, connection: usize) -> Counts {
    let client = match Client::connect(o.addr, o.framing, Duration::from_secs(10)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kv-load: cannot connect to {}: {e}", o.addr);
            return Counts {
                failed: o.requests as u64,
                ..Counts::default()
            };
        }
    };
    let prefix = format!("{}{connection}-", o.prefix);
    let mut w = Worker {
        o,
        client,
        model: BTreeMap::new(),
        counts: Counts::default(),
        prefix,
    };
    for i in 0..o.requests {
        if !w.step(i) {
            w.counts.failed += (o.requests - i - 1) as u64;
            break;
        }
    }
    w.counts
}

impl Worker<'_> {
    /// One call; `false` when the connection is lost.
    fn step(&mut self, i: usize) -> bool {
        let key = format!("{}{}", self.prefix, i % 7);
        let value = format!("v{i}");
        let ops: &[&str] = match self.o.version {
            1 => &["put", "get", "get"],
            2 => &["put", "get", "put_ttl", "get", "delete", "get"],
            _ => &[
                "put",
                "get",
                "get_many",
                "cas",
                "put_ttl",
                "delete",
                "list_keys",
                "get",
            ],
        };
        let op = ops.get(i % ops.len()).copied().unwrap_or("get");
        match op {
            "put" => {
                let params = if self.o.version == 1 {
                    json!([key, value])
                } else {
                    json!([key, value, null])
                };
                self.check(
                    "put",
                    params,
                    |r| r.is_null() || r.is_u64(),
                    Some((
                        key,
                        Entry {
                            value,
                            with_ttl: false,
                        },
                    )),
                )
            }
            "put_ttl" => self.check(
                "put",
                json!({"key": key, "value": value, "ttl_ms": 600_000}),
                |r| r.is_null() || r.is_u64(),
                Some((
                    key,
                    Entry {
                        value,
                        with_ttl: true,
                    },
                )),
            ),
            "get" => {
                let want = self.model.get(&key).cloned();
                let version = self.o.version;
                self.check(
                    "get",
                    json!({"key": key}),
                    move |r| item_matches(version, r, want.as_ref()),
                    None,
                )
            }
            "get_many" => {
                let other = format!("{}missing", self.prefix);
                let want = (
                    self.model.get(&key).cloned(),
                    self.model.get(&other).cloned(),
                );
                self.check(
                    "get_many",
                    json!([[key, other]]),
                    move |r| {
                        let Some([a, b]) = r.as_array().map(Vec::as_slice) else {
                            return false;
                        };
                        item_matches(3, a, want.0.as_ref()) && item_matches(3, b, want.1.as_ref())
                    },
                    None,
                )
            }
            "cas" => {
                let exists = self.model.contains_key(&key);
                let write = (!exists).then(|| {
                    (
                        key.clone(),
                        Entry {
                            value: value.clone(),
                            with_ttl: false,
                        },
                    )
                });
                self.check(
                    "compare_and_put",
                    json!([key, value, null, 0]),
                    move |r| {
                        if exists {
                            r.get("Conflict").is_some_and(Value::is_u64)
                        } else {
                            r.get("Written").is_some_and(Value::is_u64)
                        }
                    },
                    write,
                )
            }
            "delete" => {
                let existed = self.model.contains_key(&key);
                let outcome = self.call("delete", json!([key]));
                match outcome {
                    Err(()) => return false,
                    Ok(Ok(r)) => {
                        if r == Value::Bool(existed) {
                            self.counts.ok += 1
                        } else {
                            self.wrong("delete", &r)
                        }
                        self.model.remove(&key);
                    }
                    Ok(Err(e)) => self.error("delete", &e),
                }
                true
            }
            _ => {
                let want: Vec<Value> = self.model.keys().map(|k| Value::from(k.clone())).collect();
                self.check(
                    "list_keys",
                    json!([self.prefix.clone(), 100]),
                    move |r| r == &Value::Array(want.clone()),
                    None,
                )
            }
        }
    }

    fn call(&mut self, method: &str, params: Value) -> Result<Result<Value, RpcError>, ()> {
        match self.client.call(method, params) {
            Ok(r) => Ok(r),
            Err(e) => {
                eprintln!("kv-load: `{method}` failed: {e}");
                self.counts.failed += 1;
                Err(())
            }
        }
    }

    /// Calls and checks; on success applies `write` to the model.
    fn check(
        &mut self,
        method: &str,
        params: Value,
        ok: impl Fn(&Value) -> bool,
        write: Option<(String, Entry)>,
    ) -> bool {
        match self.call(method, params) {
            Err(()) => false,
            Ok(Ok(r)) => {
                if ok(&r) {
                    self.counts.ok += 1
                } else {
                    self.wrong(method, &r)
                }
                if let Some((k, e)) = write {
                    self.model.insert(k, e);
                }
                true
            }
            Ok(Err(e)) => {
                self.error(method, &e);
                true
            }
        }
    }

    fn wrong(&mut self, method: &str, answer: &Value) {
        eprintln!("kv-load: wrong answer to `{method}`: {answer}");
        self.counts.wrong += 1;
    }

    fn error(&mut self, method: &str, e: &RpcError) {
        if e.is_disallowed() {
            self.counts.disallowed += 1;
        } else {
            eprintln!(
                "kv-load: `{method}` answered error {}: {}",
                e.code, e.message
            );
            self.counts.failed += 1;
        }
    }
}

/// Whether `r` is what a `version` caller's `get` returns for `want`.
fn item_matches(version: u64, r: &Value, want: Option<&Entry>) -> bool {
    let Some(want) = want else { return r.is_null() };
    match version {
        1 => r.as_str() == Some(want.value.as_str()),
        _ => {
            let value_ok = r.get("value").and_then(Value::as_str) == Some(want.value.as_str());
            let expiry_ok = match r.get("expires_at") {
                Some(Value::Null) => true,
                Some(t) => t.is_u64() && want.with_ttl,
                None => false,
            };
            let revision_ok = version < 3 || r.get("revision").is_some_and(Value::is_u64);
            value_ok && expiry_ok && revision_ok
        }
    }
}
