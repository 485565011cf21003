//! `.att` attestations (cosign 2's legacy DSSE layers) whose proof is a Rekor entry: keyless ones
//! (a Fulcio certificate in `dev.sigstore.cosign/certificate`, a Rekor bundle in
//! `dev.sigstore.cosign/bundle`) and those of key authorities with `ctlog`. Made offline with the
//! test Fulcio and Rekor of tests/common/keyless.rs, logged as `cosign attest` logs them (a `dsse`
//! 0.0.1 entry by default, `intoto` 0.0.2 with `--rekor-entry-type intoto`), judged by a real
//! webhook over Debian's docker-registry; every forgery is one changed part of a valid layer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rcgen::{KeyPair, SigningKey};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::common::attestation_layers::push_attestation_layer;
use crate::common::bundles::pae;
use crate::common::images::push_image;
use crate::common::keyless::{
    BUNDLE_ANNOTATION, CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION, GITHUB_ISSUER, Leaf, SIGNED_AT,
    TestFulcio, TestRekor, keyless_policy, trust_root_yaml,
};
use crate::common::signing::TestKey;
use crate::common::webhook::{TestWebhook, WebhookOptions};
use crate::common::{TestRegistry, sign};

const SLSA1: &str = "https://slsa.dev/provenance/v1";
const BUILDER: &str = "https://builder.example/ci";
const IN_TOTO: &str = "application/vnd.in-toto+json";
const EMAIL: &str = "release@example.com";
const CEL: &str = "predicate.runDetails.builder.id == 'https://builder.example/ci'";

/// The attestations entry every policy here adds to its authority.
fn attestations_entry() -> String {
    format!(
        "    attestations:\n    - name: provenance\n      predicateType: slsaprovenance1\n      policy:\n        type: cel\n        data: \"{CEL}\"\n"
    )
}

fn statement(digest: &str, builder: &str) -> Vec<u8> {
    let hex = digest.trim_start_matches("sha256:");
    serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "app", "digest": {"sha256": hex}}],
        "predicateType": SLSA1,
        "predicate": {"buildDefinition": {"buildType": "x"}, "runDetails": {"builder": {"id": builder}}},
    }))
    .unwrap()
}

fn envelope(payload: &[u8], signature: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "payloadType": IN_TOTO,
        "payload": BASE64.encode(payload),
        "signatures": [{"keyid": "", "sig": signature}],
    }))
    .unwrap()
}

fn hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// How Rekor records an envelope: the entry kinds `cosign attest --rekor-entry-type` makes.
#[derive(Clone, Copy)]
enum EntryKind {
    Dsse,
    Intoto,
}

/// Base64 of the entry body recording `signature` (base64) by `verifier_pem` over `payload`.
fn entry(kind: EntryKind, payload: &[u8], signature: &str, verifier_pem: &str) -> String {
    let body = match kind {
        EntryKind::Dsse => json!({
            "apiVersion": "0.0.1", "kind": "dsse",
            "spec": {
                "envelopeHash": {"algorithm": "sha256", "value": hash(payload)},
                "payloadHash": {"algorithm": "sha256", "value": hash(payload)},
                "signatures": [{"signature": signature, "verifier": BASE64.encode(verifier_pem)}],
            },
        }),
        // intoto 0.0.2 stores each signature as base64 of its base64 text.
        EntryKind::Intoto => json!({
            "apiVersion": "0.0.2", "kind": "intoto",
            "spec": {"content": {
                "envelope": {"payloadType": IN_TOTO, "signatures": [
                    {"publicKey": BASE64.encode(verifier_pem), "sig": BASE64.encode(signature)},
                ]},
                "hash": {"algorithm": "sha256", "value": hash(payload)},
                "payloadHash": {"algorithm": "sha256", "value": hash(payload)},
            }},
        }),
    };
    BASE64.encode(body.to_string())
}

/// A keyless layer's parts, each replaceable by a forgery.
struct KeylessAtt {
    envelope: Vec<u8>,
    cert_pem: String,
    chain_pem: String,
    bundle: Option<String>,
}

