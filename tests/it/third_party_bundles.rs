//! Sigstore bundle conformance against other projects' real bundles, offline, through the same
//! verification code the webhook uses (`signet::signature::bundle`):
//!
//! * sigstore-rs `tests/data/bundle_v03.json` with `trust_root/prod/trusted_root.json`: a real
//!   cosign 3 signature of `ghcr.io/kubewarden/kubewarden-controller:v1.34.0@sha256:c811…`
//!   (GitHub Actions identity); must be admitted, and refused for another digest or identity;
//! * cosign `pkg/cosign/testdata/oci-attestation.sigstore.json` with `trusted_root_pgi.json`: an
//!   attestation bundle, which must be recognised as an attestation and refused as a signature;
//! * sigstore-conformance `test/assets/bundle-verify/*`: blob bundles; cases whose name ends in
//!   `_fail` must fail, the others pass (defaults for artifact, identity, issuer and trust root
//!   from ../shared/fixtures/third_party/README.md). Rekor v1 entries (SET) and Rekor v2
//!   entries (inclusion proof and checkpoint only, signing time from a verified RFC 3161
//!   timestamp) are both decided, and keyless certificates must carry an SCT by a CT log of the
//!   trust root (as sigstore-go requires): all 70 cases pass.
//!
//! Cases Signet could not decide would be listed in [`UNDECIDED`] with the reason (none now;
//! `invalid-ct-key_fail`, only wrong because of its certificate's SCT, was until SCTs were
//! verified). The test fails if any case is not decided correctly or if the list is stale. Totals are printed as
//! `passed/expected` per set (run with `--nocapture`).
// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use signet::policy::{
    CertificateIdentity, IdentityRule, KeylessAuthority, KeylessTrust, Matcher, TrustRoots,
    TrustedKey,
};
use signet::reference::{Digest, ImageReference};
use signet::registry::{SIGSTORE_BUNDLE_MEDIA_TYPE, SignatureBundle, SignatureMaterial};
use signet::signature::bundle::{BundleError, Signer, verify_sigstore_bundle};
use signet::signature::{Subject, check_keyless_material};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/fixtures/third_party"
);
const PROD_ROOT: &str = "sigstore-rs/trust_root/prod/trusted_root.json";
const CONFORMANCE: &str = "sigstore-conformance/test/assets/bundle-verify";
const BEACON: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const GITHUB: &str = "https://token.actions.githubusercontent.com";
const KUBEWARDEN: &str = "ghcr.io/kubewarden/kubewarden-controller:v1.34.0";
const KUBEWARDEN_DIGEST: &str =
    "sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172";
/// Conformance cases Signet knowingly cannot decide, with the reason (none since SCTs are
/// verified: `invalid-ct-key_fail` is refused for its SCT).
const UNDECIDED: &[(&str, &str)] = &[];
/// Conformance cases decided correctly (of 70).
const CONFORMANCE_PASSED: usize = 70;
const KUBEWARDEN_WORKFLOW: &str = "https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0";

fn path(relative: &str) -> PathBuf {
    Path::new(FIXTURES).join(relative)
}

