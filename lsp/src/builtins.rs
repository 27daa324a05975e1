//! The built-in functions as the editor shows them: a signature and a line of documentation
//! each, for hover and completion. The names are the checker's and evaluator's (a test keeps
//! the lists equal, another checks every arity against the checker).

/// `(name, arity, signature, what it does)`
pub const BUILTINS: &[(&str, usize, &str, &str)] = &[
    (
        "keys",
        1,
        "keys(m: map<K, V>) -> set<K>",
        "the keys of a map",
    ),
    (
        "values",
        1,
        "values(m: map<K, V>) -> list<V>",
        "the values of a map, in key order",
    ),
    (
        "entries",
        1,
        "entries(m: map<K, V>) -> list<(K, V)>",
        "the entries of a map, in key order",
    ),
    (
        "len",
        1,
        "len(x: list<T> | set<T> | map<K, V> | string | bytes) -> u64",
        "the number of elements (or bytes)",
    ),
    (
        "contains",
        2,
        "contains(xs: list<T> | set<T>, x: T) -> bool",
        "whether `x` is an element",
    ),
    (
        "contains_key",
        2,
        "contains_key(m: map<K, V>, k: K) -> bool",
        "whether `k` is a key",
    ),
    (
        "get",
        2,
        "get(m: map<K, V>, k: K) -> option<V>",
        "the value of `k`, if any",
    ),
    (
        "insert",
        3,
        "insert(m: map<K, V>, k: K, v: V) -> map<K, V>",
        "the map with `k` set to `v`",
    ),
    (
        "remove",
        2,
        "remove(m: map<K, V>, k: K) -> map<K, V>",
        "the map without `k`",
    ),
    (
        "map",
        2,
        "map(xs: list<T> | set<T> | option<T>, f: |T| U) -> list<U> | set<U> | option<U>",
        "applies `f` to every element",
    ),
    (
        "map_values",
        2,
        "map_values(m: map<K, V>, f: |V| W) -> map<K, W>",
        "applies `f` to every value",
    ),
    (
        "filter",
        2,
        "filter(xs: list<T> | set<T>, f: |T| bool) -> list<T> | set<T>",
        "the elements for which `f` holds",
    ),
    (
        "to_map",
        2,
        "to_map(xs: list<T>, f: |T| (K, V)) -> map<K, V>",
        "a map from the pairs `f` makes",
    ),
    (
        "to_set",
        1,
        "to_set(xs: list<T>) -> set<T>",
        "the elements as a set",
    ),
    (
        "to_list",
        1,
        "to_list(xs: set<T>) -> list<T>",
        "the elements as a list, in order",
    ),
    (
        "some",
        1,
        "some(x: T) -> option<T>",
        "a present optional value",
    ),
    (
        "unwrap_or",
        2,
        "unwrap_or(x: option<T>, default: T) -> T",
        "the value, or `default` when `none`",
    ),
    (
        "is_some",
        1,
        "is_some(x: option<T>) -> bool",
        "whether a value is present",
    ),
    (
        "is_none",
        1,
        "is_none(x: option<T>) -> bool",
        "whether no value is present",
    ),
    (
        "and_then",
        2,
        "and_then(x: option<T>, f: |T| option<U>) -> option<U>",
        "`f` of the value, or `none`",
    ),
    (
        "any",
        2,
        "any(xs: list<T> | set<T>, f: |T| bool) -> bool",
        "whether `f` holds for some element",
    ),
    (
        "all",
        2,
        "all(xs: list<T> | set<T>, f: |T| bool) -> bool",
        "whether `f` holds for every element",
    ),
    ("sum", 1, "sum(xs: list<N>) -> N", "the sum of numbers"),
    (
        "concat",
        2,
        "concat(a: list<T>, b: list<T>) -> list<T>",
        "`a` followed by `b`",
    ),
    (
        "to_string",
        1,
        "to_string(x: i64 | u64 | f64 | bool | string) -> string",
        "the value as text",
    ),
    (
        "i64",
        1,
        "i64(x: number) -> i64",
        "the number as `i64` (an error if it does not fit)",
    ),
    (
        "u64",
        1,
        "u64(x: number) -> u64",
        "the number as `u64` (an error if it does not fit)",
    ),
    ("f64", 1, "f64(x: number) -> f64", "the number as `f64`"),
    (
        "min",
        2,
        "min(a: T, b: T) -> T",
        "the smaller of two numbers or strings",
    ),
    (
        "max",
        2,
        "max(a: T, b: T) -> T",
        "the larger of two numbers or strings",
    ),
];

/// The entry of a built-in.
pub fn builtin(name: &str) -> Option<&'static (&'static str, usize, &'static str, &'static str)> {
    BUILTINS.iter().find(|b| b.0 == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use compiler::check::check_sources;
    use lang::span::SourceMap;

    #[test]
    fn the_same_names_as_the_evaluator() {
        let ours: Vec<&str> = BUILTINS.iter().map(|b| b.0).collect();
        assert_eq!(ours, compiler::eval::BUILTIN_NAMES);
    }

    #[test]
    fn the_arities_are_the_checkers() {
        for (name, arity, ..) in BUILTINS {
            for n in [*arity, arity + 1] {
                let args = vec!["x"; n].join(", ");
                let text = format!(
                    "upgrade a 1 -> 2\nversion 1 {{ state {{ a: u64 }} }}\nversion 2 {{ state {{ a: u64 }} }}\ninvariant (x, y) {{ {name}({args}) == x }}\n"
                );
                let mut sources = SourceMap::new();
                sources.add("a.ups", text);
                let wrong_arity = check_sources(&sources)
                    .diagnostics
                    .iter()
                    .any(|d| d.code == lang::diagnostic::codes::FUNCTION_ARITY);
                assert_eq!(wrong_arity, n != *arity, "{name} with {n} arguments");
            }
        }
    }
}
