//! The decision memo (`engine/verdicts/memo.rs`) keeps what a review decided for an image as
//! written. Each test first makes the memo serve a review (its hit counter proves it), then tries
//! to make it answer what the pipeline would not answer at that moment: a tag moved past its
//! TTL, a policy reload, another namespace's policies, an object a policy selects or reads, a
//! review with the pod's own credentials, a registry that failed.

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::Value;

use crate::common::faults::{Fault, FaultFront};
use crate::common::webhook::{
    TestWebhook, WebhookOptions, allowed, container, deployment_review, key_policy, message,
    pod_review, pod_review_in,
};
use crate::common::{TestKey, TestRegistry, move_tag, push_image, sign_image};
use signet::engine::{CredentialSource, NoMatchAction};
use signet::expiring::ManualClock;
use signet::policy::PolicySet;
use signet::registry::Credentials;
use signet::verdict::Outcome;
use signet::workload::ImageUse;

async fn memo_hits(webhook: &TestWebhook) -> u64 {
    webhook.cache_lookups("decision", "hit").await
}

/// Every time the memo was asked, answered or not.
async fn memo_lookups(webhook: &TestWebhook) -> u64 {
    memo_hits(webhook).await + webhook.cache_lookups("decision", "miss").await
}

/// Review `review` three times, each admitted; the third is answered from the memo.
async fn admitted_from_memory(webhook: &TestWebhook, review: &Value) {
    let before = memo_hits(webhook).await;
    for _ in 0..3 {
        let answer = webhook.review(review).await;
        assert!(allowed(&answer), "{}", message(&answer));
    }
    assert!(
        memo_hits(webhook).await > before,
        "the memo answered a repeated review"
    );
}

/// A registry with `demo/app:v1` signed by a fresh key.
struct Signed {
    registry: TestRegistry,
    key: TestKey,
    digest: String,
}

impl Signed {
    async fn start() -> Signed {
        let registry = TestRegistry::start();
        let key = TestKey::generate();
        let digest = push_image(&registry, "demo/app:v1", "memo").await;
        sign_image(&registry, "demo/app", &digest, &key).await;
        Signed {
            registry,
            key,
            digest,
        }
    }

    fn image(&self) -> String {
        format!("{}/demo/app:v1", self.registry.host())
    }

    fn glob(&self) -> String {
        format!("{}/**", self.registry.host())
    }

