//! Keyless conformance against other projects' real signatures, offline:
//!
//! * containers/image `signature/fixtures/dir-img-cosign-fulcio-rekor-valid` (a public-good
//!   Fulcio + Rekor signature: mitr@redhat.com, issuer https://github.com/login/oauth) with
//!   `fulcio_v1.crt.pem`, `rekor.pub`, `cosign.pub`, `some-rsa-key.pub`; expected verdicts from
//!   containers/image `signature/policy_eval_sigstore_test.go`
//!   (`TestPRrSigstoreSignedIsSignatureAccepted`, Fulcio cases, and the Rekor-key checks of
//!   `TestPRSigstoreSignedPrepareTrustRoot`);
//! * sigstore-rs `extracted/keyless_layer` (a 2021 Fulcio certificate without issuer extension,
//!   a `rekord` entry) with `extracted/trust/*` and `trust_root/prod/trusted_root.json`, and
//!   `extracted/key_signed_layer` (a key signature carrying a bundle of another signature);
//!   expectations from sigstore-rs `src/cosign/signature_layers.rs` tests, made stricter where
//!   Signet is (the bundle must record this signature).
//!
//! Every case prints; the totals are printed as `passed/expected` (run with `--nocapture`).
//! Not covered here: containers/image's key+Rekor and private-PKI (`dir-img-cosign-pki-valid`)
//! cases, which need Rekor for key authorities and certificate authorities without Rekor.
// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use signet::policy::{
    AuthorityKind, CertificateIdentity, IdentityRule, KeylessAuthority, KeylessTrust, Matcher,
    PolicySet, TrustRoots,
};
use signet::reference::{Digest, ImageReference};
use signet::signature::{SignatureLayer, Subject, check_keyless_authority};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/fixtures/third_party"
);
const CI: &str = "containers-image/signature/fixtures";
const CI_IMAGE: &str = "192.168.64.2:5000/cosign-signed/fulcio-rekor-1";
const OAUTH: &str = "https://github.com/login/oauth";

