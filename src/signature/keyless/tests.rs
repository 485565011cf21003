//! Identity matching, and the whole keyless check over containers/image's real public-good
//! signature (`dir-img-cosign-fulcio-rekor-valid`: mitr@redhat.com, GitHub OAuth issuer).
//! Forgeries that need a private Fulcio and Rekor are in `tests/it/webhook_keyless.rs`.

use super::*;
use crate::signature::check_keyless_authority;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::policy::{IdentityRule, KeylessTrust, Matcher};
use crate::reference::{Digest, ImageReference};

const FIXTURES: &str = "../shared/fixtures/third_party/containers-image/signature/fixtures";
const IMAGE: &str = "192.168.64.2:5000/cosign-signed/fulcio-rekor-1";
const DIGEST: &str = "sha256:0489474da8ea22426ece86ace6c1c0026ab2fd3cdfbbd62b7e94650266c37d9a";
const OAUTH: &str = "https://github.com/login/oauth";

fn found(issuer: Option<&str>, emails: &[&str], uris: &[&str]) -> FulcioIdentity {
    FulcioIdentity {
        issuer: issuer.map(str::to_string),
        emails: emails.iter().map(|s| s.to_string()).collect(),
        uris: uris.iter().map(|s| s.to_string()).collect(),
        extensions: BTreeMap::new(),
    }
}

fn regex(issuer: &str, subject: &str) -> CertificateIdentity {
    CertificateIdentity {
        issuer: Matcher::regex(issuer).unwrap(),
        subject: Matcher::regex(subject).unwrap(),
    }
}

fn exact(issuer: &str, subject: &str) -> CertificateIdentity {
    CertificateIdentity {
        issuer: Matcher::Exact(issuer.into()),
        subject: Matcher::Exact(subject.into()),
    }
}

#[test]
fn regular_expressions_match_the_whole_subject_only() {
    let id = regex(
        r"https://token\.actions\.githubusercontent\.com",
        r"https://github\.com/org/repo/.*",
    );
    let issuer = Some("https://token.actions.githubusercontent.com");
    let ok = found(
        issuer,
        &[],
        &["https://github.com/org/repo/.github/workflows/r.yml@v1"],
    );
    assert!(identity_allowed(&id, &ok));
    for evil in [
        "https://github.com/org/repo-evil/.github/workflows/r.yml@v1",
        "https://evil.example/?https://github.com/org/repo/x",
    ] {
        assert!(
            !identity_allowed(&id, &found(issuer, &[], &[evil])),
            "{evil}"
        );
    }
    let prefixed = found(
        Some("x https://token.actions.githubusercontent.com"),
        &[],
        &["https://github.com/org/repo/a"],
    );
    assert!(!identity_allowed(&id, &prefixed));
}

#[test]
fn issuer_and_subject_must_both_match_and_any_san_may_be_the_subject() {
    let id = exact(OAUTH, "mitr@redhat.com");
    assert!(identity_allowed(
        &id,
        &found(Some(OAUTH), &["a@b", "mitr@redhat.com"], &[])
    ));
    assert!(!identity_allowed(
        &id,
        &found(
            Some("https://accounts.google.com"),
            &["mitr@redhat.com"],
            &[]
        )
    ));
    assert!(!identity_allowed(
        &id,
        &found(Some(OAUTH), &["MITR@redhat.com"], &[])
    ));
    assert!(!identity_allowed(
        &id,
        &found(None, &["mitr@redhat.com"], &[])
    ));
    assert!(!identity_allowed(&id, &found(Some(OAUTH), &[], &[])));
}

#[test]
fn a_certificate_without_issuer_matches_only_a_pattern_that_accepts_none() {
    let anything = regex(".*", "flavio@castelli.me");
    assert!(identity_allowed(
        &anything,
        &found(None, &["flavio@castelli.me"], &[])
    ));
    let some = regex(".+", "flavio@castelli.me");
    assert!(!identity_allowed(
        &some,
        &found(None, &["flavio@castelli.me"], &[])
    ));
}

fn layer() -> SignatureLayer {
    let blob = std::fs::read(format!(
        "{FIXTURES}/dir-img-cosign-fulcio-rekor-valid/signature-1"
    ))
    .unwrap();
    let doc: serde_json::Value =
        serde_json::from_slice(blob.strip_prefix(b"\x00sigstore-json\n").unwrap()).unwrap();
    SignatureLayer {
        payload: BASE64.decode(doc["payload"].as_str().unwrap()).unwrap(),
        annotations: serde_json::from_value(doc["annotations"].clone()).unwrap(),
    }
}

