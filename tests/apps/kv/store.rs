//! The store's data and its persistent state, in the shape of its version's `state` record:
//! v1 `{"entries": {k: v}}`, v2 `{"items": {k: {value, expires_at}}}`, v3 adds each item's
//! `revision` and the store's `revision`.

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub value: String,
    /// Milliseconds since the Unix epoch.
    pub expires_at: Option<u64>,
    /// The store revision of the last write (v3).
    pub revision: u64,
}

#[derive(Debug)]
pub struct Store {
    pub version: u64,
    pub items: BTreeMap<String, Item>,
    pub revision: u64,
    path: PathBuf,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Store {
    /// Loads the state at `path`, or starts empty when there is no file.
    pub fn open(version: u64, path: &Path) -> Result<Store, String> {
        let mut store = Store {
            version,
            items: BTreeMap::new(),
            revision: 0,
            path: path.to_path_buf(),
        };
        let text = match std::fs::read(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(store),
            Err(e) => return Err(format!("cannot read `{}`: {e}", path.display())),
        };
        let state: Value = serde_json::from_slice(&text)
            .map_err(|e| format!("`{}` is not JSON: {e}", path.display()))?;
        let bad = || format!("`{}` is not a version {version} state", path.display());
        if version == 1 {
            let entries = state
                .get("entries")
                .and_then(Value::as_object)
                .ok_or_else(bad)?;
            for (k, v) in entries {
                let value = v.as_str().ok_or_else(bad)?.to_string();
                store.items.insert(
                    k.clone(),
                    Item {
                        value,
                        expires_at: None,
                        revision: 0,
                    },
                );
            }
        } else {
            let items = state
                .get("items")
                .and_then(Value::as_object)
                .ok_or_else(bad)?;
            for (k, v) in items {
                store.items.insert(k.clone(), item_of(v).ok_or_else(bad)?);
            }
            store.revision = state.get("revision").and_then(Value::as_u64).unwrap_or(0);
        }
        Ok(store)
    }

    /// The live (not expired) item at `key`.
    pub fn get(&self, key: &str) -> Option<&Item> {
        let now = now_ms();
        self.items.get(key).filter(|i| match i.expires_at {
            Some(t) => t > now,
            None => true,
        })
    }

    /// Writes `key` as a client write: a new revision.
    pub fn put(&mut self, key: &str, value: String, ttl_ms: Option<u64>) -> u64 {
        // A peer may have sent the largest revision there is: it stays the last one.
        self.revision = self.revision.saturating_add(1);
        let item = Item {
            value,
            expires_at: ttl_ms.map(|t| now_ms().saturating_add(t)),
            revision: self.revision,
        };
        self.items.insert(key.to_string(), item);
        self.revision
    }

    /// Applies a replicated item: revision 0 is stamped with our next one (v3).
    pub fn apply(&mut self, key: String, mut item: Item) {
        if self.version >= 3 {
            if item.revision == 0 {
                self.revision = self.revision.saturating_add(1);
                item.revision = self.revision;
            } else {
                self.revision = self.revision.max(item.revision);
            }
        }
        self.items.insert(key, item);
    }

    /// `key`'s item as this version writes it.
    pub fn item_json(&self, item: &Item) -> Value {
        match self.version {
            1 => Value::from(item.value.clone()),
            2 => json!({"value": item.value, "expires_at": item.expires_at}),
            _ => {
                json!({"value": item.value, "expires_at": item.expires_at, "revision": item.revision})
            }
        }
    }

    /// The persistent state document of this version.
    pub fn state_json(&self) -> Value {
        let mut map = Map::new();
        for (k, item) in &self.items {
            map.insert(k.clone(), self.item_json(item));
        }
        match self.version {
            1 => json!({ "entries": map }),
            2 => json!({ "items": map }),
            _ => json!({ "items": map, "revision": self.revision }),
        }
    }

    /// Rewrites the state file atomically (a temporary file renamed over it).
    pub fn save(&self) -> Result<(), String> {
        let tmp = self.path.with_extension("tmp");
        let text = serde_json::to_vec_pretty(&self.state_json()).map_err(|e| e.to_string())?;
        std::fs::write(&tmp, text).map_err(|e| format!("cannot write `{}`: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path)
            .map_err(|e| format!("cannot replace `{}`: {e}", self.path.display()))
    }
}

/// An item of a v2 or v3 state or `replicate` call.
pub fn item_of(v: &Value) -> Option<Item> {
    Some(Item {
        value: v.get("value")?.as_str()?.to_string(),
        expires_at: match v.get("expires_at") {
            None | Some(Value::Null) => None,
            Some(t) => Some(t.as_u64()?),
        },
        revision: v.get("revision").and_then(Value::as_u64).unwrap_or(0),
    })
}
