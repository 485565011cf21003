//! `spec.match` through the admission edge: the request's group/version/kind and the object's
//! own labels reach policy selection, so a policy applies only to the objects it selects, and
//! a Deployment's pod template is judged as the Deployment (its labels, not the template's).
//! The policy is `static: fail` and `--no-match allow`, so a selected object is denied and an
//! unselected one admitted as `NoPolicyMatch`: the test fails if selection ignored the object
//! (everything denied) or ignored the policy (everything admitted).
// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};

use signet::admission::{decide, parse_review};
use signet::engine::{Engine, EngineSettings, NoMatchAction};
use signet::policy::PolicySet;
use signet::registry::{Credentials, Registry, RegistryConfig};
use signet::verdict::Outcome;

const POLICY: &str = "apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: signed-deployments}
spec:
  match:
  - group: apps
    version: v1
    resource: deployments
    selector:
      matchLabels: {signed: 'yes'}
  images: [{glob: '**'}]
  authorities: [{static: {action: fail, message: caught}}]
";

fn engine() -> Engine {
    let settings = EngineSettings {
        no_match: NoMatchAction::Allow,
        ..EngineSettings::default()
    };
    Engine::new(
        PolicySet::from_yaml(POLICY, "p.yaml").unwrap(),
        Registry::new(RegistryConfig::default(), Credentials::default()),
        settings,
    )
}

fn review(group: &str, version: &str, kind: &str, object: Value) -> Vec<u8> {
    let resource = format!("{}s", kind.to_lowercase());
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "u", "kind": {"group": group, "version": version, "kind": kind},
            "resource": {"group": group, "version": version, "resource": resource},
            "operation": "CREATE", "namespace": "default", "name": "x",
            "userInfo": {"username": "me"}, "object": object
        }
    }))
    .unwrap()
}

fn deployment(labels: Value, template_labels: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "x", "namespace": "default", "labels": labels},
        "spec": {"template": {"metadata": {"labels": template_labels},
                 "spec": {"containers": [{"name": "c", "image": "127.0.0.1:1/org/app:v1"}]}}}
    })
}

async fn denied(body: Vec<u8>) -> bool {
    let request = parse_review(&body).unwrap();
    let decision = decide(&engine(), &request).await;
    assert_eq!(decision.verdicts.len(), 1);
    match &decision.verdicts[0].outcome {
        Outcome::Deny(_) => true,
        Outcome::Admit(code, _) => {
            assert_eq!(*code, "NoPolicyMatch");
            false
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn a_policy_applies_only_to_the_objects_its_match_selects() {
    let yes = json!({"signed": "yes"});
    let selected = review(
        "apps",
        "v1",
        "Deployment",
        deployment(yes.clone(), json!({})),
    );
    assert!(denied(selected).await, "labelled Deployment is selected");
    let other = review(
        "apps",
        "v1",
        "Deployment",
        deployment(json!({"signed": "no"}), yes.clone()),
    );
    assert!(
        !denied(other).await,
        "template labels are not the Deployment's"
    );
    let beta = review(
        "apps",
        "v1beta2",
        "Deployment",
        deployment(yes.clone(), json!({})),
    );
    assert!(!denied(beta).await, "version must match exactly");
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "x", "namespace": "default", "labels": yes},
        "spec": {"containers": [{"name": "c", "image": "127.0.0.1:1/org/app:v1"}]}
    });
    assert!(
        !denied(review("", "v1", "Pod", pod)).await,
        "a Pod is not a deployment"
    );
}

/// The glob trap: policy-controller pins every image before matching, so
/// `repo@**` covers `repo:v1`. With `static: fail` and `--no-match allow`, every spelling of the
/// image must be denied (before, `127.0.0.1:1/org/app:v1` was admitted unchecked).
#[tokio::test]
async fn a_digest_glob_covers_every_spelling_of_its_repository() {
    let policy = "apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: pinned}
spec:
  images: [{glob: '127.0.0.1:1/org/app@**'}, {glob: 'index.docker.io/library/nginx@**'}]
  authorities: [{static: {action: fail}}]
";
    let settings = EngineSettings {
        no_match: NoMatchAction::Allow,
        ..EngineSettings::default()
    };
    let engine = Engine::new(
        PolicySet::from_yaml(policy, "p.yaml").unwrap(),
        Registry::new(RegistryConfig::default(), Credentials::default()),
        settings,
    );
    let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    for image in [
        "127.0.0.1:1/org/app:v1".to_string(),
        "127.0.0.1:1/org/app".to_string(),
        format!("127.0.0.1:1/org/app@{digest}"),
        "nginx".to_string(),
        "docker.io/library/nginx:1.27".to_string(),
        "index.docker.io/library/nginx:latest".to_string(),
    ] {
        let usage = signet::workload::ImageUse {
            path: "spec.containers[0]".into(),
            container: "c".into(),
            image: image.clone(),
        };
        let decision = engine.review(None, &[usage]).await;
        assert!(
            matches!(decision.verdicts[0].outcome, Outcome::Deny(_)),
            "{image}: {:?}",
            decision.verdicts[0].outcome
        );
    }
}

/// `signet audit` judges each object as the webhook does: the labelled Deployment is what the
/// policy selects, the other Deployment and the Pod fall to `--no-match allow`.
#[tokio::test]
async fn audit_passes_the_object_to_spec_match() {
    let dir = std::env::temp_dir().join(format!("signet-match-audit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let manifests = [
        deployment(json!({"signed": "yes"}), json!({})),
        deployment(json!({"signed": "no"}), json!({"signed": "yes"})),
    ];
    let text: Vec<String> = manifests
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mut m = m.clone();
            m["metadata"]["name"] = json!(format!("d{i}"));
            serde_json::to_string(&m).unwrap()
        })
        .collect();
    std::fs::write(dir.join("workloads.yaml"), text.join("\n---\n")).unwrap();
    let targets = signet::audit::manifests::scan(&dir).unwrap().targets;
    let findings = signet::audit::evaluate(&engine(), &targets, 2, &|_| {}).await;
    std::fs::remove_dir_all(&dir).unwrap();
    let outcome = |name: &str| {
        let f = findings.iter().find(|f| f.name == name).unwrap();
        format!("{:?}", f.outcome)
    };
    assert_eq!(outcome("d0"), "Deny");
    assert_eq!(outcome("d1"), "Admit");
}
