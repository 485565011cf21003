//! A failing or hostile registry, between the webhook and a real registry (`FaultFront`): every
//! fault is denied in enforce mode with a stable reason code, inside the review deadline, having
//! read no more than the limits; redirects never carry credentials to another host or reach
//! internal addresses; an invalid certificate is never bypassed; one slow registry never delays
//! reviews of images on a healthy one. (The registry that never answers is in
//! `webhook_policy_and_limits.rs`; the 10,000-entry referrers index in `webhook_bundles.rs`.)

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::faults::{Fault, FaultFront};
use crate::common::webhook::{
    TestWebhook, WebhookOptions, allowed, container, first_code, key_policy, message, pod_review,
};
use crate::common::{Mode, TcpProxy, TestKey, TestRegistry, push_image, sign_image};
use serde_json::Value;

const TEN_GIB: u64 = 10 * 1024 * 1024 * 1024;
const REVIEW_DEADLINE: Duration = Duration::from_secs(4);

/// A signed image in a real registry, reviewed through a fault front.
struct Setup {
    registry: TestRegistry,
    front: FaultFront,
    key: TestKey,
    digest: String,
}

impl Setup {
    async fn new() -> Setup {
        let registry = TestRegistry::start();
        let key = TestKey::generate();
        let digest = push_image(&registry, "demo/app:v1", "faults").await;
        sign_image(&registry, "demo/app", &digest, &key).await;
        let front = FaultFront::start(&registry.host()).await;
        Setup {
            registry,
            front,
            key,
            digest,
        }
    }

    /// Options for a webhook that trusts the key for images of the front (signed at the
    /// registry's own address, hence any repository).
    fn options(&self, insecure: &[String]) -> WebhookOptions {
        let policy = key_policy(
            "demo",
            &format!("{}/**", self.front.host()),
            &self.key.public_pem,
        ) + "    signedIdentity:\n      type: anyRepository\n";
        let mut options = WebhookOptions::new(policy, insecure);
        options.registry_timeout = Duration::from_secs(1);
        options.review_deadline = REVIEW_DEADLINE;
        options
    }

    async fn webhook(&self) -> TestWebhook {
        TestWebhook::start(self.options(&[self.front.host()])).await
    }

    fn image(&self) -> String {
        format!("{}/demo/app:v1", self.front.host())
    }

    fn sig_path(&self) -> String {
        format!("{}.sig", self.digest.replacen(':', "-", 1))
    }
}

/// Review `image`: (answer, time taken).
async fn review(webhook: &TestWebhook, image: &str) -> (Value, Duration) {
    let started = Instant::now();
    let answer = webhook
        .review(&pod_review("u", vec![container("app", image)], vec![]))
        .await;
    (answer, started.elapsed())
}

