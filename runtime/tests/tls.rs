//! The upgrade server over HTTPS (build item 3 of issue 10): a client that trusts the CA that
//! signed the server's certificate works as over plain HTTP (signed operator requests, node
//! polls); one trusting another CA, or speaking plain HTTP, gets nothing.
#![allow(clippy::unwrap_used, reason = "tests")]

mod kit;

use kit::{kv_1_2, node_key, operator};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use runtime::api::{Phase, PollRequest};
use runtime::client::{Client, ClientError, PollAnswer};
use runtime::server::tls::TlsFiles;
use std::path::{Path, PathBuf};

/// A CA in `dir` (`NAME-ca.pem`) and a certificate it signs for 127.0.0.1 and localhost
/// (`NAME-cert.pem`, `NAME-key.pem`).
fn certificates(dir: &Path, name: &str) -> (PathBuf, TlsFiles) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let cert = params.signed_by(&server_key, &ca).unwrap();
    let ca_path = dir.join(format!("{name}-ca.pem"));
    let files = TlsFiles {
        cert: dir.join(format!("{name}-cert.pem")),
        key: dir.join(format!("{name}-key.pem")),
    };
    std::fs::write(&ca_path, ca.pem()).unwrap();
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, server_key.serialize_pem()).unwrap();
    (ca_path, files)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_trusted_ca_and_nothing_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, files) = certificates(dir.path(), "server");
    let (other_ca, _) = certificates(dir.path(), "other");
    let mut config = kit::config(dir.path());
    config.tls = Some(files);
    let handle = runtime::server::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let url = handle.url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let op = Client::connect(&url, Some(&ca))
        .unwrap()
        .with_key(operator());
    let (bundle, _) = kv_1_2(dir.path(), &[]);
    let info = op
        .push(std::fs::read(&bundle).unwrap(), false)
        .await
        .unwrap();
    op.enroll("n1", &node_key("n1").verifying_key())
        .await
        .unwrap();
    op.start_rollout(&info.id, None).await.unwrap();
    let n1 = Client::connect(&url, Some(&ca))
        .unwrap()
        .with_key(node_key("n1"));
    let req = PollRequest {
        system: "kv".into(),
        version: 1,
        phase: Phase::Serving,
        healthy: true,
        address: String::new(),
    };
    match n1.poll("n1", &req, None, None).await.unwrap() {
        PollAnswer::Directive { directive, .. } => assert_eq!(directive.rollout, Some(1)),
        other => panic!("{other:?}"),
    }
    // Another CA: the certificate does not verify.
    let stranger = Client::connect(&url, Some(&other_ca)).unwrap();
    let e = stranger.status().await.unwrap_err();
    assert!(
        matches!(&e, ClientError::Unreachable { reason, .. } if reason.contains("certificate")),
        "{e:?}"
    );
    // No CA for an HTTPS server, or a CA for a plain one: refused before connecting.
    let e = Client::new(&url).unwrap_err();
    assert!(
        e.to_string()
            .contains("give the CA that signed its certificate"),
        "{e}"
    );
    let plain_url = url.replace("https://", "http://");
    let e = Client::connect(&plain_url, Some(&ca)).unwrap_err();
    assert!(e.to_string().contains("plain HTTP"), "{e}");
    // Plain HTTP to the TLS port gets no answer.
    let plain = Client::new(&plain_url).unwrap();
    assert!(plain.status().await.is_err());
    handle.stop().await;
}
