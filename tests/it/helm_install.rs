//! charts/signet installed with the real `helm` into a real control plane (etcd and
//! kube-apiserver from scripts/tools.sh), as tests/e2e_control_plane.rs installs the kustomize
//! tree: Signet runs out of the cluster as the chart's ServiceAccount, and a values file sends
//! the webhook to it by URL with the certificate of an `existingSecret` install. Admission goes
//! through the chart's own ValidatingWebhookConfiguration; `helm uninstall` must leave nothing
//! that blocks the cluster.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::TestRegistry;
use crate::common::cluster_e2e::Installed;
use crate::common::control_plane::{ControlPlane, LoopbackTls, free_port};
use crate::common::cosign::{CosignKey, crane_push};
use crate::common::tools::{run, tool};

const DENIED: &str = "admission webhook \"images.signet.dev\" denied the request: \
                      SignatureValidationFailed: ";

/// `helm --kubeconfig <admin> ARGS` with helm's own directories in `home`.
fn helm(plane: &ControlPlane, home: &Path, args: &[&str]) -> Output {
    run(Command::new(tool("helm"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_DATA_HOME", home.join("data"))
        .arg("--kubeconfig")
        .arg(plane.admin_kubeconfig())
        .args(args))
}

fn ok(output: Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn pod(name: &str, image: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: e2e\nspec:\n  \
         containers:\n  - name: app\n    image: {image}\n"
    )
}

/// The values a user outside the cluster would write: the webhook by URL, the certificate of
/// the server there (`existingSecret`, its CA as caBundle).
fn values_file(dir: &Path, port: u16, tls: &LoopbackTls) -> PathBuf {
    let indented: String = tls.ca_pem.lines().map(|l| format!("      {l}\n")).collect();
    let path = dir.join("values.yaml");
    std::fs::write(
        &path,
        format!(
            "webhook:\n  url: https://127.0.0.1:{port}\ncertificates:\n  source: existingSecret\n  \
             existingSecret:\n    name: signet-tls\n    caBundle: |\n{indented}"
        ),
    )
    .unwrap();
    path
}

#[test]
fn helm_install_admits_signed_and_denies_unsigned_and_uninstall_unblocks_the_cluster() {
    let plane = ControlPlane::start();
    let registry = TestRegistry::start();
    let key = CosignKey::generate("helm-e2e");
    let signed = crane_push(&format!("{}/e2e/app:v1", registry.host()), "signed");
    key.sign(&signed, &[]);
    let unsigned = crane_push(&format!("{}/e2e/other:v1", registry.host()), "unsigned");

    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let tls = LoopbackTls::generate("signet");
    let values = values_file(home.path(), port, &tls);
    let chart = Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/signet");
    let installed = ok(
        helm(
            &plane,
            home.path(),
            &[
                "install",
                "signet",
                &chart.to_string_lossy(),
                "--namespace",
                "signet-system",
                // helm keeps its release record in the namespace, so it must exist first; the
                // chart's Namespace object then adds Signet's labels to it.
                "--create-namespace",
                "--take-ownership",
                "--values",
                &values.to_string_lossy(),
            ],
        ),
        "helm install",
    );
    assert!(installed.contains("STATUS: deployed"), "{installed}");
    // helm created the namespace; the chart's Namespace object gave it Signet's labels.
    let labels = plane.kubectl_ok(&[
        "get",
        "namespace",
        "signet-system",
        "-o",
        "jsonpath={.metadata.labels}",
    ]);
    // (signet.dev/exclude is not among them: the namespace is excluded by name, and the label is
    // for the groups the chart's ValidatingAdmissionPolicy names.)
    let label = r#""pod-security.kubernetes.io/enforce":"restricted""#;
    assert!(labels.contains(label), "{label} not in {labels}");
    assert!(!labels.contains("signet.dev/exclude"), "{labels}");
    let hook = plane.kubectl_ok(&[
        "get",
        "validatingwebhookconfiguration",
        "signet",
        "-o",
        "jsonpath={.webhooks[0].clientConfig.url} {.webhooks[0].failurePolicy}",
    ]);
    assert_eq!(hook, format!("https://127.0.0.1:{port}/validate Fail"));
    // The chart's CRDs are in place: the policy objects Signet watches can be listed.
    plane.kubectl_ok(&["get", "clusterimagepolicies.policy.sigstore.dev"]);

    let policy = home.path().join("policy.yaml");
    let pem: String = key
        .public_pem()
        .lines()
        .map(|line| format!("        {line}\n"))
        .collect();
    std::fs::write(
        &policy,
        format!(
            "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  \
             name: e2e\nspec:\n  images:\n  - glob: \"{}/e2e/**\"\n  authorities:\n  - key:\n      \
             data: |\n{pem}",
            registry.host()
        ),
    )
    .unwrap();
    // As the chart's Deployment would run it, with the chart's ServiceAccount (its RBAC).
    let outside = Installed::external(port, tls);
    let signet = outside.serve(
        &plane,
        &[
            format!("--policy={}", policy.display()),
            format!("--insecure-registry={}", registry.host()),
            "--watch-policies".into(),
            "--events".into(),
            "--pull-secrets".into(),
        ],
    );
    plane.namespace("e2e");

    let admitted = plane.kubectl_stdin(&["apply"], &pod("signed", &signed));
    assert!(
        admitted.status.success(),
        "the signed image was refused: {}\nsignet log:\n{}",
        String::from_utf8_lossy(&admitted.stderr),
        signet.log()
    );
    let denied = plane.kubectl_stdin(&["apply"], &pod("unsigned", &unsigned));
    let text = String::from_utf8_lossy(&denied.stderr);
    assert!(
        !denied.status.success() && text.contains(DENIED) && text.contains(&unsigned),
        "the unsigned image: {text}"
    );

    ok(
        helm(
            &plane,
            home.path(),
            &["uninstall", "signet", "--namespace", "signet-system"],
        ),
        "helm uninstall",
    );
    let gone = plane.kubectl(&["get", "validatingwebhookconfiguration", "signet"]);
    assert!(
        !gone.status.success() && String::from_utf8_lossy(&gone.stderr).contains("NotFound"),
        "the webhook configuration outlived helm uninstall"
    );
    let listed = ok(
        helm(&plane, home.path(), &["list", "--all-namespaces", "-q"]),
        "helm list",
    );
    assert_eq!(listed.trim(), "", "a release is left");
    // Nothing calls Signet any more: the unsigned pod is created, even with Signet stopped.
    drop(signet);
    let after = plane.kubectl_stdin(&["apply"], &pod("unsigned", &unsigned));
    assert!(
        after.status.success(),
        "after helm uninstall the cluster still refuses pods: {}",
        String::from_utf8_lossy(&after.stderr)
    );
    // The CRDs stay (helm never deletes a chart's crds/): the cluster's policies survive.
    plane.kubectl_ok(&["get", "crd", "clusterimagepolicies.policy.sigstore.dev"]);
}

/// Generated certificates survive `helm upgrade`: the Secret and the caBundle stay what the
/// install made (the chart looks the Secret up), so an upgrade never swaps the CA under running
/// replicas; and the installed caBundle is the CA of the installed Secret.
#[test]
fn helm_upgrade_keeps_the_generated_certificate_and_ca_bundle() {
    let plane = ControlPlane::start();
    let home = tempfile::tempdir().unwrap();
    let chart = Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/signet");
    let chart = chart.to_string_lossy();
    let release = [
        "signet",
        &*chart,
        "--namespace",
        "signet-system",
        "--create-namespace",
        "--take-ownership",
    ];
    let state = || {
        let secret = plane.kubectl_ok(&[
            "get",
            "secret",
            "signet-tls",
            "-n",
            "signet-system",
            "-o",
            "jsonpath={.data.tls\\.crt} {.data.ca\\.crt}",
        ]);
        let bundle = plane.kubectl_ok(&[
            "get",
            "validatingwebhookconfiguration",
            "signet",
            "-o",
            "jsonpath={.webhooks[0].clientConfig.caBundle}",
        ]);
        (secret, bundle)
    };
    ok(
        helm(&plane, home.path(), &[&["install"][..], &release].concat()),
        "helm install",
    );
    let (secret, bundle) = state();
    assert!(
        secret.ends_with(&format!(" {bundle}")) && bundle.len() > 100,
        "caBundle {bundle} is not the Secret's ca.crt ({secret})"
    );
    ok(
        helm(
            &plane,
            home.path(),
            &[
                &["upgrade"][..],
                &release[..2],
                &["--namespace", "signet-system"],
                &["--set", "webhook.timeoutSeconds=12"],
            ]
            .concat(),
        ),
        "helm upgrade",
    );
    let timeout = plane.kubectl_ok(&[
        "get",
        "validatingwebhookconfiguration",
        "signet",
        "-o",
        "jsonpath={.webhooks[0].timeoutSeconds}",
    ]);
    assert_eq!(timeout, "12", "the upgrade was not applied");
    assert_eq!(
        state(),
        (secret, bundle),
        "helm upgrade replaced the certificate"
    );
}
