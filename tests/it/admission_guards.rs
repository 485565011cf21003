//! What the shipped manifests keep out of Signet's way, and who may switch Signet off, checked
//! against the real kube-apiserver (tests/common/shared_plane.rs) with the objects of
//! `kubectl kustomize manifests/base` as they are:
//! - ValidatingAdmissionPolicy signet-exclude-label: only its admin groups may set, change or
//!   remove the label `signet.dev/exclude` on a namespace;
//! - the webhook's matchConditions: with Signet down and failurePolicy Fail, an UPDATE that
//!   keeps the pod template (a scale-down) and a node's mirror pod still pass; everything else
//!   is still sent, and refused.

use std::process::Output;
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::control_plane::{ControlPlane, LoopbackTls, free_port};
use crate::common::shared_plane::{apply, shared, wait_until};
use crate::common::temp_file_in;
use crate::common::tools::{run_ok, tool};

/// How long a new admission policy or webhook configuration may take to reach the API
/// server's admission chain (it is informer-fed: usually well under a second).
const PROPAGATION: Duration = Duration::from_secs(30);

/// The objects of `kubectl kustomize manifests/base`, as JSON.
fn base_objects() -> Vec<Value> {
    let built = run_ok(
        std::process::Command::new(tool("kubectl"))
            .arg("kustomize")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/manifests/base")),
    );
    serde_yaml::Deserializer::from_str(&built)
        .map(|document| {
            let yaml: serde_yaml::Value = serde::Deserialize::deserialize(document).unwrap();
            serde_json::to_value(yaml).unwrap()
        })
        .collect()
}

fn shipped(kind: &str) -> Value {
    base_objects()
        .into_iter()
        .find(|o| o["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in manifests/base"))
}

/// kubectl as the administrator, impersonating `user` (and `groups`) when given.
fn kubectl_as(plane: &ControlPlane, who: Option<(&str, &[&str])>, args: &[&str]) -> Output {
    let mut full: Vec<String> = Vec::new();
    if let Some((user, groups)) = who {
        full.push(format!("--as={user}"));
        full.extend(groups.iter().map(|g| format!("--as-group={g}")));
    }
    full.extend(args.iter().map(|a| a.to_string()));
    plane.kubectl(&full.iter().map(String::as_str).collect::<Vec<_>>())
}

/// `kubectl <verb...> -f <file>` of one object, as `who`.
fn with_object(
    plane: &ControlPlane,
    who: Option<(&str, &[&str])>,
    verb: &[&str],
    object: &Value,
) -> Output {
    let file = temp_file_in(
        &std::env::temp_dir(),
        ("signet-guards-", ".json"),
        &object.to_string(),
    );
    let path = file.path().to_string_lossy().into_owned();
    let args: Vec<&str> = verb.iter().copied().chain(["-f", path.as_str()]).collect();
    kubectl_as(plane, who, &args)
}

