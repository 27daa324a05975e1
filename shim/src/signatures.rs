//! The methods each version answers, as the plugin manifests declare them, and the binding of
//! a request's params (by name or by position) to the argument array the chain expects.

use crate::jsonrpc::{code, Params, RpcError};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use upstart_abi::manifest::{MethodSig, ServiceSig};
use upstart_plugin_host::Chain;

/// Services and methods per version.
#[derive(Debug, Clone, Default)]
pub struct Signatures {
    versions: BTreeMap<u64, Vec<ServiceSig>>,
}

/// A method a request names, found in its caller's version.
#[derive(Debug, Clone, Copy)]
pub struct Resolved<'a> {
    pub service: &'a str,
    pub method: &'a MethodSig,
}

impl Signatures {
    /// The versions of every plugin of `chain`: each plugin's `old` is its `from` version,
    /// its `new` its `to` version.
    pub fn of_chain(chain: Option<&Chain>) -> Signatures {
        let mut versions = BTreeMap::new();
        for plugin in chain.map(Chain::plugins).unwrap_or_default() {
            let m = plugin.manifest();
            versions.entry(m.from).or_insert_with(|| m.old.clone());
            versions.entry(m.to).or_insert_with(|| m.new.clone());
        }
        Signatures { versions }
    }

    /// Whether the chain bridges `version`.
    pub fn knows(&self, version: u64) -> bool {
        self.versions.contains_key(&version)
    }

    /// How many services `version` has.
    pub fn services(&self, version: u64) -> usize {
        self.versions.get(&version).map_or(0, Vec::len)
    }

    /// The versions known, ascending.
    pub fn versions(&self) -> Vec<u64> {
        self.versions.keys().copied().collect()
    }

    /// The method `name` (`method`, or `Service.method`) of `version`.
    pub fn resolve(&self, version: u64, name: &str) -> Result<Resolved<'_>, RpcError> {
        let services = self
            .versions
            .get(&version)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let unknown = || {
            RpcError::new(
                code::METHOD_NOT_FOUND,
                format!("unknown method `{name}`: version {version} has no such method"),
            )
            .with_data(serde_json::json!({ "version": version }))
        };
        if let Some((service, method)) = name.split_once('.') {
            let found = services
                .iter()
                .filter(|s| s.name == service)
                .find_map(|s| s.methods.iter().find(|m| m.name == method).map(|m| (s, m)));
            return found
                .map(|(s, m)| Resolved {
                    service: &s.name,
                    method: m,
                })
                .ok_or_else(unknown);
        }
        let mut found = services
            .iter()
            .filter_map(|s| s.methods.iter().find(|m| m.name == name).map(|m| (s, m)));
        match (found.next(), found.next()) {
            (Some((s, m)), None) => Ok(Resolved {
                service: &s.name,
                method: m,
            }),
            (Some((a, _)), Some((b, _))) => Err(RpcError::new(
                code::METHOD_NOT_FOUND,
                format!(
                    "method `{name}` is ambiguous in version {version}: name it `{}.{name}` or \
                     `{}.{name}`",
                    a.name, b.name
                ),
            )),
            (None, _) => Err(unknown()),
        }
    }

    /// The signature of `service.method` in `version`, if known.
    pub fn method(&self, version: u64, service: &str, method: &str) -> Option<&MethodSig> {
        self.versions
            .get(&version)?
            .iter()
            .find(|s| s.name == service)?
            .methods
            .iter()
            .find(|m| m.name == method)
    }
}

