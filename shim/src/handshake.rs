//! The one-line messages shims exchange, and the sniffing of a connection's first bytes.
//!
//! A shim that carries its node's call to a peer opens with `UPSTART/1 NAME VERSION\n`; the
//! peer's shim answers with its own node's version the same way, or with
//! `UPSTART/1 error REASON\n` and closes. The LD_PRELOAD library opens its redirected
//! connections to the local shim with `UPSTART/1 connect ADDR\n` and is answered
//! `UPSTART/1 ok\n` once the shim reached the peer. A connection that does not start with
//! `UPSTART/1 ` comes from an outside client.

use crate::config::Framing;
use std::net::SocketAddr;

/// What every handshake line starts with.
pub const PREFIX: &[u8] = b"UPSTART/1 ";
/// The longest handshake line accepted.
pub const MAX_LINE: usize = 512;
/// The answer to a preload `connect` that reached its peer.
pub const OK_LINE: &str = "UPSTART/1 ok\n";

/// A parsed handshake line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A shim's greeting: its upgrade and its node's version.
    Hello { name: String, version: u64 },
    /// A refusal, with the reason.
    Error(String),
    /// The preload library's request to reach a peer.
    Connect(SocketAddr),
    /// The answer to `Connect`.
    Ok,
}

/// The greeting of a shim whose node runs `version` of `name`.
pub fn hello(name: &str, version: u64) -> String {
    format!("UPSTART/1 {name} {version}\n")
}

/// A refusal; newlines in `reason` become spaces so it stays one line.
pub fn error_line(reason: &str) -> String {
    let flat: String = reason
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    format!("UPSTART/1 error {flat}\n")
}

/// The preload library's request to reach `addr`.
pub fn connect_line(addr: SocketAddr) -> String {
    format!("UPSTART/1 connect {addr}\n")
}

/// Why a line is no handshake line. The texts quoted are shortened to 80 characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error("the handshake is not UTF-8")]
    NotUtf8(#[source] std::str::Utf8Error),
    #[error("`{0}` is not an UPSTART/1 handshake")]
    NotHandshake(String),
    #[error("`{text}` is not a socket address")]
    BadAddress {
        text: String,
        #[source]
        source: std::net::AddrParseError,
    },
    #[error("the handshake `{line}` has no version number after the upgrade name")]
    NoVersion {
        line: String,
        #[source]
        source: std::num::ParseIntError,
    },
    #[error("the handshake names no upgrade")]
    NoName,
}

/// Parses one handshake line (with or without its `\n`).
pub fn parse_line(line: &[u8]) -> Result<Line, HandshakeError> {
    let text = std::str::from_utf8(line).map_err(HandshakeError::NotUtf8)?;
    let text = text.trim_end_matches(['\n', '\r']);
    let Some(rest) = text.strip_prefix("UPSTART/1 ") else {
        return Err(HandshakeError::NotHandshake(shorten(text)));
    };
    let (word, tail) = rest.split_once(' ').unwrap_or((rest, ""));
    match word {
        "error" => Ok(Line::Error(tail.to_string())),
        "ok" if tail.is_empty() => Ok(Line::Ok),
        "connect" => tail
            .parse()
            .map(Line::Connect)
            .map_err(|source| HandshakeError::BadAddress {
                text: shorten(tail),
                source,
            }),
        name => {
            let version = tail
                .parse::<u64>()
                .map_err(|source| HandshakeError::NoVersion {
                    line: shorten(text),
                    source,
                })?;
            if name.is_empty() {
                return Err(HandshakeError::NoName);
            }
            Ok(Line::Hello {
                name: name.to_string(),
                version,
            })
        }
    }
}

fn shorten(text: &str) -> String {
    let mut out: String = text.chars().take(80).collect();
    if out.len() < text.len() {
        out.push_str("...");
    }
    out
}

/// Whether bytes received so far start a handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Handshake,
    NotHandshake,
    /// A prefix of `UPSTART/1 `: read more.
    NeedMore,
}

pub fn starts_handshake(bytes: &[u8]) -> Start {
    let n = bytes.len().min(PREFIX.len());
    if bytes.get(..n) != PREFIX.get(..n) {
        Start::NotHandshake
    } else if n == PREFIX.len() {
        Start::Handshake
    } else {
        Start::NeedMore
    }
}

/// Whether a connection's first bytes look like JSON-RPC in `framing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniff {
    JsonRpc,
    /// Another protocol: passed through untranslated.
    Other,
    NeedMore,
}

