//! The Secrets a ClusterImagePolicy names, against a real control plane (etcd and
//! kube-apiserver, `manifests/` applied, `signet serve --watch-policies` running as the
//! manifests' ServiceAccount, so the Role the manifests ship is the only access it has):
//! `key.secretRef` read from Signet's namespace and watched (a changed key changes the next
//! verdict; a missing Secret denies, naming it), and `source[].signaturePullSecrets` reading
//! signatures from a private (htpasswd) registry that nothing else gives Signet access to.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Output;
use std::time::{Duration, Instant};

use crate::common::TestRegistry;
use crate::common::cluster_e2e::{Installed, SignetProcess};
use crate::common::control_plane::ControlPlane;
use crate::common::cosign::{CosignKey, DockerConfig, crane_push};

const DENIED: &str = "admission webhook \"images.signet.dev\" denied the request";
const NAMESPACE: &str = "signet-system";

struct World {
    plane: ControlPlane,
    registry: TestRegistry,
    signet: SignetProcess,
    _installed: Installed,
}

impl World {
    /// Signet serving the cluster's policies only (no --policy), reading `insecure` over HTTP.
    fn start(registry: TestRegistry, insecure: &[String]) -> World {
        let plane = ControlPlane::start();
        let installed = Installed::apply(&plane, None);
        let mut args = vec![
            "--watch-policies".to_string(),
            format!("--secrets-namespace={NAMESPACE}"),
            format!("--insecure-registry={}", registry.host()),
        ];
        args.extend(
            insecure
                .iter()
                .map(|host| format!("--insecure-registry={host}")),
        );
        let signet = installed.serve(&plane, &args);
        plane.namespace("e2e");
        World {
            plane,
            registry,
            signet,
            _installed: installed,
        }
    }

    fn apply(&self, yaml: &str) -> Output {
        self.plane.kubectl_stdin(&["apply", "-f", "-"], yaml)
    }

    fn apply_ok(&self, yaml: &str) {
        let output = self.apply(yaml);
        assert!(
            output.status.success(),
            "kubectl apply: {}",
            stderr(&output)
        );
    }

    /// Applies pods named `<name>-<n>` until one is admitted (`want_admitted`) or denied with
    /// every fragment of `mentions`; the policy and its Secrets reach Signet through watches.
    fn eventually_pod(&self, name: &str, image: &str, want_admitted: bool, mentions: &[&str]) {
        let started = Instant::now();
        let mut last = String::new();
        for n in 0.. {
            let output = self.apply(&pod(&format!("{name}-{n}"), image));
            let text = stderr(&output);
            let done = match want_admitted {
                true => output.status.success(),
                false => {
                    !output.status.success()
                        && text.contains(DENIED)
                        && mentions.iter().all(|m| text.contains(m))
                }
            };
            if done {
                return;
            }
            last = text;
            assert!(
                started.elapsed() < Duration::from_secs(45),
                "{name}: wanted admitted={want_admitted} mentioning {mentions:?}; last answer: \
                 {last}\nsignet log:\n{}",
                self.signet.log()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        unreachable!("{last}");
    }

    /// The Secret `name` in Signet's namespace with one `cosign.pub` entry per PEM.
    fn key_secret(&self, name: &str, pems: &[String]) {
        let entries: String = pems
            .iter()
            .enumerate()
            .map(|(i, pem)| {
                let indented: String = pem.lines().map(|l| format!("    {l}\n")).collect();
                format!("  cosign{i}.pub: |\n{indented}")
            })
            .collect();
        self.apply_ok(&format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: {NAMESPACE}\n\
             type: Opaque\nstringData:\n{entries}"
        ));
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A pod that meets the restricted Pod Security Standard.
fn pod(name: &str, image: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: e2e\nspec:\n  \
         securityContext:\n    runAsNonRoot: true\n    seccompProfile: {{type: RuntimeDefault}}\n  \
         containers:\n  - name: app\n    image: {image}\n    securityContext:\n      \
         allowPrivilegeEscalation: false\n      capabilities: {{drop: [ALL]}}\n"
    )
}

fn indented(pem: &str, spaces: usize) -> String {
    let pad = " ".repeat(spaces);
    pem.lines().map(|l| format!("{pad}{l}\n")).collect()
}

#[test]
fn a_key_secret_admits_its_signatures_and_a_changed_or_missing_secret_denies() {
    let registry = TestRegistry::start();
    let release = CosignKey::generate("release-password");
    let other = CosignKey::generate("other-password");
    let image = crane_push(&format!("{}/sec/app:v1", registry.host()), "secret-key");
    release.sign(&image, &[]);
    let world = World::start(registry, &[]);
    world.key_secret("release-key", &[release.public_pem()]);
    let glob = format!("{}/sec/**", world.registry.host());
    world.apply_ok(&format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  \
         name: from-secret\nspec:\n  images:\n  - glob: \"{glob}\"\n  authorities:\n  \
         - name: release\n    key:\n      secretRef:\n        name: release-key\n"
    ));
    world.eventually_pod("signed", &image, true, &[]);

    // The Secret now holds another key: the next review uses it (the verdict cache keys on
    // the policy's content, Secret included).
    world.key_secret("release-key", &[other.public_pem()]);
    world.eventually_pod(
        "other-key",
        &image,
        false,
        &["signed by none of the 1 trusted key(s)"],
    );

    // Back to the right key, then two entries: policy-controller's rule is one entry.
    world.key_secret("release-key", &[release.public_pem()]);
    world.eventually_pod("back", &image, true, &[]);
    world.key_secret("release-key", &[release.public_pem(), other.public_pem()]);
    world.eventually_pod(
        "two-entries",
        &image,
        false,
        &["Secret signet-system/release-key contains 2 data entries"],
    );

    // Deleted: denied, naming the Secret and how to create it.
    world
        .plane
        .kubectl_ok(&["delete", "secret", "release-key", "-n", NAMESPACE]);
    world.eventually_pod(
        "missing",
        &image,
        false,
        &[
            "cannot be checked: spec.authorities[0].key.secretRef",
            "Secret signet-system/release-key not found",
            "kubectl create secret generic release-key -n signet-system",
        ],
    );

    // A Secret of that name in another namespace is never read.
    world.plane.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "release-key",
        "-n",
        "e2e",
        &format!("--from-file=cosign.pub={}", release.public_key().display()),
    ]);
    world.eventually_pod(
        "other-namespace",
        &image,
        false,
        &["Secret signet-system/release-key not found"],
    );
}

