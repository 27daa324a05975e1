//! The process's limit on open file descriptors: every connection the shim holds costs one or
//! two, and a process out of them can accept nothing (not even a health probe's or a peer's).
//! [`raise_fd_limit`] lifts the soft limit to the hard one, as servers do at start;
//! [`fd_budget`] tells whether a configuration's limits fit in it.

use crate::config::ShimConfig;
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// The soft limit used when the hard one is unlimited (Linux's default `fs.nr_open`).
const UNLIMITED_CAP: u64 = 1 << 20;

/// The soft limit on open descriptors before and after [`raise_fd_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdLimit {
    pub before: u64,
    pub after: u64,
}

/// The current soft limit on open descriptors (`u64::MAX`: unlimited).
pub fn fd_limit() -> u64 {
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// Raises the soft limit on open descriptors to the hard limit (no privilege needed).
pub fn raise_fd_limit() -> std::io::Result<FdLimit> {
    let limit = getrlimit(Resource::Nofile);
    let before = limit.current.unwrap_or(u64::MAX);
    let target = limit.maximum.unwrap_or(UNLIMITED_CAP);
    if before >= target {
        return Ok(FdLimit {
            before,
            after: before,
        });
    }
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(target),
            maximum: limit.maximum,
        },
    )?;
    Ok(FdLimit {
        before,
        after: fd_limit(),
    })
}

/// The most descriptors a shim with `config` holds at once: two per connection of each port
/// (the caller's and the node's or peer's) and per peer connection, one per newcomer awaited.
pub fn fd_budget(config: &ShimConfig, triage: usize) -> u64 {
    let ports =
        config.listeners.len() + config.peers.len() + usize::from(config.outbound.is_some());
    let connections = ports
        .saturating_mul(config.limits.max_connections)
        .saturating_add(config.limits.peer_connections);
    (connections as u64)
        .saturating_mul(2)
        .saturating_add(triage as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_reaches_the_hard_one() {
        let limit = raise_fd_limit().unwrap();
        assert!(limit.after >= limit.before);
        assert_eq!(fd_limit(), limit.after);
        let hard = getrlimit(Resource::Nofile).maximum.unwrap_or(UNLIMITED_CAP);
        assert_eq!(limit.after, limit.before.max(hard));
    }

    #[test]
    fn budgets_count_every_port() {
        let mut config = ShimConfig::new("kv", 1);
        config.limits.max_connections = 10;
        config.limits.peer_connections = 5;
        config.listeners = vec![
            crate::ListenerConfig {
                addr: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
                version: None,
            };
            2
        ];
        assert_eq!(fd_budget(&config, 3), (2 * 10 + 5) * 2 + 3);
    }
}
