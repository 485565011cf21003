//! The webhook end to end: real TLS, a real registry, real key signatures, AdmissionReviews as
//! kube-apiserver sends them. Each test asserts the exact verdict and the words of the message.
// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::webhook::{
    TestWebhook, WebhookOptions, allowed, container, key_policy, message, pod_review, response,
};
use crate::common::{
    SigLayer, TestKey, TestRegistry, move_tag, push_image, push_signature_layers, sign_image,
    simple_signing_payload,
};
use serde_json::json;

/// A registry with `demo/app:v1` pushed, a trusted key, and a webhook whose policy trusts it for
/// every image of that registry.
struct Setup {
    registry: TestRegistry,
    key: TestKey,
    digest: String,
    webhook: TestWebhook,
}

async fn setup(sign: bool) -> Setup {
    let registry = TestRegistry::start();
    let key = TestKey::generate();
    let digest = push_image(&registry, "demo/app:v1", "app-v1").await;
    if sign {
        sign_image(&registry, "demo/app", &digest, &key).await;
    }
    let policy = key_policy("demo", &format!("{}/**", registry.host()), &key.public_pem);
    let webhook = TestWebhook::start(WebhookOptions::new(policy, &[registry.host()])).await;
    Setup {
        registry,
        key,
        digest,
        webhook,
    }
}

fn app_review(s: &Setup) -> serde_json::Value {
    let image = format!("{}/demo/app:v1", s.registry.host());
    pod_review("uid-1", vec![container("app", &image)], vec![])
}

