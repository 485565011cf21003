//! `rfc3161timestamp` on a key authority: a `.sig` layer signed by a trusted key carries an RFC
//! 3161 timestamp over its signature bytes in `dev.sigstore.cosign/rfc3161timestamp` (cosign's
//! JSON), made by a real CMS timestamp token from a test TSA; the trust root named by
//! `trustRootRef` lists the TSA. Judged by `signet verify` against Debian's docker-registry.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::json;

use crate::common::signet_cli::signet_verify;
use crate::common::signing::{
    SigLayer, TestKey, push_signature_layers, sign, simple_signing_payload,
};
use crate::common::tools::run;
use crate::common::tsa::{self, Stamp, TestTsa};
use crate::common::{TestRegistry, digest_ref, push_image};

const ANNOTATION: &str = "dev.sigstore.cosign/rfc3161timestamp";
const YEAR: i64 = 365 * 24 * 3600;

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A `trusted_root.json` listing `tsa` (leaf and root) as its only timestamp authority.
fn trusted_root(tsa: &TestTsa) -> String {
    let chain: Vec<_> = [&tsa.leaf_der, &tsa.root_der]
        .iter()
        .map(|der| json!({ "rawBytes": BASE64.encode(der) }))
        .collect();
    json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "timestampAuthorities": [{
            "uri": "https://tsa.test",
            "certChain": { "certificates": chain },
            "validFor": { "start": "2000-01-01T00:00:00Z" },
        }],
    })
    .to_string()
}

/// cosign's annotation value for a DER timestamp token.
fn annotation(token: &[u8]) -> String {
    json!({ "SignedRFC3161Timestamp": BASE64.encode(token) }).to_string()
}

struct Verifier {
    dir: tempfile::TempDir,
    host: String,
}

impl Verifier {
    /// `signet verify` with a key policy for `key`, `rfc3161timestamp: {trustRootRef: tsa}`
    /// when `timestamped`.
    fn admits(&self, image: &str, key: &TestKey, timestamped: bool) -> (bool, String) {
        let pem: String = key
            .public_pem
            .lines()
            .map(|l| format!("        {l}\n"))
            .collect();
        let stamp = match timestamped {
            true => "    rfc3161timestamp:\n      trustRootRef: tsa\n",
            false => "",
        };
        let policy = format!(
            "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  \
             name: tsa\nspec:\n  images:\n  - glob: \"**\"\n  authorities:\n  - key:\n      \
             data: |\n{pem}{stamp}"
        );
        let trust_root = self.dir.path().join("tsa.json");
        let extra = [
            format!("--trust-root={}", trust_root.display()),
            format!("--insecure-registry={}", self.host),
        ];
        signet_verify(&policy, image, &extra)
    }
}

#[tokio::test]
async fn a_key_signature_needs_a_timestamp_from_the_trusted_tsa_over_its_bytes() {
    let registry = TestRegistry::start();
    let host = registry.host();
    let t = now();
    let root = tsa::ca("trusted TSA root", t - YEAR, t + YEAR);
    let trusted = TestTsa::new(&root, "trusted TSA", t - YEAR, t + YEAR);
    let other_root = tsa::ca("other TSA root", t - YEAR, t + YEAR);
    let other = TestTsa::new(&other_root, "other TSA", t - YEAR, t + YEAR);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tsa.json"), trusted_root(&trusted)).unwrap();
    let verifier = Verifier {
        dir,
        host: host.clone(),
    };
    let key = TestKey::generate();

    let repo = "stamped/app";
    let image_digest = push_image(&registry, &format!("{repo}:v1"), "stamped").await;
    let image = digest_ref(&registry, repo, &image_digest);
    let payload = simple_signing_payload(&format!("{host}/{repo}"), &image_digest);
    let signature = sign(&key, &payload);
    let raw = BASE64.decode(&signature).unwrap();

    let good = annotation(&trusted.stamp(&raw, Stamp::at(t)));
    let cases: [(Option<String>, bool, &str, &str); 6] = [
        (Some(good.clone()), true, "", "stamped by the trusted TSA"),
        (
            Some(annotation(&other.stamp(&raw, Stamp::at(t)))),
            false,
            "RFC 3161 timestamp",
            "stamped by a TSA the trust root does not list",
        ),
        (
            Some(annotation(&trusted.stamp(b"other bytes", Stamp::at(t)))),
            false,
            "RFC 3161 timestamp",
            "a timestamp over other bytes",
        ),
        (None, false, "carries no RFC 3161 timestamp", "no timestamp"),
        (
            Some("{\"SignedRFC3161Timestamp\": 7}".into()),
            false,
            "not cosign's JSON",
            "a malformed annotation",
        ),
        (
            Some(annotation(b"not DER")),
            false,
            "RFC 3161 timestamp",
            "a token that is not DER",
        ),
    ];
    for (stamp, want, says, case) in cases {
        let mut layer = SigLayer::new(payload.clone(), &signature);
        if let Some(value) = &stamp {
            layer = layer.with_annotation(ANNOTATION, value);
        }
        push_signature_layers(&registry, repo, &image_digest, vec![layer]).await;
        let (admitted, text) = verifier.admits(&image, &key, true);
        assert_eq!(admitted, want, "{case}:\n{text}");
        assert!(text.contains(says), "{case}: {says:?} not in\n{text}");
    }
    // Without rfc3161timestamp the same unstamped signature is enough (the field adds a
    // requirement, it replaces none).
    let layer = SigLayer::new(payload.clone(), &signature);
    push_signature_layers(&registry, repo, &image_digest, vec![layer]).await;
    let (admitted, text) = verifier.admits(&image, &key, false);
    assert!(admitted, "without rfc3161timestamp:\n{text}");
    // A timestamp copied from another signature of the same key does not carry over.
    let other_payload = simple_signing_payload(&format!("{host}/{repo}"), "sha256:0000");
    let other_raw = BASE64.decode(sign(&key, &other_payload)).unwrap();
    let copied = annotation(&trusted.stamp(&other_raw, Stamp::at(t)));
    let layer = SigLayer::new(payload, &signature).with_annotation(ANNOTATION, &copied);
    push_signature_layers(&registry, repo, &image_digest, vec![layer]).await;
    let (admitted, text) = verifier.admits(&image, &key, true);
    assert!(!admitted, "a timestamp of another signature:\n{text}");
}

#[test]
fn rfc3161timestamp_needs_a_trust_root_with_timestamp_authorities() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("empty.json"),
        r#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}"#,
    )
    .unwrap();
    let key = TestKey::generate();
    let pem: String = key
        .public_pem
        .lines()
        .map(|l| format!("        {l}\n"))
        .collect();
    for (reference, says) in [
        ("empty", "has no timestampAuthorities"),
        ("missing", "missing"),
    ] {
        let policy = format!(
            "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  \
             name: tsa\nspec:\n  images:\n  - glob: \"**\"\n  authorities:\n  - key:\n      \
             data: |\n{pem}    rfc3161timestamp:\n      trustRootRef: {reference}\n"
        );
        let path = dir.path().join("policy.yaml");
        std::fs::write(&path, policy).unwrap();
        let output = run(Command::new(env!("CARGO_BIN_EXE_signet"))
            .args(["policy", "check", "--trust-root"])
            .arg(dir.path().join("empty.json"))
            .arg(&path));
        let text = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(!output.status.success(), "{reference}: loaded");
        assert!(text.contains("rfc3161timestamp.trustRootRef"), "{text}");
        assert!(text.contains(says), "{says:?} not in {text}");
    }
}
