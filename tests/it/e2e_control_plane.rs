//! End to end against a real control plane: etcd and kube-apiserver built from pinned module
//! versions (`scripts/tools.sh`), `manifests/` applied with kubectl through an overlay that sends
//! reviews to a local `signet serve` by URL, that server running as the manifests'
//! ServiceAccount, images pushed with crane and signed with the real cosign. Everything is driven
//! with kubectl, and the test reads what kubectl prints, as a person would.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::common::TestRegistry;
use crate::common::cluster_e2e::{Installed, SignetProcess};
use crate::common::control_plane::ControlPlane;
use crate::common::cosign::{CosignKey, DockerConfig, crane_push, crane_push_as};
use crate::common::tools::run;

const DENIED: &str = "admission webhook \"images.signet.dev\" denied the request: \
                      SignatureValidationFailed: ";

/// A control plane with Signet installed and serving, a registry, and one signed and one
/// unsigned image in it.
struct World {
    plane: ControlPlane,
    registry: TestRegistry,
    key: CosignKey,
    installed: Installed,
    signet: SignetProcess,
    policy: tempfile::NamedTempFile,
    signed: String,
    unsigned: String,
}

impl World {
    fn start(failure_policy: Option<&str>, extra_args: &[&str]) -> World {
        let plane = ControlPlane::start();
        let registry = TestRegistry::start();
        let key = CosignKey::generate("e2e-password");
        let signed = crane_push(&format!("{}/e2e/app:v1", registry.host()), "signed");
        key.sign(&signed, &[]);
        let unsigned = crane_push(&format!("{}/e2e/other:v1", registry.host()), "unsigned");
        let installed = Installed::apply(&plane, failure_policy);
        let policy = policy_file(&registry, &key);
        let mut args = vec![
            format!("--policy={}", policy.path().display()),
            format!("--insecure-registry={}", registry.host()),
        ];
        args.extend(extra_args.iter().map(|a| a.to_string()));
        let signet = installed.serve(&plane, &args);
        plane.namespace("e2e");
        World {
            plane,
            registry,
            key,
            installed,
            signet,
            policy,
            signed,
            unsigned,
        }
    }

    fn restart_signet(&mut self, extra_args: &[&str]) {
        self.signet.kill();
        let mut args = vec![
            format!("--policy={}", self.policy.path().display()),
            format!("--insecure-registry={}", self.registry.host()),
        ];
        args.extend(extra_args.iter().map(|a| a.to_string()));
        self.signet = self.installed.serve(&self.plane, &args);
    }

    fn apply(&self, yaml: &str, extra: &[&str]) -> Output {
        let mut args = vec!["apply"];
        args.extend(extra);
        self.plane.kubectl_stdin(&args, yaml)
    }

    fn assert_created(&self, output: &Output, what: &str) {
        assert!(
            output.status.success(),
            "{what}: kubectl failed: {}\nsignet log:\n{}",
            stderr(output),
            self.signet.log()
        );
    }

    fn assert_denied(&self, output: &Output, what: &str, mentions: &[&str]) {
        let text = stderr(output);
        assert!(!output.status.success(), "{what} was admitted");
        assert!(text.contains(DENIED), "{what}: kubectl printed {text}");
        for fragment in mentions {
            assert!(
                text.contains(fragment),
                "{what}: {fragment:?} not in {text}"
            );
        }
    }
}

/// A ClusterImagePolicy `name` for `glob` with the cosign key's public half.
fn key_policy(name: &str, glob: &str, key: &CosignKey) -> String {
    let pem: String = key
        .public_pem()
        .lines()
        .map(|line| format!("        {line}\n"))
        .collect();
    format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  \
         name: {name}\nspec:\n  images:\n  - glob: \"{glob}\"\n  authorities:\n  \
         - name: e2e-key\n    key:\n      data: |\n{pem}"
    )
}

/// The policy file `signet serve` starts with: `<registry>/e2e/**` signed by the key.
fn policy_file(registry: &TestRegistry, key: &CosignKey) -> tempfile::NamedTempFile {
    let yaml = key_policy("e2e-release", &format!("{}/e2e/**", registry.host()), key);
    let file = tempfile::Builder::new()
        .suffix(".yaml")
        .tempfile()
        .expect("policy file");
    std::fs::write(file.path(), yaml).expect("write policy");
    file
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A pod that meets the restricted Pod Security Standard (Signet's namespace enforces it).
fn pod(name: &str, namespace: &str, image: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n  \
         securityContext:\n    runAsNonRoot: true\n    seccompProfile: {{type: RuntimeDefault}}\n  \
         containers:\n  - name: app\n    image: {image}\n    securityContext:\n      \
         allowPrivilegeEscalation: false\n      capabilities: {{drop: [ALL]}}\n"
    )
}

fn pod_with_init(name: &str, init: &str, main: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: e2e\nspec:\n  \
         initContainers:\n  - name: setup\n    image: {init}\n  containers:\n  - name: app\n    \
         image: {main}\n"
    )
}