#[tokio::test(flavor = "multi_thread")]
async fn image_signed_with_the_trusted_key_is_admitted() {
    let s = setup(true).await;
    let answer = s.webhook.review(&app_review(&s)).await;
    assert!(allowed(&answer), "{answer}");
    assert_eq!(response(&answer)["uid"], "uid-1");
    let note = &response(&answer)["auditAnnotations"]["spec.containers.0"];
    assert!(
        note.as_str().unwrap().starts_with("admit:Verified"),
        "{answer}"
    );
    assert!(note.as_str().unwrap().contains(&s.digest), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unsigned_image_is_denied_because_no_signature_exists() {
    let s = setup(false).await;
    let answer = s.webhook.review(&app_review(&s)).await;
    assert!(!allowed(&answer));
    let status = &response(&answer)["status"];
    assert_eq!(status["code"], 403);
    assert_eq!(status["reason"], "SignatureValidationFailed");
    let msg = message(&answer);
    assert!(
        msg.starts_with("SignatureValidationFailed: spec.containers[0] (app)"),
        "{msg}"
    );
    assert!(
        msg.contains("A signature was required, but no signature exists"),
        "{msg}"
    );
    assert!(msg.contains(&s.digest), "message names the digest: {msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn image_signed_by_another_key_is_denied() {
    let s = setup(false).await;
    sign_image(&s.registry, "demo/app", &s.digest, &TestKey::generate()).await;
    let answer = s.webhook.review(&app_review(&s)).await;
    assert!(!allowed(&answer));
    assert!(
        message(&answer).contains("signed by none of the 1 trusted key(s)"),
        "{}",
        message(&answer)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn signature_for_another_digest_copied_onto_this_image_is_denied() {
    let s = setup(false).await;
    let other = push_image(&s.registry, "demo/app:other", "other").await;
    let payload = simple_signing_payload(&format!("{}/demo/app", s.registry.host()), &other);
    let layer = SigLayer::signed(&s.key, payload);
    push_signature_layers(&s.registry, "demo/app", &s.digest, vec![layer]).await;
    let answer = s.webhook.review(&app_review(&s)).await;
    assert!(!allowed(&answer));
    let msg = message(&answer);
    assert!(msg.contains("signature payload digest mismatch"), "{msg}");
    assert!(msg.contains(&format!("signed {other}")), "{msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn signature_naming_another_repository_is_denied() {
    let s = setup(false).await;
    let payload = simple_signing_payload(&format!("{}/demo/evil", s.registry.host()), &s.digest);
    push_signature_layers(
        &s.registry,
        "demo/app",
        &s.digest,
        vec![SigLayer::signed(&s.key, payload)],
    )
    .await;
    let answer = s.webhook.review(&app_review(&s)).await;
    assert!(!allowed(&answer));
    let msg = message(&answer);
    assert!(msg.contains("signature identity mismatch"), "{msg}");
    assert!(msg.contains("demo/evil"), "{msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn another_repository_is_admitted_when_the_policy_relaxes_identity() {
    let registry = TestRegistry::start();
    let key = TestKey::generate();
    let digest = push_image(&registry, "demo/app:v1", "app-v1").await;
    let payload = simple_signing_payload(&format!("{}/demo/origin", registry.host()), &digest);
    push_signature_layers(
        &registry,
        "demo/app",
        &digest,
        vec![SigLayer::signed(&key, payload)],
    )
    .await;
    let policy = key_policy("demo", &format!("{}/**", registry.host()), &key.public_pem)
        + "    signedIdentity:\n      type: anyRepository\n";
    let webhook = TestWebhook::start(WebhookOptions::new(policy, &[registry.host()])).await;
    let image = format!("{}/demo/app:v1", registry.host());
    let answer = webhook
        .review(&pod_review("u", vec![container("app", &image)], vec![]))
        .await;
    assert!(allowed(&answer), "{answer}");
}

/// The tag cache (`--tag-cache-ttl`) lets a moved tag be verified at its old digest for at
/// most the TTL; after that the new, unsigned digest is resolved and denied.
#[tokio::test(flavor = "multi_thread")]
async fn tag_moved_to_a_new_unsigned_digest_after_signing_is_denied() {
    let registry = TestRegistry::start();
    let key = TestKey::generate();
    let signed = push_image(&registry, "demo/app:v1", "app-v1").await;
    sign_image(&registry, "demo/app", &signed, &key).await;
    let policy = key_policy("demo", &format!("{}/**", registry.host()), &key.public_pem);
    let mut options = WebhookOptions::new(policy, &[registry.host()]);
    // The test moves time itself: however long pushing the replacement takes, the TTL ends
    // only when told.
    let clock = signet::expiring::ManualClock::new();
    let ttl = std::time::Duration::from_secs(30);
    options.cache.tag_ttl = ttl;
    options.clock = clock.clone();
    let webhook = TestWebhook::start(options).await;
    let review = pod_review(
        "u",
        vec![container(
            "app",
            &format!("{}/demo/app:v1", registry.host()),
        )],
        vec![],
    );
    assert!(allowed(&webhook.review(&review).await));
    let moved = move_tag(&registry, "demo/app", "v1", "app-v1-replaced").await;
    clock.advance(ttl - std::time::Duration::from_millis(1));
    let within_ttl = webhook.review(&review).await;
    assert!(
        allowed(&within_ttl),
        "inside the tag TTL the verified digest is reused"
    );
    assert!(within_ttl.to_string().contains(&signed));
    clock.advance(std::time::Duration::from_millis(1));
    let answer = webhook.review(&review).await;
    assert!(!allowed(&answer));
    let msg = message(&answer);
    assert!(msg.contains(&moved), "names the new digest: {msg}");
    assert!(msg.contains("no signature exists"), "{msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_bad_init_container_is_the_only_one_named() {
    let s = setup(true).await;
    let good = format!("{}/demo/app:v1", s.registry.host());
    let bad_digest = push_image(&s.registry, "demo/init:v1", "init").await;
    let bad = format!("{}/demo/init:v1", s.registry.host());
    let review = pod_review(
        "u",
        vec![container("app", &good), container("sidecar", &good)],
        vec![container("setup", &good), container("migrate", &bad)],
    );
    let answer = s.webhook.review(&review).await;
    assert!(!allowed(&answer));
    let msg = message(&answer);
    assert!(msg.contains("spec.initContainers[1] (migrate)"), "{msg}");
    assert!(msg.contains(&bad_digest), "{msg}");
    assert!(!msg.contains("spec.containers["), "{msg}");
    assert!(!msg.contains("initContainers[0]"), "{msg}");
    assert_eq!(msg.matches("spec.").count(), 1, "{msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn ephemeral_container_added_through_the_subresource_is_denied() {
    let s = setup(true).await;
    let good = format!("{}/demo/app:v1", s.registry.host());
    push_image(&s.registry, "demo/debug:v1", "debug").await;
    let debug = format!("{}/demo/debug:v1", s.registry.host());
    let mut review = pod_review("u", vec![container("app", &good)], vec![]);
    let request = &mut review["request"];
    request["operation"] = json!("UPDATE");
    request["subResource"] = json!("ephemeralcontainers");
    request["oldObject"] = request["object"].clone();
    request["object"]["spec"]["ephemeralContainers"] = json!([
        {"name": "debugger", "image": debug, "targetContainerName": "app",
         "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}
    ]);
    let answer = s.webhook.review(&review).await;
    assert!(!allowed(&answer));
    let msg = message(&answer);
    assert!(
        msg.contains("spec.ephemeralContainers[0] (debugger)"),
        "{msg}"
    );
    assert!(msg.contains("no signature exists"), "{msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_owner_reference_and_verification_annotation_do_not_skip_the_check() {
    let s = setup(false).await;
    let mut review = app_review(&s);
    let metadata = &mut review["request"]["object"]["metadata"];
    metadata["ownerReferences"] = json!([{
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "verified-rs",
        "uid": "6c7f6b4e-0000-4000-8000-000000000000", "controller": true, "blockOwnerDeletion": true
    }]);
    metadata["annotations"] = json!({
        "signet.dev/verified": "true",
        "policy.sigstore.dev/verified": "true",
        "kubernetes.io/config.mirror": "abc"
    });
    review["request"]["userInfo"] =
        json!({"username": "system:serviceaccount:kube-system:replicaset-controller"});
    let answer = s.webhook.review(&review).await;
    assert!(!allowed(&answer), "{answer}");
    assert!(message(&answer).contains("no signature exists"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_multi_platform_tag_resolves_to_the_index_digest_which_cosign_signs() {
    let registry = TestRegistry::start();
    let key = TestKey::generate();
    let (index, children) = crate::common::push_index(
        &registry,
        "demo/multi:v1",
        &[("linux", "amd64"), ("linux", "arm64")],
    )
    .await;
    sign_image(&registry, "demo/multi", &index, &key).await;
    let policy = key_policy("demo", &format!("{}/**", registry.host()), &key.public_pem);
    let webhook = TestWebhook::start(WebhookOptions::new(policy, &[registry.host()])).await;
    let image = format!("{}/demo/multi:v1", registry.host());
    let answer = webhook
        .review(&pod_review("u", vec![container("app", &image)], vec![]))
        .await;
    assert!(allowed(&answer), "{answer}");
    let note = response(&answer)["auditAnnotations"]["spec.containers.0"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(note.contains(&index), "verified the index digest: {note}");
    let child = format!("{}/demo/multi@{}", registry.host(), children[0]);
    let answer = webhook
        .review(&pod_review("u", vec![container("app", &child)], vec![]))
        .await;
    assert!(
        !allowed(&answer),
        "a child digest has no signature of its own"
    );
}
