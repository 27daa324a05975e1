//! The one table of built-in functions (`keys`, `map`, `to_map`, ...): for each, its name,
//! arity, signature and hover text (what the editor shows), how the checker types it, what the
//! evaluator computes, and the code generation emits. The checker, the evaluator, code
//! generation and the language server all read this table; adding a built-in is adding a row
//! (and, for code generation, the `upstart_abi::rt` function it calls).
//!
//! Method syntax `x.f(a)` is the same call as `f(x, a)`: the receiver is the first argument.

use crate::check::builtins as check;
use crate::codegen::builtins as codegen;
use crate::eval::builtins as eval;

/// One built-in function.
pub struct Builtin {
    /// Its name, as written in specs.
    pub name: &'static str,
    /// How many arguments it takes (the receiver of method syntax counts).
    pub arity: usize,
    /// Its signature for people: `keys(m: map<K, V>) -> set<K>`.
    pub signature: &'static str,
    /// One line on what it does (hover and completion).
    pub doc: &'static str,
    /// How the checker types a call.
    pub(crate) check: check::Typing,
    /// What the reference evaluator computes.
    pub(crate) eval: eval::Implementation,
    /// What code generation emits.
    pub(crate) codegen: codegen::Generation,
}

impl std::fmt::Debug for Builtin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builtin")
            .field("name", &self.name)
            .field("arity", &self.arity)
            .field("signature", &self.signature)
            .finish_non_exhaustive()
    }
}