/// Binds `params` to `sig`'s parameters in order. Named params take their parameter's place;
/// missing ones (and missing trailing positional ones) are `null`, which is `none` for an
/// optional parameter and a clear decoding error of the plugin otherwise.
pub fn bind(sig: &MethodSig, params: Params) -> Result<Vec<Value>, RpcError> {
    let arity = sig.params.len();
    let invalid = |why: String| {
        RpcError::new(
            code::INVALID_PARAMS,
            format!("invalid params of `{}`: {why}", sig.name),
        )
    };
    match params {
        Params::None => Ok(vec![Value::Null; arity]),
        Params::ByPosition(mut args) => {
            if args.len() > arity {
                return Err(invalid(format!(
                    "it takes {arity} argument{} ({}), got {}",
                    if arity == 1 { "" } else { "s" },
                    sig.params.join(", "),
                    args.len()
                )));
            }
            args.resize(arity, Value::Null);
            Ok(args)
        }
        Params::ByName(mut named) => {
            let args = sig
                .params
                .iter()
                .map(|p| named.remove(p).unwrap_or(Value::Null))
                .collect();
            if let Some(extra) = named.keys().next() {
                return Err(invalid(format!(
                    "no parameter `{extra}` (it takes {})",
                    sig.params.join(", ")
                )));
            }
            Ok(args)
        }
    }
}

/// The params of a call to the node: by name when its signature is known, else by position.
pub fn node_params(sig: Option<&MethodSig>, args: Vec<Value>) -> Value {
    match sig {
        Some(sig) if sig.params.len() == args.len() => {
            let named: Map<String, Value> = sig.params.iter().cloned().zip(args).collect();
            Value::Object(named)
        }
        _ => Value::Array(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sig(name: &str, params: &[&str]) -> MethodSig {
        MethodSig {
            name: name.into(),
            params: params.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn sigs() -> Signatures {
        let kv = ServiceSig {
            name: "Kv".into(),
            methods: vec![
                sig("get", &["key"]),
                sig("put", &["key", "value", "ttl_ms"]),
            ],
        };
        let admin = ServiceSig {
            name: "Admin".into(),
            methods: vec![sig("get", &["what"])],
        };
        let mut versions = BTreeMap::new();
        versions.insert(1, vec![kv.clone()]);
        versions.insert(2, vec![kv, admin]);
        Signatures { versions }
    }

    #[test]
    fn methods_resolve_bare_or_qualified() {
        let s = sigs();
        let r = s.resolve(1, "get").unwrap();
        assert_eq!((r.service, r.method.name.as_str()), ("Kv", "get"));
        let r = s.resolve(2, "Admin.get").unwrap();
        assert_eq!(r.service, "Admin");
        let e = s.resolve(2, "get").unwrap_err();
        assert!(e.message.contains("ambiguous"), "{}", e.message);
        let e = s.resolve(1, "delete").unwrap_err();
        assert_eq!(e.code, code::METHOD_NOT_FOUND);
        assert_eq!(
            e.message,
            "unknown method `delete`: version 1 has no such method"
        );
        assert!(s.resolve(3, "get").is_err());
    }

    #[test]
    fn params_bind_by_name_and_position() {
        let put = sig("put", &["key", "value", "ttl_ms"]);
        let mut named = Map::new();
        named.insert("value".into(), json!("v"));
        named.insert("key".into(), json!("k"));
        assert_eq!(
            bind(&put, Params::ByName(named)).unwrap(),
            vec![json!("k"), json!("v"), Value::Null]
        );
        assert_eq!(
            bind(&put, Params::ByPosition(vec![json!("k"), json!("v")])).unwrap(),
            vec![json!("k"), json!("v"), Value::Null]
        );
        let e = bind(&put, Params::ByPosition(vec![json!(1); 4])).unwrap_err();
        assert_eq!(
            e.message,
            "invalid params of `put`: it takes 3 arguments (key, value, ttl_ms), got 4"
        );
        let mut named = Map::new();
        named.insert("ttl".into(), json!(1));
        let e = bind(&put, Params::ByName(named)).unwrap_err();
        assert_eq!(e.code, code::INVALID_PARAMS);
        assert!(e.message.contains("no parameter `ttl`"));
    }

    #[test]
    fn node_params_by_name_when_known() {
        let get = sig("get", &["key"]);
        assert_eq!(
            node_params(Some(&get), vec![json!("a")]),
            json!({"key": "a"})
        );
        assert_eq!(node_params(None, vec![json!("a")]), json!(["a"]));
    }
}