fn apply_as(plane: &ControlPlane, who: Option<(&str, &[&str])>, object: &Value) -> Output {
    with_object(plane, who, &["apply"], object)
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn namespace(name: &str, exclude: Option<&str>) -> Value {
    let mut object = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    if let Some(value) = exclude {
        object["metadata"]["labels"] = json!({"signet.dev/exclude": value});
    }
    object
}

const ALICE: (&str, &[&str]) = ("alice", &[]);
const EXCLUSION_ADMIN: (&str, &[&str]) = ("bob", &["signet:exclusion-admins"]);
const REFUSED: &str =
    "only members of system:masters, signet:exclusion-admins may set or remove it";

/// alice may create and label namespaces (RBAC), yet not set, change or remove
/// signet.dev/exclude; bob, in the policy's admin group, and the cluster administrator
/// (system:masters) may. Other labels stay alice's to change, so each refusal is the policy's.
#[test]
fn only_the_named_admin_groups_may_set_or_remove_the_exclude_label() {
    let plane = shared();
    let policy: Vec<Value> = base_objects()
        .into_iter()
        .filter(|o| o["metadata"]["name"] == "signet-exclude-label")
        .collect();
    assert_eq!(policy.len(), 2, "the policy and its binding");
    apply(plane, &policy);
    apply(
        plane,
        &[
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": {"name": "guards-namespace-writers"},
                "rules": [{"apiGroups": [""], "resources": ["namespaces"],
                           "verbs": ["get", "create", "update", "patch"]}]}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": "guards-namespace-writers"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                            "name": "guards-namespace-writers"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"},
                             {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"}]}),
        ],
    );
    // Server-side dry runs until the policy is in force (and RBAC lets alice through).
    let probe = namespace("guards-probe", Some("true"));
    assert!(
        wait_until(PROPAGATION, || {
            stderr(&apply_dry_run(plane, Some(ALICE), &probe)).contains(REFUSED)
        }),
        "the policy never refused alice"
    );

    // CREATE with the label: refused for alice, with the policy's words.
    let out = apply_as(plane, Some(ALICE), &namespace("guards-alice", Some("true")));
    assert!(
        !out.status.success() && stderr(&out).contains(REFUSED),
        "{}",
        stderr(&out)
    );
    // CREATE without it, then other labels: alice's to set.
    let out = apply_as(plane, Some(ALICE), &namespace("guards-alice", None));
    assert!(out.status.success(), "{}", stderr(&out));
    let label = |who, change: &str| {
        kubectl_as(
            plane,
            who,
            &["label", "namespace", "guards-alice", change, "--overwrite"],
        )
    };
    let out = label(Some(ALICE), "team=payments");
    assert!(out.status.success(), "{}", stderr(&out));
    // UPDATE adding it: refused for alice (a class of spellings: true, false, empty).
    for value in ["true", "false", ""] {
        let out = label(Some(ALICE), &format!("signet.dev/exclude={value}"));
        assert!(
            !out.status.success() && stderr(&out).contains(REFUSED),
            "alice set signet.dev/exclude={value:?}: {}",
            stderr(&out)
        );
    }
    // The admin group sets it; alice can neither change nor remove it; the group removes it.
    let out = label(Some(EXCLUSION_ADMIN), "signet.dev/exclude=true");
    assert!(out.status.success(), "{}", stderr(&out));
    for change in ["signet.dev/exclude=false", "signet.dev/exclude-"] {
        let out = label(Some(ALICE), change);
        assert!(
            !out.status.success() && stderr(&out).contains(REFUSED),
            "alice: {change}: {}",
            stderr(&out)
        );
    }
    let out = label(Some(ALICE), "team=checkout");
    assert!(
        out.status.success(),
        "a change that keeps the label: {}",
        stderr(&out)
    );
    let out = label(Some(EXCLUSION_ADMIN), "signet.dev/exclude-");
    assert!(out.status.success(), "{}", stderr(&out));
    // The cluster administrator (system:masters) may too, on CREATE as on UPDATE.
    let out = apply_as(plane, None, &namespace("guards-admin", Some("true")));
    assert!(out.status.success(), "{}", stderr(&out));
    let out = label(None, "signet.dev/exclude=true");
    assert!(out.status.success(), "{}", stderr(&out));
}

fn apply_dry_run(plane: &ControlPlane, who: Option<(&str, &[&str])>, object: &Value) -> Output {
    with_object(plane, who, &["apply", "--dry-run=server"], object)
}

const NS: &str = "guards-conditions";
const NODE: (&str, &[&str]) = ("system:node:guards-node", &["system:nodes"]);

/// The shipped ValidatingWebhookConfiguration, renamed, sent to a port nothing listens on
/// (Signet down), failurePolicy Fail as shipped, and limited to this test's namespace so the
/// other tests sharing the API server are not affected. `conditions` replaces the shipped
/// matchConditions when given.
fn webhook_with_signet_down(conditions: Option<Value>) -> Value {
    let mut hook = shipped("ValidatingWebhookConfiguration");
    assert_eq!(hook["webhooks"][0]["failurePolicy"], "Fail");
    hook["metadata"] = json!({"name": "guards-signet-down"});
    let webhook = &mut hook["webhooks"][0];
    webhook["clientConfig"] = json!({
        "url": format!("https://127.0.0.1:{}/validate", free_port()),
        "caBundle": base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            LoopbackTls::generate("nobody").ca_pem,
        ),
    });
    webhook["namespaceSelector"] = json!({"matchLabels": {"kubernetes.io/metadata.name": NS}});
    if let Some(conditions) = conditions {
        webhook["matchConditions"] = conditions;
    }
    hook
}

