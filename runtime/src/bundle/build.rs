//! Making a bundle: load the plugin (checking it was built from the given spec), hash the
//! plugin and the node program (one binary, or every file of a release directory), sign the
//! manifest, and write the container atomically.

use super::container::SignedManifest;
use super::error::BundleError;
use super::manifest::{BundleFile, BundleManifest, FileRole, MANIFEST_FORMAT};
use super::program::ProgramSpec;
use crate::digest::Hasher;
use crate::plugin::{spec_hash, Expect, Plugin};
use ed25519_dalek::SigningKey;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// What goes into a bundle.
#[derive(Debug, Clone)]
pub struct BuildInput {
    /// The plugin cdylib built by `upstartc compile` from `spec`.
    pub plugin: PathBuf,
    /// The new version's node program: a file, or a directory (its release: every file under
    /// it, with its relative path and executable bit; symbolic links are refused).
    pub binary: PathBuf,
    /// The spec the plugin was built from.
    pub spec: PathBuf,
    /// The release number (per system, from 1; each new bundle of the system takes a higher
    /// one).
    pub release: u64,
    /// How nodes run and check the new program (signed into the manifest; empty: nothing said).
    pub program: ProgramSpec,
}

/// Builds the bundle of `input`, signed with `key`, into `out` (written beside it and renamed
/// into place, so a failure leaves no partial bundle). Returns its signed manifest.
///
/// Loading the plugin runs its code: bundle only plugins you built.
pub fn create(
    input: &BuildInput,
    key: &SigningKey,
    out: &Path,
) -> Result<SignedManifest, BundleError> {
    let spec_text =
        std::fs::read(&input.spec).map_err(|e| BundleError::io(&input.spec, "read", e))?;
    let expect = Expect {
        spec_hash: Some(spec_hash(&spec_text)),
        ..Expect::default()
    };
    let plugin = Plugin::load(&input.plugin, &expect).map_err(|e| BundleError::Build {
        reason: e.to_string(),
    })?;
    let pm = plugin.manifest().clone();
    drop(plugin);
    let mut files = vec![describe(&input.plugin, FileRole::Plugin, None)?];
    let mut sources = vec![input.plugin.clone()];
    if input.binary.is_dir() {
        for (name, path) in release_files(&input.binary)? {
            files.push(describe(&path, FileRole::File, Some(name))?);
            sources.push(path);
        }
    } else {
        files.push(describe(&input.binary, FileRole::Binary, None)?);
        sources.push(input.binary.clone());
    }
    let manifest = BundleManifest {
        format: MANIFEST_FORMAT,
        spec: pm.name,
        from: pm.from,
        to: pm.to,
        release: input.release,
        spec_hash: pm.spec_hash,
        schedule: pm.schedule,
        files,
        created_at: now_unix(),
        program: Some(input.program.clone()).filter(|p| !p.is_empty()),
    };
    manifest.validate(&super::Limits::default())?;
    let signed = SignedManifest::sign(manifest, key);
    let sources: Vec<&Path> = sources.iter().map(PathBuf::as_path).collect();
    write_container(&signed, &sources, out)?;
    tracing::info!(bundle = %signed.id(), out = %out.display(), "bundle written");
    Ok(signed)
}

