//! The methods of each version, exactly as `specs/kv` declares them, with params by name or
//! by position. A method's answer, and the items to replicate if it was a client write.

use super::store::{item_of, Item, Store};
use serde_json::{json, Map, Value};

/// A JSON-RPC error: code and message.
pub type Failure = (i64, String);

/// What a call did.
#[derive(Debug)]
pub struct Outcome {
    pub result: Value,
    /// The `replicate` params to send to peers (a client write), if any.
    pub replicate: Option<Value>,
    /// Whether the state changed (and must be saved).
    pub changed: bool,
}

fn done(result: Value) -> Outcome {
    Outcome {
        result,
        replicate: None,
        changed: false,
    }
}

/// The parameter names of `method` in `version`.
pub fn params_of(version: u64, method: &str) -> Option<&'static [&'static str]> {
    let all: &[(&str, &[&str])] = match version {
        1 => &[
            ("get", &["key"]),
            ("put", &["key", "value"]),
            ("replicate", &["entries"]),
        ],
        2 => &[
            ("get", &["key"]),
            ("put", &["key", "value", "ttl_ms"]),
            ("delete", &["key"]),
            ("replicate", &["items"]),
        ],
        _ => &[
            ("get", &["key"]),
            ("get_many", &["keys"]),
            ("put", &["key", "value", "ttl_ms"]),
            (
                "compare_and_put",
                &["key", "value", "ttl_ms", "expected_revision"],
            ),
            ("delete", &["key"]),
            ("list_keys", &["prefix", "limit"]),
            ("replicate", &["items"]),
        ],
    };
    all.iter().find(|(m, _)| *m == method).map(|(_, p)| *p)
}

/// Binds `params` to the method's parameter names.
fn bind(names: &[&str], method: &str, params: Option<Value>) -> Result<Vec<Value>, Failure> {
    let invalid = |why: String| (-32602, format!("invalid params of `{method}`: {why}"));
    match params {
        None | Some(Value::Null) => Ok(vec![Value::Null; names.len()]),
        Some(Value::Array(mut a)) => {
            if a.len() > names.len() {
                return Err(invalid(format!(
                    "takes {} arguments, got {}",
                    names.len(),
                    a.len()
                )));
            }
            a.resize(names.len(), Value::Null);
            Ok(a)
        }
        Some(Value::Object(mut o)) => {
            let args = names
                .iter()
                .map(|n| o.remove(*n).unwrap_or(Value::Null))
                .collect();
            match o.keys().next() {
                Some(extra) => Err(invalid(format!("no parameter `{extra}`"))),
                None => Ok(args),
            }
        }
        Some(_) => Err(invalid("params must be an array or an object".into())),
    }
}

fn string(v: &Value, name: &str) -> Result<String, Failure> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| (-32602, format!("invalid params: `{name}` must be a string")))
}

fn opt_u64(v: &Value, name: &str) -> Result<Option<u64>, Failure> {
    match v {
        Value::Null => Ok(None),
        v => v.as_u64().map(Some).ok_or_else(|| {
            (
                -32602,
                format!("invalid params: `{name}` must be an unsigned integer or null"),
            )
        }),
    }
}

fn u64_of(v: &Value, name: &str) -> Result<u64, Failure> {
    v.as_u64().ok_or_else(|| {
        (
            -32602,
            format!("invalid params: `{name}` must be an unsigned integer"),
        )
    })
}

/// The `replicate` params of one written item in this version's shape.
fn replication(store: &Store, key: &str) -> Option<Value> {
    let item = store.items.get(key)?;
    Some(match store.version {
        1 => json!({"entries": [{"key": key, "value": item.value}]}),
        _ => {
            let mut items = Map::new();
            items.insert(key.to_string(), store.item_json(item));
            json!({ "items": items })
        }
    })
}

