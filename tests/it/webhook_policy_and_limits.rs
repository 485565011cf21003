//! Policy actions, failure handling and input limits of the webhook, end to end.
// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use crate::common::faults::FaultFront;
use crate::common::webhook::{
    TestWebhook, WebhookOptions, allowed, container, key_policy, message, pod_review, response,
};
use crate::common::{Mode, TcpProxy, TestKey, TestRegistry, push_image, sign_image};
use serde_json::{Value, json};
use signet::engine::NoMatchAction;

fn static_policy(name: &str, glob: &str, action: &str) -> String {
    format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: {name}\nspec:\n  images:\n  - glob: \"{glob}\"\n  authorities:\n  - static:\n      action: {action}\n"
    )
}

fn one_image_review(image: &str) -> Value {
    pod_review("u", vec![container("app", image)], vec![])
}

#[tokio::test(flavor = "multi_thread")]
async fn static_pass_admits_and_static_fail_denies_without_a_registry() {
    let policy = static_policy("pass", "ghcr.io/trusted/**", "pass")
        + "---\n"
        + &static_policy("fail", "ghcr.io/banned/**", "fail");
    let webhook = TestWebhook::start(WebhookOptions::new(policy, &[])).await;
    let pass = webhook
        .review(&one_image_review("ghcr.io/trusted/app:1"))
        .await;
    assert!(allowed(&pass), "{pass}");
    let fail = webhook
        .review(&one_image_review("ghcr.io/banned/app:1"))
        .await;
    assert!(!allowed(&fail));
    assert!(
        message(&fail).contains("rejected by a static authority"),
        "{}",
        message(&fail)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_match_deny_allow_and_warn() {
    let policy = static_policy("other", "ghcr.io/other/**", "pass");
    for (action, admitted, warned) in [
        (NoMatchAction::Deny, false, false),
        (NoMatchAction::Allow, true, false),
        (NoMatchAction::Warn, true, true),
    ] {
        let mut options = WebhookOptions::new(policy.clone(), &[]);
        options.no_match = action;
        let webhook = TestWebhook::start(options).await;
        let answer = webhook
            .review(&one_image_review("docker.io/library/nginx:1.27"))
            .await;
        assert_eq!(allowed(&answer), admitted, "{action:?}: {answer}");
        let warnings = response(&answer)["warnings"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(!warnings.is_empty(), warned, "{action:?}: {answer}");
        if !admitted {
            assert!(message(&answer).contains("no image policy covers this image"));
        }
        if warned {
            assert!(
                warnings[0]
                    .as_str()
                    .unwrap()
                    .contains("no image policy covers this image")
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn warn_mode_admits_an_unsigned_image_with_a_warning() {
    let registry = TestRegistry::start();
    let key = TestKey::generate();
    push_image(&registry, "demo/app:v1", "a").await;
    let policy = key_policy(
        "warned",
        &format!("{}/**", registry.host()),
        &key.public_pem,
    )
    .replace("spec:\n", "spec:\n  mode: warn\n");
    let webhook = TestWebhook::start(WebhookOptions::new(policy, &[registry.host()])).await;
    let answer = webhook
        .review(&one_image_review(&format!(
            "{}/demo/app:v1",
            registry.host()
        )))
        .await;
    assert!(allowed(&answer), "{answer}");
    let warning = response(&answer)["warnings"][0]
        .as_str()
        .unwrap()
        .to_string();
    assert!(warning.contains("no signature exists"), "{warning}");
    assert!(
        response(&answer)["auditAnnotations"]["spec.containers.0"]
            .as_str()
            .unwrap()
            .starts_with("warn:NoSignature")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn registry_down_fails_closed() {
    let mut registry = TestRegistry::start();
    let key = TestKey::generate();
    let digest = push_image(&registry, "demo/app:v1", "a").await;
    sign_image(&registry, "demo/app", &digest, &key).await;
    let policy = key_policy("demo", &format!("{}/**", registry.host()), &key.public_pem);
    let webhook = TestWebhook::start(WebhookOptions::new(policy, &[registry.host()])).await;
    registry.stop();
    let answer = webhook
        .review(&one_image_review(&format!(
            "{}/demo/app:v1",
            registry.host()
        )))
        .await;
    assert!(!allowed(&answer));
    let msg = message(&answer);
    assert!(
        msg.contains("cannot verify") && msg.contains("unavailable"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn registry_error_becomes_a_warning_only_where_the_policy_says_so() {
    let mut registry = TestRegistry::start();
    let key = TestKey::generate();
    push_image(&registry, "demo/app:v1", "a").await;
    let policy = key_policy(
        "lenient",
        &format!("{}/**", registry.host()),
        &key.public_pem,
    )
    .replace("spec:\n", "spec:\n  onRegistryError: warn\n");
    let webhook = TestWebhook::start(WebhookOptions::new(policy, &[registry.host()])).await;
    registry.stop();
    let answer = webhook
        .review(&one_image_review(&format!(
            "{}/demo/app:v1",
            registry.host()
        )))
        .await;
    assert!(allowed(&answer), "{answer}");
    assert!(
        response(&answer)["warnings"][0]
            .as_str()
            .unwrap()
            .contains("unavailable")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn registry_that_never_answers_is_denied_within_the_deadline() {
    let registry = TestRegistry::start();
    let key = TestKey::generate();
    push_image(&registry, "demo/app:v1", "a").await;
    let proxy = TcpProxy::start(registry.addr(), Duration::ZERO);
    proxy.set_mode(Mode::Blackhole);
    let policy = key_policy("demo", &format!("{}/**", proxy.host()), &key.public_pem);
    let mut options = WebhookOptions::new(policy, &[proxy.host()]);
    options.registry_timeout = Duration::from_secs(10);
    options.review_deadline = Duration::from_secs(2);
    let webhook = TestWebhook::start(options).await;
    let started = Instant::now();
    let answer = webhook
        .review(&one_image_review(&format!("{}/demo/app:v1", proxy.host())))
        .await;
    let took = started.elapsed();
    assert!(!allowed(&answer));
    assert!(
        message(&answer).contains("review deadline"),
        "{}",
        message(&answer)
    );
    assert!(took < Duration::from_secs(4), "answered after {took:?}");
    assert!(
        proxy.connections() >= 1,
        "the registry was really contacted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_references_are_denied_without_any_registry_request() {
    let registry = TestRegistry::start();
    let proxy = TcpProxy::start(registry.addr(), Duration::ZERO);
    let key = TestKey::generate();
    let policy = key_policy("all", "**", &key.public_pem);
    let webhook = TestWebhook::start(WebhookOptions::new(policy, &[proxy.host()])).await;
    let host = proxy.host();
    let bad = [
        format!("{host}/demo/app@sha256:../x"),
        format!("{host}/demo/app@sha256:{}", "a".repeat(63)),
        format!("{host}/demo/app@sha256:{}", "A".repeat(64)),
        format!("sha256:{}", "b".repeat(64)),
        "b".repeat(64),
        String::new(),
    ];
    for image in bad {
        let answer = webhook.review(&one_image_review(&image)).await;
        assert!(!allowed(&answer), "{image:?} admitted");
        assert!(
            message(&answer).contains("invalid image reference"),
            "{image:?}: {}",
            message(&answer)
        );
    }
    assert_eq!(
        proxy.connections(),
        0,
        "no request may leave for an invalid reference"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registry_that_changes_its_answer_cannot_swap_what_was_verified() {
    let registry = TestRegistry::start();
    let key = TestKey::generate();
    let unsigned_a = push_image(&registry, "demo/app:a", "a").await;
    let signed_b = push_image(&registry, "demo/app:b", "b").await;
    sign_image(&registry, "demo/app", &signed_b, &key).await;
    let flip =
        FaultFront::flipping(&registry.host(), "demo/app", "v1", &unsigned_a, &signed_b).await;
    let policy = key_policy("demo", &format!("{}/**", flip.host()), &key.public_pem)
        + "    signedIdentity:\n      type: anyRepository\n";
    let webhook = TestWebhook::start(WebhookOptions::new(policy, &[flip.host()])).await;
    let image = format!("{}/demo/app:v1", flip.host());
    let review = pod_review(
        "u",
        vec![container("a", &image), container("b", &image)],
        vec![container("i", &image)],
    );
    let answer = webhook.review(&review).await;
    assert!(!allowed(&answer), "{answer}");
    let msg = message(&answer);
    assert!(msg.contains(&unsigned_a), "{msg}");
    assert!(!msg.contains(&signed_b), "{msg}");
    assert_eq!(
        flip.tag_lookups("demo/app", "v1"),
        1,
        "the tag is resolved once per review"
    );
    let annotations = response(&answer)["auditAnnotations"].to_string();
    assert!(!annotations.contains(&signed_b), "{annotations}");
}

#[tokio::test(flavor = "multi_thread")]
async fn six_mebibyte_update_gets_a_normal_verdict_and_a_larger_body_gets_413() {
    let registry = TestRegistry::start();
    let key = TestKey::generate();
    let digest = push_image(&registry, "demo/app:v1", "a").await;
    sign_image(&registry, "demo/app", &digest, &key).await;
    let policy = key_policy("demo", &format!("{}/**", registry.host()), &key.public_pem);
    let webhook = TestWebhook::start(WebhookOptions::new(policy, &[registry.host()])).await;
    let mut review = one_image_review(&format!("{}/demo/app:v1", registry.host()));
    let filler = "x".repeat(3 * 1024 * 1024 - 16 * 1024);
    review["request"]["operation"] = json!("UPDATE");
    review["request"]["object"]["metadata"]["annotations"] = json!({"filler": filler});
    review["request"]["oldObject"] = review["request"]["object"].clone();
    let body = serde_json::to_vec(&review).unwrap();
    assert!(body.len() > 6_200_000, "{} bytes", body.len());
    let (status, text) = webhook.post(body).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        text.contains("\"allowed\":true"),
        "{}",
        &text[..200.min(text.len())]
    );

    let too_big = vec![b' '; 8 * 1024 * 1024];
    let (status, _) = webhook.post(too_big).await;
    assert_eq!(status, 413);
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_and_deeply_nested_json_get_400_and_the_server_keeps_serving() {
    let webhook =
        TestWebhook::start(WebhookOptions::new(static_policy("p", "**", "pass"), &[])).await;
    for body in [
        b"not json".to_vec(),
        b"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}".to_vec(),
        "[".repeat(100_000).into_bytes(),
        format!(
            "{{\"a\":{}1{}}}",
            "{\"a\":".repeat(50_000),
            "}".repeat(50_000)
        )
        .into_bytes(),
    ] {
        let (status, text) = webhook.post(body).await;
        assert_eq!(status, 400, "{text}");
        assert!(text.contains("error"), "{text}");
    }
    let answer = webhook.review(&one_image_review("ghcr.io/a/b:1")).await;
    assert!(allowed(&answer));
}

#[tokio::test(flavor = "multi_thread")]
async fn v1beta1_is_answered_in_v1beta1_and_delete_and_other_kinds_pass_untouched() {
    let webhook = TestWebhook::start(WebhookOptions::new(
        static_policy("p", "ghcr.io/never/**", "fail"),
        &[],
    ))
    .await;
    let mut review = one_image_review("docker.io/library/nginx");
    review["apiVersion"] = json!("admission.k8s.io/v1beta1");
    let answer = webhook.review(&review).await;
    assert_eq!(answer["apiVersion"], "admission.k8s.io/v1beta1");
    assert!(!allowed(&answer), "no-match deny applies");

    let mut delete = one_image_review("docker.io/library/nginx");
    delete["request"]["operation"] = json!("DELETE");
    assert!(allowed(&webhook.review(&delete).await));

    let mut config_map = one_image_review("docker.io/library/nginx");
    config_map["request"]["kind"] = json!({"group": "", "version": "v1", "kind": "ConfigMap"});
    assert!(allowed(&webhook.review(&config_map).await));
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_server_admits_and_reports_what_it_would_have_denied() {
    let mut options = WebhookOptions::new(static_policy("p", "**", "fail"), &[]);
    options.dry_run = true;
    let webhook = TestWebhook::start(options).await;
    let answer = webhook.review(&one_image_review("ghcr.io/a/b:1")).await;
    assert!(allowed(&answer));
    let warning = response(&answer)["warnings"][0].as_str().unwrap();
    assert!(
        warning.starts_with("dry-run, would deny: SignatureValidationFailed"),
        "{warning}"
    );
    assert!(
        response(&answer)["auditAnnotations"]["spec.containers.0"]
            .as_str()
            .unwrap()
            .starts_with("deny:StaticFail")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn health_readiness_and_metrics_answer() {
    let webhook =
        TestWebhook::start(WebhookOptions::new(static_policy("p", "**", "pass"), &[])).await;
    let health = webhook
        .client
        .get(webhook.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = webhook
        .client
        .get(webhook.url("/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    webhook.review(&one_image_review("ghcr.io/a/b:1")).await;
    let metrics = reqwest::get(format!("http://{}/metrics", webhook.metrics_addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("signet_reviews_total{decision=\"allow\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("signet_review_duration_seconds_count 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn images_no_policy_covers_and_static_pass_images_never_touch_the_network() {
    let registry = TestRegistry::start();
    let proxy = TcpProxy::start(registry.addr(), Duration::ZERO);
    let host = proxy.host();
    let policy = static_policy("trusted", &format!("{host}/trusted/**"), "pass");
    let mut options = WebhookOptions::new(policy, std::slice::from_ref(&host));
    options.no_match = NoMatchAction::Allow;
    let webhook = TestWebhook::start(options).await;
    let review = pod_review(
        "u",
        vec![
            container("a", &format!("{host}/trusted/app:1")),
            container("b", &format!("{host}/other/app:1")),
        ],
        vec![],
    );
    let answer = webhook.review(&review).await;
    assert!(allowed(&answer), "{answer}");
    assert_eq!(
        proxy.connections(),
        0,
        "no registry call for static pass or no-match images"
    );
    let notes = &answer["response"]["auditAnnotations"];
    let note = |key: &str| notes[key].as_str().unwrap_or_default().to_string();
    assert!(
        note("spec.containers.0").starts_with("admit:AcceptedUnverified "),
        "a static pass verified nothing and is not counted as Verified: {answer}"
    );
    assert!(
        note("spec.containers.1").starts_with("admit:NoPolicyMatch "),
        "{answer}"
    );
}

/// A registry holding the signed image `demo/app:v1`, a webhook trusting its key, and the
/// image's reference.
async fn signed_app_webhook() -> (TestRegistry, TestWebhook, String) {
    let registry = TestRegistry::start();
    let key = TestKey::generate();
    let digest = push_image(&registry, "demo/app:v1", "a").await;
    sign_image(&registry, "demo/app", &digest, &key).await;
    let policy = key_policy("demo", &format!("{}/**", registry.host()), &key.public_pem);
    let webhook = TestWebhook::start(WebhookOptions::new(policy, &[registry.host()])).await;
    let app = format!("{}/demo/app:v1", registry.host());
    (registry, webhook, app)
}

/// An UPDATE is judged on what it changes: scaling a Deployment while its registry is down is
/// admitted (its image is already running), adding a new image fails closed.
#[tokio::test(flavor = "multi_thread")]
async fn update_verifies_only_added_or_changed_images() {
    let (mut registry, webhook, app) = signed_app_webhook().await;
    let mut review = one_image_review(&app);
    review["request"]["operation"] = json!("UPDATE");
    review["request"]["oldObject"] = review["request"]["object"].clone();
    review["request"]["object"]["metadata"]["labels"] = json!({"scaled": "yes"});
    registry.stop();

    let unchanged = webhook.review(&review).await;
    assert!(allowed(&unchanged), "{unchanged}");
    let note = response(&unchanged)["auditAnnotations"]["spec.containers.0"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(note.starts_with("admit:Unchanged"), "{note}");

    let added = format!("{}/demo/new:v1", registry.host());
    review["request"]["object"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(container("new", &added));
    let changed = webhook.review(&review).await;
    assert!(
        !allowed(&changed),
        "a new image is verified and fails closed"
    );
    let msg = message(&changed);
    assert!(
        msg.contains("spec.containers[1] (new)") && msg.contains("unavailable"),
        "{msg}"
    );
    assert!(!msg.contains("spec.containers[0]"), "{msg}");
}

/// An UPDATE that moves an already-running reference to another slot (a new container, an init
/// container, an ephemeral container, a container renamed) verifies it: with the registry down,
/// each is denied, while the untouched original stays `Unchanged`.
#[tokio::test(flavor = "multi_thread")]
async fn update_verifies_a_reference_moved_to_another_container() {
    let (mut registry, webhook, app) = signed_app_webhook().await;
    let old = one_image_review(&app)["request"]["object"].clone();
    registry.stop();
    let moves: [(&str, Value); 4] = [
        (
            "new container",
            json!({"containers": [container("app", &app), container("copy", &app)]}),
        ),
        (
            "renamed",
            json!({"containers": [container("renamed", &app)]}),
        ),
        (
            "init",
            json!({"containers": [container("app", &app)], "initContainers": [container("setup", &app)]}),
        ),
        (
            "ephemeral",
            json!({"containers": [container("app", &app)], "ephemeralContainers": [container("debug", &app)]}),
        ),
    ];
    for (what, spec) in moves {
        let mut review = one_image_review(&app);
        review["request"]["operation"] = json!("UPDATE");
        review["request"]["oldObject"] = old.clone();
        for (list, entries) in spec.as_object().unwrap() {
            review["request"]["object"]["spec"][list] = entries.clone();
        }
        let answer = webhook.review(&review).await;
        assert!(!allowed(&answer), "{what}: {answer}");
        assert!(message(&answer).contains("unavailable"), "{what}: {answer}");
        let first = response(&answer)["auditAnnotations"]["spec.containers.0"].as_str();
        let first = first.unwrap_or_default();
        match what {
            "renamed" => assert!(first.starts_with("deny:"), "{what}: {first}"),
            _ => assert!(first.starts_with("admit:Unchanged"), "{what}: {first}"),
        }
    }
}
