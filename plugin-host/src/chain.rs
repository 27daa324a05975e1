//! A chain of the plugins of one upgrade (`1 -> 2`, `2 -> 3`, ...), composed so that a caller
//! several versions away from a node reaches it.
//!
//! An older caller goes through `past` rules upward: the `1 -> 2` plugin's past rule answers
//! the v1 call, its delegate `call`s (v2 methods) are answered by the `2 -> 3` plugin's past
//! rule, whose delegate calls reach the v3 node. A newer caller goes through `future` rules
//! downward. A step without a rule for the method (not in its manifest's `past` or `future`
//! list, nor disallowed) passes the call on unchanged. Delegate calls keep the service of the
//! call they come from.

use super::error::CallError;
use super::host::NodeHost;
use super::loader::Plugin;
use std::fmt;
use std::path::{Path, PathBuf};
use upstart_abi::manifest::Manifest;
use upstart_abi::Direction;

/// Consecutive plugins of one upgrade, sorted by version.
#[derive(Debug)]
pub struct Chain {
    name: String,
    /// Non-empty, sorted by `from`, each `to` the next `from`.
    plugins: Vec<Plugin>,
}

/// Why [`Chain::new`] refused a set of plugins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainError {
    /// No plugin at all.
    Empty,
    /// A plugin of another upgrade than the first one's.
    MixedNames {
        path: PathBuf,
        found: String,
        expected: String,
    },
    /// Two plugins cover the same versions; each pair is `(from, to)`.
    Overlap {
        first: PathBuf,
        first_versions: (u64, u64),
        second: PathBuf,
        second_versions: (u64, u64),
    },
    /// No plugin from version `to` (where `before` ends) to `from` (where `after` starts).
    Gap {
        name: String,
        before: PathBuf,
        to: u64,
        after: PathBuf,
        from: u64,
    },
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainError::Empty => write!(f, "a plugin chain needs at least one plugin"),
            ChainError::MixedNames {
                path,
                found,
                expected,
            } => write!(
                f,
                "plugin `{}` is for upgrade `{found}`, but the chain is for `{expected}`: a chain \
                 holds the plugins of one upgrade",
                path.display()
            ),
            ChainError::Overlap {
                first,
                first_versions: (a, b),
                second,
                second_versions: (c, d),
            } => {
                write!(
                    f,
                    "plugins `{}` ({a} -> {b}) and `{}` ({c} -> {d}) overlap: keep one plugin per \
                     step of the upgrade",
                    first.display(),
                    second.display()
                )
            }
            ChainError::Gap {
                name,
                before,
                to,
                after,
                from,
            } => write!(
                f,
                "the chain has no plugin from version {to} to version {from}: `{}` ends at \
                 version {to} and `{}` starts at version {from}; add the plugin built from the \
                 spec `{name} {to} -> {from}`",
                before.display(),
                after.display()
            ),
        }
    }
}

impl std::error::Error for ChainError {}

impl Chain {
    /// Sorts `plugins` by version and checks they form one chain: same upgrade name, and each
    /// plugin starts where the previous one ends.
    pub fn new(mut plugins: Vec<Plugin>) -> Result<Chain, ChainError> {
        plugins.sort_by_key(|p| p.manifest().from);
        let links: Vec<(&Path, &Manifest)> =
            plugins.iter().map(|p| (p.path(), p.manifest())).collect();
        let name = check_links(&links)?;
        Ok(Chain { name, plugins })
    }

    /// The `upgrade NAME` all plugins share.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The plugins, sorted by version.
    pub fn plugins(&self) -> &[Plugin] {
        &self.plugins
    }

    /// The versions the chain joins, ascending: the first plugin's `from`, then every `to`.
    pub fn versions(&self) -> Vec<u64> {
        let first = self.plugins.first().map(|p| p.manifest().from);
        first
            .into_iter()
            .chain(self.plugins.iter().map(|p| p.manifest().to))
            .collect()
    }

