//! The layering of the workspace, as cargo resolves it (`cargo tree -e normal`, so dev- and
//! build-dependencies do not count): which packages may depend on the command line, terminal,
//! LSP and compiler crates, and what the plugin host leaves out. ARCHITECTURE.md names these
//! invariants; this test is what holds them.
#![allow(clippy::panic, reason = "tests")]

use std::collections::BTreeSet;
use std::process::Command;
use upstart_test_support::repo_root;

/// `cargo tree` over the workspace, one package name per line.
fn tree(args: &[&str]) -> BTreeSet<String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(repo_root())
        .args(["tree", "--locked", "-e", "normal", "--prefix", "none"])
        .args(["--format", "{p}"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo: {e}"));
    assert!(
        out.status.success(),
        "cargo tree {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(" v").next())
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

/// The packages of the workspace that depend on `krate` directly (normal dependencies).
fn direct_dependents(krate: &str) -> BTreeSet<String> {
    let mut out = tree(&["--workspace", "-i", krate, "--depth", "1"]);
    out.remove(krate);
    out
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

#[test]
fn clap_is_only_in_binary_packages() {
    assert_eq!(
        direct_dependents("clap"),
        set(&["upstart", "upstart-shim", "upstartc"])
    );
}

#[test]
fn only_upstartc_renders_for_terminals() {
    assert_eq!(direct_dependents("codespan-reporting"), set(&["upstartc"]));
}

#[test]
fn only_the_language_server_speaks_lsp() {
    assert_eq!(direct_dependents("lsp-types"), set(&["upstart-lsp"]));
    assert_eq!(direct_dependents("lsp-server"), set(&["upstart-lsp"]));
}

#[test]
fn the_runtime_side_never_depends_on_the_compiler() {
    assert_eq!(
        direct_dependents("compiler"),
        set(&["upstart-lsp", "upstartc"])
    );
}

#[test]
fn the_plugin_host_links_no_server_stack() {
    let host = tree(&["-p", "upstart-plugin-host"]);
    for heavy in ["tokio", "axum", "reqwest", "rusqlite", "runtime"] {
        assert!(
            !host.contains(heavy),
            "the plugin host depends on `{heavy}`: {host:?}"
        );
    }
    let shim = tree(&["-p", "shim"]);
    for heavy in ["axum", "reqwest", "rusqlite", "runtime", "clap"] {
        assert!(
            !shim.contains(heavy),
            "the shim library depends on `{heavy}`"
        );
    }
}
