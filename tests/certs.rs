//! `signet certs generate`: the certificate it writes serves the Service's DNS name and chains
//! to the CA it puts into `caBundle`; a second run renews the serving certificate and keeps the
//! CA, so `caBundle` does not change.

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use signet::engine::{Engine, EngineSettings};
use signet::policy::PolicySet;
use signet::registry::{Credentials, Registry, RegistryConfig};
use signet::server::{self, Metrics, ServeConfig, TlsSource};

fn generate(out: &std::path::Path) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_signet"))
        .args([
            "certs",
            "generate",
            "--service",
            "signet",
            "--namespace",
            "signet-system",
            "--out",
        ])
        .arg(out)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn generated_certificate_serves_the_service_name_and_renewal_keeps_the_ca() {
    common::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let first = generate(&out);
    assert!(first.contains("made a new CA"), "{first}");
    assert!(
        first.contains("signet.signet-system.svc, signet.signet-system.svc.cluster.local"),
        "{first}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(out.join("tls.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "private key readable by others: {mode:o}");
    }
    let patch = std::fs::read_to_string(out.join("caBundle.patch.yaml")).unwrap();
    let first_cert = std::fs::read_to_string(out.join("tls.crt")).unwrap();

    let policy = "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: all}\nspec:\n  images: [{glob: \"**\"}]\n  authorities: [{static: {action: pass}}]\n";
    let engine = Arc::new(Engine::new(
        PolicySet::from_yaml(policy, "test").unwrap(),
        Registry::new(RegistryConfig::default(), Credentials::default()),
        EngineSettings::default(),
    ));
    let config = ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        metrics_listen: "127.0.0.1:0".parse().unwrap(),
        tls: TlsSource::Files {
            cert: out.join("tls.crt"),
            key: out.join("tls.key"),
        },
        max_body_bytes: server::DEFAULT_MAX_BODY_BYTES,
        limits: server::Limits::default(),
        dry_run: false,
        shutdown_delay: Duration::ZERO,
        shutdown_grace: Duration::from_secs(1),
        tls_reload_interval: Duration::from_secs(60),
        readiness: Vec::new(),
        enable_mutation: false,
        would_deny: None,
        pull_secrets: None,
    };
    let running = server::start(engine, Arc::new(Metrics::new()), config)
        .await
        .unwrap();
    let ca = std::fs::read(out.join("ca.crt")).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(&ca).unwrap())
        .resolve("signet.signet-system.svc", running.addr)
        .no_proxy()
        .build()
        .unwrap();
    let url = format!(
        "https://signet.signet-system.svc:{}/healthz",
        running.addr.port()
    );
    let answer = client
        .get(&url)
        .send()
        .await
        .expect("the CA trusts the serving certificate for the Service name");
    assert_eq!(answer.status(), 200);
    let wrong_name = format!("https://127.0.0.1:{}/healthz", running.addr.port());
    assert!(
        client.get(&wrong_name).send().await.is_err(),
        "not valid for other names"
    );
    running.shutdown().await.unwrap();

    let second = generate(&out);
    assert!(second.contains("reused the CA"), "{second}");
    assert_eq!(
        std::fs::read_to_string(out.join("caBundle.patch.yaml")).unwrap(),
        patch
    );
    assert_ne!(
        std::fs::read_to_string(out.join("tls.crt")).unwrap(),
        first_cert
    );
    let kustomization = std::fs::read_to_string(out.join("kustomization.yaml")).unwrap();
    assert!(
        kustomization.contains("caBundle.patch.yaml") && kustomization.contains("manifests/base")
    );
}
