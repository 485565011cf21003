//! The Sigstore public-good trust root embedded in the binary: a keyless policy that names no
//! trust (the most common policy-controller policy) loads with no `--trust-root` and verifies
//! other projects' real public-good signatures, offline, through the same code as the webhook:
//!
//! * containers/image `signature/fixtures/dir-img-cosign-fulcio-rekor-valid` (a 2022 Fulcio +
//!   Rekor signature by mitr@redhat.com, issuer https://github.com/login/oauth);
//! * sigstore-rs `extracted/keyless_layer` (a 2021 Fulcio certificate, 2021 root);
//! * sigstore-rs `tests/data/bundle_v03.json` (a cosign 3 bundle of kubewarden-controller, a
//!   GitHub Actions identity).
//!
//! Each is also refused for another identity, so the test fails if the policy admitted
//! anything.
// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use signet::policy::{AuthorityKind, KeyAuthority, KeylessAuthority, PolicySet, TrustRoots};
use signet::reference::{Digest, ImageReference};
use signet::registry::{SIGSTORE_BUNDLE_MEDIA_TYPE, SignatureBundle, SignatureMaterial};
use signet::signature::{
    SignatureLayer, Subject, check_key_authority, check_keyless_authority, check_keyless_material,
};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/fixtures/third_party"
);
const CI: &str = "containers-image/signature/fixtures";

fn read(path: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The policy, with `identity` as the YAML of one identity, loaded with no trust root.
fn keyless(identity: &str) -> KeylessAuthority {
    keyless_with(identity, "")
}

/// [`keyless`] with `extra` keyless fields (indented 6 spaces).
fn keyless_with(identity: &str, extra: &str) -> KeylessAuthority {
    let text = format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {{name: p}}\n\
         spec:\n  images: [{{glob: '**'}}]\n  authorities:\n  - keyless:\n      url: https://fulcio.sigstore.dev\n\
         {extra}\x20     identities:\n      - {identity}\n"
    );
    let set = PolicySet::from_yaml_with_trust_roots(&text, "p.yaml", &TrustRoots::default())
        .unwrap_or_else(|e| panic!("{e}"));
    match &set.policies()[0].authorities[0].kind {
        AuthorityKind::Keyless(k) => k.clone(),
        other => panic!("keyless expected, got {other:?}"),
    }
}

fn layer_verdict(
    authority: &KeylessAuthority,
    image: &str,
    digest: &str,
    layer: SignatureLayer,
) -> Result<(), String> {
    let image = ImageReference::parse(image).unwrap();
    let digest = Digest::parse(digest).unwrap();
    let subject = Subject {
        image: &image,
        digest: &digest,
    };
    check_keyless_authority(authority, subject, &[layer])
        .map(|_| ())
        .map_err(|m| m.to_string())
}

fn containers_image_layer() -> SignatureLayer {
    fixture_layer("dir-img-cosign-fulcio-rekor-valid")
}

/// A containers/image `sigstore-json` signature file as a `.sig` layer.
fn fixture_layer(dir: &str) -> SignatureLayer {
    let blob = read(&format!("{CI}/{dir}/signature-1"));
    let json = blob.strip_prefix(b"\x00sigstore-json\n").unwrap();
    let doc: serde_json::Value = serde_json::from_slice(json).unwrap();
    SignatureLayer {
        payload: BASE64.decode(doc["payload"].as_str().unwrap()).unwrap(),
        annotations: serde_json::from_value(doc["annotations"].clone()).unwrap(),
    }
}

#[test]
fn containers_image_fulcio_rekor_signature_verifies_with_no_trust_root_flag() {
    let manifest = read(&format!(
        "{CI}/dir-img-cosign-fulcio-rekor-valid/manifest.json"
    ));
    let digest = Digest::sha256_of(&manifest).to_string();
    let image = "192.168.64.2:5000/cosign-signed/fulcio-rekor-1";
    let mitr = keyless("{issuer: https://github.com/login/oauth, subject: mitr@redhat.com}");
    layer_verdict(&mitr, image, &digest, containers_image_layer()).unwrap();
    let other =
        keyless("{issuer: https://github.com/login/oauth, subjectRegExp: 'someone@redhat.com'}");
    assert!(layer_verdict(&other, image, &digest, containers_image_layer()).is_err());
}

