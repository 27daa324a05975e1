//! `upstart status --server URL`: the rollouts and nodes as a table, redrawn every second
//! while a rollout is active (until it ends or Ctrl-C) when stdout is a terminal; one table
//! otherwise. `--json` prints one JSON snapshot of `GET /v1/status`.

use super::{CliError, CliResult};
use runtime::api::{NodeInfo, RolloutInfo, RolloutState, Status};
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The upgrade server, `http://HOST:PORT`.
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// Print one JSON snapshot and exit.
    #[arg(long)]
    pub json: bool,
    /// Print one table and exit, even on a terminal.
    #[arg(long)]
    pub once: bool,
    /// The CA certificate (PEM) that signed the server's certificate, for `https://` servers.
    #[arg(long, value_name = "CA.pem")]
    pub ca: Option<std::path::PathBuf>,
    /// The most nodes to list (nodes upgrading, failed or offline first).
    #[arg(long, default_value_t = 30)]
    pub limit: usize,
}

pub async fn run(args: &Args) -> CliResult {
    let client = super::client(&args.server, args.ca.as_deref())?;
    if args.json {
        let status = client.status().await?;
        let text = serde_json::to_string_pretty(&status).map_err(|e| CliError(e.to_string()))?;
        println!("{text}");
        return Ok(());
    }
    let live = !args.once && std::io::stdout().is_terminal();
    let mut out = std::io::stdout();
    loop {
        let status = client.status().await?;
        let table = render(&status, args.limit);
        if live {
            // Home the cursor and clear the screen, then draw.
            let _ = write!(out, "\x1b[H\x1b[2J{table}");
        } else {
            let _ = write!(out, "{table}");
        }
        let _ = out.flush();
        let active = status.rollouts.iter().any(|r| r.state.is_active());
        if !live || !active {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

/// The table for people.
pub fn render(s: &Status, limit: usize) -> String {
    let mut out = String::new();
    let shown: Vec<&RolloutInfo> = {
        let active: Vec<&RolloutInfo> = s.rollouts.iter().filter(|r| r.state.is_active()).collect();
        if active.is_empty() {
            s.rollouts.iter().take(1).collect()
        } else {
            active
        }
    };
    if shown.is_empty() {
        out.push_str("no rollouts\n");
    }
    for r in shown {
        let p = r.progress;
        let _ = writeln!(
            out,
            "rollout {}  {} {} -> {}  {}  {}",
            r.id,
            r.system,
            r.from,
            r.to,
            r.state.as_str().to_uppercase(),
            r.reason
        );
        let _ = writeln!(out, "  schedule  {}", r.schedule);
        let (label, how) = if r.state == RolloutState::RolledBack {
            let (from, going, waiting) = (r.from, p.in_flight, p.pending);
            (
                "rollback",
                format!("back at version {from}, {going} going back, {waiting} waiting"),
            )
        } else {
            let (flight, pending, failed) = (p.in_flight, p.pending, p.failed);
            (
                "progress",
                format!("done, {flight} in flight, {pending} pending, {failed} failed"),
            )
        };
        let bar = bar(p.done, p.total, 24);
        let _ = writeln!(out, "  {label}  {bar} {}/{} {how}", p.done, p.total);
    }
    let _ = writeln!(out);
    let mut nodes: Vec<&NodeInfo> = s.nodes.iter().collect();
    // Nodes that need attention first, then by id (already sorted).
    nodes.sort_by_key(|n| {
        if !n.online || n.phase == runtime::api::Phase::Failed {
            0
        } else if n.phase.is_in_progress() || (n.assigned && !n.done) {
            1
        } else {
            2
        }
    });
    let _ = writeln!(
        out,
        "{:<20} {:>7}  {:<16} {:<10} {:>9}  ROLLOUT",
        "NODE", "VERSION", "PHASE", "HEALTH", "SEEN"
    );
    for n in nodes.iter().take(limit) {
        let health = if !n.online {
            "offline"
        } else if n.healthy {
            "healthy"
        } else {
            "unhealthy"
        };
        let seen = format!("{:.1}s ago", n.last_seen_ms_ago as f64 / 1000.0);
        let rolled_back = n
            .rollout
            .and_then(|r| s.rollouts.iter().find(|x| x.id == r))
            .filter(|r| r.state == RolloutState::RolledBack);
        let part = match n.rollout {
            Some(r) if rolled_back.is_some_and(|x| n.version == x.from) => {
                format!("{r}: rolled back")
            }
            Some(r) if rolled_back.is_some() => format!("{r}: going back"),
            Some(r) if n.done => format!("{r}: done"),
            Some(r) if n.assigned => format!("{r}: upgrading"),
            Some(r) => format!("{r}: waiting"),
            None => "-".into(),
        };
        let _ = writeln!(
            out,
            "{:<20} {:>7}  {:<16} {:<10} {:>9}  {}",
            n.id,
            n.version,
            n.phase.as_str(),
            health,
            seen,
            part
        );
    }
    if nodes.len() > limit {
        let _ = writeln!(out, "... and {} more nodes (--limit)", nodes.len() - limit);
    }
    if !s.events.is_empty() {
        let _ = writeln!(out, "\nrecent events");
        for e in s
            .events
            .iter()
            .rev()
            .take(8)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            let _ = writeln!(out, "  {}  {}", clock(e.at_ms), e.message);
        }
    }
    out
}

fn bar(done: usize, total: usize, width: usize) -> String {
    let filled = (done * width).checked_div(total).unwrap_or(0);
    format!(
        "[{}{}]",
        "#".repeat(filled),
        ".".repeat(width - filled.min(width))
    )
}

/// `HH:MM:SS` UTC of unix milliseconds.
fn clock(ms: u64) -> String {
    let s = (ms / 1000) % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime::api::{Event, Phase, Progress, RolloutState};

    #[test]
    fn renders_rollout_nodes_and_events() {
        let s = Status {
            now_ms: 0,
            rollouts: vec![RolloutInfo {
                id: 1,
                bundle: "b".into(),
                system: "kv".into(),
                from: 1,
                to: 2,
                state: RolloutState::Running,
                reason: "batch 1: starting `n2`".into(),
                schedule: "rolling batch 1, max unavailable 1; order node_id".into(),
                progress: Progress {
                    total: 2,
                    done: 1,
                    in_flight: 1,
                    pending: 0,
                    failed: 0,
                },
                created_at_ms: 0,
                updated_at_ms: 0,
            }],
            nodes: vec![
                NodeInfo {
                    id: "n1".into(),
                    system: "kv".into(),
                    address: String::new(),
                    version: 2,
                    phase: Phase::Upgraded,
                    healthy: true,
                    last_seen_ms_ago: 300,
                    online: true,
                    rollout: Some(1),
                    assigned: true,
                    done: true,
                },
                NodeInfo {
                    id: "n2".into(),
                    system: "kv".into(),
                    address: String::new(),
                    version: 1,
                    phase: Phase::Draining,
                    healthy: true,
                    last_seen_ms_ago: 100,
                    online: true,
                    rollout: Some(1),
                    assigned: true,
                    done: false,
                },
            ],
            events: vec![Event {
                seq: 1,
                at_ms: 3_723_000,
                rollout: Some(1),
                node: None,
                kind: "k".into(),
                message: "`n2` starts upgrading".into(),
            }],
        };
        let t = render(&s, 10);
        assert!(
            t.starts_with("rollout 1  kv 1 -> 2  RUNNING  batch 1: starting `n2`\n"),
            "{t}"
        );
        assert!(
            t.contains("[############............] 1/2 done, 1 in flight"),
            "{t}"
        );
        let n2 = t.find("n2                         1  draining").unwrap();
        let n1 = t.find("n1                         2  upgraded").unwrap();
        assert!(n2 < n1, "nodes in progress first:\n{t}");
        assert!(t.contains("01:02:03  `n2` starts upgrading"), "{t}");
        assert!(render(&s, 1).contains("... and 1 more nodes"));
        let mut back = s.clone();
        back.rollouts[0].state = RolloutState::RolledBack;
        let t = render(&back, 10);
        assert!(
            t.contains(
                "  rollback  [############............] 1/2 back at version 1, 1 going back, 0 waiting\n"
            ),
            "{t}"
        );
    }
}