/// Sniffs the first bytes: a JSON object or array (after whitespace, or after a length prefix).
/// A length prefix over `max` counts as JSON-RPC, so that the frame reader refuses it clearly.
pub fn sniff(framing: Framing, bytes: &[u8], max: usize) -> Sniff {
    let json_start = |b: u8| b == b'{' || b == b'[';
    match framing {
        Framing::Lines => match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(&b) if json_start(b) => Sniff::JsonRpc,
            Some(_) => Sniff::Other,
            None if bytes.len() > MAX_LINE => Sniff::Other,
            None => Sniff::NeedMore,
        },
        Framing::Length => {
            let announced = bytes
                .get(..4)
                .and_then(|h| <[u8; 4]>::try_from(h).ok())
                .map(|h| u32::from_be_bytes(h) as usize);
            match (bytes.get(4), announced) {
                (_, Some(len)) if len > max => Sniff::JsonRpc,
                (Some(&b), _) if json_start(b) => Sniff::JsonRpc,
                (Some(_), _) => Sniff::Other,
                (None, _) => Sniff::NeedMore,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() {
        assert_eq!(
            parse_line(hello("kv", 2).as_bytes()),
            Ok(Line::Hello {
                name: "kv".into(),
                version: 2
            })
        );
        assert_eq!(
            parse_line(error_line("no\nway").as_bytes()),
            Ok(Line::Error("no way".into()))
        );
        let addr: SocketAddr = "127.0.0.1:7000".parse().unwrap();
        assert_eq!(
            parse_line(connect_line(addr).as_bytes()),
            Ok(Line::Connect(addr))
        );
        assert_eq!(parse_line(OK_LINE.as_bytes()), Ok(Line::Ok));
    }

    #[test]
    fn bad_lines_say_why() {
        assert_eq!(
            parse_line(b"UPSTART/1 kv two\n").unwrap_err().to_string(),
            "the handshake `UPSTART/1 kv two` has no version number after the upgrade name"
        );
        assert!(parse_line(b"HELLO")
            .unwrap_err()
            .to_string()
            .contains("not an UPSTART/1 handshake"));
        assert!(parse_line(b"UPSTART/1 connect nowhere").is_err());
        assert!(parse_line(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn errors_give_what_they_wrap_as_their_source() {
        use std::error::Error;
        let source = |line: &[u8]| {
            parse_line(line)
                .unwrap_err()
                .source()
                .map(|s| s.to_string())
        };
        let e = parse_line(b"UPSTART/1 connect nowhere").unwrap_err();
        assert_eq!(e.to_string(), "`nowhere` is not a socket address");
        assert!(e
            .source()
            .is_some_and(|s| s.is::<std::net::AddrParseError>()));
        assert_eq!(
            source(b"UPSTART/1 kv two"),
            Some("invalid digit found in string".into())
        );
        assert!(parse_line(&[0xff, 0xfe])
            .unwrap_err()
            .source()
            .is_some_and(|s| s.is::<std::str::Utf8Error>()));
        assert_eq!(source(b"HELLO"), None);
        assert_eq!(source(b"UPSTART/1  2"), None);
    }

    #[test]
    fn handshake_start_is_detected_byte_by_byte() {
        assert_eq!(starts_handshake(b"UPS"), Start::NeedMore);
        assert_eq!(starts_handshake(b"UPSTART/1 kv 1\n"), Start::Handshake);
        assert_eq!(starts_handshake(b"{\"jsonrpc\""), Start::NotHandshake);
        assert_eq!(starts_handshake(b""), Start::NeedMore);
    }

    #[test]
    fn sniffing() {
        assert_eq!(sniff(Framing::Lines, b"  {\"a\"", 9), Sniff::JsonRpc);
        assert_eq!(sniff(Framing::Lines, b"[{", 9), Sniff::JsonRpc);
        assert_eq!(sniff(Framing::Lines, b"GET / HTTP/1.1", 9), Sniff::Other);
        assert_eq!(sniff(Framing::Lines, b"\n ", 9), Sniff::NeedMore);
        assert_eq!(sniff(Framing::Length, b"\0\0\0\x05{", 9), Sniff::JsonRpc);
        assert_eq!(sniff(Framing::Length, b"\0\0\0", 9), Sniff::NeedMore);
        assert_eq!(sniff(Framing::Length, b"\0\0\0\x05x", 9), Sniff::Other);
        assert_eq!(sniff(Framing::Length, b"\0\0\0\x0a", 9), Sniff::JsonRpc);
    }
}
