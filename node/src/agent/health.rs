//! The health check of the node program, straight to its port (not through the shim): a TCP
//! connection and one JSON-RPC call that must be answered with the call's id and a result (or
//! an error, when the probe says errors are healthy: it proves the program reads and answers).
//! The probe is the node's (`upstart node --health-*`) unless the bundle that installed the
//! version declares its own. [`hold`] requires it to pass without a break for `healthy_for`.

use super::config::HealthConfig;
use serde_json::{json, Value};
use shim::Framing;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The largest answer a probe reads.
const MAX_ANSWER: usize = 1 << 20;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// One probe of the program at `addr`.
pub async fn probe(
    addr: SocketAddr,
    config: &HealthConfig,
    framing: Framing,
) -> Result<(), String> {
    tokio::time::timeout(config.timeout, probe_once(addr, config, framing))
        .await
        .map_err(|_| {
            format!(
                "the program at {addr} did not answer the health probe within {} ms",
                config.timeout.as_millis()
            )
        })?
}

async fn probe_once(
    addr: SocketAddr,
    config: &HealthConfig,
    framing: Framing,
) -> Result<(), String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect to the program at {addr}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let request =
        json!({"jsonrpc": "2.0", "id": id, "method": config.method, "params": config.params});
    let body = serde_json::to_vec(&request).map_err(|e| e.to_string())?;
    let frame = match framing {
        Framing::Lines => {
            let mut f = body;
            f.push(b'\n');
            f
        }
        Framing::Length => {
            let len =
                u32::try_from(body.len()).map_err(|_| "the probe is too large".to_string())?;
            let mut f = len.to_be_bytes().to_vec();
            f.extend_from_slice(&body);
            f
        }
    };
    stream
        .write_all(&frame)
        .await
        .map_err(|e| format!("cannot send the health probe to {addr}: {e}"))?;
    let mut reader = BufReader::new(stream);
    let answer = match framing {
        Framing::Lines => {
            let mut line = Vec::new();
            (&mut reader)
                .take(MAX_ANSWER as u64)
                .read_until(b'\n', &mut line)
                .await
                .map_err(|e| format!("no answer to the health probe from {addr}: {e}"))?;
            line
        }
        Framing::Length => {
            let mut header = [0u8; 4];
            reader
                .read_exact(&mut header)
                .await
                .map_err(|e| format!("no answer to the health probe from {addr}: {e}"))?;
            let len = u32::from_be_bytes(header) as usize;
            if len > MAX_ANSWER {
                return Err(format!(
                    "the answer of {addr} to the health probe is too large"
                ));
            }
            let mut body = vec![0u8; len];
            reader
                .read_exact(&mut body)
                .await
                .map_err(|e| format!("a cut answer to the health probe from {addr}: {e}"))?;
            body
        }
    };
    if answer.is_empty() {
        return Err(format!(
            "the program at {addr} closed the connection of the health probe"
        ));
    }
    let value: Value = serde_json::from_slice(&answer)
        .map_err(|e| format!("the answer of {addr} to the health probe is not JSON: {e}"))?;
    let ours = value.get("id").and_then(Value::as_u64) == Some(id);
    match (value.get("result"), value.get("error")) {
        (Some(_), None) if ours => Ok(()),
        (None, Some(_)) if ours && config.errors_healthy => Ok(()),
        (None, Some(error)) if ours => Err(format!(
            "the program at {addr} answered the health probe `{}` with an error: {error}",
            config.method
        )),
        _ => Err(format!(
            "the answer of {addr} to the health probe is not a JSON-RPC response: {value}"
        )),
    }
}

/// Probes every `config.interval` until the program has been healthy for `healthy_for`; the
/// first failed probe fails.
pub async fn hold(
    addr: SocketAddr,
    config: &HealthConfig,
    framing: Framing,
    healthy_for: Duration,
) -> Result<(), String> {
    let start = tokio::time::Instant::now();
    loop {
        probe(addr, config, framing).await?;
        let elapsed = start.elapsed();
        if elapsed >= healthy_for {
            return Ok(());
        }
        tokio::time::sleep(config.interval.min(healthy_for - elapsed)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A one-connection-at-a-time server answering each line with `answer(id)`.
    async fn server(answer: fn(u64) -> String) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (r, mut w) = stream.into_split();
                let mut lines = BufReader::new(r).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let v: Value = serde_json::from_str(&line).unwrap();
                    let out = answer(v["id"].as_u64().unwrap());
                    w.write_all(out.as_bytes()).await.unwrap();
                }
            }
        });
        addr
    }

    fn quick() -> HealthConfig {
        HealthConfig {
            timeout: Duration::from_millis(300),
            interval: Duration::from_millis(20),
            ..HealthConfig::default()
        }
    }

    #[tokio::test]
    async fn answers_pass_and_anything_else_fails() {
        let ok =
            server(|id| format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":null}}\n")).await;
        let err = server(|id| {
            format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"error\":{{\"code\":-32601,\"message\":\"no\"}}}}\n")
        })
        .await;
        let wrong = server(|_| "{\"id\": 0, \"result\": 1}\n".into()).await;
        let garbage = server(|_| "hello\n".into()).await;
        let c = quick();
        probe(ok, &c, Framing::Lines).await.unwrap();
        let e = probe(err, &c, Framing::Lines).await.unwrap_err();
        assert!(
            e.contains("answered the health probe `get` with an error"),
            "{e}"
        );
        let lenient = HealthConfig {
            errors_healthy: true,
            ..quick()
        };
        probe(err, &lenient, Framing::Lines).await.unwrap();
        hold(ok, &c, Framing::Lines, Duration::from_millis(100))
            .await
            .unwrap();
        assert!(probe(wrong, &c, Framing::Lines)
            .await
            .unwrap_err()
            .contains("not a JSON-RPC response"));
        assert!(probe(garbage, &c, Framing::Lines)
            .await
            .unwrap_err()
            .contains("not JSON"));
        let closed = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        assert!(probe(closed, &c, Framing::Lines)
            .await
            .unwrap_err()
            .contains("cannot connect"));
    }

    #[tokio::test]
    async fn a_silent_program_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _keep = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        });
        let e = probe(addr, &quick(), Framing::Lines).await.unwrap_err();
        assert!(
            e.contains("did not answer the health probe within 300 ms"),
            "{e}"
        );
    }
}