fn deployment(name: &str, image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: e2e\n\
         spec:\n  replicas: 1\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    \
         metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n      \
         - name: app\n        image: {image}\n"
    )
}

#[test]
fn the_real_api_server_creates_signed_workloads_and_refuses_unsigned_ones() {
    let world = World::start(None, &[]);
    let signed = world.apply(&pod("signed", "e2e", &world.signed), &[]);
    world.assert_created(&signed, "a pod of the cosign-signed image");

    let unsigned = world.apply(&pod("unsigned", "e2e", &world.unsigned), &[]);
    world.assert_denied(
        &unsigned,
        "a pod of an unsigned image",
        &["spec.containers[0] (app)", &world.unsigned],
    );

    let deployment_denied = world.apply(&deployment("web", &world.unsigned), &[]);
    world.assert_denied(
        &deployment_denied,
        "a Deployment of an unsigned image",
        &["spec.template.spec.containers[0] (app)"],
    );
    let deployment_ok = world.apply(&deployment("web", &world.signed), &[]);
    world.assert_created(&deployment_ok, "a Deployment of the signed image");

    let init = world.apply(&pod_with_init("init", &world.unsigned, &world.signed), &[]);
    world.assert_denied(
        &init,
        "an unsigned init container",
        &["spec.initContainers[0] (setup)"],
    );

    // kubectl debug adds an ephemeral container through pods/ephemeralcontainers.
    let debug = world.plane.kubectl(&[
        "debug",
        "signed",
        "-n",
        "e2e",
        "--container=debugger",
        &format!("--image={}", world.unsigned),
    ]);
    world.assert_denied(
        &debug,
        "kubectl debug with an unsigned image",
        &["spec.ephemeralContainers[0] (debugger)"],
    );
    let debug_signed = world.plane.kubectl(&[
        "debug",
        "signed",
        "-n",
        "e2e",
        "--container=debugger-ok",
        &format!("--image={}", world.signed),
    ]);
    world.assert_created(&debug_signed, "kubectl debug with the signed image");
}

#[test]
fn excluded_namespaces_dry_run_and_match_conditions_behave_as_the_manifests_say() {
    let world = World::start(None, &[]);
    // Signet's own namespace is excluded by the shipped namespaceSelector.
    world
        .plane
        .kubectl_ok(&["create", "serviceaccount", "default", "-n", "signet-system"]);
    let excluded = world.apply(&pod("tool", "signet-system", &world.unsigned), &[]);
    world.assert_created(
        &excluded,
        "an unsigned pod in the excluded signet-system namespace",
    );

    // Server-side dry run is reviewed and leaves nothing behind.
    let dry_denied = world.apply(&pod("dry", "e2e", &world.unsigned), &["--dry-run=server"]);
    world.assert_denied(&dry_denied, "a server-side dry run of an unsigned pod", &[]);
    let dry_ok = world.apply(&pod("dry", "e2e", &world.signed), &["--dry-run=server"]);
    world.assert_created(&dry_ok, "a server-side dry run of the signed pod");
    let absent = world.plane.kubectl(&["get", "pod", "dry", "-n", "e2e"]);
    assert!(!absent.status.success(), "a dry-run pod was stored");

    // matchConditions, evaluated by the API server: a metadata-only UPDATE is not sent to
    // Signet at all, so it succeeds even while Signet is down; a new pod is refused then.
    let created = world.apply(&pod("labelled", "e2e", &world.signed), &[]);
    world.assert_created(&created, "the signed pod to label");
    let mut world = world;
    world.signet.kill();
    world
        .plane
        .kubectl_ok(&["label", "pod", "labelled", "-n", "e2e", "team=payments"]);
    let refused = world.apply(&pod("while-down", "e2e", &world.signed), &[]);
    let text = stderr(&refused);
    assert!(
        !refused.status.success() && text.contains("failed calling webhook"),
        "with Signet down and failurePolicy Fail, a pod was not refused: {text}"
    );
    world.restart_signet(&[]);
    let after = world.apply(&pod("while-down", "e2e", &world.signed), &[]);
    world.assert_created(&after, "the signed pod after Signet restarted");
}