fn read(path: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn text(path: &str) -> String {
    String::from_utf8(read(path)).unwrap()
}

/// A containers/image `sigstore-json` signature file as a `.sig` layer.
fn ci_layer() -> SignatureLayer {
    let blob = read(&format!(
        "{CI}/dir-img-cosign-fulcio-rekor-valid/signature-1"
    ));
    let json = blob.strip_prefix(b"\x00sigstore-json\n").unwrap();
    let doc: serde_json::Value = serde_json::from_slice(json).unwrap();
    SignatureLayer {
        payload: BASE64.decode(doc["payload"].as_str().unwrap()).unwrap(),
        annotations: serde_json::from_value(doc["annotations"].clone()).unwrap(),
    }
}

fn without(mut layer: SignatureLayer, annotation: &str) -> SignatureLayer {
    assert!(
        layer.annotations.remove(annotation).is_some(),
        "{annotation}"
    );
    layer
}

fn with(mut layer: SignatureLayer, annotation: &str, value: &str) -> SignatureLayer {
    layer.annotations.insert(annotation.into(), value.into());
    layer
}

fn exact(issuer: &str, subject: &str) -> CertificateIdentity {
    CertificateIdentity {
        issuer: Matcher::Exact(issuer.into()),
        subject: Matcher::Exact(subject.into()),
    }
}

fn authority(trust: KeylessTrust, identity: CertificateIdentity) -> KeylessAuthority {
    KeylessAuthority {
        identities: vec![identity],
        trust: Arc::new(trust),
        identity: IdentityRule::MatchRepository,
        threshold: 1,
    }
}

/// CRI-O's form: `caData` + `rekorPublicKeyData`(s).
fn crio_trust(ca: &[u8], rekor_keys: &[&str]) -> Result<KeylessTrust, String> {
    let keys: Vec<Vec<u8>> = rekor_keys
        .iter()
        .map(|k| read(&format!("{CI}/{k}")))
        .collect();
    let keys: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    KeylessTrust::from_pem("crio", ca, &keys).map_err(|e| e.to_string())
}

fn verdict(
    trust: Result<KeylessTrust, String>,
    identity: CertificateIdentity,
    image: &str,
    digest: &str,
    layer: SignatureLayer,
) -> Result<String, String> {
    let authority = authority(trust?, identity);
    let image = ImageReference::parse(image).unwrap();
    let digest = Digest::parse(digest).unwrap();
    let subject = Subject {
        image: &image,
        digest: &digest,
    };
    check_keyless_authority(&authority, subject, &[layer])
        .map(|a| a.key_fingerprint)
        .map_err(|m| m.to_string())
}

/// Run `cases` (name, expected admit, verdict), print each, return (passed, expected). Names
/// ending in `[Signet]` are Signet's own expectation, derived from the fixture, not upstream's.
fn tally(suite: &str, cases: Vec<(&str, bool, Result<String, String>)>) -> (usize, usize) {
    let mut passed = 0;
    for (name, admit, verdict) in &cases {
        let ok = verdict.is_ok() == *admit;
        passed += usize::from(ok);
        let mark = if ok { "ok  " } else { "FAIL" };
        println!("{mark} {suite}: {name}: {verdict:?}");
    }
    let own = cases
        .iter()
        .filter(|(n, ..)| n.ends_with("[Signet]"))
        .count();
    println!(
        "{suite}: {passed}/{} passed ({} upstream verdicts, {own} Signet-specific)",
        cases.len(),
        cases.len() - own
    );
    (passed, cases.len())
}

const SET: &str = "dev.sigstore.cosign/bundle";
const CERT: &str = "dev.sigstore.cosign/certificate";
const CHAIN: &str = "dev.sigstore.cosign/chain";

#[test]
fn containers_image_fulcio_rekor_cases_get_the_upstream_verdicts() {
    let manifest = read(&format!(
        "{CI}/dir-img-cosign-fulcio-rekor-valid/manifest.json"
    ));
    let digest = Digest::sha256_of(&manifest).to_string();
    let fulcio_v1 = read(&format!("{CI}/fulcio_v1.crt.pem"));
    let chain = ci_layer().annotations[CHAIN].clone();
    let mitr = || exact(OAUTH, "mitr@redhat.com");
    let run = |trust, identity, layer| verdict(trust, identity, CI_IMAGE, &digest, layer);
    let trust = |keys: &[&str]| crio_trust(&fulcio_v1, keys);
    let keys = |keys: &[&str]| run(trust(keys), mitr(), ci_layer());
    let layer = |layer| run(trust(&["rekor.pub"]), mitr(), layer);
    let config = |trust| run(trust, mitr(), ci_layer());
    let bad_rekor_data = KeylessTrust::from_pem("x", &fulcio_v1, &[b"this is invalid"]);
    let cases = vec![
        ("rekor.pub", true, keys(&["rekor.pub"])),
        (
            "rekor.pub + cosign.pub",
            true,
            keys(&["rekor.pub", "cosign.pub"]),
        ),
        (
            "cosign.pub + rekor.pub",
            true,
            keys(&["cosign.pub", "rekor.pub"]),
        ),
        ("no Rekor key configured", false, keys(&[])),
        (
            "missing SET annotation",
            false,
            layer(without(ci_layer(), SET)),
        ),
        (
            "missing certificate annotation",
            false,
            layer(without(ci_layer(), CERT)),
        ),
        (
            "missing chain annotation",
            false,
            layer(without(ci_layer(), CHAIN)),
        ),
        (
            "chain as CA data, chain annotation missing",
            true,
            run(
                crio_trust(chain.as_bytes(), &["rekor.pub"]),
                mitr(),
                without(ci_layer(), CHAIN),
            ),
        ),
        (
            "invalid certificate",
            false,
            layer(with(ci_layer(), CERT, "this is not a valid certificate")),
        ),
        (
            "another email",
            false,
            run(
                trust(&["rekor.pub"]),
                exact(OAUTH, "this-does-not-match@example.com"),
                ci_layer(),
            ),
        ),
        (
            "invalid SET",
            false,
            layer(with(ci_layer(), SET, "this is not a valid SET")),
        ),
        ("cosign.pub as the Rekor key", false, keys(&["cosign.pub"])),
        ("RSA Rekor key", false, keys(&["some-rsa-key.pub"])),
        (
            "invalid CA data",
            false,
            config(crio_trust(b"invalid", &["rekor.pub"])),
        ),
        (
            "invalid Rekor key data",
            false,
            config(bad_rekor_data.map_err(|e| e.to_string())),
        ),
    ];
    let (passed, expected) = tally("containers/image", cases);
    assert_eq!(passed, expected);
}

const RS: &str = "sigstore-rs/extracted";
const RS_IMAGE: &str = "registry-testing.svc.lan/kubewarden/disallow-service-nodeport";
const RS_DIGEST: &str = "sha256:5f481572d088dc4023afb35fced9530ced3d9b03bf7299c6f492163cb9f0452e";

/// A layer from the files of an `extracted/` directory: (annotation, file) pairs.
fn rs_layer(dir: &str, files: &[(&str, &str)]) -> SignatureLayer {
    let file = |name: &str| text(&format!("{RS}/{dir}/{name}")).trim().to_string();
    SignatureLayer {
        payload: read(&format!("{RS}/{dir}/payload.json")),
        annotations: files
            .iter()
            .map(|(annotation, name)| (annotation.to_string(), file(name)))
            .collect(),
    }
}

fn keyless_layer() -> SignatureLayer {
    let files = [
        ("dev.cosignproject.cosign/signature", "signature.b64"),
        (CERT, "certificate.pem"),
        (SET, "rekor_bundle.json"),
    ];
    rs_layer("keyless_layer", &files)
}

fn rs_trust(root: &str) -> Result<KeylessTrust, String> {
    let rekor = read(&format!("{RS}/trust/rekor.pub"));
    KeylessTrust::from_pem(
        "sigstore-rs",
        &read(&format!("{RS}/trust/{root}")),
        &[&rekor],
    )
    .map_err(|e| e.to_string())
}

fn public_good() -> Result<KeylessTrust, String> {
    let roots = TrustRoots::load(&[PathBuf::from(format!(
        "{}/examples/trust-roots/sigstore-public-good.json",
        env!("CARGO_MANIFEST_DIR")
    ))])
    .map_err(|e| e.to_string())?;
    Ok(roots.get("sigstore-public-good").unwrap().as_ref().clone())
}

#[test]
fn sigstore_rs_keyless_layer_gets_the_upstream_verdicts() {
    // The 2021 certificate has no issuer extension: policy-controller needs an issuer
    // constraint, and only a pattern accepting the empty string admits it (as in cosign).
    let any_issuer = || CertificateIdentity {
        issuer: Matcher::regex(".*").unwrap(),
        subject: Matcher::Exact("flavio@castelli.me".into()),
    };
    let run = |trust, identity, layer| verdict(trust, identity, RS_IMAGE, RS_DIGEST, layer);
    let root_2021 = || rs_trust("fulcio_root_sigstore_2021-03.crt.pem");
    let someone_else = CertificateIdentity {
        issuer: Matcher::regex(".*").unwrap(),
        subject: Matcher::Exact("someone@else.me".into()),
    };
    let files = [
        ("dev.cosignproject.cosign/signature", "signature.b64"),
        (SET, "rekor_bundle.json"),
    ];
    let key_signed = rs_layer("key_signed_layer", &files);
    let busybox = "sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b";
    let cases = vec![
        (
            "2021-03 root + rekor.pub",
            true,
            run(root_2021(), any_issuer(), keyless_layer()),
        ),
        (
            "public-good trusted_root.json [Signet]",
            true,
            run(public_good(), any_issuer(), keyless_layer()),
        ),
        (
            "another email",
            false,
            run(root_2021(), someone_else, keyless_layer()),
        ),
        (
            "an issuer the certificate does not have [Signet]",
            false,
            run(
                root_2021(),
                exact(OAUTH, "flavio@castelli.me"),
                keyless_layer(),
            ),
        ),
        (
            "only the 2021-10 root [Signet]",
            false,
            run(
                rs_trust("fulcio_root_sigstore_2021-10.crt.pem"),
                any_issuer(),
                keyless_layer(),
            ),
        ),
        (
            "key signature carrying another signature's bundle (sigstore-rs accepts its SET) [Signet]",
            false,
            verdict(
                root_2021(),
                any_issuer(),
                "registry-testing.svc.lan/busybox",
                busybox,
                key_signed,
            ),
        ),
    ];
    let (passed, expected) = tally("sigstore-rs", cases);
    assert_eq!(passed, expected);
}

#[test]
fn kubernetes_release_example_loads_with_the_shipped_public_good_root() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
    let roots = TrustRoots::load(&[PathBuf::from(format!("{root}/trust-roots"))]).unwrap();
    assert_eq!(roots.names(), ["sigstore-public-good"]);
    let policy = PolicySet::load_with_trust_roots(
        &[PathBuf::from(format!("{root}/kubernetes-release.yaml"))],
        &roots,
    )
    .unwrap();
    let authority = &policy.policies()[0].authorities[0];
    let AuthorityKind::Keyless(keyless) = &authority.kind else {
        panic!("a keyless authority")
    };
    assert_eq!(
        keyless.identities[0].describe(),
        r#"issuer "https://accounts.google.com" subject "krel-trust@k8s-releng-prod.iam.gserviceaccount.com""#
    );
    assert_eq!(keyless.trust.certificate_authorities.len(), 2);
    let image = ImageReference::parse("registry.k8s.io/kube-apiserver:v1.34.0").unwrap();
    assert_eq!(policy.matching(&image, None).len(), 1);
    // Without --trust-root, `trustRootRef: sigstore-public-good` is the embedded snapshot.
    let without_root =
        PolicySet::load(&[PathBuf::from(format!("{root}/kubernetes-release.yaml"))]).unwrap();
    let AuthorityKind::Keyless(keyless) = &without_root.policies()[0].authorities[0].kind else {
        panic!("a keyless authority")
    };
    assert!(
        keyless
            .trust
            .origin
            .starts_with("embedded Sigstore public-good")
    );
}