/// Keyless `.att` layers: admitted for an allowed identity whose certificate's key signed the
/// envelope the trusted log recorded (as a `dsse` and as an `intoto` entry) and whose Statement
/// the policy accepts; denied for every part forged or missing.
#[tokio::test(flavor = "multi_thread")]
async fn keyless_att_envelopes_are_verified_with_their_certificate_and_rekor_entry() {
    let registry = TestRegistry::start();
    let (fulcio, rekor) = (TestFulcio::new(), TestRekor::new());
    let glob = format!("{}/**", registry.host());
    let identities = format!("[{{issuer: {GITHUB_ISSUER}, subject: {EMAIL}}}]");
    let policy =
        keyless_policy("release", &glob, "test-sigstore", &identities) + &attestations_entry();
    let mut options = WebhookOptions::new(policy, &[registry.host()]);
    options.trust_roots = vec![(
        "trust-root.yaml".into(),
        trust_root_yaml("test-sigstore", &fulcio, &rekor),
    )];
    let webhook = TestWebhook::start(options).await;
    let (other_fulcio, other_rekor) = (TestFulcio::self_made(), TestRekor::new());
    let time = SIGNED_AT + 60;

    // A valid layer for `digest`, then the forgery `case` makes of it.
    let make = |case: &str, digest: &str| -> KeylessAtt {
        let email = if case == "other-identity" {
            "mallory@example.com"
        } else {
            EMAIL
        };
        let issuing = if case == "untrusted-fulcio" {
            &other_fulcio
        } else {
            &fulcio
        };
        let signer = issuing.issue(&Leaf::email(email, GITHUB_ISSUER));
        let builder = if case == "other-builder" {
            "https://evil.example"
        } else {
            BUILDER
        };
        let payload = statement(digest, builder);
        let signature = match case {
            "not-the-cert-key" => BASE64.encode(
                KeyPair::generate()
                    .unwrap()
                    .sign(&pae(IN_TOTO, &payload))
                    .unwrap(),
            ),
            _ => signer.sign(&pae(IN_TOTO, &payload)),
        };
        let kind = if case == "intoto" {
            EntryKind::Intoto
        } else {
            EntryKind::Dsse
        };
        let logged_payload = match case {
            "bundle-of-another-envelope" => statement(digest, "https://another.example"),
            _ => payload.clone(),
        };
        let logged_cert = match case {
            "entry-of-another-cert" => fulcio.issue(&Leaf::email(EMAIL, GITHUB_ISSUER)).cert_pem,
            _ => signer.cert_pem.clone(),
        };
        let body = entry(kind, &logged_payload, &signature, &logged_cert);
        let bundle = match case {
            "no-bundle" => None,
            "untrusted-rekor" => Some(other_rekor.bundle(&body, time)),
            _ => Some(rekor.bundle(&body, time)),
        };
        KeylessAtt {
            envelope: envelope(&payload, &signature),
            cert_pem: signer.cert_pem,
            chain_pem: issuing.chain_pem(),
            bundle,
        }
    };
    let host = registry.host();
    for (case, admits, words) in [
        ("dsse", true, ""),
        ("intoto", true, ""),
        ("other-builder", false, "the CEL expression is false"),
        (
            "other-identity",
            false,
            "none of the authority's identities allows",
        ),
        ("untrusted-fulcio", false, "its certificate is not trusted"),
        ("not-the-cert-key", false, "made with its certificate's key"),
        (
            "bundle-of-another-envelope",
            false,
            "records another DSSE payload",
        ),
        (
            "entry-of-another-cert",
            false,
            "records another signature or certificate",
        ),
        ("no-bundle", false, "carries no Rekor bundle"),
        ("untrusted-rekor", false, "whose key is not trusted"),
    ] {
        let repo = format!("kl/{case}");
        let digest = push_image(&registry, &format!("{repo}:v1"), &repo).await;
        let att = make(case, &digest);
        let mut annotations = vec![
            (CERTIFICATE_ANNOTATION, att.cert_pem.as_str()),
            (CHAIN_ANNOTATION, att.chain_pem.as_str()),
        ];
        if let Some(bundle) = &att.bundle {
            annotations.push((BUNDLE_ANNOTATION, bundle.as_str()));
        }
        push_attestation_layer(
            &registry,
            (&repo, &digest),
            att.envelope,
            SLSA1,
            &annotations,
        )
        .await;
        let (admitted, message) = webhook
            .review_image(&format!("{host}/{repo}@{digest}"))
            .await;
        assert_eq!(admitted, admits, "{case}: {message}");
        assert!(message.contains(words), "{case}: {message}");
    }
    webhook.shutdown().await;
}

