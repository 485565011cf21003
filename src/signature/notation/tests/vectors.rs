//! The Notary Project's test vectors, with the verdicts their own Go tests expect (the Go test
//! is named on each test). Fixtures: tests/fixtures/notation/{notation-go,notation-core-go}.

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::super::*;
use super::{assert_fails, at, failed, subject};

/// mock.SampleDigest / mock.ImageDescriptor of notation-go's internal/mock.
const SAMPLE_DIGEST: &str =
    "sha256:60043cf45eaebc4c0867fea485a039b598f52fd09fd5b07b0b2d2f88fad9d74e";
/// The descriptor the timestamp vectors sign.
const TIMESTAMP_DIGEST: &str =
    "sha256:c0669ef34cdc14332c0f1ab0c2c01acb91d96014b172f1a76f3a39e63d1f0bda";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// 2025-06-01, when notation-go's tests last ran against these vectors with `time.Now()`.
const NOW: i64 = 1_748_736_000;

fn fixture(path: &str) -> Vec<u8> {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/notation")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// Every certificate (PEM or DER) of a trust store directory of notation-go's testdata.
fn store(dir: &str) -> Vec<Vec<u8>> {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/notation/notation-go/verifier/testdata/truststore/x509")
        .join(dir);
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&full)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let bytes = std::fs::read(&path).unwrap();
        let pem: Vec<Vec<u8>> = rustls_pemfile::certs(&mut bytes.as_slice())
            .filter_map(Result::ok)
            .map(|c| c.to_vec())
            .collect();
        match pem.is_empty() {
            true => out.push(bytes),
            false => out.extend(pem),
        }
    }
    out
}

fn mock(name: &str) -> Vec<u8> {
    fixture(&format!("notation-go/internal/mock/testdata/{name}"))
}

fn sig_env(name: &str) -> Vec<u8> {
    fixture(&format!(
        "notation-go/verifier/testdata/timestamp/sigEnv/{name}"
    ))
}

fn mock_target() -> NotationTarget<'static> {
    NotationTarget {
        digest: SAMPLE_DIGEST,
        media_type: Some(DOCKER_MANIFEST),
        size: Some(528),
    }
}

fn timestamp_target() -> NotationTarget<'static> {
    NotationTarget {
        digest: TIMESTAMP_DIGEST,
        media_type: Some(DOCKER_MANIFEST),
        size: Some(528),
    }
}

/// `TestAuthenticTimestamp`'s trust policy: `ca:valid-trust-store`, `tsa:test-timestamp`.
fn timestamp_anchors() -> NotationAnchors {
    NotationAnchors {
        ca: store("ca/valid-trust-store"),
        tsa: store("tsa/test-timestamp"),
        ..NotationAnchors::default()
    }
}

/// `dummyOCIPolicyDocument`: `ca:valid-trust-store`, `signingAuthority:valid-trust-store`.
fn mock_anchors() -> NotationAnchors {
    NotationAnchors {
        ca: store("ca/valid-trust-store"),
        signing_authority: store("signingAuthority/valid-trust-store"),
        ..NotationAnchors::default()
    }
}

/// Verify at NOW, trusting any identity.
fn attempt(
    media_type: &str,
    envelope: &[u8],
    target: &NotationTarget,
    anchors: &NotationAnchors,
) -> Result<NotationChecks, NotationEnvelopeError> {
    let any = [TrustedIdentity::Any];
    verify_notation_envelope(media_type, envelope, target, anchors, &any, at(NOW))
}

fn verify(
    media_type: &str,
    envelope: &[u8],
    target: &NotationTarget,
    anchors: &NotationAnchors,
    identities: &[TrustedIdentity],
) -> NotationChecks {
    verify_notation_envelope(media_type, envelope, target, anchors, identities, at(NOW)).unwrap()
}