#[test]
fn policies_applied_as_cluster_objects_change_the_next_verdict() {
    let world = World::start(None, &["--watch-policies"]);
    let live = crane_push(&format!("{}/live/app:v1", world.registry.host()), "live");
    world.key.sign(&live, &[]);
    let before = world.apply(&pod("live-before", "e2e", &live), &[]);
    world.assert_denied(
        &before,
        "an image no policy covers",
        &["no image policy covers this image"],
    );

    let policy = key_policy(
        "live",
        &format!("{}/live/**", world.registry.host()),
        &world.key,
    );
    world.plane.kubectl_stdin(&["apply"], &policy);
    let admitted = eventually(|| {
        let output = world.apply(&pod("live-after", "e2e", &live), &[]);
        output.status.success().then_some(output)
    });
    assert!(
        admitted.is_some(),
        "the live ClusterImagePolicy never admitted the image:\n{}",
        world.signet.log()
    );

    // A policy Signet refuses says so in its status.
    let broken = format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  \
         name: broken\nspec:\n  images:\n  - glob: \"{}/broken/**\"\n  authorities:\n  \
         - key:\n      data: not a key\n",
        world.registry.host()
    );
    world.plane.kubectl_stdin(&["apply"], &broken);
    let status = eventually(|| {
        let out = world.plane.kubectl_ok(&[
            "get",
            "clusterimagepolicies.policy.sigstore.dev",
            "broken",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
        ]);
        (out == "False").then_some(out)
    });
    assert!(
        status.is_some(),
        "the invalid policy's status never said Ready=False:\n{}",
        world.signet.log()
    );
}

/// A namespace's own `ImagePolicy` only adds requirements: `static: pass` for `**` in namespace
/// e2e admits neither an image no cluster policy covers nor one the cluster policy refuses;
/// with `--namespaced-policies-may-admit` it decides the first again.
#[test]
fn a_namespaced_image_policy_cannot_lift_the_cluster_default() {
    let mut world = World::start(None, &["--watch-policies"]);
    let tenant = crane_push(
        &format!("{}/tenant/app:v1", world.registry.host()),
        "tenant",
    );
    let lifting = "apiVersion: signet.dev/v1alpha1\nkind: ImagePolicy\nmetadata:\n  \
                   name: lift\n  namespace: e2e\nspec:\n  images:\n  - glob: \"**\"\n  \
                   authorities:\n  - static:\n      action: pass\n  mode: warn\n";
    world.plane.kubectl_stdin(&["apply"], lifting);
    let ready = || {
        let out = world.plane.kubectl_ok(&[
            "get",
            "imagepolicies.signet.dev",
            "lift",
            "-n",
            "e2e",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].reason}",
        ]);
        (out == "Applied").then_some(out)
    };
    assert!(
        eventually(ready).is_some(),
        "Signet never applied the ImagePolicy:\n{}",
        world.signet.log()
    );
    let lifted = world.apply(&pod("lifted", "e2e", &tenant), &[]);
    world.assert_denied(
        &lifted,
        "an image only the namespace's policy covers",
        &[
            "no cluster policy covers this image",
            "ImagePolicy e2e/lift",
        ],
    );
    let weakened = world.apply(&pod("weakened", "e2e", &world.unsigned), &[]);
    world.assert_denied(&weakened, "an image the cluster policy refuses", &[]);

    world.restart_signet(&["--watch-policies", "--namespaced-policies-may-admit"]);
    let admitted = eventually(|| {
        let output = world.apply(&pod("lifted-by-opt-in", "e2e", &tenant), &[]);
        output.status.success().then_some(output)
    });
    assert!(
        admitted.is_some(),
        "with --namespaced-policies-may-admit the ImagePolicy never admitted:\n{}",
        world.signet.log()
    );
}

