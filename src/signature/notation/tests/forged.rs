//! Envelopes made here with rcgen certificates (a root CA and a code-signing leaf, ECDSA
//! P-256), then forged one way each: another digest, size or media type; a tampered signature
//! or payload; unknown or missing critical headers; an expired leaf; a chain to another root;
//! the wrong extended key usage; a CA as signer; a wrong algorithm; past expiry; identities;
//! the signing-authority scheme; and truncated, flipped, oversized and unsupported input,
//! which must be refused without a panic.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SigningKey,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::super::*;
use super::{at, failed, subject};

const T0: i64 = 1_780_000_000;
const DAY: i64 = 86_400;
const DIGEST: &str = "sha256:abababababababababababababababababababababababababababababababab";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const PAYLOAD_TYPE: &str = "application/vnd.cncf.notary.payload.v1+json";

fn time(t: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t).unwrap()
}

fn rfc3339(t: i64) -> String {
    time(t).format(&Rfc3339).unwrap()
}

fn root(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Acme");
    params.distinguished_name.push(DnType::CountryName, "US");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = time(T0 - 10 * DAY);
    params.not_after = time(T0 + 3650 * DAY);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// A signing certificate issued by `root`, and its key.
struct Signer {
    chain: Vec<Vec<u8>>,
    key: KeyPair,
}

fn signer(
    root: &CertifiedIssuer<'_, KeyPair>,
    edit: impl FnOnce(&mut CertificateParams),
) -> Signer {
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "release signer");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Acme");
    params.distinguished_name.push(DnType::CountryName, "US");
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    params.not_before = time(T0 - DAY);
    params.not_after = time(T0 + 365 * DAY);
    edit(&mut params);
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, root).unwrap();
    Signer {
        chain: vec![cert.der().to_vec(), root.der().to_vec()],
        key,
    }
}

fn protected() -> Value {
    json!({
        "alg": "ES256",
        "cty": PAYLOAD_TYPE,
        "crit": ["io.cncf.notary.signingScheme"],
        "io.cncf.notary.signingScheme": "notary.x509",
        "io.cncf.notary.signingTime": rfc3339(T0 - 60),
    })
}

fn payload(digest: &str) -> String {
    json!({"targetArtifact": {"mediaType": OCI_MANIFEST, "digest": digest, "size": 1234}})
        .to_string()
}

/// An ECDSA DER signature as JWS's fixed-size `r || s`.
fn fixed(der: &[u8], half: usize) -> Vec<u8> {
    assert_eq!(der[0], 0x30);
    let mut at = 2;
    let mut out = Vec::new();
    for _ in 0..2 {
        assert_eq!(der[at], 0x02);
        let len = usize::from(der[at + 1]);
        let int = &der[at + 2..at + 2 + len];
        let int: Vec<u8> = int.iter().copied().skip_while(|b| *b == 0).collect();
        out.extend(std::iter::repeat_n(0u8, half - int.len()));
        out.extend(int);
        at += 2 + len;
    }
    out
}

fn jws_with(signer: &Signer, protected: &Value, payload: &str, chain: &[Vec<u8>]) -> Vec<u8> {
    let protected = URL_SAFE_NO_PAD.encode(protected.to_string());
    let payload = URL_SAFE_NO_PAD.encode(payload);
    let der = signer
        .key
        .sign(format!("{protected}.{payload}").as_bytes())
        .unwrap();
    let x5c: Vec<String> = chain.iter().map(|c| STANDARD.encode(c)).collect();
    json!({
        "payload": payload,
        "protected": protected,
        "header": {"x5c": x5c, "io.cncf.notary.signingAgent": "signet-test"},
        "signature": URL_SAFE_NO_PAD.encode(fixed(&der, 32)),
    })
    .to_string()
    .into_bytes()
}

fn jws(signer: &Signer, protected: &Value, payload: &str) -> Vec<u8> {
    jws_with(signer, protected, payload, &signer.chain)
}

fn target() -> NotationTarget<'static> {
    NotationTarget {
        digest: DIGEST,
        media_type: Some(OCI_MANIFEST),
        size: Some(1234),
    }
}

fn anchors(root: &CertifiedIssuer<'_, KeyPair>) -> NotationAnchors {
    NotationAnchors {
        ca: vec![root.der().to_vec()],
        ..NotationAnchors::default()
    }
}

