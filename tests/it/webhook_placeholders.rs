//! Injected and placeholder images (`image: auto`, which sidecar injectors replace in their own
//! mutating webhook) through the real webhook: admitted in a pod template only where a policy's
//! `spec.placeholders` names the placeholder and the injector's containers or namespaces, denied
//! elsewhere with a message saying how to exempt it, denied in a Pod (the injector did not run),
//! while the image an injector put into a Pod is verified like any other.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};

use crate::common::webhook::{
    TestWebhook, WebhookOptions, allowed, container, deployment_review, key_policy, message,
    pod_review_in, response,
};
use crate::common::{TestKey, TestRegistry, push_image, sign_image};

const ISTIO: &str = "  placeholders:
  - image: auto
    injector: istio-sidecar-injector
    containers: [istio-proxy]
  - image: auto
    injector: mesh-injector
    namespaces: [mesh]
";

struct Mesh {
    registry: TestRegistry,
    webhook: TestWebhook,
}

/// `demo/app:v1` and `istio/proxyv2:1` signed, `istio/unsigned:1` not; the policy covers the
/// registry and names the placeholders of `extra`.
async fn setup(extra: &str) -> Mesh {
    let registry = TestRegistry::start();
    let key = TestKey::generate();
    for (repo, seed) in [("demo/app", "app"), ("istio/proxyv2", "proxy")] {
        let digest = push_image(&registry, &format!("{repo}:v1"), seed).await;
        sign_image(&registry, repo, &digest, &key).await;
    }
    push_image(&registry, "istio/unsigned:v1", "unsigned").await;
    let policy = key_policy("mesh", &format!("{}/**", registry.host()), &key.public_pem);
    let options = WebhookOptions::new(format!("{policy}{extra}"), &[registry.host()]);
    let webhook = TestWebhook::start(options).await;
    Mesh { registry, webhook }
}

impl Mesh {
    fn image(&self, repo_ref: &str) -> String {
        format!("{}/{repo_ref}", self.registry.host())
    }

    /// A Deployment in `namespace` running the signed app and `sidecar` with `image`.
    async fn deployment(&self, namespace: &str, sidecar: &str, image: &str) -> Value {
        let containers = vec![
            container("app", &self.image("demo/app:v1")),
            container(sidecar, image),
        ];
        let mut review = deployment_review("d", containers);
        review["request"]["namespace"] = json!(namespace);
        self.webhook.review(&review).await
    }

    /// A Pod in `namespace` as the injector left it: the app and `istio-proxy` with `image`.
    async fn pod(&self, namespace: &str, image: &str) -> Value {
        let containers = vec![
            container("app", &self.image("demo/app:v1")),
            container("istio-proxy", image),
        ];
        self.webhook
            .review(&pod_review_in(namespace, "p", containers))
            .await
    }
}

fn annotation(answer: &Value, path: &str) -> String {
    response(answer)["auditAnnotations"][path]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_template_placeholder_named_with_its_injector_container_is_admitted() {
    let mesh = setup(ISTIO).await;
    let answer = mesh.deployment("shop", "istio-proxy", "auto").await;
    assert!(allowed(&answer), "{answer}");
    let sidecar = annotation(&answer, "spec.template.spec.containers.1");
    assert_eq!(sidecar, "admit:Placeholder auto", "{answer}");
    let app = annotation(&answer, "spec.template.spec.containers.0");
    assert!(
        app.starts_with("admit:Verified"),
        "the app is still verified: {answer}"
    );
    let answer = mesh.deployment("mesh", "linkerd-proxy", "auto").await;
    assert!(
        allowed(&answer),
        "any container in a named namespace: {answer}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_placeholder_outside_the_injectors_containers_and_namespaces_is_denied() {
    let mesh = setup(ISTIO).await;
    let answer = mesh.deployment("shop", "debug", "auto").await;
    assert!(!allowed(&answer), "{answer}");
    let msg = message(&answer);
    assert!(msg.contains("\"auto\" is a placeholder"), "{msg}");
    assert!(
        msg.contains("exempts it only for containers [istio-proxy] (istio-sidecar-injector)"),
        "{msg}"
    );
    assert!(
        msg.contains("container \"debug\" in namespace \"shop\""),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_placeholder_no_policy_names_is_denied_with_how_to_exempt_it() {
    let mesh = setup("").await;
    let answer = mesh.deployment("shop", "istio-proxy", "auto").await;
    assert!(!allowed(&answer), "{answer}");
    let msg = message(&answer);
    assert!(
        msg.contains("if \"auto\" is a placeholder that a sidecar injector replaces, name it in a policy's spec.placeholders"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pod_still_holding_the_placeholder_is_denied_and_injected_images_are_verified() {
    let mesh = setup(ISTIO).await;
    let answer = mesh.pod("shop", "auto").await;
    assert!(!allowed(&answer), "{answer}");
    let msg = message(&answer);
    assert!(
        msg.contains("a Pod still holds it, so istio-sidecar-injector did not replace it"),
        "{msg}"
    );
    // The final object, after the injector's mutating webhook: its image is verified.
    let answer = mesh.pod("shop", &mesh.image("istio/proxyv2:v1")).await;
    assert!(allowed(&answer), "{answer}");
    let answer = mesh.pod("shop", &mesh.image("istio/unsigned:v1")).await;
    assert!(!allowed(&answer), "an unsigned injected image is denied");
    assert!(message(&answer).contains("istio-proxy"), "{answer}");
}
