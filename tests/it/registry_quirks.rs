//! The registry quirks of issue 26, each a test named after its report: a legitimately signed
//! image is admitted through the quirk, and an unsigned one is still denied through the same
//! quirk. The registry is real (Debian's `docker-registry`, no referrers API); what it cannot be
//! made to do (a referrers 401 without a challenge as Harbor 2.7 answers, GHCR's 303 to a rate
//! limit page, GitLab answering the referrers tag with the subject, a paginated referrers API,
//! a token service that rotates tokens, HEAD failures, an empty `Docker-Content-Digest`) is done
//! by a front (`common/faults.rs`) that forwards everything else to it. Signatures are keyless
//! (the test Fulcio and Rekor): `.sig` layers and cosign 3 Sigstore bundles.

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use crate::common::bundles::{
    BUNDLE_MEDIA_TYPE, EMPTY_MEDIA_TYPE, Forgery, dsse_bundle, image_statement, push_referrer,
    referrers_index,
};
use crate::common::faults::{Fault, FaultFront};
use crate::common::images::{push_blob, push_manifest};
use crate::common::keyless::{
    GITHUB_ISSUER, Leaf, TestFulcio, TestRekor, keyless_policy, signed_layer, trust_root_yaml,
};
use crate::common::keyless_webhook::EMAIL;
use crate::common::realm::{Behaviour, FakeHttp};
use crate::common::webhook::{
    TestWebhook, WebhookOptions, allowed, container, first_code, key_policy, message, pod_review,
};
use crate::common::{
    TestKey, TestRegistry, pull_manifest, push_image, push_signature_layers, sign_image,
    simple_signing_payload,
};
use serde_json::{Value, json};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// A real registry behind a fault front, a test Fulcio and Rekor, and a webhook whose policy
/// allows the email identity for every image of the front. Holds `demo/app:v1` (`digest`) and
/// `demo/unsigned:v1` (`unsigned`), both unsigned until a test signs one.
struct Quirky {
    registry: TestRegistry,
    front: FaultFront,
    fulcio: TestFulcio,
    rekor: TestRekor,
    webhook: TestWebhook,
    digest: String,
    unsigned: String,
    /// Two token services (plain HTTP, named to `--insecure-registry`), issuing `token-a` and
    /// `token-b` until a test says otherwise.
    realm_a: FakeHttp,
    realm_b: FakeHttp,
}

async fn quirky() -> Quirky {
    let registry = TestRegistry::start();
    let digest = push_image(&registry, "demo/app:v1", "quirks-app").await;
    let unsigned = push_image(&registry, "demo/unsigned:v1", "quirks-unsigned").await;
    let front = FaultFront::start(&registry.host()).await;
    let realm_a = FakeHttp::start("127.0.0.1", Behaviour::Token("token-a".into())).await;
    let realm_b = FakeHttp::start("127.0.0.1", Behaviour::Token("token-b".into())).await;
    let (fulcio, rekor) = (TestFulcio::new(), TestRekor::new());
    let identities = format!("[{{issuer: {GITHUB_ISSUER}, subject: {EMAIL}}}]");
    let glob = format!("{}/**", front.host());
    let policy = keyless_policy("release", &glob, "test", &identities);
    let insecure = [front.host(), realm_a.host(), realm_b.host()];
    let mut options = WebhookOptions::new(policy, &insecure);
    options.trust_roots = vec![(
        "trust-root.yaml".into(),
        trust_root_yaml("test", &fulcio, &rekor),
    )];
    options.registry_timeout = Duration::from_secs(2);
    let webhook = TestWebhook::start(options).await;
    Quirky {
        registry,
        front,
        fulcio,
        rekor,
        webhook,
        digest,
        unsigned,
        realm_a,
        realm_b,
    }
}

impl Quirky {
    /// A valid `.sig` layer for `repo@digest` by the allowed identity.
    async fn sign_sig(&self, repo: &str, digest: &str) {
        let signer = self.fulcio.issue(&Leaf::email(EMAIL, GITHUB_ISSUER));
        let payload = simple_signing_payload(&format!("{}/{repo}", self.front.host()), digest);
        let layer = signed_layer(&self.fulcio, &signer, &self.rekor, payload);
        push_signature_layers(&self.registry, repo, digest, vec![layer]).await;
    }

    /// A valid cosign 3 bundle for `digest` by the allowed identity.
    fn bundle(&self, digest: &str) -> Vec<u8> {
        let signer = self.fulcio.issue(&Leaf::email(EMAIL, GITHUB_ISSUER));
        dsse_bundle(
            &signer,
            &self.rekor,
            &image_statement(digest),
            Forgery::default(),
        )
    }

