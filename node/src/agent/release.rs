//! A bundle's release directory unpacked on the node: every file of role `file` installed
//! from the store under `DATA/release/<bundle>/<its relative path>` (executable when it was
//! bundled so), into a private directory renamed into place once whole, so a program never
//! starts from half a release. Each name is checked again here, whatever the manifest's
//! validation said: only plain components, nothing that leaves the directory.

use runtime::bundle::manifest::relative_path;
use runtime::bundle::{BundleFile, FileRole, Store};
use std::path::{Component, Path};

/// Installs the release files of `files` into `dest` (replacing what is there).
pub fn install(store: &Store, files: &[BundleFile], dest: &Path) -> Result<(), String> {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let partial = dest.with_file_name(format!(".{name}.partial"));
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial)
        .map_err(|e| format!("cannot create `{}`: {e}", partial.display()))?;
    for file in files.iter().filter(|f| f.role == FileRole::File) {
        let inside = relative_path(&file.name)
            && Path::new(&file.name)
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
        if !inside {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(format!(
                "the release file `{}` is not a relative path inside its directory",
                file.name
            ));
        }
        let to = partial.join(&file.name);
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
        }
        let mode = if file.executable { 0o755 } else { 0o644 };
        store
            .install_object(&file.sha256, &to, mode)
            .map_err(|e| e.to_string())?;
    }
    if dest.exists() {
        std::fs::remove_dir_all(dest)
            .map_err(|e| format!("cannot replace `{}`: {e}", dest.display()))?;
    }
    std::fs::rename(&partial, dest)
        .map_err(|e| format!("cannot move the release into `{}`: {e}", dest.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, sha256: &str, executable: bool) -> BundleFile {
        BundleFile {
            role: FileRole::File,
            name: name.into(),
            sha256: sha256.into(),
            size: 3,
            executable,
        }
    }

    #[test]
    fn installs_paths_and_modes_and_refuses_escapes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store")).unwrap();
        let sha = runtime::digest::sha256_hex(b"hi\n");
        store.put_object(&sha, 3, &b"hi\n"[..]).unwrap();
        let dest = dir.path().join("release").join("abc");
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        install(
            &store,
            &[
                file("run.sh", &sha, true),
                file("lib/conf.txt", &sha, false),
            ],
            &dest,
        )
        .unwrap();
        let mode = |p: &str| {
            std::fs::metadata(dest.join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("run.sh"), 0o755);
        assert_eq!(mode("lib/conf.txt"), 0o644);
        assert_eq!(std::fs::read(dest.join("lib/conf.txt")).unwrap(), b"hi\n");
        for bad in ["../evil", "/tmp/evil", "a/../../evil", "a//b"] {
            let e = install(&store, &[file(bad, &sha, false)], &dest).unwrap_err();
            assert!(e.contains("not a relative path"), "{bad}: {e}");
        }
        assert!(!dir.path().join("evil").exists() && !dir.path().join("release/evil").exists());
        assert!(
            dest.join("run.sh").is_file(),
            "a refused release leaves the installed one"
        );
    }
}
