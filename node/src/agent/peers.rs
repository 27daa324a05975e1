//! Whether the peers can talk to a version yet: before a node stops to upgrade, it greets each
//! peer's shim as its new version would (`UPSTART/1 NAME VERSION`). A peer that refuses has not
//! installed the future rules yet, and the new version's calls to it would be refused: the
//! upgrade waits for it (bounded). A peer that cannot be reached is not waited for.

use shim::{hello, parse_line, Line};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// What a peer's shim answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Greeting {
    /// It serves callers of the version.
    Accepted,
    /// It refused, with its reason.
    Refused(String),
    /// No answer (down, or busy upgrading).
    Unreachable(String),
}

/// Greets the shim at `peer` as a node of `version` of `system`.
pub async fn greet(peer: SocketAddr, system: &str, version: u64, timeout: Duration) -> Greeting {
    let attempt = async {
        let mut stream = TcpStream::connect(peer)
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        stream
            .write_all(hello(system, version).as_bytes())
            .await
            .map_err(|e| format!("cannot greet: {e}"))?;
        let mut line = String::new();
        BufReader::new(stream)
            .read_line(&mut line)
            .await
            .map_err(|e| format!("no answer: {e}"))?;
        Ok::<String, String>(line)
    };
    match tokio::time::timeout(timeout, attempt).await {
        Err(_) => Greeting::Unreachable("no answer in time".into()),
        Ok(Err(e)) => Greeting::Unreachable(e),
        Ok(Ok(line)) => match parse_line(line.as_bytes()) {
            Ok(Line::Hello { .. }) => Greeting::Accepted,
            Ok(Line::Error(reason)) => Greeting::Refused(reason),
            Ok(other) => Greeting::Refused(format!("unexpected answer {other:?}")),
            Err(e) => Greeting::Refused(e.to_string()),
        },
    }
}

/// Waits (at most `bound`) until no reachable peer refuses `version`; returns the peers that
/// still refuse.
pub async fn wait_until_bridged(
    peers: &[SocketAddr],
    system: &str,
    version: u64,
    bound: Duration,
) -> Vec<(SocketAddr, String)> {
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        let mut refusing = Vec::new();
        for &peer in peers {
            match greet(peer, system, version, Duration::from_secs(1)).await {
                Greeting::Accepted => {}
                Greeting::Refused(why) => refusing.push((peer, why)),
                Greeting::Unreachable(why) => {
                    tracing::debug!(%peer, "peer not reachable ({why}): not waiting for it")
                }
            }
        }
        if refusing.is_empty() || tokio::time::Instant::now() >= deadline {
            return refusing;
        }
        tracing::info!(
            version,
            ?refusing,
            "waiting for peers to install the rules of version {version}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    async fn answering(line: &'static str) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let _ = s.write_all(line.as_bytes()).await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn greetings_are_told_apart() {
        let ok = answering("UPSTART/1 kv 1\n").await;
        let no = answering("UPSTART/1 error unknown version 2\n").await;
        let t = Duration::from_millis(500);
        assert_eq!(greet(ok, "kv", 2, t).await, Greeting::Accepted);
        assert_eq!(
            greet(no, "kv", 2, t).await,
            Greeting::Refused("unknown version 2".into())
        );
        let gone = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        assert!(matches!(
            greet(gone, "kv", 2, t).await,
            Greeting::Unreachable(_)
        ));
        let left = wait_until_bridged(&[ok, no, gone], "kv", 2, Duration::from_millis(100)).await;
        assert_eq!(left, vec![(no, "unknown version 2".to_string())]);
    }
}
