//! Certificate parsing and chain checks: rcgen-made certificates for each Fulcio encoding, and
//! the real public-good certificate of containers/image's `dir-img-cosign-fulcio-rekor-valid`.

use super::*;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, CustomExtension, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType,
};

use crate::policy::{CertificateAuthority, TimeRange};

const FIXTURES: &str = "../shared/fixtures/third_party";
const T0: i64 = 1_700_000_000;

fn utf8_der(text: &str) -> Vec<u8> {
    let mut out = vec![0x0c, u8::try_from(text.len()).unwrap()];
    out.extend_from_slice(text.as_bytes());
    out
}

fn fulcio(arc: u64, content: Vec<u8>) -> CustomExtension {
    CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 57264, 1, arc], content)
}

fn ca_params(name: &str, path_len: u8) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(path_len));
    params.not_before = time(T0 - 86_400);
    params.not_after = time(T0 + 86_400 * 365);
    params
}

fn time(t: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t).unwrap()
}

/// A root and an intermediate (with code-signing EKU, as Fulcio's has).
fn ca() -> (
    CertifiedIssuer<'static, KeyPair>,
    CertifiedIssuer<'static, KeyPair>,
) {
    let root =
        CertifiedIssuer::self_signed(ca_params("root", 1), KeyPair::generate().unwrap()).unwrap();
    let mut params = ca_params("intermediate", 0);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    let intermediate =
        CertifiedIssuer::signed_by(params, KeyPair::generate().unwrap(), &root).unwrap();
    (root, intermediate)
}

fn leaf(edit: impl FnOnce(&mut CertificateParams)) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.not_before = time(T0);
    params.not_after = time(T0 + 600);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    params.subject_alt_names = vec![SanType::Rfc822Name("dev@example.com".try_into().unwrap())];
    edit(&mut params);
    params
}

fn issue(params: CertificateParams, by: &CertifiedIssuer<'_, KeyPair>) -> SigningCertificate {
    let cert = params.signed_by(&KeyPair::generate().unwrap(), by).unwrap();
    parse_signing_certificate(&cert.pem()).unwrap()
}

/// A bare PEM anchor (`keyless.ca-cert`): the presented chain completes paths to it.
fn trust(root: &CertifiedIssuer<'_, KeyPair>, valid_for: TimeRange) -> KeylessTrust {
    KeylessTrust {
        origin: "test".into(),
        certificate_authorities: vec![CertificateAuthority {
            uri: None,
            root: root.der().to_vec(),
            intermediates: Vec::new(),
            valid_for,
            presented_intermediates: true,
        }],
        ..KeylessTrust::default()
    }
}

#[test]
fn issuer_v2_uri_san_and_github_extensions_are_exposed() {
    let (_, intermediate) = ca();
    let cert = issue(
        leaf(|p| {
            p.subject_alt_names = vec![SanType::URI(
                "https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1"
                    .try_into()
                    .unwrap(),
            )];
            p.custom_extensions = vec![
                fulcio(8, utf8_der("https://token.actions.githubusercontent.com")),
                fulcio(5, b"org/repo".to_vec()),
                fulcio(12, utf8_der("https://github.com/org/repo")),
                fulcio(99, utf8_der("future")),
            ];
        }),
        &intermediate,
    );
    let id = &cert.identity;
    assert_eq!(
        id.issuer.as_deref(),
        Some("https://token.actions.githubusercontent.com")
    );
    assert!(id.emails.is_empty());
    assert_eq!(id.uris.len(), 1);
    assert_eq!(id.extensions["githubWorkflowRepository"], "org/repo");
    assert_eq!(
        id.extensions["sourceRepositoryURI"],
        "https://github.com/org/repo"
    );
    assert_eq!(id.extensions["1.3.6.1.4.1.57264.1.99"], "future");
    assert_eq!((cert.not_before, cert.not_after), (T0, T0 + 600));
}

#[test]
fn issuer_encodings_must_agree_and_be_well_formed() {
    let (_, intermediate) = ca();
    let both = |v1: &str, v2: &str| {
        let v1 = v1.as_bytes().to_vec();
        let v2 = utf8_der(v2);
        let params = leaf(|p| p.custom_extensions = vec![fulcio(1, v1), fulcio(8, v2)]);
        let pem = params
            .signed_by(&KeyPair::generate().unwrap(), &intermediate)
            .unwrap()
            .pem();
        parse_signing_certificate(&pem)
    };
    let same = both("https://a", "https://a").unwrap();
    assert_eq!(same.identity.issuer.as_deref(), Some("https://a"));
    assert!(matches!(
        both("https://a", "https://b"),
        Err(CertificateError::Extension(_))
    ));
    let raw_in_v2 = leaf(|p| p.custom_extensions = vec![fulcio(8, b"https://raw".to_vec())]);
    let pem = raw_in_v2
        .signed_by(&KeyPair::generate().unwrap(), &intermediate)
        .unwrap()
        .pem();
    assert!(matches!(
        parse_signing_certificate(&pem),
        Err(CertificateError::Extension(_))
    ));
}