fn check_at(
    envelope: &[u8],
    anchors: &NotationAnchors,
    identities: &[TrustedIdentity],
    now: i64,
) -> NotationChecks {
    verify_notation_envelope(
        JWS_MEDIA_TYPE,
        envelope,
        &target(),
        anchors,
        identities,
        at(now),
    )
    .unwrap()
}

/// Verify at T0, trusting any identity.
fn attempt(
    media_type: &str,
    envelope: &[u8],
    anchors: &NotationAnchors,
) -> Result<NotationChecks, NotationEnvelopeError> {
    verify_notation_envelope(
        media_type,
        envelope,
        &target(),
        anchors,
        &[TrustedIdentity::Any],
        at(T0),
    )
}

fn check(envelope: &[u8], anchors: &NotationAnchors) -> NotationChecks {
    check_at(envelope, anchors, &[TrustedIdentity::Any], T0)
}

#[test]
fn a_well_made_jws_passes_every_check_but_revocation() {
    let root = root("root");
    let signer = signer(&root, |_| {});
    let checks = check(
        &jws(&signer, &protected(), &payload(DIGEST)),
        &anchors(&root),
    );
    assert_eq!(checks.integrity, CheckOutcome::Passed);
    assert_eq!(checks.authenticity, CheckOutcome::Passed);
    assert_eq!(checks.authentic_timestamp, CheckOutcome::Passed);
    assert_eq!(checks.expiry, CheckOutcome::Passed);
    assert_eq!(
        checks.revocation,
        CheckOutcome::NotChecked(REVOCATION_NOT_CHECKED.into())
    );
    assert_eq!(checks.signing_scheme, "notary.x509");
    assert_eq!(checks.signing_time, Some(at(T0 - 60)));
    assert!(
        checks.signer_subject.contains("CN=release signer"),
        "{}",
        checks.signer_subject
    );
}

#[test]
fn a_payload_for_another_artifact_fails_integrity() {
    let root = root("root");
    let signer = signer(&root, |_| {});
    let other = "sha256:cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd";
    let checks = check(
        &jws(&signer, &protected(), &payload(other)),
        &anchors(&root),
    );
    assert!(failed(&checks.integrity).contains(other));
    let resized = payload(DIGEST).replace("1234", "1235");
    assert!(
        failed(&check(&jws(&signer, &protected(), &resized), &anchors(&root)).integrity)
            .contains("bytes")
    );
    let retyped = payload(DIGEST).replace(OCI_MANIFEST, "application/vnd.oci.image.index.v1+json");
    assert!(
        failed(&check(&jws(&signer, &protected(), &retyped), &anchors(&root)).integrity)
            .contains("media type")
    );
}

#[test]
fn a_tampered_signature_or_payload_fails_integrity() {
    let root = root("root");
    let signer = signer(&root, |_| {});
    let good = jws(&signer, &protected(), &payload(DIGEST));
    let mut value: Value = serde_json::from_slice(&good).unwrap();
    let mut signature = URL_SAFE_NO_PAD
        .decode(value["signature"].as_str().unwrap())
        .unwrap();
    signature[10] ^= 1;
    value["signature"] = URL_SAFE_NO_PAD.encode(&signature).into();
    let checks = check(&serde_json::to_vec(&value).unwrap(), &anchors(&root));
    assert!(failed(&checks.integrity).contains("does not verify"));
    assert!(matches!(checks.authenticity, CheckOutcome::NotChecked(_)));

    let mut value: Value = serde_json::from_slice(&good).unwrap();
    value["payload"] = URL_SAFE_NO_PAD
        .encode(payload(DIGEST).replace("1234", "12345"))
        .into();
    let checks = check(&serde_json::to_vec(&value).unwrap(), &anchors(&root));
    assert!(matches!(checks.integrity, CheckOutcome::Failed(_)));

    // A signature by another key over the same content, with the first signer's chain.
    let impostor = super::forged::signer(&root, |_| {});
    let swapped = jws_with(&impostor, &protected(), &payload(DIGEST), &signer.chain);
    assert!(failed(&check(&swapped, &anchors(&root)).integrity).contains("does not verify"));
}

