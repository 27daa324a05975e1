//! Code generation, without snapshots: small specs whose generated text must hold the expected
//! items, and every example spec, whose generated code must parse as Rust.

use super::{format_tokens, generate, lib_tokens, CodegenError, GeneratedCrate};
use crate::check::check_sources;
use crate::model::SpecModel;
use crate::test_specs::spec;
use lang::span::SourceMap;
use std::path::Path;

/// Checks a spec that must have no errors, and returns its model.
fn model(text: &str) -> SpecModel {
    let mut sources = SourceMap::new();
    sources.add("t.ups", text.to_string());
    let mut out = check_sources(&sources);
    let errors: Vec<String> = out
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{} {}", d.code, d.message))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{text}");
    out.models.remove(0)
}

/// The body of rule `f(x) = SRC` in a one-method spec (`fn f(x: u64) -> u64` in both
/// versions), parsed but not checked: for the analyses of rule bodies (calls, moves).
pub(super) fn rule_body(src: &str) -> lang::ast::Expr {
    let text = format!(
        "upgrade t 1 -> 2\nversion 1 {{ service S {{ fn f(x: u64) -> u64 }} }}\n\
         version 2 {{ service S {{ fn f(x: u64) -> u64 }} }}\npast S {{ f(x) = {src} }}\n"
    );
    let parsed = lang::parse(lang::FileId(0), &text);
    let spec = parsed.spec.unwrap();
    let rule = spec
        .rule_blocks()
        .next()
        .unwrap()
        .rules
        .first()
        .unwrap()
        .clone();
    rule.body
}

fn gen(text: &str) -> GeneratedCrate {
    let m = model(text);
    match generate(&m, text, Path::new("/abi")) {
        Ok(g) => g,
        Err(e) => panic!(
            "{e}\n{}",
            if let CodegenError::Malformed { text, .. } = &e {
                text
            } else {
                ""
            }
        ),
    }
}

/// Code without whitespace and without the trailing commas the formatter adds where it breaks
/// lines, for matching fragments.
fn squash(code: &str) -> String {
    let s: String = code.split_whitespace().collect();
    s.replace(",)", ")")
        .replace(",}", "}")
        .replace(",]", "]")
        .replace(",>", ">")
}

fn has(g: &GeneratedCrate, fragment: &str) {
    assert!(
        squash(&g.lib_rs).contains(&squash(fragment)),
        "missing `{fragment}` in:\n{}",
        g.lib_rs
    );
}

const KV: &str = include_str!("../../../specs/kv/kv-1-2.ups");

