//! Loading a real plugin (the fixture cdylib, built as generated plugins are) and calling it:
//! simulation rules with delegate calls answered by a host, disallowed calls, panics on both
//! sides of the boundary, the transform and invariant, and every refusal of the loader.
#![allow(clippy::expect_used, clippy::panic, reason = "tests")]

mod support;

use std::path::Path;
use std::sync::Arc;
use support::Node;
use upstart_plugin_host::{mismatch, CallError, Direction, Expect, LoadError, Plugin};
use upstart_test_support::fixture;

fn expect_1_2() -> Expect {
    Expect {
        name: Some("fixture".into()),
        from: Some(1),
        to: Some(2),
        spec_hash: Some(fixture::hash_1_2()),
    }
}

fn load() -> Plugin {
    Plugin::load(fixture::plugin_1_2(), &expect_1_2()).expect("the fixture loads")
}

#[test]
fn manifest_is_read() {
    let plugin = load();
    let m = plugin.manifest();
    assert_eq!((m.name.as_str(), m.from, m.to), ("fixture", 1, 2));
    assert_eq!(m.spec_hash, fixture::hash_1_2());
    assert_eq!(m.past, ["Calc.double", "Calc.boom"]);
    assert_eq!(m.future, ["Calc.add"]);
    assert_eq!(plugin.path(), fixture::plugin_1_2());
}

/// `plugin`'s rule for `method` (`direction`) run on `args` against a new node (of version 2
/// for a past rule, 1 for a future one): the answer, and the calls the node got.
fn simulate(
    plugin: &Plugin,
    direction: Direction,
    method: &str,
    args: &[u8],
) -> (Result<Vec<u8>, CallError>, Vec<String>) {
    let mut node = Node::new(match direction {
        Direction::Past => 2,
        Direction::Future => 1,
    });
    let out = plugin.simulate(direction, "Calc", method, args, &mut node);
    (out, node.calls)
}

/// The fixture's rule for `method` (`direction`) run on `args` against a new node answers
/// `answer`; the node got `calls`, byte for byte.
fn answers(
    direction: Direction,
    method: &str,
    args: &[u8],
    answer: Result<&[u8], CallError>,
    calls: &[&str],
) {
    let (out, got) = simulate(&load(), direction, method, args);
    assert_eq!(out, answer.map(<[u8]>::to_vec));
    assert_eq!(got, calls);
}

fn disallowed(reason: &str) -> Result<&'static [u8], CallError> {
    Err(CallError::Disallowed(reason.into()))
}

fn internal(message: &str) -> Result<&'static [u8], CallError> {
    Err(CallError::Internal(message.into()))
}

upstart_test_support::test_cases! { answers;
    past_rule_calls_the_host: (Direction::Past, "double", b"[21]", Ok(b"42"), &["add [21,21]"]),
    future_rule_disallows_with_its_reason:
        (Direction::Future, "add", b"[1, 2]", disallowed("add needs version 2"), &[]),
    future_rule_calls_the_old_node_when_it_can:
        (Direction::Future, "add", b"[3, 3]", Ok(b"6"), &["double [3]"]),
    bad_arguments_are_bad_input: (
        Direction::Past,
        "double",
        b"[\"x\"]",
        Err(CallError::BadInput("argument `n` is not an integer".into())),
        &[],
    ),
    a_method_without_rule_is_internal: (
        Direction::Future,
        "double",
        b"[1]",
        internal("no future rule for `Calc.double` in `fixture 1 -> 2`"),
        &[],
    ),
}

/// After a panic on either side, `plugin` still serves: its past `double` answers.
fn goes_on(plugin: &Plugin) {
    let (out, _) = simulate(plugin, Direction::Past, "double", b"[4]");
    assert_eq!(out, Ok(b"8".to_vec()));
}

#[test]
fn closures_answer_delegate_calls() {
    let plugin = load();
    let mut host = |method: &str, _: &[u8]| Ok(format!("\"{method} answered\"").into_bytes());
    let out = plugin.simulate(Direction::Past, "Calc", "double", b"[1]", &mut host);
    assert_eq!(out, Ok(b"\"add answered\"".to_vec()));
}