#[test]
fn unknown_or_missing_critical_headers_fail_integrity() {
    let root = root("root");
    let signer = signer(&root, |_| {});
    let mut unknown = protected();
    unknown["com.example.policy"] = "strict".into();
    unknown["crit"] = json!(["io.cncf.notary.signingScheme", "com.example.policy"]);
    let why = check(&jws(&signer, &unknown, &payload(DIGEST)), &anchors(&root)).integrity;
    assert!(failed(&why).contains("com.example.policy"));
    // Unknown but not critical: informational, accepted.
    let mut informational = protected();
    informational["com.example.note"] = "hello".into();
    assert_eq!(
        check(
            &jws(&signer, &informational, &payload(DIGEST)),
            &anchors(&root)
        )
        .integrity,
        CheckOutcome::Passed
    );
    // Critical but absent, the plugin attribute, a standard header, duplicates, none at all.
    for crit in [
        json!([
            "io.cncf.notary.signingScheme",
            "io.cncf.notary.verificationPlugin"
        ]),
        json!(["io.cncf.notary.signingScheme", "alg"]),
        json!([
            "io.cncf.notary.signingScheme",
            "io.cncf.notary.signingScheme"
        ]),
        json!(["io.cncf.notary.expiry", "io.cncf.notary.signingScheme"]),
        json!([]),
    ] {
        let mut header = protected();
        header["crit"] = crit.clone();
        let checks = check(&jws(&signer, &header, &payload(DIGEST)), &anchors(&root));
        assert!(
            matches!(checks.integrity, CheckOutcome::Failed(_)),
            "{crit}"
        );
    }
    let mut header = protected();
    header.as_object_mut().unwrap().remove("crit");
    assert!(
        failed(&check(&jws(&signer, &header, &payload(DIGEST)), &anchors(&root)).integrity)
            .contains("crit")
    );
    // An expiry not marked critical.
    let mut header = protected();
    header["io.cncf.notary.expiry"] = rfc3339(T0 + DAY).into();
    assert!(
        failed(&check(&jws(&signer, &header, &payload(DIGEST)), &anchors(&root)).integrity)
            .contains("io.cncf.notary.expiry")
    );
}

#[test]
fn an_expired_or_not_yet_valid_leaf_fails_the_authentic_timestamp_check() {
    let root = root("root");
    let signer = signer(&root, |p| p.not_after = time(T0 - DAY / 2));
    let checks = check(
        &jws(&signer, &protected(), &payload(DIGEST)),
        &anchors(&root),
    );
    assert_eq!(checks.integrity, CheckOutcome::Passed);
    assert_eq!(checks.authenticity, CheckOutcome::Passed);
    assert!(failed(&checks.authentic_timestamp).contains("not valid at verification time"));
    let early = super::forged::signer(&root, |p| p.not_before = time(T0 + DAY));
    let checks = check(
        &jws(&early, &protected(), &payload(DIGEST)),
        &anchors(&root),
    );
    assert!(matches!(
        checks.authentic_timestamp,
        CheckOutcome::Failed(_)
    ));
}

#[test]
fn a_chain_to_another_root_fails_authenticity() {
    let root = root("root");
    let stranger = super::forged::root("root");
    let signer = signer(&stranger, |_| {});
    let checks = check(
        &jws(&signer, &protected(), &payload(DIGEST)),
        &anchors(&root),
    );
    assert_eq!(checks.integrity, CheckOutcome::Passed);
    assert!(failed(&checks.authenticity).contains("does not lead to a certificate"));
    // The trusted root appended to the stranger's chain does not help: it signed nothing.
    let mut chain = signer.chain.clone();
    chain.push(root.der().to_vec());
    let checks = check(
        &jws_with(&signer, &protected(), &payload(DIGEST), &chain),
        &anchors(&root),
    );
    assert!(matches!(checks.integrity, CheckOutcome::Failed(_)));
    // A ca store does not vouch for a signing-authority signature, nor the other way round.
    let sa_only = NotationAnchors {
        signing_authority: vec![root.der().to_vec()],
        ..NotationAnchors::default()
    };
    let own = super::forged::signer(&root, |_| {});
    let checks = check(&jws(&own, &protected(), &payload(DIGEST)), &sa_only);
    assert!(failed(&checks.authenticity).contains("type ca"));
}

/// One change to a signing certificate's parameters.
type Edit = Box<dyn FnOnce(&mut CertificateParams)>;