#[test]
fn every_example_spec_generates_code_that_parses() {
    let mut n = 0;
    for path in upstart_test_support::example_specs() {
        let text = upstart_test_support::read(&path);
        let tokens =
            lib_tokens(&model(&text), &text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let source = format_tokens(tokens).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        syn::parse_file(&source)
            .unwrap_or_else(|e| panic!("{}: formatted code: {e}", path.display()));
        n += 1;
    }
    assert!(n >= 4, "only {n} example specs");
}

#[test]
fn kv_has_types_rules_delegates_state_and_entry() {
    let g = gen(KV);
    assert_eq!(g.package, "upstart-plugin-kv-1-2");
    assert_eq!(g.lib_name, "upstart_plugin_kv_1_2");
    for item in [
        "pub mod v1 {",
        "pub struct Entry { pub key: ::std::string::String, pub value: ::std::string::String, }",
        "pub mod v2 {",
        "pub expires_at: ::std::option::Option<u64>",
        "pub struct State { pub entries: ::std::collections::BTreeMap<",
        "#[derive(Clone, Debug, ::serde::Serialize, ::serde::Deserialize)]",
        // the delegate of `call get(key)` on version 2, and the past rule using it
        "rt::call(&__up_host, \"get\", &(&__up_a0,))",
        "rt::call_unit(&__up_host, \"put\", &(&__up_a0, &__up_a1, &__up_a2,))",
        "let (__up_a0, __up_a1, __up_a2,): (::std::string::String, ::std::string::String, ::std::option::Option<u64>,) = match rt::fast_args(__up_args) {",
        "pub fn get( __up_host: ::upstart_abi::guest::Host, key: ::std::string::String, ) -> rt::RuleResult<::std::option::Option<::std::string::String>>",
        "crate::calls::v2::Kv::get(__up_host, key)?",
        // read once: moved; read twice: cloned
        "::std::result::Result::Ok(i.value)",
        "key: e.0, value: e.1.value",
        "|i: crate::v2::Item| -> ::std::result::Result<_, rt::RuleError>",
        // disallow leaves the rule from anywhere
        "return ::std::result::Result::Err(rt::disallow(\"ttl needs version 2\"))",
        // dispatch by position, naming the method
        "(1, \"Kv\", \"put\") =>",
        "rt::args(__up_args, \"Kv.put\", &[\"key\", \"value\", \"ttl_ms\"])?",
        "pub fn transform(__up_old: &crate::v1::State) -> rt::RuleResult<crate::v2::State>",
        "pub fn check_invariant(",
        "for k in (&(rt::keys(&old.entries))).iter().cloned()",
        "(*rt::at_map(&new.items, &k)?).value",
        "pub static MANIFEST: &str =",
        "#[no_mangle]",
        "impl guest::Plugin for UpstartPlugin",
        "static VTABLE: PluginVTable = guest::vtable::<UpstartPlugin>();",
    ] {
        has(&g, item);
    }
    has(
        &g,
        &format!(
            "pub extern \"C\" fn {}() -> *const PluginVTable",
            upstart_abi::ENTRY_SYMBOL
        ),
    );
    assert!(
        !g.lib_rs.contains("unsafe {"),
        "generated code must not need unsafe"
    );
}

#[test]
fn cargo_toml_is_a_standalone_cdylib() {
    let g = gen(KV);
    for line in [
        "name = \"upstart-plugin-kv-1-2\"",
        "edition = \"2021\"",
        "crate-type = [\"cdylib\"]",
        "serde = { version = \"1\", features = [\"derive\"] }",
        "serde_json = \"1\"",
        "upstart-abi = { path = \"/abi\" }",
        "panic = \"unwind\"",
        "[workspace]",
    ] {
        assert!(
            g.cargo_toml.contains(line),
            "missing `{line}` in:\n{}",
            g.cargo_toml
        );
    }
}

#[test]
fn manifest_lists_methods_rules_disallows_and_schedule() {
    let m = gen(KV).manifest;
    assert_eq!(
        (m.name.as_str(), m.from, m.to, m.framing.as_str()),
        ("kv", 1, 2, "lines")
    );
    assert_eq!(m.spec_hash, super::spec_hash(KV));
    assert_eq!(m.spec_hash.len(), 64);
    assert_eq!(m.old.len(), 1);
    let put = m
        .new
        .first()
        .and_then(|s| s.methods.iter().find(|x| x.name == "put"))
        .unwrap();
    assert_eq!(put.params, ["key", "value", "ttl_ms"]);
    assert_eq!(m.past, ["Kv.get", "Kv.put", "Kv.replicate"]);
    assert_eq!(m.future, ["Kv.get", "Kv.put", "Kv.delete", "Kv.replicate"]);
    assert_eq!(m.disallowed.len(), 1);
    let d = m.disallowed.first().unwrap();
    assert_eq!(
        (d.direction.as_str(), d.method.as_str(), d.reason.as_str()),
        ("future", "Kv.delete", "delete needs version 2")
    );
    let schedule: Vec<(&str, &str)> = m
        .schedule
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        schedule,
        [
            ("rolling.batch", "1"),
            ("rolling.max_unavailable", "1"),
            ("order", "node_id"),
            ("healthy_for", "5s"),
            ("canary", "1 then pause")
        ]
    );
}

