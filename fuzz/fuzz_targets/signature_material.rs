//! Signature payloads and Sigstore bundles from a registry: parsed and checked against the
//! example policy's key authority without panicking; random bytes are never accepted.
#![no_main]

use std::collections::BTreeMap;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use signet::policy::{AuthorityKind, KeyAuthority, PolicySet};
use signet::reference::{Digest, ImageReference};
use signet::signature::{
    SIGNATURE_ANNOTATION, SignatureBundle, SignatureLayer, SignatureMaterial,
    SimpleSigningPayload, Subject, check_key_material, parse_chain, parse_signing_certificate,
};

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

fuzz_target!(|data: &[u8]| {
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
});