#[test]
fn a_leaf_with_the_wrong_usages_fails_integrity() {
    let root = root("root");
    let cases: Vec<(&str, Edit)> = vec![
        (
            "ServerAuth",
            Box::new(|p| p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth]),
        ),
        (
            "Timestamping",
            Box::new(|p| {
                p.extended_key_usages
                    .push(ExtendedKeyUsagePurpose::TimeStamping)
            }),
        ),
        (
            "Digital Signature",
            Box::new(|p| p.key_usages = vec![KeyUsagePurpose::ContentCommitment]),
        ),
        (
            "KeyEncipherment",
            Box::new(|p| p.key_usages.push(KeyUsagePurpose::KeyEncipherment)),
        ),
        (
            "is a CA",
            Box::new(|p| p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained)),
        ),
        ("no key usage", Box::new(|p| p.key_usages = Vec::new())),
    ];
    for (expected, edit) in cases {
        let signer = signer(&root, edit);
        let checks = check(
            &jws(&signer, &protected(), &payload(DIGEST)),
            &anchors(&root),
        );
        let why = failed(&checks.integrity);
        assert!(why.contains(expected), "{expected}: {why}");
    }
    // No extended key usage at all is allowed (notation-core-go).
    let signer = signer(&root, |p| p.extended_key_usages = Vec::new());
    assert_eq!(
        check(
            &jws(&signer, &protected(), &payload(DIGEST)),
            &anchors(&root)
        )
        .integrity,
        CheckOutcome::Passed
    );
}

#[test]
fn an_algorithm_the_key_does_not_imply_or_the_spec_does_not_allow_is_refused() {
    let root = root("root");
    let signer = signer(&root, |_| {});
    let mut header = protected();
    header["alg"] = "ES384".into();
    assert!(
        failed(&check(&jws(&signer, &header, &payload(DIGEST)), &anchors(&root)).integrity)
            .contains("implies ES256")
    );
    for alg in ["none", "HS256", "RS256", "EdDSA"] {
        header["alg"] = alg.into();
        let result = attempt(
            JWS_MEDIA_TYPE,
            &jws(&signer, &header, &payload(DIGEST)),
            &anchors(&root),
        );
        assert!(
            matches!(result, Err(NotationEnvelopeError::Unsupported(_))),
            "{alg}"
        );
    }
    let mut header = protected();
    header["cty"] = "application/json".into();
    let result = attempt(
        JWS_MEDIA_TYPE,
        &jws(&signer, &header, &payload(DIGEST)),
        &anchors(&root),
    );
    assert!(matches!(result, Err(NotationEnvelopeError::Unsupported(_))));
    header = protected();
    header["io.cncf.notary.signingScheme"] = "notary.x509.custom".into();
    let result = attempt(
        JWS_MEDIA_TYPE,
        &jws(&signer, &header, &payload(DIGEST)),
        &anchors(&root),
    );
    assert!(matches!(result, Err(NotationEnvelopeError::Unsupported(_))));
}

#[test]
fn expiry_is_judged_at_now_and_must_follow_the_signing_time() {
    let root = root("root");
    let signer = signer(&root, |_| {});
    let mut header = protected();
    header["io.cncf.notary.expiry"] = rfc3339(T0 + 3600).into();
    header["crit"] = json!(["io.cncf.notary.signingScheme", "io.cncf.notary.expiry"]);
    let envelope = jws(&signer, &header, &payload(DIGEST));
    assert_eq!(
        check(&envelope, &anchors(&root)).expiry,
        CheckOutcome::Passed
    );
    let later = check_at(
        &envelope,
        &anchors(&root),
        &[TrustedIdentity::Any],
        T0 + 7200,
    );
    assert!(failed(&later.expiry).contains("expired"));
    assert_eq!(later.authenticity, CheckOutcome::Passed);
    header["io.cncf.notary.expiry"] = rfc3339(T0 - 120).into();
    assert!(
        failed(&check(&jws(&signer, &header, &payload(DIGEST)), &anchors(&root)).integrity)
            .contains("expiry")
    );
}

#[test]
fn trusted_identities_match_subject_attributes() {
    let root = root("root");
    let signer = signer(&root, |_| {});
    let envelope = jws(&signer, &protected(), &payload(DIGEST));
    let ok = check_at(
        &envelope,
        &anchors(&root),
        &[subject(&[
            ("C", "US"),
            ("O", "Acme"),
            ("CN", "release signer"),
        ])],
        T0,
    );
    assert_eq!(ok.authenticity, CheckOutcome::Passed);
    for wrong in [
        subject(&[("C", "US"), ("O", "Other")]),
        subject(&[("C", "US"), ("O", "Acme"), ("OU", "Missing")]),
        subject(&[("CN", "release")]),
        subject(&[]),
    ] {
        let checks = check_at(&envelope, &anchors(&root), std::slice::from_ref(&wrong), T0);
        assert!(
            matches!(checks.authenticity, CheckOutcome::Failed(_)),
            "{wrong:?}"
        );
    }
}

