//! `--pull-secrets`: the webhook reaches a private registry with the reviewed pod's own
//! credentials, as the kubelet pulls: its imagePullSecrets, then its service account's, read from
//! the pod's namespace through a real kube client from the real kube-apiserver (one shared
//! control plane for this file, tests/common/shared_plane.rs; each test in namespaces of its
//! own; the API server's audit log tells what was read). The registry is Debian's
//! docker-registry with htpasswd authentication. One webhook serves several tenants: what one
//! tenant's credentials opened never serves another, and an API server that fails or never
//! answers gets the pod denied inside the review deadline: those two use the recorded-shapes
//! server of tests/common/apiserver.rs, since a real one cannot be made to answer 503 on demand.
//! Every test runs under its own timeout, so none can hang.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::apiserver::TestApiServer;
use crate::common::control_plane::ControlPlane;
use crate::common::faults::FaultFront;
use crate::common::kube_objects::{docker_config_secret, service_account};
use crate::common::limits::bounded;
use crate::common::shared_plane::{apply, client, requests_to, shared};
use crate::common::webhook::{
    TestWebhook, WebhookOptions, allowed, container, deployment_review, key_policy, message,
    pod_review_in,
};
use crate::common::{Mode, TcpProxy, TestKey, TestRegistry, push_image, sign_image};
use serde_json::{Value, json};
use signet::cluster::PullSecrets;

const USER: &str = "tenant-a";
const PASSWORD: &str = "s3cret";
/// The review deadline and the pull-secret lookup's timeout.
struct Timing {
    review: Duration,
    lookup: Duration,
}

/// Against the shared real API server, which shares two cores with the suite: a lookup (a TLS
/// handshake, a ServiceAccount and a Secret read) must never time out for being slow.
const REAL_PLANE: Timing = Timing {
    review: Duration::from_secs(15),
    lookup: Duration::from_secs(10),
};
/// Against an API server that fails or never answers: the denial must come quickly.
const FAILING: Timing = Timing {
    review: Duration::from_secs(5),
    lookup: Duration::from_secs(1),
};
/// No test may take longer than this, whatever the servers do (the first to ask for the shared
/// control plane may wait for it to start).
const TEST_LIMIT: Duration = Duration::from_secs(240);

/// A signed image in a registry that requires htpasswd auth, and a webhook that trusts its key
/// and reads pull secrets from `api`.
struct Private {
    registry: TestRegistry,
    key: TestKey,
}

impl Private {
    async fn start() -> Private {
        let registry = TestRegistry::start_with_htpasswd(USER, PASSWORD);
        let key = TestKey::generate();
        let digest = push_image(&registry, "private/app:v1", "pull-secrets").await;
        sign_image(&registry, "private/app", &digest, &key).await;
        Private { registry, key }
    }

    fn image(&self) -> String {
        format!("{}/private/app:v1", self.registry.host())
    }

    fn secret(&self, namespace: &str, name: &str) -> Value {
        docker_config_secret(namespace, name, &self.registry.host(), USER, PASSWORD)
    }

    async fn webhook(&self, client: kube::Client, timing: Timing) -> TestWebhook {
        let policy = key_policy(
            "private",
            &format!("{}/**", self.registry.host()),
            &self.key.public_pem,
        );
        TestWebhook::start(options(policy, &[self.registry.host()], client, timing)).await
    }
}

/// The private image, the shared real API server holding pull secrets for its registry
/// (`secrets`: namespace and name of each) in `namespaces` (created here) and a webhook reading
/// them there.
async fn tenants(
    namespaces: &[&str],
    secrets: &[(&str, &str)],
) -> (Private, &'static ControlPlane, TestWebhook) {
    let private = Private::start().await;
    let plane = tokio::task::block_in_place(|| {
        let plane = shared();
        for namespace in namespaces {
            plane.namespace(namespace);
        }
        let objects: Vec<Value> = secrets
            .iter()
            .map(|(namespace, name)| private.secret(namespace, name))
            .collect();
        apply(plane, &objects);
        plane
    });
    let webhook = private.webhook(client(plane).await, REAL_PLANE).await;
    (private, plane, webhook)
}

/// [`tenants`] on the recorded-shapes server, for the failures a real one cannot be made to give.
async fn tenants_on_recorded_server(
    secrets: &[(&str, &str)],
) -> (Private, TestApiServer, TestWebhook) {
    let private = Private::start().await;
    let api = TestApiServer::start().await;
    for (namespace, name) in secrets {
        api.apply("secrets", private.secret(namespace, name));
    }
    let webhook = private.webhook(api.client(), FAILING).await;
    (private, api, webhook)
}

fn options(
    policy: String,
    insecure: &[String],
    client: kube::Client,
    timing: Timing,
) -> WebhookOptions {
    let mut options = WebhookOptions::new(policy, insecure);
    options.review_deadline = timing.review;
    let secrets = PullSecrets::new(client, Duration::from_secs(30), 100);
    options.pull_secrets = Some(Arc::new(secrets.with_timeout(timing.lookup)));
    options
}

