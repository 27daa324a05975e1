//! The replicated key-value store of `specs/kv`, in versions 1, 2 and 3 (one binary each).
//!
//! ```sh
//! kv-v2 --listen 127.0.0.1:0 --state kv.json --peer 127.0.0.1:7001 --peer 127.0.0.1:7002
//! ```
//!
//! It prints `listening ADDR` on stdout once it accepts connections, serves JSON-RPC 2.0 (one
//! thread per connection), keeps its state in the JSON file `--state` (the spec's `state`
//! record of its version, rewritten atomically after every write), and sends every client
//! write to each `--peer` as a `replicate` call before answering. `replicate` is applied, not
//! passed on. Deletes are not replicated: no version's interface has a way to say so.

mod methods;
mod peers;
mod server;
mod store;

use crate::rpc::Framing;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

pub use store::Store;

/// Command-line options.
#[derive(Debug, Clone)]
pub struct Options {
    pub version: u64,
    pub listen: SocketAddr,
    pub state: PathBuf,
    pub peers: Vec<SocketAddr>,
    pub framing: Framing,
    /// A bug planted on purpose, for `upstart test`'s own tests (`None` in the real programs).
    pub planted: Option<Planted>,
}

/// Bugs planted in variants of the store (the `kv-planted-*` binaries), each of a kind
/// `upstart test` must find by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Planted {
    /// A write is answered before it is saved; the state is saved once a second, and a
    /// SIGTERM (the stop before an upgrade) loses what was answered since.
    AnswersBeforeSaving,
    /// Reads its state file differently from what the spec's transform writes: an item with
    /// no `expires_at` (every item the transform carries over) is read as expired and dropped.
    MisreadsState,
    /// Answers a write whose replication to a peer still fails after a second, without it:
    /// a peer route cut for longer than that (the peer itself healthy) loses the write on the
    /// peer, and the replicas diverge. Only a fault on the route between two nodes shows it.
    GivesUpReplicating,
    /// Saves the items peers send (`replicate`) but does not serve them: a `get` of a key
    /// last written through a peer answers that there is no such item (a served view that
    /// the replication path forgets to update), while the state file holds the item.
    HidesReplicated,
}

const USAGE: &str =
    "usage: kv-vN --state FILE [--listen ADDR] [--peer ADDR]... [--framing lines|length]";

fn parse(version: u64, mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        version,
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        state: PathBuf::new(),
        peers: Vec::new(),
        framing: Framing::Lines,
        planted: None,
    };
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("`{flag}` needs a value; {USAGE}"))
        };
        match flag.as_str() {
            "--listen" => {
                options.listen = value()?.parse().map_err(|e| format!("--listen: {e}"))?
            }
            "--state" => options.state = PathBuf::from(value()?),
            "--peer" => options
                .peers
                .push(value()?.parse().map_err(|e| format!("--peer: {e}"))?),
            "--framing" => options.framing = value()?.parse()?,
            other => return Err(format!("unknown argument `{other}`; {USAGE}")),
        }
    }
    if options.state.as_os_str().is_empty() {
        return Err(format!("--state is required; {USAGE}"));
    }
    Ok(options)
}

/// The `main` of `kv-v{version}`.
pub fn main(version: u64) -> ExitCode {
    main_with(version, None)
}

/// The `main` of a `kv-planted-*` variant of `kv-v{version}`.
pub fn main_with(version: u64, planted: Option<Planted>) -> ExitCode {
    let options = match parse(version, std::env::args().skip(1)) {
        Ok(o) => Options { planted, ..o },
        Err(e) => {
            eprintln!("kv-v{version}: error: {e}");
            return ExitCode::from(2);
        }
    };
    match server::run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kv-v{version}: error: {e}");
            ExitCode::from(1)
        }
    }
}
