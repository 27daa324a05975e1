//! The network faults of a plan as the runner makes them: a command to a node's shim through
//! its test fault control socket (`upstart node --test-faults`, see the shim's `faults`
//! module) to delay or cut a peer route, and bursts of idle connections to a client port.
//! Public: the node tests drive a shim's faults through it too.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The agent flag and environment that turn the shim's fault hook on.
pub const FLAG: &str = "--test-faults";
pub const ENV: (&str, &str) = (crate::node_cli::TEST_FAULTS_ENV, "1");

/// How long a command waits for the agent's socket (an agent being restarted has none yet).
const SOCKET_WAIT: Duration = Duration::from_secs(10);

/// Sends `command` to the shim whose fault control socket is `socket`; an error says why it
/// was not applied.
pub fn command(socket: &Path, command: &str) -> Result<(), String> {
    let deadline = Instant::now() + SOCKET_WAIT;
    let stream = loop {
        match UnixStream::connect(socket) {
            Ok(s) => break s,
            Err(e) if Instant::now() > deadline => {
                return Err(format!(
                    "cannot reach the fault control socket `{}`: {e}",
                    socket.display()
                ))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    let _ = stream.set_read_timeout(Some(SOCKET_WAIT));
    let mut writer = stream
        .try_clone()
        .map_err(|e| format!("fault control socket: {e}"))?;
    writeln!(writer, "{command}").map_err(|e| format!("fault control socket: {e}"))?;
    let mut answer = String::new();
    BufReader::new(stream)
        .read_line(&mut answer)
        .map_err(|e| format!("fault control socket: {e}"))?;
    match answer.trim() {
        "ok" => Ok(()),
        other => Err(format!("the shim refused `{command}`: {other}")),
    }
}

/// Opens `connections` connections to `addr` that never send a byte, holds them for `hold`,
/// then closes them, on a thread of its own (connections refused or closed by the shim
/// count as part of the burst: the node must serve on regardless).
pub fn idle_burst(addr: SocketAddr, connections: usize, hold: Duration) -> JoinHandle<usize> {
    // Hundreds of sockets: more than a default soft limit of 1,024 leaves room for.
    let _ = shim::raise_fd_limit();
    std::thread::spawn(move || {
        let started = Instant::now();
        let held: Vec<TcpStream> = (0..connections)
            .filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok())
            .collect();
        std::thread::sleep(hold.saturating_sub(started.elapsed()));
        held.len()
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn commands_are_answered_ok_or_refused() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("faults.sock");
        // A socket that answers: `ok` to the first command, an error to the second.
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let server = std::thread::spawn(move || {
            for answer in ["ok", "error: `x` is not a command"] {
                let (s, _) = listener.accept().unwrap();
                let mut line = String::new();
                BufReader::new(s.try_clone().unwrap())
                    .read_line(&mut line)
                    .unwrap();
                writeln!(&s, "{answer}").unwrap();
            }
        });
        command(&socket, "cut * 10").unwrap();
        let e = command(&socket, "x").unwrap_err();
        assert!(e.contains("refused `x`"), "{e}");
        server.join().unwrap();
    }

    #[test]
    fn an_idle_burst_holds_its_connections() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let burst = idle_burst(addr, 20, Duration::from_millis(50));
        assert_eq!(burst.join().unwrap(), 20);
    }
}
