//! `signet serve --events`: the real webhook over TLS, the real registry, and the real
//! kube-apiserver (one shared control plane for this file, tests/common/shared_plane.rs; each
//! test in a namespace of its own) storing the Events under its own validation. A warn-mode
//! admission leaves a Warning Event on the object with the words enforce mode would deny with;
//! an enforce-mode denial leaves none (the client got the message, and no object exists);
//! repeats fold into one Event; and an API server that never answers does not hold up any
//! admission answer (a blackhole in front of the recorded-shapes server of
//! tests/common/apiserver.rs: nothing ever reaches it, and a real one cannot be made to hang).

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::apiserver::TestApiServer;
use crate::common::control_plane::ControlPlane;
use crate::common::shared_plane::{client, get, shared};
use crate::common::webhook::{
    TestWebhook, WebhookOptions, allowed, container, key_policy, message, pod_review_in, response,
};
use crate::common::{Mode, TcpProxy, TestKey, TestRegistry, push_image, sign_image};
use signet::cluster::EventSettings;

/// A registry with a signed `demo/app`, an unsigned `demo/tool` (under a warn-mode policy) and
/// an unsigned `demo/strict` (under an enforcing one).
struct Setup {
    registry: TestRegistry,
    key: TestKey,
}

impl Setup {
    async fn start() -> Setup {
        let registry = TestRegistry::start();
        let key = TestKey::generate();
        let signed = push_image(&registry, "demo/app:v1", "app").await;
        sign_image(&registry, "demo/app", &signed, &key).await;
        push_image(&registry, "demo/tool:v1", "tool").await;
        push_image(&registry, "demo/strict:v1", "strict").await;
        Setup { registry, key }
    }

    fn image(&self, repo: &str) -> String {
        format!("{}/demo/{repo}:v1", self.registry.host())
    }

    /// `demo/app*` and `demo/strict*` enforced, `demo/tool*` in warn mode when `warn`.
    fn policy(&self, warn: bool) -> String {
        let host = self.registry.host();
        let pem = &self.key.public_pem;
        let mut tool = key_policy("tool", &format!("{host}/demo/tool*"), pem);
        if warn {
            tool.push_str("  mode: warn\n");
        }
        let app = key_policy("app", &format!("{host}/demo/app*"), pem);
        let strict = key_policy("strict", &format!("{host}/demo/strict*"), pem);
        format!("{app}---\n{tool}---\n{strict}")
    }

    async fn webhook(
        &self,
        warn: bool,
        events: Option<(kube::Client, EventSettings)>,
    ) -> TestWebhook {
        let mut options = WebhookOptions::new(self.policy(warn), &[self.registry.host()]);
        options.events = events;
        TestWebhook::start(options).await
    }
}

/// A review of Pod `name` in `namespace` running `images`.
fn pod(namespace: &str, name: &str, images: &[(&str, String)]) -> Value {
    let containers = images.iter().map(|(c, i)| container(c, i)).collect();
    let mut review = pod_review_in(namespace, &format!("uid-{name}"), containers);
    review["request"]["name"] = json!(name);
    review["request"]["object"]["metadata"]["name"] = json!(name);
    review
}

/// The shared API server with `namespace` created, and an admin client for it.
async fn api_server(namespace: &str) -> (&'static ControlPlane, kube::Client) {
    let plane = tokio::task::block_in_place(|| {
        let plane = shared();
        plane.namespace(namespace);
        plane
    });
    (plane, client(plane).await)
}

/// The Events stored in `namespace`, oldest first.
fn posted(plane: &ControlPlane, namespace: &str) -> Vec<Value> {
    let text = tokio::task::block_in_place(|| {
        plane.kubectl_ok(&[
            "get",
            "events.events.k8s.io",
            "-n",
            namespace,
            "--sort-by=.metadata.creationTimestamp",
            "-o",
            "json",
        ])
    });
    let list: Value = serde_json::from_str(&text).unwrap();
    list["items"].as_array().unwrap().clone()
}