    /// Answers `service.method(args)` from a caller of `caller_version` on a node of
    /// `node_version`, through the simulation rules of every plugin between them; the last
    /// step's delegate calls (or the call itself, on the same version) reach `node`.
    pub fn call(
        &self,
        caller_version: u64,
        node_version: u64,
        service: &str,
        method: &str,
        args: &[u8],
        node: &mut dyn NodeHost,
    ) -> Result<Vec<u8>, CallError> {
        if caller_version == node_version {
            return node.call_last(method, args, true);
        }
        for version in [caller_version, node_version] {
            let joins = |p: &Plugin| p.manifest().from == version || p.manifest().to == version;
            if !self.plugins.iter().any(joins) {
                return Err(self.unknown_version(version));
            }
        }
        let (low, high) = (
            caller_version.min(node_version),
            caller_version.max(node_version),
        );
        let start = self.plugins.iter().position(|p| p.manifest().from == low);
        let end = self.plugins.iter().position(|p| p.manifest().to == high);
        let steps = match (start, end) {
            (Some(start), Some(end)) => self.plugins.get(start..=end),
            _ => None,
        };
        let Some(steps) = steps else {
            return Err(CallError::Internal(format!(
                "the chain of `{}` found no plugins from version {low} to version {high}",
                self.name
            )));
        };
        let direction = if caller_version < node_version {
            Direction::Past
        } else {
            Direction::Future
        };
        relay(steps, direction, service, method, args, true, node)
    }

    fn unknown_version(&self, version: u64) -> CallError {
        let known: Vec<String> = self.versions().iter().map(u64::to_string).collect();
        CallError::Internal(format!(
            "no plugin bridges version {version}: the chain of `{}` knows versions {}",
            self.name,
            known.join(", ")
        ))
    }
}

/// Checks that `links` (plugin files and manifests, sorted by `from`) form one chain, and
/// returns the upgrade's name.
fn check_links(links: &[(&Path, &Manifest)]) -> Result<String, ChainError> {
    let (_, first) = links.first().ok_or(ChainError::Empty)?;
    let name = first.name.clone();
    if let Some((path, other)) = links.iter().find(|(_, m)| m.name != name) {
        return Err(ChainError::MixedNames {
            path: path.to_path_buf(),
            found: other.name.clone(),
            expected: name,
        });
    }
    for pair in links.windows(2) {
        let [(pa, a), (pb, b)] = pair else { continue };
        if b.from < a.to {
            return Err(ChainError::Overlap {
                first: pa.to_path_buf(),
                first_versions: (a.from, a.to),
                second: pb.to_path_buf(),
                second_versions: (b.from, b.to),
            });
        }
        if b.from > a.to {
            return Err(ChainError::Gap {
                name,
                before: pa.to_path_buf(),
                to: a.to,
                after: pb.to_path_buf(),
                from: b.from,
            });
        }
    }
    Ok(name)
}

/// Runs the call through the first step (`Past`) or the last (`Future`) of `steps`, whose
/// delegate calls go on through the rest; with no step left, the call reaches the node.
/// `once`: every rule running above this call makes at most one call.
fn relay(
    steps: &[Plugin],
    direction: Direction,
    service: &str,
    method: &str,
    args: &[u8],
    once: bool,
    node: &mut dyn NodeHost,
) -> Result<Vec<u8>, CallError> {
    let split = match direction {
        Direction::Past => steps.split_first(),
        Direction::Future => steps.split_last(),
    };
    let Some((step, rest)) = split else {
        return node.call_last(method, args, once);
    };
    if has_rule(step.manifest(), direction, service, method) {
        let mut next = Next {
            steps: rest,
            direction,
            service,
            once: once && one_call(step.manifest(), direction, service, method),
            node,
        };
        step.simulate(direction, service, method, args, &mut next)
    } else {
        relay(rest, direction, service, method, args, once, node)
    }
}

/// The rest of a chain as the host of one step's rule.
struct Next<'a> {
    steps: &'a [Plugin],
    direction: Direction,
    service: &'a str,
    /// Every rule running (this step's and those above) makes at most one call.
    once: bool,
    node: &'a mut dyn NodeHost,
}

impl NodeHost for Next<'_> {
    fn call(&mut self, method: &str, args: &[u8]) -> Result<Vec<u8>, CallError> {
        relay(
            self.steps,
            self.direction,
            self.service,
            method,
            args,
            self.once,
            &mut *self.node,
        )
    }
}

/// Whether the plugin's `direction` rule for `service.method` makes at most one call.
fn one_call(manifest: &Manifest, direction: Direction, service: &str, method: &str) -> bool {
    let list = match direction {
        Direction::Past => &manifest.past_one_call,
        Direction::Future => &manifest.future_one_call,
    };
    list.iter()
        .any(|entry| entry.split_once('.') == Some((service, method)))
}

/// Whether the plugin has a `direction` rule for `service.method`: listed in `past` or
/// `future`, or disallowed in that direction (`service.method`, or the bare method).
fn has_rule(manifest: &Manifest, direction: Direction, service: &str, method: &str) -> bool {
    let (rules, word) = match direction {
        Direction::Past => (&manifest.past, "past"),
        Direction::Future => (&manifest.future, "future"),
    };
    let names = |entry: &str| entry.split_once('.') == Some((service, method));
    rules.iter().any(|r| names(r))
        || manifest
            .disallowed
            .iter()
            .any(|d| d.direction == word && (names(&d.method) || d.method == method))
}