/// A review of a pod in `namespace` running `image`, with these pull secrets and service account.
fn pod(namespace: &str, image: &str, pull_secrets: &[&str], account: Option<&str>) -> Value {
    let mut review = pod_review_in(namespace, namespace, vec![container("app", image)]);
    let spec = &mut review["request"]["object"]["spec"];
    let refs: Vec<Value> = pull_secrets.iter().map(|n| json!({"name": n})).collect();
    spec["imagePullSecrets"] = json!(refs);
    match account {
        Some(account) => spec["serviceAccountName"] = json!(account),
        None => {
            spec.as_object_mut().unwrap().remove("serviceAccountName");
        }
    }
    review
}

/// The same pod, adding `image` as an ephemeral container (`kubectl debug`).
fn ephemeral(namespace: &str, image: &str, pull_secrets: &[&str]) -> Value {
    let mut review = pod(namespace, "registry.k8s.io/pause:3.9", pull_secrets, None);
    let request = &mut review["request"];
    request["operation"] = json!("UPDATE");
    request["subResource"] = json!("ephemeralcontainers");
    request["oldObject"] = request["object"].clone();
    request["object"]["spec"]["ephemeralContainers"] =
        json!([{"name": "debug", "image": image, "targetContainerName": "app"}]);
    review
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pods_pull_secret_admits_its_signed_private_image_and_without_it_access_is_refused() {
    bounded(TEST_LIMIT, async {
        let (private, plane, webhook) = tenants(&["wps-own"], &[("wps-own", "regcred")]).await;
        let image = private.image();

        let answer = webhook
            .review(&pod("wps-own", &image, &["regcred"], None))
            .await;
        assert!(allowed(&answer), "{}", message(&answer));

        let answer = webhook.review(&pod("wps-own", &image, &[], None)).await;
        assert!(!allowed(&answer), "admitted without credentials");
        assert!(
            message(&answer).contains("refused access"),
            "the reason names the registry's refusal: {}",
            message(&answer)
        );

        let mut deployment = deployment_review("d", vec![container("app", &image)]);
        deployment["request"]["namespace"] = json!("wps-own");
        let template = &mut deployment["request"]["object"]["spec"]["template"]["spec"];
        template["imagePullSecrets"] = json!([{"name": "regcred"}]);
        let answer = webhook.review(&deployment).await;
        assert!(
            allowed(&answer),
            "the template's secret: {}",
            message(&answer)
        );

        let debug = ephemeral("wps-own", &image, &["regcred"]);
        let answer = webhook.review(&debug).await;
        assert!(allowed(&answer), "ephemeral: {}", message(&answer));
        let debug = ephemeral("wps-own", &image, &[]);
        assert!(!allowed(&webhook.review(&debug).await));
        let reads = tokio::task::block_in_place(|| requests_to(plane, "/secrets"));
        let own: Vec<_> = reads
            .iter()
            .filter(|r| r.uri.contains("/wps-own/"))
            .collect();
        assert!(!own.is_empty(), "{reads:?}");
        assert!(
            own.iter()
                .all(|r| r.verb == "get" && r.uri == "/api/v1/namespaces/wps-own/secrets/regcred"),
            "{reads:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_given_only_to_the_service_account_are_used() {
    bounded(TEST_LIMIT, async {
        let (private, plane, webhook) = tenants(&["wps-sa"], &[("wps-sa", "robot")]).await;
        tokio::task::block_in_place(|| {
            apply(plane, &[service_account("wps-sa", "builder", &["robot"])]);
        });
        let image = private.image();

        let answer = webhook
            .review(&pod("wps-sa", &image, &[], Some("builder")))
            .await;
        assert!(allowed(&answer), "{}", message(&answer));
        let answer = webhook
            .review(&pod("wps-sa", &image, &[], Some("default")))
            .await;
        assert!(
            !allowed(&answer),
            "another account of the namespace has none"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_without_credentials_is_denied_after_another_was_admitted() {
    bounded(TEST_LIMIT, async {
        let (private, plane, webhook) = tenants(&["wps-a", "wps-c"], &[("wps-a", "regcred")]).await;
        let image = private.image();
        let with = pod("wps-a", &image, &["regcred"], None);
        let without = pod("wps-c", &image, &["regcred"], None);

        assert!(allowed(&webhook.review(&with).await));
        let answer = webhook.review(&without).await;
        assert!(!allowed(&answer), "team-c has no secret of that name");
        assert!(
            message(&answer).contains("refused access"),
            "{}",
            message(&answer)
        );
        // Both at once, several times: neither the tag cache, the token cache nor a shared
        // verification in flight lets team-c through, or denies team-a.
        for _ in 0..3 {
            let (a, c) = tokio::join!(webhook.review(&with), webhook.review(&without));
            assert!(allowed(&a), "team-a: {}", message(&a));
            assert!(!allowed(&c), "team-c was admitted");
        }
        let asked = tokio::task::block_in_place(|| requests_to(plane, "/namespaces/wps-a/"));
        assert!(!asked.is_empty(), "the API server was asked");
        assert!(
            asked.iter().all(|r| r.verb == "get"),
            "only reads: {asked:?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_for_another_registry_is_never_presented() {
    bounded(TEST_LIMIT, async {
        let open = TestRegistry::start();
        let key = TestKey::generate();
        let digest = push_image(&open, "demo/app:v1", "other-host").await;
        sign_image(&open, "demo/app", &digest, &key).await;
        let front = FaultFront::start(&open.host()).await;
        let private_host = "127.0.0.1:1";
        let plane = tokio::task::block_in_place(|| {
            let plane = shared();
            plane.namespace("wps-hosts");
            apply(
                plane,
                &[
                    docker_config_secret("wps-hosts", "elsewhere", private_host, USER, PASSWORD),
                    docker_config_secret("wps-hosts", "here", &front.host(), "front-user", "p"),
                ],
            );
            plane
        });
        let policy = key_policy("demo", &format!("{}/**", front.host()), &key.public_pem)
            + "    signedIdentity:\n      type: anyRepository\n";
        let webhook = TestWebhook::start(options(
            policy,
            &[front.host()],
            client(plane).await,
            REAL_PLANE,
        ))
        .await;
        let image = format!("{}/demo/app:v1", front.host());

        let answer = webhook
            .review(&pod("wps-hosts", &image, &["elsewhere"], None))
            .await;
        assert!(allowed(&answer), "{}", message(&answer));
        let log = front.log();
        assert!(
            !log.is_empty() && log.iter().all(|r| r.authorization.is_none()),
            "the secret for {private_host} reached {}: {log:?}",
            front.host()
        );

        // Control: a secret for this host is presented (so the check above can fail).
        let answer = webhook
            .review(&pod("wps-hosts", &image, &["here"], None))
            .await;
        assert!(allowed(&answer), "{}", message(&answer));
        assert!(
            front.log().iter().any(|r| r
                .authorization
                .as_deref()
                .is_some_and(|a| a.starts_with("Basic "))),
            "{:?}",
            front.log()
        );
    })
    .await;
}

/// Review a pod that needs its pull secrets while the API server fails: (answer, time taken).
async fn review_timed(webhook: &TestWebhook, review: &Value) -> (Value, Duration) {
    let started = Instant::now();
    let answer = webhook.review(review).await;
    (answer, started.elapsed())
}

fn assert_denied_for_the_api(answer: &Value, took: Duration) {
    assert!(!allowed(answer), "admitted without its credentials");
    let text = message(answer);
    assert!(
        text.contains("cannot read the pod's registry credentials")
            && text.contains("Kubernetes API"),
        "{text}"
    );
    // Generous: the bound that matters is the webhook's timeoutSeconds, not a benchmark.
    assert!(
        took < FAILING.review + Duration::from_secs(3),
        "answered after {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_server_answering_503_denies_within_the_deadline_and_is_not_remembered() {
    bounded(TEST_LIMIT, async {
        let (private, api, webhook) = tenants_on_recorded_server(&[("team-a", "regcred")]).await;
        let review = pod("team-a", &private.image(), &["regcred"], None);

        api.set_unavailable(true);
        let (answer, took) = review_timed(&webhook, &review).await;
        assert_denied_for_the_api(&answer, took);
        assert!(!api.requests().is_empty(), "the API server was asked");

        api.set_unavailable(false);
        let answer = webhook.review(&review).await;
        assert!(
            allowed(&answer),
            "the failure was cached: {}",
            message(&answer)
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_server_that_never_answers_denies_within_the_deadline() {
    bounded(TEST_LIMIT, async {
        let private = Private::start().await;
        let api = TestApiServer::start().await;
        api.apply("secrets", private.secret("team-a", "regcred"));
        let silent = TcpProxy::start(api_addr(&api), Duration::ZERO);
        silent.set_mode(Mode::Blackhole);
        let client = kube::Client::try_from(kube::Config::new(
            format!("http://{}", silent.host()).parse().unwrap(),
        ))
        .unwrap();
        let webhook = private.webhook(client, FAILING).await;
        let review = pod("team-a", &private.image(), &["regcred"], None);

        let (answer, took) = review_timed(&webhook, &review).await;
        assert_denied_for_the_api(&answer, took);
        assert!(silent.connections() > 0, "the API server was asked");

        // A pod whose images need no registry never waits for the API server.
        let asked = silent.connections();
        let unrelated = pod("team-a", "docker.io/library/busybox:1", &["regcred"], None);
        let answer = webhook.review(&unrelated).await;
        assert!(message(&answer).contains("no image policy"), "{answer}");
        assert_eq!(
            silent.connections(),
            asked,
            "the API server was asked again"
        );
    })
    .await;
}

fn api_addr(api: &TestApiServer) -> std::net::SocketAddr {
    api.url().trim_start_matches("http://").parse().unwrap()
}
