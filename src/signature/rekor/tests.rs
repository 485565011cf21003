//! SET and entry-binding checks against a real public-good bundle (containers/image fixture
//! `dir-img-cosign-fulcio-rekor-valid`) and the sigstore-rs `rekord` bundle.

use super::*;

use std::collections::BTreeMap;

use crate::policy::KeylessTrust;

const FIXTURES: &str = "../shared/fixtures/third_party";

/// The annotations and payload of containers/image's `sigstore-json` signature file.
fn containers_image_layer() -> (Vec<u8>, BTreeMap<String, String>) {
    let path = format!(
        "{FIXTURES}/containers-image/signature/fixtures/dir-img-cosign-fulcio-rekor-valid/signature-1"
    );
    let blob = std::fs::read(path).unwrap();
    let json = blob.strip_prefix(b"\x00sigstore-json\n").unwrap();
    let doc: serde_json::Value = serde_json::from_slice(json).unwrap();
    let payload = BASE64.decode(doc["payload"].as_str().unwrap()).unwrap();
    let annotations = serde_json::from_value(doc["annotations"].clone()).unwrap();
    (payload, annotations)
}

fn trust(rekor_pub: &str) -> KeylessTrust {
    let ca = std::fs::read(format!(
        "{FIXTURES}/containers-image/signature/fixtures/fulcio_v1.crt.pem"
    ))
    .unwrap();
    let key = std::fs::read(format!("{FIXTURES}/{rekor_pub}")).unwrap();
    KeylessTrust::from_pem("test", &ca, &[&key]).unwrap()
}

fn public_good() -> KeylessTrust {
    trust("containers-image/signature/fixtures/rekor.pub")
}

#[test]
fn public_good_set_verifies_and_binds_the_layer() {
    let (payload, annotations) = containers_image_layer();
    let bundle = &annotations["dev.sigstore.cosign/bundle"];
    let verified = verify_bundle(bundle, &public_good()).unwrap();
    assert_eq!(verified.integrated_time, 1_674_247_893);
    assert_eq!(verified.log_index, 11_605_770);
    assert_eq!(verified.entry.kind, "hashedrekord");
    let signature = BASE64
        .decode(&annotations["dev.cosignproject.cosign/signature"])
        .unwrap();
    verified.entry.binds(&signature, &payload).unwrap();
    let cert = &annotations["dev.sigstore.cosign/certificate"];
    let mut reader = cert.as_bytes();
    let der = rustls_pemfile::certs(&mut reader).next().unwrap().unwrap();
    verified.entry.binds_certificate(&der).unwrap();
}

#[test]
fn canonical_payload_sorts_keys_as_rfc_8785_does() {
    let p = Payload {
        body: "Ym9keQ==".into(),
        integrated_time: 7,
        log_index: 9,
        log_id: "ab".into(),
    };
    let text = String::from_utf8(canonical_payload(&p).unwrap()).unwrap();
    assert_eq!(
        text,
        r#"{"body":"Ym9keQ==","integratedTime":7,"logID":"ab","logIndex":9}"#
    );
}

#[test]
fn a_tampered_set_or_payload_field_fails_verification() {
    let (_, annotations) = containers_image_layer();
    let bundle = &annotations["dev.sigstore.cosign/bundle"];
    let later = bundle.replace("1674247893", "1674247894");
    assert_eq!(
        verify_bundle(&later, &public_good()).unwrap_err(),
        RekorError::InvalidSet(
            "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d".into()
        )
    );
    let mut value: serde_json::Value = serde_json::from_str(bundle).unwrap();
    value["SignedEntryTimestamp"] = "MEUCIQCyXhl6r7bg0IreJ91cZbEp7mzAwYdTUhU+irzlQs/pDQIgCA/VPgbTLtDcnSh2P/Ci+HnmVJ1ouwGhLLzBeGyz4vA=".into();
    let forged = serde_json::to_string(&value).unwrap();
    assert!(matches!(
        verify_bundle(&forged, &public_good()),
        Err(RekorError::InvalidSet(_))
    ));
    assert!(matches!(
        verify_bundle("this is not a valid SET", &public_good()),
        Err(RekorError::Malformed(_))
    ));
}

// containers/image: cosign.pub configured as the Rekor key (a key mismatch).
#[test]
fn an_entry_of_a_log_whose_key_is_not_configured_is_refused() {
    let (_, annotations) = containers_image_layer();
    let bundle = &annotations["dev.sigstore.cosign/bundle"];
    let err = verify_bundle(
        bundle,
        &trust("containers-image/signature/fixtures/cosign.pub"),
    )
    .unwrap_err();
    assert!(matches!(err, RekorError::UnknownLog(_)), "{err}");
}

#[test]
fn the_entry_must_record_this_signature_payload_and_certificate() {
    let (payload, annotations) = containers_image_layer();
    let verified =
        verify_bundle(&annotations["dev.sigstore.cosign/bundle"], &public_good()).unwrap();
    let signature = BASE64
        .decode(&annotations["dev.cosignproject.cosign/signature"])
        .unwrap();
    let mut other = signature.clone();
    other[10] ^= 1;
    assert_eq!(
        verified.entry.binds(&other, &payload),
        Err(RekorError::NotBound("another signature"))
    );
    assert_eq!(
        verified.entry.binds(&signature, b"{}"),
        Err(RekorError::NotBound("the digest of another payload"))
    );
    assert_eq!(
        verified.entry.binds_certificate(b"not this one"),
        Err(RekorError::NotBound("another certificate"))
    );
}

#[test]
fn oversized_and_negative_bundles_are_refused_before_any_crypto() {
    let big = " ".repeat(MAX_BUNDLE_BYTES + 1);
    assert!(matches!(
        verify_bundle(&big, &public_good()),
        Err(RekorError::Malformed(_))
    ));
    let negative = r#"{"SignedEntryTimestamp":"","Payload":{"body":"","integratedTime":-1,"logIndex":0,"logID":""}}"#;
    assert!(matches!(
        verify_bundle(negative, &public_good()),
        Err(RekorError::Malformed(_))
    ));
    let extra = r#"{"SignedEntryTimestamp":"","Payload":{"body":"","integratedTime":1,"logIndex":0,"logID":"","x":1}}"#;
    assert!(matches!(
        verify_bundle(extra, &public_good()),
        Err(RekorError::Malformed(_))
    ));
}

// sigstore-rs extracted/keyless_layer: a `rekord` entry with an x509 signature.
#[test]
fn sigstore_rs_rekord_entry_is_read_and_bound() {
    let dir = format!("{FIXTURES}/sigstore-rs/extracted");
    let bundle = std::fs::read_to_string(format!("{dir}/keyless_layer/rekor_bundle.json")).unwrap();
    let payload = std::fs::read(format!("{dir}/keyless_layer/payload.json")).unwrap();
    let signature = std::fs::read_to_string(format!("{dir}/keyless_layer/signature.b64")).unwrap();
    let trust = trust("sigstore-rs/extracted/trust/rekor.pub");
    let verified = verify_bundle(bundle.trim(), &trust).unwrap();
    assert_eq!(verified.entry.kind, "rekord");
    let signature = BASE64.decode(signature.trim()).unwrap();
    verified.entry.binds(&signature, &payload).unwrap();
}