#[cfg(test)]
mod tests {
    use super::*;
    use upstart_abi::manifest::Disallowed;

    /// `kv 1 -> 2` with a past rule for `Kv.get`, a future one for `Kv.put`, and two disallowed
    /// future calls.
    fn manifest() -> Manifest {
        Manifest {
            spec_hash: String::new(),
            past: vec!["Kv.get".into()],
            future: vec!["Kv.put".into()],
            disallowed: vec![
                Disallowed {
                    direction: "future".into(),
                    method: "Kv.delete".into(),
                    reason: "x".into(),
                },
                Disallowed {
                    direction: "future".into(),
                    method: "scan".into(),
                    reason: "y".into(),
                },
            ],
            ..crate::expect::tests::manifest()
        }
    }

    #[test]
    fn rules_are_found_by_direction_and_service() {
        let m = manifest();
        assert!(has_rule(&m, Direction::Past, "Kv", "get"));
        assert!(!has_rule(&m, Direction::Future, "Kv", "get"));
        assert!(!has_rule(&m, Direction::Past, "Other", "get"));
        assert!(has_rule(&m, Direction::Future, "Kv", "put"));
        assert!(!has_rule(&m, Direction::Past, "Kv", "echo"));
    }

    #[test]
    fn disallowed_methods_have_a_rule() {
        let m = manifest();
        assert!(has_rule(&m, Direction::Future, "Kv", "delete"));
        assert!(!has_rule(&m, Direction::Past, "Kv", "delete"));
        assert!(has_rule(&m, Direction::Future, "Kv", "scan"));
    }

    #[test]
    fn empty_chain_is_refused() {
        let e = Chain::new(Vec::new()).unwrap_err();
        assert_eq!(e, ChainError::Empty);
        assert_eq!(e.to_string(), "a plugin chain needs at least one plugin");
    }

    fn step(name: &str, from: u64, to: u64) -> Manifest {
        Manifest {
            name: name.into(),
            from,
            to,
            ..manifest()
        }
    }

    fn check(manifests: &[Manifest]) -> Result<String, ChainError> {
        let names: Vec<PathBuf> = manifests
            .iter()
            .map(|m| PathBuf::from(format!("{}-{}-{}.so", m.name, m.from, m.to)))
            .collect();
        let links: Vec<(&Path, &Manifest)> = names
            .iter()
            .map(PathBuf::as_path)
            .zip(manifests.iter())
            .collect();
        check_links(&links)
    }

    #[test]
    fn consecutive_steps_form_a_chain() {
        assert_eq!(
            check(&[step("kv", 1, 2), step("kv", 2, 3), step("kv", 3, 5)]),
            Ok("kv".into())
        );
        assert_eq!(check(&[step("kv", 1, 2)]), Ok("kv".into()));
    }

    #[test]
    fn other_upgrades_are_refused() {
        let e = check(&[step("kv", 1, 2), step("db", 2, 3)]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "plugin `db-2-3.so` is for upgrade `db`, but the chain is for `kv`: a chain holds the \
             plugins of one upgrade"
        );
    }

    #[test]
    fn overlaps_are_refused() {
        let e = check(&[step("kv", 1, 3), step("kv", 2, 3)]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "plugins `kv-1-3.so` (1 -> 3) and `kv-2-3.so` (2 -> 3) overlap: keep one plugin per \
             step of the upgrade"
        );
        let e = check(&[step("kv", 1, 2), step("kv", 1, 2)]).unwrap_err();
        assert!(matches!(e, ChainError::Overlap { .. }), "{e:?}");
    }

    #[test]
    fn gaps_are_refused() {
        let e = check(&[step("kv", 1, 2), step("kv", 3, 4)]).unwrap_err();
        assert!(matches!(e, ChainError::Gap { to: 2, from: 3, .. }), "{e:?}");
    }

    #[test]
    fn gap_message_names_the_missing_spec() {
        let e = ChainError::Gap {
            name: "kv".into(),
            before: "a.so".into(),
            to: 2,
            after: "b.so".into(),
            from: 3,
        };
        assert_eq!(
            e.to_string(),
            "the chain has no plugin from version 2 to version 3: `a.so` ends at version 2 and \
             `b.so` starts at version 3; add the plugin built from the spec `kv 2 -> 3`"
        );
    }
}
