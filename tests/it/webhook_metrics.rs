//! Per-stage and registry metrics: each stage of an image's review is timed, registry calls are
//! timed and their failures counted by registry host and stable code, and no label carries an
//! image name.

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::webhook::{
    TestWebhook, WebhookOptions, allowed, container, key_policy, pod_review,
};
use crate::common::{TestKey, TestRegistry, push_image, sign_image};

#[tokio::test(flavor = "multi_thread")]
async fn stages_and_registry_calls_are_timed_and_failures_counted_by_registry_host() {
    let registry = TestRegistry::start();
    let key = TestKey::generate();
    let digest = push_image(&registry, "demo/app:v1", "metrics").await;
    sign_image(&registry, "demo/app", &digest, &key).await;
    // Nothing listens on port 1: every call to that registry fails.
    let dead = "127.0.0.1:1".to_string();
    let policy = format!(
        "{}\n---\n{}",
        key_policy("live", &format!("{}/**", registry.host()), &key.public_pem),
        key_policy("dead", &format!("{dead}/**"), &key.public_pem)
    );
    let webhook = TestWebhook::start(WebhookOptions::new(
        policy,
        &[registry.host(), dead.clone()],
    ))
    .await;
    let live = pod_review(
        "u1",
        vec![container(
            "app",
            &format!("{}/demo/app:v1", registry.host()),
        )],
        vec![],
    );
    assert!(allowed(&webhook.review(&live).await));
    assert!(allowed(&webhook.review(&live).await));
    let gone = pod_review(
        "u2",
        vec![container("app", &format!("{dead}/demo/gone:v1"))],
        vec![],
    );
    assert!(!allowed(&webhook.review(&gone).await));

    let metrics = webhook.metrics().await;
    let has = |line: &str| assert!(metrics.contains(line), "{line} missing in\n{metrics}");
    // Three reviews resolve a digest; only the first live one fetches and checks signatures.
    has("signet_stage_duration_seconds_count{stage=\"digest_resolution\"} 3");
    has("signet_stage_duration_seconds_count{stage=\"signature_fetch\"} 1");
    has("signet_stage_duration_seconds_count{stage=\"verification\"} 1");
    has("signet_stage_in_flight{stage=\"verification\"} 0");
    let live_host = registry.host();
    has(&format!(
        "signet_registry_request_duration_seconds_count{{registry=\"{live_host}\",operation=\"resolve_digest\"}} 1"
    ));
    has(&format!(
        "signet_registry_request_duration_seconds_count{{registry=\"{live_host}\",operation=\"fetch_signatures\"}} 1"
    ));
    has(&format!(
        "signet_registry_errors_total{{registry=\"{dead}\",operation=\"resolve_digest\",code=\""
    ));
    assert!(!metrics.contains("demo/"), "no image names in labels");
}
