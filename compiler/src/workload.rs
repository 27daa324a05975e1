//! The workload of `upstart test`, derived from a chain of checked specs: for every version the
//! chain bridges, its methods and a list of calls with arguments drawn from `verify`'s value
//! generators ([`crate::verify::Generator`]). Generated strings come from a two-letter alphabet
//! and are at most three characters long, so keys collide across calls and clients.
//!
//! Everything is determined by the seed: `upstartc workload SPEC... --seed N` prints the same
//! calls on every run, which is what lets `upstart test` replay and shrink a plan.

use crate::model::{SpecModel, VersionEnv};
use crate::verify::{Generator, Rng};
use serde::{Deserialize, Serialize};

/// How many calls and how large their arguments get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkloadOptions {
    pub seed: u64,
    /// Calls generated per version.
    pub calls: u32,
    /// Size bound of generated arguments (0 to [`crate::verify::MAX_SIZE`]); small keeps
    /// collections short and keys colliding.
    pub size: u32,
}

impl Default for WorkloadOptions {
    fn default() -> Self {
        WorkloadOptions {
            seed: 0,
            calls: 64,
            size: 2,
        }
    }
}

/// The workload of a chain of specs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Workload {
    /// The `upgrade NAME` of the system.
    pub system: String,
    pub seed: u64,
    /// Every version of the chain, oldest first.
    pub versions: Vec<VersionWorkload>,
}

/// One version's methods and calls.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionWorkload {
    pub version: u64,
    pub methods: Vec<MethodInfo>,
    pub calls: Vec<Call>,
}

/// A method of a version's service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MethodInfo {
    pub service: String,
    pub name: String,
    /// Its parameters, in order.
    pub params: Vec<String>,
}

/// One call: a method and its params by name (a JSON object, the JSON-RPC `params`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    pub method: String,
    pub params: serde_json::Value,
}

/// The workload of `models` (a checked chain, in any order). `None` when there is no model.
pub fn workload(models: &[SpecModel], options: &WorkloadOptions) -> Option<Workload> {
    let first = models.first()?;
    // Each version once, from the first spec that declares it (a joint agrees by the check).
    let mut envs: Vec<(&SpecModel, &VersionEnv)> = Vec::new();
    for m in models {
        for env in [&m.old, &m.new] {
            if !envs.iter().any(|(_, e)| e.number == env.number) {
                envs.push((m, env));
            }
        }
    }
    envs.sort_by_key(|(_, e)| e.number);
    let root = Rng::new(options.seed);
    let versions = envs
        .into_iter()
        .map(|(model, env)| version_workload(model, env, &mut root.fork(env.number), options))
        .collect();
    Some(Workload {
        system: first.spec.name.name.clone(),
        seed: options.seed,
        versions,
    })
}

fn version_workload(
    model: &SpecModel,
    env: &VersionEnv,
    rng: &mut Rng,
    options: &WorkloadOptions,
) -> VersionWorkload {
    let gen = Generator::without_literals(model);
    let methods: Vec<_> = env
        .services
        .values()
        .flat_map(|s| s.methods.iter().map(move |m| (s, m)))
        .collect();
    let infos = methods
        .iter()
        .map(|(s, m)| MethodInfo {
            service: s.name.name.clone(),
            name: m.name.name.clone(),
            params: m.params.iter().map(|p| p.name.name.clone()).collect(),
        })
        .collect();
    let mut calls = Vec::new();
    for _ in 0..options.calls {
        let Some((_, method)) = rng.pick(&methods) else {
            break;
        };
        let size = rng.below(u64::from(options.size) + 1);
        let size = u32::try_from(size).unwrap_or(0);
        let params = method
            .params
            .iter()
            .map(|p| {
                (
                    p.name.name.clone(),
                    gen.generate(&p.ty, rng, size).to_json(),
                )
            })
            .collect();
        calls.push(Call {
            method: method.name.name.clone(),
            params: serde_json::Value::Object(params),
        });
    }
    VersionWorkload {
        version: env.number,
        methods: infos,
        calls,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;
    use crate::test_specs::kv_models as models;

    #[test]
    fn a_chain_gives_every_version_its_methods_and_calls_with_colliding_keys() {
        let m = models(&["kv-1-2.ups", "kv-2-3.ups"]);
        let options = WorkloadOptions {
            seed: 7,
            calls: 200,
            size: 2,
        };
        let w = workload(&m, &options).unwrap();
        assert_eq!(w.system, "kv");
        assert_eq!(
            w.versions.iter().map(|v| v.version).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        let v3 = &w.versions[2];
        assert!(v3.methods.iter().any(|m| m.name == "compare_and_put"));
        assert!(!w.versions[0].methods.iter().any(|m| m.name == "delete"));
        for v in &w.versions {
            assert_eq!(v.calls.len(), 200);
            for c in &v.calls {
                let method = v.methods.iter().find(|m| m.name == c.method).unwrap();
                let names: Vec<&String> = c.params.as_object().unwrap().keys().collect();
                let mut want: Vec<&String> = method.params.iter().collect();
                want.sort();
                assert_eq!(names, want, "{c:?}");
            }
        }
        // Keys collide: far fewer distinct keys than calls with a key.
        let keys: Vec<&str> = w.versions[0]
            .calls
            .iter()
            .filter_map(|c| c.params.get("key")?.as_str())
            .collect();
        let mut distinct = keys.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert!(keys.len() > 50 && distinct.len() <= 15, "{distinct:?}");
        // The same seed, the same calls; another seed, other calls.
        assert_eq!(workload(&m, &options), Some(w.clone()));
        let other = workload(&m, &WorkloadOptions { seed: 8, ..options }).unwrap();
        assert_ne!(other.versions[0].calls, w.versions[0].calls);
    }
}
