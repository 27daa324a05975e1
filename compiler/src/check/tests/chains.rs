//! Chains of upgrade specs: agreeing at the shared version.

use super::listing;

#[test]
fn chains_must_agree_at_the_joint() {
    let a = "upgrade kv 1 -> 2\nversion 1 { service S { fn f() -> u64 } }\nversion 2 { service S { fn f() -> u64 } }\nschedule { rolling { batch: 1, max_unavailable: 1 } }";
    let b = "upgrade kv 2 -> 3\nversion 2 { service S { fn f() -> i64 } }\nversion 3 { service S { fn f() -> i64 } }\nschedule { rolling { batch: 1, max_unavailable: 1 } }";
    let got = listing(&[a, b]);
    assert_eq!(got, "U0091 2:1 the two specs disagree on version 2");
    let c = "upgrade kv 3 -> 4\nversion 3 { service S { fn f() -> i64 } }\nversion 4 { service S { fn f() -> i64 } }\nschedule { rolling { batch: 1, max_unavailable: 1 } }";
    assert_eq!(
        listing(&[a, c]),
        "U0090 1:1 the chain has no spec from version 2 to version 3"
    );
}

#[test]
fn a_chain_agrees_on_the_models_of_the_version_it_shares() {
    let a = "upgrade t 1 -> 2\nversion 1 { service S { fn n() -> u64 } state { n: u64 } }\nversion 2 { service S { fn n() -> u64 = state.n } state { n: u64 } }\nschedule { rolling { batch: 1, max_unavailable: 1 } }\n";
    let same = "upgrade t 2 -> 3\nversion 2 { service S { fn n() -> u64 =\n  state.n } state { n: u64 } }\nversion 3 { service S { fn n() -> u64 } state { n: u64 } }\nschedule { rolling { batch: 1, max_unavailable: 1 } }\n";
    assert_eq!(listing(&[a, same]), "");
    let unmodelled = same.replace("=\n  state.n", "");
    assert_eq!(listing(&[a, &unmodelled]), "");
    let other = same.replace("state.n }", "state.n + 1 }");
    let got = listing(&[a, &other]);
    assert_eq!(got, "U0091 2:1 the two specs disagree on version 2");
}

#[test]
fn a_chain_may_copy_a_version_block_with_its_marks() {
    let a = "upgrade t 1 -> 2\nversion 1 { service S { fn f(x: u64) -> u64 } }\n\
             version 2 { service S { changed fn f(x: u64) -> u64 } }\n\
             past S { f(x) = call f(x * 2) }\nfuture S { f(x) = call f(x / 2) }\n\
             schedule { all_at_once { } }";
    let b = "upgrade t 2 -> 3\nversion 2 { service S { changed fn f(x: u64) -> u64 } }\n\
             version 3 { service S { fn f(x: u64) -> u64 } }\nschedule { all_at_once { } }";
    assert_eq!(listing(&[a, b]), "");
}
