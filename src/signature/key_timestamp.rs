//! `rfc3161timestamp` on a key authority: the signature layer's RFC 3161 timestamp, as cosign
//! writes it (`cosign sign --timestamp-server-url`: annotation
//! `dev.sigstore.cosign/rfc3161timestamp`, JSON `{"SignedRFC3161Timestamp": "<base64 DER>"}`),
//! over the raw signature bytes, verified offline against the trust root's timestamp
//! authorities with the same code as a bundle's timestamps. cosign accepts a signature without
//! one; Signet requires it once the policy names timestamp authorities (fail closed).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;

use crate::policy::KeylessTrust;
use crate::registry::SignatureLayer;

use super::Mismatch;
use super::bundle::timestamp;

/// The annotation cosign stores the timestamp in.
pub const RFC3161_TIMESTAMP_ANNOTATION: &str = "dev.sigstore.cosign/rfc3161timestamp";
/// A timestamp annotation larger than this is refused unread.
const MAX_TIMESTAMP_BYTES: usize = 64 * 1024;

#[derive(Deserialize)]
struct Wire {
    #[serde(rename = "SignedRFC3161Timestamp")]
    signed: String,
}

/// The layer's timestamp verifies with a timestamp authority of `trust` over `signature` (the
/// raw signature bytes); its time, or why not.
pub(super) fn timestamped(
    trust: &KeylessTrust,
    signature: &[u8],
    layer: &SignatureLayer,
) -> Result<i64, Mismatch> {
    let invalid = |detail: String| Mismatch::TimestampInvalid { detail };
    let text = layer
        .annotations
        .get(RFC3161_TIMESTAMP_ANNOTATION)
        .ok_or_else(|| {
            invalid(format!(
                "the signature carries no RFC 3161 timestamp ({RFC3161_TIMESTAMP_ANNOTATION}); the \
                 policy's rfc3161timestamp requires one from {} (sign with `cosign sign \
                 --timestamp-server-url`)",
                trust.origin
            ))
        })?;
    if text.len() > MAX_TIMESTAMP_BYTES {
        return Err(invalid(format!(
            "the timestamp annotation holds {} bytes, more than {MAX_TIMESTAMP_BYTES}",
            text.len()
        )));
    }
    let wire: Wire = serde_json::from_str(text).map_err(|e| {
        invalid(format!(
            "the timestamp annotation is not cosign's JSON: {e}"
        ))
    })?;
    let der = BASE64
        .decode(wire.signed.trim())
        .map_err(|_| invalid("the timestamp is not base64".to_string()))?;
    timestamp::verify(&der, signature, trust).map_err(|e| invalid(e.to_string()))
}