#[test]
fn the_signing_authority_scheme_needs_its_store_and_an_authentic_time_inside_validity() {
    let root = root("root");
    let signer = signer(&root, |_| {});
    let header = |signed: i64| {
        json!({
            "alg": "ES256",
            "cty": PAYLOAD_TYPE,
            "crit": ["io.cncf.notary.signingScheme", "io.cncf.notary.authenticSigningTime"],
            "io.cncf.notary.signingScheme": "notary.x509.signingAuthority",
            "io.cncf.notary.authenticSigningTime": rfc3339(signed),
        })
    };
    let sa = NotationAnchors {
        signing_authority: vec![root.der().to_vec()],
        ..NotationAnchors::default()
    };
    let envelope = jws(&signer, &header(T0 - 60), &payload(DIGEST));
    let checks = check_at(&envelope, &sa, &[TrustedIdentity::Any], T0 + 400 * DAY);
    assert_eq!(checks.signing_scheme, "notary.x509.signingAuthority");
    assert_eq!(checks.authenticity, CheckOutcome::Passed);
    // Valid when signed, though expired now: the authority vouches for the time.
    assert_eq!(checks.authentic_timestamp, CheckOutcome::Passed);
    assert!(failed(&check(&envelope, &anchors(&root)).authenticity).contains("signingAuthority"));
    let late = jws(&signer, &header(T0 + 400 * DAY), &payload(DIGEST));
    assert!(
        failed(&check(&late, &sa).authentic_timestamp)
            .contains("was not valid when the signature was produced")
    );
    // The authentic time is required and critical; the plain signing time is not allowed.
    let mut missing = header(T0);
    missing
        .as_object_mut()
        .unwrap()
        .remove("io.cncf.notary.authenticSigningTime");
    missing["crit"] = json!(["io.cncf.notary.signingScheme"]);
    assert!(matches!(
        check(&jws(&signer, &missing, &payload(DIGEST)), &sa).integrity,
        CheckOutcome::Failed(_)
    ));
    let mut both = header(T0);
    both["io.cncf.notary.signingTime"] = rfc3339(T0).into();
    assert!(matches!(
        check(&jws(&signer, &both, &payload(DIGEST)), &sa).integrity,
        CheckOutcome::Failed(_)
    ));
    let mut not_critical = header(T0);
    not_critical["crit"] = json!(["io.cncf.notary.signingScheme"]);
    assert!(matches!(
        check(&jws(&signer, &not_critical, &payload(DIGEST)), &sa).integrity,
        CheckOutcome::Failed(_)
    ));
}

#[test]
fn truncated_flipped_oversized_and_unsupported_input_is_refused_without_panic() {
    let root = root("root");
    let signer = signer(&root, |_| {});
    let good = jws(&signer, &protected(), &payload(DIGEST));
    let anchors = anchors(&root);
    let admitted = |bytes: &[u8]| {
        attempt(JWS_MEDIA_TYPE, bytes, &anchors)
            .is_ok_and(|c| c.integrity.passed() && c.authenticity.passed())
    };
    assert!(admitted(&good));
    for len in 0..good.len() {
        assert!(!admitted(&good[..len]), "prefix {len}");
    }
    // Flipping a bit of the unsigned, informational signing agent is harmless; any other
    // flip is refused.
    let text = String::from_utf8_lossy(&good).to_string();
    let agent_start = text.find("\"io.cncf.notary.signingAgent\"").unwrap();
    let agent_end = text.find("\"signet-test\"").unwrap() + "\"signet-test\"".len();
    for i in (0..good.len()).filter(|i| !(agent_start..agent_end).contains(i)) {
        let mut flipped = good.clone();
        flipped[i] ^= 0x01;
        assert!(!admitted(&flipped), "flip at {i} still admitted");
    }
    let huge = vec![b' '; MAX_ENVELOPE_BYTES + 1];
    assert!(matches!(
        attempt(JWS_MEDIA_TYPE, &huge, &anchors),
        Err(NotationEnvelopeError::Oversized { .. })
    ));
    let long_chain = vec![signer.chain[0].clone(); 11];
    let result = attempt(
        JWS_MEDIA_TYPE,
        &jws_with(&signer, &protected(), &payload(DIGEST), &long_chain),
        &anchors,
    );
    assert!(matches!(
        result,
        Err(NotationEnvelopeError::Oversized { .. })
    ));
    let no_chain = jws_with(&signer, &protected(), &payload(DIGEST), &[]);
    assert!(matches!(
        attempt(JWS_MEDIA_TYPE, &no_chain, &anchors),
        Err(NotationEnvelopeError::Malformed(_))
    ));
    for media_type in ["application/json", "application/jose", ""] {
        assert!(matches!(
            attempt(media_type, &good, &anchors),
            Err(NotationEnvelopeError::Unsupported(_))
        ));
    }
}