/// Calls `method` on the store.
pub fn call(store: &mut Store, method: &str, params: Option<Value>) -> Result<Outcome, Failure> {
    let version = store.version;
    let names = params_of(version, method).ok_or_else(|| {
        (
            -32601,
            format!("unknown method `{method}` (version {version})"),
        )
    })?;
    let args = bind(names, method, params)?;
    let arg = |i: usize| args.get(i).unwrap_or(&Value::Null);
    match method {
        "get" => {
            let key = string(arg(0), "key")?;
            Ok(done(
                store.get(&key).map_or(Value::Null, |i| store.item_json(i)),
            ))
        }
        "get_many" => {
            let keys = arg(0)
                .as_array()
                .ok_or((-32602, "invalid params: `keys` must be a list".to_string()))?;
            let mut out = Vec::new();
            for k in keys {
                let k = string(k, "keys")?;
                out.push(store.get(&k).map_or(Value::Null, |i| store.item_json(i)));
            }
            Ok(done(Value::Array(out)))
        }
        "put" => {
            let key = string(arg(0), "key")?;
            let value = string(arg(1), "value")?;
            let ttl = if version >= 2 {
                opt_u64(arg(2), "ttl_ms")?
            } else {
                None
            };
            let revision = store.put(&key, value, ttl);
            let result = if version >= 3 {
                Value::from(revision)
            } else {
                Value::Null
            };
            Ok(Outcome {
                result,
                replicate: replication(store, &key),
                changed: true,
            })
        }
        "compare_and_put" => {
            let key = string(arg(0), "key")?;
            let value = string(arg(1), "value")?;
            let ttl = opt_u64(arg(2), "ttl_ms")?;
            let expected = u64_of(arg(3), "expected_revision")?;
            let current = store.get(&key).map(|i| i.revision);
            let refused = match (expected, current) {
                (0, Some(rev)) => Some(json!({ "Conflict": rev })),
                (0, None) => None,
                (_, None) => Some(json!("Missing")),
                (e, Some(rev)) if e != rev => Some(json!({ "Conflict": rev })),
                _ => None,
            };
            if let Some(result) = refused {
                return Ok(done(result));
            }
            let revision = store.put(&key, value, ttl);
            Ok(Outcome {
                result: json!({ "Written": revision }),
                replicate: replication(store, &key),
                changed: true,
            })
        }
        "delete" => {
            let key = string(arg(0), "key")?;
            let existed = store.get(&key).is_some();
            let removed = store.items.remove(&key).is_some();
            Ok(Outcome {
                result: Value::Bool(existed),
                replicate: None,
                changed: removed,
            })
        }
        "list_keys" => {
            let prefix = string(arg(0), "prefix")?;
            let limit = usize::try_from(u64_of(arg(1), "limit")?).unwrap_or(usize::MAX);
            let keys: Vec<Value> = store
                .items
                .keys()
                .filter(|k| k.starts_with(&prefix) && store.get(k).is_some())
                .take(limit)
                .map(|k| Value::from(k.clone()))
                .collect();
            Ok(done(Value::Array(keys)))
        }
        "replicate" if version == 1 => {
            let entries = arg(0).as_array().ok_or((
                -32602,
                "invalid params: `entries` must be a list".to_string(),
            ))?;
            for e in entries {
                let key = string(e.get("key").unwrap_or(&Value::Null), "key")?;
                let value = string(e.get("value").unwrap_or(&Value::Null), "value")?;
                store.apply(
                    key,
                    Item {
                        value,
                        expires_at: None,
                        revision: 0,
                    },
                );
            }
            Ok(Outcome {
                result: Value::Null,
                replicate: None,
                changed: true,
            })
        }
        "replicate" => {
            let items = arg(0)
                .as_object()
                .ok_or((-32602, "invalid params: `items` must be a map".to_string()))?;
            for (k, v) in items {
                let item = item_of(v)
                    .ok_or((-32602, format!("invalid params: item `{k}` is malformed")))?;
                store.apply(k.clone(), item);
            }
            Ok(Outcome {
                result: Value::Null,
                replicate: None,
                changed: true,
            })
        }
        other => Err((
            -32601,
            format!("unknown method `{other}` (version {version})"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(version: u64) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(version, &dir.path().join("s.json")).unwrap();
        (dir, store)
    }

    fn ok(store: &mut Store, method: &str, params: Value) -> Value {
        call(store, method, Some(params)).unwrap().result
    }

    #[test]
    fn version_3_revisions_and_compare_and_put() {
        let (_dir, mut s) = store(3);
        assert_eq!(ok(&mut s, "put", json!(["a", "1", null])), json!(1));
        assert_eq!(
            ok(&mut s, "compare_and_put", json!(["a", "2", null, 0])),
            json!({"Conflict": 1})
        );
        assert_eq!(
            ok(&mut s, "compare_and_put", json!(["b", "2", null, 5])),
            json!("Missing")
        );
        assert_eq!(
            ok(&mut s, "compare_and_put", json!(["a", "2", null, 1])),
            json!({"Written": 2})
        );
        assert_eq!(
            ok(&mut s, "compare_and_put", json!(["c", "3", null, 0])),
            json!({"Written": 3})
        );
        // A replicated item of unknown revision is stamped with the next one.
        let items = json!({"items": {"d": {"value": "4", "expires_at": null, "revision": 0}}});
        ok(&mut s, "replicate", items);
        assert_eq!(ok(&mut s, "get", json!({"key": "d"}))["revision"], json!(4));
        assert_eq!(ok(&mut s, "list_keys", json!(["", 2])), json!(["a", "c"]));
        assert_eq!(ok(&mut s, "get_many", json!([["a", "zz"]]))[1], Value::Null);
    }

    /// Found by `upstart test` (its workload draws integers on their type's boundaries): a
    /// replicated revision of `u64::MAX` made the next write overflow the store's revision and
    /// panic, and every later write on that node closed its connection.
    #[test]
    fn a_replicated_revision_at_the_limit_does_not_break_later_writes() {
        let (_dir, mut s) = store(3);
        let max = u64::MAX;
        let items = json!({"items": {"a": {"value": "1", "expires_at": null, "revision": max}}});
        ok(&mut s, "replicate", items);
        assert_eq!(ok(&mut s, "put", json!(["b", "2", null])), json!(max));
        let zero = json!({"items": {"c": {"value": "3", "expires_at": null, "revision": 0}}});
        ok(&mut s, "replicate", zero);
        assert_eq!(
            ok(&mut s, "get", json!({"key": "c"}))["revision"],
            json!(max)
        );
    }

    #[test]
    fn versions_answer_only_their_methods_and_params() {
        let (_dir, mut s) = store(1);
        assert_eq!(
            call(&mut s, "delete", Some(json!(["a"]))).unwrap_err().0,
            -32601
        );
        assert_eq!(
            call(&mut s, "put", Some(json!(["a", "b", 1])))
                .unwrap_err()
                .0,
            -32602
        );
        assert_eq!(
            ok(&mut s, "put", json!({"key": "a", "value": "b"})),
            Value::Null
        );
        let out = call(&mut s, "put", Some(json!(["a", "c"]))).unwrap();
        assert_eq!(
            out.replicate,
            Some(json!({"entries": [{"key": "a", "value": "c"}]}))
        );
    }

    #[test]
    fn state_round_trips_in_each_version_shape() {
        for version in 1..=3 {
            let (dir, mut s) = store(version);
            let params = if version == 1 {
                json!(["k", "v"])
            } else {
                json!(["k", "v", null])
            };
            ok(&mut s, "put", params);
            s.save().unwrap();
            let back = Store::open(version, &dir.path().join("s.json")).unwrap();
            assert_eq!(back.state_json(), s.state_json());
            assert_eq!(back.items.len(), 1);
        }
    }
}
