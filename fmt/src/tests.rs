//! Formatter tests: layouts, comments, parentheses, idempotence.

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
fn canonical_layout_of_declarations() {
    assert_fmt(
        "upgrade kv 1->2\nprotocol jsonrpc{framing:lines}\nversion 1 { record E { key: string, value: string } service Kv { fn get(key: string) -> option<string>; fn put(key: string, value: string) } state { entries: map<string,string> } }",
        "upgrade kv 1 -> 2

protocol jsonrpc { framing: lines }

version 1 {
  record E {
    key: string,
    value: string,
  }
  service Kv {
    fn get(key: string) -> option<string>
    fn put(key: string, value: string)
  }
  state {
    entries: map<string, string>,
  }
}
",
    );
}

#[test]
fn rules_clauses_and_schedule() {
    assert_fmt(
        "upgrade kv 1 -> 2\ninvariant (old,new) { keys(old.a)==keys(new.b) ; forall k in keys(old.a): old.a[k]==new.b[k].value }\ntransform (old) -> new { items: map_values(old.entries, |v| Item { value: v, expires_at: none }) }\npast Kv { get(key) = (call get(key)).map(|i| i.value) put(key, value) = call put(key, value, none) }\nschedule { rolling { batch: 1, max_unavailable: 1 } order: node_id healthy_for: 5s canary: 1 then pause window: \"02:00\" .. \"04:00\" }",
        "upgrade kv 1 -> 2

invariant (old, new) {
  keys(old.a) == keys(new.b)
  forall k in keys(old.a): old.a[k] == new.b[k].value
}

transform (old) -> new {
  items: map_values(old.entries, |v| Item { value: v, expires_at: none }),
}

past Kv {
  get(key) = (call get(key)).map(|i| i.value)
  put(key, value) = call put(key, value, none)
}

schedule {
  rolling { batch: 1, max_unavailable: 1 }
  order: node_id
  healthy_for: 5s
  canary: 1 then pause
  window: \"02:00\" .. \"04:00\"
}
",
    );
}

#[test]
fn comments_keep_their_places() {
    let input = "// file comment
upgrade kv 1 -> 2   // header

// before version
version 1 {   // after brace
  record Item {
    a: u64,      // trailing a
    // before b
    b: string,
    /* block */ c: bool,
  }
  // dangling in version
}
past Kv { // after past brace
  get(key) = call get(key) // trailing rule
  // last
}
// end of file
";
    let want = "// file comment
upgrade kv 1 -> 2 // header

// before version
version 1 { // after brace
  record Item {
    a: u64, // trailing a
    // before b
    b: string,
    /* block */ c: bool,
  }
  // dangling in version
}

past Kv { // after past brace
  get(key) = call get(key) // trailing rule
  // last
}
// end of file
";
    assert_fmt(input, want);
}

#[test]
fn blank_lines_between_elements_are_kept_once() {
    assert_fmt(
        "upgrade kv 1 -> 2\npast Kv {\n  a() = 1\n\n\n  b() = 2\n  c() = 3\n}\n",
        "upgrade kv 1 -> 2\n\npast Kv {\n  a() = 1\n\n  b() = 2\n  c() = 3\n}\n",
    );
}

#[test]
fn parentheses_follow_precedence_and_the_source() {
    assert_fmt(
        "upgrade kv 1 -> 2\ninvariant (old, new) { (a + b) * c;  a - (b - c);  (a && b) || c;  !(a == b);  -(x).y; -x.y; (forall k in a: k) && b; a && forall k in a: k; (call f()).g(); (a.b).c }",
        "upgrade kv 1 -> 2\n\ninvariant (old, new) {\n  (a + b) * c\n  a - (b - c);\n  (a && b) || c\n  !(a == b);\n  -(x).y;\n  -x.y;\n  (forall k in a: k) && b\n  a && forall k in a: k;\n  (call f()).g();\n  (a.b).c\n}\n",
    );
}