/// A COSE_Sign1 (tagged) as Notation makes it; `edit` changes the protected header.
fn cose_with(
    signer: &Signer,
    edit: impl FnOnce(coset::HeaderBuilder) -> coset::HeaderBuilder,
    payload: &str,
) -> Vec<u8> {
    use coset::cbor::value::Value as Cbor;
    use coset::{CoseSign1Builder, HeaderBuilder, RegisteredLabel, TaggedCborSerializable, iana};
    let protected = HeaderBuilder::new()
        .algorithm(iana::Algorithm::ES256)
        .content_type(PAYLOAD_TYPE.into())
        .add_critical_label(RegisteredLabel::Text("io.cncf.notary.signingScheme".into()))
        .text_value(
            "io.cncf.notary.signingScheme".into(),
            Cbor::Text("notary.x509".into()),
        )
        .text_value(
            "io.cncf.notary.signingTime".into(),
            Cbor::Tag(1, Box::new(Cbor::Integer((T0 - 60).into()))),
        );
    let chain = signer
        .chain
        .iter()
        .map(|c| Cbor::Bytes(c.clone()))
        .collect();
    let unprotected = HeaderBuilder::new()
        .value(33, Cbor::Array(chain))
        .text_value(
            "io.cncf.notary.signingAgent".into(),
            Cbor::Text("signet-test".into()),
        );
    CoseSign1Builder::new()
        .protected(edit(protected).build())
        .unprotected(unprotected.build())
        .payload(payload.as_bytes().to_vec())
        .create_signature(&[], |data| fixed(&signer.key.sign(data).unwrap(), 32))
        .build()
        .to_tagged_vec()
        .unwrap()
}

fn check_cose(envelope: &[u8], anchors: &NotationAnchors) -> NotationChecks {
    attempt(COSE_MEDIA_TYPE, envelope, anchors).unwrap()
}

