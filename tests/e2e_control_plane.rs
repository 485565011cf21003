//! End to end against a real control plane: etcd and kube-apiserver built from pinned module
//! versions (`scripts/tools.sh`), `manifests/` applied with kubectl through an overlay that sends
//! reviews to a local `signet serve` by URL, that server running as the manifests'
//! ServiceAccount, images pushed with crane and signed with the real cosign. Everything is driven
//! with kubectl, and the test reads what kubectl prints, as a person would.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Output;
use std::time::{Duration, Instant};

use common::TestRegistry;
use common::cluster_e2e::{Installed, SignetProcess};
use common::control_plane::ControlPlane;
use common::cosign::{CosignKey, crane_push};

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
        std::mem::forget(policy);
        plane.namespace("e2e");
        World {
            plane,
            registry,
            key,
            installed,
            signet,
            signed,
            unsigned,
        }
    }

    fn restart_signet(&mut self, extra_args: &[&str]) {
        self.signet.kill();
        let policy = policy_file(&self.registry, &self.key);
        let mut args = vec![
            format!("--policy={}", policy.path().display()),
            format!("--insecure-registry={}", self.registry.host()),
        ];
        args.extend(extra_args.iter().map(|a| a.to_string()));
        self.signet = self.installed.serve(&self.plane, &args);
        std::mem::forget(policy);
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

/// A ClusterImagePolicy for `<registry>/e2e/**` with the cosign key's public half.
fn policy_file(registry: &TestRegistry, key: &CosignKey) -> tempfile::NamedTempFile {
    let pem: String = key
        .public_pem()
        .lines()
        .map(|line| format!("        {line}\n"))
        .collect();
    let yaml = format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  \
         name: e2e-release\nspec:\n  images:\n  - glob: \"{}/e2e/**\"\n  authorities:\n  \
         - name: e2e-key\n    key:\n      data: |\n{pem}",
        registry.host()
    );
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

fn pod(name: &str, namespace: &str, image: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n  \
         containers:\n  - name: app\n    image: {image}\n"
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

    let pem: String = world
        .key
        .public_pem()
        .lines()
        .map(|line| format!("        {line}\n"))
        .collect();
    let policy = format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  \
         name: live\nspec:\n  images:\n  - glob: \"{}/live/**\"\n  authorities:\n  \
         - key:\n      data: |\n{pem}",
        world.registry.host()
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
