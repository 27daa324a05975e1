//! The simulation rules the node's shim holds: the plugins of the bundles the agent fetched,
//! composed into a chain. Future rules are installed as soon as a bundle upgrading from the
//! node's version is known; past rules stay while any node (or any pinned client port) of an
//! older version remains, and are dropped after.

use runtime::bundle::{Limits, Store, StoredBundle, TrustedKeys};
use runtime::plugin::{Chain, Expect, Plugin};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A fetched, verified bundle.
#[derive(Debug, Clone)]
pub struct Known {
    pub stored: StoredBundle,
    pub from: u64,
    pub to: u64,
}

impl Known {
    pub fn id(&self) -> &str {
        &self.stored.id
    }
}

/// The bundles the node knows, by id.
#[derive(Debug, Default)]
pub struct Rules {
    known: BTreeMap<String, Known>,
    /// The ids of the bundles in the shim's chain.
    loaded: Vec<String>,
}

impl Rules {
    /// Re-opens the bundles `ids` from `store` (verified again against `trust`).
    pub fn reopen(ids: &[String], store: &Store, trust: &TrustedKeys) -> Result<Rules, String> {
        let mut rules = Rules::default();
        for id in ids {
            let stored = store
                .bundle(id, trust, &Limits::default())
                .map_err(|e| format!("bundle `{id}` of the agent's record: {e}"))?;
            rules.add(stored);
        }
        rules.loaded = ids.to_vec();
        Ok(rules)
    }

    /// Remembers a verified bundle.
    pub fn add(&mut self, stored: StoredBundle) -> Known {
        let m = &stored.signed.manifest;
        let known = Known {
            from: m.from,
            to: m.to,
            stored,
        };
        self.known.insert(known.stored.id.clone(), known.clone());
        known
    }

    pub fn get(&self, id: &str) -> Option<&Known> {
        self.known.get(id)
    }

    /// The ids in the shim's chain.
    pub fn loaded(&self) -> &[String] {
        &self.loaded
    }

    /// Loads the plugin of bundle `id` (checked against its signed manifest).
    pub fn plugin(&self, system: &str, id: &str) -> Result<Plugin, String> {
        let known = self
            .known
            .get(id)
            .ok_or_else(|| format!("bundle `{id}` is not in the node's store"))?;
        let m = &known.stored.signed.manifest;
        let expect = Expect {
            name: Some(system.to_string()),
            from: Some(m.from),
            to: Some(m.to),
            spec_hash: Some(m.spec_hash.clone()),
        };
        Plugin::load(&known.stored.plugin, &expect)
            .map_err(|e| format!("the plugin of bundle `{id}` does not load: {e}"))
    }

    /// The chain of the bundles `ids` (`None` for none), each plugin loaded afresh.
    pub fn chain(&self, system: &str, ids: &[String]) -> Result<Option<Arc<Chain>>, String> {
        if ids.is_empty() {
            return Ok(None);
        }
        let plugins = ids
            .iter()
            .map(|id| self.plugin(system, id))
            .collect::<Result<Vec<_>, _>>()?;
        let chain = Chain::new(plugins).map_err(|e| format!("the plugins do not chain: {e}"))?;
        Ok(Some(Arc::new(chain)))
    }

    /// Records that the shim now holds the chain of `ids`.
    pub fn set_loaded(&mut self, ids: Vec<String>) {
        self.loaded = ids;
    }

    /// The known bundles whose rules are needed for versions `lowest..=highest` to talk: each
    /// bundle between them, one per step (the newest bundle of a step when there are several),
    /// sorted by version.
    pub fn needed(&self, lowest: u64, highest: u64) -> Vec<String> {
        let mut by_step: BTreeMap<u64, &Known> = BTreeMap::new();
        for k in self.known.values() {
            if k.from >= lowest && k.to <= highest && k.to == k.from + 1 {
                let newer = match by_step.get(&k.from) {
                    Some(old) => {
                        k.stored.signed.manifest.created_at >= old.stored.signed.manifest.created_at
                    }
                    None => true,
                };
                if newer {
                    by_step.insert(k.from, k);
                }
            }
        }
        by_step.values().map(|k| k.stored.id.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime::bundle::{BundleManifest, SignedManifest};
    use std::path::PathBuf;

    fn known(from: u64, to: u64, created_at: u64) -> StoredBundle {
        let key = runtime::bundle::keys::generate().unwrap();
        let manifest = BundleManifest {
            format: 2,
            spec: "kv".into(),
            from,
            to,
            release: 1,
            spec_hash: "0".repeat(64),
            schedule: Vec::new(),
            files: Vec::new(),
            created_at,
            program: None,
        };
        let signed = SignedManifest::sign(manifest, &key);
        StoredBundle {
            id: signed.id(),
            signed,
            plugin: PathBuf::new(),
            binary: None,
        }
    }

    #[test]
    fn rules_are_kept_between_the_lowest_and_highest_versions() {
        let mut r = Rules::default();
        let a = r.add(known(1, 2, 10)).stored.id;
        let b = r.add(known(2, 3, 10)).stored.id;
        let a2 = r.add(known(1, 2, 20)).stored.id;
        assert_eq!(r.needed(1, 3), vec![a2.clone(), b.clone()]);
        assert_eq!(r.needed(1, 2), vec![a2]);
        assert_eq!(r.needed(2, 3), vec![b]);
        assert!(r.needed(2, 2).is_empty(), "a single version needs no rules");
        assert!(r.get(&a).is_some());
        assert!(r.chain("kv", &[]).unwrap().is_none());
    }
}