    /// The index entry of a bundle referrer of `repo@digest` (pushed, untagged).
    async fn bundle_entry(&self, repo: &str, digest: &str) -> Value {
        push_referrer(&self.registry, repo, digest, self.bundle(digest)).await
    }

    /// Pushes `repo_tag` signed only with a bundle in its referrers tag.
    async fn bundle_only(&self, repo_tag: &str, seed: &str) {
        let digest = push_image(&self.registry, repo_tag, seed).await;
        let repo = repo_tag.split(':').next().unwrap_or_default();
        let entry = self.bundle_entry(repo, &digest).await;
        self.fallback_index(repo, &digest, vec![entry]).await;
    }

    /// Writes the referrers tag (`sha256-<hex>`) of `repo@digest` listing `entries`.
    async fn fallback_index(&self, repo: &str, digest: &str, entries: Vec<Value>) {
        let tag = digest.replacen(':', "-", 1);
        let index = referrers_index(entries);
        push_manifest(&self.registry, &format!("{repo}:{tag}"), OCI_INDEX, &index).await;
    }

    /// From now on requests under `/v2/<prefix>` need `Bearer <token>`; others get 401 with
    /// `www_authenticate` (`{realm}` replaced by `realm`'s URL).
    fn demand_token(&self, prefix: &str, realm: &FakeHttp, www_authenticate: &str, token: &str) {
        let realm_url = format!("http://{}/token", realm.host());
        self.front.fail(
            &format!("/v2/{prefix}"),
            Fault::Challenge {
                www_authenticate: www_authenticate.replace("{realm}", &realm_url),
                token: token.to_string(),
            },
        );
    }

    async fn review(&self, repo_tag: &str) -> Value {
        let image = format!("{}/{repo_tag}", self.front.host());
        self.webhook
            .review(&pod_review("u", vec![container("app", &image)], vec![]))
            .await
    }

    async fn admitted(&self, repo_tag: &str, variant: &str) {
        let answer = self.review(repo_tag).await;
        assert!(allowed(&answer), "{variant}: {}", message(&answer));
    }

    async fn denied(&self, repo_tag: &str, code: &str, variant: &str) -> String {
        let answer = self.review(repo_tag).await;
        assert!(!allowed(&answer), "{variant}: admitted");
        assert_eq!(first_code(&answer), code, "{variant}: {}", message(&answer));
        message(&answer)
    }
}

/// A referrer of `repo@digest` that is no bundle (an SPDX SBOM), and its index entry typed as
/// cosign 3.0.x types every entry.
async fn sbom_entry(reg: &TestRegistry, repo: &str, digest: &str) -> Value {
    let (image, _) = pull_manifest(reg, &format!("{repo}@{digest}")).await;
    let config = push_blob(reg, repo, EMPTY_MEDIA_TYPE, b"{}".to_vec()).await;
    let layer = push_blob(reg, repo, "application/spdx+json", b"{\"spdx\":1}".to_vec()).await;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/spdx+json",
        "config": config,
        "layers": [layer],
        "subject": { "mediaType": OCI_MANIFEST, "digest": digest, "size": image.len() },
    });
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let at = format!("{repo}@{}", crate::common::sha256_digest(&bytes));
    let pushed = push_manifest(reg, &at, OCI_MANIFEST, &manifest).await;
    json!({ "mediaType": OCI_MANIFEST, "digest": pushed, "size": bytes.len(),
            "artifactType": EMPTY_MEDIA_TYPE })
}

/// Retypes an index entry as cosign 3.0.x (go-containerregistry < 0.21.6) writes it in the
/// referrers fallback index: `artifactType` is the empty config's media type.
fn typed_as_cosign_3_0(mut entry: Value) -> Value {
    entry["artifactType"] = json!(EMPTY_MEDIA_TYPE);
    entry
}

