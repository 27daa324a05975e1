//! The node agent, `upstart node`: the per-node upgrade layer. It runs the shim in its own
//! process (so clients keep a port while the program restarts), supervises the node program,
//! polls the upgrade server, installs future rules as soon as it learns of an upgrade, and
//! upgrades crash-safely when the server's schedule says so.
//!
//! - [`config`]: the command line's settings and the agent's record (`DATA/agent.json`);
//! - [`supervisor`]: the program as a child process (start, SIGTERM then SIGKILL, orphans);
//! - [`health`]: the TCP + JSON-RPC probe and `healthy_for`;
//! - [`release`]: a bundle's release directory unpacked on the node;
//! - [`link`]: polls and reports to the server, which may be down;
//! - [`rules`]: the bundles' plugins as the shim's chain, future and past rules;
//! - [`peers`]: whether the peers' shims accept a version yet;
//! - [`upgrade`]: the upgrade and its rollback, step by step;
//! - [`recovery`]: what the agent does at start after a crash;
//! - [`lock`]: one agent per data directory;
//! - [`bundles`]: fetching, verifying and installing the bundles the server announces;
//! - [`writes`]: whether the new version wrote since the upgrade (a rollback's point of no return).
//!
//! The agent prints one line per event on stdout, for scripts and tests (`node key ID PATH`,
//! `shim ADDR version
//! V|node`, `program PID ADDR version V`, `rules VERSIONS`, `upgraded V in MS ms unavailable
//! MS ms transform MS ms`, `rolled back V: REASON`, `refused BUNDLE: REASON`); logs go to stderr.

pub mod config;
pub mod health;
pub mod link;
mod lock;
pub mod peers;
mod recovery;
pub mod release;
pub mod rules;
pub mod supervisor;
mod upgrade;
pub use upgrade::AGENT_POINTS;
mod bundles;
mod writes;

use config::{AgentConfig, DataDir, Persisted};
use link::{Identity, Link, NodeStatus};
use rules::Rules;
use runtime::api::{Action, BundleRef, Directive, Phase};
use runtime::bundle::exec::{Template, Values};
use runtime::bundle::{Limits, Store, TrustedKeys};
use runtime::client::Client;
use shim::{PeerRoute, Shim, ShimConfig};
use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use supervisor::{Launch, Program, Ready};