#[test]
fn signatures_in_a_private_registry_are_read_with_the_signature_pull_secret() {
    let private = TestRegistry::start_with_htpasswd("sigs", "sig-s3cret");
    let config = DockerConfig::new(&private.host(), "sigs", "sig-s3cret");
    let registry = TestRegistry::start();
    let key = CosignKey::generate("sigs-password");
    let image = crane_push(&format!("{}/pub/app:v1", registry.host()), "private-sigs");
    let signatures = format!("{}/signatures/app", private.host());
    key.sign_into(&image, &signatures, &[], Some(&config));
    let world = World::start(registry, &[private.host()]);
    let config_json = std::fs::read_to_string(config.path()).expect("config.json");
    world.apply_ok(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: signature-pull\n  namespace: \
         {NAMESPACE}\ntype: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: \
         '{config_json}'\n"
    ));
    let policy = |name: &str, glob: &str, secrets: &str| {
        format!(
            "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  \
             name: {name}\nspec:\n  images:\n  - glob: \"{glob}\"\n  authorities:\n  \
             - name: key\n    key:\n      data: |\n{}    source:\n    - oci: {signatures}\n{secrets}",
            indented(&key.public_pem(), 8)
        )
    };
    // Without the Secret the registry refuses Signet (it has no other credential for it).
    let glob = format!("{}/pub/**", world.registry.host());
    world.apply_ok(&policy("without", &glob, ""));
    world.eventually_pod("without", &image, false, &["refused access"]);
    world.plane.kubectl_ok(&[
        "delete",
        "clusterimagepolicy.policy.sigstore.dev",
        "without",
    ]);
    let with = "      signaturePullSecrets:\n      - name: signature-pull\n";
    world.apply_ok(&policy("with", &glob, with));
    world.eventually_pod("with", &image, true, &[]);

    // Attestations are read from the same source with the same Secret (`.att` in the private
    // repository): without it the registry would refuse them as it refuses signatures.
    let attested = crane_push(
        &format!("{}/att/app:v1", world.registry.host()),
        "private-att",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let predicate = dir.path().join("predicate.json");
    std::fs::write(&predicate, r#"{"built": "here"}"#).expect("predicate");
    key.attest_into(
        &attested,
        &signatures,
        ("custom", &predicate),
        Some(&config),
    );
    let attested_glob = format!("{}/att/**", world.registry.host());
    let attestation = "    attestations:\n    - name: built\n      predicateType: custom\n";
    world.apply_ok(&policy(
        "attested",
        &attested_glob,
        &format!("{with}{attestation}"),
    ));
    world.eventually_pod("attested", &attested, true, &[]);

    // The Secret deleted: the authority names it and admits nothing.
    world
        .plane
        .kubectl_ok(&["delete", "secret", "signature-pull", "-n", NAMESPACE]);
    world.eventually_pod(
        "deleted",
        &image,
        false,
        &[
            "source[0].signaturePullSecrets",
            "Secret signet-system/signature-pull not found",
        ],
    );
}

/// `policy.configMapRef` (here a CIP-level `spec.policy`) read from a ConfigMap of Signet's
/// namespace and watched: missing, the policy denies naming it; created, it decides; edited,
/// the next verdict follows it.
#[test]
fn a_policy_in_a_config_map_is_read_and_followed() {
    let registry = TestRegistry::start();
    let key = CosignKey::generate("cm-password");
    let image = crane_push(&format!("{}/cm/app:v1", registry.host()), "config-map");
    key.sign(&image, &[]);
    let world = World::start(registry, &[]);
    let glob = format!("{}/cm/**", world.registry.host());
    world.apply_ok(&format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  \
         name: from-config-map\nspec:\n  images:\n  - glob: \"{glob}\"\n  authorities:\n  \
         - name: key\n    key:\n      data: |\n{}  policy:\n    type: rego\n    configMapRef:\n      \
         name: release-policy\n      key: policy.rego\n",
        indented(&key.public_pem(), 8)
    ));
    world.eventually_pod(
        "missing",
        &image,
        false,
        &[
            "ConfigMap signet-system/release-policy not found",
            "kubectl create configmap release-policy",
        ],
    );
    let config_map = |rule: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: release-policy\n  namespace: \
             {NAMESPACE}\ndata:\n  policy.rego: |\n    package sigstore\n    default isCompliant = \
             false\n{rule}"
        )
    };
    let signed_by_key =
        "    isCompliant {\n      count(input.authorityMatches.key.signatures) > 0\n    }\n";
    world.apply_ok(&config_map(signed_by_key));
    world.eventually_pod("created", &image, true, &[]);
    world.apply_ok(&config_map(""));
    world.eventually_pod("edited", &image, false, &["spec.policy (rego) refused"]);
}
