//! Parsing is deterministic whatever runs beside it: the language server and the tests parse
//! on many threads at once, and a syntax error must name what was expected every time.
//! (pest's error detail is one process-wide switch; a parse that turned it off while another
//! was re-parsing for detail made that one's message lose its "expected ..." label.)
#![allow(clippy::unwrap_used, reason = "tests")]

use lang::span::FileId;

const BAD: &[&str] = &[
    "up=grade kv 1 -> 2\nversion 1 { service S { fn f(x: u64) -> u64 } }",
    "upgrade kv 1 -> 2\nversion 1 { service S { fn f(x: u64) -> } }\npast S { f(x) = call f(x + ) }",
    "upgrade kv 1 -> 2\ntransform (old) -> new { a: [1, 2,, 3] }\nschedule { rolling { batch: } }",
];

#[test]
fn syntax_errors_are_the_same_on_every_thread() {
    let expected: Vec<_> = BAD
        .iter()
        .map(|t| lang::parse(FileId(0), t).diagnostics)
        .collect();
    for d in &expected {
        assert!(!d.is_empty());
    }
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let expected = expected.clone();
            std::thread::spawn(move || {
                for round in 0..300 {
                    for (text, want) in BAD.iter().zip(&expected) {
                        let got = lang::parse(FileId(0), text).diagnostics;
                        assert_eq!(&got, want, "round {round}: {text}");
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}
