//! Policies as cluster objects: watched through a real kube client against the real
//! kube-apiserver (tests/common/policy_objects.rs: the binary's one control plane, one test at
//! a time since policies are cluster-wide), applied live, refused with a status that says why
//! while the last valid version keeps enforcing, and namespaced `ImagePolicy` objects only in
//! their namespace. Readiness while the API server answers 503 uses the recorded-shapes server
//! (tests/common/apiserver.rs): a real one cannot be made to answer 503 on demand.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use crate::common::apiserver::TestApiServer;
use crate::common::policy_objects::{
    SIGNET, SIGSTORE, WatchOptions, eventually, policy_names, spawn_watch, start, start_with,
    static_policy, verdict,
};
use serde_json::json;
use signet::engine::{EngineSettings, NamespacedPolicies};

#[tokio::test]
async fn a_policy_object_added_after_start_is_applied_live() {
    let c = start(vec![]).await;
    assert!(
        !verdict(&c.engine, "default", "registry.example/a/app:v1")
            .await
            .0
    );
    c.api.apply(
        "clusterimagepolicies",
        static_policy(
            SIGSTORE,
            "ClusterImagePolicy",
            None,
            "allow-a",
            "registry.example/a/**",
            "pass",
        ),
    );
    eventually("the policy is applied", || {
        policy_names(&c.engine).contains(&"allow-a".to_string())
    })
    .await;
    assert!(
        verdict(&c.engine, "default", "registry.example/a/app:v1")
            .await
            .0
    );
    eventually("the status says Applied", || {
        let stored = c
            .api
            .get(SIGSTORE, "clusterimagepolicies", None, "allow-a")
            .unwrap();
        stored["status"]["conditions"][0]["reason"] == "Applied"
    })
    .await;

    assert!(
        c.api
            .delete(SIGSTORE, "clusterimagepolicies", None, "allow-a")
    );
    eventually("the deleted policy is gone", || {
        policy_names(&c.engine).is_empty()
    })
    .await;
    assert!(
        !verdict(&c.engine, "default", "registry.example/a/app:v1")
            .await
            .0
    );
}

#[tokio::test]
async fn an_invalid_update_is_refused_in_status_and_the_old_policy_keeps_enforcing() {
    let good = static_policy(
        SIGNET,
        "ClusterImagePolicy",
        None,
        "deny-b",
        "registry.example/b/**",
        "fail",
    );
    let c = start(vec![("clusterimagepolicies", good.clone())]).await;
    assert_eq!(policy_names(&c.engine), ["deny-b"]);
    assert!(
        !verdict(&c.engine, "default", "registry.example/b/app:v1")
            .await
            .0
    );

    let mut bad = good.clone();
    bad["spec"]["authorities"] =
        json!([{"static": {"action": "pass"}, "key": {"data": "not a key"}}]);
    bad["metadata"]["generation"] = json!(2);
    c.api.apply("clusterimagepolicies", bad);
    eventually("the status reports the refusal", || {
        let stored = c
            .api
            .get(SIGNET, "clusterimagepolicies", None, "deny-b")
            .unwrap();
        stored["status"]["conditions"][0]["status"] == "False"
    })
    .await;
    let stored = c
        .api
        .get(SIGNET, "clusterimagepolicies", None, "deny-b")
        .unwrap();
    let condition = &stored["status"]["conditions"][0];
    assert_eq!(condition["type"], "Ready");
    assert_eq!(condition["reason"], "Invalid");
    let message = condition["message"].as_str().unwrap();
    assert!(
        message.contains("the last valid version stays in force"),
        "{message}"
    );
    assert!(
        message.contains("spec.authorities[0]"),
        "the message names the field: {message}"
    );
    assert_eq!(stored["status"]["observedGeneration"], 2);
    let (allowed, _) = verdict(&c.engine, "default", "registry.example/b/app:v1").await;
    assert!(
        !allowed,
        "the last valid version (static fail) still enforces"
    );
    let patches = c.api.requests_to("/clusterimagepolicies/deny-b/status");
    assert_eq!(
        patches.len(),
        2,
        "Applied once, refused once; no status loop: {patches:?}"
    );
}

