//! What the agent does when it starts: learns from the server what concerns the node (so the
//! future rules of an announced upgrade are in the shim before the program serves), then
//! finishes or undoes an upgrade a crash interrupted, and starts the program.
//!
//! | recorded step | state on disk | what happens |
//! | --- | --- | --- |
//! | none | old (a pending journal is undone) | the program starts |
//! | `stopping` | old, untouched | the old program starts; the server says `upgrade` again |
//! | `transforming` | old, partly or wholly transformed | the transform is resumed to its end, then the new program starts and is health-checked, or everything rolls back |
//! | `rolling_back` | new, partly or wholly brought back | the rollback is finished (a reverse transform resumes from its journal; writes that cannot be carried back keep the node at the new version), then the program of the version it ends at starts |
//! | `starting` | transformed, maybe written by the new program since | the transform is not run again (the state is the new version's): the new program starts and is health-checked, or the upgrade rolls back |

use super::config::Step;
use super::{say, Agent};
use runtime::api::Phase;
use runtime::schedule::Schedule;
use runtime::transform;
use std::time::{Duration, Instant};

/// How long the agent waits for the server's first answer before starting the program.
const FIRST_ANSWER: Duration = Duration::from_secs(2);

impl Agent {
    pub(super) async fn recover(&mut self) -> Result<(), String> {
        self.first_sync().await;
        let Some(u) = self.record.upgrade.clone() else {
            let state = self.config.state.clone();
            if let Some(j) = transform::pending(&state).map_err(|e| e.to_string())? {
                tracing::warn!(
                    from = j.from,
                    to = j.to,
                    "an interrupted state transform no upgrade record knows of: rolling it back"
                );
                transform::rollback(&state, j.from, j.to).map_err(|e| e.to_string())?;
            }
            return self.start_serving().await;
        };
        if u.step == Step::Stopping {
            tracing::warn!(
                from = u.from,
                to = u.to,
                "an upgrade was interrupted before the state changed: starting the old program"
            );
            self.record.upgrade = None;
            self.save()?;
            return self.start_serving().await;
        }
        tracing::warn!(from = u.from, to = u.to, step = ?u.step, "an upgrade was interrupted: finishing it");
        say(&format!("recovering {} -> {}", u.from, u.to));
        let directive = self.link.directive();
        self.attempt = super::config::Failed {
            rollout: directive.as_ref().and_then(|d| d.rollout),
            attempt: directive.as_ref().and_then(|d| d.attempt),
        };
        self.set_status(
            Phase::Transforming,
            false,
            "resuming an interrupted upgrade",
        );
        let held = Instant::now();
        if u.step == Step::RollingBack {
            // Finish going back: the state is brought back (a reverse transform resumes from
            // its journal) and the program of the version the node ends at starts.
            say(&format!("recovering rollback {} -> {}", u.to, u.from));
            let went = self.back_to(u.from, u.to, true, &u.bundle, false).await;
            if let Err(why) = went {
                say(&format!("refused rollback to {}: {why}", u.from));
                self.set_status(Phase::Failed, self.program.is_some(), &why);
            } else {
                say(&format!(
                    "rolled back {}: the interrupted rollback is finished",
                    u.from
                ));
                self.set_status(Phase::RolledBack, self.program.is_some(), "");
            }
            return Ok(());
        }
        if u.step == Step::Starting {
            // The transform completed before the new program started, and that program may have
            // acknowledged writes since: the state is the new version's, never transformed again.
            return self.finish_start(u.from, u.to, &u.bundle, held).await;
        }
        if let Err(e) = self.transform(u.from, u.to, &u.bundle).await {
            let why = format!("cannot finish the interrupted upgrade: {e}");
            self.roll_back(u.from, u.to, &why, held, false).await;
            return Ok(());
        }
        self.set_step(Step::Starting);
        self.finish_start(u.from, u.to, &u.bundle, held).await
    }

    /// Starts the new program of an interrupted upgrade whose state is transformed.
    async fn finish_start(
        &mut self,
        from: u64,
        to: u64,
        bundle: &str,
        held: Instant,
    ) -> Result<(), String> {
        let healthy_for = self
            .rules
            .get(bundle)
            .and_then(|k| Schedule::from_entries(&k.stored.signed.manifest.schedule).ok())
            .map_or(Duration::ZERO, |s| Duration::from_millis(s.healthy_for_ms));
        self.start_new(from, to, healthy_for, held, held).await;
        Ok(())
    }

    /// Waits (briefly) for the server's first directive and installs the rules it announces.
    async fn first_sync(&mut self) {
        let mut rx = self.link.directives();
        let _ = tokio::time::timeout(FIRST_ANSWER, rx.wait_for(Option::is_some)).await;
        let Some(b) = self.link.directive().and_then(|d| d.bundle) else {
            return;
        };
        let v = self.record.version;
        if b.from == v || b.to == v {
            self.ensure_bundle(&b).await;
        }
    }

    async fn start_serving(&mut self) -> Result<(), String> {
        match self.start_current().await {
            Ok(()) => self.set_status(self.current_phase(), true, ""),
            // Retried by the serve loop.
            Err(e) => tracing::error!("cannot start the program: {e}"),
        }
        Ok(())
    }
}