/// Wait (generously) until `count` Events are stored in `namespace`.
async fn wait_for_posts(plane: &ControlPlane, namespace: &str, count: usize) -> Vec<Value> {
    for _ in 0..100 {
        let events = posted(plane, namespace);
        if events.len() >= count {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!(
        "{count} Events never arrived in {namespace}: {:?}",
        posted(plane, namespace)
    );
}

/// The value of one sample in the metrics text, 0 when absent.
fn sample(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0)
}

async fn wait_for_sample(webhook: &TestWebhook, name: &str, at_least: u64) {
    for _ in 0..400 {
        if sample(&webhook.metrics().await, name) >= at_least {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{name} never reached {at_least}: {}",
        webhook.metrics().await
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn warn_mode_admits_and_records_a_warning_event_with_the_deny_message() {
    let setup = Setup::start().await;
    let (plane, kube) = api_server("ev-warn").await;
    let events = Some((kube.clone(), EventSettings::default()));
    let webhook = setup.webhook(true, events).await;
    let images = [("app", setup.image("app")), ("tool", setup.image("tool"))];

    let answer = webhook.review(&pod("ev-warn", "web", &images)).await;
    assert!(allowed(&answer), "{answer}");
    assert_eq!(response(&answer)["warnings"].as_array().unwrap().len(), 1);
    let event = wait_for_posts(plane, "ev-warn", 1).await.remove(0);

    // What the same pod meets once the policy enforces: the Event carries those words.
    let enforcing = setup.webhook(false, None).await;
    let denied = enforcing.review(&pod("ev-warn", "web", &images)).await;
    assert!(!allowed(&denied), "{denied}");
    assert_eq!(event["note"], message(&denied), "{event:#}");
    assert!(message(&denied).contains("(tool)"), "{denied}");
    assert_eq!(event["type"], "Warning");
    assert_eq!(event["reason"], "SignatureValidationFailed");
    assert_eq!(event["action"], "Admit");
    assert_eq!(event["reportingController"], "signet.dev/webhook");
    assert_eq!(
        event["regarding"],
        json!({"apiVersion": "v1", "kind": "Pod", "namespace": "ev-warn", "name": "web"})
    );
    let name = event["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("web."), "{name}");
    assert!(
        tokio::task::block_in_place(|| get(plane, "events.events.k8s.io", Some("ev-warn"), name))
            .is_some(),
        "stored"
    );
    wait_for_sample(&webhook, "signet_events_total{result=\"sent\"}", 1).await;

    // The same denial again folds into the Event's series: no second Event.
    let again = webhook.review(&pod("ev-warn", "web", &images)).await;
    assert!(allowed(&again));
    wait_for_sample(&webhook, "signet_events_total{result=\"repeat\"}", 1).await;
    assert_eq!(posted(plane, "ev-warn").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_enforced_denial_records_no_event_and_a_dry_run_one_does() {
    let setup = Setup::start().await;
    let (plane, kube) = api_server("ev-enforce").await;
    let webhook = setup
        .webhook(true, Some((kube.clone(), EventSettings::default())))
        .await;
    let denied = webhook
        .review(&pod(
            "ev-enforce",
            "strict",
            &[("strict", setup.image("strict"))],
        ))
        .await;
    assert!(!allowed(&denied), "{denied}");
    let admitted = webhook
        .review(&pod(
            "ev-enforce",
            "lenient",
            &[("tool", setup.image("tool"))],
        ))
        .await;
    assert!(allowed(&admitted), "{admitted}");
    // One writer takes the queue in order: had the denial queued an Event, it would be first.
    let events = wait_for_posts(plane, "ev-enforce", 1).await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["regarding"]["name"], "lenient");

    // Under --dry-run the same denial is admitted, and recorded.
    let mut options = WebhookOptions::new(setup.policy(true), &[setup.registry.host()]);
    options.dry_run = true;
    options.events = Some((kube.clone(), EventSettings::default()));
    let dry = TestWebhook::start(options).await;
    let answer = dry
        .review(&pod(
            "ev-enforce",
            "strict",
            &[("strict", setup.image("strict"))],
        ))
        .await;
    assert!(allowed(&answer), "{answer}");
    let events = wait_for_posts(plane, "ev-enforce", 2).await;
    assert_eq!(events[1]["regarding"]["name"], "strict");
    assert_eq!(events[1]["note"], message(&denied));
}

/// A dry-run request (`kubectl apply --dry-run=server`: the API server sends it because the
/// webhook declares sideEffects NoneOnDryRun) is answered as any other, warnings included, but
/// records no Event: only the real request that follows does.
#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_request_is_answered_but_records_no_event() {
    let setup = Setup::start().await;
    let (plane, kube) = api_server("ev-dry-request").await;
    let webhook = setup
        .webhook(true, Some((kube.clone(), EventSettings::default())))
        .await;
    let images = [("tool", setup.image("tool"))];
    let mut dry = pod("ev-dry-request", "dry", &images);
    dry["request"]["dryRun"] = json!(true);
    let answer = webhook.review(&dry).await;
    assert!(allowed(&answer), "{answer}");
    assert_eq!(response(&answer)["warnings"].as_array().unwrap().len(), 1);
    let real = webhook
        .review(&pod("ev-dry-request", "real", &images))
        .await;
    assert!(allowed(&real), "{real}");
    // One writer takes the queue in order: had the dry run queued an Event, it would be first.
    let events = wait_for_posts(plane, "ev-dry-request", 1).await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["regarding"]["name"], "real");
}

/// A Pod of ReplicaSet `web-7d9f`: named, or (`name` empty) carrying only `generateName`.
fn replica(namespace: &str, name: &str, images: &[(&str, String)]) -> Value {
    let mut review = pod(namespace, name, images);
    let meta = &mut review["request"]["object"]["metadata"];
    if name.is_empty() {
        meta.as_object_mut().unwrap().remove("name");
        meta["generateName"] = json!("web-7d9f-");
    }
    meta["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "name": "web-7d9f", "uid": "uid-rs", "controller": true, "blockOwnerDeletion": true}]);
    review
}

#[tokio::test(flavor = "multi_thread")]
async fn pods_of_one_replicaset_fold_into_one_event_whose_series_counts_them() {
    let setup = Setup::start().await;
    let (plane, kube) = api_server("ev-fold").await;
    let settings = EventSettings {
        repeat_every: Duration::ZERO,
        ..EventSettings::default()
    };
    let webhook = setup.webhook(true, Some((kube.clone(), settings))).await;
    let tool = [("tool", setup.image("tool"))];

    // Only generateName: the Event names the prefix, and its own name is still a DNS name.
    assert!(allowed(
        &webhook.review(&replica("ev-fold", "", &tool)).await
    ));
    let event = wait_for_posts(plane, "ev-fold", 1).await.remove(0);
    assert_eq!(event["regarding"]["name"], "web-7d9f-", "{event:#}");
    assert_eq!(
        event["related"],
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f",
               "namespace": "ev-fold", "uid": "uid-rs"})
    );
    let name = event["metadata"]["name"].as_str().unwrap().to_string();
    assert!(name.starts_with("web-7d9f."), "{name}");

    // The next Pod of the same ReplicaSet, same denial: the series counts it.
    assert!(allowed(
        &webhook
            .review(&replica("ev-fold", "web-7d9f-x2", &tool))
            .await
    ));
    wait_for_sample(&webhook, "signet_events_total{result=\"sent\"}", 2).await;
    assert_eq!(posted(plane, "ev-fold").len(), 1, "no second Event");
    let stored =
        tokio::task::block_in_place(|| get(plane, "events.events.k8s.io", Some("ev-fold"), &name))
            .unwrap();
    assert_eq!(stored["series"]["count"], 2, "{stored:#}");
    assert!(
        stored["series"]["lastObservedTime"].is_string(),
        "{stored:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_apiserver_that_never_answers_does_not_hold_up_admission() {
    let setup = Setup::start().await;
    let api = TestApiServer::start().await;
    let upstream = api.url().trim_start_matches("http://").parse().unwrap();
    let proxy = TcpProxy::start(upstream, Duration::ZERO);
    proxy.set_mode(Mode::Blackhole);
    let config = kube::Config::new(format!("http://{}", proxy.addr()).parse().unwrap());
    let client = kube::Client::try_from(config).unwrap();
    // One queued Event and a deadline longer than the test: the writer stays stuck.
    let settings = EventSettings {
        queue: 1,
        call_timeout: Duration::from_secs(600),
        ..EventSettings::default()
    };
    let webhook = setup.webhook(true, Some((client, settings))).await;
    let tool = [("tool", setup.image("tool"))];
    for name in ["a", "b", "c"] {
        let answer = webhook.review(&pod("shop", name, &tool)).await;
        assert!(allowed(&answer), "{answer}");
    }
    // The writer is inside its call now, and answers still come.
    for _ in 0..400 {
        if proxy.connections() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(proxy.connections() > 0, "the writer reached the API server");
    let answer = webhook.review(&pod("shop", "d", &tool)).await;
    assert!(allowed(&answer), "{answer}");
    assert!(!response(&answer)["warnings"].as_array().unwrap().is_empty());
    // One Event in the call, one in the queue: the rest were dropped, and counted.
    let metrics = webhook.metrics().await;
    assert!(
        sample(&metrics, "signet_events_total{result=\"dropped\"}") >= 2,
        "{metrics}"
    );
    assert!(
        api.requests().is_empty(),
        "nothing got through the blackhole"
    );
}
