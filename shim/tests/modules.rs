//! The shim's modules import each other without a circle: the workers share the context
//! module (`context`), never the facade (`shim`) that owns them. Read from the sources: each
//! module's `crate::NAME` paths (and `crate::{A, B}` groups) outside its tests.
#![allow(clippy::panic, clippy::indexing_slicing, reason = "tests")]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The modules of `shim/src` that each module names.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    let entries = std::fs::read_dir(&src).unwrap_or_else(|e| panic!("cannot read src/: {e}"));
    for entry in entries.filter_map(|e| e.ok()) {
        let path = entry.path();
        let Some(name) = path.file_stem().map(|s| s.to_string_lossy().into_owned()) else {
            continue;
        };
        if path.extension().is_none_or(|e| e != "rs") || name == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        out.insert(name.clone(), named_modules(code, &name));
    }
    out
}

/// The lowercase names after `crate::` in `code` (`crate::a::B`, `crate::{a, b::C}`), but `me`.
fn named_modules(code: &str, me: &str) -> BTreeSet<String> {
    let word = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
            .collect()
    };
    let mut out = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = group.split('}').next().unwrap_or("");
            out.extend(group.split(',').map(word));
        } else {
            out.insert(word(rest));
        }
    }
    out.retain(|m| !m.is_empty() && m != me);
    out
}

/// A circle of imports through `start`, if there is one.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    let mut stack = vec![vec![start.to_string()]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        let last = path.last()?.clone();
        for next in graph.get(&last).into_iter().flatten() {
            if next == start {
                let mut found = path.clone();
                found.push(next.clone());
                return Some(found);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push(longer);
            }
        }
    }
    None
}

#[test]
fn the_modules_import_each_other_without_a_circle() {
    let graph = imports();
    assert!(graph.contains_key("context") && graph.contains_key("inbound"));
    let circles: Vec<Vec<String>> = graph.keys().filter_map(|m| circle(&graph, m)).collect();
    assert!(circles.is_empty(), "import circles: {circles:?}");
}

#[test]
fn no_worker_imports_the_facade() {
    let graph = imports();
    let users: Vec<&String> = graph
        .iter()
        .filter(|(_, names)| names.contains("shim"))
        .map(|(m, _)| m)
        .collect();
    assert!(users.is_empty(), "modules importing `shim`: {users:?}");
}

#[test]
fn paths_and_groups_are_read() {
    let names = named_modules(
        "use crate::a::B;\nuse crate::{b, c::D};\ncrate::me::x",
        "me",
    );
    assert_eq!(names, ["a", "b", "c"].map(String::from).into());
}