/// Prints one event line on stdout: a message of several lines (an error with its `help`) is
/// joined into one.
pub(crate) fn say(line: &str) {
    let line = line.replace("\n  ", "; ").replace('\n', " ");
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Unneeded rules are looked for (a status query) this long after the directive changed...
const PRUNE_AFTER_CHANGE: Duration = Duration::from_secs(3);
/// ... and at least this often.
const PRUNE_EVERY: Duration = Duration::from_secs(30);

/// The agent of one node.
#[derive(Debug)]
pub struct Agent {
    /// Held for the agent's life: no second agent touches this data directory.
    _lock: lock::DirLock,
    config: AgentConfig,
    data: DataDir,
    store: Store,
    trust: TrustedKeys,
    record: Persisted,
    rules: Rules,
    shim: Shim,
    /// The shim's local routes to the peers, given to the program as its peers.
    peer_routes: Vec<SocketAddr>,
    program: Option<Program>,
    link: Link,
    /// Bundles that did not fetch or verify, with why and when.
    refused: BTreeMap<String, (String, Instant)>,
    /// A bundle of the directive could not be fetched because the server could not be
    /// reached: the directive is handled again at the next tick.
    unfetched: bool,
    /// Program restarts in a row (for backoff).
    restarts: u32,
    /// Handshakes the shim refused, as last seen.
    refusals_seen: u64,
    /// When unneeded rules were last looked for, and the directive then.
    pruned_at: Option<Instant>,
    pruned_for: Option<Directive>,
    /// The rollout and assignment of the upgrade under way (what a failure is recorded as).
    attempt: config::Failed,
    /// How long the last state transform took (part of the unavailability it reports).
    transform_took: Duration,
}

/// Runs the agent until SIGTERM or Ctrl-C.
pub async fn run(config: AgentConfig) -> Result<(), String> {
    let mut agent = Agent::open(config).await?;
    agent.recover().await?;
    agent.serve().await
}

impl Agent {
    /// Reads the record, opens the store, starts the shim (holding clients until the program
    /// runs) and the link to the server.
    async fn open(mut config: AgentConfig) -> Result<Agent, String> {
        if let Some(lib) = &config.preload {
            let found = std::fs::canonicalize(lib)
                .map_err(|e| format!("the LD_PRELOAD library `{}`: {e}", lib.display()))?;
            config.preload = Some(found);
        }
        // Every connection the shim holds costs descriptors: use all the system allows.
        match shim::raise_fd_limit() {
            Ok(l) if l.after > l.before => {
                tracing::info!("open file limit raised from {} to {}", l.before, l.after)
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("cannot raise the open file limit: {e}"),
        }
        let data = DataDir::new(&config.data);
        std::fs::create_dir_all(data.root())
            .map_err(|e| format!("cannot create `{}`: {e}", data.root().display()))?;
        // Before anything is read or stopped: another agent may own this directory.
        let lock = lock::DirLock::acquire(&data.lock())?;
        tracing::debug!(lock = %lock.path().display(), "the data directory is this agent's");
        let node_key = config::node_key(&data)?;
        say(&format!(
            "node key {} {}",
            runtime::bundle::keys::key_id(&node_key.verifying_key()),
            runtime::bundle::keys::public_path(&data.node_key()).display()
        ));
        // Without `--binary`, the version the node starts with has no program file: its
        // command template names the program.
        let binary = match &config.binary {
            Some(b) => std::fs::canonicalize(b)
                .map_err(|e| format!("the node program `{}`: {e}", b.display()))?,
            None => PathBuf::new(),
        };
        let record = match Persisted::read(&data.record())? {
            Some(r) => r,
            None => {
                let r = Persisted::new(config.version, &binary);
                r.write(&data.record())?;
                r
            }
        };
        let store = Store::open(&data.store()).map_err(|e| e.to_string())?;
        let trust = TrustedKeys::from_files(&config.trust).map_err(|e| e.to_string())?;
        let rules = match Rules::reopen(&record.bundles, &store, &trust) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("{e}: starting without simulation rules");
                Rules::default()
            }
        };
        let orphan_binary = match &record.program_binary {
            Some(b) => Some(b.as_path()),
            None => record.binary(record.version).ok(),
        };
        if let (Some(pid), Some(bin)) = (record.program_pid, orphan_binary) {
            supervisor::stop_orphan(pid, bin, record.program_started, config.stop_timeout).await;
        }
        let chain = rules.chain(&config.system, rules.loaded())?;
        let reopened: Vec<String> = chain
            .as_ref()
            .map(|c| c.versions())
            .unwrap_or_default()
            .iter()
            .map(u64::to_string)
            .collect();
        let mut shim_config = ShimConfig::new(config.system.clone(), record.version);
        shim_config.listeners = config.listeners.clone();
        shim_config.peers = config
            .peers
            .iter()
            .map(|&remote| PeerRoute {
                listen: SocketAddr::from(([127, 0, 0, 1], 0)),
                remote,
            })
            .collect();
        shim_config.framing = config.framing;
        shim_config.limits = config.limits;
        if config.preload.is_some() {
            shim_config.handoff = Some(data.handoff_socket());
        }
        if config.test_faults {
            shim_config.fault_control = Some(data.fault_socket());
        }
        let shim = Shim::start(shim_config, chain)
            .await
            .map_err(|e| format!("the shim does not start: {e}"))?;
        for (addr, version) in &shim.addrs().listeners {
            match version {
                Some(v) => say(&format!("shim {addr} version {v}")),
                None => say(&format!("shim {addr} version node")),
            }
        }
        // The rules kept from before a restart are in force again: say so, as when loaded.
        if !reopened.is_empty() {
            say(&format!("rules {}", reopened.join(",")));
        }
        let peer_routes: Vec<SocketAddr> = shim.addrs().peers.iter().map(|(l, _)| *l).collect();
        let address = shim
            .addrs()
            .listeners
            .first()
            .map(|(a, _)| a.to_string())
            .unwrap_or_default();
        let client = Client::connect(&config.server, config.server_ca.as_deref())
            .map_err(|e| e.to_string())?
            .with_key(node_key);
        let link = Link::start(
            client,
            Identity {
                id: config.id.clone(),
                system: config.system.clone(),
                address,
            },
            NodeStatus {
                version: record.version,
                phase: if record.failed.is_some() {
                    Phase::RolledBack
                } else {
                    Phase::Serving
                },
                healthy: false,
            },
            config.poll_wait,
        );
        Ok(Agent {
            _lock: lock,
            config,
            data,
            store,
            trust,
            record,
            rules,
            shim,
            peer_routes,
            program: None,
            link,
            refused: BTreeMap::new(),
            unfetched: false,
            restarts: 0,
            refusals_seen: 0,
            pruned_at: None,
            pruned_for: None,
            attempt: config::Failed {
                rollout: None,
                attempt: None,
            },
            transform_took: Duration::ZERO,
        })
    }

    fn save(&self) -> Result<(), String> {
        self.record.write(&self.data.record())
    }

    /// How to start the program of `version`, whose program file is `binary` (empty: none):
    /// the command template and stop signal its bundle declares, else the node's; without a
    /// template, the `--binary` convention.
    fn launch(&self, version: u64, binary: &Path) -> Result<Launch, String> {
        let declared = self.record.launches.get(&version);
        let exec = declared
            .and_then(|l| l.exec.as_deref())
            .or(self.config.exec.as_deref());
        let stop_signal = declared
            .and_then(|l| l.stop_signal.clone())
            .unwrap_or_else(|| self.config.stop_signal.clone());
        let (argv, ready) = match exec {
            None => {
                if binary.as_os_str().is_empty() || binary.is_dir() {
                    return Err(format!(
                        "version {version} has no program file and no command template"
                    ));
                }
                let argv = Launch::conventional(
                    binary,
                    &self.config.state,
                    &self.peer_routes,
                    &self.config.program_args,
                );
                (argv, Ready::Says)
            }
            Some(text) => {
                let template = Template::parse(text).map_err(|e| e.to_string())?;
                let port = supervisor::free_port()?;
                let data = self.data.program_data();
                std::fs::create_dir_all(&data)
                    .map_err(|e| format!("cannot create `{}`: {e}", data.display()))?;
                // A release directory is `{release}`; a file is `{program}`.
                let (program, release) = if binary.is_dir() {
                    (None, Some(binary))
                } else {
                    (Some(binary).filter(|b| !b.as_os_str().is_empty()), None)
                };
                let mut argv = template
                    .expand(&Values {
                        port,
                        state: &self.config.state,
                        data: &data,
                        program,
                        release,
                        peers: &self.peer_routes,
                    })
                    .map_err(|e| e.to_string())?;
                argv.extend(self.config.program_args.iter().cloned());
                (
                    argv,
                    Ready::Accepts(SocketAddr::from(([127, 0, 0, 1], port))),
                )
            }
        };
        Ok(Launch {
            argv,
            env: match &self.config.preload {
                Some(lib) => vec![
                    ("LD_PRELOAD".to_string(), lib.display().to_string()),
                    (
                        "UPSTART_SHIM_HANDOFF".to_string(),
                        self.data.handoff_socket().display().to_string(),
                    ),
                ],
                None => Vec::new(),
            },
            ready,
            start_timeout: self.config.start_timeout,
            stop_signal,
        })
    }

    /// The health probe of `version`: the node's, or the one the bundle that installed the
    /// version declares.
    fn health(&self, version: u64) -> config::HealthConfig {
        self.config.health.with(
            self.record
                .launches
                .get(&version)
                .and_then(|l| l.health.as_ref()),
        )
    }

    fn set_status(&self, phase: Phase, healthy: bool, message: &str) {
        self.link.set(
            NodeStatus {
                version: self.record.version,
                phase,
                healthy,
            },
            message,
        );
    }

    /// Starts the program of the current version and points the shim at it.
    async fn start_current(&mut self) -> Result<(), String> {
        let binary = self.record.binary(self.record.version)?.to_path_buf();
        let program = Program::start(&self.launch(self.record.version, &binary)?).await?;
        self.shim.set_node(program.addr);
        self.shim.resume();
        self.record.program_pid = Some(program.pid);
        self.record.program_started = program.started;
        self.record.program_binary = Some(program.binary.clone());
        self.save()?;
        say(&format!(
            "program {} {} version {}",
            program.pid, program.addr, self.record.version
        ));
        self.program = Some(program);
        Ok(())
    }

    /// Serves until SIGTERM or Ctrl-C: directives, program exits, health probes.
    async fn serve(&mut self) -> Result<(), String> {
        let mut directives = self.link.directives();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let stop = crate::cli::server::shutdown_signal();
        tokio::pin!(stop);
        // Whatever arrived during recovery.
        if let Some(d) = self.link.directive() {
            self.on_directive(d).await;
        }
        loop {
            enum Event {
                Stop,
                Directive,
                Exited(Option<std::process::ExitStatus>),
                Tick,
            }
            let event = {
                let program = &mut self.program;
                tokio::select! {
                    _ = &mut stop => Event::Stop,
                    r = directives.changed() => if r.is_ok() { Event::Directive } else { Event::Stop },
                    s = async {
                        match program {
                            Some(p) => p.exited().await,
                            None => std::future::pending().await,
                        }
                    } => Event::Exited(s),
                    _ = tick.tick() => Event::Tick,
                }
            };
            match event {
                Event::Stop => return self.stop().await,
                Event::Directive => {
                    let d = directives.borrow_and_update().clone();
                    if let Some(d) = d {
                        self.on_directive(d).await;
                    }
                }
                Event::Exited(status) => self.on_exit(status).await,
                Event::Tick => {
                    // The server is back (or not): fetch what could not be fetched.
                    if self.unfetched {
                        if let Some(d) = self.link.directive() {
                            self.on_directive(d).await;
                        }
                    }
                    self.on_tick().await
                }
            }
        }
    }

    /// Stops the program and the shim.
    async fn stop(&mut self) -> Result<(), String> {
        tracing::info!("stopping");
        self.stop_program().await
    }

    /// Stops the program, if one runs (SIGTERM, then SIGKILL after the stop timeout), and
    /// records durably that none does (an error: the record could not be written). The shim
    /// served peers' shims through the drain, until here; now it holds every connection until
    /// the next program serves ([`shim::Shim::hold`]).
    async fn stop_program(&mut self) -> Result<(), String> {
        if let Some(p) = self.program.take() {
            match p.stop(self.config.stop_timeout).await {
                Ok(status) => tracing::info!(%status, "program stopped"),
                Err(e) => tracing::warn!("stopping the program: {e}"),
            }
        }
        self.shim.hold().await;
        self.record.program_pid = None;
        self.record.program_binary = None;
        self.record.program_started = None;
        self.save()
    }

    /// The program ended by itself: restart it (with backoff when it keeps ending).
    async fn on_exit(&mut self, status: Option<std::process::ExitStatus>) {
        self.program = None;
        self.set_status(Phase::Serving, false, "");
        tracing::warn!(?status, "the node program ended: restarting it");
        self.restarts += 1;
        let backoff =
            Duration::from_millis(200u64 << self.restarts.min(6)).min(Duration::from_secs(10));
        tokio::time::sleep(backoff).await;
        match self.start_current().await {
            Ok(()) => self.set_status(self.current_phase(), true, "the program was restarted"),
            Err(e) => tracing::error!("cannot restart the program: {e}"),
        }
    }

    /// The phase the node reports while not upgrading.
    fn current_phase(&self) -> Phase {
        if self.record.failed.is_some() {
            Phase::RolledBack
        } else if self.link.status().phase == Phase::Upgraded {
            Phase::Upgraded
        } else {
            Phase::Serving
        }
    }

    async fn on_tick(&mut self) {
        // Health.
        let healthy = match &self.program {
            Some(p) => health::probe(
                p.addr,
                &self.health(self.record.version),
                self.config.framing,
            )
            .await
            .map_err(|e| tracing::warn!("health probe failed: {e}"))
            .is_ok(),
            None => false,
        };
        if healthy {
            self.restarts = 0;
        } else if self.program.is_none() && self.record.upgrade.is_none() {
            // A program that could not be restarted: try again.
            if let Err(e) = self.start_current().await {
                tracing::error!("cannot start the program: {e}");
            }
        }
        self.set_status(self.current_phase(), healthy, "");
        // A peer spoke a version the shim does not know: the server may know why.
        let refused = self.shim.stats().handshakes_refused;
        if refused > self.refusals_seen {
            self.refusals_seen = refused;
            tracing::info!("a peer spoke a version this node does not serve: asking the server");
            self.link.poke();
        }
        // Unneeded rules are looked for when the directive changed (a rollout progressed or
        // ended), at most every few seconds, and now and then anyway.
        let directive = self.link.directive();
        let due = match self.pruned_at {
            None => true,
            Some(at) => {
                (directive != self.pruned_for && at.elapsed() >= PRUNE_AFTER_CHANGE)
                    || at.elapsed() >= PRUNE_EVERY
            }
        };
        if due {
            self.pruned_at = Some(Instant::now());
            self.pruned_for = directive;
            self.prune_rules().await;
        }
    }

    async fn on_directive(&mut self, d: Directive) {
        tracing::debug!(?d, "directive");
        self.unfetched = false;
        let retried = |f: config::Failed| {
            f.rollout != d.rollout || (d.attempt.is_some() && f.attempt != d.attempt)
        };
        if self.record.failed.is_some_and(retried) {
            // The rollout the upgrade failed in is over, or the operator resumed it: the node
            // was assigned again.
            self.record.failed = None;
            if let Err(e) = self.save() {
                tracing::error!("{e}");
            }
            self.set_status(Phase::Serving, self.link.status().healthy, "");
        }
        self.ensure_announced(&d.bundles).await;
        let Some(b) = d.bundle.clone() else {
            return;
        };
        let version = self.record.version;
        if b.from == version || b.to == version {
            self.ensure_bundle(&b).await;
        }
        match d.action {
            // A bundle the server could not hand over yet (it was unreachable) is fetched again
            // at the next tick; only a refused one fails the upgrade.
            Action::Upgrade
                if b.from == version
                    && self.record.failed.is_none()
                    && (self.rules.get(&b.id).is_some() || self.refused.contains_key(&b.id)) =>
            {
                self.upgrade(&b, d.rollout, d.attempt).await;
            }
            Action::Rollback if b.to == version => {
                self.roll_back_on_request(&b, d.discard_writes).await
            }
            _ => {}
        }
    }

    /// Makes the shim's chain the bundles `ids` (sorted by version), if it is not already.
    fn load_rules(&mut self, mut ids: Vec<String>) {
        ids.sort_by_key(|id| self.rules.get(id).map_or(0, |k| k.from));
        if ids == self.rules.loaded() {
            return;
        }
        let chain = match self.rules.chain(&self.config.system, &ids) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("cannot load the simulation rules: {e}");
                return;
            }
        };
        let versions = chain.as_ref().map(|c| c.versions()).unwrap_or_default();
        if let Err(e) = self.shim.set_chain(chain) {
            tracing::error!("the shim refused the rules: {e}");
            return;
        }
        self.rules.set_loaded(ids.clone());
        self.record.bundles = ids;
        if let Err(e) = self.save() {
            tracing::error!("{e}");
        }
        let list: Vec<String> = versions.iter().map(u64::to_string).collect();
        if list.is_empty() {
            tracing::info!(
                "simulation rules dropped: every node runs version {}",
                self.record.version
            );
            say("rules none");
        } else {
            tracing::info!(versions = %list.join(", "), "simulation rules installed");
            say(&format!("rules {}", list.join(",")));
        }
    }

    /// Drops the rules no node needs any more: past rules once no node (and no pinned client
    /// port) of an older version remains, future rules once no rollout announces them.
    async fn prune_rules(&mut self) {
        if self.rules.loaded().is_empty() || self.record.upgrade.is_some() {
            return;
        }
        let status =
            match tokio::time::timeout(Duration::from_secs(2), self.link.client().status()).await {
                Ok(Ok(s)) => s,
                _ => return,
            };
        let me = self.record.version;
        let mut versions: Vec<u64> = status
            .nodes
            .iter()
            .filter(|n| n.system == self.config.system)
            .map(|n| n.version)
            .collect();
        versions.push(me);
        versions.extend(self.config.listeners.iter().filter_map(|l| l.version));
        if let Some(d) = self.link.directive() {
            // Announced bundles belong to pending, running or paused rollouts.
            for b in &d.bundles {
                versions.extend([b.from, b.to]);
            }
        }
        if let Some(Directive {
            rollout: Some(_),
            bundle: Some(b),
            ..
        }) = self.link.directive()
        {
            let active = status
                .rollouts
                .iter()
                .any(|r| r.bundle == b.id && r.state.is_active());
            if active {
                versions.extend([b.from, b.to]);
            }
        }
        let lowest = versions.iter().copied().min().unwrap_or(me);
        let highest = versions.iter().copied().max().unwrap_or(me);
        let wanted = self.rules.needed(lowest, highest);
        self.load_rules(wanted);
    }
}