#[test]
fn sigstore_rs_2021_keyless_layer_verifies_with_no_trust_root_flag() {
    let dir = "sigstore-rs/extracted/keyless_layer";
    let file = |name: &str| {
        String::from_utf8(read(&format!("{dir}/{name}")))
            .unwrap()
            .trim()
            .to_string()
    };
    let layer = || SignatureLayer {
        payload: read(&format!("{dir}/payload.json")),
        annotations: [
            ("dev.cosignproject.cosign/signature", "signature.b64"),
            ("dev.sigstore.cosign/certificate", "certificate.pem"),
            ("dev.sigstore.cosign/bundle", "rekor_bundle.json"),
        ]
        .iter()
        .map(|(annotation, name)| (annotation.to_string(), file(name)))
        .collect(),
    };
    let image = "registry-testing.svc.lan/kubewarden/disallow-service-nodeport";
    let digest = "sha256:5f481572d088dc4023afb35fced9530ced3d9b03bf7299c6f492163cb9f0452e";
    // The 2021 certificate has no issuer extension: only an issuer pattern matching "" fits.
    // It carries no SCT either: denied as policy-controller denies it by default, admitted
    // with insecureIgnoreSCT: true on its Rekor entry.
    let flavio = "{issuerRegExp: '.*', subject: flavio@castelli.me}";
    let denied = layer_verdict(&keyless(flavio), image, digest, layer()).unwrap_err();
    assert!(denied.contains("no SCT"), "{denied}");
    let ignore_sct = "      insecureIgnoreSCT: true\n";
    layer_verdict(&keyless_with(flavio, ignore_sct), image, digest, layer()).unwrap();
    let other = keyless_with("{issuerRegExp: '.*', subject: someone@else.me}", ignore_sct);
    assert!(layer_verdict(&other, image, digest, layer()).is_err());
}

#[test]
fn sigstore_rs_cosign_3_bundle_verifies_with_no_trust_root_flag() {
    let image = ImageReference::parse("ghcr.io/kubewarden/kubewarden-controller:v1.34.0").unwrap();
    let digest =
        Digest::parse("sha256:c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172")
            .unwrap();
    let material = SignatureMaterial {
        layers: Vec::new(),
        bundles: vec![SignatureBundle {
            bytes: read("sigstore-rs/tests/data/bundle_v03.json"),
            artifact_type: SIGSTORE_BUNDLE_MEDIA_TYPE.into(),
            manifest_digest: String::new(),
            annotations: Default::default(),
        }],
    };
    let subject = Subject {
        image: &image,
        digest: &digest,
    };
    let github = "https://token.actions.githubusercontent.com";
    let kubewarden = keyless(&format!(
        "{{issuer: {github}, subjectRegExp: 'https://github.com/kubewarden/.*'}}"
    ));
    check_keyless_material(&kubewarden, subject, &material).unwrap();
    let myorg = keyless(&format!(
        "{{issuer: {github}, subjectRegExp: 'https://github.com/myorg/.*'}}"
    ));
    assert!(check_keyless_material(&myorg, subject, &material).is_err());
}

/// A key authority with `ctlog` (policy-controller: Rekor keys from `ctlog.trustRootRef`, else
/// public Rekor's for a `ctlog.url`, else none), from a policy with no `--trust-root`.
fn key_with(ctlog: &str) -> KeyAuthority {
    let pem = String::from_utf8(read(&format!("{CI}/cosign2.pub"))).unwrap();
    let data: String = pem.lines().map(|l| format!("        {l}\n")).collect();
    let text = format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {{name: p}}\n\
         spec:\n  images: [{{glob: '**'}}]\n  authorities:\n  - key:\n      data: |\n{data}{ctlog}"
    );
    let set = PolicySet::from_yaml_with_trust_roots(&text, "p.yaml", &TrustRoots::default())
        .unwrap_or_else(|e| panic!("{e}"));
    match &set.policies()[0].authorities[0].kind {
        AuthorityKind::Key(k) => k.clone(),
        other => panic!("key expected, got {other:?}"),
    }
}

/// containers/image `dir-img-cosign-key-rekor-valid`: a cosign2.pub signature logged in public
/// Rekor. With `ctlog.url` its SET must verify with the embedded root's Rekor key; without the
/// SET it is denied; without `ctlog` no Rekor is required (policy-controller's default).
#[test]
fn key_authority_with_ctlog_requires_a_set_from_public_rekor() {
    let dir = "dir-img-cosign-key-rekor-valid";
    let manifest = read(&format!("{CI}/{dir}/manifest.json"));
    let digest = Digest::sha256_of(&manifest);
    let image = ImageReference::parse("192.168.64.2:5000/cosign-signed/key-1").unwrap();
    let subject = Subject {
        image: &image,
        digest: &digest,
    };
    let logged = key_with("    ctlog: {url: https://rekor.sigstore.dev}\n");
    assert!(logged.rekor.is_some());
    check_key_authority(&logged, subject, &[fixture_layer(dir)]).unwrap();
    let mut unlogged = fixture_layer(dir);
    assert!(
        unlogged
            .annotations
            .remove("dev.sigstore.cosign/bundle")
            .is_some()
    );
    assert!(check_key_authority(&logged, subject, &[unlogged.clone()]).is_err());
    let plain = key_with("");
    assert!(plain.rekor.is_none());
    check_key_authority(&plain, subject, &[unlogged]).unwrap();
    assert!(
        key_with("    ctlog: {}\n").rekor.is_none(),
        "an empty ctlog uses no Rekor"
    );
}
