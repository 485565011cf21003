//! Keyless verification end to end against transparency-log forgeries: unknown or tampered
//! SETs, bundles that record another signature, payload or certificate, replayed certificates
//! (the forgery sigstore-rs 0.15 accepts, spike §6), and signatures not made with the
//! certificate's key even when a log recorded them (the bundle swaps behind cosign's
//! CVE-2022-36056 and CVE-2026-22703). Fixture: tests/common/keyless_webhook.rs.
// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::keyless::{
    GITHUB_ISSUER, Leaf, SIGNED_AT, TestRekor, keyless_layer, sign_with, signed_layer,
};
use crate::common::keyless_webhook::{EMAIL, denied_with, email_setup};
use crate::common::{SigLayer, TestKey, push_image, sign};

#[tokio::test(flavor = "multi_thread")]
async fn set_signed_by_an_unknown_rekor_key_is_denied() {
    let s = email_setup().await;
    let signer = s.signer(&Leaf::email(EMAIL, GITHUB_ISSUER));
    let layer = signed_layer(&s.fulcio, &signer, &TestRekor::new(), s.app_payload());
    s.push("demo/app", &s.digest, vec![layer]).await;
    denied_with(s.review("demo/app:v1").await, "whose key is not trusted");
}

#[tokio::test(flavor = "multi_thread")]
async fn tampered_set_is_denied() {
    let s = email_setup().await;
    let (_, mut layer) = s.valid_layer();
    let bundle = layer.annotations["dev.sigstore.cosign/bundle"].clone();
    let shifted = bundle.replace(
        &format!("\"integratedTime\":{}", SIGNED_AT + 60),
        &format!("\"integratedTime\":{}", SIGNED_AT + 61),
    );
    assert_ne!(bundle, shifted);
    layer = layer.with_annotation("dev.sigstore.cosign/bundle", &shifted);
    s.push("demo/app", &s.digest, vec![layer]).await;
    denied_with(
        s.review("demo/app:v1").await,
        "signed entry timestamp does not verify",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bundle_whose_body_records_another_signature_is_denied() {
    let s = email_setup().await;
    let other = push_image(&s.registry, "demo/app:other", "other").await;
    let signer = s.signer(&Leaf::email(EMAIL, GITHUB_ISSUER));
    let theirs = signed_layer(&s.fulcio, &signer, &s.rekor, s.payload("demo/app", &other));
    let payload = s.app_payload();
    let signature = signer.sign(&payload);
    let layer = keyless_layer(
        payload,
        &signature,
        Some(&signer.cert_pem),
        Some(&s.fulcio.chain_pem()),
        Some(&theirs.annotations["dev.sigstore.cosign/bundle"]),
    );
    s.push("demo/app", &s.digest, vec![layer]).await;
    denied_with(
        s.review("demo/app:v1").await,
        "the log entry records another signature",
    );
}

/// spike §6: a random key's signature with a certificate and bundle copied from a legitimately
/// signed image. sigstore-rs 0.15's `CertSubjectEmailVerifier` accepts it.
#[tokio::test(flavor = "multi_thread")]
async fn replayed_certificate_and_bundle_forgery_is_denied() {
    let s = email_setup().await;
    let legit_digest = push_image(&s.registry, "demo/legit:v1", "legit").await;
    let signer = s.signer(&Leaf::email(EMAIL, GITHUB_ISSUER));
    let legit = signed_layer(
        &s.fulcio,
        &signer,
        &s.rekor,
        s.payload("demo/legit", &legit_digest),
    );
    s.push("demo/legit", &legit_digest, vec![legit.clone()])
        .await;
    assert!(
        s.review("demo/legit:v1").await.0,
        "the legitimate image is admitted"
    );
    let payload = s.app_payload();
    let forged = sign_with(&rcgen::KeyPair::generate().unwrap(), &payload);
    let mut layer = legit.clone();
    layer.payload = payload;
    layer = layer.with_annotation("dev.cosignproject.cosign/signature", &forged);
    s.push("demo/app", &s.digest, vec![layer]).await;
    denied_with(
        s.review("demo/app:v1").await,
        "invalid transparency-log proof: the log entry records another signature",
    );
}

/// Item 3 on its own: the log (which Signet does not trust to have checked anything) recorded a
/// random key's signature next to someone else's certificate. Only the check of the signature
/// against the certificate's key catches it.
#[tokio::test(flavor = "multi_thread")]
async fn signature_not_made_with_the_certificate_key_is_denied_even_when_logged() {
    let s = email_setup().await;
    let victim = s.signer(&Leaf::email(EMAIL, GITHUB_ISSUER));
    let payload = s.app_payload();
    let forged = sign_with(&rcgen::KeyPair::generate().unwrap(), &payload);
    let bundle = s
        .rekor
        .log(&forged, &victim.cert_pem, &payload, SIGNED_AT + 60);
    let chain = s.fulcio.chain_pem();
    let layer = keyless_layer(
        payload,
        &forged,
        Some(&victim.cert_pem),
        Some(&chain),
        Some(&bundle),
    );
    s.push("demo/app", &s.digest, vec![layer]).await;
    denied_with(
        s.review("demo/app:v1").await,
        "keyless: the signature does not verify with the key of the certificate it carries",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn certificate_signed_signature_without_a_rekor_bundle_is_denied() {
    let s = email_setup().await;
    let signer = s.signer(&Leaf::email(EMAIL, GITHUB_ISSUER));
    let payload = s.app_payload();
    let signature = signer.sign(&payload);
    let chain = s.fulcio.chain_pem();
    let layer = keyless_layer(
        payload,
        &signature,
        Some(&signer.cert_pem),
        Some(&chain),
        None,
    );
    s.push("demo/app", &s.digest, vec![layer]).await;
    denied_with(
        s.review("demo/app:v1").await,
        "the signature has no Rekor bundle",
    );
}

/// sigstore-rs's own test vector has this shape (extracted/key_signed_layer): a key signature
/// carrying a genuine bundle of another signature over the same payload.
#[tokio::test(flavor = "multi_thread")]
async fn key_signed_layer_carrying_a_genuine_bundle_of_another_signature_is_denied() {
    let s = email_setup().await;
    let (_, legit) = s.valid_layer();
    let key = TestKey::generate();
    let payload = s.app_payload();
    let layer = SigLayer::new(payload.clone(), &sign(&key, &payload)).with_annotation(
        "dev.sigstore.cosign/bundle",
        &legit.annotations["dev.sigstore.cosign/bundle"],
    );
    s.push("demo/app", &s.digest, vec![layer]).await;
    denied_with(
        s.review("demo/app:v1").await,
        "the log entry records another signature",
    );
}

/// The log entry names the certificate's public key instead of the certificate: it is not
/// evidence that this certificate was used at that time.
#[tokio::test(flavor = "multi_thread")]
async fn entry_recording_a_bare_public_key_instead_of_the_certificate_is_denied() {
    let s = email_setup().await;
    let signer = s.signer(&Leaf::email(EMAIL, GITHUB_ISSUER));
    let payload = s.app_payload();
    let signature = signer.sign(&payload);
    let bundle = s.rekor.log(
        &signature,
        &signer.key.public_key_pem(),
        &payload,
        SIGNED_AT + 60,
    );
    let chain = s.fulcio.chain_pem();
    let layer = keyless_layer(
        payload,
        &signature,
        Some(&signer.cert_pem),
        Some(&chain),
        Some(&bundle),
    );
    s.push("demo/app", &s.digest, vec![layer]).await;
    denied_with(
        s.review("demo/app:v1").await,
        "records a public key, not this certificate",
    );
}