#[test]
fn unchanged_types_are_declared_once_and_reexported() {
    let text = spec(
        "record Line { sku: string, n: u64 }\nrecord Order { lines: list<Line>, total: u64 }\nservice S { fn get(id: string) -> Order }",
        "record Line { sku: string, n: u64 }\nrecord Order { lines: list<Line>, total: u64, currency: string }\nservice S { fn get(id: string) -> Order }",
        "past S { get(id) = { let o = call get(id); v1::Order { lines: o.lines, total: o.total } } }\n\
         future S { get(id) = { let o = call get(id); v2::Order { lines: o.lines, total: o.total, currency: \"USD\" } } }",
    );
    let g = gen(&text);
    has(&g, "pub use crate::v1::Line;");
    assert_eq!(
        g.lib_rs.matches("pub struct Line ").count(),
        1,
        "{}",
        g.lib_rs
    );
    assert_eq!(g.lib_rs.matches("pub struct Order ").count(), 2);
    has(&g, "crate::v1::Order { lines: o.lines, total: o.total }");
}

#[test]
fn unchanged_methods_pass_through_to_the_other_version() {
    let text = spec(
        "service S { fn f(x: u64) -> u64\nfn g(x: u64) -> u64 }",
        "service S { fn f(x: u64) -> u64\nfn g(x: u64, y: bool) -> u64 }",
        "past S { g(x) = call g(x, true) }\nfuture S { g(x, y) = if y { call g(x) } else { 0 } }",
    );
    let g = gen(&text);
    has(
        &g,
        "rt::encode(&crate::calls::v2::S::f(__up_host, __up_a0)?)",
    );
    has(
        &g,
        "rt::encode(&crate::calls::v1::S::f(__up_host, __up_a0)?)",
    );
    let m = g.manifest;
    assert_eq!(
        (m.past.as_slice(), m.future.as_slice()),
        (&["S.g".to_string()][..], &["S.g".to_string()][..])
    );
}

