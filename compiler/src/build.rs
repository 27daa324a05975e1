//! Building plugins: the one part of the compiler library that does IO. Generates a checked
//! spec's crate into a directory, builds it with `cargo build --release --offline` into a
//! target directory shared by all plugin builds (so dependencies compile once), and keeps each
//! built plugin in a content-addressed cache inside that directory: a spec already built by the
//! same upstartc against the same ABI is served from the cache without running cargo.
//!
//! The plugin depends on the `upstart-abi` crate embedded in the compiler ([`crate::abi_source`]),
//! written into the cache directory, so no source tree is needed. The generated crate gets the
//! workspace's `Cargo.lock` (embedded too, or found beside an `upstart-abi` given by path) so
//! offline resolution picks the versions the workspace was built with.

use crate::abi_source;
use crate::codegen::{self, CodegenError, GeneratedCrate};
use crate::model::SpecModel;
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Where and how to build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Where to write the generated crate; `None` is `target/upstart/<name>-<from>-<to>`.
    pub out_dir: Option<PathBuf>,
    /// Cargo's target directory, shared by every plugin build; built plugins are cached in its
    /// `plugins/` folder.
    pub cache_dir: PathBuf,
    /// The `upstart-abi` crate the plugin depends on; `None` is the copy embedded in the
    /// compiler, written into `cache_dir/abi/<hash>`.
    pub abi_path: Option<PathBuf>,
    /// The cargo program.
    pub cargo: OsString,
}

impl BuildOptions {
    /// Defaults, overridden by `UPSTART_CACHE_DIR` (the shared target directory),
    /// `UPSTART_ABI_PATH` (an `upstart-abi` crate instead of the embedded one, for developing the
    /// ABI) and `CARGO` (the cargo program).
    pub fn from_env() -> BuildOptions {
        let cache_dir = std::env::var_os("UPSTART_CACHE_DIR")
            .filter(|v| !v.is_empty())
            .map_or_else(|| PathBuf::from("target/upstart/target"), PathBuf::from);
        let abi_path = std::env::var_os("UPSTART_ABI_PATH")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let cargo = std::env::var_os("CARGO")
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| OsString::from("cargo"));
        BuildOptions {
            out_dir: None,
            cache_dir,
            abi_path,
            cargo,
        }
    }
}

/// A built plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// The plugin in the cache (a `.so`, `.dylib` or `.dll`).
    pub plugin: PathBuf,
    /// Whether it came from the cache (cargo did not run).
    pub cached: bool,
    /// The generated crate (`None` when served from the cache: nothing was written).
    pub crate_dir: Option<PathBuf>,
}

/// Why no plugin was built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Code generation refused the spec (unsupported) or failed (a compiler bug).
    #[error("{0}")]
    Codegen(#[source] CodegenError),
    /// The generated code does not parse (a compiler bug); its text is saved at `saved`.
    #[error(
        "internal compiler error: the generated code does not parse: {error}\n  \
         the generated text is kept at `{}`",
        .saved.display()
    )]
    Malformed { error: String, saved: PathBuf },
    #[error("cannot {what} `{}`: {error}", .path.display())]
    Io {
        what: String,
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    /// Cargo could not be started.
    #[error(
        "cannot run `{}`: {error}\n  help: install cargo, or point `CARGO` at it",
        .cargo.to_string_lossy()
    )]
    CargoNotRun {
        cargo: OsString,
        #[source]
        error: std::io::Error,
    },
    /// Cargo failed on the generated crate (a compiler bug): the crate is kept for inspection.
    #[error(
        "internal compiler error: the generated plugin did not build\n  \
         the generated crate is kept at `{}`\n\ncargo said:\n{}",
        .crate_dir.display(),
        .stderr.trim_end()
    )]
    Cargo { crate_dir: PathBuf, stderr: String },
    /// Cargo succeeded but the library is not where it should be.
    #[error(
        "internal compiler error: cargo built the plugin but `{}` does not exist",
        .path.display()
    )]
    NoArtifact { path: PathBuf },
}