/// Writes the container of `signed` with the files at `sources` (in manifest order) to `out`,
/// checking each file still has the size and hash the manifest says.
pub fn write_container(
    signed: &SignedManifest,
    sources: &[&Path],
    out: &Path,
) -> Result<(), BundleError> {
    let mut part = out.as_os_str().to_owned();
    part.push(".part");
    let part = PathBuf::from(part);
    let result = (|| {
        let file = File::create(&part).map_err(|e| BundleError::io(&part, "create", e))?;
        let mut w = BufWriter::new(file);
        let io = |e| BundleError::io(&part, "write", e);
        w.write_all(&signed.header_bytes()).map_err(io)?;
        for (entry, source) in signed.manifest.files.iter().zip(sources) {
            let (sha256, size) = read_hashed(source, |chunk| w.write_all(chunk).map_err(io))?;
            if size != entry.size || sha256 != entry.sha256 {
                return Err(BundleError::Build {
                    reason: format!("`{}` changed while it was being bundled", source.display()),
                });
            }
        }
        let file = w
            .into_inner()
            .map_err(|e| BundleError::io(&part, "write", e.into_error()))?;
        file.sync_all()
            .map_err(|e| BundleError::io(&part, "write", e))?;
        std::fs::rename(&part, out).map_err(|e| BundleError::io(out, "write", e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    result
}

/// Every file under the release directory `dir`: its relative path (`/`-separated) and its
/// path, sorted by relative path. Symbolic links and special files are refused.
fn release_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, BundleError> {
    let refuse = |path: &Path, why: &str| BundleError::Build {
        reason: format!("`{}` {why}", path.display()),
    };
    let mut out = Vec::new();
    let mut pending = vec![(dir.to_path_buf(), String::new())];
    while let Some((at, prefix)) = pending.pop() {
        let entries = std::fs::read_dir(&at).map_err(|e| BundleError::io(&at, "list", e))?;
        for entry in entries {
            let entry = entry.map_err(|e| BundleError::io(&at, "list", e))?;
            let path = entry.path();
            let name = entry
                .file_name()
                .into_string()
                .map_err(|_| refuse(&path, "has a name that is not UTF-8"))?;
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let kind = entry
                .file_type()
                .map_err(|e| BundleError::io(&path, "read", e))?;
            if kind.is_dir() {
                pending.push((path, rel));
            } else if kind.is_file() {
                if !super::manifest::relative_path(&rel) {
                    return Err(refuse(&path, "has a name a bundle cannot carry"));
                }
                out.push((rel, path));
            } else {
                return Err(refuse(
                    &path,
                    "is a symbolic link or a special file: a release carries regular files",
                ));
            }
        }
    }
    if out.is_empty() {
        return Err(refuse(dir, "holds no file"));
    }
    if out.len() > super::manifest::MAX_RELEASE_FILES {
        return Err(refuse(
            dir,
            &format!(
                "holds {} files, more than a bundle carries ({})",
                out.len(),
                super::manifest::MAX_RELEASE_FILES
            ),
        ));
    }
    out.sort();
    Ok(out)
}

/// The manifest entry of the file at `path`: its name (`name`, else its file name), size,
/// sha-256 and, for a release file, whether it is executable.
fn describe(path: &Path, role: FileRole, name: Option<String>) -> Result<BundleFile, BundleError> {
    let name = match name {
        Some(n) => n,
        None => path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| BundleError::Build {
                reason: format!("`{}` has no usable file name", path.display()),
            })?
            .to_string(),
    };
    let executable = role == FileRole::File && {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .map_err(|e| BundleError::io(path, "read", e))?
            .permissions()
            .mode()
            & 0o111
            != 0
    };
    let (sha256, size) = read_hashed(path, |_| Ok(()))?;
    Ok(BundleFile {
        role,
        name,
        sha256,
        size,
        executable,
    })
}

/// Reads the file at `path` in chunks, handing each to `each`; returns the file's sha-256 (hex)
/// and size, as read.
fn read_hashed(
    path: &Path,
    mut each: impl FnMut(&[u8]) -> Result<(), BundleError>,
) -> Result<(String, u64), BundleError> {
    let mut f = File::open(path).map_err(|e| BundleError::io(path, "open", e))?;
    let mut hasher = Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| BundleError::io(path, "read", e))?;
        if n == 0 {
            break;
        }
        let chunk = buf.get(..n).unwrap_or_default();
        hasher.update(chunk);
        each(chunk)?;
        size += n as u64;
    }
    Ok((hasher.finish(), size))
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
