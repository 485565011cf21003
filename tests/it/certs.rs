//! `signet certs generate`: the certificate it writes serves the Service's DNS name and chains
//! to the CA it puts into `caBundle`; a second run renews the serving certificate and keeps the
//! CA, so `caBundle` does not change.

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

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
    crate::common::install_crypto_provider();
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
        client_ca: None,
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
    // Audit first; the operator's step to enforcing (the audit line deleted) survives renewal.
    assert!(kustomization.contains("manifests/components/audit"));
    let enforcing: String = kustomization
        .lines()
        .filter(|line| !line.contains("components/audit"))
        .map(|line| format!("{line}\n"))
        .collect();
    std::fs::write(out.join("kustomization.yaml"), &enforcing).unwrap();
    let third = generate(&out);
    assert!(third.contains("kept"), "{third}");
    assert_eq!(
        std::fs::read_to_string(out.join("kustomization.yaml")).unwrap(),
        enforcing
    );
}

fn certs(args: &[&str], cwd: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_signet"))
        .args(["certs", "generate"])
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

/// Run from a directory outside the repository, with another Service and namespace: the
/// kustomization builds (kubectl's own kustomize) from yet another directory, and Namespace,
/// Service, RoleBinding and webhook all carry the names the certificate serves.
#[test]
fn kustomization_works_from_anywhere_and_names_the_service_and_namespace_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let base = format!("{}/manifests/base", env!("CARGO_MANIFEST_DIR"));
    let out = certs(
        &[
            "--service",
            "guard",
            "--namespace",
            "img-guard",
            "--out",
            "out",
            "--manifests",
            &base,
        ],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let elsewhere = tempfile::tempdir().unwrap();
    let built = std::process::Command::new("kubectl")
        .arg("kustomize")
        .arg(dir.path().join("out"))
        .current_dir(elsewhere.path())
        .output()
        .expect("kubectl (Debian's kubernetes-client) renders kustomizations offline");
    let rendered = String::from_utf8(built.stdout).unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let objects: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(&rendered)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    let of_kind = |kind: &str| {
        objects
            .iter()
            .filter(|o| o["kind"] == kind)
            .collect::<Vec<_>>()
    };
    assert_eq!(of_kind("Namespace")[0]["metadata"]["name"], "img-guard");
    let service = &of_kind("Service")[0]["metadata"];
    assert_eq!(
        (&service["name"], &service["namespace"]),
        (&"guard".into(), &"img-guard".into())
    );
    let webhook = &of_kind("ValidatingWebhookConfiguration")[0]["webhooks"][0]["clientConfig"];
    assert_eq!(webhook["service"]["name"], "guard");
    assert_eq!(webhook["service"]["namespace"], "img-guard");
    assert!(webhook["caBundle"].as_str().is_some_and(|b| !b.is_empty()));
    let binding = &of_kind("ClusterRoleBinding")[0]["subjects"][0];
    assert_eq!(binding["namespace"], "img-guard");
    // Audit first, and the namespace Signet runs in is the one never reviewed.
    let hook = &of_kind("ValidatingWebhookConfiguration")[0]["webhooks"][0];
    assert_eq!(hook["failurePolicy"], "Ignore");
    let args = serde_yaml::to_string(
        &of_kind("Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["args"],
    )
    .unwrap();
    assert!(args.contains("--dry-run"), "{args}");
    let excluded = &hook["namespaceSelector"]["matchExpressions"][0]["values"];
    assert_eq!(excluded[0], "img-guard");
    assert!(
        !serde_yaml::to_string(excluded)
            .unwrap()
            .contains("signet-system")
    );
    let flow = &of_kind("FlowSchema")[0]["spec"]["rules"][0]["subjects"][0];
    assert_eq!(flow["serviceAccount"]["namespace"], "img-guard");
    for object in &objects {
        if let Some(namespace) = object["metadata"]["namespace"].as_str() {
            assert_eq!(namespace, "img-guard", "{object:?}");
        }
    }
}

#[test]
fn names_and_validities_the_cluster_cannot_use_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let base = format!("{}/manifests/base", env!("CARGO_MANIFEST_DIR"));
    for (args, words) in [
        (
            vec!["--days", "0"],
            "signet: --days 0: give a number of days from 1 to 36500",
        ),
        (
            vec!["--ca-days", "99999"],
            "signet: --ca-days 99999: give a number of days from 1 to 36500",
        ),
        (
            vec!["--service", "Web_Hook"],
            "signet: --service \"Web_Hook\" is not a valid Kubernetes name: use at most 63 lowercase letters, digits and '-', starting with a letter and ending with a letter or digit",
        ),
        (
            vec!["--service", "1abc"],
            "signet: --service \"1abc\" is not a valid",
        ),
        (
            vec!["--service", ""],
            "signet: --service \"\" is not a valid",
        ),
        (
            vec!["--namespace", "a.b"],
            "signet: --namespace \"a.b\" is not a valid",
        ),
        (
            vec!["--namespace=x-"],
            "signet: --namespace \"x-\" is not a valid",
        ),
    ] {
        let mut all = args.clone();
        all.extend(["--out", "out", "--manifests", &base]);
        let run = certs(&all, dir.path());
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(words), "{args:?}: {stderr}");
        assert!(
            !dir.path().join("out").exists(),
            "{args:?}: nothing written"
        );
    }
    let run = certs(&["--out", "out"], dir.path());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("signet: the kustomize base manifests/base does not exist: give --manifests the path of Signet's manifests/base"),
        "{stderr}"
    );
}
