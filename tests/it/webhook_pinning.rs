//! Closing the tag-mutation gap: `spec.requireDigest` (deny tag-only references, naming the
//! digest to write) and the optional `POST /mutate` (pin verified images, keep the tag, never touch
//! uncovered images, idempotent), with real AdmissionReview bodies over TLS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use crate::common::webhook::{
    TestWebhook, WebhookOptions, allowed, container, deployment_review, key_policy, message,
    pod_review, response,
};
use crate::common::{TestKey, TestRegistry, push_image, sign_image};

struct Setup {
    registry: TestRegistry,
    digest: String,
    webhook: TestWebhook,
}

/// `demo/app:v1` signed, `demo/unsigned:v1` not; the policy covers the registry.
async fn setup(extra: &str, enable_mutation: bool) -> Setup {
    let registry = TestRegistry::start();
    let key = TestKey::generate();
    let digest = push_image(&registry, "demo/app:v1", "app-v1").await;
    sign_image(&registry, "demo/app", &digest, &key).await;
    push_image(&registry, "demo/unsigned:v1", "unsigned-v1").await;
    let policy = key_policy("pin", &format!("{}/**", registry.host()), &key.public_pem);
    let mut options = WebhookOptions::new(format!("{policy}{extra}"), &[registry.host()]);
    options.enable_mutation = enable_mutation;
    let webhook = TestWebhook::start(options).await;
    Setup {
        registry,
        digest,
        webhook,
    }
}

impl Setup {
    fn image(&self, repo_ref: &str) -> String {
        format!("{}/{repo_ref}", self.registry.host())
    }

    async fn mutate(&self, review: &Value) -> Value {
        let body = serde_json::to_vec(review).unwrap();
        let (status, text) = self.webhook.post_to("/mutate", body).await;
        assert_eq!(status, 200, "{text}");
        serde_json::from_str(&text).unwrap()
    }
}

/// The JSONPatch of a `/mutate` answer, decoded; `None` when the answer carries none.
fn patch_of(answer: &Value) -> Option<json_patch::Patch> {
    let encoded = response(answer)["patch"].as_str()?;
    assert_eq!(response(answer)["patchType"], "JSONPatch", "{answer}");
    Some(serde_json::from_slice(&BASE64.decode(encoded).unwrap()).unwrap())
}

/// `review` with the patch applied to its object, as kube-apiserver does.
fn patched(review: &Value, patch: &json_patch::Patch) -> Value {
    let mut review = review.clone();
    json_patch::patch(&mut review["request"]["object"], patch).unwrap();
    review
}

#[tokio::test(flavor = "multi_thread")]
async fn require_digest_denies_a_tag_and_names_the_exact_reference_to_write() {
    let s = setup("  requireDigest: true\n", false).await;
    let tagged = s.image("demo/app:v1");
    let answer = s
        .webhook
        .review(&pod_review("u", vec![container("app", &tagged)], vec![]))
        .await;
    assert!(!allowed(&answer), "{answer}");
    let pinned = format!("{tagged}@{}", s.digest);
    let expected = format!("policy \"pin\" requires a digest (requireDigest): write {pinned}");
    assert!(message(&answer).contains(&expected), "{answer}");
    let answer = s
        .webhook
        .review(&pod_review("u", vec![container("app", &pinned)], vec![]))
        .await;
    assert!(
        allowed(&answer),
        "the reference the message named: {answer}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn require_digest_reports_the_signature_problem_first_and_offers_no_digest() {
    let s = setup("  requireDigest: true\n", false).await;
    let image = s.image("demo/unsigned:v1");
    let answer = s
        .webhook
        .review(&pod_review("u", vec![container("app", &image)], vec![]))
        .await;
    assert!(!allowed(&answer), "{answer}");
    assert!(message(&answer).contains("no signature exists"), "{answer}");
    assert!(!message(&answer).contains("write "), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn mutate_pins_only_the_verified_image_keeps_its_tag_and_is_idempotent() {
    let s = setup("", true).await;
    let tagged = s.image("demo/app:v1");
    let review = pod_review(
        "u",
        vec![
            container("app", &tagged),
            container("unsigned", &s.image("demo/unsigned:v1")),
            // No policy covers it: never touched (and never looked up).
            container("other", "unreachable.invalid/team/tool:1"),
        ],
        vec![],
    );
    let answer = s.mutate(&review).await;
    assert!(allowed(&answer), "/mutate never denies: {answer}");
    let patch = patch_of(&answer).expect("a patch");
    let after = patched(&review, &patch);
    let containers = &after["request"]["object"]["spec"]["containers"];
    assert_eq!(containers[0]["image"], format!("{tagged}@{}", s.digest));
    assert_eq!(containers[1]["image"], s.image("demo/unsigned:v1"));
    assert_eq!(containers[2]["image"], "unreachable.invalid/team/tool:1");
    let again = s.mutate(&after).await;
    assert!(allowed(&again), "{again}");
    assert!(
        patch_of(&again).is_none(),
        "already pinned: no patch: {again}"
    );
    let unchanged = json!(null);
    assert_eq!(response(&again)["patch"], unchanged, "{again}");
}

#[tokio::test(flavor = "multi_thread")]
async fn mutate_then_validate_admits_a_deployment_under_require_digest() {
    let s = setup("  requireDigest: true\n", true).await;
    let tagged = s.image("demo/app:v1");
    let review = deployment_review("u", vec![container("app", &tagged)]);
    let denied = s.webhook.review(&review).await;
    assert!(!allowed(&denied), "tag only: {denied}");
    let patch = patch_of(&s.mutate(&review).await).expect("a patch");
    let after = patched(&review, &patch);
    let image = &after["request"]["object"]["spec"]["template"]["spec"]["containers"][0]["image"];
    assert_eq!(image, &json!(format!("{tagged}@{}", s.digest)));
    let answer = s.webhook.review(&after).await;
    assert!(allowed(&answer), "pinned by /mutate: {answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn mutate_is_not_served_unless_enabled() {
    let s = setup("", false).await;
    let review = pod_review("u", vec![container("app", &s.image("demo/app:v1"))], vec![]);
    let (status, _) = s
        .webhook
        .post_to("/mutate", serde_json::to_vec(&review).unwrap())
        .await;
    assert_eq!(status, 404);
}
