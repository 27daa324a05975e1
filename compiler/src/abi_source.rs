//! The `upstart-abi` crate, carried inside the compiler: its sources are embedded when
//! `upstartc` is built and written into the plugin cache when a plugin needs them, with a
//! standalone `Cargo.toml` (no workspace inheritance) and the workspace's `Cargo.lock`, so an
//! `upstartc` installed with `cargo install` or copied to another machine builds plugins
//! without the source tree it was built in. The copy lives under a directory named by the
//! hash of its contents: one per ABI, shared by every plugin built against it.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The sources of `upstart-abi`, by path inside the crate. A unit test checks the list against
/// `abi/src`, so a new module cannot be forgotten.
pub const SOURCES: &[(&str, &str)] = &[
    ("src/lib.rs", include_str!("../../abi/src/lib.rs")),
    ("src/guest.rs", include_str!("../../abi/src/guest.rs")),
    ("src/manifest.rs", include_str!("../../abi/src/manifest.rs")),
    ("src/rt/mod.rs", include_str!("../../abi/src/rt/mod.rs")),
    (
        "src/rt/collections.rs",
        include_str!("../../abi/src/rt/collections.rs"),
    ),
    ("src/rt/float.rs", include_str!("../../abi/src/rt/float.rs")),
    ("src/rt/index.rs", include_str!("../../abi/src/rt/index.rs")),
    ("src/rt/int.rs", include_str!("../../abi/src/rt/int.rs")),
    ("src/rt/show.rs", include_str!("../../abi/src/rt/show.rs")),
    ("src/rt/tests.rs", include_str!("../../abi/src/rt/tests.rs")),
    ("src/rt/wire.rs", include_str!("../../abi/src/rt/wire.rs")),
];

/// The workspace's lock file: the plugin resolves `serde` and `serde_json` offline to the
/// versions this compiler was built with (so they are in the local registry cache); cargo
/// drops the entries the plugin does not use.
pub const CARGO_LOCK: &str = include_str!("../../Cargo.lock");

/// The embedded crate's manifest: the workspace's `abi/Cargo.toml` without inheritance.
pub fn cargo_toml() -> String {
    format!(
        "# upstart-abi {version}, written by upstartc for the plugins it builds; do not edit.
[package]
name = \"upstart-abi\"
version = \"{version}\"
edition = \"2021\"
publish = false

[lib]
name = \"upstart_abi\"

[dependencies]
serde = {{ version = \"1\", features = [\"derive\"] }}
serde_json = \"1\"
",
        version = env!("CARGO_PKG_VERSION"),
    )
}

/// The files of the embedded crate: its manifest and its sources.
fn files() -> Vec<(&'static str, String)> {
    let mut files = vec![("Cargo.toml", cargo_toml())];
    files.extend(
        SOURCES
            .iter()
            .map(|(path, text)| (*path, (*text).to_string())),
    );
    files
}

/// The hash of the embedded crate (the name of its directory in the cache).
pub fn content_hash() -> String {
    let mut h = Sha256::new();
    for (path, text) in files() {
        h.update(path.as_bytes());
        h.update([0u8]);
        h.update(text.as_bytes());
        h.update([0u8]);
    }
    h.finalize()
        .iter()
        .take(12)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes the embedded crate under `cache_dir/abi/<hash>` (once: a complete copy is never
/// rewritten) and returns its directory. The copy is made in a private directory and renamed
/// into place, so a concurrent build sees either no crate or a whole one.
pub fn materialize(cache_dir: &Path) -> std::io::Result<PathBuf> {
    let root = cache_dir.join("abi");
    let dir = root.join(content_hash());
    if dir.join("Cargo.toml").is_file() {
        return Ok(dir);
    }
    // Private to this call: other processes and other threads of this one may write too.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let partial = root.join(format!(
        ".partial-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&partial);
    for (path, text) in files() {
        let file = partial.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&file, text)?;
    }
    match std::fs::rename(&partial, &dir) {
        Ok(()) => Ok(dir),
        // Another build put the same crate in place first.
        Err(_) if dir.join("Cargo.toml").is_file() => {
            let _ = std::fs::remove_dir_all(&partial);
            Ok(dir)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    /// Every file under `abi/src` is embedded, and nothing else.
    #[test]
    fn embeds_every_source_file_of_the_abi_crate() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../abi/src");
        let mut found = Vec::new();
        let mut stack = vec![src.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let rel = path.strip_prefix(&src).unwrap().to_string_lossy();
                    found.push(format!("src/{}", rel.replace('\\', "/")));
                }
            }
        }
        found.sort();
        let mut embedded: Vec<String> = SOURCES.iter().map(|(p, _)| p.to_string()).collect();
        embedded.sort();
        assert_eq!(embedded, found);
    }

    /// The embedded manifest names the same dependencies as the workspace's `abi/Cargo.toml`.
    #[test]
    fn the_manifest_has_the_dependencies_of_the_abi_crate() {
        let real = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../abi/Cargo.toml"),
        )
        .unwrap();
        let deps = |text: &str| -> Vec<String> {
            text.split("[dependencies]")
                .nth(1)
                .unwrap_or("")
                .lines()
                .take_while(|l| !l.starts_with('['))
                .filter_map(|l| l.split(['.', ' ', '=']).next())
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .collect()
        };
        assert_eq!(deps(&cargo_toml()), deps(&real));
    }

    /// Threads of one process writing the crate at once each get a whole crate.
    #[test]
    fn concurrent_writers_agree() {
        let dir = std::env::temp_dir().join(format!("abi-source-race-{}", std::process::id()));
        let start = std::sync::Arc::new(std::sync::Barrier::new(8));
        let writers: Vec<_> = (0..8)
            .map(|_| {
                let (dir, start) = (dir.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    materialize(&dir)
                })
            })
            .collect();
        for w in writers {
            let got = w.join().unwrap().unwrap();
            assert_eq!(
                std::fs::read_to_string(got.join("src/rt/wire.rs")).unwrap(),
                include_str!("../../abi/src/rt/wire.rs")
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn materializes_once_under_its_hash() {
        let dir = std::env::temp_dir().join(format!("abi-source-{}", std::process::id()));
        let first = materialize(&dir).unwrap();
        assert!(first.ends_with(content_hash()));
        assert_eq!(
            std::fs::read_to_string(first.join("src/lib.rs")).unwrap(),
            include_str!("../../abi/src/lib.rs")
        );
        assert_eq!(materialize(&dir).unwrap(), first);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
