//! cosign's legacy attestations pushed by hand: one DSSE envelope as the layer of the
//! `sha256-<hex>.att` tag, with the annotations cosign writes (`predicateType`, an empty
//! signature annotation) and any others a test adds (certificate, chain, Rekor bundle).

use serde_json::{Value, json};

use super::images::{push_blob, push_manifest};
use super::registry::TestRegistry;

pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// Push `envelope` as the only layer of `repo`'s `.att` tag for `digest`, annotated with
/// `predicate_type` and `annotations`.
pub async fn push_attestation_layer(
    registry: &TestRegistry,
    at: (&str, &str),
    envelope: Vec<u8>,
    predicate_type: &str,
    annotations: &[(&str, &str)],
) {
    push_attestation_layers(registry, at, vec![envelope], predicate_type, annotations).await;
}

/// Push `envelopes` as the layers of `repo`'s `.att` tag for `digest`, each annotated with
/// `predicate_type` and `annotations`.
pub async fn push_attestation_layers(
    registry: &TestRegistry,
    (repo, digest): (&str, &str),
    envelopes: Vec<Vec<u8>>,
    predicate_type: &str,
    annotations: &[(&str, &str)],
) {
    let mut map =
        json!({"dev.cosignproject.cosign/signature": "", "predicateType": predicate_type});
    for (name, value) in annotations {
        map[*name] = Value::String(value.to_string());
    }
    let mut layers = Vec::new();
    for envelope in envelopes {
        let mut descriptor = push_blob(registry, repo, DSSE_MEDIA_TYPE, envelope).await;
        descriptor["annotations"] = map.clone();
        layers.push(descriptor);
    }
    let config = push_blob(
        registry,
        repo,
        "application/vnd.oci.image.config.v1+json",
        b"{}".to_vec(),
    )
    .await;
    let manifest =
        json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": layers});
    let tag = format!("{}.att", digest.replacen(':', "-", 1));
    push_manifest(registry, &format!("{repo}:{tag}"), OCI_MANIFEST, &manifest).await;
}
