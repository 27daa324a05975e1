//! The content-addressed store of verified bundles on disk, used by the server (bundles pushed
//! to it) and by nodes (bundles they download).
//!
//! ```text
//! ROOT/objects/<sha-256>      each file's bytes, named by content, read-only
//! ROOT/bundles/<id>.header    each bundle's signed header (manifest, key, signature)
//! ROOT/tmp/                   partial writes; emptied when the store is opened
//! ```
//!
//! Nothing enters `objects/` or `bundles/` before it is verified: files are written under
//! `tmp/`, hashed as they stream, fsynced, and renamed into place only once every check passed.
//! A bundle is registered (its header written) only after all its objects are in place.

use super::container::{read_exact, SignedManifest};
use super::error::BundleError;
use super::keys::TrustedKeys;
use super::manifest::FileRole;
use super::Limits;
use crate::digest::{hex, is_sha256_hex, Hasher};
use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

/// A store rooted at a directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// A verified bundle whose files are all in the store.
#[derive(Debug, Clone)]
pub struct StoredBundle {
    /// The bundle id: sha-256 of the manifest bytes.
    pub id: String,
    pub signed: SignedManifest,
    /// The plugin's object.
    pub plugin: PathBuf,
    /// The node binary's object (`None`: the bundle carries a release directory).
    pub binary: Option<PathBuf>,
}

