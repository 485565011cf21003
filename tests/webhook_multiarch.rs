//! Multi-platform images through the real webhook and registry: `spec.multiArch` with an index
//! signed (cosign's default), only its platform manifests signed (per-platform pipelines), partly
//! signed, and indexes with nothing for the cluster's platforms (Windows-only).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::webhook::{
    TestWebhook, WebhookOptions, allowed, container, key_policy, message, pod_review, response,
};
use common::{TestKey, TestRegistry, push_index, sign_image};
use signet::verdict::Outcome;
use signet::workload::ImageUse;

const CLUSTER: &[(&str, &str)] = &[("linux", "amd64"), ("linux", "arm64")];
/// Signet's per-platform mode; a `policy.sigstore.dev` policy without `multiArch` is `index`.
const INDEX_OR_PLATFORM: &str = "  multiArch: indexOrPlatform\n";

/// A registry, a key, and a webhook trusting the key for the registry with `extra` spec lines.
async fn setup(extra: &str) -> (TestRegistry, TestKey, TestWebhook) {
    let registry = TestRegistry::start();
    let key = TestKey::generate();
    let policy = key_policy("multi", &format!("{}/**", registry.host()), &key.public_pem);
    let webhook = TestWebhook::start(WebhookOptions::new(
        format!("{policy}{extra}"),
        &[registry.host()],
    ))
    .await;
    (registry, key, webhook)
}

async fn review(
    webhook: &TestWebhook,
    registry: &TestRegistry,
    repo_tag: &str,
) -> serde_json::Value {
    let image = format!("{}/{repo_tag}", registry.host());
    webhook
        .review(&pod_review("u", vec![container("app", &image)], vec![]))
        .await
}

