//! `signet serve --events`: the real webhook over TLS, the real registry, and the test API server
//! (tests/common/apiserver.rs) receiving the Events. A warn-mode admission leaves a Warning Event
//! on the object with the words enforce mode would deny with; an enforce-mode denial leaves none
//! (the client got the message, and no object exists); repeats fold into one Event; and an API
//! server that never answers does not hold up any admission answer.

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::apiserver::TestApiServer;
use crate::common::webhook::{
    TestWebhook, WebhookOptions, allowed, container, key_policy, message, pod_review_in, response,
};
use crate::common::{Mode, TcpProxy, TestKey, TestRegistry, push_image, sign_image};
use signet::cluster::EventSettings;

const EVENTS: &str = "/apis/events.k8s.io/v1/namespaces/shop/events";

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

/// A review of Pod `name` in `shop` running `images`.
fn pod(name: &str, images: &[(&str, String)]) -> Value {
    let containers = images.iter().map(|(c, i)| container(c, i)).collect();
    let mut review = pod_review_in("shop", &format!("uid-{name}"), containers);
    review["request"]["name"] = json!(name);
    review["request"]["object"]["metadata"]["name"] = json!(name);
    review
}

/// The Event bodies POSTed so far.
fn posted(api: &TestApiServer) -> Vec<Value> {
    api.requests_to(EVENTS)
        .into_iter()
        .filter(|r| r.method == "POST")
        .map(|r| serde_json::from_str(&r.body).unwrap())
        .collect()
}

/// Wait (generously) until `count` Events were POSTed.
async fn wait_for_posts(api: &TestApiServer, count: usize) -> Vec<Value> {
    for _ in 0..400 {
        let events = posted(api);
        if events.len() >= count {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{count} Events never arrived: {:?}", api.requests());
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
    let api = TestApiServer::start().await;
    let events = Some((api.client(), EventSettings::default()));
    let webhook = setup.webhook(true, events).await;
    let images = [("app", setup.image("app")), ("tool", setup.image("tool"))];

    let answer = webhook.review(&pod("web", &images)).await;
    assert!(allowed(&answer), "{answer}");
    assert_eq!(response(&answer)["warnings"].as_array().unwrap().len(), 1);
    let event = wait_for_posts(&api, 1).await.remove(0);

    // What the same pod meets once the policy enforces: the Event carries those words.
    let enforcing = setup.webhook(false, None).await;
    let denied = enforcing.review(&pod("web", &images)).await;
    assert!(!allowed(&denied), "{denied}");
    assert_eq!(event["note"], message(&denied), "{event:#}");
    assert!(message(&denied).contains("(tool)"), "{denied}");
    assert_eq!(event["type"], "Warning");
    assert_eq!(event["reason"], "SignatureValidationFailed");
    assert_eq!(event["action"], "Admit");
    assert_eq!(event["reportingController"], "signet.dev/webhook");
    assert_eq!(
        event["regarding"],
        json!({"apiVersion": "v1", "kind": "Pod", "namespace": "shop", "name": "web"})
    );
    let name = event["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("web."), "{name}");
    assert!(
        api.get("events.k8s.io/v1", "events", Some("shop"), name)
            .is_some(),
        "stored"
    );
    wait_for_sample(&webhook, "signet_events_total{result=\"sent\"}", 1).await;

    // The same denial again folds into the Event's series: no second Event.
    let again = webhook.review(&pod("web", &images)).await;
    assert!(allowed(&again));
    wait_for_sample(&webhook, "signet_events_total{result=\"repeat\"}", 1).await;
    assert_eq!(posted(&api).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_enforced_denial_records_no_event_and_a_dry_run_one_does() {
    let setup = Setup::start().await;
    let api = TestApiServer::start().await;
    let webhook = setup
        .webhook(true, Some((api.client(), EventSettings::default())))
        .await;
    let denied = webhook
        .review(&pod("strict", &[("strict", setup.image("strict"))]))
        .await;
    assert!(!allowed(&denied), "{denied}");
    let admitted = webhook
        .review(&pod("lenient", &[("tool", setup.image("tool"))]))
        .await;
    assert!(allowed(&admitted), "{admitted}");
    // One writer takes the queue in order: had the denial queued an Event, it would be first.
    let events = wait_for_posts(&api, 1).await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["regarding"]["name"], "lenient");

    // Under --dry-run the same denial is admitted, and recorded.
    let mut options = WebhookOptions::new(setup.policy(true), &[setup.registry.host()]);
    options.dry_run = true;
    options.events = Some((api.client(), EventSettings::default()));
    let dry = TestWebhook::start(options).await;
    let answer = dry
        .review(&pod("strict", &[("strict", setup.image("strict"))]))
        .await;
    assert!(allowed(&answer), "{answer}");
    let events = wait_for_posts(&api, 2).await;
    assert_eq!(events[1]["regarding"]["name"], "strict");
    assert_eq!(events[1]["note"], message(&denied));
}

/// A Pod of ReplicaSet `web-7d9f`: named, or (`name` empty) carrying only `generateName`.
fn replica(name: &str, images: &[(&str, String)]) -> Value {
    let mut review = pod(name, images);
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
    let api = TestApiServer::start().await;
    let settings = EventSettings {
        repeat_every: Duration::ZERO,
        ..EventSettings::default()
    };
    let webhook = setup.webhook(true, Some((api.client(), settings))).await;
    let tool = [("tool", setup.image("tool"))];

    // Only generateName: the Event names the prefix, and its own name is still a DNS name.
    assert!(allowed(&webhook.review(&replica("", &tool)).await));
    let event = wait_for_posts(&api, 1).await.remove(0);
    assert_eq!(event["regarding"]["name"], "web-7d9f-", "{event:#}");
    assert_eq!(
        event["related"],
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f",
               "namespace": "shop", "uid": "uid-rs"})
    );
    let name = event["metadata"]["name"].as_str().unwrap().to_string();
    assert!(name.starts_with("web-7d9f."), "{name}");

    // The next Pod of the same ReplicaSet, same denial: the series counts it.
    assert!(allowed(
        &webhook.review(&replica("web-7d9f-x2", &tool)).await
    ));
    wait_for_sample(&webhook, "signet_events_total{result=\"sent\"}", 2).await;
    assert_eq!(posted(&api).len(), 1, "no second Event");
    let stored = api
        .get("events.k8s.io/v1", "events", Some("shop"), &name)
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
        let answer = webhook.review(&pod(name, &tool)).await;
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
    let answer = webhook.review(&pod("d", &tool)).await;
    assert!(allowed(&answer), "{answer}");
    assert!(!response(&answer)["warnings"].as_array().unwrap().is_empty());
    // One Event in the call, one in the queue: the rest were dropped, and counted.
    let metrics = webhook.metrics().await;
    assert!(
        sample(&metrics, "signet_events_total{result=\"dropped\"}") >= 2,
        "{metrics}"
    );
    assert!(posted(&api).is_empty(), "nothing got through the blackhole");
}