/// TestNotationVerificationCombinations: integrity, authenticity and expiry succeed for the
/// valid envelopes of both signing schemes.
#[test]
fn notation_go_mock_valid_envelopes_pass_integrity_authenticity_expiry() {
    for (name, scheme) in [
        ("ca_valid_sig_env.json", "notary.x509"),
        ("sa_valid_sig_env.json", "notary.x509.signingAuthority"),
    ] {
        let checks = verify(
            JWS_MEDIA_TYPE,
            &mock(name),
            &mock_target(),
            &mock_anchors(),
            &[TrustedIdentity::Any],
        );
        assert_eq!(checks.integrity, CheckOutcome::Passed, "{name}");
        assert_eq!(checks.authenticity, CheckOutcome::Passed, "{name}");
        assert_eq!(checks.expiry, CheckOutcome::Passed, "{name}");
        assert_eq!(checks.signing_scheme, scheme);
        assert_eq!(checks.algorithm, "PS384");
        // notation-go's comment names "Notation Test Leaf Cert"; the certificate says otherwise.
        assert!(
            checks.signer_subject.contains("CN=Notation Test Root"),
            "{}",
            checks.signer_subject
        );
        assert!(matches!(checks.revocation, CheckOutcome::NotChecked(_)));
    }
}

/// TestNotationVerificationCombinations "Authenticity Failure": trust stores
/// `valid-trust-store-2` do not hold the signature's root.
#[test]
fn notation_go_mock_authenticity_fails_with_another_trust_store() {
    let anchors = NotationAnchors {
        ca: store("ca/valid-trust-store-2"),
        signing_authority: store("ca/valid-trust-store-2"),
        ..NotationAnchors::default()
    };
    for name in ["ca_valid_sig_env.json", "sa_valid_sig_env.json"] {
        let checks = verify(
            JWS_MEDIA_TYPE,
            &mock(name),
            &mock_target(),
            &anchors,
            &[TrustedIdentity::Any],
        );
        assert_eq!(checks.integrity, CheckOutcome::Passed);
        assert!(failed(&checks.authenticity).contains("does not lead to a certificate"));
    }
}

/// TestNotationVerificationCombinations "TrustedIdentity Failure": the signing certificate is
/// "CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US" (not a root: its key is not its
/// signer's), the policy trusts another; and its own subject is trusted.
#[test]
fn notation_go_mock_trusted_identities() {
    let other = subject(&[
        ("CN", "LOL"),
        ("O", "DummyOrg"),
        ("L", "Hyderabad"),
        ("ST", "TG"),
        ("C", "IN"),
    ]);
    let own = subject(&[("C", "US"), ("ST", "WA"), ("O", "Notary")]);
    for name in ["ca_valid_sig_env.json", "sa_valid_sig_env.json"] {
        let envelope = mock(name);
        let denied = verify(
            JWS_MEDIA_TYPE,
            &envelope,
            &mock_target(),
            &mock_anchors(),
            std::slice::from_ref(&other),
        );
        assert!(failed(&denied.authenticity).contains("matches none"));
        let admitted = verify(
            JWS_MEDIA_TYPE,
            &envelope,
            &mock_target(),
            &mock_anchors(),
            &[other.clone(), own.clone()],
        );
        assert_eq!(admitted.authenticity, CheckOutcome::Passed);
        let none = verify(
            JWS_MEDIA_TYPE,
            &envelope,
            &mock_target(),
            &mock_anchors(),
            &[],
        );
        assert!(matches!(none.authenticity, CheckOutcome::Failed(_)));
    }
}

/// TestNotationVerificationCombinations "Expiry Failure": expired on 2022-07-29T23:59:00Z.
#[test]
fn notation_go_mock_expired_envelopes_fail_expiry() {
    for name in ["ca_expired_sig_env.json", "sa_expired_sig_env.json"] {
        let checks = verify(
            JWS_MEDIA_TYPE,
            &mock(name),
            &mock_target(),
            &mock_anchors(),
            &[TrustedIdentity::Any],
        );
        assert_eq!(checks.integrity, CheckOutcome::Passed);
        assert!(
            failed(&checks.expiry).contains("2022-07-29T23:59:00Z"),
            "{:?}",
            checks.expiry
        );
    }
}

