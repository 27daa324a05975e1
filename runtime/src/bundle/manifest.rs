//! The bundle manifest: what a bundle upgrades (spec name, versions, release number, spec
//! hash, schedule) and
//! the content address (sha-256) and size of each file. It is signed as its canonical bytes:
//! compact JSON of [`BundleManifest`] in field order, as [`BundleManifest::canonical_bytes`]
//! writes it.

use super::error::BundleError;
use super::program::ProgramSpec;
use super::Limits;
use crate::digest::is_sha256_hex;
use serde::{Deserialize, Serialize};

/// The manifest format this runtime writes and reads (2: with a release number).
pub const MANIFEST_FORMAT: u32 = 2;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleManifest {
    /// [`MANIFEST_FORMAT`].
    pub format: u32,
    /// The `upgrade NAME` of the spec.
    pub spec: String,
    /// The version nodes upgrade from.
    pub from: u64,
    /// The version nodes upgrade to.
    pub to: u64,
    /// The release number, counted per system (`spec`) from 1: releases only move forward.
    /// The server refuses a bundle not newer than the newest it accepted for the system
    /// (unless the operator allows a downgrade), and a node one not newer than the bundle
    /// that installed the version it runs.
    pub release: u64,
    /// sha-256 of the spec text, lowercase hex (the plugin's manifest carries the same).
    pub spec_hash: String,
    /// The schedule as the plugin's manifest carries it (`rolling.batch` -> `1`).
    pub schedule: Vec<(String, String)>,
    /// The files, in the order the container holds them.
    pub files: Vec<BundleFile>,
    /// Seconds since the Unix epoch (UTC) when the bundle was made.
    pub created_at: u64,
    /// How nodes run and check the new version's program (absent: each node's own flags).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<ProgramSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleFile {
    pub role: FileRole,
    /// The file's name when it was bundled: a plain name for the plugin and a binary; for a
    /// file of a release directory, its path relative to the directory (`lib/util.py`: `/`
    /// separated, never absolute, no `.` or `..` component).
    pub name: String,
    /// Content address: sha-256 of the bytes, lowercase hex.
    pub sha256: String,
    pub size: u64,
    /// Installed executable (a file of a release directory that was executable when bundled).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub executable: bool,
}

/// The most files a release directory may hold.
pub const MAX_RELEASE_FILES: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileRole {
    /// The upgrade plugin (cdylib) built from the spec.
    Plugin,
    /// The new version's node program.
    Binary,
    /// A file of the new version's release directory (a program with its scripts, libraries,
    /// config), installed under its relative path; a bundle holds a binary or a release.
    File,
}

impl FileRole {
    pub fn as_str(self) -> &'static str {
        match self {
            FileRole::Plugin => "plugin",
            FileRole::Binary => "binary",
            FileRole::File => "file",
        }
    }
}

impl BundleManifest {
    /// The bytes that are signed: compact JSON, fields in declaration order.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // Serializing plain structs, strings and integers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Decodes manifest bytes and checks they are canonical and consistent.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<BundleManifest, BundleError> {
        let manifest: BundleManifest = serde_json::from_slice(bytes)
            .map_err(|e| BundleError::garbled(format!("its manifest does not decode: {e}")))?;
        if manifest.canonical_bytes() != bytes {
            return Err(BundleError::garbled(
                "its manifest is not in canonical form",
            ));
        }
        manifest.validate(limits)?;
        Ok(manifest)
    }

    /// Checks the manifest's fields: format, versions, names, content addresses, sizes, and
    /// exactly one plugin and either one binary or a release directory (whose bundle declares
    /// its command line).
    pub fn validate(&self, limits: &Limits) -> Result<(), BundleError> {
        let bad = |reason: String| Err(BundleError::garbled(reason));
        if self.format != MANIFEST_FORMAT {
            return bad(format!(
                "its manifest is of format {}, this runtime reads format {MANIFEST_FORMAT} (a bundle without a release number is made again with `upstart bundle --release N`)",
                self.format
            ));
        }
        if let Some(program) = &self.program {
            program.validate()?;
        }
        if self.release == 0 {
            return bad("its manifest's release number is 0: releases count from 1".into());
        }
        if self.spec.is_empty() || self.spec.len() > 200 {
            return bad("its manifest names no spec".into());
        }
        if self.from >= self.to {
            return bad(format!(
                "its manifest upgrades from version {} to version {}, which is not upward",
                self.from, self.to
            ));
        }
        if !is_sha256_hex(&self.spec_hash) {
            return bad(format!(
                "its manifest's spec hash `{}` is not a sha-256",
                self.spec_hash
            ));
        }
        let count = |role| self.files.iter().filter(|f| f.role == role).count();
        let (plugins, binaries, release) = (
            count(FileRole::Plugin),
            count(FileRole::Binary),
            count(FileRole::File),
        );
        if plugins != 1 {
            return bad(format!(
                "its manifest lists {plugins} files of role `plugin`, expected exactly one"
            ));
        }
        match (binaries, release) {
            (1, 0) => {}
            (0, 1..=MAX_RELEASE_FILES) => {
                let exec = self.program.as_ref().and_then(|p| p.exec.as_deref());
                match exec {
                    None => {
                        return bad(
                            "it carries a release directory but declares no command line (`upstart bundle --exec`)"
                                .into(),
                        )
                    }
                    Some(e) if e.contains("{program}") => {
                        return bad(format!(
                            "its command line `{e}` uses `{{program}}`, but it carries a release directory: use `{{release}}/PATH`"
                        ))
                    }
                    Some(_) => {}
                }
            }
            (0, 0) => return bad("its manifest lists no node program".into()),
            (1, _) => {
                return bad("its manifest lists both a binary and a release directory".into())
            }
            (b, r) => {
                return bad(format!(
                    "its manifest lists {b} binaries and {r} release files (at most one binary, at most {MAX_RELEASE_FILES} files)"
                ))
            }
        }
        let mut release_names = std::collections::BTreeSet::new();
        let mut total = 0u64;
        for file in &self.files {
            let ok = match file.role {
                FileRole::File => relative_path(&file.name),
                FileRole::Plugin | FileRole::Binary => plain_name(&file.name),
            };
            if !ok {
                return bad(format!(
                    "its manifest names a file `{}`, which is not a {}",
                    file.name,
                    match file.role {
                        FileRole::File => "relative path inside the release directory",
                        FileRole::Plugin | FileRole::Binary => "plain file name",
                    }
                ));
            }
            if file.role == FileRole::File && !release_names.insert(file.name.as_str()) {
                return bad(format!("its manifest names the file `{}` twice", file.name));
            }
            if !is_sha256_hex(&file.sha256) {
                return bad(format!(
                    "the content address `{}` of file `{}` is not a sha-256",
                    file.sha256, file.name
                ));
            }
            if file.size > limits.max_file {
                return Err(BundleError::Oversized {
                    what: format!("file `{}` of the bundle", file.name),
                    size: file.size,
                    limit: limits.max_file,
                });
            }
            total = total.saturating_add(file.size);
        }
        // A file may not also be a directory of another (`a` and `a/b`).
        for name in &release_names {
            let mut prefix = String::new();
            for part in name.split('/') {
                if !prefix.is_empty() && release_names.contains(prefix.as_str()) {
                    return bad(format!(
                        "its manifest names `{prefix}` as a file and as the directory of `{name}`"
                    ));
                }
                if !prefix.is_empty() {
                    prefix.push('/');
                }
                prefix.push_str(part);
            }
        }
        if total > limits.max_total {
            return Err(BundleError::Oversized {
                what: "the bundle's files together".into(),
                size: total,
                limit: limits.max_total,
            });
        }
        Ok(())
    }

    /// The file of `role` (a validated manifest has exactly one).
    pub fn file(&self, role: FileRole) -> Option<&BundleFile> {
        self.files.iter().find(|f| f.role == role)
    }
}

