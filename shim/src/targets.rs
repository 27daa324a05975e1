//! The node program's listening sockets registered for hand-off (by its LD_PRELOAD library,
//! see `handoff`): what the shared context holds and `handoff` reads, apart from both.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::net::UnixStream;

/// The node program's listening sockets, as its LD_PRELOAD library registered them.
#[derive(Debug, Default)]
pub(crate) struct Targets {
    registered: Mutex<Vec<Target>>,
    next_id: AtomicU64,
}

#[derive(Debug)]
struct Target {
    id: u64,
    addr: SocketAddr,
    stream: Arc<UnixStream>,
}

impl Targets {
    fn lock(&self) -> MutexGuard<'_, Vec<Target>> {
        match self.registered.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Registers the program's socket listening at `addr`, reached over `stream`; its id.
    pub fn add(&self, addr: SocketAddr, stream: Arc<UnixStream>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().push(Target { id, addr, stream });
        id
    }

    /// The registration whose socket listens at `node` (an unspecified IP matches any).
    pub fn find(&self, node: SocketAddr) -> Option<(u64, Arc<UnixStream>)> {
        self.lock()
            .iter()
            .rev()
            .find(|t| {
                t.addr == node || (t.addr.ip().is_unspecified() && t.addr.port() == node.port())
            })
            .map(|t| (t.id, Arc::clone(&t.stream)))
    }

    pub fn remove(&self, id: u64) {
        self.lock().retain(|t| t.id != id);
    }

    /// Whether the program at `node` registered (for tests and status).
    pub fn has(&self, node: SocketAddr) -> bool {
        self.find(node).is_some()
    }
}