#[test]
fn panicking_rule_is_internal_and_the_plugin_goes_on() {
    let plugin = load();
    let (out, _) = simulate(&plugin, Direction::Past, "boom", b"[]");
    assert_eq!(
        out,
        internal("plugin panicked: the boom rule always panics").map(<[u8]>::to_vec)
    );
    goes_on(&plugin);
}

#[test]
fn panicking_host_does_not_crash_the_process() {
    let plugin = load();
    let mut host =
        |_: &str, _: &[u8]| -> Result<Vec<u8>, CallError> { panic!("the node fell over") };
    let out = plugin.simulate(Direction::Past, "Calc", "double", b"[1]", &mut host);
    assert_eq!(
        out,
        internal("the node host panicked in a delegate call: the node fell over")
            .map(<[u8]>::to_vec)
    );
    goes_on(&plugin);
}

#[test]
fn host_errors_come_back_as_they_were() {
    let plugin = load();
    let mut host = |_: &str, _: &[u8]| Err(CallError::Disallowed("the node is draining".into()));
    let out = plugin.simulate(Direction::Past, "Calc", "double", b"[1]", &mut host);
    assert_eq!(
        out,
        Err(CallError::Disallowed("the node is draining".into()))
    );
}

#[test]
fn an_argument_list_that_does_not_decode_is_bad_input() {
    let (out, _) = simulate(&load(), Direction::Past, "double", b"[1");
    assert!(
        matches!(out, Err(CallError::BadInput(ref m)) if m.starts_with("the argument list does not decode")),
        "{out:?}"
    );
}

