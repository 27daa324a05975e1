//! Formatter tests beyond the layout cases of `tests/layouts/` (input and expected output, one
//! runner): syntax errors refused, CRLF input, storage kinds kept, and a debugging aid.

use super::format;

#[track_caller]
fn fmt_ok(text: &str) -> String {
    match format(text) {
        Ok(out) => {
            let again = format(&out).unwrap_or_else(|e| panic!("second pass failed: {e}\n{out}"));
            assert_eq!(again, out, "not idempotent");
            out
        }
        Err(e) => panic!("format failed: {e:?}\n{text}"),
    }
}

#[track_caller]
fn assert_fmt(input: &str, want: &str) {
    let got = fmt_ok(input);
    assert_eq!(got, want, "\n--- got ---\n{got}\n--- want ---\n{want}");
}

#[test]
fn refuses_text_with_syntax_errors() {
    assert!(
        matches!(format("upgrade kv 1 -> 2\nversion 1 { record }"), Err(super::FormatError::Syntax(d)) if !d.is_empty())
    );
    assert!(matches!(
        format("not a spec"),
        Err(super::FormatError::Syntax(_))
    ));
}

/// `UPSTART_FMT_DEBUG=path cargo test -p upstart-fmt --lib tests::debug -- --nocapture`
/// prints the unchecked output for a file and the first difference of its tree.
#[test]
fn debug() {
    let Some(path) = std::env::var_os("UPSTART_FMT_DEBUG") else {
        return;
    };
    let text = std::fs::read_to_string(path).unwrap();
    let spec = lang::parse(lang::FileId(0), &text).spec.unwrap();
    let out = super::print_spec(&spec, &text).unwrap();
    println!("{out}");
    let again = lang::parse(lang::FileId(0), &out);
    println!("{:?}", again.diagnostics);
    if let Some(again) = again.spec {
        let a = format!("{:#?}", lang::spans::without_spans(&spec));
        let b = format!("{:#?}", lang::spans::without_spans(&again));
        for (n, (x, y)) in a.lines().zip(b.lines()).enumerate() {
            if x != y {
                println!("first difference at line {n}:\n{x}\n{y}");
                let lines: Vec<&str> = a.lines().collect();
                println!("{}", lines[n.saturating_sub(30)..n].join("\n"));
                break;
            }
        }
    }
}

#[test]
fn crlf_input_gives_lf_output() {
    let input = "upgrade kv 1 -> 2\r\n// c\r\nversion 1 {\r\n  state { a: u64 } // t\r\n}\r\n";
    assert_fmt(
        input,
        "upgrade kv 1 -> 2\n\n// c\nversion 1 {\n  state {\n    a: u64,\n  } // t\n}\n",
    );
}

#[test]
fn the_state_storage_kind_is_kept() {
    for kind in ["json", "dir", "sqlite"] {
        let out = fmt_ok(&format!(
            "upgrade t 1->2\nversion 1 {{ state  {kind}  {{ n: u64 }} }}\nversion 2 {{ state {kind}{{ n: u64 }} }}"
        ));
        assert_eq!(out.matches(&format!("state {kind} {{")).count(), 2, "{out}");
    }
}
