//! The upgrade of one node, step by step, and its rollback.
//!
//! Before anything stops: the bundle is verified and its plugin loads (its future rules are
//! already in the shim), the new program is installed, and the peers' shims accept the new
//! version. Then: the shim drains (new connections wait in its listen backlog, in-flight calls
//! finish) -> the program stops -> the state transform (new state beside the old, fsync, atomic
//! switch, old kept; resumable after a crash at any point) -> the new program starts -> the
//! shim points at it with the new version and the past rules and serves again -> health
//! checks for `healthy_for` -> `upgraded`. Each step is recorded in `agent.json` before it
//! begins. A failure after the program stopped rolls back: the state's backup is put back, the
//! old program starts, the node reports `failed` then `rolled-back` (the server pauses the
//! rollout).

use super::config::{Failed, InProgress, Step};
use super::writes;
use super::{health, peers, say, Agent};
use runtime::api::{BundleRef, Phase};
use runtime::bundle::ProgramSpec;
use runtime::schedule::Schedule;
use runtime::transform::{self, Point, TransformError};
use std::time::{Duration, Instant};

/// How long an upgrade waits for peers to accept the new version.
const PEERS_BOUND: Duration = Duration::from_secs(10);

/// Probes of a new program before it gets calls, and the time between them.
const FIRST_PROBES: u32 = 5;
const FIRST_PROBE_GAP: Duration = Duration::from_millis(100);