#[test]
fn transform_and_invariant() {
    let plugin = load();
    let new = plugin
        .transform(br#"{"count": 3}"#)
        .expect("the transform runs");
    let value: serde_json::Value = serde_json::from_slice(&new).unwrap();
    assert_eq!(value, serde_json::json!({ "count": 3, "doubled": 6 }));
    assert_eq!(plugin.check_invariant(br#"{"count": 3}"#, &new), Ok(true));
    assert_eq!(
        plugin.check_invariant(br#"{"count": 3}"#, br#"{"count": 3, "doubled": 5}"#),
        Ok(false)
    );
    assert_eq!(
        plugin.transform(br#"{"total": 3}"#),
        Err(CallError::BadInput(
            "argument `count` is not an integer".into()
        ))
    );
    assert!(matches!(
        plugin.check_invariant(b"", b"{}"),
        Err(CallError::BadInput(_))
    ));
}

#[test]
fn reverse_transform_carries_the_new_state_back() {
    let plugin = load();
    assert!(plugin.has_reverse());
    assert!(plugin.manifest().reverse_transform);
    let old = plugin
        .reverse_transform(br#"{"count": 7, "doubled": 14}"#)
        .expect("the reverse transform runs");
    let value: serde_json::Value = serde_json::from_slice(&old).unwrap();
    assert_eq!(value, serde_json::json!({ "count": 7 }));
    assert_eq!(
        plugin.reverse_transform(br#"{"doubled": 14}"#),
        Err(CallError::BadInput(
            "argument `count` is not an integer".into()
        ))
    );
}

#[test]
fn a_plugin_without_reverse_transform_says_so() {
    let expect = Expect {
        name: Some("fixture".into()),
        from: Some(2),
        to: Some(3),
        spec_hash: Some(fixture::hash_2_3()),
    };
    let plugin = Plugin::load(fixture::plugin_2_3(), &expect).expect("loads");
    assert!(!plugin.has_reverse());
    assert!(!plugin.manifest().reverse_transform);
    let err = plugin
        .reverse_transform(br#"{"count": 1}"#)
        .expect_err("no reverse transform");
    assert!(
        matches!(&err, CallError::Disallowed(m) if m.contains("declares no reverse transform")),
        "{err}"
    );
}

#[test]
fn plugins_are_shared_between_threads() {
    let plugin = Arc::new(load());
    let threads: Vec<_> = (0..4i64)
        .map(|i| {
            let plugin = Arc::clone(&plugin);
            std::thread::spawn(move || {
                for n in 0..50 {
                    let args = format!("[{}]", i * 100 + n);
                    let out = plugin.simulate(
                        Direction::Past,
                        "Calc",
                        "double",
                        args.as_bytes(),
                        &mut Node::new(2),
                    );
                    assert_eq!(out, Ok((2 * (i * 100 + n)).to_string().into_bytes()));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("no thread panicked");
    }
}

#[test]
fn wrong_abi_is_refused_clearly() {
    let path = fixture::plugin_abi_99();
    let e = Plugin::load(path, &Expect::default()).unwrap_err();
    assert_eq!(
        e,
        LoadError::AbiMismatch {
            path: path.to_path_buf(),
            found: 99,
            expected: upstart_abi::ABI_VERSION
        }
    );
    assert_eq!(
        e.to_string(),
        format!(
            "plugin `{}` was built for ABI version 99, this runtime speaks version {}: rebuild it \
             with `upstartc compile` from the same release as this runtime",
            path.display(),
            upstart_abi::ABI_VERSION
        )
    );
}

/// Loads the 1 -> 2 fixture expecting `expect`: the loader refuses it for the mismatch
/// `(what, found, expected)`, in words that say each of `says`.
fn assert_refused(expect: Expect, mismatch: (&str, &str, &str), says: &[&str]) {
    match Plugin::load(fixture::plugin_1_2(), &expect) {
        Err(e @ LoadError::Mismatch { .. }) => {
            let text = e.to_string();
            let LoadError::Mismatch {
                what,
                found,
                expected,
                ..
            } = e
            else {
                unreachable!()
            };
            assert_eq!((what, found.as_str(), expected.as_str()), mismatch);
            for words in says {
                assert!(text.contains(words), "{text}");
            }
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
}

#[test]
fn wrong_spec_hash_is_refused() {
    let (built, expected) = (fixture::hash_1_2(), fixture::hash_2_3());
    assert_refused(
        Expect {
            spec_hash: Some(expected.clone()),
            ..expect_1_2()
        },
        (mismatch::SPEC_HASH, &built, &expected),
        &[
            "the spec changed since the plugin was built",
            "upstartc compile",
        ],
    );
}

#[test]
fn wrong_versions_are_refused() {
    let from = Expect {
        from: Some(2),
        ..expect_1_2()
    };
    assert_refused(from, (mismatch::FROM, "1", "2"), &[]);
    let to = Expect {
        to: Some(3),
        ..expect_1_2()
    };
    let says = "has target version `2`, expected `3`";
    assert_refused(to, (mismatch::TO, "2", "3"), &[says]);
}

#[test]
fn wrong_name_is_refused() {
    let name = Expect {
        name: Some("kv".into()),
        ..expect_1_2()
    };
    let says = "has upgrade name `fixture`, expected `kv`";
    assert_refused(name, (mismatch::NAME, "fixture", "kv"), &[says]);
}

#[test]
fn a_file_that_is_no_library_is_refused() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join("not-a-plugin.so");
    std::fs::write(&path, b"this is not a shared object").unwrap();
    let e = Plugin::load(&path, &Expect::default()).unwrap_err();
    assert!(matches!(e, LoadError::Open { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("cannot load plugin `{}`: ", path.display())),
        "{text}"
    );
}

/// A shared library that is certainly no plugin: the C library this process runs with.
#[cfg(target_os = "linux")]
fn libc_path() -> Option<std::path::PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .find(|file| file.contains("/libc.so") || file.contains("/libc-"))
        .map(Into::into)
}

#[cfg(target_os = "linux")]
#[test]
fn a_library_without_the_entry_point_is_refused() {
    let Some(path) = libc_path() else {
        eprintln!("no shared C library found in /proc/self/maps: skipped");
        return;
    };
    let e = Plugin::load(&path, &Expect::default()).unwrap_err();
    assert_eq!(e, LoadError::MissingEntry { path: path.clone() });
    let text = e.to_string();
    assert!(
        text.contains("does not export `upstart_plugin_entry`"),
        "{text}"
    );
}
