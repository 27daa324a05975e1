//! Blocking JSON-RPC 2.0 over TCP: framing (lines or a 4-byte big-endian length) and a client.

use serde_json::{json, Value};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::str::FromStr;
use std::time::Duration;

/// The largest frame the apps read.
pub const MAX_FRAME: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Framing {
    #[default]
    Lines,
    Length,
}

impl FromStr for Framing {
    type Err = String;
    fn from_str(s: &str) -> Result<Framing, String> {
        match s {
            "lines" => Ok(Framing::Lines),
            "length" => Ok(Framing::Length),
            other => Err(format!(
                "unknown framing `{other}`: expected `lines` or `length`"
            )),
        }
    }
}

/// Reads one frame; `None` at the end of the stream. Blank lines are skipped.
pub fn read_frame<R: BufRead>(r: &mut R, framing: Framing) -> io::Result<Option<Vec<u8>>> {
    match framing {
        Framing::Lines => loop {
            let mut line = Vec::new();
            let n = r
                .by_ref()
                .take(MAX_FRAME as u64 + 2)
                .read_until(b'\n', &mut line)?;
            if n == 0 {
                return Ok(None);
            }
            if line.last() != Some(&b'\n') {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "frame too large or cut",
                ));
            }
            while matches!(line.last(), Some(b'\n' | b'\r')) {
                line.pop();
            }
            if !line.iter().all(u8::is_ascii_whitespace) {
                return Ok(Some(line));
            }
        },
        Framing::Length => {
            let mut header = [0u8; 4];
            match r.read_exact(&mut header) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
                Err(e) => return Err(e),
            }
            let len = u32::from_be_bytes(header) as usize;
            if len > MAX_FRAME {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "frame too large",
                ));
            }
            let mut body = vec![0u8; len];
            r.read_exact(&mut body)?;
            Ok(Some(body))
        }
    }
}

/// Writes one frame.
pub fn write_frame<W: Write>(w: &mut W, framing: Framing, payload: &[u8]) -> io::Result<()> {
    let mut out = Vec::with_capacity(payload.len() + 5);
    match framing {
        Framing::Lines => {
            out.extend_from_slice(payload);
            out.push(b'\n');
        }
        Framing::Length => {
            let len = u32::try_from(payload.len())
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(payload);
        }
    }
    w.write_all(&out)?;
    w.flush()
}

/// A JSON-RPC error object as received.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    /// Whether a `disallow` rule refused the call.
    pub fn is_disallowed(&self) -> bool {
        self.data
            .as_ref()
            .and_then(|d| d.get("disallowed"))
            .and_then(Value::as_bool)
            == Some(true)
    }
}

/// A blocking JSON-RPC client on one connection.
#[derive(Debug)]
pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    framing: Framing,
    next_id: u64,
}

impl Client {
    /// Connects, with `timeout` on connecting and on every read.
    pub fn connect(addr: SocketAddr, framing: Framing, timeout: Duration) -> io::Result<Client> {
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        Client::from_stream(stream, framing, timeout)
    }

    pub fn from_stream(
        stream: TcpStream,
        framing: Framing,
        timeout: Duration,
    ) -> io::Result<Client> {
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let writer = stream.try_clone()?;
        Ok(Client {
            reader: BufReader::new(stream),
            writer,
            framing,
            next_id: 1,
        })
    }

    /// Calls `method(params)`: `Ok(result)` or `Err(error object)`; IO errors outside.
    pub fn call(&mut self, method: &str, params: Value) -> io::Result<Result<Value, RpcError>> {
        let id = self.next_id;
        self.next_id += 1;
        let request = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.send(&serde_json::to_vec(&request)?)?;
        let response = self.receive()?;
        if response.get("id").and_then(Value::as_u64) != Some(id) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("answer with the wrong id: {response}"),
            ));
        }
        Ok(parse_response(&response))
    }

    /// Sends one raw frame.
    pub fn send(&mut self, payload: &[u8]) -> io::Result<()> {
        write_frame(&mut self.writer, self.framing, payload)
    }

    /// Sends raw bytes, unframed.
    pub fn send_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes)?;
        self.writer.flush()
    }

    /// Reads one frame as JSON.
    pub fn receive(&mut self) -> io::Result<Value> {
        let frame = read_frame(&mut self.reader, self.framing)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed"))?;
        serde_json::from_slice(&frame).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Whether the other side closed the connection (waits up to the read timeout).
    pub fn is_closed(&mut self) -> bool {
        matches!(
            read_frame(&mut self.reader, self.framing),
            Ok(None) | Err(_)
        )
    }
}

/// A response's result or error.
pub fn parse_response(response: &Value) -> Result<Value, RpcError> {
    match response.get("error") {
        Some(error) => Err(RpcError {
            code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
            message: error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            data: error.get("data").cloned(),
        }),
        None => Ok(response.get("result").cloned().unwrap_or(Value::Null)),
    }
}
