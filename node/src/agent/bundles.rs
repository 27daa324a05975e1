//! The bundles the server announces: fetched, verified and installed (the release unpacked,
//! the plugin kept), refused ones fetched again later, and the rules they bridge loaded.

use super::*;

/// Why a bundle was not fetched.
#[derive(Debug)]
enum FetchError {
    /// The server could not be reached: the next poll tries again.
    Unreachable(String),
    /// The bundle is refused (its signature, release or contents), or could not be installed.
    Refused(String),
}

impl From<String> for FetchError {
    fn from(e: String) -> FetchError {
        FetchError::Refused(e)
    }
}

/// How often a refused bundle is fetched again.
const REFETCH_AFTER: Duration = Duration::from_secs(10);

impl Agent {
    /// Fetches every bundle the server announces (the system's pending, running and paused
    /// rollouts) and installs the rules that bridge the node's version to all of their versions,
    /// composed: a caller two or more versions newer reaches this node through the chain.
    pub(super) async fn ensure_announced(&mut self, bundles: &[BundleRef]) {
        if bundles.is_empty() {
            return;
        }
        let mut changed = false;
        for b in bundles {
            if self.rules.get(&b.id).is_some() {
                continue;
            }
            if self
                .refused
                .get(&b.id)
                .is_some_and(|(_, at)| at.elapsed() < REFETCH_AFTER)
            {
                continue;
            }
            match self.fetch(b).await {
                Ok(()) => {
                    self.refused.remove(&b.id);
                    changed = true;
                }
                Err(FetchError::Unreachable(e)) => {
                    tracing::warn!(bundle = %b.id, "bundle not fetched yet: {e}");
                    self.unfetched = true;
                }
                Err(FetchError::Refused(e)) => {
                    tracing::error!(bundle = %b.id, "bundle refused: {e}");
                    say(&format!("refused {}: {e}", b.id));
                    self.refused.insert(b.id.clone(), (e, Instant::now()));
                }
            }
        }
        if !changed {
            return;
        }
        let version = self.record.version;
        let lowest = bundles.iter().map(|b| b.from).fold(version, u64::min);
        let highest = bundles.iter().map(|b| b.to).fold(version, u64::max);
        let mut wanted = self.rules.needed(lowest, highest);
        for id in self.rules.loaded() {
            if !wanted.contains(id) {
                wanted.push(id.clone());
            }
        }
        self.load_rules(wanted);
    }

    /// Fetches and verifies bundle `b` unless known, installs its binary, and loads its rules.
    pub(super) async fn ensure_bundle(&mut self, b: &BundleRef) {
        if self.rules.get(&b.id).is_none() {
            if let Some((_, at)) = self.refused.get(&b.id) {
                if at.elapsed() < REFETCH_AFTER {
                    return;
                }
            }
            match self.fetch(b).await {
                Ok(()) => {
                    self.refused.remove(&b.id);
                }
                Err(FetchError::Unreachable(e)) => {
                    // Not a refusal: the next poll fetches it again.
                    tracing::warn!(bundle = %b.id, "bundle not fetched yet: {e}");
                    self.unfetched = true;
                    return;
                }
                Err(FetchError::Refused(e)) => {
                    tracing::error!(bundle = %b.id, "bundle refused: {e}");
                    say(&format!("refused {}: {e}", b.id));
                    self.set_status(
                        self.link.status().phase,
                        self.link.status().healthy,
                        &format!("bundle `{}` refused: {e}", b.id),
                    );
                    self.refused.insert(b.id.clone(), (e, Instant::now()));
                    return;
                }
            }
        }
        let (lowest, highest) = (
            b.from.min(self.record.version),
            b.to.max(self.record.version),
        );
        let mut wanted = self.rules.needed(lowest, highest);
        for id in self.rules.loaded() {
            if !wanted.contains(id) {
                wanted.push(id.clone());
            }
        }
        self.load_rules(wanted);
    }

    /// Downloads bundle `b` into the store (verified against the node's own keys) and installs
    /// its program.
    async fn fetch(&mut self, b: &BundleRef) -> Result<(), FetchError> {
        let stored = self
            .link
            .client()
            .fetch_bundle(&b.id, &self.store, &self.trust, &Limits::default())
            .await
            .map_err(|e| match e {
                runtime::client::ClientError::Unreachable { .. } => {
                    FetchError::Unreachable(e.to_string())
                }
                e => FetchError::Refused(e.to_string()),
            })?;
        let m = &stored.signed.manifest;
        if m.spec != self.config.system || (m.from, m.to) != (b.from, b.to) {
            return Err(FetchError::Refused(format!(
                "the bundle is `{}` {} -> {}, the server announced `{}` {} -> {}",
                m.spec, m.from, m.to, self.config.system, b.from, b.to
            )));
        }
        self.record.check_release(&m.spec, m.release)?;
        let binary = m.file(runtime::bundle::FileRole::Binary).cloned();
        let files = m.files.clone();
        let known = self.rules.add(stored);
        // The plugin must load before anything relies on it.
        self.rules.plugin(&self.config.system, known.id())?;
        let Some(binary) = binary else {
            // A release directory: unpacked whole under the bundle's id.
            let dest = self.data.release(known.id());
            let store = self.store.clone();
            let to = dest.clone();
            tokio::task::spawn_blocking(move || release::install(&store, &files, &to))
                .await
                .map_err(|e| e.to_string())??;
            self.record.programs.insert(known.id().to_string(), dest);
            self.save()?;
            tracing::info!(bundle = %known.id(), from = known.from, to = known.to, "bundle fetched and verified, release unpacked");
            return Ok(());
        };
        let dest = self.data.binary(known.id(), &binary.name);
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
        }
        let (store, sha, to) = (self.store.clone(), binary.sha256.clone(), dest.clone());
        tokio::task::spawn_blocking(move || store.install_object(&sha, &to, 0o755))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        self.record.programs.insert(known.id().to_string(), dest);
        self.save()?;
        tracing::info!(bundle = %known.id(), from = known.from, to = known.to, "bundle fetched and verified");
        Ok(())
    }
}
