//! Chains of real plugins (the fixture built as `fixture 1 -> 2` and `fixture 2 -> 3`): callers
//! two versions away reach the node through composed past or future rules, methods without a
//! rule pass through, and versions outside the chain are refused.
#![allow(clippy::expect_used, reason = "tests")]

mod support;

use support::Node;
use upstart_plugin_host::{CallError, Chain, ChainError, Expect, NodeHost, Plugin};
use upstart_test_support::fixture;

fn chain() -> Chain {
    let a = Plugin::load(fixture::plugin_1_2(), &Expect::default()).expect("1 -> 2 loads");
    let b = Plugin::load(fixture::plugin_2_3(), &Expect::default()).expect("2 -> 3 loads");
    // Given out of order on purpose: the chain sorts.
    Chain::new(vec![b, a]).expect("1 -> 2 -> 3 is a chain")
}

#[test]
fn the_chain_is_sorted_and_named() {
    let chain = chain();
    assert_eq!(chain.name(), "fixture");
    assert_eq!(chain.versions(), [1, 2, 3]);
    let froms: Vec<u64> = chain.plugins().iter().map(|p| p.manifest().from).collect();
    assert_eq!(froms, [1, 2]);
}

/// A call of `method(args)` through the chain, from a caller of version `from` to a new node
/// of version `to`, answers `answer`; the node got `calls`, byte for byte.
fn reaches(from: u64, to: u64, method: &str, args: &str, answer: &str, calls: &[&str]) {
    let mut node = Node::new(to);
    let out = chain().call(from, to, "Calc", method, args.as_bytes(), &mut node);
    assert_eq!(out, Ok(answer.as_bytes().to_vec()));
    assert_eq!(node.calls, calls);
}

upstart_test_support::test_cases! { reaches;
    an_old_caller_reaches_a_new_node_through_two_past_rules: (1, 3, "double", "[5]", "10", &["sum [[5,5]]"]),
    one_version_apart_uses_one_step_past: (2, 3, "add", "[2, 3]", "5", &["sum [[2,3]]"]),
    one_version_apart_uses_one_step: (1, 2, "double", "[7]", "14", &["add [7,7]"]),
    unchanged_methods_pass_through: (1, 3, "echo", r#"["hi"]"#, r#""v3 says hi""#, &[r#"echo ["hi"]"#]),
    unchanged_methods_pass_through_to_an_old_node: (3, 1, "echo", r#"["yo"]"#, r#""v1 says yo""#, &[r#"echo ["yo"]"#]),
    a_new_caller_reaches_an_old_node_through_two_future_rules: (3, 1, "sum", "[[4, 4]]", "8", &["double [4]"]),
    the_same_version_goes_straight_to_the_node: (2, 2, "add", "[1, 1]", "2", &["add [1, 1]"]),
}

#[test]
fn disallowed_anywhere_in_the_chain_reaches_the_caller() {
    let chain = chain();
    let mut node = Node::new(1);
    let out = chain.call(3, 1, "Calc", "sum", b"[[1, 2]]", &mut node);
    assert_eq!(
        out,
        Err(CallError::Disallowed("add needs version 2".into()))
    );
    let out = chain.call(3, 1, "Calc", "sum", b"[[1, 2, 3]]", &mut node);
    assert_eq!(
        out,
        Err(CallError::Disallowed(
            "a sum of other than two numbers needs version 3".into()
        ))
    );
    assert!(node.calls.is_empty());
}

#[test]
fn versions_outside_the_chain_are_refused() {
    let chain = chain();
    let mut node = Node::new(3);
    for (caller, at) in [(4, 3), (0, 3), (3, 7)] {
        let unknown = if caller == 0 { 0 } else { caller.max(at) };
        let out = chain.call(caller, at, "Calc", "echo", br#"["x"]"#, &mut node);
        assert_eq!(
            out,
            Err(CallError::Internal(format!(
                "no plugin bridges version {unknown}: the chain of `fixture` knows versions 1, 2, 3"
            )))
        );
    }
    assert!(node.calls.is_empty());
}

#[test]
fn a_panicking_node_does_not_crash_the_process() {
    let chain = chain();
    let mut node = |_: &str, _: &[u8]| -> Result<Vec<u8>, CallError> { panic!("v3 fell over") };
    let out = chain.call(1, 3, "Calc", "double", b"[5]", &mut node);
    assert_eq!(
        out,
        Err(CallError::Internal(
            "the node host panicked in a delegate call: v3 fell over".into()
        ))
    );
    assert_eq!(
        chain.call(1, 3, "Calc", "double", b"[5]", &mut Node::new(3)),
        Ok(b"10".to_vec())
    );
}

#[test]
fn a_plugin_twice_is_no_chain() {
    let a = Plugin::load(fixture::plugin_1_2(), &Expect::default()).unwrap();
    let b = Plugin::load(fixture::plugin_1_2(), &Expect::default()).unwrap();
    let e = Chain::new(vec![a, b]).unwrap_err();
    assert!(
        matches!(
            e,
            ChainError::Overlap {
                first_versions: (1, 2),
                second_versions: (1, 2),
                ..
            }
        ),
        "{e:?}"
    );
}

/// A node that records whether each delegate call came marked as its request's last.
struct Marks {
    node: Node,
    last: Vec<bool>,
}

impl NodeHost for Marks {
    fn call(&mut self, method: &str, args: &[u8]) -> Result<Vec<u8>, CallError> {
        self.node.call(method, args)
    }

    fn call_last(&mut self, method: &str, args: &[u8], last: bool) -> Result<Vec<u8>, CallError> {
        self.last.push(last);
        self.node.call(method, args)
    }
}

/// A call of `method(args)` through `chain` from a caller of version `from` to a new node of
/// version `to`: the answer, and whether each delegate call came marked as the request's last.
fn marks(
    chain: &Chain,
    (from, to): (u64, u64),
    method: &str,
    args: &str,
) -> (Result<String, CallError>, Vec<bool>) {
    let mut marks = Marks {
        node: Node::new(to),
        last: Vec::new(),
    };
    let out = chain.call(from, to, "Calc", method, args.as_bytes(), &mut marks);
    let answer = out.map(|bytes| String::from_utf8(bytes).expect("utf-8"));
    (answer, marks.last)
}

#[test]
fn a_call_is_marked_last_only_when_every_rule_running_makes_one_call() {
    let chain = chain();
    let one_call = |answer: &str| (Ok(answer.to_owned()), vec![true]);
    // Past `double` (1 -> 2) and past `add` (2 -> 3): one call each.
    assert_eq!(marks(&chain, (1, 3), "double", "[5]"), one_call("10"));
    // Passed through unchanged, and the node's own version: one call.
    let hi = r#"["hi"]"#;
    assert_eq!(
        marks(&chain, (1, 3), "echo", hi),
        one_call(r#""v3 says hi""#)
    );
    assert_eq!(
        marks(&chain, (3, 3), "echo", hi),
        one_call(r#""v3 says hi""#)
    );
    // Future `sum` (3 -> 2) is not declared one-call: neither is the call beneath it.
    let not_last = (Ok("8".to_owned()), vec![false]);
    assert_eq!(marks(&chain, (3, 1), "sum", "[[4, 4]]"), not_last);
    assert_eq!(marks(&chain, (3, 2), "sum", "[[4, 4]]"), not_last);
}
