//! Bundles end to end: built from the fixture plugin, imported into a store, and every kind of
//! bad bundle refused with its own error and nothing installed.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use runtime::bundle::{
    create, keys, BuildInput, BundleError, Limits, SignedManifest, Store, TrustedKeys,
};
use std::fs;
use std::path::{Path, PathBuf};
use upstart_test_support::fixture;

struct Fixture {
    dir: tempfile::TempDir,
    key: ed25519_dalek::SigningKey,
    bundle: PathBuf,
    signed: SignedManifest,
}

fn spec() -> PathBuf {
    fixture::spec_1_2()
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let binary = dir.path().join("calc-v2");
    fs::write(&binary, b"#!/bin/sh\necho calc version 2\n".repeat(1000)).unwrap();
    let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
    let bundle = dir.path().join("calc.bundle");
    let input = BuildInput {
        plugin: fixture::plugin_1_2().to_path_buf(),
        binary,
        spec: spec(),
        release: 1,
        program: Default::default(),
    };
    let signed = create(&input, &key, &bundle).unwrap();
    Fixture {
        dir,
        key,
        bundle,
        signed,
    }
}

fn trust(f: &Fixture) -> TrustedKeys {
    TrustedKeys::new(vec![f.key.verifying_key()])
}

/// What the store holds: object and bundle file names.
fn contents(store: &Store) -> (Vec<String>, Vec<String>) {
    let list = |d: &str| {
        let mut v: Vec<String> = fs::read_dir(store.root().join(d))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    (list("objects"), list("bundles"))
}

fn refuse(f: &Fixture, bytes: &[u8], limits: &Limits) -> BundleError {
    let store = Store::open(&f.dir.path().join(format!("store-{}", rand_suffix()))).unwrap();
    let e = store
        .import(bytes, &trust(f), limits)
        .expect_err("the bad bundle is refused");
    assert_eq!(
        contents(&store),
        (vec![], vec![]),
        "nothing installed after: {e}"
    );
    assert!(
        fs::read_dir(store.root().join("tmp"))
            .unwrap()
            .next()
            .is_none(),
        "no leftovers after: {e}"
    );
    e
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

#[test]
fn a_built_bundle_carries_the_plugin_manifest_and_imports() {
    let f = fixture();
    let m = &f.signed.manifest;
    assert_eq!((m.spec.as_str(), m.from, m.to), ("fixture", 1, 2));
    assert_eq!(m.spec_hash, fixture::hash_1_2());
    assert_eq!(
        m.schedule,
        vec![("rolling.batch".to_string(), "1".to_string())]
    );
    let store = Store::open(&f.dir.path().join("store")).unwrap();
    let stored = store
        .import_file(&f.bundle, &trust(&f), &Limits::default())
        .unwrap();
    assert_eq!(stored.id, f.signed.id());
    assert_eq!(
        fs::read(&stored.plugin).unwrap(),
        fs::read(fixture::plugin_1_2()).unwrap()
    );
    assert!(fs::read(stored.binary.as_ref().unwrap())
        .unwrap()
        .starts_with(b"#!/bin/sh"));
    let (objects, bundles) = contents(&store);
    assert_eq!(objects.len(), 2);
    assert_eq!(bundles, vec![format!("{}.header", stored.id)]);
    // Importing again is a no-op; reading back re-verifies.
    store
        .import_file(&f.bundle, &trust(&f), &Limits::default())
        .unwrap();
    let again = store
        .bundle(&stored.id, &trust(&f), &Limits::default())
        .unwrap();
    assert_eq!(again.signed, stored.signed);
    assert_eq!(store.bundle_ids().unwrap(), vec![stored.id.clone()]);
    // The stored plugin loads.
    let plugin =
        runtime::plugin::Plugin::load(&stored.plugin, &runtime::plugin::Expect::default()).unwrap();
    assert_eq!(plugin.manifest().name, "fixture");
}

#[test]
fn unknown_key_is_refused() {
    let f = fixture();
    let bytes = fs::read(&f.bundle).unwrap();
    let store = Store::open(&f.dir.path().join("s")).unwrap();
    let other = TrustedKeys::new(vec![
        ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key()
    ]);
    let e = store
        .import(bytes.as_slice(), &other, &Limits::default())
        .unwrap_err();
    assert!(matches!(e, BundleError::UnknownKey { .. }), "{e:?}");
    assert_eq!(e.to_string(), format!("the bundle is signed by key `{}`, which is not trusted: pass its public key with `--trust`", f.signed.key_id()));
    assert_eq!(contents(&store), (vec![], vec![]));
}

#[test]
fn altered_manifest_is_a_bad_signature() {
    let f = fixture();
    let mut bytes = fs::read(&f.bundle).unwrap();
    let at = bytes.windows(9).position(|w| w == b"\"fixture\"").unwrap();
    bytes[at + 1] = b'F';
    let e = refuse(&f, &bytes, &Limits::default());
    assert!(matches!(e, BundleError::BadSignature { .. }), "{e:?}");
    assert!(e.to_string().contains("was altered after signing"), "{e}");
}

#[test]
fn altered_file_is_a_hash_mismatch() {
    let f = fixture();
    let mut bytes = fs::read(&f.bundle).unwrap();
    let last = bytes.len() - 10;
    bytes[last] ^= 1;
    let e = refuse(&f, &bytes, &Limits::default());
    match &e {
        BundleError::HashMismatch { name, .. } => assert_eq!(name, "calc-v2"),
        other => panic!("{other:?}"),
    }
    assert!(
        e.to_string()
            .starts_with("file `calc-v2` of the bundle has sha-256 `"),
        "{e}"
    );
}

#[test]
fn truncation_anywhere_is_refused() {
    let f = fixture();
    let bytes = fs::read(&f.bundle).unwrap();
    let header = f.signed.header_bytes().len();
    let plugin = f.signed.manifest.files[0].size as usize;
    for cut in [
        0,
        5,
        12,
        20,
        header - 1,
        header,
        header + 1,
        header + plugin - 1,
        header + plugin,
        header + plugin + 7,
        bytes.len() - 1,
    ] {
        let e = refuse(&f, &bytes[..cut], &Limits::default());
        assert!(
            matches!(e, BundleError::Truncated { .. }),
            "cut at {cut}: {e:?}"
        );
    }
    let e = refuse(&f, &bytes[..header + plugin + 7], &Limits::default());
    assert!(
        e.to_string()
            .starts_with("the bundle is truncated: it ends inside file `calc-v2`"),
        "{e}"
    );
}

#[test]
fn trailing_bytes_are_refused() {
    let f = fixture();
    let mut bytes = fs::read(&f.bundle).unwrap();
    bytes.extend_from_slice(b"extra");
    let e = refuse(&f, &bytes, &Limits::default());
    assert!(matches!(e, BundleError::TrailingData), "{e:?}");
}

#[test]
fn oversized_files_are_refused_before_reading_them() {
    let f = fixture();
    let bytes = fs::read(&f.bundle).unwrap();
    let limits = Limits {
        max_file: 100,
        ..Limits::default()
    };
    let e = refuse(&f, &bytes, &limits);
    assert!(matches!(e, BundleError::Oversized { .. }), "{e:?}");
    assert!(e.to_string().contains("over the limit of 100 bytes"), "{e}");
}

#[test]
fn garbage_is_refused() {
    let f = fixture();
    let e = refuse(
        &f,
        b"PK\x03\x04 this is a zip file, not a bundle",
        &Limits::default(),
    );
    assert!(matches!(e, BundleError::NotABundle), "{e:?}");
    // A garbled manifest length.
    let mut bytes = fs::read(&f.bundle).unwrap();
    bytes[12..16].copy_from_slice(&[0, 0, 0, 3]);
    let e = refuse(&f, &bytes, &Limits::default());
    assert!(
        matches!(
            e,
            BundleError::UnknownKey { .. } | BundleError::BadSignature { .. }
        ),
        "{e:?}"
    );
}

#[test]
fn byte_flips_through_the_bundle_are_refused() {
    let f = fixture();
    let bytes = fs::read(&f.bundle).unwrap();
    let store = Store::open(&f.dir.path().join("flips")).unwrap();
    // A stride through the header (every byte is in the unit tests) and the files.
    let header = f.signed.header_bytes().len();
    let positions: Vec<usize> = (0..header)
        .step_by(11)
        .chain((header..bytes.len()).step_by((bytes.len() - header) / 24 + 1))
        .collect();
    for i in positions {
        let mut bad = bytes.clone();
        bad[i] ^= 0x40;
        assert!(
            store
                .import(bad.as_slice(), &trust(&f), &Limits::default())
                .is_err(),
            "flip at {i} accepted"
        );
    }
    assert_eq!(contents(&store), (vec![], vec![]));
}

#[test]
fn the_plugin_must_match_the_spec() {
    let f = fixture();
    let other_spec = f.dir.path().join("other.ups");
    fs::write(&other_spec, "upgrade fixture 1 -> 2\n// edited\n").unwrap();
    let input = BuildInput {
        plugin: fixture::plugin_1_2().to_path_buf(),
        binary: f.bundle.clone(),
        spec: other_spec,
        release: 1,
        program: Default::default(),
    };
    let out = f.dir.path().join("x.bundle");
    let e = create(&input, &f.key, &out).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("cannot build the bundle: plugin `"),
        "{e}"
    );
    assert!(e.to_string().contains("spec hash"), "{e}");
    assert!(!out.exists());
}

#[test]
fn nodes_download_objects_then_the_header() {
    let f = fixture();
    let server = Store::open(&f.dir.path().join("server")).unwrap();
    let stored = server
        .import_file(&f.bundle, &trust(&f), &Limits::default())
        .unwrap();
    let node = Store::open(&f.dir.path().join("node")).unwrap();
    let header = server.header_bytes(&stored.id).unwrap();
    let e = node
        .put_header(&header, &trust(&f), &Limits::default())
        .unwrap_err();
    assert!(matches!(e, BundleError::Missing { .. }), "{e:?}");
    for file in &stored.signed.manifest.files {
        let bytes = fs::read(server.object_path(&file.sha256).unwrap()).unwrap();
        let e = node
            .put_object(&file.sha256, file.size, &bytes[1..])
            .unwrap_err();
        assert!(matches!(e, BundleError::Truncated { .. }), "{e:?}");
        let mut wrong = bytes.clone();
        wrong[0] ^= 1;
        let e = node
            .put_object(&file.sha256, file.size, wrong.as_slice())
            .unwrap_err();
        assert!(matches!(e, BundleError::HashMismatch { .. }), "{e:?}");
        node.put_object(&file.sha256, file.size, bytes.as_slice())
            .unwrap();
    }
    let got = node
        .put_header(&header, &trust(&f), &Limits::default())
        .unwrap();
    assert_eq!(got.id, stored.id);
    let dest = f.dir.path().join("installed-calc");
    node.install_object(&got.signed.manifest.files[1].sha256, &dest, 0o755)
        .unwrap();
    assert_eq!(
        fs::read(&dest).unwrap(),
        fs::read(got.binary.as_ref().unwrap()).unwrap()
    );
}

#[test]
fn key_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k");
    let key = keys::generate().unwrap();
    let public = keys::write_pair(&key, &path, false).unwrap();
    assert_eq!(public, dir.path().join("k.pub"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert_eq!(
        keys::read_signing_key(&path).unwrap().to_bytes(),
        key.to_bytes()
    );
    assert_eq!(keys::read_public_key(&public).unwrap(), key.verifying_key());
    let e = keys::write_pair(&key, &path, false).unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    let e = keys::read_public_key(&path).unwrap_err();
    assert!(e.to_string().contains("it is a private key"), "{e}");
    let e = keys::read_signing_key(&public).unwrap_err();
    assert!(e.to_string().contains("it is a public key"), "{e}");
    fs::write(dir.path().join("junk"), "hello").unwrap();
    let e = keys::read_public_key(&dir.path().join("junk")).unwrap_err();
    assert!(
        e.to_string()
            .contains("does not start with `upstart-ed25519-public-key`"),
        "{e}"
    );
}

/// What a bundle says about running its program (the health probe) is signed with its
/// manifest: it reads back from the store, and altering it breaks the signature.
#[test]
fn the_declared_health_probe_is_signed_into_the_manifest() {
    let f = fixture();
    assert_eq!(
        f.signed.manifest.program, None,
        "nothing said, nothing written"
    );
    let probe = runtime::bundle::HealthProbe::new("ping", serde_json::json!({"deep": true}));
    let input = BuildInput {
        plugin: fixture::plugin_1_2().to_path_buf(),
        binary: f.dir.path().join("calc-v2"),
        spec: spec(),
        release: 2,
        program: runtime::bundle::ProgramSpec {
            health: Some(probe.clone()),
            ..Default::default()
        },
    };
    let out = f.dir.path().join("probe.bundle");
    let signed = create(&input, &f.key, &out).unwrap();
    let store = Store::open(&f.dir.path().join("store")).unwrap();
    let stored = store
        .import_file(&out, &trust(&f), &Limits::default())
        .unwrap();
    assert_eq!(stored.id, signed.id());
    let read = stored.signed.manifest.program.unwrap();
    assert_eq!(read.health, Some(probe));
    let mut bytes = fs::read(&out).unwrap();
    let at = bytes.windows(6).position(|w| w == b"\"ping\"").unwrap();
    bytes[at + 1] = b'P';
    let e = refuse(&f, &bytes, &Limits::default());
    assert!(matches!(e, BundleError::BadSignature { .. }), "{e:?}");
}

fn release_input(dir: &Path, exec: &str) -> BuildInput {
    BuildInput {
        plugin: fixture::plugin_1_2().to_path_buf(),
        binary: dir.to_path_buf(),
        spec: spec(),
        release: 3,
        program: runtime::bundle::ProgramSpec {
            exec: Some(exec.into()),
            ..Default::default()
        },
    }
}

/// A bundle carries a release directory (issue 13, item 2): every file under it with its
/// relative path and executable bit, hashed and signed as the rest.
#[test]
fn a_release_directory_is_packed_with_paths_and_modes() {
    use runtime::bundle::FileRole;
    use std::os::unix::fs::PermissionsExt;
    let f = fixture();
    let dir = f.dir.path().join("release");
    fs::create_dir_all(dir.join("lib/deep")).unwrap();
    fs::write(
        dir.join("run.sh"),
        "#!/bin/sh\nexec python3 \"$(dirname \"$0\")/app.py\" \"$@\"\n",
    )
    .unwrap();
    fs::set_permissions(dir.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(dir.join("app.py"), "print('hello')\n").unwrap();
    fs::write(dir.join("lib/deep/conf.json"), "{}\n").unwrap();
    let out = f.dir.path().join("release.bundle");
    let input = release_input(&dir, "{release}/run.sh --port {port}");
    let signed = create(&input, &f.key, &out).unwrap();
    let files: Vec<(FileRole, &str, bool)> = signed
        .manifest
        .files
        .iter()
        .map(|x| (x.role, x.name.as_str(), x.executable))
        .collect();
    assert_eq!(
        files[1..],
        [
            (FileRole::File, "app.py", false),
            (FileRole::File, "lib/deep/conf.json", false),
            (FileRole::File, "run.sh", true),
        ]
    );
    let store = Store::open(&f.dir.path().join("store")).unwrap();
    let stored = store
        .import_file(&out, &trust(&f), &Limits::default())
        .unwrap();
    assert_eq!(stored.binary, None);
    // Without a command line, or naming `{program}`, a release cannot be run: refused.
    let mut no_exec = release_input(&dir, "x");
    no_exec.program = Default::default();
    let e = create(&no_exec, &f.key, &out).unwrap_err().to_string();
    assert!(e.contains("declares no command line"), "{e}");
    let e = create(
        &release_input(&dir, "{program} --port {port}"),
        &f.key,
        &out,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("uses `{program}`"), "{e}");
    // Symbolic links are not followed into the bundle.
    std::os::unix::fs::symlink("/etc/passwd", dir.join("passwd")).unwrap();
    let e = create(&input, &f.key, &out).unwrap_err().to_string();
    assert!(e.contains("symbolic link"), "{e}");
}

/// A hostile bundle, validly signed by a trusted key, whose release names escape the
/// directory (`../`, absolute, empty or `.` components, a file that is also a directory):
/// refused on import, nothing installed.
#[test]
fn a_release_path_that_escapes_its_directory_is_refused() {
    use runtime::bundle::build::write_container;
    use runtime::bundle::{BundleFile, FileRole};
    let f = fixture();
    let payload = f.dir.path().join("payload");
    fs::write(&payload, b"owned\n").unwrap();
    let sha = runtime::digest::sha256_hex(b"owned\n");
    let plugin = f.signed.manifest.files[0].clone();
    for names in [
        vec!["../evil"],
        vec!["a/../../evil"],
        vec!["/etc/cron.d/evil"],
        vec!["a//b"],
        vec!["./a"],
        vec!["a/."],
        vec!["a\\..\\b"],
        vec![""],
        vec!["a", "a/b"],
        vec!["a", "a"],
    ] {
        let mut manifest = f.signed.manifest.clone();
        manifest.release = 9;
        manifest.program = Some(runtime::bundle::ProgramSpec {
            exec: Some("{release}/a --port {port}".into()),
            ..Default::default()
        });
        manifest.files = vec![plugin.clone()];
        for name in &names {
            manifest.files.push(BundleFile {
                role: FileRole::File,
                name: name.to_string(),
                sha256: sha.clone(),
                size: 6,
                executable: true,
            });
        }
        let signed = SignedManifest::sign(manifest, &f.key);
        let out = f.dir.path().join("hostile.bundle");
        let mut sources = vec![fixture::plugin_1_2()];
        sources.extend(names.iter().map(|_| payload.as_path()));
        write_container(&signed, &sources, &out).unwrap();
        let e = refuse(&f, &fs::read(&out).unwrap(), &Limits::default());
        assert!(matches!(e, BundleError::Garbled { .. }), "{names:?}: {e:?}");
        assert!(
            e.to_string()
                .contains("relative path inside the release directory")
                || e.to_string().contains("twice")
                || e.to_string().contains("as a file and as the directory"),
            "{names:?}: {e}"
        );
    }
}