impl Store {
    /// Opens (creating if needed) the store at `root`, and removes partial writes left by a
    /// crash.
    pub fn open(root: &Path) -> Result<Store, BundleError> {
        let store = Store {
            root: root.to_path_buf(),
        };
        for dir in [store.objects(), store.bundles(), store.tmp()] {
            fs::create_dir_all(&dir).map_err(|e| BundleError::io(&dir, "create", e))?;
        }
        let tmp = store.tmp();
        let entries = fs::read_dir(&tmp).map_err(|e| BundleError::io(&tmp, "list", e))?;
        for entry in entries.flatten() {
            let _ = fs::remove_file(entry.path());
        }
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn objects(&self) -> PathBuf {
        self.root.join("objects")
    }

    fn bundles(&self) -> PathBuf {
        self.root.join("bundles")
    }

    fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// The path of the object with content address `sha256`, if the store has it.
    pub fn object_path(&self, sha256: &str) -> Option<PathBuf> {
        if !is_sha256_hex(sha256) {
            return None;
        }
        let path = self.objects().join(sha256);
        path.is_file().then_some(path)
    }

    /// Imports a whole bundle container from `r`: verifies the header (trusted signer, sound
    /// manifest), streams each file into the store checking its size and content address, and
    /// refuses trailing bytes. On any error nothing is added.
    pub fn import(
        &self,
        r: impl Read,
        trust: &TrustedKeys,
        limits: &Limits,
    ) -> Result<StoredBundle, BundleError> {
        self.import_checked(r, trust, limits, |_| Ok(()))
    }

    /// [`import`](Self::import), with `check` run on the verified header before any file is
    /// read: a bundle it refuses costs no more than its header.
    pub fn import_checked(
        &self,
        r: impl Read,
        trust: &TrustedKeys,
        limits: &Limits,
        check: impl FnOnce(&SignedManifest) -> Result<(), BundleError>,
    ) -> Result<StoredBundle, BundleError> {
        let mut r = BufReader::with_capacity(1 << 16, r);
        let signed = SignedManifest::read_verified(&mut r, trust, limits)?;
        check(&signed)?;
        let mut staged = Vec::new();
        for file in &signed.manifest.files {
            let part = self.stage(&mut r, file.size, &file.sha256, &file.name)?;
            staged.push((part, file.sha256.clone()));
        }
        let mut extra = [0u8; 1];
        match r.read(&mut extra) {
            Ok(0) => {}
            Ok(_) => return Err(BundleError::TrailingData),
            Err(e) => return Err(BundleError::io("the bundle", "read", e)),
        }
        for (part, sha) in staged {
            self.commit(part, &sha)?;
        }
        self.write_header(&signed)?;
        tracing::info!(bundle = %signed.id(), spec = %signed.manifest.spec,
            from = signed.manifest.from, to = signed.manifest.to, key = %signed.key_id(),
            "bundle stored");
        self.bundle_of(signed)
    }

    /// [`import`](Self::import) of the container file at `path`.
    pub fn import_file(
        &self,
        path: &Path,
        trust: &TrustedKeys,
        limits: &Limits,
    ) -> Result<StoredBundle, BundleError> {
        let file = File::open(path).map_err(|e| BundleError::io(path, "open", e))?;
        self.import(file, trust, limits)
    }

    /// Verifies and registers a bundle header whose objects are already in the store (a node
    /// downloads the header, then each object with [`put_object`](Self::put_object)).
    pub fn put_header(
        &self,
        header: &[u8],
        trust: &TrustedKeys,
        limits: &Limits,
    ) -> Result<StoredBundle, BundleError> {
        let signed = SignedManifest::from_header_bytes(header, trust, limits)?;
        for file in &signed.manifest.files {
            if self.object_path(&file.sha256).is_none() {
                return Err(BundleError::Missing {
                    what: format!(
                        "object `{}` (file `{}`) of this bundle: download it first",
                        file.sha256, file.name
                    ),
                });
            }
        }
        self.write_header(&signed)?;
        self.bundle_of(signed)
    }

    /// Adds one object read from `r`, which must be exactly `size` bytes with sha-256 `sha256`.
    pub fn put_object(
        &self,
        sha256: &str,
        size: u64,
        r: impl Read,
    ) -> Result<PathBuf, BundleError> {
        if !is_sha256_hex(sha256) {
            return Err(BundleError::garbled(format!(
                "`{sha256}` is not a content address"
            )));
        }
        if let Some(path) = self.object_path(sha256) {
            return Ok(path);
        }
        let mut r = BufReader::with_capacity(1 << 16, r);
        let part = self.stage(&mut r, size, sha256, sha256)?;
        let mut extra = [0u8; 1];
        match r.read(&mut extra) {
            Ok(0) => {}
            Ok(_) => return Err(BundleError::TrailingData),
            Err(e) => return Err(BundleError::io("the object", "read", e)),
        }
        self.commit(part, sha256)
    }

    /// The stored bundle `id`, its header verified again against `trust`, its objects present.
    pub fn bundle(
        &self,
        id: &str,
        trust: &TrustedKeys,
        limits: &Limits,
    ) -> Result<StoredBundle, BundleError> {
        let header = self.header_bytes(id)?;
        let signed = SignedManifest::from_header_bytes(&header, trust, limits)?;
        if signed.id() != id {
            return Err(BundleError::garbled(format!(
                "the header stored as bundle `{id}` is of bundle `{}`",
                signed.id()
            )));
        }
        self.bundle_of(signed)
    }

    /// The stored header of bundle `id`, unverified.
    pub fn header_bytes(&self, id: &str) -> Result<Vec<u8>, BundleError> {
        if !is_sha256_hex(id) {
            return Err(BundleError::Missing {
                what: format!("bundle `{id}`"),
            });
        }
        let path = self.bundles().join(format!("{id}.header"));
        fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => BundleError::Missing {
                what: format!("bundle `{id}`"),
            },
            _ => BundleError::io(&path, "read", e),
        })
    }

    /// The ids of the stored bundles.
    pub fn bundle_ids(&self) -> Result<Vec<String>, BundleError> {
        let dir = self.bundles();
        let mut ids: Vec<String> = fs::read_dir(&dir)
            .map_err(|e| BundleError::io(&dir, "list", e))?
            .flatten()
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".header"))
                    .map(str::to_string)
            })
            .filter(|id| is_sha256_hex(id))
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Copies object `sha256` to `dest` atomically (a temporary beside it, fsync, rename) with
    /// Unix permissions `mode` (e.g. `0o755` for a node binary).
    pub fn install_object(&self, sha256: &str, dest: &Path, mode: u32) -> Result<(), BundleError> {
        let src = self
            .object_path(sha256)
            .ok_or_else(|| BundleError::Missing {
                what: format!("object `{sha256}`"),
            })?;
        crate::transform::fsutil::atomic_copy(&src, dest, mode)
            .map_err(|e| BundleError::io(dest, "install", e))
    }

    fn bundle_of(&self, signed: SignedManifest) -> Result<StoredBundle, BundleError> {
        let path_of = |role: FileRole| {
            signed
                .manifest
                .file(role)
                .and_then(|f| self.object_path(&f.sha256))
                .ok_or_else(|| BundleError::Missing {
                    what: format!("{} object of bundle `{}`", role.as_str(), signed.id()),
                })
        };
        let plugin = path_of(FileRole::Plugin)?;
        let binary = match signed.manifest.file(FileRole::Binary) {
            Some(_) => Some(path_of(FileRole::Binary)?),
            None => None,
        };
        Ok(StoredBundle {
            id: signed.id(),
            signed,
            plugin,
            binary,
        })
    }

    fn write_header(&self, signed: &SignedManifest) -> Result<(), BundleError> {
        let path = self.bundles().join(format!("{}.header", signed.id()));
        let part = self.part_path()?;
        let result = (|| {
            let mut f = File::create(&part)?;
            f.write_all(&signed.header_bytes())?;
            f.sync_all()?;
            fs::rename(&part, &path)?;
            crate::transform::fsutil::sync_dir(&self.bundles())
        })();
        result.map_err(|e| {
            let _ = fs::remove_file(&part);
            BundleError::io(&path, "write", e)
        })
    }

    /// A fresh path under `tmp/` for an upload in progress (removed when the store is opened).
    pub fn temp_path(&self) -> Result<PathBuf, BundleError> {
        self.part_path()
    }

    fn part_path(&self) -> Result<PathBuf, BundleError> {
        let mut n = [0u8; 12];
        getrandom::fill(&mut n).map_err(|e| BundleError::Build {
            reason: format!("no random bytes: {e}"),
        })?;
        Ok(self.tmp().join(format!("{}.part", hex(&n))))
    }

    /// Streams exactly `size` bytes of `r` into a new file under `tmp/`, fsynced, and checks
    /// their sha-256. The file is removed on error (and when the returned guard drops).
    fn stage(
        &self,
        r: &mut impl Read,
        size: u64,
        sha256: &str,
        name: &str,
    ) -> Result<Part, BundleError> {
        let path = self.part_path()?;
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| BundleError::io(&path, "create", e))?;
        let part = Part { path };
        let mut hasher = Hasher::new();
        let mut left = size;
        let mut buf = vec![0u8; 1 << 16];
        while left > 0 {
            let n = usize::try_from(left.min(buf.len() as u64)).unwrap_or(0);
            let chunk = buf.get_mut(..n).unwrap_or_default();
            read_exact(
                r,
                chunk,
                &format!("file `{name}` ({} of its {size} bytes are missing)", left),
            )?;
            hasher.update(chunk);
            file.write_all(chunk)
                .map_err(|e| BundleError::io(&part.path, "write", e))?;
            left -= n as u64;
        }
        file.sync_all()
            .map_err(|e| BundleError::io(&part.path, "write", e))?;
        let found = hasher.finish();
        if found != sha256 {
            return Err(BundleError::HashMismatch {
                name: name.to_string(),
                expected: sha256.to_string(),
                found,
            });
        }
        Ok(part)
    }

    /// Moves a verified part into `objects/` (read-only), unless that object is already there.
    fn commit(&self, part: Part, sha256: &str) -> Result<PathBuf, BundleError> {
        let dest = self.objects().join(sha256);
        if dest.is_file() {
            return Ok(dest);
        }
        set_read_only(&part.path)
            .map_err(|e| BundleError::io(&part.path, "set the permissions of", e))?;
        fs::rename(&part.path, &dest).map_err(|e| BundleError::io(&dest, "store", e))?;
        crate::transform::fsutil::sync_dir(&self.objects())
            .map_err(|e| BundleError::io(self.objects(), "sync", e))?;
        Ok(dest)
    }
}

/// A file under `tmp/`, removed when dropped unless it was renamed away.
struct Part {
    path: PathBuf,
}

impl Drop for Part {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(unix)]
fn set_read_only(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o444))
}

#[cfg(not(unix))]
fn set_read_only(path: &Path) -> std::io::Result<()> {
    let mut p = fs::metadata(path)?.permissions();
    p.set_readonly(true);
    fs::set_permissions(path, p)
}