#[tokio::test(flavor = "multi_thread")]
async fn cosign_3_0_fallback_index_entries_typed_as_the_empty_config_are_read() {
    let q = quirky().await;
    let signed = typed_as_cosign_3_0(q.bundle_entry("demo/app", &q.digest).await);
    let sbom = sbom_entry(&q.registry, "demo/app", &q.digest).await;
    q.fallback_index("demo/app", &q.digest, vec![sbom, signed])
        .await;
    q.admitted(
        "demo/app:v1",
        "bundle-only image, cosign 3.0.x fallback index",
    )
    .await;
    // The unsigned image's fallback index lists, typed alike, a referrer that is no bundle.
    let sbom = sbom_entry(&q.registry, "demo/unsigned", &q.unsigned).await;
    q.fallback_index("demo/unsigned", &q.unsigned, vec![sbom])
        .await;
    q.denied("demo/unsigned:v1", "NoSignature", "only an SBOM referrer")
        .await;
    // An entry typed as a bundle whose manifest is no bundle is not one either.
    let other = push_image(&q.registry, "demo/mistyped:v1", "mistyped").await;
    let mut sbom = sbom_entry(&q.registry, "demo/mistyped", &other).await;
    sbom["artifactType"] = json!(BUNDLE_MEDIA_TYPE);
    q.fallback_index("demo/mistyped", &other, vec![sbom]).await;
    q.denied(
        "demo/mistyped:v1",
        "NoSignature",
        "SBOM announced as a bundle",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn harbor_2_7_referrers_401_without_a_challenge_never_hides_a_signature() {
    let q = quirky().await;
    q.front.fail(
        "/referrers/",
        Fault::Status(401, vec![("content-type", "application/json".into())]),
    );
    q.sign_sig("demo/app", &q.digest).await;
    q.admitted("demo/app:v1", ".sig signature, referrers API 401")
        .await;
    q.bundle_only("demo/bundled:v1", "harbor-bundled").await;
    q.admitted("demo/bundled:v1", "bundle in the referrers tag, API 401")
        .await;
    let msg = q
        .denied(
            "demo/unsigned:v1",
            "RegistryUnauthorized",
            "unsigned, API 401",
        )
        .await;
    assert!(msg.contains("refused access"), "names the failure: {msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn ghcr_303_to_a_rate_limit_page_never_hides_a_signature() {
    let q = quirky().await;
    let page = "<html><body>You have exceeded a secondary rate limit</body></html>";
    q.front.fail(
        "/rate-limited",
        Fault::Body(200, vec![("content-type", "text/html".into())], page.into()),
    );
    q.front.fail(
        "/referrers/",
        Fault::Status(303, vec![("location", "/rate-limited".into())]),
    );
    q.sign_sig("demo/app", &q.digest).await;
    q.admitted("demo/app:v1", ".sig signature, 303 to an HTML page")
        .await;
    q.bundle_only("demo/bundled:v1", "ghcr-bundled").await;
    q.admitted(
        "demo/bundled:v1",
        "bundle in the referrers tag, 303 to HTML",
    )
    .await;
    q.denied("demo/unsigned:v1", "NoSignature", "unsigned, 303 to HTML")
        .await;
    // The same redirect to another host, which Signet does not follow: a failure, never "none"
    // (new images: the verdicts above are cached).
    q.front.heal();
    q.front.fail(
        "/referrers/",
        Fault::Status(303, vec![("location", "http://127.0.0.3:9/abuse".into())]),
    );
    let signed = push_image(&q.registry, "demo/app2:v1", "ghcr-app2").await;
    q.sign_sig("demo/app2", &signed).await;
    push_image(&q.registry, "demo/unsigned2:v1", "ghcr-unsigned2").await;
    q.admitted("demo/app2:v1", ".sig signature, 303 to another host")
        .await;
    q.denied(
        "demo/unsigned2:v1",
        "RegistryRedirectRefused",
        "unsigned, 303 to another host",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn gitlab_referrers_tag_answered_with_the_subject_itself_means_no_referrers() {
    let q = quirky().await;
    for (repo, digest) in [("demo/app", &q.digest), ("demo/unsigned", &q.unsigned)] {
        let (subject, _) = pull_manifest(&q.registry, &format!("{repo}@{digest}")).await;
        let tag = format!("/v2/{repo}/manifests/{}", digest.replacen(':', "-", 1));
        let content_type = vec![("content-type", OCI_MANIFEST.to_string())];
        q.front
            .fail_exact(&tag, Fault::Body(200, content_type, subject));
    }
    q.sign_sig("demo/app", &q.digest).await;
    q.admitted(
        "demo/app:v1",
        ".sig signature, tag normalised to the subject",
    )
    .await;
    q.denied(
        "demo/unsigned:v1",
        "NoSignature",
        "unsigned, tag normalised to the subject",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn referrers_listed_over_several_pages_are_all_read() {
    let q = quirky().await;
    for (repo, digest, last) in [
        (
            "demo/app",
            q.digest.clone(),
            q.bundle_entry("demo/app", &q.digest).await,
        ),
        (
            "demo/unsigned",
            q.unsigned.clone(),
            sbom_entry(&q.registry, "demo/unsigned", &q.unsigned).await,
        ),
    ] {
        let api = format!("/v2/{repo}/referrers/{digest}");
        let pages = [
            (format!("{api}?page=3"), vec![last], None),
            (
                format!("{api}?page=2"),
                vec![],
                Some(format!("{api}?page=3")),
            ),
        ];
        for (at, entries, next) in pages {
            let body = serde_json::to_vec(&referrers_index(entries)).unwrap();
            let mut headers = vec![("content-type", OCI_INDEX.to_string())];
            if let Some(next) = next {
                headers.push(("link", format!("<{next}>; rel=\"next\"")));
            }
            q.front.fail_exact(&at, Fault::Body(200, headers, body));
        }
        let sbom = sbom_entry(&q.registry, repo, &digest).await;
        let first = serde_json::to_vec(&referrers_index(vec![sbom])).unwrap();
        let link = format!("<http://{}{api}?page=2>; rel=\"next\"", q.front.host());
        let headers = vec![("content-type", OCI_INDEX.to_string()), ("link", link)];
        q.front.fail(&api, Fault::Body(200, headers, first));
    }
    q.admitted("demo/app:v1", "bundle on page 3 of the referrers API")
        .await;
    assert_eq!(q.front.requests_containing("/referrers/"), 3, "three pages");
    q.denied("demo/unsigned:v1", "NoSignature", "no bundle on any page")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn anonymous_enabled_registry_with_the_realm_only_on_the_repository_401() {
    let q = quirky().await;
    // `/v2/` answers 200 (the real registry); only the repositories challenge.
    let plain = r#"Bearer realm="{realm}",service="fake",scope="repository:demo/app:pull""#;
    q.demand_token("demo/", &q.realm_a, plain, "token-a");
    // Nexus and SPNEGO proxies offer Basic (or Negotiate) first.
    let several = r#"Basic realm="Sonatype Nexus Repository Manager", Negotiate, Bearer realm="{realm}",service="nexus""#;
    q.demand_token("nexus/", &q.realm_b, several, "token-b");
    let nexus = push_image(&q.registry, "nexus/app:v1", "nexus-app").await;
    push_image(&q.registry, "nexus/unsigned:v1", "nexus-unsigned").await;
    q.sign_sig("demo/app", &q.digest).await;
    q.sign_sig("nexus/app", &nexus).await;
    q.admitted("demo/app:v1", "realm only on the repository's 401")
        .await;
    q.admitted("nexus/app:v1", "Basic and Negotiate before Bearer")
        .await;
    q.denied(
        "demo/unsigned:v1",
        "NoSignature",
        "unsigned, realm on the 401",
    )
    .await;
    q.denied(
        "nexus/unsigned:v1",
        "NoSignature",
        "unsigned, several challenges",
    )
    .await;
    assert!(!q.realm_a.received().is_empty() && !q.realm_b.received().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cached_token_the_registry_refuses_is_replaced_once() {
    let q = quirky().await;
    let challenge = r#"Bearer realm="{realm}",service="fake",scope="repository:demo/app:pull""#;
    q.demand_token("demo/", &q.realm_a, challenge, "token-a");
    q.sign_sig("demo/app", &q.digest).await;
    q.admitted("demo/app:v1", "first token").await;
    // The token expires early (revoked, rotated keys): the registry now wants another one, and
    // says why as RFC 6750 does; new tags so that nothing cached answers for them.
    for (round, error) in [(2, "invalid_token"), (3, "insufficient_scope")] {
        let token = format!("token-{round}");
        q.realm_a.set(Behaviour::Token(token.clone()));
        q.front.heal();
        let refused = format!(
            r#"Bearer realm="{{realm}}",service="fake",scope="repository:demo/app:pull",error="{error}""#
        );
        q.demand_token("demo/", &q.realm_a, &refused, &token);
        let signed = push_image(
            &q.registry,
            &format!("demo/app:s{round}"),
            &format!("signed-{round}"),
        )
        .await;
        q.sign_sig("demo/app", &signed).await;
        push_image(
            &q.registry,
            &format!("demo/app:u{round}"),
            &format!("unsigned-{round}"),
        )
        .await;
        q.admitted(&format!("demo/app:s{round}"), error).await;
        q.denied(&format!("demo/app:u{round}"), "NoSignature", error)
            .await;
    }
    let asked = q.realm_a.received().len();
    assert!(
        asked <= 4,
        "one token per rotation, not one per read: {asked}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn artifactory_per_repository_realm_and_scope() {
    let q = quirky().await;
    let team = |name: &str| {
        format!(
            r#"Bearer realm="{{realm}}",service="artifactory",scope="repository:{name}/app:pull""#
        )
    };
    q.demand_token("team-a/", &q.realm_a, &team("team-a"), "token-a");
    q.demand_token("team-b/", &q.realm_b, &team("team-b"), "token-b");
    for repo in ["team-a/app", "team-b/app"] {
        let digest = push_image(&q.registry, &format!("{repo}:v1"), repo).await;
        q.sign_sig(repo, &digest).await;
        push_image(
            &q.registry,
            &format!("{repo}:unsigned"),
            &format!("{repo}-u"),
        )
        .await;
    }
    q.admitted("team-a/app:v1", "team-a's realm").await;
    q.admitted("team-b/app:v1", "team-b's realm").await;
    q.denied("team-b/app:unsigned", "NoSignature", "unsigned in team-b")
        .await;
    let scopes = |realm: &FakeHttp| {
        realm
            .received()
            .iter()
            .map(|r| r.target.clone())
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(
        scopes(&q.realm_a).contains("team-a%2Fapp"),
        "{}",
        scopes(&q.realm_a)
    );
    assert!(
        !scopes(&q.realm_a).contains("team-b"),
        "{}",
        scopes(&q.realm_a)
    );
    assert!(
        scopes(&q.realm_b).contains("team-b%2Fapp"),
        "{}",
        scopes(&q.realm_b)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn harbor_and_artifactory_manifest_head_refused_while_get_works() {
    for (status, variant) in [
        (404, "HEAD 404"),
        (401, "HEAD 401 without a challenge"),
        (405, "HEAD 405"),
    ] {
        let q = quirky().await;
        q.front
            .fail_method("HEAD", "/manifests/", Fault::Status(status, vec![]));
        q.sign_sig("demo/app", &q.digest).await;
        q.admitted("demo/app:v1", variant).await;
        q.denied("demo/unsigned:v1", "NoSignature", variant).await;
        let gets = q
            .front
            .log()
            .iter()
            .filter(|r| r.method == "GET" && r.path.ends_with("/manifests/v1"))
            .count();
        assert_eq!(gets, 2, "{variant}: the tag is read by GET");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_docker_content_digest_is_computed_from_the_body() {
    let q = quirky().await;
    let empty: crate::common::faults::Headers =
        vec![("docker-content-digest", Some(String::new()))];
    let same: crate::common::faults::Rewrite = std::sync::Arc::new(|b: &[u8]| b.to_vec());
    q.front.fail("/manifests/", Fault::Rewrite(same, empty));
    q.sign_sig("demo/app", &q.digest).await;
    q.admitted("demo/app:v1", "empty digest header on HEAD and GET")
        .await;
    q.denied(
        "demo/unsigned:v1",
        "NoSignature",
        "unsigned, empty digest header",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn artifact_registry_and_harbor_project_keys_match_by_the_longest_path() {
    let registry = TestRegistry::start_with_htpasswd("robot", "right");
    let key = TestKey::generate();
    let signed = push_image(&registry, "team-a/app:v1", "project-a").await;
    sign_image(&registry, "team-a/app", &signed, &key).await;
    push_image(&registry, "team-a/unsigned:v1", "project-a-unsigned").await;
    let elsewhere = push_image(&registry, "team-b/app:v1", "project-b").await;
    sign_image(&registry, "team-b/app", &elsewhere, &key).await;
    let host = registry.host();
    let port = registry.port();
    // Only the project's key holds the right password; the host key and a glob key do not.
    let config = json!({ "auths": {
        host.clone(): { "username": "robot", "password": "wrong-host" },
        format!("https://{host}/v2/team-a"): { "username": "robot", "password": "right" },
        format!("127.0.0.*:{port}"): { "username": "robot", "password": "wrong-glob" },
    }});
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(&path, config.to_string()).unwrap();
    let policy = key_policy("demo", &format!("{host}/**"), &key.public_pem)
        + "    signedIdentity:\n      type: anyRepository\n";
    let mut options = WebhookOptions::new(policy, std::slice::from_ref(&host));
    options.registry_config = Some(path);
    let webhook = TestWebhook::start(options).await;
    let review = |image: &str| {
        let image = format!("{host}/{image}");
        let webhook = &webhook;
        async move {
            webhook
                .review(&pod_review("u", vec![container("app", &image)], vec![]))
                .await
        }
    };
    let answer = review("team-a/app:v1").await;
    assert!(allowed(&answer), "project key: {}", message(&answer));
    let answer = review("team-a/unsigned:v1").await;
    assert_eq!(first_code(&answer), "NoSignature", "{}", message(&answer));
    let answer = review("team-b/app:v1").await;
    assert_eq!(
        first_code(&answer),
        "RegistryUnauthorized",
        "another project gets the host key: {}",
        message(&answer)
    );
}
