//! What the shim's tests share (and the `upstart-shim` binary's, in `shim/cli/tests`): loopback
//! addresses, a fake JSON-RPC node (one thread per connection), and a line-framed client
//! connection with a read deadline.
#![allow(dead_code, clippy::unwrap_used, reason = "tests")]
#![allow(clippy::indexing_slicing, reason = "tests")]

use serde_json::{json, Value};
use shim::{ListenerConfig, Shim, ShimConfig};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

/// How long a test waits for an answer before calling it missing (not a timed assertion: a
/// shim that works answers in microseconds; one that is starved never does).
pub const WAIT: Duration = Duration::from_secs(10);

/// `127.0.0.1`, a port the OS chooses.
pub fn any() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A node that answers every request with its method and params (`slow` after 400 ms); it
/// drops a connection that sends something other than JSON.
pub fn fake_node() -> SocketAddr {
    let listener = TcpListener::bind(any()).unwrap();
    let addr = listener.local_addr().unwrap();
    serve_json_lines(listener, |request| {
        if request["method"] == "slow" {
            std::thread::sleep(Duration::from_millis(400));
        }
        json!({"method": request["method"], "params": request["params"]})
    });
    addr
}

/// Serves JSON-RPC lines on `listener`, one thread per connection: each request is answered
/// with `result(request)` as its result; a connection that sends something other than JSON is
/// dropped.
pub fn serve_json_lines(
    listener: TcpListener,
    result: impl Fn(&Value) -> Value + Clone + Send + 'static,
) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let result = result.clone();
            std::thread::spawn(move || {
                let Ok(mut writer) = stream.try_clone() else {
                    return;
                };
                for line in BufReader::new(stream).lines() {
                    let Ok(line) = line else { return };
                    let Ok(request) = serde_json::from_str::<Value>(&line) else {
                        return;
                    };
                    let answer =
                        json!({"jsonrpc": "2.0", "id": request["id"], "result": result(&request)});
                    if writeln!(writer, "{answer}").is_err() {
                        return;
                    }
                }
            });
        }
    });
}

/// A shim for `kv` at version 1 in front of `node`, with one main port.
pub fn one_port(node: SocketAddr) -> ShimConfig {
    let mut config = ShimConfig::new("kv", 1);
    config.node_addr = Some(node);
    config.listeners = vec![ListenerConfig {
        addr: any(),
        version: None,
    }];
    config
}

/// A shim for `kv` at `version` in front of `node`, with a main port (the node's version) and
/// a port pinned to the next version.
pub fn two_ports(node: Option<SocketAddr>, version: u64) -> ShimConfig {
    let mut config = ShimConfig::new("kv", version);
    config.node_addr = node;
    config.listeners = vec![
        ListenerConfig {
            addr: any(),
            version: None,
        },
        ListenerConfig {
            addr: any(),
            version: Some(version + 1),
        },
    ];
    config
}

/// Starts a shim (no plugins) with `config`: it, and its client ports in order.
pub async fn start(config: ShimConfig) -> (Shim, Vec<SocketAddr>) {
    let shim = Shim::start(config, None).await.unwrap();
    let ports = shim.addrs().listeners.iter().map(|l| l.0).collect();
    (shim, ports)
}

/// A JSON-RPC request line: id 1, `method`, params `["a"]`.
pub fn request(method: &str) -> String {
    format!(
        "{}\n",
        json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": ["a"]})
    )
}

/// A client connection, reading line by line with a deadline of [`WAIT`].
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        Conn { stream, reader }
    }

    /// Writes `text` as it is (a handshake line, say).
    pub fn write(&mut self, text: &str) {
        self.stream.write_all(text.as_bytes()).unwrap();
    }

    /// The next line as read (empty at the end of the stream).
    pub fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        line
    }

    /// Sends a [`request`] for `method` without waiting for its answer.
    pub fn send(&mut self, method: &str) {
        self.write(&request(method));
    }

    /// The next answer; `Err("closed")` at the end of the stream.
    pub fn answer(&mut self) -> Result<Value, String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => Err("closed".into()),
            Ok(_) => serde_json::from_str(&line).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Sends a request for `method` and reads its answer.
    pub fn call(&mut self, method: &str) -> Result<Value, String> {
        self.send(method);
        self.answer()
    }
}

/// Connects, optionally greets as a peer's shim, makes one call; the answer's method.
pub fn call(addr: SocketAddr, greet: Option<&str>) -> Result<String, String> {
    let stream = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if let Some(hello) = greet {
        writer.write_all(hello.as_bytes()).unwrap();
        reader
            .read_line(&mut line)
            .map_err(|e| format!("no handshake answer: {e}"))?;
        if line != hello {
            return Err(format!("handshake answered `{line}`"));
        }
        line.clear();
    }
    writer
        .write_all(request("get").as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    reader
        .read_line(&mut line)
        .map_err(|e| format!("no answer: {e}"))?;
    let answer: Value = serde_json::from_str(&line).map_err(|e| format!("`{line}`: {e}"))?;
    answer["result"]["method"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("answered {answer}"))
}

/// Opens `n` connections to `addr` that send nothing.
pub fn idle(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n).map(|_| TcpStream::connect(addr).unwrap()).collect()
}

/// Whether the shim closed `stream` (end of stream or reset) within `wait`.
pub fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut byte = [0u8; 64];
    loop {
        match stream.read(&mut byte) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if upstart_test_support::timed_out(&e) => return false,
            Err(_) => return true,
        }
    }
}