    fn options(&self) -> WebhookOptions {
        let policy = key_policy("demo", &self.glob(), &self.key.public_pem);
        WebhookOptions::new(policy, &[self.registry.host()])
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_remembered_admission_ends_when_the_tag_it_resolved_expires() {
    let s = Signed::start().await;
    let mut options = s.options();
    let clock = ManualClock::new();
    // Shorter than the verdict's lifetime and the memo's own longest: only the tag ends it.
    let ttl = Duration::from_secs(10);
    options.cache.tag_ttl = ttl;
    options.clock = clock.clone();
    let webhook = TestWebhook::start(options).await;
    let review = pod_review("u", vec![container("app", &s.image())], vec![]);
    admitted_from_memory(&webhook, &review).await;

    let moved = move_tag(&s.registry, "demo/app", "v1", "memo-replaced").await;
    clock.advance(ttl - Duration::from_millis(1));
    let hits = memo_hits(&webhook).await;
    let within = webhook.review(&review).await;
    assert!(allowed(&within), "inside the tag TTL: {}", message(&within));
    assert!(within.to_string().contains(&s.digest));
    assert_eq!(memo_hits(&webhook).await, hits + 1, "answered from memory");

    clock.advance(Duration::from_millis(1));
    let answer = webhook.review(&review).await;
    assert!(!allowed(&answer), "the tag's entry ended, and the memo's");
    assert!(message(&answer).contains(&moved), "{}", message(&answer));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_reload_forgets_remembered_decisions_at_once() {
    let s = Signed::start().await;
    let webhook = TestWebhook::start(s.options()).await;
    let review = pod_review("u", vec![container("app", &s.image())], vec![]);
    admitted_from_memory(&webhook, &review).await;

    let other = TestKey::generate();
    let rotated =
        PolicySet::from_yaml(&key_policy("demo", &s.glob(), &other.public_pem), "r").unwrap();
    webhook.engine().replace_policies(rotated);
    let answer = webhook.review(&review).await;
    assert!(!allowed(&answer), "the rotated key is judged at once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_namespace_never_gets_another_namespaces_remembered_decision() {
    let s = Signed::start().await;
    let strict = "apiVersion: policy.sigstore.dev/v1alpha1\nkind: ImagePolicy\nmetadata:\n  \
                  name: strict\n  namespace: strict\nspec:\n  images:\n  - glob: \"**\"\n  \
                  authorities:\n  - static:\n      action: fail\n";
    let mut options = s.options();
    options.policy_yaml = format!("{}\n---\n{strict}", options.policy_yaml);
    let webhook = TestWebhook::start(options).await;
    let open = pod_review_in("open", "u1", vec![container("app", &s.image())]);
    let closed = pod_review_in("strict", "u2", vec![container("app", &s.image())]);
    for _ in 0..3 {
        assert!(allowed(&webhook.review(&open).await));
        assert!(!allowed(&webhook.review(&closed).await));
    }
    assert!(memo_hits(&webhook).await >= 2, "both namespaces remembered");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_that_selects_objects_turns_the_memo_off() {
    // `static: fail` for Deployments only, `--no-match allow`: a Pod is admitted, a Deployment
    // with the same image is denied, however many Pods came before it.
    let policy = "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  \
                  name: deployments\nspec:\n  match:\n  - group: apps\n    version: v1\n    \
                  resource: deployments\n  images:\n  - glob: \"**\"\n  authorities:\n  - \
                  static:\n      action: fail\n";
    let mut options = WebhookOptions::new(policy, &[]);
    options.no_match = NoMatchAction::Allow;
    let webhook = TestWebhook::start(options).await;
    let image = "127.0.0.1:1/org/app:v1";
    let pod = pod_review("u", vec![container("app", image)], vec![]);
    for _ in 0..3 {
        assert!(allowed(&webhook.review(&pod).await));
    }
    let deployment = deployment_review("u", vec![container("app", image)]);
    assert!(!allowed(&webhook.review(&deployment).await));
    assert_eq!(memo_lookups(&webhook).await, 0, "never consulted");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_that_reads_the_object_turns_the_memo_off() {
    // `spec.policy` over the object's labels: the same signed image is admitted in a pod of
    // the payments team and denied in any other, however many admissions came before.
    let s = Signed::start().await;
    let mut options = s.options();
    options.policy_yaml += "  policy:\n    type: cue\n    includeObjectMeta: true\n    data: |\n      \
                            metadata: labels: team: \"payments\"\n";
    let webhook = TestWebhook::start(options).await;
    let labelled = |team: &str| {
        let mut review = pod_review("u", vec![container("app", &s.image())], vec![]);
        review["request"]["object"]["metadata"]["labels"] = serde_json::json!({"team": team});
        review
    };
    for _ in 0..3 {
        let answer = webhook.review(&labelled("payments")).await;
        assert!(allowed(&answer), "{}", message(&answer));
    }
    let answer = webhook.review(&labelled("marketing")).await;
    assert!(!allowed(&answer), "another team's pod was admitted");
    // Not even asked. (A per-object verdict is also marked never to be kept: a second guard,
    // which this test reaches only with the first removed; both removed, the team is admitted.)
    assert_eq!(memo_lookups(&webhook).await, 0, "never consulted");
}

/// A pod whose pull secret cannot be read.
struct MissingSecret;

impl CredentialSource for MissingSecret {
    fn credentials(&self) -> BoxFuture<'_, Result<Credentials, String>> {
        Box::pin(async { Err("secret default/regcred not found".to_string()) })
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_review_with_the_pods_own_credentials_is_never_answered_from_memory() {
    let s = Signed::start().await;
    let webhook = TestWebhook::start(s.options()).await;
    let review = pod_review_in("team", "u", vec![container("app", &s.image())]);
    admitted_from_memory(&webhook, &review).await;

    let uses = [ImageUse {
        path: "spec.containers[0]".into(),
        container: "app".into(),
        image: s.image(),
    }];
    let decision = webhook
        .engine()
        .review_as(Some("team"), None, &uses, Some(&MissingSecret))
        .await;
    match &decision.verdicts[0].outcome {
        Outcome::Deny(reason) => assert!(reason.to_string().contains("regcred"), "{reason}"),
        other => panic!("the pod's unreadable secret must deny, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registry_error_is_never_remembered() {
    let s = Signed::start().await;
    let front = FaultFront::start(&s.registry.host()).await;
    // Signed at the registry's own address, reviewed through the front.
    let policy = key_policy("demo", &format!("{}/**", front.host()), &s.key.public_pem)
        + "    signedIdentity:\n      type: anyRepository\n";
    let webhook = TestWebhook::start(WebhookOptions::new(policy, &[front.host()])).await;
    let review = pod_review(
        "u",
        vec![container("app", &format!("{}/demo/app:v1", front.host()))],
        vec![],
    );
    front.fail("/manifests/v1", Fault::Status(500, vec![]));
    for _ in 0..3 {
        assert!(!allowed(&webhook.review(&review).await));
    }
    front.heal();
    let answer = webhook.review(&review).await;
    assert!(allowed(&answer), "healed at once: {}", message(&answer));
    assert_eq!(memo_hits(&webhook).await, 0);
}

/// A cluster policy that decides every image statically: `pass` or `fail`.
fn static_policy(action: &str) -> PolicySet {
    let yaml = format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  \
         name: everything\nspec:\n  images:\n  - glob: \"**\"\n  authorities:\n  - static:\n      \
         action: {action}\n"
    );
    PolicySet::from_yaml(&yaml, action).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reviews_that_start_after_a_reload_never_get_the_old_policys_decision() {
    use signet::engine::{Engine, EngineSettings};
    use signet::registry::{Registry, RegistryConfig};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let registry = Registry::new(RegistryConfig::default(), Credentials::default());
    let engine = Arc::new(Engine::new(
        static_policy("pass"),
        registry,
        EngineSettings::default(),
    ));
    let uses = Arc::new(vec![ImageUse {
        path: "spec.containers[0]".into(),
        container: "app".into(),
        image: "registry.example/app:v1".into(),
    }]);
    // Reviews keep running across every reload, so results of the old policy set are still
    // being stored while the new one is read.
    let stop = Arc::new(AtomicBool::new(false));
    let mut background = Vec::new();
    for _ in 0..3 {
        let (engine, uses, stop) = (engine.clone(), uses.clone(), stop.clone());
        background.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                engine.review(Some("team"), &uses).await;
                tokio::task::yield_now().await;
            }
        }));
    }
    for round in 0..300 {
        let pass = round % 2 == 0;
        engine.replace_policies(static_policy(if pass { "pass" } else { "fail" }));
        for _ in 0..4 {
            let decision = engine.review(Some("team"), &uses).await;
            assert_eq!(
                decision.allowed(),
                pass,
                "round {round}: a review that started after the reload got the other decision"
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    for task in background {
        task.await.unwrap();
    }
    let (hits, _) = engine.decision_memo().stats();
    assert!(hits > 0, "the memo answered some of these reviews");
}
