//! Signet's `threshold` extension end to end: a key authority that needs k distinct trusted keys
//! and a keyless authority that needs k distinct allowed identities, where `.sig` signatures and
//! Sigstore bundles both count; and the load-time validation of the field.
// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::bundles::{Forgery, attach_bundles, dsse_bundle, image_statement};
use crate::common::keyless::{
    GITHUB_ISSUER, Leaf, TestFulcio, TestRekor, signed_layer, trust_root_yaml,
};
use crate::common::webhook::{TestWebhook, WebhookOptions, indent};
use crate::common::{
    TestKey, TestRegistry, push_image, push_signature_layers, sign_image, simple_signing_payload,
};
use signet::policy::PolicySet;

/// A ClusterImagePolicy whose one key authority trusts `pems` with `key.threshold: threshold`.
fn two_key_policy(glob: &str, pems: &[&str], threshold: i64) -> String {
    format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: two-keys\n\
         spec:\n  images:\n  - glob: \"{glob}\"\n  authorities:\n  - name: release-keys\n    key:\n      \
         threshold: {threshold}\n      data: |\n{}",
        indent(&pems.concat(), 8)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn two_keys_with_threshold_two_need_both_and_the_same_key_twice_counts_once() {
    let registry = TestRegistry::start();
    let digest = push_image(&registry, "demo/app:v1", "app-v1").await;
    let (alice, bob) = (TestKey::generate(), TestKey::generate());
    let glob = format!("{}/**", registry.host());
    let policy = two_key_policy(&glob, &[&alice.public_pem, &bob.public_pem], 2);
    let mut options = WebhookOptions::new(policy, &[registry.host()]);
    options.cache.signature_ttl = std::time::Duration::ZERO;
    options.cache.negative_ttl = std::time::Duration::ZERO;
    let webhook = TestWebhook::start(options).await;
    let image = format!("{}/demo/app:v1", registry.host());

    sign_image(&registry, "demo/app", &digest, &alice).await;
    let (admitted, msg) = webhook.review_image(&image).await;
    assert!(!admitted);
    assert!(
        msg.contains("signed by 1 of 2 required signers (key sha256:"),
        "{msg}"
    );

    sign_image(&registry, "demo/app", &digest, &alice).await;
    let (admitted, msg) = webhook.review_image(&image).await;
    assert!(!admitted, "the same key twice is one signer");
    assert!(msg.contains("1 of 2 required signers"), "{msg}");

    sign_image(&registry, "demo/app", &digest, &bob).await;
    let (admitted, msg) = webhook.review_image(&image).await;
    assert!(admitted, "{msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn keyless_threshold_counts_a_sig_and_a_bundle_from_two_identities() {
    let registry = TestRegistry::start();
    let digest = push_image(&registry, "demo/app:v1", "app-v1").await;
    let (fulcio, rekor) = (TestFulcio::new(), TestRekor::new());
    let (alice, bob) = ("alice@example.com", "bob@example.com");
    let policy = format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: two-people\n\
         spec:\n  images:\n  - glob: \"{}/**\"\n  authorities:\n  - name: release-team\n    keyless:\n      \
         trustRootRef: test\n      threshold: 2\n      identities: [{{issuer: {GITHUB_ISSUER}, subject: {alice}}}, \
         {{issuer: {GITHUB_ISSUER}, subject: {bob}}}]\n",
        registry.host()
    );
    let mut options = WebhookOptions::new(policy, &[registry.host()]);
    options.trust_roots = vec![("root.yaml".into(), trust_root_yaml("test", &fulcio, &rekor))];
    options.cache.signature_ttl = std::time::Duration::ZERO;
    options.cache.negative_ttl = std::time::Duration::ZERO;
    let webhook = TestWebhook::start(options).await;
    let image = format!("{}/demo/app:v1", registry.host());

    let payload = simple_signing_payload(&format!("{}/demo/app", registry.host()), &digest);
    let by_alice = fulcio.issue(&Leaf::email(alice, GITHUB_ISSUER));
    let layer = signed_layer(&fulcio, &by_alice, &rekor, payload);
    push_signature_layers(&registry, "demo/app", &digest, vec![layer]).await;
    let (admitted, msg) = webhook.review_image(&image).await;
    assert!(!admitted);
    assert!(
        msg.contains("signed by 1 of 2 required signers (issuer"),
        "{msg}"
    );
    assert!(msg.contains(alice), "{msg}");

    let by_bob = fulcio.issue(&Leaf::email(bob, GITHUB_ISSUER));
    let bundle = dsse_bundle(
        &by_bob,
        &rekor,
        &image_statement(&digest),
        Forgery::default(),
    );
    attach_bundles(&registry, "demo/app", &digest, vec![bundle]).await;
    let (admitted, msg) = webhook.review_image(&image).await;
    assert!(admitted, "{msg}");
}

#[test]
fn threshold_outside_one_to_the_number_of_keys_is_a_load_error_naming_the_field() {
    let (a, b) = (TestKey::generate(), TestKey::generate());
    for (threshold, words) in [
        (3, "3 signers required, but only 2 keys"),
        (0, "at least 1"),
    ] {
        let policy = two_key_policy(
            "registry.example/**",
            &[&a.public_pem, &b.public_pem],
            threshold,
        );
        let err = PolicySet::from_yaml(&policy, "policy.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("spec.authorities[0].key.threshold"), "{err}");
        assert!(err.contains(words), "{err}");
    }
    let ok = two_key_policy("registry.example/**", &[&a.public_pem, &b.public_pem], 2);
    let one = two_key_policy("registry.example/**", &[&a.public_pem, &b.public_pem], 1);
    let (ok, one) = (
        PolicySet::from_yaml(&ok, "p").unwrap(),
        PolicySet::from_yaml(&one, "p").unwrap(),
    );
    assert_ne!(
        ok.fingerprint(),
        one.fingerprint(),
        "the threshold is part of the fingerprint"
    );
}
