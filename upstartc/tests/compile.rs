//! `upstartc compile` end to end: a real `cargo build` of the key-value plugin, then the same
//! compile served from the cache; and the failures: a spec with errors, an unsupported spec,
//! and generated code that does not build (an internal compiler error that keeps the crate).
//!
//! Plugin builds share one cargo target directory under `CARGO_TARGET_TMPDIR`, so their
//! dependencies compile once per checkout.
#![allow(clippy::unwrap_used, reason = "tests")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    upstart_test_support::repo_root()
}

/// The tests share the cache (and one forgets its plugins): they run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("upstart-cache")
}

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Compiles a spec given as text, in a fresh directory for the test `test` (holding the cache
/// while it does): the directory and cargo's output.
fn compile_text(test: &str, spec_text: &str) -> (PathBuf, Output) {
    let _serial = serial();
    let dir = scratch(test);
    let spec = dir.join("spec.ups");
    std::fs::write(&spec, spec_text).unwrap();
    let out = compile(&spec, &dir.join("out"), &[]);
    (dir, out)
}

fn compile(spec: &Path, out: &Path, env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_upstartc"));
    cmd.arg("compile")
        .arg(spec)
        .arg("-o")
        .arg(out)
        .arg("--color")
        .arg("never");
    cmd.env("UPSTART_CACHE_DIR", cache_dir())
        .env_remove("UPSTART_ABI_PATH");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn compiles_the_kv_plugin_then_serves_it_from_the_cache() {
    let _serial = serial();
    let spec = root().join("specs/kv/kv-1-2.ups");
    let out = scratch("compile-kv");
    // Forget built plugins (not the compiled dependencies), so the first run really builds.
    let _ = std::fs::remove_dir_all(cache_dir().join("plugins"));

    let first = compile(&spec, &out, &[]);
    let (stdout, stderr) = (text(&first.stdout), text(&first.stderr));
    assert!(
        first.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert_eq!(
        stdout.lines().count(),
        1,
        "one line, the plugin's path: {stdout}"
    );
    let plugin = PathBuf::from(stdout.trim_end());
    assert!(plugin.is_file(), "{}", plugin.display());
    let file = plugin.file_name().unwrap().to_string_lossy().into_owned();
    assert!(file.ends_with(std::env::consts::DLL_SUFFIX), "{file}");
    assert!(
        stderr.contains("building the plugin with cargo"),
        "{stderr}"
    );
    for kept in ["Cargo.toml", "Cargo.lock", "src/lib.rs", file.as_str()] {
        assert!(
            out.join(kept).is_file(),
            "{kept} missing in {}",
            out.display()
        );
    }

    let started = Instant::now();
    let second = compile(&spec, &out, &[]);
    let elapsed = started.elapsed();
    let stderr = text(&second.stderr);
    assert!(second.status.success(), "{stderr}");
    assert_eq!(
        text(&second.stdout),
        stdout,
        "the cache serves the same plugin"
    );
    assert!(
        stderr.contains("up to date (cached)") && !stderr.contains("building"),
        "{stderr}"
    );
    assert!(
        elapsed < Duration::from_secs(10),
        "a cached compile took {elapsed:?}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

/// Specs under `tests/compile/` cover the constructs the examples do not: each must build.
#[test]
fn every_construct_spec_builds() {
    let _serial = serial();
    let dir = root().join("upstartc/tests/compile");
    let specs = upstart_test_support::ups_files(&dir, &[]);
    assert!(specs.len() >= 4, "{specs:?}");
    let out = scratch("compile-constructs");
    for spec in &specs {
        let name = spec.file_stem().unwrap().to_string_lossy().into_owned();
        let run = compile(spec, &out.join(&name), &[]);
        let stderr = text(&run.stderr);
        assert!(run.status.success(), "{}:\n{stderr}", spec.display());
        assert!(
            PathBuf::from(text(&run.stdout).trim_end()).is_file(),
            "{}",
            spec.display()
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_spec_with_errors_is_not_compiled() {
    let (dir, out) = compile_text(
        "compile-bad",
        "upgrade t 1 -> 2\nversion 1 { service S { fn f() -> u64 } }\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error[") && stderr.contains("checked 1 spec:"),
        "{stderr}"
    );
    assert!(!dir.join("out").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unsupported_spec_says_what_is_not_supported() {
    let (dir, out) = compile_text(
        "compile-unsupported",
        "upgrade t 1 -> 2\n\
         version 1 { record T { next: option<T> } service S { fn f() -> u64 } }\n\
         version 2 { record T { next: option<T> } service S { fn f() -> u64 } }\n\
         schedule { rolling { batch: 1, max_unavailable: 1 } }\n",
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: `T` contains itself") && stderr.contains("not supported yet"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn generated_code_that_does_not_build_is_an_internal_error_and_is_kept() {
    let _serial = serial();
    let dir = scratch("compile-ice");
    // An `upstart-abi` without the items the generated code uses.
    let abi = dir.join("abi");
    std::fs::create_dir_all(abi.join("src")).unwrap();
    std::fs::write(
        abi.join("Cargo.toml"),
        "[package]\nname = \"upstart-abi\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[lib]\nname = \"upstart_abi\"\n",
    )
    .unwrap();
    std::fs::write(abi.join("src/lib.rs"), "").unwrap();
    let out_dir = dir.join("out");
    let out = compile(
        &root().join("specs/kv/kv-1-2.ups"),
        &out_dir,
        &[("UPSTART_ABI_PATH", &abi)],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(
        stderr.contains("error: internal compiler error: the generated plugin did not build"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the generated crate is kept at"),
        "{stderr}"
    );
    assert!(
        stderr.contains("upstart_abi"),
        "cargo's errors are shown: {stderr}"
    );
    assert!(out_dir.join("src/lib.rs").is_file());
    let _ = std::fs::remove_dir_all(&dir);
}

/// An `upstartc` installed away from its source tree builds plugins (issue 13, item 7): the
/// binary copied alone into an empty directory, run from there without `UPSTART_ABI_PATH` and
/// with its own cache, generates a crate that names nothing of the source tree, and builds it.
#[test]
fn an_upstartc_copied_into_an_empty_directory_builds_plugins() {
    let _serial = serial();
    let dir = std::env::temp_dir().join(format!("upstartc-alone-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    let exe = dir.join("bin").join("upstartc");
    std::fs::copy(env!("CARGO_BIN_EXE_upstartc"), &exe).unwrap();
    std::fs::copy(root().join("specs/kv/kv-1-2.ups"), dir.join("kv-1-2.ups")).unwrap();

    let out = Command::new(&exe)
        .current_dir(&dir)
        .args(["compile", "kv-1-2.ups", "-o", "plugin", "--color", "never"])
        .env_remove("UPSTART_ABI_PATH")
        .env_remove("UPSTART_CACHE_DIR")
        .output()
        .unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let plugin = PathBuf::from(stdout.trim_end());
    assert!(plugin.is_file(), "{}", plugin.display());
    assert!(
        plugin.starts_with(dir.canonicalize().unwrap()),
        "the cache is where the user runs upstartc: {}",
        plugin.display()
    );
    let manifest = std::fs::read_to_string(dir.join("plugin/Cargo.toml")).unwrap();
    let source_tree = root().canonicalize().unwrap();
    assert!(
        !manifest.contains(source_tree.to_str().unwrap()),
        "the generated crate depends on nothing in the source tree `{}`:\n{manifest}",
        source_tree.display()
    );
    assert!(
        dir.join("plugin/Cargo.lock").is_file(),
        "the generated crate gets a lock file (versions resolve offline)"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