/// The built-in called `name`, if there is one.
pub fn lookup(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// Every built-in function, in the order completion lists them.
pub static BUILTINS: &[Builtin] = &[
    Builtin {
        name: "keys",
        arity: 1,
        signature: "keys(m: map<K, V>) -> set<K>",
        doc: "the keys of a map",
        check: check::map_view,
        eval: eval::b_keys,
        codegen: codegen::view,
    },
    Builtin {
        name: "values",
        arity: 1,
        signature: "values(m: map<K, V>) -> list<V>",
        doc: "the values of a map, in key order",
        check: check::map_view,
        eval: eval::b_values,
        codegen: codegen::view,
    },
    Builtin {
        name: "entries",
        arity: 1,
        signature: "entries(m: map<K, V>) -> list<(K, V)>",
        doc: "the entries of a map, in key order",
        check: check::map_view,
        eval: eval::b_entries,
        codegen: codegen::view,
    },
    Builtin {
        name: "len",
        arity: 1,
        signature: "len(x: list<T> | set<T> | map<K, V> | string | bytes) -> u64",
        doc: "the number of elements (or bytes)",
        check: check::len,
        eval: eval::b_len,
        codegen: codegen::view,
    },
    Builtin {
        name: "contains",
        arity: 2,
        signature: "contains(xs: list<T> | set<T>, x: T) -> bool",
        doc: "whether `x` is an element",
        check: check::contains,
        eval: eval::b_contains,
        codegen: codegen::contains,
    },
    Builtin {
        name: "contains_key",
        arity: 2,
        signature: "contains_key(m: map<K, V>, k: K) -> bool",
        doc: "whether `k` is a key",
        check: check::map_key,
        eval: eval::b_contains_key,
        codegen: codegen::lookup,
    },
    Builtin {
        name: "get",
        arity: 2,
        signature: "get(m: map<K, V>, k: K) -> option<V>",
        doc: "the value of `k`, if any",
        check: check::map_key,
        eval: eval::b_get,
        codegen: codegen::lookup,
    },
    Builtin {
        name: "insert",
        arity: 3,
        signature: "insert(m: map<K, V>, k: K, v: V) -> map<K, V>",
        doc: "the map with `k` set to `v`",
        check: check::insert,
        eval: eval::b_insert,
        codegen: codegen::insert,
    },
    Builtin {
        name: "remove",
        arity: 2,
        signature: "remove(m: map<K, V>, k: K) -> map<K, V>",
        doc: "the map without `k`",
        check: check::map_key,
        eval: eval::b_remove,
        codegen: codegen::remove,
    },
    Builtin {
        name: "map",
        arity: 2,
        signature:
            "map(xs: list<T> | set<T> | option<T>, f: |T| U) -> list<U> | set<U> | option<U>",
        doc: "applies `f` to every element",
        check: check::over_elements,
        eval: eval::b_map,
        codegen: codegen::with_closure,
    },
    Builtin {
        name: "map_values",
        arity: 2,
        signature: "map_values(m: map<K, V>, f: |V| W) -> map<K, W>",
        doc: "applies `f` to every value",
        check: check::map_values,
        eval: eval::b_map_values,
        codegen: codegen::with_closure,
    },
    Builtin {
        name: "filter",
        arity: 2,
        signature: "filter(xs: list<T> | set<T>, f: |T| bool) -> list<T> | set<T>",
        doc: "the elements for which `f` holds",
        check: check::over_elements,
        eval: eval::b_filter,
        codegen: codegen::with_closure,
    },
    Builtin {
        name: "to_map",
        arity: 2,
        signature: "to_map(xs: list<T>, f: |T| (K, V)) -> map<K, V>",
        doc: "a map from the pairs `f` makes",
        check: check::to_map,
        eval: eval::b_to_map,
        codegen: codegen::with_closure,
    },
    Builtin {
        name: "to_set",
        arity: 1,
        signature: "to_set(xs: list<T>) -> set<T>",
        doc: "the elements as a set",
        check: check::to_set,
        eval: eval::b_to_set,
        codegen: codegen::collect,
    },
    Builtin {
        name: "to_list",
        arity: 1,
        signature: "to_list(xs: set<T>) -> list<T>",
        doc: "the elements as a list, in order",
        check: check::to_list,
        eval: eval::b_to_list,
        codegen: codegen::collect,
    },
    Builtin {
        name: "some",
        arity: 1,
        signature: "some(x: T) -> option<T>",
        doc: "a present optional value",
        check: check::some,
        eval: eval::b_some,
        codegen: codegen::some,
    },
    Builtin {
        name: "unwrap_or",
        arity: 2,
        signature: "unwrap_or(x: option<T>, default: T) -> T",
        doc: "the value, or `default` when `none`",
        check: check::unwrap_or,
        eval: eval::b_unwrap_or,
        codegen: codegen::unwrap_or,
    },
    Builtin {
        name: "is_some",
        arity: 1,
        signature: "is_some(x: option<T>) -> bool",
        doc: "whether a value is present",
        check: check::is_option,
        eval: eval::b_is_some_or_none,
        codegen: codegen::is_option,
    },
    Builtin {
        name: "is_none",
        arity: 1,
        signature: "is_none(x: option<T>) -> bool",
        doc: "whether no value is present",
        check: check::is_option,
        eval: eval::b_is_some_or_none,
        codegen: codegen::is_option,
    },
    Builtin {
        name: "and_then",
        arity: 2,
        signature: "and_then(x: option<T>, f: |T| option<U>) -> option<U>",
        doc: "`f` of the value, or `none`",
        check: check::and_then,
        eval: eval::b_and_then,
        codegen: codegen::with_closure,
    },
    Builtin {
        name: "any",
        arity: 2,
        signature: "any(xs: list<T> | set<T>, f: |T| bool) -> bool",
        doc: "whether `f` holds for some element",
        check: check::over_elements,
        eval: eval::b_any_or_all,
        codegen: codegen::quantifier,
    },
    Builtin {
        name: "all",
        arity: 2,
        signature: "all(xs: list<T> | set<T>, f: |T| bool) -> bool",
        doc: "whether `f` holds for every element",
        check: check::over_elements,
        eval: eval::b_any_or_all,
        codegen: codegen::quantifier,
    },
    Builtin {
        name: "sum",
        arity: 1,
        signature: "sum(xs: list<N>) -> N",
        doc: "the sum of numbers",
        check: check::sum,
        eval: eval::b_sum,
        codegen: codegen::sum,
    },
    Builtin {
        name: "concat",
        arity: 2,
        signature: "concat(a: list<T>, b: list<T>) -> list<T>",
        doc: "`a` followed by `b`",
        check: check::concat,
        eval: eval::b_concat,
        codegen: codegen::concat,
    },
    Builtin {
        name: "to_string",
        arity: 1,
        signature: "to_string(x: i64 | u64 | f64 | bool | string) -> string",
        doc: "the value as text",
        check: check::to_string,
        eval: eval::b_to_string,
        codegen: codegen::to_string,
    },
    Builtin {
        name: "i64",
        arity: 1,
        signature: "i64(x: number) -> i64",
        doc: "the number as `i64` (an error if it does not fit)",
        check: check::convert,
        eval: eval::b_i64,
        codegen: codegen::convert,
    },
    Builtin {
        name: "u64",
        arity: 1,
        signature: "u64(x: number) -> u64",
        doc: "the number as `u64` (an error if it does not fit)",
        check: check::convert,
        eval: eval::b_u64,
        codegen: codegen::convert,
    },
    Builtin {
        name: "f64",
        arity: 1,
        signature: "f64(x: number) -> f64",
        doc: "the number as `f64`",
        check: check::convert,
        eval: eval::b_f64,
        codegen: codegen::convert,
    },
    Builtin {
        name: "min",
        arity: 2,
        signature: "min(a: T, b: T) -> T",
        doc: "the smaller of two numbers or strings",
        check: check::min_max,
        eval: eval::b_min_or_max,
        codegen: codegen::min_max,
    },
    Builtin {
        name: "max",
        arity: 2,
        signature: "max(a: T, b: T) -> T",
        doc: "the larger of two numbers or strings",
        check: check::min_max,
        eval: eval::b_min_or_max,
        codegen: codegen::min_max,
    },
];

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

    use super::*;
    use crate::check::check_sources;
    use lang::span::SourceMap;
    use std::collections::BTreeSet;

    fn check(text: &str) -> crate::check::CheckOutput {
        let mut sources = SourceMap::new();
        sources.add("a.ups", text.to_string());
        check_sources(&sources)
    }

    /// Every row is whole: a unique name, a signature of that name with `arity` parameters,
    /// a line of documentation. (The typing, evaluation and generation functions are fields
    /// the compiler requires; the tests below show each one answers for its name.)
    #[test]
    fn every_builtin_has_all_parts() {
        let mut names = BTreeSet::new();
        for b in BUILTINS {
            assert!(names.insert(b.name), "`{}` is in the table twice", b.name);
            let params = b
                .signature
                .strip_prefix(&format!("{}(", b.name))
                .and_then(|s| s.split_once(')'))
                .map(|(params, _)| params)
                .unwrap_or_else(|| panic!("`{}`: signature `{}`", b.name, b.signature));
            // Parameters are `name: type`; a type may hold commas (`map<K, V>`), not colons.
            assert_eq!(params.matches(':').count(), b.arity, "{}", b.signature);
            assert!(b.signature.contains(") -> "), "{}", b.signature);
            assert!(!b.doc.is_empty(), "`{}` has no documentation", b.name);
        }
    }

    /// The checker takes its arities from the table: a call with another number of arguments
    /// is an arity error, a call with the right number is not.
    #[test]
    fn the_checker_reads_the_arities() {
        for b in BUILTINS {
            for n in [b.arity, b.arity + 1] {
                let args = vec!["x"; n].join(", ");
                let name = b.name;
                let text = format!(
                    "upgrade a 1 -> 2\nversion 1 {{ state {{ a: u64 }} }}\nversion 2 {{ state {{ a: u64 }} }}\ninvariant (x, y) {{ {name}({args}) == x }}\n"
                );
                let wrong_arity = check(&text)
                    .diagnostics
                    .iter()
                    .any(|d| d.code == lang::diagnostic::codes::FUNCTION_ARITY);
                assert_eq!(wrong_arity, n != b.arity, "{name} with {n} arguments");
            }
        }
    }

    /// Code generation answers for every built-in: the compile-coverage spec calls each one,
    /// and its code generates and parses back.
    #[test]
    fn code_generation_covers_every_builtin() {
        let text = include_str!("../../upstartc/tests/compile/builtins.ups");
        let tokens = lang::lex::tokens(text);
        for b in BUILTINS {
            let called = tokens
                .windows(2)
                .any(|w| w[0].text(text) == b.name && w[1].text(text) == "(");
            assert!(called, "`{}` is not called in compile/builtins.ups", b.name);
        }
        let out = check(text);
        assert!(out.diagnostics.is_empty(), "{:?}", out.diagnostics);
        let model = out.models.first().unwrap();
        let generated = crate::codegen::lib_tokens(model, text).unwrap();
        crate::codegen::format_tokens(generated).unwrap();
    }
}
