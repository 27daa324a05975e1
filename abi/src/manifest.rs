//! The manifest embedded in every plugin: which spec it was built from (name, versions, content
//! hash), the methods each version answers, what is disallowed, and the schedule.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub abi_version: u32,
    /// The `upgrade NAME` of the spec.
    pub name: String,
    pub from: u64,
    pub to: u64,
    /// sha-256 of the spec text, lowercase hex.
    pub spec_hash: String,
    /// `lines` or `length`.
    pub framing: String,
    /// Services and methods of the old and new versions.
    pub old: Vec<ServiceSig>,
    pub new: Vec<ServiceSig>,
    /// `service.method` of the old version answered by a past rule, or passed through by the
    /// plugin under the new version's other name (`renamed from`) or with its values converted
    /// under renamed fields: the calls a host must run through the plugin.
    pub past: Vec<String>,
    /// The same for the new version's methods and their future rules.
    pub future: Vec<String>,
    /// Rules that always refuse, with their reason.
    pub disallowed: Vec<Disallowed>,
    /// The schedule as written, key to value text (`rolling.batch` -> `1`).
    pub schedule: Vec<(String, String)>,
    /// Whether the plugin carries a reverse transform (`PluginVTable::reverse_transform`), so a
    /// rollback can carry the new version's writes back. Absent in older manifests: `false`.
    #[serde(default)]
    pub reverse_transform: bool,
    /// `service.method` of the old version (as in `past`, plus methods passed through
    /// unchanged) whose past rule makes at most one delegate `call` on any run: once a host has
    /// seen that call, the rule makes no other, so the calls of a caller's next request may go
    /// to the node before this one is answered. Absent in older manifests: none.
    #[serde(default)]
    pub past_one_call: Vec<String>,
    /// The same for the new version's methods and their future rules.
    #[serde(default)]
    pub future_one_call: Vec<String>,
    /// How the old version keeps its state, as the spec declares it; `None` for a version
    /// without state. Absent in older manifests: not known (a host checks nothing).
    #[serde(default)]
    pub old_state: Option<StateLayout>,
    /// The same for the new version.
    #[serde(default)]
    pub new_state: Option<StateLayout>,
}

/// A version's state as the spec declares it: its storage kind and, for a database, the
/// columns of every table, which a host writes also when a table has no rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateLayout {
    /// `json`, `dir` or `sqlite` (`state KIND { ... }`; `json` when the spec says none).
    pub storage: String,
    /// Each field of the state that is a map or a list of records (a table in a database).
    pub tables: Vec<StateTable>,
}

/// A field of the state that is a map or a list of records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateTable {
    /// The state field (the table's name).
    pub field: String,
    /// The records' fields in declaration order, each with its column's SQL type: `INTEGER`,
    /// `REAL`, `TEXT`, `BOOLEAN` or `JSON TEXT` (any other value, kept as JSON text).
    pub columns: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSig {
    pub name: String,
    pub methods: Vec<MethodSig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodSig {
    pub name: String,
    /// Parameter names in order (JSON-RPC params by name bind to these).
    pub params: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disallowed {
    /// `past` or `future`.
    pub direction: String,
    pub method: String,
    pub reason: String,
}
