//! Real cosign 3 material, offline: sigstore-rs `tests/data/bundle_v03.json` (an image signature
//! of ghcr.io/kubewarden/kubewarden-controller, GitHub Actions identity) and cosign's
//! `pkg/cosign/testdata/oci-attestation.sigstore.json` (an attestation), with the public-good
//! trusted roots beside them (sigstore-rs `trust_root/prod/trusted_root.json`, cosign
//! `trusted_root_pgi.json`).

use std::sync::Arc;

use super::*;
use crate::policy::{CertificateIdentity, Matcher, TrustRoots};
use crate::reference::{Digest, ImageReference};

const FIXTURES: &str = "../shared/fixtures/third_party";
const IMAGE: &str = "ghcr.io/kubewarden/kubewarden-controller:v1.34.0";
const DIGEST: &str = "sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172";
const WORKFLOW: &str = "https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0";
const GITHUB: &str = "https://token.actions.githubusercontent.com";

fn read(path: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{path}")).unwrap()
}

fn authority(root: &str, subject: &str, rule: IdentityRule) -> KeylessAuthority {
    let text = String::from_utf8(read(root)).unwrap();
    let roots = TrustRoots::from_text(&text, root, "public-good").unwrap();
    KeylessAuthority {
        identities: vec![CertificateIdentity {
            issuer: Matcher::Exact(GITHUB.into()),
            subject: Matcher::Exact(subject.into()),
        }],
        trust: Arc::clone(roots.get("public-good").unwrap()),
        identity: rule,
        threshold: 1,
    }
}

fn bundle(path: &str) -> SignatureBundle {
    SignatureBundle {
        bytes: read(path),
        artifact_type: crate::registry::SIGSTORE_BUNDLE_MEDIA_TYPE.into(),
        manifest_digest: String::new(),
        annotations: Default::default(),
    }
}

fn check(
    authority: &KeylessAuthority,
    image: &str,
    digest: &str,
    b: &SignatureBundle,
) -> Result<Acceptance, Mismatch> {
    let image = ImageReference::parse(image).unwrap();
    let digest = Digest::parse(digest).unwrap();
    check_keyless_bundle(
        authority,
        Subject {
            image: &image,
            digest: &digest,
        },
        b,
    )
}

#[test]
fn the_kubewarden_cosign_3_signature_verifies_offline() {
    let auth = authority(
        "sigstore-rs/trust_root/prod/trusted_root.json",
        WORKFLOW,
        IdentityRule::MatchRepository,
    );
    let accepted = check(
        &auth,
        IMAGE,
        DIGEST,
        &bundle("sigstore-rs/tests/data/bundle_v03.json"),
    )
    .unwrap();
    let signer = accepted.certificate.unwrap();
    assert_eq!(signer.log_index, 1_261_105_807);
    assert_eq!(signer.identity.uris, [WORKFLOW]);
}

#[test]
fn the_kubewarden_signature_is_refused_for_another_digest_identity_or_named_rule() {
    let b = bundle("sigstore-rs/tests/data/bundle_v03.json");
    let auth = authority(
        "sigstore-rs/trust_root/prod/trusted_root.json",
        WORKFLOW,
        IdentityRule::MatchRepository,
    );
    let other = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    let err = check(&auth, IMAGE, other, &b).unwrap_err();
    assert!(matches!(err, Mismatch::DigestMismatch { .. }), "{err}");
    let stranger = authority(
        "sigstore-rs/trust_root/prod/trusted_root.json",
        "https://x",
        IdentityRule::MatchRepository,
    );
    let err = check(&stranger, IMAGE, DIGEST, &b).unwrap_err();
    assert!(matches!(err, Mismatch::IdentityNotAllowed { .. }), "{err}");
    let exact = IdentityRule::ExactRepository("ghcr.io/kubewarden/kubewarden-controller".into());
    let named = authority(
        "sigstore-rs/trust_root/prod/trusted_root.json",
        WORKFLOW,
        exact,
    );
    let err = check(&named, IMAGE, DIGEST, &b).unwrap_err();
    assert!(err.to_string().contains("signs the digest only"), "{err}");
}

#[test]
fn a_tampered_bundle_is_refused() {
    let auth = authority(
        "sigstore-rs/trust_root/prod/trusted_root.json",
        WORKFLOW,
        IdentityRule::MatchRepository,
    );
    let mut b = bundle("sigstore-rs/tests/data/bundle_v03.json");
    let text = String::from_utf8(b.bytes.clone()).unwrap();
    b.bytes = text
        .replace(
            "\"logIndex\": \"1261105807\"",
            "\"logIndex\": \"1261105808\"",
        )
        .into_bytes();
    assert_ne!(b.bytes, read("sigstore-rs/tests/data/bundle_v03.json"));
    let err = check(&auth, IMAGE, DIGEST, &b).unwrap_err();
    assert!(
        matches!(err, Mismatch::TransparencyLogInvalid { .. }),
        "{err}"
    );
}

#[test]
fn the_cosign_attestation_bundle_is_recognised_as_an_attestation() {
    let auth = authority(
        "cosign/pkg/cosign/testdata/trusted_root_pgi.json",
        "cody@soyland.com",
        IdentityRule::AnyRepository,
    );
    let mut auth = auth;
    auth.identities[0].issuer = Matcher::Exact("https://github.com/login/oauth".into());
    let digest = "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4";
    let err = check(
        &auth,
        "127.0.0.1:60943/repo",
        digest,
        &bundle("cosign/pkg/cosign/testdata/oci-attestation.sigstore.json"),
    )
    .unwrap_err();
    assert_eq!(err.code(), "NotAnImageSignature", "{err}");
    assert!(
        err.to_string().contains("an attestation (predicateType"),
        "{err}"
    );
}
