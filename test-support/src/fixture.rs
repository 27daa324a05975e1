//! The fixture plugin (`plugin-host/tests/fixture-plugin`, a hand-written stand-in for a
//! generated plugin) built in its variants, each once per test binary and into its own target
//! directory under the workspace's `target/` (the outer cargo holds the lock of the workspace's
//! own build directory). The plugin host's, the runtime's and the `upstart` binary's tests load
//! it.

use std::env::consts::{DLL_PREFIX, DLL_SUFFIX};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// One build of the fixture: what it claims to be.
struct Variant {
    /// Under the workspace's `target/`.
    target_dir: &'static str,
    /// `FIXTURE_ABI_VERSION`, or the real ABI version.
    abi: Option<u32>,
    from: u64,
    to: u64,
    /// The spec it stands for, in tests/fixture-plugin/.
    spec: &'static str,
}

const V1_2: Variant = Variant {
    target_dir: "fixture-plugin",
    abi: None,
    from: 1,
    to: 2,
    spec: "spec-1-2.ups",
};
const V2_3: Variant = Variant {
    target_dir: "fixture-plugin-2to3",
    abi: None,
    from: 2,
    to: 3,
    spec: "spec-2-3.ups",
};
const ABI_99: Variant = Variant {
    target_dir: "fixture-plugin-abi99",
    abi: Some(99),
    from: 1,
    to: 2,
    spec: "spec-1-2.ups",
};

/// `plugin-host/tests/fixture-plugin/`.
pub fn fixture_dir() -> PathBuf {
    crate::repo_root()
        .join("plugin-host")
        .join("tests")
        .join("fixture-plugin")
}

/// The spec `fixture 1 -> 2` stands for.
pub fn spec_1_2() -> PathBuf {
    fixture_dir().join(V1_2.spec)
}

/// The sha-256 of the spec text of `fixture 1 -> 2`, as its manifest carries it.
pub fn hash_1_2() -> String {
    spec_hash(&V1_2)
}

/// The sha-256 of the spec text of `fixture 2 -> 3`.
pub fn hash_2_3() -> String {
    spec_hash(&V2_3)
}

fn spec_hash(v: &Variant) -> String {
    crate::sha256_hex(crate::read(&fixture_dir().join(v.spec)).as_bytes())
}

/// The plugin `fixture 1 -> 2`.
pub fn plugin_1_2() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build(&V1_2))
}

/// The plugin `fixture 2 -> 3`.
pub fn plugin_2_3() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build(&V2_3))
}

/// `fixture 1 -> 2` claiming ABI version 99.
pub fn plugin_abi_99() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build(&ABI_99))
}

fn build(v: &Variant) -> PathBuf {
    let target = crate::repo_root().join("target").join(v.target_dir);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(fixture_dir().join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .env("FIXTURE_FROM", v.from.to_string())
        .env("FIXTURE_TO", v.to.to_string())
        .env("FIXTURE_SPEC_HASH", spec_hash(v))
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET");
    match v.abi {
        Some(abi) => command.env("FIXTURE_ABI_VERSION", abi.to_string()),
        None => command.env_remove("FIXTURE_ABI_VERSION"),
    };
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo: {e}"));
    assert!(
        out.status.success(),
        "building the fixture plugin into `{}` failed:\n{}",
        target.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let path = target
        .join("release")
        .join(format!("{DLL_PREFIX}fixture_plugin{DLL_SUFFIX}"));
    assert!(
        path.is_file(),
        "the fixture build made no `{}`",
        path.display()
    );
    path
}