fn authority(identity: CertificateIdentity) -> KeylessAuthority {
    let ca = std::fs::read(format!("{FIXTURES}/fulcio_v1.crt.pem")).unwrap();
    let rekor = std::fs::read(format!("{FIXTURES}/rekor.pub")).unwrap();
    KeylessAuthority {
        identities: vec![identity],
        trust: Arc::new(KeylessTrust::from_pem("fulcio_v1", &ca, &[&rekor]).unwrap()),
        identity: IdentityRule::MatchRepository,
        threshold: 1,
    }
}

fn check(authority: &KeylessAuthority, layer: SignatureLayer) -> Result<Acceptance, Mismatch> {
    let image = ImageReference::parse(IMAGE).unwrap();
    let digest = Digest::parse(DIGEST).unwrap();
    check_keyless_authority(
        authority,
        Subject {
            image: &image,
            digest: &digest,
        },
        &[layer],
    )
}

#[test]
fn public_good_keyless_signature_is_accepted_with_its_identity_and_log_entry() {
    let accepted = check(&authority(exact(OAUTH, "mitr@redhat.com")), layer()).unwrap();
    let signer = accepted.certificate.unwrap();
    assert_eq!(signer.identity.emails, ["mitr@redhat.com"]);
    assert_eq!(
        (signer.log_index, signer.integrated_time),
        (11_605_770, 1_674_247_893)
    );
    assert!(accepted.key_fingerprint.starts_with("sha256:"));
}

#[test]
fn another_identity_is_named_with_what_was_found() {
    let err = check(
        &authority(exact(OAUTH, "this-does-not-match@example.com")),
        layer(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        Mismatch::IdentityNotAllowed {
            required: vec![format!(
                r#"issuer "{OAUTH}" subject "this-does-not-match@example.com""#
            )],
            found: vec![format!(r#"issuer "{OAUTH}" subject "mitr@redhat.com""#)],
        }
    );
}

#[test]
fn each_missing_or_broken_part_has_its_own_reason() {
    let auth = authority(exact(OAUTH, "mitr@redhat.com"));
    let without = |name: &str| {
        let mut l = layer();
        l.annotations.remove(name);
        check(&auth, l).unwrap_err()
    };
    assert_eq!(without(BUNDLE_ANNOTATION), Mismatch::TransparencyLogMissing);
    assert!(matches!(
        without(CERTIFICATE_ANNOTATION),
        Mismatch::CertificateInvalid { .. }
    ));
    assert!(matches!(
        without(CHAIN_ANNOTATION),
        Mismatch::CertificateUntrusted { .. }
    ));
    assert_eq!(without(SIGNATURE_ANNOTATION), Mismatch::NoSignature);
    let mut other_payload = layer();
    other_payload.payload.push(b' ');
    assert!(matches!(
        check(&auth, other_payload).unwrap_err(),
        Mismatch::TransparencyLogInvalid { detail } if detail.contains("another payload")
    ));
}

#[test]
fn trusting_the_chain_itself_admits_without_the_chain_annotation() {
    let chain = layer().annotations[CHAIN_ANNOTATION].clone();
    let rekor = std::fs::read(format!("{FIXTURES}/rekor.pub")).unwrap();
    let mut auth = authority(exact(OAUTH, "mitr@redhat.com"));
    auth.trust = Arc::new(KeylessTrust::from_pem("chain", chain.as_bytes(), &[&rekor]).unwrap());
    let mut l = layer();
    l.annotations.remove(CHAIN_ANNOTATION);
    assert!(check(&auth, l).is_ok());
}

#[test]
fn the_payload_rules_apply_as_for_keys() {
    let auth = authority(exact(OAUTH, "mitr@redhat.com"));
    let image = ImageReference::parse("192.168.64.2:5000/cosign-signed/other").unwrap();
    let digest = Digest::parse(DIGEST).unwrap();
    let subject = Subject {
        image: &image,
        digest: &digest,
    };
    let err = check_keyless_authority(&auth, subject, &[layer()]).unwrap_err();
    assert!(matches!(err, Mismatch::IdentityMismatch { .. }), "{err}");
    assert_eq!(
        check_keyless_authority(&auth, subject, &[]).unwrap_err(),
        Mismatch::NoSignature
    );
}
