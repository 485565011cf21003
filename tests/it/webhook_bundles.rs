//! Sigstore bundles (cosign 3) end to end: real TLS, Debian's distribution 2.8 (no referrers API,
//! so bundles are attached by the referrers tag schema), and a small front serving the referrers
//! API where a test needs one (`FaultFront::referrers` in tests/common/faults.rs). Bundles are made with the test
//! Fulcio and Rekor of tests/common/keyless.rs, with an RFC 6962 inclusion proof and a signed
//! checkpoint (tests/common/bundles.rs).
// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::common::bundles::{
    BUNDLE_MEDIA_TYPE, Forgery, attach_bundles, dsse_bundle, image_statement, push_referrer,
    referrers_index, statement,
};
use crate::common::faults::FaultFront;
use crate::common::keyless::{
    GITHUB_ISSUER, Leaf, TestFulcio, TestRekor, keyless_policy, signed_layer, trust_root_yaml,
};
use crate::common::keyless_webhook::{EMAIL, Setup, denied_with, email_setup};
use crate::common::webhook::{
    TestWebhook, WebhookOptions, allowed, container, message, pod_review,
};
use crate::common::{TestRegistry, push_image};
use serde_json::json;

/// A valid cosign 3 bundle for `digest` by the allowed identity, with `forgery` applied.
fn bundle(s: &Setup, digest: &str, forgery: Forgery) -> Vec<u8> {
    let signer = s.signer(&Leaf::email(EMAIL, GITHUB_ISSUER));
    dsse_bundle(&signer, &s.rekor, &image_statement(digest), forgery)
}

