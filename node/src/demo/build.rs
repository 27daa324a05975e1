//! What the demo (and the rolling-upgrade tests) build before anything runs: the key-value
//! programs and `upstartc` (with cargo), the plugin of the kv 1 -> 2 spec with a short
//! schedule (with `upstartc compile`), a signing key and the signed bundle.

use runtime::bundle::{create, keys, BuildInput};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The programs the demo runs.
#[derive(Debug, Clone)]
pub struct Tools {
    pub workspace: PathBuf,
    pub kv_v1: PathBuf,
    pub kv_v2: PathBuf,
    pub upstartc: PathBuf,
    /// The LD_PRELOAD library (`--preload` of `upstart node`).
    pub preload: PathBuf,
}

/// The workspace this binary was built from.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Builds `kv-v1`, `kv-v2`, `upstartc` and the LD_PRELOAD library (debug) into `target_dir`,
/// printing cargo's progress through `progress`.
pub fn build_tools(
    workspace: &Path,
    target_dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<Tools, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    progress(
        "building the key-value programs, upstartc and the LD_PRELOAD library \
         (cargo build -p e2e -p upstartc -p upstart-preload)",
    );
    let out = Command::new(&cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "e2e",
            "--bins",
            "-p",
            "upstartc",
            "--bin",
            "upstartc",
            "-p",
            "upstart-preload",
            "--lib",
            "--manifest-path",
        ])
        .arg(workspace.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo build failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let bin = target_dir.join("debug");
    let tools = Tools {
        workspace: workspace.to_path_buf(),
        kv_v1: bin.join("kv-v1"),
        kv_v2: bin.join("kv-v2"),
        upstartc: bin.join("upstartc"),
        preload: bin.join("libupstart_preload.so"),
    };
    for p in [&tools.kv_v1, &tools.kv_v2, &tools.upstartc, &tools.preload] {
        if !p.is_file() {
            return Err(format!("cargo built no `{}`", p.display()));
        }
    }
    Ok(tools)
}

/// Writes `specs/kv/kv-1-2.ups` into `dir` with the schedule `rolling { batch: 1,
/// max_unavailable: 1 } order: node_id healthy_for: HEALTHY_FOR` (no canary pause): the demo's
/// and the tests' spec.
pub fn short_spec(workspace: &Path, dir: &Path, healthy_for: &str) -> Result<PathBuf, String> {
    short_spec_of(
        &workspace.join("specs").join("kv").join("kv-1-2.ups"),
        dir,
        healthy_for,
    )
}

/// [`short_spec`] of the spec at `source` (written as `<stem>-healthy-<HEALTHY_FOR>.ups`).
pub fn short_spec_of(source: &Path, dir: &Path, healthy_for: &str) -> Result<PathBuf, String> {
    let source = source.to_path_buf();
    let text = std::fs::read_to_string(&source)
        .map_err(|e| format!("cannot read `{}`: {e}", source.display()))?;
    let start = text
        .find("schedule {")
        .ok_or_else(|| format!("`{}` has no schedule", source.display()))?;
    let mut spec = text.get(..start).unwrap_or_default().to_string();
    spec.push_str(&format!(
        "schedule {{\n  rolling {{ batch: 1, max_unavailable: 1 }}\n  order: node_id\n  healthy_for: {healthy_for}\n}}\n"
    ));
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    let stem = source
        .file_stem()
        .map_or_else(|| "spec".into(), |s| s.to_string_lossy().into_owned());
    let path = dir.join(format!("{stem}-healthy-{healthy_for}.ups"));
    std::fs::write(&path, spec).map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
    Ok(path)
}

/// `upstartc compile SPEC -o OUT` (plugins cached under the workspace's `target/upstart`);
/// the plugin's path.
pub fn compile(tools: &Tools, spec: &Path, out: &Path) -> Result<PathBuf, String> {
    let cache = tools
        .workspace
        .join("target")
        .join("upstart")
        .join("target");
    let output = Command::new(&tools.upstartc)
        .arg("compile")
        .arg(spec)
        .arg("-o")
        .arg(out)
        .arg("--color")
        .arg("never")
        .env("UPSTART_CACHE_DIR", &cache)
        .env("UPSTART_ABI_PATH", tools.workspace.join("abi"))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `{}`: {e}", tools.upstartc.display()))?;
    if !output.status.success() {
        return Err(format!(
            "upstartc compile `{}` failed:\n{}",
            spec.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text.lines().last().unwrap_or_default().trim();
    let plugin = PathBuf::from(line);
    if !plugin.is_file() {
        return Err(format!("upstartc compile printed `{line}`, not a plugin"));
    }
    Ok(plugin)
}

/// A new signing key at `DIR/demo.key` (public key beside it): (private, public) paths.
pub fn keygen(dir: &Path) -> Result<(PathBuf, PathBuf), String> {
    keygen_named(dir, "demo.key")
}

/// A new key at `DIR/NAME` (public key beside it): (private, public) paths.
pub fn keygen_named(dir: &Path, name: &str) -> Result<(PathBuf, PathBuf), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    let key = keys::generate().map_err(|e| e.to_string())?;
    let path = dir.join(name);
    let public = keys::write_pair(&key, &path, true).map_err(|e| e.to_string())?;
    Ok((path, public))
}

/// Signs the bundle of `input` with the key at `key` into `out`; the bundle's id.
pub fn bundle(input: &BuildInput, key: &Path, out: &Path) -> Result<String, String> {
    let key = keys::read_signing_key(key).map_err(|e| e.to_string())?;
    let signed = create(input, &key, out).map_err(|e| e.to_string())?;
    Ok(signed.id())
}