/// A table of code generation tests: each entry is a `#[test]` named `$name` that generates
/// the crate of the spec [`spec`] makes of two version bodies and the rest, which must hold
/// every fragment listed (white space aside).
macro_rules! generates {
    ($(
        $(#[$attr:meta])*
        $name:ident { $v1:expr, $v2:expr, $rest:expr => [$($fragment:expr,)+]; }
    )*) => {
        $(
            $(#[$attr])*
            #[test]
            fn $name() {
                let g = gen(&spec($v1, $v2, $rest));
                $(has(&g, $fragment);)+
            }
        )*
    };
}

generates! {
    integers_are_typed_and_checked {
        "service S { fn f(x: u64, y: i64) -> u64 }",
        "service S { fn f(x: u64) -> i64 }",
        "past S { f(x, y) = u64(call f(x + 1) * -2 - y) }\nfuture S { f(x) = i64(call f(x / 3, 7 % 2)) }"
            => [
                "rt::add_u64(x, 1u64)?",
                "rt::mul_i64(crate::calls::v2::S::f(__up_host, rt::add_u64(x, 1u64)?)?, (-2i64))?",
                "rt::i64_to_u64(rt::sub_i64(",
                "rt::div_u64(x, 3u64)?",
                "rt::rem_i64(7i64, 2i64)?",
                "rt::u64_to_i64(",
            ];
    }

    matches_bind_clones_and_guard_strings {
        "enum Shape { Dot, Circle(u64) }\nservice S { fn f(s: Shape, n: option<string>) -> string }",
        "enum Shape { Dot, Square(u64) }\nservice S { fn f(s: Shape) -> string }",
        "past S { f(s, n) = match n { some(\"x\") => \"x\", some(other) => other, none => \"none\" } }\n\
         future S { f(s) = match s { Dot => call f(v1::Shape::Dot, none), Square(k) => if k > 2 { \"big\" } else { disallow \"small\" } } }"
            => [
                "match &n {",
                "::std::option::Option::Some(__up_p0) if __up_p0.as_str() == \"x\" =>",
                "::std::option::Option::Some(other) => { let other = other.clone(); other }",
                "crate::v2::Shape::Square(k) => { let k = k.clone();",
                "crate::v2::Shape::Dot =>",
                "return ::std::result::Result::Err(rt::no_match(",
                // enums order by variant name, as the evaluator does
                "Self::Dot => 0u32",
                "Self::Circle(..) => 0u32",
            ];
    }

    keywords_become_raw_identifiers_and_keep_their_wire_names {
        "record R { type: string, match_: u64 }\nservice S { fn f(r: R) -> string }",
        "record R { type: string, match_: u64 }\nservice S { fn f(r: R) -> string }",
        ""
            => [
                "pub r#type: ::std::string::String",
                "(\"type\", &self.r#type as &dyn ::upstart_abi::rt::Show)",
            ];
    }

    quantifiers_and_collections {
        "state { xs: list<u64>, m: map<string, u64> }",
        "state { xs: set<u64>, total: u64, m: map<string, u64> }",
        "transform (old) -> new { xs: to_set(old.xs.filter(|x| x > 0)), total: sum(values(old.m)), m: old.m.insert(\"k\", len(old.xs)) }\n\
         invariant (old, new) { forall x in new.xs: contains(old.xs, x)\n exists k in new.m: k == \"k\"\n all(new.xs, |x| x > 0) }"
            => [
                "rt::to_set(rt::filter_list(old.xs.clone(), |x: u64|",
                "rt::sum_u64(&(rt::values(&old.m)))?",
                "rt::insert(old.m.clone(), ::std::string::String::from(\"k\"), rt::len(&old.xs))",
                "for x in (&new.xs).iter().cloned() { if !(rt::list_contains(&old.xs, &x)) {",
                "for k in (&new.m).keys().cloned()",
                "rt::all(&new.xs, |x: u64|",
            ];
    }

    helper_functions_become_functions_called_with_their_arguments {
        "service S { fn f(x: u64) -> u64 }\nstate { xs: list<u64> }",
        "service S { fn f(x: u64, y: u64) -> u64 }\nstate { xs: list<u64> }",
        "fn double(x: u64) -> u64 = x * 2\n\
         fn total(xs: list<u64>) -> u64 = sum(xs.map(|x| double(x)))\n\
         invariant (old, new) { total(old.xs) == total(new.xs) }\n\
         past S { f(x) = call f(double(x), 1) }\n\
         future S { f(x, y) = call f(x + y) }"
            => [
                "pub mod functions {",
                "pub fn double(x: u64) -> rt::RuleResult<u64> {",
                "pub fn total(xs: ::std::vec::Vec<u64>) -> rt::RuleResult<u64> {",
                "crate::functions::double(x)?",
                "crate::functions::total(old.xs.clone())?",
            ];
    }

    a_renamed_method_passes_through_under_each_version_s_name {
        "service S { fn get(key: string) -> option<string> }",
        "service S { fn lookup(key: string) -> option<string> renamed from get }",
        ""
            => [
                // An old caller's `get` reaches the new node's `lookup`, and a new caller's `lookup` the
                // old node's `get`: each delegate sends its own version's name on the wire.
                "(0, \"S\", \"get\") =>",
                "rt::encode(&crate::calls::v2::S::lookup(__up_host, __up_a0)?)",
                "(1, \"S\", \"lookup\") =>",
                "rt::encode(&crate::calls::v1::S::get(__up_host, __up_a0)?)",
                "rt::call(&__up_host, \"lookup\",",
                "rt::call(&__up_host, \"get\",",
            ];
    }

    values_under_renamed_fields_are_converted_by_generated_functions {
        "record Tag { label: string, n: u64 }\nservice S { fn tags() -> list<Tag> }",
        "record Tag { name: string renamed from label, n: u64 }\nservice S { fn tags() -> list<Tag> }",
        "past S { tags() = call tags() }\nfuture S { tags() = call tags() }"
            => [
                "pub fn __up_conv_Tag_2_1(__up_x: crate::v2::Tag) -> crate::v1::Tag {",
                "crate::v1::Tag { label: __up_x.name, n: __up_x.n }",
                "(crate::calls::v2::S::tags(__up_host)?).into_iter().map(|__up_x| crate::conv::__up_conv_Tag_2_1(__up_x)).collect::<::std::vec::Vec<_>>()",
            ];
    }

    a_method_differing_only_by_renamed_fields_passes_through_converted {
        "record Tag { label: string }\nservice S { fn put(t: Tag) -> option<Tag> }",
        "record Tag { name: string renamed from label }\nservice S { fn put(t: Tag) -> option<Tag> }",
        ""
            => [
                "rt::encode(&(crate::calls::v2::S::put(__up_host, crate::conv::__up_conv_Tag_1_2(__up_a0))?).map(|__up_x| crate::conv::__up_conv_Tag_2_1(__up_x)))",
            ];
    }
}

#[test]
fn recursion_without_indirection_is_unsupported() {
    let text = spec(
        "record T { next: option<T> }\nservice S { fn f() -> u64 }",
        "record T { next: option<T> }\nservice S { fn f() -> u64 }",
        "",
    );
    let err = generate(&model(&text), &text, Path::new("/abi")).unwrap_err();
    assert!(
        matches!(&err, CodegenError::Unsupported(m) if m.contains("`T` contains itself")),
        "{err}"
    );
    assert!(!err.is_internal());
    // Through a list it is fine.
    let ok = spec(
        "record T { kids: list<T> }",
        "record T { kids: list<T> }",
        "",
    );
    gen(&ok);
}

#[test]
fn malformed_tokens_are_a_compiler_bug_with_the_text() {
    let err = format_tokens(quote::quote!(fn broken() -> { 1 })).unwrap_err();
    assert!(err.is_internal());
    assert!(
        matches!(&err, CodegenError::Malformed { text, .. } if text.contains("broken")),
        "{err}"
    );
}

#[test]
fn keyword_names_are_escaped_in_specs_and_bare_on_the_wire() {
    // `exists` and `match` are keywords of the spec language; `r#` lets a method, a parameter
    // and a field take them, and the wire keeps the bare word.
    let text = spec(
        "record R { r#match: u64 }\nservice S { fn r#exists(r#in: string) -> bool  fn get() -> R }",
        "record R { r#match: u64 }\nservice S { fn r#exists(r#in: string) -> bool  fn get() -> R  fn r#let(r: R) -> u64 }",
        "future S { r#let(r) = r.r#match }",
    );
    let g = gen(&text);
    has(&g, "rt::call(&__up_host, \"exists\",");
    has(&g, "pub r#match: u64");
    has(&g, "pub fn exists(");
    has(&g, "pub fn r#let(");
    has(&g, "\"let\"");
    assert!(
        !g.lib_rs.contains("\"r#"),
        "an escape reached a wire name:\n{}",
        g.lib_rs
    );
}

#[test]
fn a_method_declared_changed_dispatches_to_its_rules_and_its_records_are_two_types() {
    let text = spec(
        "record Q { amount: u64 }\nservice S { fn wait(ms: u64) -> u64  fn quota() -> Q }",
        "record Q { changed amount: u64 }\nservice S { changed fn wait(ms: u64) -> u64  fn quota() -> Q }",
        "past S { wait(ms) = call wait(ms / 1000) * 1000\n quota() = v1::Q { amount: (call quota()).amount * 1024 } }\n\
         future S { wait(s) = call wait(s * 1000) / 1000\n quota() = v2::Q { amount: (call quota()).amount / 1024 } }",
    );
    let g = gen(&text);
    has(&g, "rt::encode(&crate::past::S::wait(__up_host, __up_a0)?)");
    has(
        &g,
        "rt::encode(&crate::future::S::wait(__up_host, __up_a0)?)",
    );
    assert!(!g.lib_rs.contains("pub use crate::v1::Q;"), "{}", g.lib_rs);
}

/// Rules (and methods passed through unchanged) that make at most one delegate call are listed
/// per direction, so a host may pipeline them; a rule calling once per element of a list is not.
#[test]
fn manifest_lists_the_rules_of_one_call() {
    let m = gen(KV).manifest;
    assert_eq!(m.past_one_call, ["Kv.get", "Kv.put", "Kv.replicate"]);
    assert_eq!(
        m.future_one_call,
        ["Kv.get", "Kv.put", "Kv.delete", "Kv.replicate"]
    );
    let m = gen(include_str!("../../../specs/kv/kv-2-3.ups")).manifest;
    assert!(
        m.future.iter().any(|r| r == "Kv.get_many"),
        "{:?}",
        m.future
    );
    assert!(
        !m.future_one_call.iter().any(|r| r == "Kv.get_many"),
        "`get_many` calls `get` per key: {:?}",
        m.future_one_call
    );
    assert!(m.future_one_call.iter().any(|r| r == "Kv.get"));
}

/// A host runs a plugin only for the methods its manifest lists in `past` / `future` (others
/// go on to the node as they are), so a method the plugin passes through under another name
/// or with converted values is listed there, under its caller's version's name; one passed
/// through as it is is not.
#[test]
fn manifest_lists_the_methods_passed_through_renamed_or_converted() {
    let text = spec(
        "record Tag { label: string }\nservice S {\n  fn get(key: string) -> option<string>\n  fn put(t: Tag) -> unit\n  fn ping() -> unit\n}",
        "record Tag { name: string renamed from label }\nservice S {\n  fn lookup(key: string) -> option<string> renamed from get\n  fn put(t: Tag) -> unit\n  fn ping() -> unit\n}",
        "",
    );
    let m = gen(&text).manifest;
    assert_eq!(m.past, ["S.get", "S.put"]);
    assert_eq!(m.future, ["S.lookup", "S.put"]);
    assert_eq!(m.past_one_call, ["S.get", "S.put", "S.ping"]);
    assert_eq!(m.future_one_call, ["S.lookup", "S.put", "S.ping"]);
}

#[test]
fn manifest_describes_each_versions_storage_and_tables() {
    let m = gen(include_str!("../../../specs/kvsql/kvsql-1-2.ups")).manifest;
    let old = m.old_state.unwrap();
    assert_eq!(old.storage, "sqlite");
    assert_eq!(old.tables.len(), 1);
    let t = old.tables.first().unwrap();
    assert_eq!(t.field, "entries");
    assert_eq!(t.columns, [("value".to_owned(), "TEXT".to_owned())]);
    let new = m.new_state.unwrap();
    let t = new.tables.first().unwrap();
    assert_eq!(
        (t.field.as_str(), t.columns.clone()),
        (
            "items",
            vec![
                ("value".to_owned(), "TEXT".to_owned()),
                ("expires_at".to_owned(), "INTEGER".to_owned()),
            ]
        )
    );
    // Every kind of column, and fields that are no table (a map of strings, a scalar).
    let m = gen("upgrade t 1 -> 2\n\
         version 1 {\n\
           enum Color { Red, Blue }\n\
           enum Shape { Dot, Box(u64) }\n\
           record R { b: bool, i: i64, u: option<u64>, f: f64, s: string, c: Color, sh: Shape, l: list<string> }\n\
           state dir { rs: map<string, R>, log: list<R>, names: map<string, string>, n: u64 }\n\
         }\n\
         version 2 {\n\
           enum Color { Red, Blue }\n\
           enum Shape { Dot, Box(u64) }\n\
           record R { b: bool, i: i64, u: option<u64>, f: f64, s: string, c: Color, sh: Shape, l: list<string> }\n\
           state dir { rs: map<string, R>, log: list<R>, names: map<string, string>, n: u64 }\n\
         }\n")
    .manifest;
    assert_eq!(m.old_state, m.new_state);
    let layout = m.old_state.unwrap();
    assert_eq!(layout.storage, "dir");
    let fields: Vec<&str> = layout.tables.iter().map(|t| t.field.as_str()).collect();
    assert_eq!(fields, ["rs", "log"]);
    let types: Vec<&str> = layout.tables[0]
        .columns
        .iter()
        .map(|c| c.1.as_str())
        .collect();
    assert_eq!(
        types,
        [
            "BOOLEAN",
            "INTEGER",
            "INTEGER",
            "REAL",
            "TEXT",
            "TEXT",
            "JSON TEXT",
            "JSON TEXT"
        ]
    );
    let m = gen(KV).manifest;
    assert_eq!(m.old_state.unwrap().storage, "json");
}
