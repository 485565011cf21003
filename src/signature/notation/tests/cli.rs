//! Envelopes made by the real Notation CLI (v1.3.2) for an image in a local registry: a
//! `notation cert generate-test` certificate (RSA, PS256) and a P-384 CA-issued leaf (ES384),
//! each as JWS and COSE. Fixtures and how they were made: tests/fixtures/notation/PROVENANCE.

use std::path::PathBuf;

use super::super::*;
use super::{assert_fails, at, failed, subject};

const IMAGE_DIGEST: &str =
    "sha256:332382e662660c9947840cc733cc1a2976ca7eaa3bc36e831d8b1688835b7bad";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// 2026-12-05T14:00:00Z: 40 minutes after signing, while the test certificate (one day) is valid.
const NOW: i64 = 1_796_479_200;
const DAY: i64 = 86_400;

fn fixture(path: &str) -> Vec<u8> {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/notation/notation-cli")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn pem(path: &str) -> Vec<Vec<u8>> {
    rustls_pemfile::certs(&mut fixture(path).as_slice())
        .map(|c| c.unwrap().to_vec())
        .collect()
}

fn target() -> NotationTarget<'static> {
    NotationTarget {
        digest: IMAGE_DIGEST,
        media_type: Some(DOCKER_MANIFEST),
        size: Some(423),
    }
}

fn envelopes() -> [(&'static str, &'static str, &'static str); 4] {
    [
        ("test-cert/signature.jws", JWS_MEDIA_TYPE, "PS256"),
        ("test-cert/signature.cose", COSE_MEDIA_TYPE, "PS256"),
        ("chain/signature.jws", JWS_MEDIA_TYPE, "ES384"),
        ("chain/signature.cose", COSE_MEDIA_TYPE, "ES384"),
    ]
}

/// Both trust stores of trustpolicy.json (`ca:signet.test`, `ca:signet.chain`).
fn both_stores() -> NotationAnchors {
    let mut ca = pem("test-cert/signet.test.crt");
    ca.extend(pem("chain/root.crt"));
    NotationAnchors {
        ca,
        ..NotationAnchors::default()
    }
}

fn verify(
    path: &str,
    media_type: &str,
    target: &NotationTarget,
    anchors: &NotationAnchors,
    identities: &[TrustedIdentity],
    now: i64,
) -> NotationChecks {
    verify_notation_envelope(
        media_type,
        &fixture(path),
        target,
        anchors,
        identities,
        at(now),
    )
    .unwrap()
}

#[test]
fn the_image_manifest_is_the_signed_target() {
    use sha2::Digest as _;
    let manifest = fixture("image-manifest.json");
    assert_eq!(manifest.len(), 423);
    assert_eq!(
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(&manifest))),
        IMAGE_DIGEST
    );
}

/// `notation verify` verified these (strict, trustedIdentities "*"); so does Signet, each.
#[test]
fn notation_cli_signatures_pass_every_check() {
    for (path, media_type, algorithm) in envelopes() {
        let checks = verify(
            path,
            media_type,
            &target(),
            &both_stores(),
            &[TrustedIdentity::Any],
            NOW,
        );
        assert_eq!(checks.integrity, CheckOutcome::Passed, "{path}");
        assert_eq!(checks.authenticity, CheckOutcome::Passed, "{path}");
        assert_eq!(checks.authentic_timestamp, CheckOutcome::Passed, "{path}");
        assert_eq!(checks.expiry, CheckOutcome::Passed, "{path}");
        assert_eq!(checks.algorithm, algorithm, "{path}");
        assert_eq!(checks.signing_scheme, "notary.x509");
        assert!(matches!(checks.revocation, CheckOutcome::NotChecked(_)));
    }
}

/// With `ca:signet.chain` only, `notation verify` refused the test-certificate signatures
/// ("the signature's certificate chain does not contain any trusted certificate").
#[test]
fn notation_cli_signatures_fail_authenticity_under_another_trust_store() {
    let chain_only = NotationAnchors {
        ca: pem("chain/root.crt"),
        ..NotationAnchors::default()
    };
    for (path, media_type, _) in envelopes() {
        let checks = verify(
            path,
            media_type,
            &target(),
            &chain_only,
            &[TrustedIdentity::Any],
            NOW,
        );
        match path.starts_with("test-cert") {
            true => assert_fails(&checks.authenticity, "does not lead"),
            false => assert_eq!(checks.authenticity, CheckOutcome::Passed, "{path}"),
        }
    }
}

#[test]
fn notation_cli_signatures_are_not_for_another_image() {
    let other = NotationTarget {
        digest: "sha256:ce0de571a52f14f34e5c40ae4e174e50773d479e1c6d9ebf9285425529da6ff5",
        ..target()
    };
    for (path, media_type, _) in envelopes() {
        let checks = verify(
            path,
            media_type,
            &other,
            &both_stores(),
            &[TrustedIdentity::Any],
            NOW,
        );
        assert!(
            failed(&checks.integrity).contains("the signature is for"),
            "{path}"
        );
    }
}

/// The test certificate is valid one day; without a tsa store the check fails after it.
/// The COSE chain signature was made with `--expiry 24h`.
#[test]
fn notation_cli_signatures_age_expiry_and_certificate_validity() {
    for (path, media_type, _) in envelopes() {
        let checks = verify(
            path,
            media_type,
            &target(),
            &both_stores(),
            &[TrustedIdentity::Any],
            NOW + 2 * DAY,
        );
        match path {
            "chain/signature.cose" => assert_fails(&checks.expiry, "expired"),
            _ => assert_eq!(checks.expiry, CheckOutcome::Passed, "{path}"),
        }
        match path.starts_with("test-cert") {
            true => assert_fails(
                &checks.authentic_timestamp,
                "not valid at verification time",
            ),
            false => assert_eq!(checks.authentic_timestamp, CheckOutcome::Passed, "{path}"),
        }
    }
}

/// `x509.subject` identities against "C=US, ST=WA, L=Seattle, O=Notary, CN=signet.test" and
/// "C=US, ST=WA, O=Signet Test, CN=Signet Release Signer".
#[test]
fn notation_cli_signers_match_their_subjects_only() {
    let notary = subject(&[
        ("C", "US"),
        ("ST", "WA"),
        ("O", "Notary"),
        ("CN", "signet.test"),
    ]);
    let signet = subject(&[("C", "US"), ("ST", "WA"), ("O", "Signet Test")]);
    for (path, media_type, _) in envelopes() {
        let is_test_cert = path.starts_with("test-cert");
        let own = if is_test_cert { &notary } else { &signet };
        let other = if is_test_cert { &signet } else { &notary };
        let ok = verify(
            path,
            media_type,
            &target(),
            &both_stores(),
            std::slice::from_ref(own),
            NOW,
        );
        assert_eq!(ok.authenticity, CheckOutcome::Passed, "{path}");
        let denied = verify(
            path,
            media_type,
            &target(),
            &both_stores(),
            std::slice::from_ref(other),
            NOW,
        );
        assert!(
            failed(&denied.authenticity).contains("matches none"),
            "{path}"
        );
    }
}