/// TestNotationVerificationCombinations "Integrity Failure": "illegal base64 data at input
/// byte 242"; and "Unsupported Signature Envelope".
#[test]
fn notation_go_mock_invalid_envelopes_and_unknown_media_type_are_refused() {
    for name in ["ca_invalid_sig_env.json", "sa_invalid_sig_env.json"] {
        let result = attempt(JWS_MEDIA_TYPE, &mock(name), &mock_target(), &mock_anchors());
        assert!(
            matches!(result, Err(NotationEnvelopeError::Malformed(_))),
            "{name}: {result:?}"
        );
    }
    let result = attempt(
        "application/unsupported+json",
        &mock("ca_valid_sig_env.json"),
        &mock_target(),
        &mock_anchors(),
    );
    assert!(matches!(result, Err(NotationEnvelopeError::Unsupported(_))));
}

/// The signed descriptor must be the artifact's (notation-go `Verify`: "integrity check
/// failed. signature does not match the given artifact").
#[test]
fn notation_go_mock_envelope_for_another_artifact_fails_integrity() {
    let envelope = mock("ca_valid_sig_env.json");
    let anchors = mock_anchors();
    let any = [TrustedIdentity::Any];
    for target in [
        NotationTarget {
            digest: "sha256:0000000000000000000000000000000000000000000000000000000000000000",
            ..mock_target()
        },
        NotationTarget {
            size: Some(529),
            ..mock_target()
        },
        NotationTarget {
            media_type: Some("application/vnd.oci.image.manifest.v1+json"),
            ..mock_target()
        },
    ] {
        let checks = verify(JWS_MEDIA_TYPE, &envelope, &target, &anchors, &any);
        assert!(failed(&checks.integrity).contains("the signature is for"));
        assert!(matches!(checks.authenticity, CheckOutcome::NotChecked(_)));
    }
    // Size and media type are compared only when known.
    let digest_only = NotationTarget {
        digest: SAMPLE_DIGEST,
        media_type: None,
        size: None,
    };
    assert_eq!(
        verify(JWS_MEDIA_TYPE, &envelope, &digest_only, &anchors, &any).integrity,
        CheckOutcome::Passed
    );
}

/// A timestamp vector's checks under `anchors` (any identity trusted).
fn stamped(media_type: &str, name: &str, anchors: &NotationAnchors) -> NotationChecks {
    stamped_bytes(media_type, &sig_env(name), anchors)
}

fn stamped_bytes(media_type: &str, envelope: &[u8], anchors: &NotationAnchors) -> NotationChecks {
    verify(
        media_type,
        envelope,
        &timestamp_target(),
        anchors,
        &[TrustedIdentity::Any],
    )
}

/// TestAuthenticTimestamp "verify Authentic Timestamp with jws format", "... with cose
/// format", "... jws with expired codeSigning cert", "... cose with expired codeSigning cert"
/// and "... with afterCertExpiry set": the GlobalSign timestamps verify against
/// tsa:test-timestamp.
#[test]
fn notation_go_timestamps_verify() {
    let after_expiry = NotationAnchors {
        verify_timestamp: VerifyTimestamp::AfterCertExpiry,
        ..timestamp_anchors()
    };
    for (media_type, name, anchors) in [
        (JWS_MEDIA_TYPE, "jwsWithTimestamp.sig", timestamp_anchors()),
        (
            JWS_MEDIA_TYPE,
            "jwsExpiredWithTimestamp.sig",
            timestamp_anchors(),
        ),
        (
            COSE_MEDIA_TYPE,
            "coseWithTimestamp.sig",
            timestamp_anchors(),
        ),
        (
            COSE_MEDIA_TYPE,
            "coseExpiredWithTimestamp.sig",
            timestamp_anchors(),
        ),
        (COSE_MEDIA_TYPE, "coseWithTimestamp.sig", after_expiry),
    ] {
        let checks = stamped(media_type, name, &anchors);
        assert_eq!(checks.integrity, CheckOutcome::Passed, "{name}");
        assert_eq!(checks.authentic_timestamp, CheckOutcome::Passed, "{name}");
    }
    let checks = stamped(JWS_MEDIA_TYPE, "jwsWithTimestamp.sig", &timestamp_anchors());
    assert!(checks.timestamp_time.is_some());
    assert_eq!(checks.authenticity, CheckOutcome::Passed);
}