/// Probes a just-started program until it answers (a few times: it said it listens).
async fn first_probe(
    addr: std::net::SocketAddr,
    config: &super::config::HealthConfig,
    framing: shim::Framing,
) -> Result<(), String> {
    let mut last = String::new();
    for _ in 0..FIRST_PROBES {
        match health::probe(addr, config, framing).await {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
        tokio::time::sleep(FIRST_PROBE_GAP).await;
    }
    Err(last)
}

/// Checks that the state is of the kind the spec declares for version `from`
/// ([`transform::check_storage`]), reads it and runs the transform and the invariant on it
/// ([`transform::preflight`]) before anything stops. A missing state file is refused too (the
/// transform needs one).
async fn preflight(
    state: &std::path::Path,
    from: u64,
    plugin: runtime::plugin::Plugin,
) -> Result<(), String> {
    let state = state.to_path_buf();
    tokio::task::spawn_blocking(move || {
        transform::check_storage(&state, from, &plugin).map_err(|e| e.to_string())?;
        let shown = state.display();
        // The program runs: a database is read as a read-only snapshot.
        let old = transform::storage::load_live(&state)
            .map_err(|e| format!("the state `{shown}` cannot be read: {e}"))?;
        transform::preflight(&old, &plugin)
            .map(drop)
            .map_err(|e| format!("the state `{shown}` does not transform: {e}"))
    })
    .await
    .map_err(|e| format!("the preflight task failed: {e}"))?
}

impl Agent {
    /// Upgrades from `b.from` to `b.to` (the server said so in `rollout`).
    pub(super) async fn upgrade(
        &mut self,
        b: &BundleRef,
        rollout: Option<u64>,
        attempt: Option<u64>,
    ) {
        let started = Instant::now();
        self.attempt = Failed { rollout, attempt };
        let ready = self.prepare(b).await;
        let (healthy_for, program, release, launch) = match ready {
            Ok(h) => h,
            Err(e) => {
                // Nothing was stopped: the node serves on at its version.
                tracing::error!(bundle = %b.id, "cannot upgrade: {e}");
                say(&format!("failed {}: {e}", b.to));
                self.record.failed = Some(self.attempt);
                if let Err(e) = self.save() {
                    tracing::error!("{e}");
                }
                self.set_status(Phase::Failed, true, &format!("cannot upgrade: {e}"));
                self.set_status(Phase::RolledBack, true, "");
                return;
            }
        };
        tracing::info!(from = b.from, to = b.to, bundle = %b.id, "upgrading");
        // Recorded with the step: the version reached runs this bundle's program, whatever ran
        // it before on this node.
        self.record.binaries.insert(b.to, program);
        self.record.releases.insert(b.to, release);
        match launch {
            Some(l) => self.record.launches.insert(b.to, l),
            None => self.record.launches.remove(&b.to),
        };
        self.record.upgrade = Some(InProgress {
            bundle: b.id.clone(),
            from: b.from,
            to: b.to,
            step: Step::Stopping,
        });
        if let Err(e) = self.save() {
            self.abort_before_stop(&e);
            return;
        }
        self.set_status(Phase::Draining, true, "");
        say(&format!("draining {} -> {}", b.from, b.to));
        let held = Instant::now();
        let drained = self.shim.drain(self.config.drain_grace).await;
        tracing::info!(?drained, shim = ?self.shim.stats(), "drained");
        self.checkpoint("drained");
        if let Err(e) = self.stop_program().await {
            tracing::error!("{e}");
        }
        self.checkpoint("stopped");
        self.set_step(Step::Transforming);
        self.set_status(Phase::Transforming, false, "");
        let transforming = Instant::now();
        let transformed = self.transform(b.from, b.to, &b.id).await;
        self.transform_took = transforming.elapsed();
        if let Err(e) = transformed {
            // A refused transform leaves the state as it was; an interrupted one is undone.
            self.roll_back(b.from, b.to, &e.to_string(), held, false)
                .await;
            return;
        }
        self.set_step(Step::Starting);
        self.start_new(b.from, b.to, healthy_for, held, started)
            .await;
    }

    /// Checks everything an upgrade needs before anything stops, the transform of the current
    /// state included; `healthy_for` of the bundle, its program, its release and what it says
    /// about running the program.
    async fn prepare(
        &mut self,
        b: &BundleRef,
    ) -> Result<(Duration, std::path::PathBuf, u64, Option<ProgramSpec>), String> {
        let known = match self.rules.get(&b.id) {
            Some(k) => k.clone(),
            None => {
                let why = self
                    .refused
                    .get(&b.id)
                    .map_or_else(|| "it is not fetched".to_string(), |(w, _)| w.clone());
                return Err(format!("bundle `{}` is refused: {why}", b.id));
            }
        };
        let plugin = self.rules.plugin(&self.config.system, known.id())?;
        // Checked again here: the node may have moved on since the bundle was fetched.
        let release = known.stored.signed.manifest.release;
        self.record.check_release(&self.config.system, release)?;
        let binary = self.record.program(&b.id)?.to_path_buf();
        if !binary.exists() {
            return Err(format!("the new program `{}` is missing", binary.display()));
        }
        preflight(&self.config.state, b.from, plugin).await?;
        let schedule = Schedule::from_entries(&known.stored.signed.manifest.schedule)
            .map_err(|e| format!("the bundle's schedule: {e}"))?;
        let refusing =
            peers::wait_until_bridged(&self.config.peers, &self.config.system, b.to, PEERS_BOUND)
                .await;
        if !refusing.is_empty() {
            tracing::warn!(
                ?refusing,
                "peers still refuse version {}: upgrading anyway",
                b.to
            );
        }
        Ok((
            Duration::from_millis(schedule.healthy_for_ms),
            binary,
            release,
            known.stored.signed.manifest.program.clone(),
        ))
    }

    fn abort_before_stop(&mut self, why: &str) {
        tracing::error!("cannot upgrade: {why}");
        self.record.upgrade = None;
        self.record.failed = Some(self.attempt);
        self.set_status(Phase::Failed, true, why);
        self.set_status(Phase::RolledBack, true, "");
    }

    /// Records the step about to begin (a failure to write is logged: the transform's journal
    /// alone still makes the state safe).
    pub(super) fn set_step(&mut self, step: Step) {
        if let Some(u) = &mut self.record.upgrade {
            u.step = step;
        }
        if let Err(e) = self.save() {
            tracing::error!("{e}");
        }
    }

    /// Runs (or resumes) the state transform `from -> to` with the plugin of bundle `id`.
    pub(super) async fn transform(
        &mut self,
        from: u64,
        to: u64,
        id: &str,
    ) -> Result<(), TransformError> {
        let plugin = self
            .rules
            .plugin(&self.config.system, id)
            .map_err(|reason| TransformError::Transform {
                source: reason.into(),
            })?;
        let state = self.config.state.clone();
        let hook = self.stop_hook("");
        let done = tokio::task::spawn_blocking(move || {
            transform::upgrade(&state, from, to, &plugin, Some(&hook))
        })
        .await
        .map_err(|e| TransformError::Transform {
            source: format!("the transform task failed: {e}").into(),
        })??;
        tracing::info!(from, to, resumed = done.resumed, new_sha256 = %done.new_sha256, "state transformed");
        Ok(())
    }

    /// Starts the new program, points the shim at it, health-checks it, reports.
    pub(super) async fn start_new(
        &mut self,
        from: u64,
        to: u64,
        healthy_for: Duration,
        held: Instant,
        started: Instant,
    ) {
        self.link.set(
            super::link::NodeStatus {
                version: to,
                phase: Phase::Starting,
                healthy: false,
            },
            "",
        );
        let binary = match self.record.binary(to) {
            Ok(b) => b.to_path_buf(),
            Err(e) => return self.roll_back(from, to, &e, held, true).await,
        };
        let started_program = match self.launch(to, &binary) {
            Ok(launch) => super::supervisor::Program::start(&launch).await,
            Err(e) => Err(e),
        };
        let program = match started_program {
            Ok(p) => p,
            Err(e) => return self.roll_back(from, to, &e, held, true).await,
        };
        let addr = program.addr;
        self.record.program_pid = Some(program.pid);
        self.record.program_started = program.started;
        self.record.program_binary = Some(program.binary.clone());
        // Durable before anything else: a crash from here on finds this program and stops it.
        if let Err(e) = self.save() {
            tracing::error!("{e}");
        }
        self.program = Some(program);
        // Not one call reaches a program that does not answer: the shim holds them until the
        // first probe passes (and the old program gets them after a rollback).
        let probe = self.health(to);
        if let Err(e) = first_probe(addr, &probe, self.config.framing).await {
            let why = format!("health check failed before serving: {e}");
            return self.roll_back(from, to, &why, held, true).await;
        }
        let chain = self.shim.route().chain.clone();
        if let Err(e) = self.shim.set_route(Some(addr), to, chain) {
            return self.roll_back(from, to, &e.to_string(), held, true).await;
        }
        self.shim.resume();
        let unavailable = held.elapsed();
        say(&format!(
            "program {} {addr} version {to}",
            self.record.program_pid.unwrap_or(0)
        ));
        self.checkpoint("started");
        self.link.set(
            super::link::NodeStatus {
                version: to,
                phase: Phase::HealthChecking,
                healthy: true,
            },
            "",
        );
        if let Err(e) = health::hold(addr, &probe, self.config.framing, healthy_for).await {
            return self
                .roll_back(from, to, &format!("health check failed: {e}"), held, true)
                .await;
        }
        self.checkpoint("healthy");
        self.record.version = to;
        self.record.upgrade = None;
        if let Err(e) = self.save() {
            tracing::error!("{e}");
        }
        let took = started.elapsed();
        let message = format!(
            "upgraded in {} ms, unavailable for {} ms",
            took.as_millis(),
            unavailable.as_millis()
        );
        tracing::info!(from, to, "{message}");
        say(&format!(
            "upgraded {to} in {} ms unavailable {} ms transform {} ms",
            took.as_millis(),
            unavailable.as_millis(),
            self.transform_took.as_millis()
        ));
        self.set_status(Phase::Upgraded, true, &message);
    }

    /// Puts the node back on `from` after a failure: stops the new program (if it runs), brings
    /// the state back (see [`Agent::back_to`]), starts the old program; reports `failed` then
    /// `rolled-back`. When the new version accepted writes that cannot be carried back, the
    /// node stays on `to` and reports `failed` with why: the operator decides.
    pub(super) async fn roll_back(
        &mut self,
        from: u64,
        to: u64,
        why: &str,
        held: Instant,
        transformed: bool,
    ) {
        tracing::error!(from, to, "upgrade failed, rolling back: {why}");
        self.record.failed = Some(self.attempt);
        self.link.set(
            super::link::NodeStatus {
                version: from,
                phase: Phase::Failed,
                healthy: false,
            },
            why,
        );
        let bundle = self
            .record
            .upgrade
            .as_ref()
            .map(|u| u.bundle.clone())
            .unwrap_or_default();
        match self.back_to(from, to, transformed, &bundle, false).await {
            Ok(()) => {
                tracing::info!(held_ms = held.elapsed().as_millis() as u64, "rolled back");
                say(&format!("rolled back {from}: {why}"));
                self.set_status(Phase::RolledBack, self.program.is_some(), "");
            }
            Err(kept) => {
                let message = format!("{why}; {kept}");
                say(&format!("failed {to}: {message}"));
                self.set_status(Phase::Failed, self.program.is_some(), &message);
            }
        }
    }

    /// The server rolled the rollout back: a node on its new version goes back (dropping writes
    /// that cannot be carried back only when the operator said `--discard-writes`).
    pub(super) async fn roll_back_on_request(&mut self, b: &BundleRef, discard_writes: bool) {
        tracing::info!(from = b.from, to = b.to, "rollout rolled back: going back");
        say(&format!("rolling back {} -> {}", b.to, b.from));
        self.set_status(Phase::Draining, true, "");
        match self
            .back_to(b.from, b.to, true, &b.id, discard_writes)
            .await
        {
            Ok(()) => {
                tracing::info!(version = b.from, "back after the rollout's rollback");
                say(&format!(
                    "rolled back {}: the rollout was rolled back",
                    b.from
                ));
                self.set_status(Phase::RolledBack, self.program.is_some(), "");
            }
            Err(kept) => {
                say(&format!("refused rollback to {}: {kept}", b.from));
                self.set_status(Phase::Failed, self.program.is_some(), &kept);
            }
        }
    }

    /// Stops whatever program runs and brings the state back to `from` (if `transformed` or a
    /// transform is pending: a backup left by an older upgrade must not replace newer writes):
    /// the backup `STATE.v<from>` when the new version wrote nothing since, else the spec's
    /// reverse transform of the current state, else (with `discard_writes`) the backup, the
    /// state it replaces kept on disk. Then starts the program of `from`. `Err` (why) when the
    /// new version's writes cannot be carried back and may not be dropped: the node then runs
    /// version `to` again, its state untouched.
    pub(super) async fn back_to(
        &mut self,
        from: u64,
        to: u64,
        transformed: bool,
        bundle: &str,
        discard_writes: bool,
    ) -> Result<(), String> {
        // Recorded first: a crash from here on finishes this rollback.
        self.record.upgrade = Some(InProgress {
            bundle: bundle.to_string(),
            from,
            to,
            step: Step::RollingBack,
        });
        if let Err(e) = self.save() {
            tracing::error!("{e}");
        }
        if self.program.is_some() {
            self.shim.drain(self.config.drain_grace).await;
        }
        if let Err(e) = self.stop_program().await {
            tracing::error!("{e}");
        }
        self.checkpoint("rollback-stopped");
        let plugin = self.rules.plugin(&self.config.system, bundle).ok();
        let state = self.config.state.clone();
        let hook = self.stop_hook("reverse-");
        let restored = tokio::task::spawn_blocking(move || {
            state_back(&state, from, to, transformed, plugin, discard_writes, &hook)
        })
        .await
        .unwrap_or_else(|e| Err(Refusal::Failed(format!("the rollback task failed: {e}"))));
        let refused = match restored {
            Ok(how) => {
                tracing::info!(from, to, "state back at version {from}: {how}");
                None
            }
            Err(Refusal::Kept(why)) => Some(why),
            Err(Refusal::Failed(e)) => {
                tracing::error!("the state cannot be rolled back: {e}");
                None
            }
        };
        let version = if refused.is_some() { to } else { from };
        self.record.version = version;
        self.record.upgrade = None;
        let chain = self.shim.route().chain.clone();
        if let Err(e) = self.shim.set_route(None, version, chain) {
            tracing::error!("{e}");
        }
        if let Err(e) = self.start_current().await {
            tracing::error!("cannot start the program of version {version}: {e}");
            self.record.program_pid = None;
        }
        if let Err(e) = self.save() {
            tracing::error!("{e}");
        }
        match refused {
            Some(why) => Err(why),
            None => Ok(()),
        }
    }

    /// The testing hook of `--stop-at` for the state transform's durable points (`prefix`
    /// names a reverse run's: `reverse-begun`, ...): at that point, say `reached POINT` and
    /// wait to be killed.
    pub(super) fn stop_hook(&self, prefix: &'static str) -> impl Fn(Point) + Send + 'static {
        let stop_at = self.config.stop_at.clone();
        move |p: Point| {
            if let Some(at) = &stop_at {
                if at.strip_prefix(prefix) == Some(p.name()) {
                    wait_to_be_killed(at);
                }
            }
        }
    }

    /// The testing hook of `--stop-at` for the agent's own steps ([`AGENT_POINTS`]).
    fn checkpoint(&self, name: &str) {
        if self.config.stop_at.as_deref() == Some(name) {
            wait_to_be_killed(name);
        }
    }
}

/// The agent's own durable steps a test may stop at (`--stop-at`), besides the state
/// transform's points and the reverse transform's (`reverse-` and a point).
pub const AGENT_POINTS: [&str; 5] = [
    "drained",
    "stopped",
    "started",
    "healthy",
    "rollback-stopped",
];

/// Says `reached POINT` and waits to be killed (tests); ends the process if nobody does.
fn wait_to_be_killed(point: &str) {
    say(&format!("reached {point}"));
    std::thread::sleep(Duration::from_secs(120));
    std::process::exit(3);
}

/// Why a rollback did not bring the state back.
enum Refusal {
    /// The new version's writes cannot be carried back and may not be dropped.
    Kept(String),
    /// The state could not be restored (logged; the old program is started anyway).
    Failed(String),
}

/// Brings the state of `state` back from `to` to `from` (see [`Agent::back_to`]); says how.
fn state_back(
    state: &std::path::Path,
    from: u64,
    to: u64,
    transformed: bool,
    plugin: Option<runtime::plugin::Plugin>,
    discard_writes: bool,
    hook: &dyn Fn(Point),
) -> Result<String, Refusal> {
    let failed = |e: TransformError| Refusal::Failed(e.to_string());
    match transform::pending(state).map_err(failed)? {
        // An interrupted rollback through the reverse transform: finish it.
        Some(j) if j.reverse => {
            let plugin = plugin.ok_or_else(|| {
                Refusal::Failed("the plugin of the interrupted rollback is not loaded".into())
            })?;
            transform::reverse(state, j.from, j.to, &plugin, Some(hook)).map_err(failed)?;
            return Ok("an interrupted reverse transform finished".into());
        }
        // An interrupted upgrade: undone.
        Some(_) => {
            transform::rollback(state, from, to).map_err(failed)?;
            return Ok("the interrupted transform was undone".into());
        }
        None if !transformed => return Ok("the state was not transformed".into()),
        None => {}
    }
    let written = writes::since_upgrade(state, to);
    if !written.any() {
        return match transform::rollback(state, from, to) {
            Ok(()) => Ok("the backup is restored (nothing was written since)".into()),
            // The transform never began: the state is the old one.
            Err(TransformError::NoBackup { .. }) => {
                Ok("no backup: the state is the old one".into())
            }
            Err(e) => Err(failed(e)),
        };
    }
    if let Some(plugin) = plugin.filter(|p| p.has_reverse()) {
        transform::reverse(state, to, from, &plugin, Some(hook)).map_err(failed)?;
        return Ok(format!(
            "the reverse transform carried back what version {to} wrote ({})",
            written.describe()
        ));
    }
    if discard_writes {
        transform::rollback(state, from, to).map_err(failed)?;
        let message = format!(
            "the backup is restored; {} written by version {to} dropped as the operator allowed \
             (the state it replaced is kept beside `{}`)",
            written.describe(),
            state.display()
        );
        say(&format!("dropped writes: {message}"));
        return Ok(message);
    }
    Err(Refusal::Kept(format!(
        "version {to} accepted writes since the upgrade ({}) and the spec declares no reverse \
         transform, so going back to version {from} would lose them: the node stays at version \
         {to}\n  help: add `transform (new) -> old` to the spec, or drop the writes with \
         `upstart rollback --discard-writes`",
        written.describe()
    )))
}
