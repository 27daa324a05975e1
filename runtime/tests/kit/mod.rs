//! What the server's HTTP tests share: a bundle maker, an in-process server with short
//! intervals, the test operator's key, and enrolled node clients.
#![allow(dead_code, clippy::panic, clippy::indexing_slicing, reason = "tests")]

use runtime::bundle::build::write_container;
use runtime::bundle::{BundleFile, BundleManifest, FileRole, Limits, SignedManifest, TrustedKeys};
use runtime::client::{Client, ClientError};
use runtime::digest::sha256_hex;
use runtime::server::{self, Config, Handle};
use std::path::{Path, PathBuf};

/// The key bundles are signed with.
pub fn key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[5; 32])
}

/// A bundle of `system` `from -> to` with `schedule`, and stand-in plugin and binary files.
pub fn make_bundle(
    dir: &Path,
    system: &str,
    from: u64,
    to: u64,
    schedule: &[(&str, &str)],
    signer: &ed25519_dalek::SigningKey,
) -> (PathBuf, SignedManifest) {
    make_release(dir, system, from, to, 0, schedule, signer)
}

/// A bundle of `kv` 1 -> 2 with `schedule`, signed with [`key`] (see [`make_bundle`]).
pub fn kv_1_2(dir: &Path, schedule: &[(&str, &str)]) -> (PathBuf, SignedManifest) {
    make_bundle(dir, "kv", 1, 2, schedule, &key())
}

/// The operator's key.
pub fn operator() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[6; 32])
}

/// [`make_bundle`] with release number `release` (0: `from`), in its own files.
pub fn make_release(
    dir: &Path,
    system: &str,
    from: u64,
    to: u64,
    release: u64,
    schedule: &[(&str, &str)],
    signer: &ed25519_dalek::SigningKey,
) -> (PathBuf, SignedManifest) {
    let plugin = dir.join(format!("{system}-{from}-{to}-r{release}.so"));
    let binary = dir.join(format!("{system}-v{to}-r{release}"));
    std::fs::write(&plugin, format!("plugin {system} {from} {to}")).unwrap();
    std::fs::write(
        &binary,
        format!("binary {system} {to} {release}").repeat(100),
    )
    .unwrap();
    let file = |role, path: &Path| {
        let bytes = std::fs::read(path).unwrap();
        BundleFile {
            role,
            name: path.file_name().unwrap().to_str().unwrap().into(),
            sha256: sha256_hex(&bytes),
            size: bytes.len() as u64,
            executable: false,
        }
    };
    let manifest = BundleManifest {
        format: 2,
        spec: system.into(),
        from,
        to,
        release: if release == 0 { from } else { release },
        spec_hash: sha256_hex(system.as_bytes()),
        schedule: schedule
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        files: vec![
            file(FileRole::Plugin, &plugin),
            file(FileRole::Binary, &binary),
        ],
        created_at: 1_700_000_000,
        program: None,
    };
    let signed = SignedManifest::sign(manifest, signer);
    let out = dir.join(format!("{system}-{from}-{to}-r{release}.bundle"));
    write_container(&signed, &[&plugin, &binary], &out).unwrap();
    (out, signed)
}

pub fn config(dir: &Path) -> Config {
    let mut c = Config::new(
        dir.join("upstart.db"),
        dir.join("store"),
        TrustedKeys::new(vec![key().verifying_key()]),
    );
    c.operators = TrustedKeys::new(vec![operator().verifying_key()]);
    c.eval_interval_ms = 20;
    c.flush_interval_ms = 50;
    c.offline_after_ms = 10_000;
    c.limits = Limits {
        max_file: 1 << 20,
        max_total: 1 << 21,
        max_manifest: 1 << 16,
    };
    c
}

/// A server on `dir` and a client of it acting as the operator.
pub async fn start(dir: &Path) -> (Handle, Client) {
    start_with(config(dir)).await
}

pub async fn start_with(config: Config) -> (Handle, Client) {
    let handle = server::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let client = Client::new(&format!("http://{}", handle.addr))
        .unwrap()
        .with_key(operator());
    (handle, client)
}

/// A node's key, derived from its id.
pub fn node_key(id: &str) -> ed25519_dalek::SigningKey {
    let mut seed = [0u8; 32];
    let digest = runtime::digest::sha256_hex(format!("node {id}").as_bytes());
    seed.copy_from_slice(&digest.as_bytes()[..32]);
    ed25519_dalek::SigningKey::from_bytes(&seed)
}

/// A client of the same server acting as node `id`, enrolled by `operator`.
pub async fn node_client(operator: &Client, id: &str) -> Client {
    let key = node_key(id);
    operator.enroll(id, &key.verifying_key()).await.unwrap();
    Client::new(operator.base()).unwrap().with_key(key)
}

/// The operator's authentication headers for a request (`method`, path with query, sha-256 of
/// the body), for tests that speak raw HTTP.
pub fn operator_headers(method: &str, path: &str, body_sha256: &str) -> Vec<(String, String)> {
    let nonce = runtime::auth::nonce().unwrap();
    runtime::auth::headers_with(
        &operator(),
        method,
        path,
        body_sha256,
        runtime::auth::now_ms(),
        &nonce,
    )
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The message of the server's refusal `e`, which must have `status` (panics on any other
/// error).
pub fn refused(e: &ClientError, status: u16) -> &str {
    match e {
        ClientError::Server {
            status: got,
            message,
        } if *got == status => message,
        other => panic!("expected a refusal with status {status}, got {other:?}"),
    }
}

/// Pushes the bundle file `bundle` as `op`, which the server must refuse with `status`: the
/// refusal's message.
pub async fn push_refused(op: &Client, bundle: &Path, status: u16) -> String {
    let bytes = std::fs::read(bundle).unwrap();
    let e = op.push(bytes, false).await.unwrap_err();
    refused(&e, status).to_owned()
}
