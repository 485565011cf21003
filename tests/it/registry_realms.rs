//! A registry's token service (the `Bearer realm` of its 401) is a URL the registry chooses, so
//! it gets the rules of every place a registry sends Signet: a bounded answer within the call
//! deadline, https (or the very host:port given to `--insecure-registry`) before any credential
//! goes there, no loopback, private, link-local or cluster-internal address in any spelling,
//! directly or after a redirect, unless it is the registry's own host; and a denial that says
//! the same whatever an internal endpoint would have answered. And one review cannot open
//! unbounded requests: a 1,000-image pod keeps at most N requests in flight to a host.
//!
//! The registry is real (`docker-registry` behind a `FaultFront` that demands a token); the token
//! services and the counting registry are hand-written (`common/realm.rs`): a real token service
//! cannot be made hostile.

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use crate::common::faults::{Fault, FaultFront};
use crate::common::realm::{Behaviour, FakeHttp};
use crate::common::webhook::{
    TestWebhook, WebhookOptions, allowed, container, first_code, key_policy, message, pod_review,
};
use crate::common::{TestKey, TestRegistry, push_image, sign_image};
use serde_json::Value;

const TOKEN: &str = "token-of-the-fake-service";

/// A signed image in a real registry, read through a front that demands a bearer token from
/// `realm`; the front listens on `front_ip` and is named `name:port` in image references.
struct Setup {
    _registry: TestRegistry,
    front: FaultFront,
    key: TestKey,
    /// How images name the front (`127.0.0.1:port`, `localhost:port`).
    host: String,
    /// Holds the docker config.json with the front's credentials.
    dir: tempfile::TempDir,
}

impl Setup {
    async fn new(front_ip: &str, name: &str, realm: &str) -> Setup {
        let registry = TestRegistry::start();
        let key = TestKey::generate();
        let digest = push_image(&registry, "demo/app:v1", "realms").await;
        sign_image(&registry, "demo/app", &digest, &key).await;
        let front = FaultFront::start_on(front_ip, &registry.host()).await;
        let host = format!("{name}:{}", front.addr.port());
        let setup = Setup {
            _registry: registry,
            front,
            key,
            host,
            dir: tempfile::tempdir().unwrap(),
        };
        setup.challenge(realm);
        setup
    }

    /// From now on the front demands a token from `realm` (with the one challenge every client
    /// reads, so a test of the realm rules does not pass merely because a client could not
    /// read the header).
    fn challenge(&self, realm: &str) {
        self.challenge_with(&format!(
            r#"Bearer realm="{realm}",service="fake",scope="repository:demo/app:pull""#
        ));
    }

    /// From now on the front answers 401 with this `WWW-Authenticate`.
    fn challenge_with(&self, www_authenticate: &str) {
        self.front.heal();
        self.front.fail(
            "/v2/",
            Fault::Challenge {
                www_authenticate: www_authenticate.to_string(),
                token: TOKEN.to_string(),
            },
        );
    }

    /// A webhook trusting the key for the front's images, reaching the front and `insecure`
    /// over plain HTTP, presenting Basic credentials to the front.
    async fn webhook(&self, insecure: &[String]) -> TestWebhook {
        let policy = key_policy("demo", &format!("{}/**", self.host), &self.key.public_pem)
            + "    signedIdentity:\n      type: anyRepository\n";
        let mut all = vec![self.host.clone()];
        all.extend_from_slice(insecure);
        let mut options = WebhookOptions::new(policy, &all);
        options.registry_timeout = Duration::from_secs(1);
        options.review_deadline = Duration::from_secs(4);
        let config = self.dir.path().join("config.json");
        let auths = format!(
            r#"{{"auths":{{"{}":{{"username":"a","password":"secret-of-a"}}}}}}"#,
            self.host
        );
        std::fs::write(&config, auths).unwrap();
        options.registry_config = Some(config);
        TestWebhook::start(options).await
    }

    async fn review(&self, webhook: &TestWebhook) -> Value {
        let image = format!("{}/demo/app:v1", self.host);
        webhook
            .review(&pod_review("u", vec![container("app", &image)], vec![]))
            .await
    }
}

/// A registry on `ip` whose token service is on its own host, given to --insecure-registry, and
/// behaves as `behaviour`; the webhook reviewing its images.
async fn own_host_realm(ip: &str, behaviour: Behaviour) -> (FakeHttp, Setup, TestWebhook) {
    let realm = FakeHttp::start(ip, behaviour).await;
    let s = Setup::new(ip, ip, &format!("http://{}/t", realm.host())).await;
    let webhook = s.webhook(&[realm.host()]).await;
    (realm, s, webhook)
}

