//! Keyless (Fulcio certificate + Rekor) verification end to end: real TLS, a real registry, and a
//! private "Fulcio" and "Rekor" made in the test (tests/common/keyless.rs), given to the webhook
//! as a TrustRoot or trusted_root.json file. This file: identities and certificate trust. The
//! transparency-log forgeries are in `webhook_keyless_forgeries.rs`.
// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::keyless::{
    GITHUB_ISSUER, GOOGLE_ISSUER, IssuerEncoding, LIFETIME, Leaf, SIGNED_AT, TestFulcio, TestRekor,
    keyless_layer, keyless_policy, signed_layer, trust_root_yaml, trusted_root_json,
};
use crate::common::keyless_webhook::{EMAIL, WORKFLOW, denied_with, email_setup, setup};
use crate::common::webhook::{TestWebhook, WebhookOptions, allowed, container, pod_review};
use crate::common::{TestRegistry, push_image, push_signature_layers, simple_signing_payload};

#[tokio::test(flavor = "multi_thread")]
async fn keyless_signature_from_the_allowed_identity_is_admitted() {
    let s = email_setup().await;
    let (_, layer) = s.valid_layer();
    s.push("demo/app", &s.digest, vec![layer]).await;
    let image = format!("{}/demo/app:v1", s.registry.host());
    let answer = s
        .webhook
        .review(&pod_review("u", vec![container("app", &image)], vec![]))
        .await;
    assert!(allowed(&answer), "{answer}");
    let note = answer["response"]["auditAnnotations"]["spec.containers.0"]
        .as_str()
        .unwrap();
    assert!(note.starts_with("admit:Verified"), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn uri_subject_with_der_issuer_from_a_trusted_root_json_is_admitted() {
    let registry = TestRegistry::start();
    let digest = push_image(&registry, "demo/app:v1", "app-v1").await;
    let (fulcio, rekor) = (TestFulcio::new(), TestRekor::new());
    let identities =
        format!("[{{issuer: {GITHUB_ISSUER}, subjectRegExp: 'https://github\\.com/org/repo/.*'}}]");
    let glob = format!("{}/**", registry.host());
    let policy = keyless_policy("release", &glob, "private-sigstore", &identities);
    let mut options = WebhookOptions::new(policy, &[registry.host()]);
    options.trust_roots = vec![(
        "private-sigstore.json".into(),
        trusted_root_json(&fulcio, &rekor),
    )];
    let webhook = TestWebhook::start(options).await;
    let signer = fulcio.issue(&Leaf::uri(WORKFLOW, GITHUB_ISSUER).encoded(IssuerEncoding::Der));
    let payload = simple_signing_payload(&format!("{}/demo/app", registry.host()), &digest);
    let layer = signed_layer(&fulcio, &signer, &rekor, payload);
    push_signature_layers(&registry, "demo/app", &digest, vec![layer]).await;
    let image = format!("{}/demo/app:v1", registry.host());
    let answer = webhook
        .review(&pod_review("u", vec![container("app", &image)], vec![]))
        .await;
    assert!(allowed(&answer), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn issuer_written_only_in_the_legacy_raw_extension_is_read() {
    let s = email_setup().await;
    let signer = s.signer(&Leaf::email(EMAIL, GITHUB_ISSUER).encoded(IssuerEncoding::Raw));
    let layer = signed_layer(&s.fulcio, &signer, &s.rekor, s.app_payload());
    s.push("demo/app", &s.digest, vec![layer]).await;
    assert!(s.review("demo/app:v1").await.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn another_subject_is_denied_naming_the_required_and_found_identities() {
    let s = email_setup().await;
    let signer = s.signer(&Leaf::email("mallory@example.com", GITHUB_ISSUER));
    let layer = signed_layer(&s.fulcio, &signer, &s.rekor, s.app_payload());
    s.push("demo/app", &s.digest, vec![layer]).await;
    let msg = denied_with(
        s.review("demo/app:v1").await,
        "keyless: no signature from a required identity",
    );
    assert!(
        msg.contains(&format!(
            "(required issuer \"{GITHUB_ISSUER}\" subject \"{EMAIL}\"; found issuer \"{GITHUB_ISSUER}\" subject \"mallory@example.com\")"
        )),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn another_issuer_is_denied() {
    let s = email_setup().await;
    let signer = s.signer(&Leaf::email(EMAIL, GOOGLE_ISSUER));
    let layer = signed_layer(&s.fulcio, &signer, &s.rekor, s.app_payload());
    s.push("demo/app", &s.digest, vec![layer]).await;
    let msg = denied_with(
        s.review("demo/app:v1").await,
        "no signature from a required identity",
    );
    assert!(
        msg.contains(&format!("found issuer \"{GOOGLE_ISSUER}\"")),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn subject_regexp_must_match_the_whole_subject() {
    let s = setup(
        r"[{issuerRegExp: 'https://token\.actions\.githubusercontent\.com', subjectRegExp: 'https://github\.com/org/repo/.*'}]",
    )
    .await;
    let cases = [
        ("demo/good", WORKFLOW, true),
        (
            "demo/evil1",
            "https://github.com/org/repo-evil/.github/workflows/r.yml@refs/heads/main",
            false,
        ),
        (
            "demo/evil2",
            "https://evil.example/?https://github.com/org/repo/x",
            false,
        ),
    ];
    for (repo, uri, admitted) in cases {
        let digest = push_image(&s.registry, &format!("{repo}:v1"), repo).await;
        let signer = s.signer(&Leaf::uri(uri, GITHUB_ISSUER));
        let layer = signed_layer(&s.fulcio, &signer, &s.rekor, s.payload(repo, &digest));
        s.push(repo, &digest, vec![layer]).await;
        let (allowed, msg) = s.review(&format!("{repo}:v1")).await;
        assert_eq!(allowed, admitted, "{uri}: {msg}");
        if !admitted {
            assert!(msg.contains("subjectRegExp"), "{msg}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn certificate_from_an_untrusted_ca_is_denied() {
    let s = email_setup().await;
    let other = TestFulcio::new();
    let signer = other.issue(&Leaf::email(EMAIL, GITHUB_ISSUER));
    let layer = signed_layer(&other, &signer, &s.rekor, s.app_payload());
    s.push("demo/app", &s.digest, vec![layer]).await;
    denied_with(
        s.review("demo/app:v1").await,
        "keyless: untrusted signing certificate: does not chain to a certificate authority of TrustRoot test-sigstore",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn self_made_root_carrying_the_fulcio_oids_is_still_untrusted() {
    let s = email_setup().await;
    let impostor = TestFulcio::self_made();
    let signer = impostor.issue(&Leaf::email(EMAIL, GITHUB_ISSUER));
    let layer = signed_layer(&impostor, &signer, &s.rekor, s.app_payload());
    s.push("demo/app", &s.digest, vec![layer]).await;
    denied_with(
        s.review("demo/app:v1").await,
        "keyless: untrusted signing certificate",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn certificate_expired_at_the_integrated_time_is_denied() {
    let s = email_setup().await;
    let signer = s.signer(&Leaf::email(EMAIL, GITHUB_ISSUER));
    let payload = s.app_payload();
    let signature = signer.sign(&payload);
    let late = SIGNED_AT + LIFETIME + 1;
    let bundle = s.rekor.log(&signature, &signer.cert_pem, &payload, late);
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
        "but the log recorded the signature at",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn certificate_without_code_signing_usage_is_denied() {
    let s = email_setup().await;
    let mut leaf = Leaf::email(EMAIL, GITHUB_ISSUER);
    leaf.code_signing = false;
    let signer = s.signer(&leaf);
    let layer = signed_layer(&s.fulcio, &signer, &s.rekor, s.app_payload());
    s.push("demo/app", &s.digest, vec![layer]).await;
    denied_with(s.review("demo/app:v1").await, "not for code signing");
}

#[tokio::test(flavor = "multi_thread")]
async fn keyless_signature_for_another_digest_is_denied_as_for_keys() {
    let s = email_setup().await;
    let other = push_image(&s.registry, "demo/app:other", "other").await;
    let signer = s.signer(&Leaf::email(EMAIL, GITHUB_ISSUER));
    let layer = signed_layer(&s.fulcio, &signer, &s.rekor, s.payload("demo/app", &other));
    s.push("demo/app", &s.digest, vec![layer]).await;
    denied_with(s.review("demo/app:v1").await, &format!("signed {other}"));
}

#[test]
fn keyless_authority_without_subject_or_issuer_is_refused_at_load() {
    use signet::policy::{PolicySet, TrustRoots};
    let (fulcio, rekor) = (TestFulcio::new(), TestRekor::new());
    let roots =
        TrustRoots::from_text(&trust_root_yaml("t", &fulcio, &rekor), "t.yaml", "t").unwrap();
    let policy = keyless_policy("p", "**", "t", "[{}]");
    let err = PolicySet::from_yaml_with_trust_roots(&policy, "p.yaml", &roots).unwrap_err();
    let shown = err.to_string();
    assert!(
        shown.contains("spec.authorities[0].keyless.identities[0]"),
        "{shown}"
    );
    assert!(
        shown.contains("subject") && shown.contains("issuer"),
        "{shown}"
    );
    let ok = keyless_policy(
        "p",
        "**",
        "t",
        &format!("[{{issuer: {GITHUB_ISSUER}, subject: {EMAIL}}}]"),
    );
    assert!(PolicySet::from_yaml_with_trust_roots(&ok, "p.yaml", &roots).is_ok());
    let missing = PolicySet::from_yaml_with_trust_roots(&ok, "p.yaml", &TrustRoots::default());
    let shown = missing.unwrap_err().to_string();
    assert!(
        shown.contains("keyless.trustRootRef: no trust root named \"t\""),
        "{shown}"
    );
}