impl BuildError {
    /// Whether this is a compiler bug (the generated code is wrong).
    pub fn is_internal(&self) -> bool {
        match self {
            BuildError::Codegen(e) => e.is_internal(),
            BuildError::Malformed { .. }
            | BuildError::Cargo { .. }
            | BuildError::NoArtifact { .. } => true,
            BuildError::Io { .. } | BuildError::CargoNotRun { .. } => false,
        }
    }
}

fn io(what: &str, path: &Path) -> impl FnOnce(std::io::Error) -> BuildError {
    let (what, path) = (what.to_string(), path.to_path_buf());
    move |error| BuildError::Io { what, path, error }
}

/// The cache key of a generated crate: the spec's hash, the ABI version, this compiler's
/// version, the generated text itself (which also pins the `upstart-abi` path) and the
/// [`abi_fingerprint`] of the `upstart-abi` crate it builds against, so a plugin is never
/// served from the cache after that crate's sources changed under the same path.
pub fn cache_key(generated: &GeneratedCrate, abi_fingerprint: &str) -> String {
    let mut h = Sha256::new();
    for part in [
        generated.manifest.spec_hash.as_str(),
        &upstart_abi::ABI_VERSION.to_string(),
        env!("CARGO_PKG_VERSION"),
        &generated.cargo_toml,
        &generated.lib_rs,
        abi_fingerprint,
    ] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let digest = h.finalize();
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// A hash of the `upstart-abi` crate at `abi`: its `Cargo.toml` and every file under `src/`
/// (names and contents, in name order).
pub fn abi_fingerprint(abi: &Path) -> std::io::Result<String> {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(&path, files)?;
            } else {
                files.push(path);
            }
        }
        Ok(())
    }
    let mut files = vec![abi.join("Cargo.toml")];
    walk(&abi.join("src"), &mut files)?;
    files.sort();
    let mut h = Sha256::new();
    for file in &files {
        let name = file.strip_prefix(abi).unwrap_or(file);
        h.update(name.to_string_lossy().as_bytes());
        h.update([0u8]);
        h.update(std::fs::read(file)?);
        h.update([0u8]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The file name of a cdylib on this platform: `libupstart_plugin_kv_1_2.so`.
pub fn library_file(lib_name: &str) -> String {
    format!(
        "{}{lib_name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

/// Generates, builds and caches the plugin of a checked spec (one without errors).
/// `progress` receives one line per step, for people.
pub fn build_plugin(
    model: &SpecModel,
    spec_text: &str,
    options: &BuildOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<Built, BuildError> {
    let started = Instant::now();
    let (name, from, to) = (&model.spec.name.name, model.old.number, model.new.number);
    let out_dir = options
        .out_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("target/upstart").join(format!("{name}-{from}-{to}")));
    std::fs::create_dir_all(&options.cache_dir).map_err(io("create", &options.cache_dir))?;
    let cache_dir = options
        .cache_dir
        .canonicalize()
        .map_err(io("find", &options.cache_dir))?;
    let (abi_path, lock) = match &options.abi_path {
        Some(given) => {
            let abi = given
                .canonicalize()
                .map_err(io("find the `upstart-abi` crate at", given))?;
            let lock = abi
                .parent()
                .map(|p| p.join("Cargo.lock"))
                .filter(|p| p.is_file())
                .map(|p| std::fs::read_to_string(&p).map_err(io("read", &p)))
                .transpose()?;
            (abi, lock)
        }
        None => {
            let abi = abi_source::materialize(&cache_dir).map_err(io(
                "write the embedded `upstart-abi` crate into",
                &cache_dir.join("abi"),
            ))?;
            (abi, Some(abi_source::CARGO_LOCK.to_string()))
        }
    };
    let generated = match codegen::generate(model, spec_text, &abi_path) {
        Ok(g) => g,
        Err(CodegenError::Malformed { error, text }) => {
            let saved = out_dir.join("src").join("lib.rs.malformed");
            write(&saved, &text)?;
            return Err(BuildError::Malformed { error, saved });
        }
        Err(e) => return Err(BuildError::Codegen(e)),
    };
    let file = library_file(&generated.lib_name);
    let fingerprint =
        abi_fingerprint(&abi_path).map_err(io("read the `upstart-abi` crate at", &abi_path))?;
    let cached = cache_dir
        .join("plugins")
        .join(cache_key(&generated, &fingerprint))
        .join(&file);
    if cached.is_file() {
        progress(&format!(
            "plugin `{name}` {from} -> {to} is up to date (cached)"
        ));
        return Ok(Built {
            plugin: cached,
            cached: true,
            crate_dir: None,
        });
    }

    progress(&format!(
        "generating `{name}` {from} -> {to} into {}",
        out_dir.display()
    ));
    write(&out_dir.join("Cargo.toml"), &generated.cargo_toml)?;
    write(&out_dir.join("src").join("lib.rs"), &generated.lib_rs)?;
    if let Some(lock) = lock {
        write(&out_dir.join("Cargo.lock"), &lock)?;
    }
    let crate_dir = out_dir.canonicalize().map_err(io("find", &out_dir))?;

    progress(&format!(
        "building the plugin with cargo (target directory {})",
        cache_dir.display()
    ));
    let output = Command::new(&options.cargo)
        .arg("build")
        .arg("--release")
        .arg("--offline")
        .arg("--color")
        .arg("never")
        .arg("--manifest-path")
        .arg(crate_dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&cache_dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|error| BuildError::CargoNotRun {
            cargo: options.cargo.clone(),
            error,
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        return Err(BuildError::Cargo { crate_dir, stderr });
    }
    let artifact = cache_dir.join("release").join(&file);
    if !artifact.is_file() {
        return Err(BuildError::NoArtifact { path: artifact });
    }
    // Into the cache through a temporary name, so a reader never sees half a file.
    let dir = cached
        .parent()
        .map_or_else(|| cache_dir.clone(), Path::to_path_buf);
    std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
    let partial = dir.join(format!(".{file}.{}.partial", std::process::id()));
    std::fs::copy(&artifact, &partial).map_err(io("copy the plugin to", &partial))?;
    std::fs::rename(&partial, &cached).map_err(io("move the plugin to", &cached))?;
    let beside = crate_dir.join(&file);
    std::fs::copy(&artifact, &beside).map_err(io("copy the plugin to", &beside))?;
    progress(&format!(
        "built plugin `{name}` {from} -> {to} in {:.1}s",
        started.elapsed().as_secs_f64()
    ));
    Ok(Built {
        plugin: cached,
        cached: false,
        crate_dir: Some(crate_dir),
    })
}

fn write(path: &Path, text: &str) -> Result<(), BuildError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io("create", dir))?;
    }
    std::fs::write(path, text).map_err(io("write", path))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::abi_fingerprint;
    use std::path::Path;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// A plugin cached against one `upstart-abi` is not served after that crate's sources
    /// change under the same path (test support builds against the workspace's `abi/`, which
    /// is edited in place): any file, nested or not, and the manifest count.
    #[test]
    fn the_abi_fingerprint_follows_every_source_file() {
        let dir =
            std::env::temp_dir().join(format!("upstart-abi-fingerprint-{}", std::process::id()));
        write(
            &dir.join("Cargo.toml"),
            "[package]\nname = \"upstart-abi\"\n",
        );
        write(&dir.join("src/lib.rs"), "pub mod rt;\n");
        write(&dir.join("src/rt/mod.rs"), "pub fn f() {}\n");
        let first = abi_fingerprint(&dir).unwrap();
        assert_eq!(first, abi_fingerprint(&dir).unwrap(), "stable");
        write(&dir.join("src/rt/mod.rs"), "pub fn f() { let _ = 1; }\n");
        let nested = abi_fingerprint(&dir).unwrap();
        assert_ne!(first, nested, "a nested source file changed");
        write(&dir.join("src/rt/show.rs"), "\n");
        let added = abi_fingerprint(&dir).unwrap();
        assert_ne!(nested, added, "a source file was added");
        write(
            &dir.join("Cargo.toml"),
            "[package]\nname = \"upstart-abi\"\nversion = \"2\"\n",
        );
        assert_ne!(
            added,
            abi_fingerprint(&dir).unwrap(),
            "the manifest changed"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
