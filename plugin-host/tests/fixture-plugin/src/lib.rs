//! A plugin written by hand against `upstart_abi` the way `upstartc compile` generates one: a
//! `guest::Plugin` over bytes, whose C-ABI table `guest::vtable` makes (every entry wrapped in
//! `guest::guard`), behind the entry symbol; data as JSON bytes, delegate calls through
//! `guest::Host`. The table's ABI version and manifest are the fixture's own, read from the
//! build's variables.
//!
//! Built by the runtime's tests in variants chosen at compile time:
//! - `FIXTURE_ABI_VERSION`: the ABI version the table claims (default: the real one);
//! - `FIXTURE_FROM`, `FIXTURE_TO`: the versions it bridges (default `1 -> 2`; `2 -> 3` is the
//!   second step of a chain, see spec-2-3.ups);
//! - `FIXTURE_SPEC_HASH`: the manifest's `spec_hash` (the tests pass the sha-256 of the spec).
//!
//! Rules of `fixture 1 -> 2` (spec-1-2.ups), service `Calc`:
//! - past `double(n) = call add(n, n)`;
//! - past `boom()` panics;
//! - future `add(a, b)`: `call double(a)` when `a == b`, else `disallow "add needs version 2"`;
//! - transform `{count}` -> `{count, doubled: count * 2}`, invariant `new.doubled == old.count * 2`;
//! - reverse transform `{count, doubled}` -> `{count}`.
//!
//! Rules of `fixture 2 -> 3` (spec-2-3.ups):
//! - past `add(a, b) = call sum([a, b])`;
//! - future `sum([a, b]) = call add(a, b)`, other lengths disallowed;
//! - the manifest declares every rule but future `sum` as making at most one call;
//! - transform and invariant: identity; no reverse transform (the table's entry is null and
//!   the manifest says so).

use serde_json::{json, Value};
use std::sync::OnceLock;
use upstart_abi::guest::{self, Host, Plugin};
use upstart_abi::manifest::{Manifest, MethodSig, ServiceSig};
use upstart_abi::rt::RuleError;
use upstart_abi::{Direction, PluginVTable, Slice, ABI_VERSION};

const ABI: u32 = number(option_env!("FIXTURE_ABI_VERSION"), ABI_VERSION as u64) as u32;
const FROM: u64 = number(option_env!("FIXTURE_FROM"), 1);
const TO: u64 = number(option_env!("FIXTURE_TO"), 2);
const SPEC_HASH: &str = match option_env!("FIXTURE_SPEC_HASH") {
    Some(hash) => hash,
    None => "0000000000000000000000000000000000000000000000000000000000000000",
};

/// A decimal number from the environment at compile time, or `default`.
const fn number(text: Option<&str>, default: u64) -> u64 {
    let Some(text) = text else { return default };
    let digits = text.as_bytes();
    let mut n = 0u64;
    let mut i = 0;
    while i < digits.len() {
        let d = digits[i];
        assert!(
            d.is_ascii_digit(),
            "a FIXTURE_* version must be a decimal number"
        );
        n = n * 10 + (d - b'0') as u64;
        i += 1;
    }
    n
}

/// `guest::vtable`'s table of [`Fixture`], with the ABI version and manifest of the variant.
static VTABLE: PluginVTable = PluginVTable {
    abi_version: ABI,
    manifest,
    ..guest::vtable::<Fixture>()
};

/// The entry point: `upstart_abi::ENTRY_SYMBOL`.
#[no_mangle]
pub extern "C" fn upstart_plugin_entry() -> *const PluginVTable {
    &VTABLE
}

extern "C" fn manifest() -> Slice {
    static JSON: OnceLock<String> = OnceLock::new();
    let json = JSON.get_or_init(|| serde_json::to_string(&build_manifest()).unwrap_or_default());
    guest::slice(json.as_bytes())
}

fn method(name: &str, params: &[&str]) -> MethodSig {
    MethodSig {
        name: name.into(),
        params: params.iter().map(|p| p.to_string()).collect(),
    }
}

fn calc(first: MethodSig) -> Vec<ServiceSig> {
    let methods = vec![first, method("echo", &["s"]), method("boom", &[])];
    vec![ServiceSig {
        name: "Calc".into(),
        methods,
    }]
}