fn read(relative: &str) -> Vec<u8> {
    std::fs::read(path(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn trust(relative: &str) -> Result<Arc<KeylessTrust>, String> {
    let text = String::from_utf8(read(relative)).map_err(|e| e.to_string())?;
    let roots = TrustRoots::from_text(&text, relative, "root").map_err(|e| e.to_string())?;
    Ok(Arc::clone(roots.get("root").ok_or("no root")?))
}

/// A keyless authority as a policy that leaves `insecureIgnoreSCT` unset compiles it: an SCT by
/// a CT log of the trust root is required.
fn authority(root: &str, issuer: &str, subject: &str) -> KeylessAuthority {
    let mut trust = trust(root).unwrap();
    let with_scts = Arc::make_mut(&mut trust);
    with_scts.sct_required = !with_scts.ct_keys.is_empty();
    KeylessAuthority {
        identities: vec![CertificateIdentity {
            issuer: Matcher::Exact(issuer.into()),
            subject: Matcher::Exact(subject.into()),
        }],
        trust,
        identity: IdentityRule::MatchRepository,
        threshold: 1,
    }
}

fn material(relative: &str) -> SignatureMaterial {
    SignatureMaterial {
        layers: Vec::new(),
        bundles: vec![SignatureBundle {
            bytes: read(relative),
            artifact_type: SIGSTORE_BUNDLE_MEDIA_TYPE.into(),
            manifest_digest: String::new(),
            annotations: Default::default(),
        }],
    }
}

/// The webhook's keyless check of one bundle for `image@digest`: the reason code, or "admit".
fn image_verdict(authority: &KeylessAuthority, image: &str, digest: &str, bundle: &str) -> String {
    let image = ImageReference::parse(image).unwrap();
    let digest = Digest::parse(digest).unwrap();
    let subject = Subject {
        image: &image,
        digest: &digest,
    };
    match check_keyless_material(authority, subject, &material(bundle)) {
        Ok(_) => "admit".into(),
        Err(m) => format!("{}: {m}", m.code()),
    }
}

/// Print each (case, expected, got) and return (passed, expected).
fn report(set: &str, cases: &[(&str, &str, String)]) -> (usize, usize) {
    let mut passed = 0;
    for (name, expected, got) in cases {
        let ok = got.starts_with(expected);
        passed += usize::from(ok);
        println!("{} {set}: {name}: {got}", if ok { "ok  " } else { "FAIL" });
    }
    println!("{set}: {passed}/{} passed", cases.len());
    (passed, cases.len())
}

#[test]
fn sigstore_rs_cosign_3_image_signature_verifies_offline() {
    // sigstore-rs tests/data/bundle_v03.json + trust_root/prod/trusted_root.json.
    let bundle = "sigstore-rs/tests/data/bundle_v03.json";
    let ok = authority(PROD_ROOT, GITHUB, KUBEWARDEN_WORKFLOW);
    let stranger = authority(PROD_ROOT, GITHUB, "https://github.com/evil/repo");
    let other = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    let cases = [
        (
            "admitted",
            "admit",
            image_verdict(&ok, KUBEWARDEN, KUBEWARDEN_DIGEST, bundle),
        ),
        (
            "another digest",
            "DigestMismatch",
            image_verdict(&ok, KUBEWARDEN, other, bundle),
        ),
        (
            "another identity",
            "IdentityNotAllowed",
            image_verdict(&stranger, KUBEWARDEN, KUBEWARDEN_DIGEST, bundle),
        ),
    ];
    let (passed, expected) = report("sigstore-rs bundle_v03", &cases);
    assert_eq!(passed, expected);
}

#[test]
fn cosign_attestation_bundle_is_recognised_and_not_accepted_as_a_signature() {
    // cosign pkg/cosign/testdata/oci-attestation.sigstore.json + trusted_root_pgi.json.
    let root = "cosign/pkg/cosign/testdata/trusted_root_pgi.json";
    let auth = authority(root, "https://github.com/login/oauth", "cody@soyland.com");
    let digest = "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4";
    let bundle = "cosign/pkg/cosign/testdata/oci-attestation.sigstore.json";
    let cases = [(
        "attestation refused as a signature",
        "NotAnImageSignature",
        image_verdict(&auth, "127.0.0.1:60943/repo", digest, bundle),
    )];
    let (passed, expected) = report("cosign oci-attestation", &cases);
    assert_eq!(passed, expected);
    assert!(
        cases[0].2.contains("an attestation (predicateType"),
        "{}",
        cases[0].2
    );
}

/// One conformance case: Ok(()) verified, Err((refused, why)).
fn conformance_case(dir: &Path) -> Result<(), (bool, String)> {
    let file = |name: &str| std::fs::read(dir.join(name)).ok();
    let text = |name: &str| file(name).map(|b| String::from_utf8_lossy(&b).trim().to_string());
    let bundle = file("bundle.sigstore.json").ok_or((false, "no bundle".to_string()))?;
    let artifact = file("artifact").unwrap_or_else(|| read(&format!("{CONFORMANCE}/a.txt")));
    let root = match dir.join("trusted_root.json").exists() {
        true => {
            let relative = dir
                .strip_prefix(FIXTURES)
                .unwrap()
                .join("trusted_root.json");
            trust(relative.to_str().unwrap())
        }
        false => trust(PROD_ROOT),
    }
    .map_err(|e| (false, format!("trust root refused: {e}")))?;
    let keys = match file("key.pub") {
        Some(pem) => Some(
            TrustedKey::from_pem(&String::from_utf8_lossy(&pem), "sha256")
                .map_err(|e| (false, e))?,
        ),
        None => None,
    };
    // Keyless: an SCT by a CT log of the trust root is required, as sigstore-go requires it.
    let mut with_scts = KeylessTrust::clone(&root);
    with_scts.sct_required = !with_scts.ct_keys.is_empty();
    let signer = match &keys {
        Some(keys) => Signer::Keys {
            keys,
            log: Some(&root),
        },
        None => Signer::Keyless(&with_scts),
    };
    let verified = verify_sigstore_bundle(&bundle, Some(&artifact), signer).map_err(|e| {
        let refused = matches!(e, BundleError::Unsupported(_));
        (refused, e.to_string())
    })?;
    if let Some(cert) = &verified.certificate {
        let identity = text("identity").unwrap_or_else(|| BEACON.into());
        let issuer = text("issuer").unwrap_or_else(|| GITHUB.into());
        let id = &cert.identity;
        if id.issuer.as_deref() != Some(issuer.as_str()) || !id.subjects().any(|s| s == identity) {
            return Err((false, format!("identity {}", id.describe())));
        }
    }
    Ok(())
}

#[test]
fn sigstore_conformance_bundle_verify_cases() {
    // sigstore-conformance test/assets/bundle-verify: `_fail` cases must fail, others pass.
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(path(CONFORMANCE))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let (mut passed, mut refused, mut wrong) = (0, Vec::new(), Vec::new());
    for dir in &dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let should_pass = !name.ends_with("_fail");
        let got = conformance_case(dir);
        let undecided = UNDECIDED.iter().any(|(case, _)| *case == name);
        let line = match (&got, should_pass) {
            (Ok(()), true) | (Err((false, _)), false) if !undecided => {
                passed += 1;
                "ok     "
            }
            (Ok(()), false) if undecided => {
                refused.push(name.clone());
                "refused"
            }
            (Err((true, _)), _) => {
                refused.push(name.clone());
                "refused"
            }
            _ => {
                wrong.push(name.clone());
                "WRONG  "
            }
        };
        println!("{line} {name}: {:?}", got.map_err(|(_, why)| why));
    }
    println!(
        "sigstore-conformance bundle-verify: {passed}/{} passed, {} refused (undecidable: {}), {} wrong ({})",
        dirs.len(),
        refused.len(),
        refused.join(", "),
        wrong.len(),
        wrong.join(", ")
    );
    assert!(wrong.is_empty(), "wrong verdicts: {wrong:?}");
    let known: Vec<String> = UNDECIDED.iter().map(|(c, _)| c.to_string()).collect();
    assert_eq!(refused, known, "undecided cases differ from the known list");
    assert_eq!(
        passed, CONFORMANCE_PASSED,
        "conformance cases decided correctly"
    );
    assert_eq!(passed + refused.len(), dirs.len());
}

#[test]
fn rekor_v2_and_timestamp_failures_fail_for_the_reason_their_name_gives() {
    // sigstore-conformance test/assets/bundle-verify: the Rekor v2 / RFC 3161 / trust-root
    // `_fail` cases, each with the kind of error its README describes.
    let log = "invalid transparency-log proof:";
    let stamp = "untrusted timestamp:";
    let cases = [
        ("rekor2-checkpoint-missing-log-signature_fail", log),
        ("rekor2-checkpoint-missing-origin_fail", log),
        ("rekor2-checkpoint-missing-root-hash_fail", log),
        ("rekor2-checkpoint-missing-size_fail", log),
        ("rekor2-checkpoint-no-matching-signature_fail", log),
        ("rekor2-no-inclusion-proof_fail", log),
        ("rekor2-dsse-mismatch-envelope_fail", log),
        ("rekor2-dsse-mismatch-sig_fail", log),
        (
            "rekor2-dsse-invalid-sig_fail",
            "the signature does not verify",
        ),
        ("rekor2-no-timestamp_fail", stamp),
        ("rekor2-timestamp-payload-mismatch_fail", stamp),
        (
            "rekor2-timestamp-outside-trust-root-tsa-validity_fail",
            stamp,
        ),
        ("rekor2-timestamp-outside-tsa-cert-validity_fail", stamp),
        (
            "rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail",
            stamp,
        ),
        (
            "rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail",
            stamp,
        ),
        (
            "rekor2-timestamp-with-incorrect-time_fail",
            "untrusted signing certificate:",
        ),
        (
            "intoto-tsa-timestamp-outside-cert-validity_fail",
            "untrusted signing certificate:",
        ),
        (
            "trust-root-tlog-missing-validity-start_fail",
            "trust root refused:",
        ),
    ];
    let cases: Vec<(&str, &str, String)> = cases
        .iter()
        .map(|(case, reason)| {
            let got = match conformance_case(&path(&format!("{CONFORMANCE}/{case}"))) {
                Ok(()) => "verified".to_string(),
                Err((_, why)) => why,
            };
            (*case, *reason, got)
        })
        .collect();
    let (passed, expected) = report("sigstore-conformance reasons", &cases);
    assert_eq!(passed, expected);
}