fn assert_denied(answer: &Value, code: &str, text: &str, variant: &str) {
    assert!(!allowed(answer), "{variant}: admitted");
    assert_eq!(first_code(answer), code, "{variant}: {}", message(answer));
    assert!(
        message(answer).contains(text),
        "{variant}: {}",
        message(answer)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_registry_s_own_token_service_is_used_with_its_credentials() {
    // The realm on the registry's own host, named as the images name the registry: a literal
    // address, and a name (`localhost`) that resolves to loopback; the Bearer challenge alone,
    // after or before a Basic one, on one header line or two.
    for name in ["127.0.0.1", "localhost"] {
        let realm = FakeHttp::start("127.0.0.1", Behaviour::Token(TOKEN.into())).await;
        let realm_host = format!("{name}:{}", realm.port());
        let bearer = format!(
            r#"Bearer realm="http://{realm_host}/token",service="fake",scope="repository:demo/app:pull""#
        );
        let s = Setup::new("127.0.0.1", name, "").await;
        for header in [
            bearer.clone(),
            format!(r#"Basic realm="registry", {bearer}"#),
            format!(r#"{bearer}, Basic realm="registry""#),
        ] {
            s.challenge_with(&header);
            let asked_before = realm.received().len();
            let webhook = s.webhook(std::slice::from_ref(&realm_host)).await;
            let answer = s.review(&webhook).await;
            assert!(allowed(&answer), "{header}: {}", message(&answer));
            let asked = &realm.received()[asked_before..];
            assert_eq!(asked.len(), 1, "{header}: one token: {asked:?}");
            assert!(
                asked[0]
                    .target
                    .contains("scope=repository%3Ademo%2Fapp%3Apull"),
                "{asked:?}"
            );
            assert!(asked[0].target.contains("service=fake"), "{asked:?}");
            assert!(
                asked[0]
                    .authorization
                    .as_deref()
                    .is_some_and(|a| a.starts_with("Basic ")),
                "{header}: the host given to --insecure-registry gets the credential: {asked:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endless_token_answer_is_cut_at_64_kib_and_denied_with_a_stable_code() {
    let (realm, s, webhook) = own_host_realm("127.0.0.1", Behaviour::Endless).await;
    let answer = s.review(&webhook).await;
    assert_denied(
        &answer,
        "RegistryTokenUnavailable",
        "larger than 64 KiB",
        "endless",
    );
    assert!(message(&answer).contains(&s.host), "{}", message(&answer));
    // What the fake wrote: the 64 KiB read plus what socket buffers took before Signet hung up.
    assert!(
        realm.body_bytes() < 8 * 1024 * 1024,
        "{} bytes were taken from the endless token answer",
        realm.body_bytes()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn what_a_token_service_answered_never_reaches_the_denial() {
    let (realm, s, webhook) = own_host_realm("127.0.0.1", Behaviour::Endless).await;
    for (behaviour, why) in [
        (
            Behaviour::Status(500, "SECRET-INTERNAL-BODY".into()),
            "answered an error status",
        ),
        (
            Behaviour::Status(200, "SECRET-INTERNAL-BODY".into()),
            "not a token document",
        ),
        (
            Behaviour::Status(200, r#"{"token":"SECRET INTERNAL"}"#.into()),
            "not a valid header value",
        ),
    ] {
        realm.set(behaviour);
        let answer = s.review(&webhook).await;
        assert_denied(&answer, "RegistryTokenUnavailable", why, why);
        assert!(!message(&answer).contains("SECRET"), "{}", message(&answer));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_never_go_to_a_plain_http_realm_that_was_not_named_insecure() {
    let realm = FakeHttp::start("127.0.0.1", Behaviour::Token(TOKEN.into())).await;
    let port = realm.port();
    let s = Setup::new("127.0.0.1", "127.0.0.1", "").await;
    let webhook = s.webhook(&[]).await;
    for target in [
        format!("http://127.0.0.1:{port}/token"),
        format!("http://localhost:{port}/token"),
        format!("HTTP://127.0.0.1:{port}/token"),
    ] {
        s.challenge(&target);
        let answer = s.review(&webhook).await;
        assert_denied(&answer, "RegistryTokenRealmRefused", "plain http", &target);
    }
    assert_eq!(realm.connections(), 0, "{:?}", realm.received());
}

/// Realms on loopback in every spelling a URL allows, on private and link-local addresses, and
/// cluster names, none of them the registry's own host (the registry is 127.0.0.2).
fn internal_realms(port: u16) -> Vec<String> {
    let loopback = [
        "127.0.0.1",
        "127.1",
        "2130706433",
        "0x7f000001",
        "0177.0.0.1",
        "0.0.0.0",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "localhost",
        "LocalHost.",
        "realm.localhost",
    ];
    let mut realms: Vec<String> = loopback
        .iter()
        .map(|host| format!("https://{host}:{port}/token"))
        .collect();
    realms.extend(
        [
            "https://169.254.169.254/latest/meta-data",
            "https://[fe80::1]/t",
            "https://10.0.0.1/t",
            "https://192.168.1.1/t",
            "https://kubernetes.default.svc/t",
            "https://keycloak.auth.svc.cluster.local/t",
            "https://metadata.google.internal/t",
        ]
        .map(str::to_string),
    );
    realms
}

#[tokio::test(flavor = "multi_thread")]
async fn internal_realms_are_refused_before_any_connection_and_all_read_alike() {
    let listening = FakeHttp::start("127.0.0.1", Behaviour::Token(TOKEN.into())).await;
    let closed = FakeHttp::start("127.0.0.1", Behaviour::Token(TOKEN.into())).await;
    let closed_port = closed.port();
    drop(closed);
    let s = Setup::new("127.0.0.2", "127.0.0.2", "").await;
    let webhook = s.webhook(&[]).await;
    let mut messages = Vec::new();
    for port in [listening.port(), closed_port] {
        for realm in internal_realms(port) {
            s.challenge(&realm);
            let answer = s.review(&webhook).await;
            assert_denied(&answer, "RegistryTokenRealmRefused", "127.0.0.2", &realm);
            let text = message(&answer).replace(&s.host, "REGISTRY");
            messages.push((realm, text));
        }
    }
    assert_eq!(listening.connections(), 0, "{:?}", listening.received());
    let (first_realm, first) = &messages[0];
    for (realm, text) in &messages {
        assert_eq!(text, first, "{realm} reads unlike {first_realm}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_realm_redirecting_to_an_internal_address_is_not_followed() {
    let victim = FakeHttp::start("127.0.0.1", Behaviour::Token(TOKEN.into())).await;
    let port = victim.port();
    let mut targets = internal_realms(port);
    targets.push(format!("http://127.0.0.1:{port}/token"));
    // The realm is allowed (the registry's own host, given to --insecure-registry), and
    // redirects elsewhere.
    let (realm, s, webhook) = own_host_realm("127.0.0.2", Behaviour::Endless).await;
    for (asked, target) in targets.into_iter().enumerate() {
        realm.set(Behaviour::Redirect(target.clone()));
        let answer = s.review(&webhook).await;
        assert_denied(
            &answer,
            "RegistryTokenRealmRefused",
            "redirected to a place Signet does not go",
            &target,
        );
        assert_eq!(
            realm.received().len(),
            asked + 1,
            "{target}: the realm was asked"
        );
    }
    assert_eq!(victim.connections(), 0, "{:?}", victim.received());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_image_pod_keeps_at_most_n_requests_in_flight_to_one_host() {
    // (per-registry cap, per-review image cap, the most requests in flight allowed)
    for (per_registry, per_review, most) in [(4, 1_000, 4), (1_000, 3, 3)] {
        let registry = FakeHttp::start(
            "127.0.0.1",
            Behaviour::SlowNotFound(Duration::from_millis(5)),
        )
        .await;
        let key = TestKey::generate();
        let policy = key_policy("all", &format!("{}/**", registry.host()), &key.public_pem);
        let mut options = WebhookOptions::new(policy, &[registry.host()]);
        options.max_requests_per_registry = per_registry;
        options.max_images_in_flight = per_review;
        options.review_deadline = Duration::from_secs(20);
        let webhook = TestWebhook::start(options).await;
        let containers = (0..1_000)
            .map(|i| container(&format!("c{i}"), &format!("{}/app{i}:v1", registry.host())))
            .collect();
        let answer = webhook.review(&pod_review("u", containers, vec![])).await;
        assert!(!allowed(&answer));
        let variant = format!("{per_registry} per registry, {per_review} per review");
        assert!(
            registry.peak_in_flight() <= most,
            "{variant}: {} requests in flight at once",
            registry.peak_in_flight()
        );
        assert!(
            registry.received().len() >= 100,
            "{variant}: only {} requests arrived",
            registry.received().len()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_realm_redirect_to_another_allowed_host_carries_no_credential() {
    // Both hosts were given to --insecure-registry, so the hop is followed; the registry's
    // credential stays with the realm it was sent to.
    let issuer = FakeHttp::start("127.0.0.1", Behaviour::Token(TOKEN.into())).await;
    let realm = FakeHttp::start("127.0.0.1", Behaviour::Endless).await;
    realm.set(Behaviour::Redirect(format!(
        "http://{}/token",
        issuer.host()
    )));
    let s = Setup::new(
        "127.0.0.1",
        "127.0.0.1",
        &format!("http://{}/t", realm.host()),
    )
    .await;
    let webhook = s.webhook(&[realm.host(), issuer.host()]).await;
    let answer = s.review(&webhook).await;
    assert!(allowed(&answer), "{}", message(&answer));
    let at_realm = realm.received();
    assert!(
        at_realm.iter().all(|r| r
            .authorization
            .as_deref()
            .is_some_and(|a| a.starts_with("Basic "))),
        "{at_realm:?}"
    );
    let at_issuer = issuer.received();
    assert!(
        !at_issuer.is_empty() && at_issuer.iter().all(|r| r.authorization.is_none()),
        "the credential followed the redirect: {at_issuer:?}"
    );
}