fn deployment(image: &str, replicas: u32) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {"replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": image}]}}}})
}

fn pod(name: &str, mirror: bool) -> Value {
    let mut pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"nodeName": "guards-node",
                 "containers": [{"name": "c", "image": "registry.example/static:v1"}]}});
    if mirror {
        pod["metadata"]["annotations"] = json!({"kubernetes.io/config.mirror": "3f2c9a"});
    }
    pod
}

fn create_as(plane: &ControlPlane, who: Option<(&str, &[&str])>, object: &Value) -> Output {
    with_object(plane, who, &["create"], object)
}

const DOWN: &str = "failed calling webhook \"images.signet.dev\"";

/// With Signet unreachable and failurePolicy Fail: an UPDATE that changes replicas (and
/// labels) but not the pod template passes, and a mirror pod its node creates passes; a changed
/// image, a pod a node creates without the mirror annotation and a mirror-annotated pod anyone
/// else creates are sent to Signet, so refused. Under the old condition (whole .spec compared)
/// the same scale-down is refused: the test can fail.
#[test]
fn a_scale_down_and_mirror_pods_pass_while_signet_is_down() {
    let plane = shared();
    plane.namespace(NS);
    apply(
        plane,
        &[
            deployment("registry.example/web:v1", 3),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": {"name": "node-pods", "namespace": NS},
                "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "get"]}]}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": "node-pods", "namespace": NS},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "node-pods"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                              "name": "system:node:guards-node"}]}),
        ],
    );
    let scale = |replicas: u32| {
        plane.kubectl(&[
            "patch",
            "deployment",
            "web",
            "-n",
            NS,
            "--type=merge",
            "-p",
            &format!("{{\"spec\":{{\"replicas\":{replicas}}}}}"),
        ])
    };
    let new_image = || {
        plane.kubectl(&[
            "set",
            "image",
            "deployment/web",
            "-n",
            NS,
            "web=registry.example/web:v2",
        ])
    };

    // The condition before this change: the whole .spec compared.
    let old = json!([{"name": "spec-may-change-images", "expression":
        "request.operation != 'UPDATE' || !has(object.spec) || !has(oldObject.spec) || object.spec != oldObject.spec"}]);
    apply(plane, &[webhook_with_signet_down(Some(old))]);
    assert!(
        wait_until(PROPAGATION, || stderr(&scale(2)).contains(DOWN)),
        "the old condition let a scale-down through, or the webhook never took effect"
    );

    apply(plane, &[webhook_with_signet_down(None)]);
    assert!(
        wait_until(PROPAGATION, || scale(1).status.success()),
        "a scale-down was sent to Signet under the shipped matchConditions"
    );
    let out = scale(0);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = plane.kubectl(&["label", "deployment", "web", "-n", NS, "tier=front"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = new_image();
    assert!(
        !out.status.success() && stderr(&out).contains(DOWN),
        "a changed image was not sent to Signet: {}",
        stderr(&out)
    );

    let out = create_as(plane, Some(NODE), &pod("static-web-guards-node", true));
    assert!(
        out.status.success(),
        "the node's mirror pod: {}",
        stderr(&out)
    );
    for (who, object, what) in [
        (
            Some(NODE),
            pod("plain", false),
            "a node's pod without the annotation",
        ),
        (
            None,
            pod("forged-mirror", true),
            "a mirror-annotated pod by the administrator",
        ),
    ] {
        let out = create_as(plane, who, &object);
        assert!(
            !out.status.success() && stderr(&out).contains(DOWN),
            "{what} was not sent to Signet: {}",
            stderr(&out)
        );
    }
    plane.kubectl_ok(&[
        "delete",
        "validatingwebhookconfiguration",
        "guards-signet-down",
    ]);
}
