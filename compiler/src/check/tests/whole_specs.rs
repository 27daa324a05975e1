//! Whole specs: the examples, many syntax errors at once, a large clean spec.

use super::listing;
use crate::check::check_text;

#[test]
fn example_specs_check_with_only_expected_warnings() {
    let a = upstart_test_support::spec("kv/kv-1-2.ups");
    let b = upstart_test_support::spec("kv/kv-2-3.ups");
    let got = listing(&[&a, &b]);
    // U0072: kv 2 -> 3's reverse transform drops the revisions, which version 2 cannot keep.
    assert!(
        !got.is_empty()
            && got.lines().all(|l| {
                l.starts_with("U0041")
                    || l.starts_with("U0070")
                    || l.starts_with("U0072 144:1 the reverse transform never reads `revision`")
            }),
        "{got}"
    );
}

#[test]
fn several_syntax_errors_are_reported_at_once() {
    let got = listing(&["upgrade t 1 -> 2\nversion 1 { record A { x: } }\nversion 2 { }\npast S { f( = 1 }\nschedule { }\n"]);
    let codes: Vec<&str> = got
        .lines()
        .map(|l| l.split(' ').next().unwrap_or(""))
        .collect();
    assert_eq!(codes, ["U0001", "U0001"], "{got}");
}

#[test]
fn large_spec_is_long_and_clean() {
    let text = lang::synth::large_spec(2_000);
    assert!(text.lines().count() >= 2_000);
    let out = check_text(text);
    let messages: Vec<&str> = out.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert!(out.diagnostics.is_empty(), "{messages:?}");
}