#[tokio::test(flavor = "multi_thread")]
async fn cosign_3_bundle_attached_by_the_referrers_tag_schema_is_admitted() {
    let s = email_setup().await;
    let b = bundle(&s, &s.digest, Forgery::default());
    attach_bundles(&s.registry, "demo/app", &s.digest, vec![b]).await;
    let (admitted, msg) = s.review("demo/app:v1").await;
    assert!(admitted, "{msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn image_with_only_a_sig_or_only_a_bundle_or_both_is_admitted() {
    let s = email_setup().await;
    let (_, layer) = s.valid_layer();
    s.push("demo/app", &s.digest, vec![layer.clone()]).await;
    let only_bundle = push_image(&s.registry, "demo/bundled:v1", "bundled").await;
    let b = bundle(&s, &only_bundle, Forgery::default());
    attach_bundles(&s.registry, "demo/bundled", &only_bundle, vec![b]).await;
    let both = push_image(&s.registry, "demo/both:v1", "both").await;
    let payload = s.payload("demo/both", &both);
    let signer = s.signer(&Leaf::email(EMAIL, GITHUB_ISSUER));
    s.push(
        "demo/both",
        &both,
        vec![signed_layer(&s.fulcio, &signer, &s.rekor, payload)],
    )
    .await;
    let b = bundle(&s, &both, Forgery::default());
    attach_bundles(&s.registry, "demo/both", &both, vec![b]).await;
    for image in ["demo/app:v1", "demo/bundled:v1", "demo/both:v1"] {
        let (admitted, msg) = s.review(image).await;
        assert!(admitted, "{image}: {msg}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tampered_bundle_is_denied_because_its_signature_does_not_verify() {
    let s = email_setup().await;
    let other = push_image(&s.registry, "demo/other:v1", "other").await;
    let forgery = Forgery {
        payload_after_signing: Some(image_statement(&other)),
        ..Forgery::default()
    };
    let b = bundle(&s, &s.digest, forgery);
    attach_bundles(&s.registry, "demo/app", &s.digest, vec![b]).await;
    denied_with(
        s.review("demo/app:v1").await,
        "the signature does not verify with the key of the certificate it carries",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bundle_for_another_digest_is_denied_with_both_digests() {
    let s = email_setup().await;
    let other = push_image(&s.registry, "demo/app:v2", "app-v2").await;
    let b = bundle(&s, &other, Forgery::default());
    attach_bundles(&s.registry, "demo/app", &s.digest, vec![b]).await;
    let msg = denied_with(
        s.review("demo/app:v1").await,
        "signature payload digest mismatch",
    );
    assert!(msg.contains(&other) && msg.contains(&s.digest), "{msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn inclusion_proof_for_another_leaf_is_denied() {
    let s = email_setup().await;
    let forgery = Forgery {
        proof_for_another_leaf: true,
        ..Forgery::default()
    };
    let b = bundle(&s, &s.digest, forgery);
    attach_bundles(&s.registry, "demo/app", &s.digest, vec![b]).await;
    denied_with(
        s.review("demo/app:v1").await,
        "invalid transparency-log proof: the inclusion proof does not lead to its root hash",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn checkpoint_signed_by_an_unknown_key_is_denied() {
    let s = email_setup().await;
    let forgery = Forgery {
        checkpoint_key: Some(rcgen::KeyPair::generate().unwrap()),
        ..Forgery::default()
    };
    let b = bundle(&s, &s.digest, forgery);
    attach_bundles(&s.registry, "demo/app", &s.digest, vec![b]).await;
    denied_with(
        s.review("demo/app:v1").await,
        "invalid checkpoint: the checkpoint signature does not verify with the log's key",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn attestation_bundle_is_not_accepted_as_a_signature() {
    let s = email_setup().await;
    let signer = s.signer(&Leaf::email(EMAIL, GITHUB_ISSUER));
    let slsa = statement(&s.digest, "https://slsa.dev/provenance/v1");
    let b = dsse_bundle(&signer, &s.rekor, &slsa, Forgery::default());
    attach_bundles(&s.registry, "demo/app", &s.digest, vec![b]).await;
    denied_with(
        s.review("demo/app:v1").await,
        "it signs an attestation (predicateType \"https://slsa.dev/provenance/v1\")",
    );
}

/// A registry with `demo/app:v1`, a front serving `answers` (by path) in front of it, and a
/// webhook trusting a test Fulcio and Rekor for images of the front.
struct Fronted {
    registry: TestRegistry,
    front: FaultFront,
    webhook: TestWebhook,
}

async fn fronted(
    registry: TestRegistry,
    fulcio: &TestFulcio,
    rekor: &TestRekor,
    answers: HashMap<String, Vec<u8>>,
) -> Fronted {
    let front = FaultFront::referrers(&registry.host(), answers).await;
    let identities = format!("[{{issuer: {GITHUB_ISSUER}, subject: {EMAIL}}}]");
    let policy = keyless_policy(
        "release",
        &format!("{}/**", front.host()),
        "test",
        &identities,
    );
    let mut options = WebhookOptions::new(policy, &[front.host()]);
    options.trust_roots = vec![(
        "trust-root.yaml".into(),
        trust_root_yaml("test", fulcio, rekor),
    )];
    let webhook = TestWebhook::start(options).await;
    Fronted {
        registry,
        front,
        webhook,
    }
}

impl Fronted {
    async fn review(&self) -> (bool, String, Duration) {
        let image = format!("{}/demo/app:v1", self.front.host());
        let started = Instant::now();
        let answer = self
            .webhook
            .review(&pod_review("u", vec![container("app", &image)], vec![]))
            .await;
        (allowed(&answer), message(&answer), started.elapsed())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bundle_listed_by_the_referrers_api_is_admitted_without_the_tag_fallback() {
    let registry = TestRegistry::start();
    let digest = push_image(&registry, "demo/app:v1", "app-v1").await;
    let (fulcio, rekor) = (TestFulcio::new(), TestRekor::new());
    let signer = fulcio.issue(&Leaf::email(EMAIL, GITHUB_ISSUER));
    let b = dsse_bundle(
        &signer,
        &rekor,
        &image_statement(&digest),
        Forgery::default(),
    );
    let entry = push_referrer(&registry, "demo/app", &digest, b).await;
    let index = serde_json::to_vec(&referrers_index(vec![entry])).unwrap();
    let path = format!("/v2/demo/app/referrers/{digest}");
    let f = fronted(registry, &fulcio, &rekor, HashMap::from([(path, index)])).await;
    let (admitted, msg, _) = f.review().await;
    assert!(admitted, "{msg}");
    assert!(f.front.requests_containing("/referrers/sha256:") >= 1);
    let tag = format!("/manifests/{}", digest.replacen(':', "-", 1));
    let fallback =
        f.front.requests_containing(&tag) - f.front.requests_containing(&format!("{tag}.sig"));
    assert_eq!(fallback, 0, "the API answered; no tag fallback");
    drop(f.registry);
}

/// A referrers index of `count` bundle entries naming manifests that do not exist.
fn huge_index(count: usize) -> Vec<u8> {
    let entry = json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": format!("sha256:{}", "ab".repeat(32)),
        "size": 1000,
        "artifactType": BUNDLE_MEDIA_TYPE,
    });
    serde_json::to_vec(&referrers_index(vec![entry; count])).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn referrers_index_with_10000_entries_is_denied_quickly_with_a_limit_reason() {
    let registry = TestRegistry::start();
    let digest = push_image(&registry, "demo/app:v1", "app-v1").await;
    let (fulcio, rekor) = (TestFulcio::new(), TestRekor::new());
    let path = format!("/v2/demo/app/referrers/{digest}");
    let f = fronted(
        registry,
        &fulcio,
        &rekor,
        HashMap::from([(path, huge_index(10_000))]),
    )
    .await;
    let (admitted, msg, took) = f.review().await;
    assert!(!admitted, "{msg}");
    assert!(
        msg.contains("referrers index") && msg.contains("limit"),
        "{msg}"
    );
    assert!(took < Duration::from_secs(2), "took {took:?}");
    drop(f.registry);
}

#[tokio::test(flavor = "multi_thread")]
async fn small_referrers_index_with_too_many_entries_is_refused_by_count() {
    let registry = TestRegistry::start();
    let digest = push_image(&registry, "demo/app:v1", "app-v1").await;
    let (fulcio, rekor) = (TestFulcio::new(), TestRekor::new());
    let index = huge_index(300);
    assert!(index.len() < 256 * 1024, "under the byte limit");
    let tag = format!("/v2/demo/app/manifests/{}", digest.replacen(':', "-", 1));
    let f = fronted(registry, &fulcio, &rekor, HashMap::from([(tag, index)])).await;
    let (admitted, msg, _) = f.review().await;
    assert!(!admitted, "{msg}");
    assert!(msg.contains("lists more than 256 entries"), "{msg}");
    drop(f.registry);
}