#[test]
fn long_expressions_break_sensibly() {
    let input = "upgrade kv 1 -> 2\ntransform (old) -> new {\n  orders: map_values(old.orders, |o| v2::Order { id: o.id, customer_id: o.customer_id, items: o.items, total: Money { amount_cents: o.total_cents, currency: \"USD\" } }),\n}\n";
    let want = "upgrade kv 1 -> 2

transform (old) -> new {
  orders: map_values(old.orders, |o| v2::Order {
    id: o.id,
    customer_id: o.customer_id,
    items: o.items,
    total: Money { amount_cents: o.total_cents, currency: \"USD\" },
  }),
}
";
    assert_fmt(input, want);
}

#[test]
fn blocks_if_and_match() {
    let input = "upgrade kv 1 -> 2\nfuture Kv {\n  put(key, value, ttl_ms) = if ttl_ms == none { call put(key, value) } else { disallow \"ttl needs version 2\" }\n  get(id) = { let o = call get(id); match o { some(x) => x, none => -1 } }\n}\n";
    let want = "upgrade kv 1 -> 2

future Kv {
  put(key, value, ttl_ms) = if ttl_ms == none {
    call put(key, value)
  } else {
    disallow \"ttl needs version 2\"
  }
  get(id) = {
    let o = call get(id);
    match o { some(x) => x, none => -1 }
  }
}
";
    assert_fmt(input, want);
}

#[test]
fn literals_keep_their_spelling() {
    assert_fmt(
        "upgrade kv 1 -> 2\ninvariant (old, new) { 1_000 == 1000  \"a\\tb\" == \"a\tb\"  1.50 > 0.5  match x { -1 => true, _ => false } }",
        "upgrade kv 1 -> 2\n\ninvariant (old, new) {\n  1_000 == 1000\n  \"a\\tb\" == \"a\tb\"\n  1.50 > 0.5\n  match x { -1 => true, _ => false }\n}\n",
    );
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

#[test]
fn one_element_tuples_keep_their_comma() {
    assert_fmt(
        "upgrade kv 1 -> 2\ninvariant (old, new) { (a,) == (a, b) }",
        "upgrade kv 1 -> 2\n\ninvariant (old, new) {\n  (a,) == (a, b)\n}\n",
    );
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
fn a_reverse_transform_keeps_its_direction() {
    let input = "upgrade kv 1 -> 2\ntransform (old) -> new { items: old.entries }\ntransform (new)->old{entries:map_values(new.items,|i| i.value)}\n";
    let want = "upgrade kv 1 -> 2

transform (old) -> new {
  items: old.entries,
}

transform (new) -> old {
  entries: map_values(new.items, |i| i.value),
}
";
    assert_fmt(input, want);
}

#[test]
fn rule_attributes_are_kept_before_the_rule() {
    assert_fmt(
        "upgrade kv 1 -> 2\nfuture Kv { #[ allow( disallowed_method ,unused_rule_parameter, ) ]\n delete(key) = disallow \"no\" }",
        "upgrade kv 1 -> 2

future Kv {
  #[allow(disallowed_method, unused_rule_parameter)] delete(key) = disallow \"no\"
}
",
    );
}

#[test]
fn method_models_one_statement_per_line() {
    assert_fmt(
        "upgrade kv 1 -> 2\nversion 1 { service Kv { fn get(key: string) -> option<string> =get(state.entries,key)\n fn del(key: string) -> bool { let had = contains_key(state.entries, key) ; state.entries = remove(state.entries, key) had }\n fn put(key: string, value: string) { // first\n state.entries = insert(state.entries, key, value); }\n fn noop() -> unit {} fn neg() -> i64 { let x = 1; -x } } state { entries: map<string, string> } }",
        "upgrade kv 1 -> 2\n\nversion 1 {\n  service Kv {\n    fn get(key: string) -> option<string> = get(state.entries, key)\n    fn del(key: string) -> bool {\n      let had = contains_key(state.entries, key);\n      state.entries = remove(state.entries, key);\n      had\n    }\n    fn put(key: string, value: string) { // first\n      state.entries = insert(state.entries, key, value)\n    }\n    fn noop() -> unit {}\n    fn neg() -> i64 {\n      let x = 1;\n      -x\n    }\n  }\n  state {\n    entries: map<string, string>,\n  }\n}\n",
    );
}

#[test]
fn keyword_names_keep_their_escape() {
    assert_fmt(
        "upgrade kv 1 -> 2\nversion 1 { record R { r#match: u64 } service S { fn r#exists(r#in: string) -> bool } }\nfuture S { r#exists(r#in) = call r#exists(r#in) }",
        "upgrade kv 1 -> 2

version 1 {
  record R {
    r#match: u64,
  }
  service S {
    fn r#exists(r#in: string) -> bool
  }
}

future S {
  r#exists(r#in) = call r#exists(r#in)
}
",
    );
}

#[test]
fn map_literals() {
    assert_fmt(
        "upgrade kv 1 -> 2\ntransform (old) -> new { a: {}, b: {\"k\" : 1 , \"j\":2,}, c: { {1: { 2 }} } }",
        "upgrade kv 1 -> 2

transform (old) -> new {
  a: {},
  b: {\"k\": 1, \"j\": 2},
  c: { {1: { 2 }} },
}
",
    );
}

#[test]
fn helper_functions() {
    assert_fmt(
        "upgrade kv 1 -> 2\nfn   double( x :u64 )->u64=x*2;\nfn pair(a: string, b: map<string,u64>) -> (string, u64) = (a, b[a])",
        "upgrade kv 1 -> 2

fn double(x: u64) -> u64 = x * 2

fn pair(a: string, b: map<string, u64>) -> (string, u64) = (a, b[a])
",
    );
}

#[test]
fn changed_marks() {
    assert_fmt(
        "upgrade kv 1 -> 2\nversion 2 { record R { changed   unit: string, changed: bool } service S { changed  fn f() -> u64 } state { changed n: u64 } }",
        "upgrade kv 1 -> 2

version 2 {
  record R {
    changed unit: string,
    changed: bool,
  }
  service S {
    changed fn f() -> u64
  }
  state {
    changed n: u64,
  }
}
",
    );
}

#[test]
fn renamed_methods() {
    assert_fmt(
        "upgrade kv 1 -> 2\nversion 2 { service S { fn lookup(k: string)->u64   renamed   from   get fn ping() renamed from r#exists } }",
        "upgrade kv 1 -> 2

version 2 {
  service S {
    fn lookup(k: string) -> u64 renamed from get
    fn ping() renamed from r#exists
  }
}
",
    );
}

#[test]
fn renamed_fields() {
    assert_fmt(
        "upgrade kv 1 -> 2\nversion 2 { record R { changed text:string renamed from value } state { xs: list<u64>  renamed from items } }",
        "upgrade kv 1 -> 2

version 2 {
  record R {
    changed text: string renamed from value,
  }
  state {
    xs: list<u64> renamed from items,
  }
}
",
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

#[test]
fn state_where_clauses_and_differs_are_laid_out() {
    assert_fmt(
        "upgrade kv 1 -> 2\nversion 1 { state { entries: map<string, string> } where { forall k in keys(state.entries): state.entries[k] != \"\" // none empty\n len(state.entries) < 10 } }\nfuture Kv { #[ allow( x ) ] #[ differs( revision ,value, ) ]\n get(key) = none }",
        "upgrade kv 1 -> 2

version 1 {
  state {
    entries: map<string, string>,
  } where {
    forall k in keys(state.entries): state.entries[k] != \"\" // none empty
    len(state.entries) < 10
  }
}

future Kv {
  #[allow(x)] #[differs(revision, value)] get(key) = none
}
",
    );
}
