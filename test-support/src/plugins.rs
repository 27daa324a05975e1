//! Plugins built from specs for tests, one way: checked and built with the compiler's library
//! into the cache `upstartc compile` uses (the workspace's `target/upstart/target`), the
//! generated crate under `target/upstart/<spec's file stem>-<hash of its text>`. The build is cached by content
//! hash, so a second call (or test binary) for the same spec is served from the cache; calls
//! in one process are serialized (cargo would hold them on its lock anyway).
//!
//! Behind the feature `compile`: only the tests that load generated plugins (the compiler's
//! differential tests, the end-to-end tests, the node agent's) pay for linking the compiler.

use crate::{read, repo_root};
use compiler::build::{build_plugin, BuildOptions};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Builds the plugin of the spec file at `spec` (which must check without errors); the built
/// library's path. Panics with the diagnostics or the build error otherwise.
pub fn build(spec: &Path) -> PathBuf {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let text = read(spec);
    let model = crate::model::checked(&spec.display().to_string(), &text);
    let root = repo_root();
    let stem = spec
        .file_stem()
        .map_or_else(|| "spec".into(), |s| s.to_string_lossy().into_owned());
    let hash = crate::sha256_hex(text.as_bytes());
    let generated = format!("{stem}-{}", hash.get(..12).unwrap_or(&hash));
    let mut options = BuildOptions::from_env();
    options.cache_dir = root.join("target").join("upstart").join("target");
    options.abi_path = Some(root.join("abi"));
    options.out_dir = Some(root.join("target").join("upstart").join(generated));
    let built = build_plugin(&model, &text, &options, &mut |line| {
        eprintln!("upstartc: {line}")
    })
    .unwrap_or_else(|e| panic!("building the plugin of `{}` failed: {e}", spec.display()));
    built.plugin
}