/// Namespaced policies may admit here (`--namespaced-policies-may-admit`): the older rule, for
/// namespaces whose writers the operator trusts. Without the flag, see
/// tests/it/namespaced_policies.rs.
#[tokio::test]
async fn an_image_policy_applies_only_in_its_namespace() {
    let policy = static_policy(
        SIGNET,
        "ImagePolicy",
        Some("team-a"),
        "allow-c",
        "registry.example/c/**",
        "pass",
    );
    let options = WatchOptions {
        settings: EngineSettings {
            namespaced: NamespacedPolicies::MayAdmit,
            ..EngineSettings::default()
        },
        ..WatchOptions::default()
    };
    let c = start_with(vec![("imagepolicies", policy)], options).await;
    assert!(
        verdict(&c.engine, "team-a", "registry.example/c/app:v1")
            .await
            .0
    );
    let (allowed, reason) = verdict(&c.engine, "team-b", "registry.example/c/app:v1").await;
    assert!(!allowed);
    assert_eq!(reason, "NoPolicyMatch");
    let stored = c
        .api
        .get(SIGNET, "imagepolicies", Some("team-a"), "allow-c")
        .unwrap();
    assert_eq!(stored["status"]["conditions"][0]["status"], "True");
}

#[tokio::test]
async fn the_same_name_in_both_groups_is_refused_for_the_second_and_reported() {
    let first = static_policy(
        SIGSTORE,
        "ClusterImagePolicy",
        None,
        "twin",
        "registry.example/d/**",
        "pass",
    );
    let c = start(vec![("clusterimagepolicies", first)]).await;
    let second = static_policy(
        SIGNET,
        "ClusterImagePolicy",
        None,
        "twin",
        "registry.example/d/**",
        "fail",
    );
    c.api.apply("clusterimagepolicies", second);
    eventually("the second twin is refused", || {
        let stored = c
            .api
            .get(SIGNET, "clusterimagepolicies", None, "twin")
            .unwrap();
        stored["status"]["conditions"][0]["status"] == "False"
    })
    .await;
    let stored = c
        .api
        .get(SIGNET, "clusterimagepolicies", None, "twin")
        .unwrap();
    let message = stored["status"]["conditions"][0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("defined twice"), "{message}");
    assert!(message.contains("not enforced"), "{message}");
    assert!(
        verdict(&c.engine, "default", "registry.example/d/app:v1")
            .await
            .0
    );
}

#[tokio::test]
async fn the_server_is_not_ready_until_the_policy_objects_are_listed() {
    use signet::server::{self, Metrics, ServeConfig, TlsSource};
    crate::common::install_crypto_provider();
    let api = TestApiServer::start().await;
    api.set_unavailable(true);
    let (engine, sync, _watch) = spawn_watch(api.client(), WatchOptions::default());
    let config = ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        metrics_listen: "127.0.0.1:0".parse().unwrap(),
        tls: TlsSource::SelfSigned,
        client_ca: None,
        max_body_bytes: server::DEFAULT_MAX_BODY_BYTES,
        limits: server::Limits::default(),
        dry_run: false,
        shutdown_delay: Duration::ZERO,
        shutdown_grace: Duration::from_secs(1),
        tls_reload_interval: Duration::from_secs(60),
        readiness: vec![sync.clone()],
        enable_mutation: false,
        would_deny: None,
        pull_secrets: None,
    };
    let running = server::start(engine, Arc::new(Metrics::new()), config)
        .await
        .unwrap();
    eventually("the watcher asks the API server", || {
        !api.requests_to("clusterimagepolicies").is_empty()
    })
    .await;
    assert!(!running.state.is_ready(), "API server down: not ready");
    api.set_unavailable(false);
    for _ in 0..200 {
        if running.state.is_ready() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(running.state.is_ready(), "listed: ready");
    running.shutdown().await.unwrap();
}