/// Denied with `code`, a message containing `text`, inside the review deadline.
fn assert_denied(answer: &Value, took: Duration, expected_code: &str, text: &str) {
    assert!(!allowed(answer), "admitted: {answer}");
    assert_eq!(first_code(answer), expected_code, "{}", message(answer));
    assert!(message(answer).contains(text), "{}", message(answer));
    assert!(took < REVIEW_DEADLINE, "answered after {took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_front_itself_changes_nothing() {
    let s = Setup::new().await;
    let webhook = s.webhook().await;
    let (answer, _) = review(&webhook, &s.image()).await;
    assert!(allowed(&answer), "{}", message(&answer));
    assert!(s.front.requests_containing(&s.sig_path()) >= 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn server_error_is_denied_as_registry_unavailable() {
    let s = Setup::new().await;
    s.front.fail(&s.sig_path(), Fault::Status(500, vec![]));
    let webhook = s.webhook().await;
    let (answer, took) = review(&webhook, &s.image()).await;
    assert_denied(&answer, took, "RegistryUnavailable", "HTTP 500");
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_denies_at_once_pauses_the_registry_briefly_and_causes_no_retry_storm() {
    let s = Setup::new().await;
    let tag_path = "/v2/demo/app/manifests/v1";
    s.front.fail(
        tag_path,
        Fault::Status(429, vec![("retry-after", "60".into())]),
    );
    let mut options = s.options(&[s.front.host()]);
    // The test moves time itself: the pause cannot end during the 20 reviews, however slow.
    let clock = signet::expiring::ManualClock::new();
    options.rate_limit_pause = Duration::from_secs(2);
    options.clock = clock.clone();
    let webhook = TestWebhook::start(options).await;
    for _ in 0..20 {
        let (answer, took) = review(&webhook, &s.image()).await;
        assert_denied(&answer, took, "RegistryRateLimited", "rate limiting");
    }
    assert_eq!(
        s.front.requests_containing(tag_path),
        1,
        "one 429, then no request until the pause ends"
    );
    s.front.heal();
    clock.advance(Duration::from_millis(1999));
    let (answer, took) = review(&webhook, &s.image()).await;
    assert_denied(&answer, took, "RegistryRateLimited", "rate limiting");
    assert_eq!(s.front.requests_containing(tag_path), 1, "still paused");
    clock.advance(Duration::from_millis(1));
    let (answer, _) = review(&webhook, &s.image()).await;
    assert!(
        allowed(&answer),
        "Retry-After: 60 is capped by the pause: {}",
        message(&answer)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_broken_mid_body_is_denied_as_unavailable() {
    let s = Setup::new().await;
    s.front.fail(&s.sig_path(), Fault::ResetMidBody);
    let webhook = s.webhook().await;
    let (answer, took) = review(&webhook, &s.image()).await;
    assert_denied(
        &answer,
        took,
        "RegistryUnavailable",
        "reading the signature manifest",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registry_trickling_one_byte_a_second_is_cut_at_the_call_deadline() {
    let s = Setup::new().await;
    s.front.fail(&s.sig_path(), Fault::Trickle);
    // Each byte arrives within the read timeout; only the call deadline can end it.
    let mut options = s.options(&[s.front.host()]);
    options.registry_timeout = Duration::from_secs(2);
    let webhook = TestWebhook::start(options).await;
    let (answer, took) = review(&webhook, &s.image()).await;
    assert_denied(&answer, took, "Timeout", "timed out after 2s");
}

#[tokio::test(flavor = "multi_thread")]
async fn manifests_declared_huge_or_endless_are_refused_at_the_limit() {
    for (fault, text) in [
        (Fault::Declared(TEN_GIB), "10737418240 bytes declared"),
        (Fault::Endless, "more bytes than that sent"),
    ] {
        let s = Setup::new().await;
        s.front.fail(&s.sig_path(), fault);
        let webhook = s.webhook().await;
        let (answer, took) = review(&webhook, &s.image()).await;
        assert_denied(&answer, took, "LimitExceeded", text);
        assert!(message(&answer).contains("signature manifest"));
        // Refused at the limit, not at the registry's timeout (1 s) or the deadline.
        assert!(took < Duration::from_secs(1), "took {took:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blob_declared_ten_gibibytes_is_refused_before_it_is_read() {
    let s = Setup::new().await;
    s.front.fail("/blobs/", Fault::Declared(TEN_GIB));
    let webhook = s.webhook().await;
    let (answer, took) = review(&webhook, &s.image()).await;
    assert_denied(&answer, took, "LimitExceeded", "10737418240 bytes declared");
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

/// A rewrite of the `.sig` manifest as JSON.
fn rewrite_json(
    edit: impl Fn(&mut Value) + Send + Sync + 'static,
) -> crate::common::faults::Rewrite {
    Arc::new(move |bytes: &[u8]| {
        let mut manifest: Value = serde_json::from_slice(bytes).unwrap();
        edit(&mut manifest);
        serde_json::to_vec(&manifest).unwrap()
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signature_manifest_that_disagrees_with_its_announced_digest_is_denied() {
    let s = Setup::new().await;
    let padded = Arc::new(|bytes: &[u8]| [bytes, b" "].concat());
    s.front.fail(&s.sig_path(), Fault::Rewrite(padded, vec![]));
    let webhook = s.webhook().await;
    let (answer, took) = review(&webhook, &s.image()).await;
    assert_denied(&answer, took, "DigestMismatch", "Docker-Content-Digest");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signature_blob_that_is_not_its_digest_is_denied() {
    let s = Setup::new().await;
    let flipped = Arc::new(|bytes: &[u8]| bytes.iter().map(|b| b ^ 1).collect());
    s.front.fail(
        "/blobs/",
        Fault::Rewrite(flipped, vec![("docker-content-digest", None)]),
    );
    let webhook = s.webhook().await;
    let (answer, took) = review(&webhook, &s.image()).await;
    assert_denied(&answer, took, "DigestMismatch", "signature layer hashes to");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ambiguous_manifest_or_one_served_as_another_type_is_denied() {
    let s = Setup::new().await;
    let both = rewrite_json(|m| m["manifests"] = serde_json::json!([]));
    s.front.fail(
        &s.sig_path(),
        Fault::Rewrite(both, vec![("docker-content-digest", None)]),
    );
    let webhook = s.webhook().await;
    let (answer, took) = review(&webhook, &s.image()).await;
    assert_denied(
        &answer,
        took,
        "RegistryInvalidResponse",
        "both layers and manifests",
    );

    let s = Setup::new().await;
    let same = Arc::new(|bytes: &[u8]| bytes.to_vec());
    let index = "application/vnd.oci.image.index.v1+json";
    s.front.fail(
        &s.sig_path(),
        Fault::Rewrite(same, vec![("content-type", Some(index.into()))]),
    );
    let webhook = s.webhook().await;
    let (answer, took) = review(&webhook, &s.image()).await;
    assert_denied(&answer, took, "RegistryInvalidResponse", "served as");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_and_one_layers_or_one_over_the_cap_are_refused_by_count() {
    for count in [65, 1_001] {
        let s = Setup::new().await;
        let many = rewrite_json(move |m| {
            let layer = m["layers"][0].clone();
            let minimal = serde_json::json!({
                "mediaType": layer["mediaType"],
                "digest": layer["digest"],
                "size": layer["size"],
            });
            m["layers"] = Value::Array(vec![minimal; count]);
        });
        s.front.fail(
            &s.sig_path(),
            Fault::Rewrite(many, vec![("docker-content-digest", None)]),
        );
        let webhook = s.webhook().await;
        let (answer, took) = review(&webhook, &s.image()).await;
        let text = format!("{count} signatures exceed the limit of 64");
        assert_denied(&answer, took, "LimitExceeded", &text);
        assert_eq!(
            s.front.requests_containing("/blobs/"),
            0,
            "no layer is downloaded"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_layer_declared_ten_gibibytes_is_refused_before_download() {
    let s = Setup::new().await;
    let huge = rewrite_json(|m| m["layers"][0]["size"] = TEN_GIB.into());
    s.front.fail(
        &s.sig_path(),
        Fault::Rewrite(huge, vec![("docker-content-digest", None)]),
    );
    let webhook = s.webhook().await;
    let (answer, took) = review(&webhook, &s.image()).await;
    assert_denied(&answer, took, "LimitExceeded", "10737418240 bytes");
    assert_eq!(s.front.requests_containing("/blobs/"), 0);
}

/// A docker config.json giving `host` basic credentials.
fn registry_config(dir: &std::path::Path, host: &str) -> std::path::PathBuf {
    let path = dir.join("config.json");
    let config = format!(r#"{{"auths":{{"{host}":{{"username":"a","password":"secret-of-a"}}}}}}"#);
    std::fs::write(&path, config).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blob_redirect_to_another_host_carries_no_credentials() {
    let s = Setup::new().await;
    let storage = FaultFront::start(&s.registry.host()).await;
    s.front.fail(
        "/blobs/",
        Fault::Redirect(format!("http://{}", storage.host())),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut options = s.options(&[s.front.host(), storage.host()]);
    options.registry_config = Some(registry_config(dir.path(), &s.front.host()));
    let webhook = TestWebhook::start(options).await;
    let (answer, _) = review(&webhook, &s.image()).await;
    assert!(allowed(&answer), "{}", message(&answer));
    let at_a = s.front.log();
    assert!(
        at_a.iter().all(|r| r
            .authorization
            .as_deref()
            .is_some_and(|a| a.starts_with("Basic "))),
        "registry A gets its own credentials: {at_a:?}"
    );
    let at_b = storage.log();
    assert!(
        !at_b.is_empty() && at_b.iter().all(|r| r.authorization.is_none()),
        "the storage host gets none: {at_b:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn redirects_to_plain_http_link_local_or_cluster_internal_addresses_are_refused() {
    let elsewhere = FaultFront::start("127.0.0.1:9").await;
    for target in [
        format!("http://{}", elsewhere.host()),
        "https://169.254.169.254".to_string(),
        "https://kubernetes.default.svc".to_string(),
        "https://10.0.0.1".to_string(),
    ] {
        let s = Setup::new().await;
        s.front.fail("/blobs/", Fault::Redirect(target.clone()));
        let webhook = s.webhook().await;
        let (answer, took) = review(&webhook, &s.image()).await;
        assert_denied(&answer, took, "RegistryRedirectRefused", "refused");
    }
    assert!(
        elsewhere.log().is_empty(),
        "the refused target was never asked"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_for_registry_a_are_never_presented_to_registry_b() {
    let s = Setup::new().await;
    let b = FaultFront::start(&s.registry.host()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut options = s.options(&[s.front.host(), b.host()]);
    options.policy_yaml = options.policy_yaml.replace(&s.front.host(), "127.0.0.1*");
    options.registry_config = Some(registry_config(dir.path(), &s.front.host()));
    let webhook = TestWebhook::start(options).await;
    let (answer, _) = review(&webhook, &format!("{}/demo/app:v1", b.host())).await;
    assert!(allowed(&answer), "{}", message(&answer));
    assert!(
        b.log().iter().all(|r| r.authorization.is_none()),
        "{:?}",
        b.log()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registry_with_an_untrusted_certificate_is_denied_without_falling_back() {
    let s = Setup::new().await;
    let tls = FaultFront::start_untrusted_tls(&s.registry.host()).await;
    let policy = key_policy("demo", &format!("{}/**", tls.host()), &s.key.public_pem);
    let mut options = WebhookOptions::new(policy, &[]);
    options.review_deadline = REVIEW_DEADLINE;
    let webhook = TestWebhook::start(options).await;
    let (answer, took) = review(&webhook, &format!("{}/demo/app:v1", tls.host())).await;
    assert_denied(
        &answer,
        took,
        "RegistryTlsInvalid",
        "invalid TLS certificate",
    );
    assert!(tls.log().is_empty(), "no request was made without TLS");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registry_that_never_answers_does_not_delay_reviews_of_a_healthy_one() {
    let s = Setup::new().await;
    let slow = TcpProxy::start(s.registry.addr(), Duration::ZERO);
    slow.set_mode(Mode::Blackhole);
    let policy = key_policy("demo", "127.0.0.1*/**", &s.key.public_pem)
        + "    signedIdentity:\n      type: anyRepository\n";
    let mut options = WebhookOptions::new(policy, &[s.front.host(), slow.host()]);
    // The review's deadline, not the registry call's timeout, must end the stuck review: the
    // latter stays well beyond it.
    options.registry_timeout = Duration::from_secs(30);
    // Long enough that the healthy reviews below end well before it on a slow machine.
    let deadline = Duration::from_secs(10);
    options.review_deadline = deadline;
    let webhook = Arc::new(TestWebhook::start(options).await);
    let stuck = {
        let (webhook, image) = (webhook.clone(), format!("{}/demo/app:v1", slow.host()));
        tokio::spawn(async move { review(&webhook, &image).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..5 {
        let (answer, took) = review(&webhook, &s.image()).await;
        assert!(allowed(&answer), "{}", message(&answer));
        assert!(
            took < Duration::from_secs(2),
            "healthy review took {took:?}"
        );
    }
    assert!(!stuck.is_finished(), "the slow review is still waiting");
    let (answer, took) = stuck.await.unwrap();
    assert!(!allowed(&answer));
    assert_eq!(first_code(&answer), "Timeout", "{}", message(&answer));
    assert!(took < deadline + Duration::from_secs(1), "took {took:?}");
}
