//! The registry caches in front of the engine: a burst of reviews for one new image costs one
//! round of registry calls, "no signature" is forgotten after the negative TTL, and a policy
//! change is judged at once against cached signatures (nothing stale passes).

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use crate::common::faults::FaultFront;
use crate::common::webhook::{
    TestWebhook, WebhookOptions, allowed, container, key_policy, message, pod_review, pod_review_in,
};
use crate::common::{TestKey, TestRegistry, push_image, sign_image};
use signet::expiring::ManualClock;
use signet::policy::PolicySet;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_concurrent_reviews_of_one_new_image_cost_one_resolution_and_one_signature_fetch()
 {
    let registry = TestRegistry::start();
    let key = TestKey::generate();
    let digest = push_image(&registry, "demo/app:v1", "herd").await;
    sign_image(&registry, "demo/app", &digest, &key).await;
    let front = FaultFront::flipping(&registry.host(), "demo/app", "v1", &digest, &digest).await;
    // Signed at the registry's own address, reviewed through the counting front.
    let policy = key_policy("demo", &format!("{}/**", front.host()), &key.public_pem)
        + "    signedIdentity:\n      type: anyRepository\n";
    let mut options = WebhookOptions::new(policy, &[front.host()]);
    // 500 TLS handshakes in a debug build on a busy machine: generous deadlines, since this
    // test counts registry requests, it does not time them.
    options.review_deadline = Duration::from_secs(20);
    options.registry_timeout = Duration::from_secs(15);
    // The caches' clock stands still: however long the herd takes, no entry expires under it.
    options.clock = ManualClock::new();
    let webhook = std::sync::Arc::new(TestWebhook::start(options).await);
    let review = pod_review(
        "herd",
        vec![container("app", &format!("{}/demo/app:v1", front.host()))],
        vec![],
    );
    let mut reviews = Vec::new();
    for _ in 0..500 {
        let (webhook, review) = (webhook.clone(), review.clone());
        reviews.push(tokio::spawn(async move { webhook.review(&review).await }));
    }
    let mut admitted = 0;
    for r in reviews {
        admitted += usize::from(allowed(&r.await.unwrap()));
    }
    assert_eq!(admitted, 500);
    assert_eq!(
        front.tag_lookups("demo/app", "v1"),
        1,
        "one digest resolution"
    );
    assert_eq!(
        front.requests_containing(".sig"),
        1,
        "one signature manifest fetch"
    );
    assert_eq!(
        front.requests_containing("/blobs/"),
        1,
        "one signature blob fetch"
    );
    let metrics = webhook.metrics().await;
    assert!(
        metrics.contains("signet_cache_requests_total{cache=\"digest\",result=\"miss\"} 1"),
        "{metrics}"
    );
    // Every other review was served by the tag cache, or by a decision the memo kept from a
    // review the caches served.
    let served = webhook.cache_lookups("digest", "hit").await
        + webhook.cache_lookups("decision", "hit").await;
    assert_eq!(served, 499, "{metrics}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_image_signed_after_a_denial_is_admitted_once_the_negative_ttl_passes() {
    let registry = TestRegistry::start();
    let key = TestKey::generate();
    let digest = push_image(&registry, "demo/app:v1", "late").await;
    let policy = key_policy("demo", &format!("{}/**", registry.host()), &key.public_pem);
    let mut options = WebhookOptions::new(policy, &[registry.host()]);
    // The test moves time itself: however long signing takes, the TTL ends only when told.
    let clock = ManualClock::new();
    let ttl = Duration::from_secs(10);
    options.cache.negative_ttl = ttl;
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
    assert!(!allowed(&webhook.review(&review).await));
    sign_image(&registry, "demo/app", &digest, &key).await;
    clock.advance(ttl - Duration::from_millis(1));
    let cached = webhook.review(&review).await;
    assert!(
        !allowed(&cached),
        "inside the negative TTL the cached absence is reused"
    );
    clock.advance(Duration::from_millis(1));
    assert!(allowed(&webhook.review(&review).await));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_change_is_judged_at_once_against_cached_signatures() {
    let registry = TestRegistry::start();
    let (key, other) = (TestKey::generate(), TestKey::generate());
    let digest = push_image(&registry, "demo/app:v1", "policy").await;
    sign_image(&registry, "demo/app", &digest, &key).await;
    let glob = format!("{}/**", registry.host());
    let webhook = TestWebhook::start(WebhookOptions::new(
        key_policy("demo", &glob, &key.public_pem),
        &[registry.host()],
    ))
    .await;
    let review = pod_review(
        "u",
        vec![container(
            "app",
            &format!("{}/demo/app:v1", registry.host()),
        )],
        vec![],
    );
    assert!(allowed(&webhook.review(&review).await));
    let rotated =
        PolicySet::from_yaml(&key_policy("demo", &glob, &other.public_pem), "rotated").unwrap();
    webhook.engine().replace_policies(rotated);
    let answer = webhook.review(&review).await;
    assert!(
        !allowed(&answer),
        "the old key no longer admits, cache or not"
    );
    assert!(
        message(&answer).contains("signed by none of the 1 trusted key(s)"),
        "{}",
        message(&answer)
    );
    let stats = webhook.engine().registry().stats();
    assert!(
        stats
            .signature_hits
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1,
        "the signatures came from the cache"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repeated_review_reuses_the_verdict_and_a_policy_reload_judges_again() {
    let registry = TestRegistry::start();
    let (key, other) = (TestKey::generate(), TestKey::generate());
    let digest = push_image(&registry, "demo/app:v1", "verdict").await;
    sign_image(&registry, "demo/app", &digest, &key).await;
    let glob = format!("{}/**", registry.host());
    let webhook = TestWebhook::start(WebhookOptions::new(
        key_policy("demo", &glob, &key.public_pem),
        &[registry.host()],
    ))
    .await;
    let image = format!("{}/demo/app:v1", registry.host());
    let review = pod_review("u", vec![container("app", &image)], vec![]);
    assert!(allowed(&webhook.review(&review).await));
    assert!(allowed(&webhook.review(&review).await));
    assert_eq!(webhook.cache_lookups("verdict", "hit").await, 1);
    assert_eq!(webhook.cache_lookups("verdict", "miss").await, 1);

    // The same content reloaded (another file name) keeps its verdicts.
    let same = PolicySet::from_yaml(&key_policy("demo", &glob, &key.public_pem), "again").unwrap();
    webhook.engine().replace_policies(same);
    assert!(allowed(&webhook.review(&review).await));
    assert_eq!(webhook.cache_lookups("verdict", "hit").await, 2);

    // A changed key is judged again, against the cached signatures: no stale pass.
    let rotated =
        PolicySet::from_yaml(&key_policy("demo", &glob, &other.public_pem), "rotated").unwrap();
    webhook.engine().replace_policies(rotated);
    assert!(!allowed(&webhook.review(&review).await));
    assert_eq!(webhook.cache_lookups("verdict", "miss").await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_namespace_with_its_own_policy_never_reuses_another_namespaces_verdict() {
    let registry = TestRegistry::start();
    let (key, other) = (TestKey::generate(), TestKey::generate());
    let digest = push_image(&registry, "demo/app:v1", "scoped").await;
    sign_image(&registry, "demo/app", &digest, &key).await;
    let glob = format!("{}/**", registry.host());
    // Cluster-wide: the signing key. In namespace "strict" only: another key as well.
    let strict = key_policy("strict", &glob, &other.public_pem)
        .replace("kind: ClusterImagePolicy", "kind: ImagePolicy")
        .replace("v1beta1", "v1alpha1")
        .replace("  name: strict\n", "  name: strict\n  namespace: strict\n");
    let policy = format!(
        "{}\n---\n{strict}",
        key_policy("demo", &glob, &key.public_pem)
    );
    let webhook = TestWebhook::start(WebhookOptions::new(policy, &[registry.host()])).await;
    let image = format!("{}/demo/app:v1", registry.host());
    let open = pod_review_in("open", "u1", vec![container("app", &image)]);
    let closed = pod_review_in("strict", "u2", vec![container("app", &image)]);
    assert!(allowed(&webhook.review(&open).await));
    let answer = webhook.review(&closed).await;
    assert!(
        !allowed(&answer),
        "the namespace's own policy applies: {}",
        message(&answer)
    );
    assert!(allowed(&webhook.review(&open).await));
    assert_eq!(webhook.cache_lookups("verdict", "hit").await, 1);
}