#[test]
fn a_well_made_cose_passes_and_its_forgeries_fail() {
    use coset::cbor::value::Value as Cbor;
    use coset::{CborSerializable, CoseSign1, RegisteredLabel, TaggedCborSerializable};
    let root = root("root");
    let signer = signer(&root, |_| {});
    let good = cose_with(&signer, |h| h, &payload(DIGEST));
    let checks = check_cose(&good, &anchors(&root));
    assert_eq!(checks.integrity, CheckOutcome::Passed);
    assert_eq!(checks.authenticity, CheckOutcome::Passed);
    assert_eq!(checks.authentic_timestamp, CheckOutcome::Passed);
    assert_eq!(checks.expiry, CheckOutcome::Passed);
    assert_eq!(checks.signing_time, Some(at(T0 - 60)));
    // Untagged is read too.
    let untagged = CoseSign1::from_tagged_slice(&good)
        .unwrap()
        .to_vec()
        .unwrap();
    assert_eq!(
        check_cose(&untagged, &anchors(&root)).integrity,
        CheckOutcome::Passed
    );
    // Another digest.
    let other = "sha256:cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd";
    assert!(
        failed(&check_cose(&cose_with(&signer, |h| h, &payload(other)), &anchors(&root)).integrity)
            .contains(other)
    );
    // Tampered signature.
    let mut sign1 = CoseSign1::from_tagged_slice(&good).unwrap();
    sign1.signature[5] ^= 1;
    assert!(
        failed(&check_cose(&sign1.to_tagged_vec().unwrap(), &anchors(&root)).integrity)
            .contains("does not verify")
    );
    // Unknown critical header.
    let unknown = cose_with(
        &signer,
        |h| {
            h.add_critical_label(RegisteredLabel::Text("com.example.policy".into()))
                .text_value("com.example.policy".into(), Cbor::Text("x".into()))
        },
        &payload(DIGEST),
    );
    assert!(
        failed(&check_cose(&unknown, &anchors(&root)).integrity).contains("com.example.policy")
    );
    // Expiry not critical; expiry critical and past.
    let expiry = |t: i64| Cbor::Tag(1, Box::new(Cbor::Integer(t.into())));
    let uncritical = cose_with(
        &signer,
        |h| h.text_value("io.cncf.notary.expiry".into(), expiry(T0 + DAY)),
        &payload(DIGEST),
    );
    assert!(matches!(
        check_cose(&uncritical, &anchors(&root)).integrity,
        CheckOutcome::Failed(_)
    ));
    let past = cose_with(
        &signer,
        |h| {
            h.add_critical_label(RegisteredLabel::Text("io.cncf.notary.expiry".into()))
                .text_value("io.cncf.notary.expiry".into(), expiry(T0 - 30))
        },
        &payload(DIGEST),
    );
    assert!(failed(&check_cose(&past, &anchors(&root)).expiry).contains("expired"));
    // A time that is not a tag 1 epoch value.
    let untagged_time = cose_with(
        &signer,
        |h| h.text_value("io.cncf.notary.expiry".into(), Cbor::Integer(T0.into())),
        &payload(DIGEST),
    );
    assert!(matches!(
        attempt(COSE_MEDIA_TYPE, &untagged_time, &anchors(&root)),
        Err(NotationEnvelopeError::Malformed(_))
    ));
    // Another root.
    let stranger = super::forged::root("root");
    let checks = check_cose(
        &cose_with(
            &super::forged::signer(&stranger, |_| {}),
            |h| h,
            &payload(DIGEST),
        ),
        &anchors(&root),
    );
    assert!(matches!(checks.authenticity, CheckOutcome::Failed(_)));
    // Truncations never admit nor panic.
    for len in 0..good.len() {
        let result = attempt(COSE_MEDIA_TYPE, &good[..len], &anchors(&root));
        assert!(!result.is_ok_and(|c| c.integrity.passed()), "prefix {len}");
    }
}

/// The certificate that signs a timestamp: the GlobalSign TSA certificate embedded in
/// notation-go's TimeStampToken.p7s meets notation-core-go's requirements; rcgen time-stamping
/// leaves that break one each do not.
#[test]
fn timestamp_signing_certificates_must_be_time_stamping_leaves() {
    use cms::cert::CertificateChoices;
    use cms::content_info::ContentInfo;
    use cms::signed_data::SignedData;
    use der::{Decode, Encode};
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/notation/notation-go/verifier/testdata/timestamp/countersignature/TimeStampToken.p7s"
    );
    let token = ContentInfo::from_der(&std::fs::read(path).unwrap()).unwrap();
    let signed = token.content.decode_as::<SignedData>().unwrap();
    let embedded: Vec<Vec<u8>> = signed
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|choice| match choice {
            CertificateChoices::Certificate(cert) => cert.to_der().ok(),
            CertificateChoices::Other(_) => None,
        })
        .collect();
    let passing: Vec<bool> = embedded
        .iter()
        .map(|der| super::super::chain::timestamping_leaf_requirements(der).is_ok())
        .collect();
    // The TSA leaf passes; the intermediate and root (CAs) do not.
    assert!(passing.iter().any(|ok| *ok), "{passing:?}");
    assert!(passing.iter().any(|ok| !*ok), "{passing:?}");

    let root = root("tsa root");
    let cases: Vec<(&str, Edit)> = vec![
        // rcgen writes the extended key usage non-critical.
        (
            "marked critical",
            Box::new(|p| p.extended_key_usages = vec![ExtendedKeyUsagePurpose::TimeStamping]),
        ),
        (
            "exactly the Timestamping",
            Box::new(|p| p.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning]),
        ),
        (
            "is a CA",
            Box::new(|p| p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained)),
        ),
        (
            "Digital Signature",
            Box::new(|p| p.key_usages = vec![KeyUsagePurpose::KeyCertSign]),
        ),
    ];
    for (words, edit) in cases {
        let leaf = signer(&root, edit);
        let why = super::super::chain::timestamping_leaf_requirements(&leaf.chain[0]).unwrap_err();
        assert!(why.contains(words), "{words}: {why}");
    }
}
