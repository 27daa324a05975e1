//! The agent's link to the upgrade server. One task long-polls with the node's current status
//! (its heartbeat) and publishes each new directive; another sends reports of phase changes in
//! order. The server being down never blocks the node: polls back off and retry, and a report
//! that cannot be delivered is dropped (the next poll carries the same version, phase and
//! health; only the report's message is lost).

use runtime::api::{Directive, Phase, PollRequest, Report};
use runtime::client::{Client, PollAnswer};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, Notify};

/// What the node tells the server about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeStatus {
    pub version: u64,
    pub phase: Phase,
    pub healthy: bool,
}

/// The running link.
#[derive(Debug)]
pub struct Link {
    shared: Shared,
    status: watch::Sender<NodeStatus>,
    reports: mpsc::UnboundedSender<Report>,
    reachable: Arc<AtomicBool>,
    system: String,
    address: String,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// What the link and its two tasks share: the server's client, the last directive (which
/// the agent watches) and the poke that starts a fresh poll.
#[derive(Debug, Clone)]
struct Shared {
    client: Client,
    directives: watch::Sender<Option<Directive>>,
    poke: Arc<Notify>,
}

impl Shared {
    /// Makes `d` the last directive, telling the watchers when it changed.
    fn publish(&self, d: Directive) {
        self.directives.send_if_modified(|old| {
            if old.as_ref() == Some(&d) {
                false
            } else {
                *old = Some(d);
                true
            }
        });
    }
}

/// Who the node is.
#[derive(Debug, Clone)]
pub struct Identity {
    pub id: String,
    pub system: String,
    /// Where it serves (informational).
    pub address: String,
}

impl Link {
    /// Starts polling as `who` with `status`, each poll held at most `wait`.
    pub fn start(client: Client, who: Identity, status: NodeStatus, wait: Duration) -> Link {
        let (status_tx, status_rx) = watch::channel(status);
        let (report_tx, report_rx) = mpsc::unbounded_channel();
        let shared = Shared {
            client,
            directives: watch::channel(None).0,
            poke: Arc::new(Notify::new()),
        };
        let reachable = Arc::new(AtomicBool::new(true));
        let poller = tokio::spawn(poll_loop(
            shared.clone(),
            who.clone(),
            status_rx,
            Arc::clone(&reachable),
            wait,
        ));
        let reporter = tokio::spawn(report_loop(shared.clone(), who.id.clone(), report_rx));
        Link {
            shared,
            status: status_tx,
            reports: report_tx,
            reachable,
            system: who.system,
            address: who.address,
            tasks: vec![poller, reporter],
        }
    }

    pub fn client(&self) -> &Client {
        &self.shared.client
    }

    /// The directives as they change.
    pub fn directives(&self) -> watch::Receiver<Option<Directive>> {
        self.shared.directives.subscribe()
    }

    /// The last directive.
    pub fn directive(&self) -> Option<Directive> {
        self.shared.directives.borrow().clone()
    }

    pub fn status(&self) -> NodeStatus {
        *self.status.borrow()
    }

    /// Whether the last poll reached the server.
    pub fn reachable(&self) -> bool {
        self.reachable.load(Ordering::Relaxed)
    }

    /// Sets the node's status; reports it when it changed or when there is a `message`.
    pub fn set(&self, status: NodeStatus, message: &str) {
        let changed = self.status.send_if_modified(|s| {
            let changed = *s != status;
            *s = status;
            changed
        });
        if changed || !message.is_empty() {
            let _ = self.reports.send(Report {
                system: self.system.clone(),
                version: status.version,
                phase: status.phase,
                healthy: status.healthy,
                address: self.address.clone(),
                message: message.to_string(),
            });
        }
    }

    /// Polls again now (something suggests the directive changed: a peer speaks a newer
    /// version).
    pub fn poke(&self) {
        self.shared.poke.notify_one();
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn poll_loop(
    shared: Shared,
    who: Identity,
    mut status: watch::Receiver<NodeStatus>,
    reachable: Arc<AtomicBool>,
    wait: Duration,
) {
    let Shared { client, poke, .. } = &shared;
    let mut etag: Option<String> = None;
    let mut backoff = Duration::from_millis(100);
    loop {
        let s = *status.borrow_and_update();
        let req = PollRequest {
            system: who.system.clone(),
            version: s.version,
            phase: s.phase,
            healthy: s.healthy,
            address: who.address.clone(),
        };
        let answer = tokio::select! {
            a = client.poll(&who.id, &req, etag.as_deref(), Some(wait)) => a,
            // The status changed: poll again at once with the new one.
            _ = status.changed() => continue,
            _ = poke.notified() => {
                etag = None;
                continue;
            }
        };
        match answer {
            Ok(PollAnswer::Directive {
                directive,
                etag: tag,
            }) => {
                etag = tag;
                shared.publish(*directive);
                back_online(&reachable);
                backoff = Duration::from_millis(100);
            }
            Ok(PollAnswer::NotModified) => {
                back_online(&reachable);
                backoff = Duration::from_millis(100);
            }
            Err(e) => {
                let refused = matches!(
                    e,
                    runtime::client::ClientError::Server {
                        status: 401 | 403,
                        ..
                    }
                );
                if reachable.swap(false, Ordering::Relaxed) {
                    if refused {
                        tracing::warn!(error = %e, "the upgrade server refuses this node (is it enrolled? `upstart enroll --id ID --node-key DATA/node.key.pub`): serving on, retrying");
                    } else {
                        tracing::warn!(error = %e, "the upgrade server is unreachable: serving on, retrying");
                    }
                } else {
                    tracing::debug!(error = %e, "poll failed");
                }
                etag = None;
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = poke.notified() => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}

fn back_online(reachable: &AtomicBool) {
    if !reachable.swap(true, Ordering::Relaxed) {
        tracing::info!("the upgrade server is reachable again");
    }
}

async fn report_loop(shared: Shared, id: String, mut reports: mpsc::UnboundedReceiver<Report>) {
    while let Some(r) = reports.recv().await {
        match shared.client.report(&id, &r).await {
            Ok(d) => {
                shared.publish(d);
                // A poll answered before the report may still be held: start a fresh one.
                shared.poke.notify_one();
            }
            Err(e) => {
                tracing::debug!(phase = %r.phase, error = %e, "report not delivered (the next poll carries the phase)")
            }
        }
    }
}