/// A key authority with `ctlog`: its `.att` envelopes must carry a Rekor bundle of a trusted log
/// whose entry records the trusted key's signature over this payload.
#[tokio::test(flavor = "multi_thread")]
async fn key_att_envelopes_with_ctlog_require_the_rekor_entry_of_the_signature() {
    let registry = TestRegistry::start();
    let (fulcio, rekor, other_rekor) = (TestFulcio::new(), TestRekor::new(), TestRekor::new());
    let key = TestKey::generate();
    let other = TestKey::generate();
    let glob = format!("{}/**", registry.host());
    let data: String = key
        .public_pem
        .lines()
        .map(|l| format!("        {l}\n"))
        .collect();
    let policy = format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: logged\n\
         spec:\n  images:\n  - glob: \"{glob}\"\n  authorities:\n  - name: builder\n    key:\n      data: |\n{data}\
         \x20   ctlog:\n      trustRootRef: test-sigstore\n{}",
        attestations_entry()
    );
    let mut options = WebhookOptions::new(policy, &[registry.host()]);
    options.trust_roots = vec![(
        "trust-root.yaml".into(),
        trust_root_yaml("test-sigstore", &fulcio, &rekor),
    )];
    let webhook = TestWebhook::start(options).await;
    let time = SIGNED_AT + 60;
    let host = registry.host();
    for (case, admits, words) in [
        ("dsse", true, ""),
        ("intoto", true, ""),
        ("no-bundle", false, "carries no Rekor bundle"),
        ("untrusted-rekor", false, "whose key is not trusted"),
        (
            "entry-of-another-key",
            false,
            "records another signature or key",
        ),
        (
            "bundle-of-another-envelope",
            false,
            "records another DSSE payload",
        ),
        (
            "signed-by-another-key",
            false,
            "verifies with the 1 trusted key",
        ),
    ] {
        let repo = format!("key/{case}");
        let digest = push_image(&registry, &format!("{repo}:v1"), &repo).await;
        let payload = statement(&digest, BUILDER);
        let signing = if case == "signed-by-another-key" {
            &other
        } else {
            &key
        };
        let signature = sign(signing, &pae(IN_TOTO, &payload));
        let kind = if case == "intoto" {
            EntryKind::Intoto
        } else {
            EntryKind::Dsse
        };
        let logged_key = if case == "entry-of-another-key" {
            &other
        } else {
            signing
        };
        let logged_payload = match case {
            "bundle-of-another-envelope" => statement(&digest, "https://another.example"),
            _ => payload.clone(),
        };
        let body = entry(kind, &logged_payload, &signature, &logged_key.public_pem);
        let bundle = match case {
            "no-bundle" => None,
            "untrusted-rekor" => Some(other_rekor.bundle(&body, time)),
            _ => Some(rekor.bundle(&body, time)),
        };
        let annotations: Vec<(&str, &str)> = bundle
            .iter()
            .map(|b| (BUNDLE_ANNOTATION, b.as_str()))
            .collect();
        let envelope = envelope(&payload, &signature);
        push_attestation_layer(&registry, (&repo, &digest), envelope, SLSA1, &annotations).await;
        let (admitted, message) = webhook
            .review_image(&format!("{host}/{repo}@{digest}"))
            .await;
        assert_eq!(admitted, admits, "{case}: {message}");
        assert!(message.contains(words), "{case}: {message}");
    }
    webhook.shutdown().await;
}
