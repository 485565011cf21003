//! The server's life: policy reload (a broken file keeps the old policy), graceful shutdown that
//! finishes in-flight reviews, and private registries reached with configured credentials.

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::webhook::{
    TestWebhook, WebhookOptions, allowed, container, key_policy, message, pod_review,
};
use crate::common::{TcpProxy, TestKey, TestRegistry, push_image, replace_file, sign_image};
use signet::reload::watch_policies;

fn static_policy(action: &str) -> String {
    format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: p\nspec:\n  images:\n  - glob: \"ghcr.io/**\"\n  authorities:\n  - static:\n      action: {action}\n"
    )
}

/// Wait for `condition` (an event the test observes), failing only after a deadline generous
/// enough for a loaded machine.
async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn policy_file_changes_are_applied_and_a_broken_file_keeps_the_old_policy() {
    let webhook = TestWebhook::start(WebhookOptions::new(static_policy("pass"), &[])).await;
    let path = webhook.dir.path().join("policy.yaml");
    let results = Arc::new(Mutex::new(Vec::new()));
    let seen = results.clone();
    let engine = webhook.state().engine.clone();
    let watcher = tokio::spawn(watch_policies(
        vec![path.clone()],
        engine,
        Duration::from_millis(50),
        move |ok| seen.lock().unwrap().push(ok),
    ));
    let review = pod_review("u", vec![container("a", "ghcr.io/org/app:1")], vec![]);
    assert!(allowed(&webhook.review(&review).await));

    replace_file(&path, &static_policy("fail"));
    wait_for("the new policy", || {
        results.lock().unwrap().as_slice() == [true]
    })
    .await;
    assert!(!allowed(&webhook.review(&review).await));

    let before = webhook.engine().policies().fingerprint().to_string();
    let broken = "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nspec: {mode: garbage}\n";
    replace_file(&path, broken);
    wait_for("the refusal", || results.lock().unwrap().len() == 2).await;
    assert!(!results.lock().unwrap()[1], "the broken file was refused");
    assert_eq!(
        webhook.engine().policies().fingerprint(),
        before,
        "old policy kept"
    );
    let answer = webhook.review(&review).await;
    assert!(!allowed(&answer));
    assert!(message(&answer).contains("static authority"));
    watcher.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_fails_readiness_and_finishes_the_review_in_flight() {
    let registry = TestRegistry::start();
    let key = TestKey::generate();
    push_image(&registry, "demo/app:v1", "a").await;
    let proxy = TcpProxy::start(registry.addr(), Duration::from_millis(400));
    let policy = key_policy("demo", &format!("{}/**", proxy.host()), &key.public_pem);
    let webhook = TestWebhook::start(WebhookOptions::new(policy, &[proxy.host()])).await;
    let review = pod_review(
        "slow",
        vec![container("a", &format!("{}/demo/app:v1", proxy.host()))],
        vec![],
    );
    let client = webhook.client.clone();
    let url = webhook.url("/validate");
    let in_flight = tokio::spawn(async move { client.post(url).json(&review).send().await });
    // In flight once the review has reached the registry (held there by the proxy's delay).
    wait_for("the review to reach the registry", || {
        proxy.connections() > 0
    })
    .await;
    let ready_url = webhook.url("/readyz");
    let state_ready = || {
        webhook
            .state()
            .ready
            .load(std::sync::atomic::Ordering::SeqCst)
    };
    assert!(state_ready());
    let probe = webhook.client.clone();
    let shutdown = tokio::spawn(webhook.shutdown());
    let answer = in_flight
        .await
        .unwrap()
        .expect("the in-flight review is answered");
    assert_eq!(answer.status(), 200);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["response"]["uid"], "slow");
    assert!(message(&body).contains("no signature exists"), "{body}");
    shutdown.await.unwrap();
    assert!(
        probe.get(ready_url).send().await.is_err(),
        "the listener is closed after shutdown"
    );
    drop(proxy);
}

#[tokio::test(flavor = "multi_thread")]
async fn private_registry_is_reached_with_the_configured_credentials_only() {
    let registry = TestRegistry::start_with_htpasswd("ci", "s3cret");
    let key = TestKey::generate();
    let digest = push_image(&registry, "private/app:v1", "p").await;
    sign_image(&registry, "private/app", &digest, &key).await;
    let policy = key_policy(
        "private",
        &format!("{}/**", registry.host()),
        &key.public_pem,
    );
    let image = format!("{}/private/app:v1", registry.host());
    let review = pod_review("u", vec![container("a", &image)], vec![]);

    let anonymous =
        TestWebhook::start(WebhookOptions::new(policy.clone(), &[registry.host()])).await;
    let denied = anonymous.review(&review).await;
    assert!(!allowed(&denied));
    assert!(
        message(&denied).contains("refused access"),
        "{}",
        message(&denied)
    );

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let auth = base64_encode("ci:s3cret");
    std::fs::write(
        &config,
        format!(
            "{{\"auths\":{{\"{}\":{{\"auth\":\"{auth}\"}}}}}}",
            registry.host()
        ),
    )
    .unwrap();
    let mut options = WebhookOptions::new(policy, &[registry.host()]);
    options.registry_config = Some(config);
    let with_credentials = TestWebhook::start(options).await;
    let answer = with_credentials.review(&review).await;
    assert!(allowed(&answer), "{answer}");
}

fn base64_encode(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}