/// Polls `check` every 500 ms for up to 30 s.
fn eventually<T>(mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if let Some(value) = check() {
            return Some(value);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    None
}

#[test]
fn a_private_registry_is_read_with_the_pod_s_own_pull_secret() {
    let private = TestRegistry::start_with_htpasswd("ci", "s3cret-pass");
    let config = DockerConfig::new(&private.host(), "ci", "s3cret-pass");
    let insecure = format!("--insecure-registry={}", private.host());
    let world = World::start(None, &["--watch-policies", "--pull-secrets", &insecure]);
    let image = crane_push_as(
        &format!("{}/private/app:v1", private.host()),
        "private",
        Some(&config),
    );
    world.key.sign_as(&image, &config);
    let glob = format!("{}/private/**", private.host());
    world
        .plane
        .kubectl_stdin(&["apply"], &key_policy("private", &glob, &world.key));
    let from_file = format!("--from-file=.dockerconfigjson={}", config.path().display());
    world.plane.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "regcred",
        "-n",
        "e2e",
        "--type=kubernetes.io/dockerconfigjson",
        &from_file,
    ]);
    // First without the secret (a verdict, once made, holds for the digest whoever asks): once
    // the policy is in force, the registry refuses Signet and so Signet refuses the pod.
    let without = eventually(|| {
        let output = world.apply(&pod("without-secret", "e2e", &image), &[]);
        let text = stderr(&output);
        (!text.contains("no image policy covers")).then_some(output)
    })
    .expect("the live policy never came into force");
    world.assert_denied(
        &without,
        "the private image without a pull secret",
        &[&image, "refused access (check pull credentials)"],
    );
    let with_secret = format!(
        "{}  imagePullSecrets:\n  - name: regcred\n",
        pod("with-secret", "e2e", &image)
    );
    let admitted = world.apply(&with_secret, &[]);
    world.assert_created(&admitted, "the pod naming its pull secret");
}

#[test]
fn signet_audit_reads_what_runs_in_the_real_api_server() {
    let world = World::start(None, &[]);
    let signed = world.apply(&pod("audited", "e2e", &world.signed), &[]);
    world.assert_created(&signed, "the signed pod");
    // An unsigned pod where the webhook does not look: the audit finds it.
    world
        .plane
        .kubectl_ok(&["create", "serviceaccount", "default", "-n", "signet-system"]);
    let hidden = world.apply(&pod("hidden", "signet-system", &world.unsigned), &[]);
    world.assert_created(&hidden, "an unsigned pod in the excluded namespace");

    let output = run(Command::new(env!("CARGO_BIN_EXE_signet"))
        .args(["audit", "--output", "json", "--policy"])
        .arg(world.policy.path())
        .arg(format!("--insecure-registry={}", world.registry.host()))
        .env("KUBECONFIG", world.plane.admin_kubeconfig()));
    assert_eq!(
        output.status.code(),
        Some(1),
        "audit exit code; stderr: {}",
        stderr(&output)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let finding = |name: &str| {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name && f["kind"] == "Pod")
            .unwrap_or_else(|| panic!("no finding for pod {name}: {report}"))
            .clone()
    };
    assert_eq!(finding("audited")["outcome"], "admit", "{report}");
    assert_eq!(finding("hidden")["outcome"], "deny", "{report}");
    assert_eq!(finding("hidden")["code"], "NoSignature", "{report}");
    assert!(
        report["source"]
            .as_str()
            .unwrap()
            .contains(&world.plane.url()),
        "{report}"
    );
}

#[test]
fn policy_controller_s_own_valid_policies_pass_the_shipped_crd_validation() {
    // policy-controller's test data (shared/fixtures/third_party/policy-controller, commit
    // f925c0c1): every policy its tests call valid is accepted by the real API server under the
    // CRDs in manifests/crds, as they are (server-side dry run: nothing is stored).
    let world = World::start(None, &[]);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../shared/fixtures/third_party/policy-controller/test/testdata/policy-controller/valid",
    );
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 14,
        "{} files in {}",
        files.len(),
        dir.display()
    );
    for file in files {
        let path = file.to_string_lossy();
        let output = world
            .plane
            .kubectl(&["apply", "--dry-run=server", "-f", &path]);
        assert!(
            output.status.success(),
            "{path} refused by the CRD: {}",
            stderr(&output)
        );
    }
}

#[test]
fn the_audit_overlay_admits_with_warnings_and_writes_a_warning_event() {
    // The audit overlay's settings: failurePolicy Ignore and `--dry-run`, with `--events`.
    let world = World::start(Some("Ignore"), &["--dry-run", "--events"]);
    let output = world.apply(&pod("audited", "e2e", &world.unsigned), &[]);
    world.assert_created(&output, "an unsigned pod under --dry-run");
    let warnings = stderr(&output);
    assert!(
        warnings.contains("Warning:") && warnings.contains("SignatureValidationFailed"),
        "kubectl showed no warning: {warnings}"
    );
    let event = eventually(|| {
        let reasons = world.plane.kubectl_ok(&[
            "get",
            "events.events.k8s.io",
            "-n",
            "e2e",
            "-o",
            "jsonpath={range .items[*]}{.reason}/{.regarding.name}{\"\\n\"}{end}",
        ]);
        reasons
            .lines()
            .any(|line| line == "SignatureValidationFailed/audited")
            .then_some(reasons)
    });
    assert!(
        event.is_some(),
        "no Warning Event for the pod:\n{}",
        world.signet.log()
    );
}