/// TestAuthenticTimestamp, the failures: "missing timestamp countersignature"; "tsa not trust"
/// (tsa:test-mismatch holds DigiCert's root, the timestamp is GlobalSign's); "timestamp before
/// signing cert not before" (JWS); "timestamp after signing cert not after" (COSE); "missing
/// tsa in trust policy and expired codeSigning cert" (COSE, and the JWS counterpart).
#[test]
fn notation_go_timestamp_failures() {
    let mismatch = NotationAnchors {
        tsa: store("tsa/test-mismatch"),
        ..timestamp_anchors()
    };
    let no_tsa = NotationAnchors {
        tsa: Vec::new(),
        ..timestamp_anchors()
    };
    let cases = [
        (
            JWS_MEDIA_TYPE,
            "withoutTimestamp.sig",
            timestamp_anchors(),
            "no timestamp countersignature",
        ),
        (
            JWS_MEDIA_TYPE,
            "jwsWithTimestamp.sig",
            mismatch,
            "does not verify",
        ),
        (
            JWS_MEDIA_TYPE,
            "timestampBeforeNotBefore.sig",
            timestamp_anchors(),
            "outside the validity",
        ),
        (
            COSE_MEDIA_TYPE,
            "timestampAfterNotAfter.sig",
            timestamp_anchors(),
            "outside the validity",
        ),
        (
            COSE_MEDIA_TYPE,
            "coseExpiredWithTimestamp.sig",
            no_tsa.clone(),
            "not valid at verification time",
        ),
        (
            JWS_MEDIA_TYPE,
            "jwsExpiredWithTimestamp.sig",
            no_tsa,
            "not valid at verification time",
        ),
    ];
    for (media_type, name, anchors, words) in cases {
        let checks = stamped(media_type, name, &anchors);
        assert_eq!(checks.integrity, CheckOutcome::Passed, "{name}");
        assert_fails(&checks.authentic_timestamp, words);
    }
}

/// TestAuthenticTimestamp "afterCertExpiry": with `afterCertExpiry` no timestamp is needed
/// while the certificate of withoutTimestamp.sig is valid, and one is required once it expired.
#[test]
fn notation_go_after_cert_expiry_verifies_the_timestamp_only_after_expiry() {
    let anchors = NotationAnchors {
        verify_timestamp: VerifyTimestamp::AfterCertExpiry,
        ..timestamp_anchors()
    };
    let envelope = sig_env("withoutTimestamp.sig");
    let leaf = signing_certificate(&envelope);
    let (not_before, not_after) = crate::signature::certificate::validity(&leaf).unwrap();
    let at_time = |now: i64| {
        verify_notation_envelope(
            JWS_MEDIA_TYPE,
            &envelope,
            &timestamp_target(),
            &anchors,
            &[TrustedIdentity::Any],
            at(now),
        )
        .unwrap()
    };
    assert_eq!(
        at_time(not_before + 60).authentic_timestamp,
        CheckOutcome::Passed
    );
    assert_fails(
        &at_time(not_after + 60).authentic_timestamp,
        "no timestamp countersignature",
    );
}

/// TestAuthenticTimestamp, the countersignature cases: each token of
/// verifier/testdata/timestamp/countersignature placed in withoutTimestamp.sig's (unsigned)
/// header fails the check: invalid content type, invalid TSTInfo, a token over other
/// signature bytes ("mismatched message"), a token without its certificate.
#[test]
fn notation_go_countersignature_tokens_that_do_not_verify_fail() {
    for token in [
        "TimeStampTokenWithInvalideContentType.p7s",
        "TimeStampTokenWithInvalidTSTInfo.p7s",
        "TimeStampToken.p7s",
        "TimeStampTokenWithoutCertificate.p7s",
    ] {
        let der = fixture(&format!(
            "notation-go/verifier/testdata/timestamp/countersignature/{token}"
        ));
        let envelope = with_timestamp(&sig_env("withoutTimestamp.sig"), &der);
        let checks = stamped_bytes(JWS_MEDIA_TYPE, &envelope, &timestamp_anchors());
        assert_eq!(checks.integrity, CheckOutcome::Passed, "{token}");
        assert_fails(&checks.authentic_timestamp, "does not verify");
    }
}

