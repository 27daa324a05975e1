//! The server: one thread per connection, one frame at a time (single requests or batches).
//!
//! On SIGTERM it stops gracefully: a request read after the signal is not processed (its
//! connection closes, the caller resends it elsewhere), the requests in flight are answered
//! (their replication included), then the process exits. So a write it applied is always a
//! write it answered: no caller is left guessing whether a write it did not see answered took
//! effect.

use super::methods::{self, Failure};
use super::peers::Peers;
use super::store::Store;
use super::{Options, Planted};
use crate::rpc::{read_frame, write_frame, Framing};
use serde_json::{json, Value};
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a stopping server waits for its requests in flight (a write may be retrying a
/// peer, see `peers::REPLICATION_BOUND`).
const STOP_BOUND: Duration = Duration::from_secs(25);

/// Whether SIGTERM came, and the requests being processed.
#[derive(Debug, Default)]
struct Stop {
    asked: Arc<AtomicBool>,
    in_flight: AtomicUsize,
}

#[derive(Debug)]
struct Node {
    store: Mutex<Store>,
    peers: Peers,
    framing: Framing,
    stop: Stop,
    planted: Option<Planted>,
    /// [`Planted::HidesReplicated`]: the keys last written through a peer.
    hidden: Mutex<std::collections::BTreeSet<String>>,
}

pub fn run(options: Options) -> Result<(), String> {
    let mut store = Store::open(options.version, &options.state)?;
    if options.planted == Some(Planted::MisreadsState) {
        store.items.retain(|_, i| i.expires_at.is_some());
    }
    store.save()?;
    let listener = TcpListener::bind(options.listen)
        .map_err(|e| format!("cannot listen on {}: {e}", options.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let node = Arc::new(Node {
        store: Mutex::new(store),
        peers: Peers::new(
            &options.peers,
            options.framing,
            options.version,
            if options.planted == Some(Planted::GivesUpReplicating) {
                super::peers::PLANTED_BOUND
            } else {
                super::peers::REPLICATION_BOUND
            },
        ),
        framing: options.framing,
        stop: Stop::default(),
        planted: options.planted,
        hidden: Mutex::new(std::collections::BTreeSet::new()),
    });
    if options.planted == Some(Planted::AnswersBeforeSaving) {
        let saver = Arc::clone(&node);
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_secs(1));
            let store = match saver.store.lock() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
            let _ = store.save();
        });
    }
    signal_hook::flag::register(signal_hook::consts::SIGTERM, Arc::clone(&node.stop.asked))
        .map_err(|e| format!("cannot handle SIGTERM: {e}"))?;
    let watcher = Arc::clone(&node);
    std::thread::spawn(move || stop_when_asked(&watcher));
    println!("listening {addr}");
    let _ = std::io::stdout().flush();
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                let node = Arc::clone(&node);
                std::thread::spawn(move || serve(&node, stream));
            }
            Err(e) => eprintln!("kv-v{}: accept failed: {e}", options.version),
        }
    }
    Ok(())
}

/// Waits for SIGTERM, then for the requests in flight (at most [`STOP_BOUND`]), then exits.
fn stop_when_asked(node: &Node) {
    while !node.stop.asked.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let deadline = Instant::now() + STOP_BOUND;
    while node.stop.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    std::process::exit(0);
}

fn serve(node: &Node, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let frame = match read_frame(&mut reader, node.framing) {
            Ok(Some(frame)) => frame,
            Ok(None) | Err(_) => return,
        };
        // Counted before the stop is checked: the stopping thread, once it saw the signal,
        // sees this request and waits for it.
        node.stop.in_flight.fetch_add(1, Ordering::SeqCst);
        let _done = InFlight(&node.stop.in_flight);
        if node.stop.asked.load(Ordering::SeqCst) {
            return;
        }
        let answer = match serde_json::from_slice::<Value>(&frame) {
            Err(e) => Some(error(Value::Null, (-32700, format!("parse error: {e}")))),
            Ok(Value::Array(items)) if items.is_empty() => Some(error(
                Value::Null,
                (-32600, "invalid request: empty batch".into()),
            )),
            Ok(Value::Array(items)) => {
                let answers: Vec<Value> =
                    items.into_iter().filter_map(|r| handle(node, r)).collect();
                (!answers.is_empty()).then_some(Value::Array(answers))
            }
            Ok(request) => handle(node, request),
        };
        if let Some(answer) = answer {
            let bytes = serde_json::to_vec(&answer).unwrap_or_default();
            if write_frame(&mut writer, node.framing, &bytes).is_err() {
                return;
            }
        }
    }
}

/// Uncounts a request when its answer is written (or its connection dropped).
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn error(id: Value, (code, message): Failure) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// Answers one request; `None` for a notification.
fn handle(node: &Node, request: Value) -> Option<Value> {
    let Value::Object(mut request) = request else {
        return Some(error(Value::Null, (-32600, "invalid request".into())));
    };
    let id = request.remove("id");
    let Some(Value::String(method)) = request.remove("method") else {
        return Some(error(
            id.unwrap_or(Value::Null),
            (-32600, "invalid request: no method".into()),
        ));
    };
    let params = request.remove("params");
    let planted_params = (node.planted == Some(Planted::HidesReplicated)).then(|| params.clone());
    let outcome = {
        let mut store = match node.store.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let outcome = methods::call(&mut store, &method, params);
        if let Ok(o) = &outcome {
            if o.changed && node.planted != Some(Planted::AnswersBeforeSaving) {
                if let Err(e) = store.save() {
                    eprintln!("kv-v{}: {e}", store.version);
                }
            }
        }
        outcome
    };
    // Replicate outside the store's lock: a peer's `replicate` may come in meanwhile.
    if let Ok(Some(params)) = outcome.as_ref().map(|o| o.replicate.as_ref()) {
        node.peers.replicate(params);
    }
    let outcome = match (planted_params, outcome) {
        (Some(params), Ok(o)) => Ok(hide_replicated(node, &method, params.as_ref(), o)),
        (_, outcome) => outcome,
    };
    let id = id?;
    Some(match outcome {
        Ok(o) => json!({"jsonrpc": "2.0", "id": id, "result": o.result}),
        Err(failure) => error(id, failure),
    })
}

/// [`Planted::HidesReplicated`]: remembers the keys peers write, forgets those written here,
/// and answers a `get` of a remembered key with no item.
fn hide_replicated(
    node: &Node,
    method: &str,
    params: Option<&Value>,
    mut o: methods::Outcome,
) -> methods::Outcome {
    let mut hidden = match node.hidden.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    let key = params
        .and_then(|p| p.get("key").or_else(|| p.get(0)))
        .and_then(Value::as_str)
        .map(str::to_string);
    match (method, key) {
        ("replicate", _) => {
            let items = params.and_then(|p| p.get("items").or_else(|| p.get(0)));
            if let Some(Value::Object(items)) = items {
                hidden.extend(items.keys().cloned());
            }
        }
        ("get", Some(k)) if hidden.contains(&k) => o.result = Value::Null,
        ("get", _) => {}
        (_, Some(k)) => {
            hidden.remove(&k);
        }
        _ => {}
    }
    o
}