#[test]
fn a_certificate_not_for_code_signing_is_refused() {
    let (_, intermediate) = ca();
    let params = leaf(|p| p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth]);
    let pem = params
        .signed_by(&KeyPair::generate().unwrap(), &intermediate)
        .unwrap()
        .pem();
    assert_eq!(
        parse_signing_certificate(&pem).unwrap_err(),
        CertificateError::NotCodeSigning
    );
    let none = leaf(|p| p.extended_key_usages.clear());
    let pem = none
        .signed_by(&KeyPair::generate().unwrap(), &intermediate)
        .unwrap()
        .pem();
    assert!(parse_signing_certificate(&pem).is_err());
}

#[test]
fn garbage_two_certificates_and_oversized_annotations_are_refused() {
    assert!(parse_signing_certificate("this is not a valid certificate").is_err());
    let (root, intermediate) = ca();
    let two = format!("{}{}", root.pem(), intermediate.pem());
    assert!(parse_signing_certificate(&two).is_err());
    let big = "A".repeat(MAX_CERTIFICATE_PEM_BYTES + 1);
    assert!(matches!(
        parse_signing_certificate(&big),
        Err(CertificateError::TooLarge { .. })
    ));
    let many = root.pem().repeat(MAX_CHAIN_CERTIFICATES + 1);
    assert!(parse_chain(&many).is_err());
}

#[test]
fn chain_verifies_through_a_presented_intermediate_at_the_log_time() {
    let (root, intermediate) = ca();
    let cert = issue(leaf(|_| {}), &intermediate);
    let trust = trust(&root, TimeRange::default());
    let chain = vec![intermediate.der().to_vec()];
    verify_chain(&cert, &chain, &trust, T0 + 60).unwrap();
    let err = verify_chain(&cert, &[], &trust, T0 + 60).unwrap_err();
    assert!(err.contains("does not chain"), "{err}");
    let err = verify_chain(&cert, &chain, &trust, T0 + 601).unwrap_err();
    assert!(
        err.contains("but the log recorded the signature at"),
        "{err}"
    );
}

#[test]
fn a_ca_outside_its_validity_window_anchors_nothing() {
    let (root, intermediate) = ca();
    let cert = issue(leaf(|_| {}), &intermediate);
    let retired = TimeRange {
        start: None,
        end: Some(T0),
    };
    let chain = vec![intermediate.der().to_vec()];
    assert!(verify_chain(&cert, &chain, &trust(&root, retired), T0 + 60).is_err());
}

/// A trust-root entry is judged by its own certificates: a root-only entry does not take the
/// intermediate the signer presents (sigstore-go ignores it too), while a bare PEM anchor
/// (`keyless.ca-cert`, CRI-O `caData`) does, as cosign and containers/image use it.
#[test]
fn only_a_bare_pem_anchor_takes_presented_intermediates() {
    let (root, intermediate) = ca();
    let cert = issue(leaf(|_| {}), &intermediate);
    let chain = vec![intermediate.der().to_vec()];
    let mut entry = trust(&root, TimeRange::default());
    entry.certificate_authorities[0].presented_intermediates = false;
    let err = verify_chain(&cert, &chain, &entry, T0 + 60).unwrap_err();
    assert!(err.contains("does not chain"), "{err}");
    entry.certificate_authorities[0].intermediates = chain.clone();
    verify_chain(&cert, &[], &entry, T0 + 60).unwrap();
    verify_chain(&cert, &chain, &trust(&root, TimeRange::default()), T0 + 60).unwrap();
}

#[test]
fn an_unrelated_root_with_the_same_name_is_not_trusted() {
    let (root, _) = ca();
    let (_, impostor) = ca();
    let cert = issue(leaf(|_| {}), &impostor);
    let chain = vec![impostor.der().to_vec()];
    let trust = trust(&root, TimeRange::default());
    assert!(verify_chain(&cert, &chain, &trust, T0 + 60).is_err());
}

// containers/image signature/fixtures fulcio-cert, fulcio-chain (raw 1.1 issuer, email SAN;
// integratedTime 1670870899 from rekor-set).
#[test]
fn public_good_certificate_parses_and_chains_to_fulcio_v1_at_integrated_time() {
    let dir = format!("{FIXTURES}/containers-image/signature/fixtures");
    let cert =
        parse_signing_certificate(&std::fs::read_to_string(format!("{dir}/fulcio-cert")).unwrap())
            .unwrap();
    assert_eq!(
        cert.identity.issuer.as_deref(),
        Some("https://github.com/login/oauth")
    );
    assert_eq!(cert.identity.emails, ["mitr@redhat.com"]);
    assert_eq!(
        cert.identity.describe(),
        r#"issuer "https://github.com/login/oauth" subject "mitr@redhat.com""#
    );
    let chain =
        parse_chain(&std::fs::read_to_string(format!("{dir}/fulcio-chain")).unwrap()).unwrap();
    let ca = std::fs::read(format!("{dir}/fulcio_v1.crt.pem")).unwrap();
    let rekor = std::fs::read(format!("{dir}/rekor.pub")).unwrap();
    let trust = KeylessTrust::from_pem("fulcio_v1", &ca, &[&rekor]).unwrap();
    verify_chain(&cert, &chain, &trust, 1_670_870_899).unwrap();
    assert!(verify_chain(&cert, &chain, &trust, 1_670_870_899 + 3600).is_err());
}
