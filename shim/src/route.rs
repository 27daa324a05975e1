//! Where calls go right now: the node's address and version and the loaded plugin chain. A
//! [`Route`] is immutable; the shim holds the current one behind a lock and swaps it whole
//! (an upgrade changes the node's version and the chain together), so a request sees either
//! the old route or the new one.

use crate::signatures::Signatures;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use upstart_plugin_host::Chain;

/// The current node and translation rules.
#[derive(Debug, Clone)]
pub struct Route {
    /// Where the node listens; `None` before it started.
    pub node_addr: Option<SocketAddr>,
    /// The version the node runs.
    pub node_version: u64,
    /// The plugins between versions; `None` when the cluster has a single version.
    pub chain: Option<Arc<Chain>>,
    /// The methods of every version the chain bridges.
    pub signatures: Arc<Signatures>,
}

impl Route {
    pub fn new(
        node_addr: Option<SocketAddr>,
        node_version: u64,
        chain: Option<Arc<Chain>>,
    ) -> Route {
        let signatures = Arc::new(Signatures::of_chain(chain.as_deref()));
        Route {
            node_addr,
            node_version,
            chain,
            signatures,
        }
    }

    /// Whether a caller at `version` can be served: the node's own version, or one the chain
    /// bridges to it.
    pub fn serves(&self, version: u64) -> bool {
        version == self.node_version
            || (self.signatures.knows(version) && self.signatures.knows(self.node_version))
    }

    /// The versions served, ascending.
    pub fn served_versions(&self) -> Vec<u64> {
        let mut all = self.signatures.versions();
        if !all.contains(&self.node_version) {
            all.push(self.node_version);
            all.sort_unstable();
        }
        all
    }

    /// "1, 2, 3".
    pub fn served_list(&self) -> String {
        let all: Vec<String> = self.served_versions().iter().map(u64::to_string).collect();
        all.join(", ")
    }
}

/// The shared, swappable current route.
#[derive(Debug)]
pub struct RouteCell {
    current: RwLock<Arc<Route>>,
}

impl RouteCell {
    pub fn new(route: Route) -> RouteCell {
        RouteCell {
            current: RwLock::new(Arc::new(route)),
        }
    }

    /// The current route (a cheap clone of an `Arc`).
    pub fn get(&self) -> Arc<Route> {
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard),
            // A writer never panics while holding the lock (it only assigns), but stay usable.
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Replaces the route with `f(current)`.
    pub fn update(&self, f: impl FnOnce(&Route) -> Route) -> Arc<Route> {
        let mut guard = match self.current.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let next = Arc::new(f(&guard));
        *guard = Arc::clone(&next);
        next
    }
}
