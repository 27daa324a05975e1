//! Connection limits: a [`Pool`] of slots per port, one for peers' shims, and one for the
//! newcomers a full port still reads a handshake from.
//!
//! A connection holds a [`Slot`] of its port's pool from accept. Until the node (or the shim
//! on its behalf) first answers it, the slot is *unproven*: a newcomer to a full pool takes the
//! place of the oldest unproven connection, which is told to close ([`Slot::evicted`]). So
//! idle or trickling sockets cannot keep real callers out, and accept never waits for a slot.
//! Once answered, a connection is *proven* and keeps its slot until it ends (its deadlines
//! still apply). A peer's shim leaves its port's pool for the peers' pool once its handshake
//! is read: clients never take a peer's place.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// Slots for at most `limit` connections.
#[derive(Debug)]
pub(crate) struct Pool {
    limit: usize,
    inner: Mutex<Inner>,
    /// Connections that lost their slot to a newcomer.
    pub evicted: AtomicU64,
}

#[derive(Debug, Default)]
struct Inner {
    next: u64,
    /// Unproven connections by age (oldest first), with the signal that closes each.
    unproven: BTreeMap<u64, Arc<Notify>>,
    proven: usize,
}

impl Pool {
    pub fn new(limit: usize) -> Arc<Pool> {
        Arc::new(Pool {
            limit,
            inner: Mutex::new(Inner::default()),
            evicted: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// A slot for a new connection: a free one, or the one of the oldest unproven connection
    /// (which is told to close); `None` when every slot is held by a proven connection.
    pub fn admit(self: &Arc<Self>) -> Option<Slot> {
        let mut inner = self.lock();
        if inner.unproven.len() + inner.proven >= self.limit {
            let (_, oldest) = inner.unproven.pop_first()?;
            oldest.notify_one();
            self.evicted.fetch_add(1, Ordering::Relaxed);
        }
        let id = inner.next;
        inner.next += 1;
        let evicted = Arc::new(Notify::new());
        inner.unproven.insert(id, Arc::clone(&evicted));
        Some(Slot {
            pool: Arc::clone(self),
            id,
            evicted,
            proven: AtomicBool::new(false),
        })
    }

    /// Connections holding a slot.
    #[cfg(test)]
    fn held(&self) -> usize {
        let inner = self.lock();
        inner.unproven.len() + inner.proven
    }
}

/// A connection's place in a pool, given back when dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    pool: Arc<Pool>,
    id: u64,
    evicted: Arc<Notify>,
    /// Counted among the proven connections of the pool.
    proven: AtomicBool,
}

impl Slot {
    /// The connection was answered: no newcomer takes its place from now on. Cheap after the
    /// first time (one load).
    pub fn prove(&self) {
        if self.proven.load(Ordering::Relaxed) {
            return;
        }
        let mut inner = self.pool.lock();
        // Not there: already evicted (its signal is pending and closes it).
        if inner.unproven.remove(&self.id).is_some() {
            inner.proven += 1;
            self.proven.store(true, Ordering::Relaxed);
        }
    }

    /// Completes when a newcomer took this slot: the connection must close. Never completes
    /// once the slot is proven (unless it was evicted just before).
    pub async fn evicted(&self) {
        self.evicted.notified().await;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut inner = self.pool.lock();
        if self.proven.load(Ordering::Relaxed) {
            inner.proven = inner.proven.saturating_sub(1);
        } else {
            inner.unproven.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn fires(slot: &Slot) -> bool {
        tokio::time::timeout(Duration::from_millis(20), slot.evicted())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn newcomers_take_the_oldest_unproven_slot() {
        let pool = Pool::new(2);
        let a = pool.admit().unwrap();
        let b = pool.admit().unwrap();
        b.prove();
        let c = pool.admit().unwrap();
        assert!(fires(&a).await, "the oldest unproven one goes");
        assert!(!fires(&b).await, "a proven one stays");
        assert_eq!(pool.held(), 2);
        c.prove();
        assert!(pool.admit().is_none(), "all proven: no room");
        drop(a);
        assert_eq!(pool.held(), 2, "an evicted slot was already given back");
        drop(b);
        assert_eq!(pool.held(), 1);
        let d = pool.admit().unwrap();
        assert!(!fires(&c).await);
        drop((c, d));
        assert_eq!(pool.held(), 0);
        assert_eq!(pool.evicted.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn proving_an_evicted_slot_keeps_it_evicted() {
        let pool = Pool::new(1);
        let a = pool.admit().unwrap();
        let b = pool.admit().unwrap();
        a.prove();
        assert!(fires(&a).await);
        drop(a);
        assert_eq!(pool.held(), 1);
        drop(b);
        assert_eq!(pool.held(), 0);
    }
}
