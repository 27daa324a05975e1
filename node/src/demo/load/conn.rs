//! The load's blocking JSON-RPC connection to one node's port (lines framing), through which
//! the workers and the final read-back call.

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A blocking JSON-RPC connection (lines framing).
pub(super) struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    pub(super) fn open(addr: SocketAddr, timeout: Duration) -> std::io::Result<Conn> {
        let s = TcpStream::connect_timeout(&addr, timeout)?;
        s.set_nodelay(true)?;
        let writer = s.try_clone()?;
        Ok(Conn {
            reader: BufReader::new(s),
            writer,
        })
    }

    pub(super) fn call(&mut self, request: &[u8], wait: Duration) -> std::io::Result<Value> {
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