/// notation-core-go TestVerifyConformance (JWS): the conformance envelope's signed attributes
/// decode as the test expects; its critical extended attribute `signedCritKey1` is one Signet
/// does not understand, so the envelope fails integrity (the specification: unknown critical
/// attributes MUST fail verification).
#[test]
fn notation_core_go_jws_conformance_attributes() {
    let envelope = jws::parse(&fixture(
        "notation-core-go/signature/jws/testdata/conformance.json",
    ))
    .unwrap();
    assert_eq!(envelope.scheme, envelope::Scheme::X509);
    assert_eq!(envelope.algorithm, envelope::Algorithm::Es256);
    assert_eq!(envelope.signing_time, Some(1_661_781_000)); // 2022-08-29 13:50:00 UTC
    assert_eq!(envelope.expiry, Some(4_091_781_000)); // 2099-08-30 13:50:00 UTC
    assert_eq!(envelope.payload, br#"{"key":"hello JWS"}"#);
    assert!(envelope.chain.is_empty());
    let problem = envelope.attribute_problem().unwrap();
    assert!(problem.contains("signedCritKey1"), "{problem}");
}

/// The signing certificate of a JWS envelope.
fn signing_certificate(envelope: &[u8]) -> Vec<u8> {
    let value: serde_json::Value = serde_json::from_slice(envelope).unwrap();
    STANDARD
        .decode(value["header"]["x5c"][0].as_str().unwrap())
        .unwrap()
}

/// A JWS envelope with `token` as its timestamp countersignature (an unsigned header).
fn with_timestamp(envelope: &[u8], token: &[u8]) -> Vec<u8> {
    let mut value: serde_json::Value = serde_json::from_slice(envelope).unwrap();
    value["header"]["io.cncf.notary.timestampSignature"] = STANDARD.encode(token).into();
    serde_json::to_vec(&value).unwrap()
}

/// A COSE envelope read as JWS, and the other way round, is refused.
#[test]
fn notation_go_envelopes_under_the_wrong_media_type_are_malformed() {
    let cose = attempt(
        JWS_MEDIA_TYPE,
        &sig_env("coseWithTimestamp.sig"),
        &timestamp_target(),
        &timestamp_anchors(),
    );
    assert!(matches!(cose, Err(NotationEnvelopeError::Malformed(_))));
    let jws = attempt(
        COSE_MEDIA_TYPE,
        &sig_env("jwsWithTimestamp.sig"),
        &timestamp_target(),
        &timestamp_anchors(),
    );
    assert!(matches!(jws, Err(NotationEnvelopeError::Malformed(_))));
}

/// notation-core-go TestConformance (COSE, testVerify): the expected COSE_Sign1_Tagged decodes
/// to PS384, signing time 1661321924, expiry 1661408324, payload "hello COSE"; its critical
/// `signedCritKey1` is not understood, so it fails integrity.
#[test]
fn notation_core_go_cose_conformance_attributes() {
    let vector: serde_json::Value = serde_json::from_slice(&fixture(
        "notation-core-go/signature/cose/testdata/conformance.json",
    ))
    .unwrap();
    let bytes = hex::decode(vector["expectedOutput"]["cborHex"].as_str().unwrap()).unwrap();
    let envelope = cose::parse(&bytes).unwrap();
    assert_eq!(envelope.scheme, envelope::Scheme::X509);
    assert_eq!(envelope.algorithm, envelope::Algorithm::Ps384);
    assert_eq!(envelope.signing_time, vector["signingTime"].as_i64());
    assert_eq!(envelope.expiry, vector["expiry"].as_i64());
    assert_eq!(envelope.payload, b"hello COSE");
    let problem = envelope.attribute_problem().unwrap();
    assert!(problem.contains("signedCritKey1"), "{problem}");
}
