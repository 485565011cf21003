//! The body of every fuzz target, one function a target.
//!
//! The cargo-fuzz binaries in `fuzz_targets/` call these, and so does the ordinary test
//! `tests/it/fuzz_seeds.rs`, which replays every seed (and a fixed set of mutations of each) through
//! the same functions. The test build therefore compiles the targets' code against today's API on
//! every `cargo test`, without the ASAN release build that `cargo fuzz` needs; the fuzzers proper
//! run in the longer, documented `scripts/fuzz.sh`.
//!
//! Each function panics only where the property it checks is broken.

#![allow(dead_code)]
// each fuzz binary uses one entry of the six
// A fuzz target reports a broken property by panicking; its fixed inputs are expected to parse.
#![allow(clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::LazyLock;

use signet::admission::parse_review;
use signet::policy::{AuthorityKind, Format, KeyAuthority, PolicySet, detect_format};
use signet::reference::{Digest, ImageReference};
use signet::signature::notation::{
    COSE_MEDIA_TYPE, JWS_MEDIA_TYPE, NotationAnchors, NotationTarget, TrustedIdentity,
    verify_notation_envelope,
};
use signet::signature::{
    SIGNATURE_ANNOTATION, SignatureBundle, SignatureLayer, SignatureMaterial, SimpleSigningPayload,
    Subject, check_key_material, parse_chain, parse_signing_certificate,
};
use signet::workload::{WorkloadKind, extract_images};

/// One target's body.
pub type Entry = fn(&[u8]);

/// The targets by name, as `cargo fuzz list` names them and `seeds/<name>/` holds their inputs.
pub const TARGETS: [(&str, Entry); 6] = [
    ("admission_review", admission_review),
    ("cluster_image_policy", cluster_image_policy),
    ("containers_policy", containers_policy),
    ("image_reference", image_reference),
    ("notation_envelope", notation_envelope),
    ("signature_material", signature_material),
];

/// AdmissionReview decoding and image extraction: any body either fails to parse or yields an
/// object whose images are extracted (or refused) without panicking.
pub fn admission_review(data: &[u8]) {
    let Ok(request) = parse_review(data) else {
        return;
    };
    let Some(kind) = WorkloadKind::from_kind(&request.kind.group, &request.kind.kind) else {
        return;
    };
    for object in [&request.object, &request.old_object].into_iter().flatten() {
        if let Ok(value) = serde_json::to_value(object) {
            let _ = extract_images(kind, &value);
        }
    }
}

/// ClusterImagePolicy YAML (and JSON): loads or is refused with a reason, never panics.
pub fn cluster_image_policy(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = PolicySet::from_yaml(text, "fuzz.yaml");
    }
}

/// containers-policy.json (CRI-O, podman): the input is also wrapped so it is always detected as
/// that format, then loaded or refused with a reason, never panicking.
pub fn containers_policy(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = PolicySet::from_yaml(text, "policy.json");
    let wrapped = format!(r#"{{"default":[{{"type":"reject"}}],"transports":{text}}}"#);
    if detect_format(&wrapped) == Format::ContainersPolicy {
        let _ = PolicySet::from_yaml(&wrapped, "policy.json");
    }
}

/// Image reference parsing: whatever parses prints back to a reference that parses to itself.
pub fn image_reference(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Digest::parse(text);
    if let Ok(image) = ImageReference::parse(text) {
        let printed = image.to_string();
        let again = ImageReference::parse(&printed).expect("a printed reference parses");
        assert_eq!(again, image, "{text:?} -> {printed:?}");
        let _ = image.name();
    }
}

static AUTHORITY: LazyLock<KeyAuthority> = LazyLock::new(|| {
    let set = PolicySet::from_yaml(signet::EMBEDDED_POLICY, "embedded").expect("example policy");
    set.policies()
        .iter()
        .flat_map(|p| &p.authorities)
        .find_map(|a| match &a.kind {
            AuthorityKind::Key(key) => Some(key.clone()),
            _ => None,
        })
        .expect("the example policy has a key authority")
});

/// Signature payloads and Sigstore bundles from a registry: parsed and checked against the
/// example policy's key authority without panicking; random bytes are never accepted.
pub fn signature_material(data: &[u8]) {
    let _ = SimpleSigningPayload::parse(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_signing_certificate(text);
        let _ = parse_chain(text);
    }
    let image = ImageReference::parse("registry.example/app:v1").expect("reference");
    let digest = Digest::sha256_of(b"image");
    let material = SignatureMaterial {
        layers: vec![SignatureLayer {
            payload: data.to_vec(),
            annotations: BTreeMap::from([(SIGNATURE_ANNOTATION.to_string(), "MEUCIQ==".into())]),
        }],
        bundles: vec![SignatureBundle {
            bytes: data.to_vec(),
            artifact_type: "application/vnd.dev.sigstore.bundle.v0.3+json".into(),
            manifest_digest: digest.to_string(),
            annotations: BTreeMap::new(),
        }],
    };
    let subject = Subject {
        image: &image,
        digest: &digest,
    };
    assert!(check_key_material(&AUTHORITY, subject, &material).is_err());
}

/// A Notation signature envelope (JWS and COSE) verified against no `ca` or
/// `signingAuthority` root (and GlobalSign's TSA root, for the timestamp path): decoded or
/// refused without panicking, and never authentic.
pub fn notation_envelope(data: &[u8]) {
    static TSA_ROOT: &[u8] = include_bytes!(
        "../tests/fixtures/notation/notation-go/verifier/testdata/truststore/x509/tsa/test-timestamp/globalsignRoot.cer"
    );
    let anchors = NotationAnchors {
        tsa: vec![TSA_ROOT.to_vec()],
        ..NotationAnchors::default()
    };
    let target = NotationTarget {
        digest: "sha256:332382e662660c9947840cc733cc1a2976ca7eaa3bc36e831d8b1688835b7bad",
        media_type: None,
        size: None,
    };
    let now = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_796_479_200);
    for media_type in [JWS_MEDIA_TYPE, COSE_MEDIA_TYPE] {
        let identities = [TrustedIdentity::Any];
        if let Ok(checks) =
            verify_notation_envelope(media_type, data, &target, &anchors, &identities, now)
        {
            assert!(
                !checks.authenticity.passed(),
                "authentic without a trust store"
            );
        }
    }
}