fn build_manifest() -> Manifest {
    let (old, new, past, future) = match FROM {
        1 => (
            calc(method("double", &["n"])),
            calc(method("add", &["a", "b"])),
            vec!["Calc.double".to_string(), "Calc.boom".to_string()],
            vec!["Calc.add".to_string()],
        ),
        2 => (
            calc(method("add", &["a", "b"])),
            calc(method("sum", &["xs"])),
            vec!["Calc.add".to_string()],
            vec!["Calc.sum".to_string()],
        ),
        _ => (Vec::new(), Vec::new(), Vec::new(), Vec::new()),
    };
    // Rules that make at most one delegate call (all but `sum`'s future rule, which is
    // declared as making several so that a chain through it is not pipelined).
    let (past_one_call, future_one_call) = match FROM {
        1 => (vec!["Calc.double".to_string()], vec!["Calc.add".to_string()]),
        2 => (vec!["Calc.add".to_string()], Vec::new()),
        _ => (Vec::new(), Vec::new()),
    };
    Manifest {
        abi_version: ABI,
        name: "fixture".into(),
        from: FROM,
        to: TO,
        spec_hash: SPEC_HASH.into(),
        framing: "lines".into(),
        old,
        new,
        past,
        future,
        disallowed: Vec::new(),
        schedule: vec![("rolling.batch".into(), "1".into())],
        reverse_transform: FROM == 1,
        past_one_call,
        future_one_call,
        old_state: None,
        new_state: None,
    }
}

fn decode(data: &[u8], what: &str) -> Result<Value, RuleError> {
    serde_json::from_slice(data)
        .map_err(|e| RuleError::BadInput(format!("the {what} does not decode: {e}")))
}

fn int(v: Option<&Value>, name: &str) -> Result<i64, RuleError> {
    v.and_then(Value::as_i64)
        .ok_or_else(|| RuleError::BadInput(format!("argument `{name}` is not an integer")))
}

fn encode(v: &Value) -> Result<Vec<u8>, RuleError> {
    serde_json::to_vec(v).map_err(|e| RuleError::Internal(e.to_string()))
}

/// The rules of the variant.
struct Fixture;

impl Plugin for Fixture {
    /// Not read: the table's manifest entry is [`manifest`], built from the build's variables.
    const MANIFEST: &'static str = "";
    const HAS_REVERSE: bool = FROM == 1;

    fn simulate(
        direction: u32,
        service: &str,
        method: &str,
        args: &[u8],
        host: Host,
    ) -> Result<Vec<u8>, RuleError> {
        let args = decode(args, "argument list")?;
        let args = args.as_array().cloned().unwrap_or_default();
        let past = direction == Direction::Past as u32;
        let future = direction == Direction::Future as u32;
        match (FROM, service, method) {
            (1, "Calc", "double") if past => {
                let n = int(args.first(), "n")?;
                host.call("add", &encode(&json!([n, n]))?)
            }
            (1, "Calc", "boom") if past => panic!("the boom rule always panics"),
            (1, "Calc", "add") if future => {
                let a = int(args.first(), "a")?;
                let b = int(args.get(1), "b")?;
                if a == b {
                    host.call("double", &encode(&json!([a]))?)
                } else {
                    Err(RuleError::Disallowed("add needs version 2".into()))
                }
            }
            (2, "Calc", "add") if past => {
                let a = int(args.first(), "a")?;
                let b = int(args.get(1), "b")?;
                host.call("sum", &encode(&json!([[a, b]]))?)
            }
            (2, "Calc", "sum") if future => {
                let xs = args
                    .first()
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                match xs.as_slice() {
                    [a, b] => {
                        let (a, b) = (int(Some(a), "xs[0]")?, int(Some(b), "xs[1]")?);
                        host.call("add", &encode(&json!([a, b]))?)
                    }
                    _ => Err(RuleError::Disallowed(
                        "a sum of other than two numbers needs version 3".into(),
                    )),
                }
            }
            _ => Err(RuleError::Internal(format!(
                "no {} rule for `{service}.{method}` in `fixture {FROM} -> {TO}`",
                if past { "past" } else { "future" }
            ))),
        }
    }

    fn transform(old_state: &[u8]) -> Result<Vec<u8>, RuleError> {
        let old = decode(old_state, "old state")?;
        let count = int(old.get("count"), "count")?;
        let new = match FROM {
            1 => json!({ "count": count, "doubled": count * 2 }),
            _ => old,
        };
        encode(&new)
    }

    fn check_invariant(old_state: &[u8], new_state: &[u8]) -> Result<Vec<u8>, RuleError> {
        let old = decode(old_state, "old state")?;
        let new = decode(new_state, "new state")?;
        let holds = match FROM {
            1 => {
                let count = int(old.get("count"), "count")?;
                new.get("count") == old.get("count")
                    && new.get("doubled").and_then(Value::as_i64) == Some(count * 2)
            }
            _ => new == old,
        };
        encode(&json!(holds))
    }

    fn reverse_transform(new_state: &[u8]) -> Result<Vec<u8>, RuleError> {
        let new = decode(new_state, "new state")?;
        let count = int(new.get("count"), "count")?;
        encode(&json!({ "count": count }))
    }
}
