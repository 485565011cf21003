//! The signed payload (`application/vnd.cncf.notary.payload.v1+json`): the descriptor of the
//! artifact the signature is for, `{"targetArtifact": {mediaType, digest, size, annotations}}`.
//! It must name the artifact under review: its digest always, its size and media type when the
//! caller knows them (signature-specification.md, "Payload"; notation-go compares the whole
//! descriptor).

use serde::Deserialize;

use super::NotationTarget;
use super::errors::{NotationEnvelopeError, malformed};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    target_artifact: Descriptor,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    media_type: String,
    digest: String,
    size: u64,
}

/// The payload's descriptor differs from `target`: why, or `None` when it names it.
pub(super) fn mismatch(
    payload: &[u8],
    target: &NotationTarget,
) -> Result<Option<String>, NotationEnvelopeError> {
    let payload: Payload = serde_json::from_slice(payload).map_err(|e| {
        malformed(format!(
            "the signed payload is not a Notary Project payload (targetArtifact descriptor): {e}"
        ))
    })?;
    let signed = payload.target_artifact;
    if signed.digest != target.digest {
        return Ok(Some(format!(
            "the signature is for {}, not {}",
            signed.digest, target.digest
        )));
    }
    if let Some(size) = target.size {
        if signed.size != size {
            return Ok(Some(format!(
                "the signature is for an artifact of {} bytes, not {size}",
                signed.size
            )));
        }
    }
    if let Some(media_type) = target.media_type {
        if signed.media_type != media_type {
            return Ok(Some(format!(
                "the signature is for media type {:?}, not {media_type:?}",
                signed.media_type
            )));
        }
    }
    Ok(None)
}
