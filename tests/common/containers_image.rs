//! containers/image's `signature/fixtures` as Signet's input: `dir:` images (their manifest digest
//! and `signature-N` blobs) turned into cosign signature layers. Fixtures:
//! `../shared/fixtures/third_party/containers-image/signature/fixtures`, from
//! github.com/containers/image @ `df7e80d2d198` (Apache-2.0; provenance in
//! `../shared/fixtures/third_party/README.md`).

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;

use signet::reference::Digest;
use signet::registry::SIMPLE_SIGNING_MEDIA_TYPE;
use signet::signature::SignatureLayer;

/// containers/image `signature/fixtures` (see the module docs for provenance).
pub const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/fixtures/third_party/containers-image/signature/fixtures"
);

/// containers/image's prefix of a sigstore signature blob (`internal/signature/signature.go`).
pub const SIGSTORE_JSON_PREFIX: &[u8] = b"\x00sigstore-json\n";

/// The JSON after the prefix (`sigstoreJSONRepresentation` upstream; `payload` is Go `[]byte`,
/// so standard base64).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SigstoreJson {
    mime_type: String,
    payload: String,
    annotations: Option<BTreeMap<String, String>>,
}

/// One fixture signature: the cosign layer and the media type it would have in a `.sig` manifest.
pub struct FixtureSignature {
    pub mime_type: String,
    pub layer: SignatureLayer,
}

pub fn read(relative: &str) -> Vec<u8> {
    let path = format!("{FIXTURES}/{relative}");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Parse one `\x00sigstore-json\n{…}` blob.
pub fn signature(relative: &str) -> FixtureSignature {
    let blob = read(relative);
    let json = blob
        .strip_prefix(SIGSTORE_JSON_PREFIX)
        .unwrap_or_else(|| panic!("{relative} is not a sigstore-json blob"));
    let parsed: SigstoreJson =
        serde_json::from_slice(json).unwrap_or_else(|e| panic!("{relative}: {e}"));
    let payload = BASE64
        .decode(&parsed.payload)
        .unwrap_or_else(|e| panic!("{relative}: payload is not base64: {e}"));
    FixtureSignature {
        mime_type: parsed.mime_type,
        layer: SignatureLayer {
            payload,
            annotations: parsed.annotations.unwrap_or_default(),
        },
    }
}

/// Every `signature-N` of a `dir:` image, N = 1, 2, … up to the first missing one, which is how
/// containers/image's `dir:` transport reads them.
pub fn signatures(fixture: &str) -> Vec<FixtureSignature> {
    (1..)
        .map(|n| format!("{fixture}/signature-{n}"))
        .take_while(|file| Path::new(&format!("{FIXTURES}/{file}")).exists())
        .map(|file| signature(&file))
        .collect()
}

/// The signature layers as Signet's registry stage returns them: attachments of other media
/// types are not signatures and are dropped there, as containers/image skips them.
pub fn layers(fixture: &str) -> Vec<SignatureLayer> {
    signatures(fixture)
        .into_iter()
        .filter(|s| s.mime_type == SIMPLE_SIGNING_MEDIA_TYPE)
        .map(|s| s.layer)
        .collect()
}

/// The image digest of a `dir:` fixture: sha256 of `manifest.json` as stored.
pub fn manifest_digest(fixture: &str) -> Digest {
    Digest::sha256_of(&read(&format!("{fixture}/manifest.json")))
}