/// The engine's note for an admitted image (which digests were judged, by whom).
async fn note(webhook: &TestWebhook, registry: &TestRegistry, repo_tag: &str) -> String {
    let usage = ImageUse {
        path: "spec.containers[0]".into(),
        container: "app".into(),
        image: format!("{}/{repo_tag}", registry.host()),
    };
    let decision = webhook.engine().review(None, &[usage]).await;
    match &decision.verdicts[0].outcome {
        Outcome::Admit(_, note) => note.clone(),
        other => panic!("not admitted: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_index_signed_as_cosign_does_by_default_is_admitted() {
    let (registry, key, webhook) = setup("").await;
    let (index, _) = push_index(&registry, "demo/app:v1", CLUSTER).await;
    sign_image(&registry, "demo/app", &index, &key).await;
    let answer = review(&webhook, &registry, "demo/app:v1").await;
    assert!(allowed(&answer), "{answer}");
    let audit = &response(&answer)["auditAnnotations"]["spec.containers.0"];
    assert!(audit.as_str().unwrap().contains(&index), "{answer}");
}

/// policy-controller verifies the digest the reference resolves to, the index's: a
/// ClusterImagePolicy without `multiArch` gets that default, so signed children of an unsigned
/// index are not enough.
#[tokio::test(flavor = "multi_thread")]
async fn without_multi_arch_a_cluster_image_policy_needs_the_index_signed() {
    let (registry, key, webhook) = setup("").await;
    let (_, children) = push_index(&registry, "demo/app:v1", CLUSTER).await;
    for child in &children {
        sign_image(&registry, "demo/app", child, &key).await;
    }
    let answer = review(&webhook, &registry, "demo/app:v1").await;
    assert!(!allowed(&answer), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unsigned_index_whose_cluster_platform_manifests_are_signed_is_admitted() {
    let (registry, key, webhook) = setup(INDEX_OR_PLATFORM).await;
    let platforms = [("linux", "amd64"), ("linux", "arm64"), ("linux", "s390x")];
    let (index, children) = push_index(&registry, "demo/app:v1", &platforms).await;
    // A per-platform pipeline that never built (or signed) s390x for this cluster.
    sign_image(&registry, "demo/app", &children[0], &key).await;
    sign_image(&registry, "demo/app", &children[1], &key).await;
    let answer = review(&webhook, &registry, "demo/app:v1").await;
    assert!(allowed(&answer), "{answer}");
    let note = note(&webhook, &registry, "demo/app:v1").await;
    assert!(
        note.contains(&format!("index {index} judged by its platform manifests")),
        "{note}"
    );
    assert!(
        note.contains(&format!("linux/arm64 {}", children[1])),
        "{note}"
    );
    assert!(!note.contains(&children[2]), "s390x is not judged: {note}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partly_signed_index_is_denied_naming_the_unsigned_platform_and_digest() {
    let (registry, key, webhook) = setup(INDEX_OR_PLATFORM).await;
    let (index, children) = push_index(&registry, "demo/app:v1", CLUSTER).await;
    sign_image(&registry, "demo/app", &children[0], &key).await;
    let answer = review(&webhook, &registry, "demo/app:v1").await;
    assert!(!allowed(&answer), "{answer}");
    let message = message(&answer);
    let expected = format!(
        "the linux/arm64 manifest {} of index {index} is not signed (multiArch: indexOrPlatform)",
        children[1]
    );
    assert!(message.contains(&expected), "{message}");
    assert!(message.contains("no signature exists"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_windows_only_index_needs_every_child_signed_and_never_fails_on_platform() {
    let (registry, key, webhook) = setup(INDEX_OR_PLATFORM).await;
    let windows = [("windows", "amd64"), ("windows", "arm64")];
    let (index, children) = push_index(&registry, "demo/win:v1", &windows).await;
    sign_image(&registry, "demo/win", &children[0], &key).await;
    let answer = review(&webhook, &registry, "demo/win:v1").await;
    assert!(!allowed(&answer), "{answer}");
    let expected = format!(
        "the windows/arm64 manifest {} of index {index}",
        children[1]
    );
    assert!(message(&answer).contains(&expected), "{answer}");
    let (_, both) = push_index(&registry, "demo/win-both:v1", &windows).await;
    for child in &both {
        sign_image(&registry, "demo/win-both", child, &key).await;
    }
    let answer = review(&webhook, &registry, "demo/win-both:v1").await;
    assert!(allowed(&answer), "every child signed: {answer}");
    let (signed_index, _) = push_index(&registry, "demo/win2:v1", &windows).await;
    sign_image(&registry, "demo/win2", &signed_index, &key).await;
    let answer = review(&webhook, &registry, "demo/win2:v1").await;
    assert!(allowed(&answer), "the index signature covers it: {answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_arm_only_index_is_judged_by_its_arm64_manifest() {
    let (registry, key, webhook) = setup(INDEX_OR_PLATFORM).await;
    let (_, children) = push_index(&registry, "demo/arm:v1", &[("linux", "arm64")]).await;
    sign_image(&registry, "demo/arm", &children[0], &key).await;
    let answer = review(&webhook, &registry, "demo/arm:v1").await;
    assert!(allowed(&answer), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn multi_arch_index_refuses_signed_children_of_an_unsigned_index() {
    let (registry, key, webhook) = setup("  multiArch: index\n").await;
    let (_, children) = push_index(&registry, "demo/app:v1", CLUSTER).await;
    for child in &children {
        sign_image(&registry, "demo/app", child, &key).await;
    }
    let answer = review(&webhook, &registry, "demo/app:v1").await;
    assert!(!allowed(&answer), "{answer}");
    assert!(message(&answer).contains("no signature exists"), "{answer}");
    let (signed, _) = push_index(&registry, "demo/idx:v1", CLUSTER).await;
    sign_image(&registry, "demo/idx", &signed, &key).await;
    let answer = review(&webhook, &registry, "demo/idx:v1").await;
    assert!(allowed(&answer), "{answer}");
    let note = note(&webhook, &registry, "demo/idx:v1").await;
    assert!(!note.contains("platform manifests"), "{note}");
}

#[tokio::test(flavor = "multi_thread")]
async fn multi_arch_all_platforms_needs_every_child_even_when_the_index_is_signed() {
    let (registry, key, webhook) = setup("  multiArch: allPlatforms\n").await;
    let platforms = [("linux", "amd64"), ("linux", "s390x")];
    let (index, children) = push_index(&registry, "demo/all:v1", &platforms).await;
    sign_image(&registry, "demo/all", &index, &key).await;
    sign_image(&registry, "demo/all", &children[0], &key).await;
    let answer = review(&webhook, &registry, "demo/all:v1").await;
    assert!(!allowed(&answer), "{answer}");
    let expected = format!(
        "the linux/s390x manifest {} of index {index} is not signed (multiArch: allPlatforms)",
        children[1]
    );
    assert!(message(&answer).contains(&expected), "{answer}");
    let (_, recursive) = push_index(&registry, "demo/rec:v1", &platforms).await;
    for child in &recursive {
        sign_image(&registry, "demo/rec", child, &key).await;
    }
    let answer = review(&webhook, &registry, "demo/rec:v1").await;
    assert!(allowed(&answer), "cosign sign --recursive output: {answer}");
}