/// A path inside a release directory: `/`-separated plain names (so never absolute, never
/// `.` or `..`, no empty component), at most 4096 bytes.
pub fn relative_path(name: &str) -> bool {
    name.len() <= 4096 && name.split('/').all(plain_name)
}

/// A plain file name: non-empty, at most 255 bytes, no separators, not `.` or `..`, printable.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\'])
        && !name.chars().any(char::is_control)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A valid manifest (of files that exist nowhere), for the bundle modules' tests.
    pub(crate) fn manifest() -> BundleManifest {
        BundleManifest {
            format: MANIFEST_FORMAT,
            spec: "kv".into(),
            from: 1,
            to: 2,
            release: 1,
            spec_hash: "a".repeat(64),
            schedule: vec![("rolling.batch".into(), "1".into())],
            files: vec![
                BundleFile {
                    role: FileRole::Plugin,
                    name: "libkv.so".into(),
                    sha256: "b".repeat(64),
                    size: 10,
                    executable: false,
                },
                BundleFile {
                    role: FileRole::Binary,
                    name: "kv".into(),
                    sha256: "c".repeat(64),
                    size: 20,
                    executable: false,
                },
            ],
            created_at: 1_700_000_000,
            program: None,
        }
    }

    #[test]
    fn canonical_round_trip() {
        let m = manifest();
        let bytes = m.canonical_bytes();
        assert_eq!(
            BundleManifest::parse(&bytes, &Limits::default()).unwrap(),
            m
        );
    }

    #[test]
    fn non_canonical_is_refused() {
        let bytes = serde_json::to_vec_pretty(&manifest()).unwrap();
        let e = BundleManifest::parse(&bytes, &Limits::default()).unwrap_err();
        assert!(e.to_string().contains("canonical"), "{e}");
    }

    #[test]
    fn bad_fields_are_refused() {
        let limits = Limits::default();
        type Change = fn(&mut BundleManifest);
        let cases: Vec<(Change, &str)> = vec![
            (|m| m.format = 9, "format 9"),
            (|m| m.to = 1, "not upward"),
            (|m| m.release = 0, "release number is 0"),
            (|m| m.spec_hash = "xyz".into(), "spec hash `xyz`"),
            (|m| m.files[0].name = "../x".into(), "`../x`"),
            (|m| m.files[1].role = FileRole::Plugin, "role `plugin`"),
            (|m| m.files[0].sha256 = "B".repeat(64), "not a sha-256"),
            (|m| m.files[1].size = u64::MAX, "over the limit"),
            (|m| m.spec = String::new(), "names no spec"),
        ];
        for (change, want) in cases {
            let mut m = manifest();
            change(&mut m);
            let e = m.validate(&limits).unwrap_err().to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        let mut v = serde_json::to_value(manifest()).unwrap();
        v["extra"] = serde_json::json!(1);
        let bytes = serde_json::to_vec(&v).unwrap();
        let e = BundleManifest::parse(&bytes, &Limits::default()).unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
    }
}
