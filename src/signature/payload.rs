//! The cosign simple-signing payload, parsed as strictly as containers/image parses it: the
//! `critical` section must hold exactly `type`, `image` and `identity`, so a signer cannot smuggle
//! a second, conflicting claim past a lenient parser.

use serde::Deserialize;

/// The only `critical.type` cosign and containers/image accept.
pub const COSIGN_SIGNATURE_TYPE: &str = "cosign container image signature";

/// Largest payload accepted; real ones are a few hundred bytes.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// The claims of a signature that matter for a verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleSigningPayload {
    /// `critical.image.docker-manifest-digest`.
    pub manifest_digest: String,
    /// `critical.identity.docker-reference`.
    pub docker_reference: String,
}

/// Why a payload is not a cosign simple-signing document.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// Over [`MAX_PAYLOAD_BYTES`].
    #[error("payload of {0} bytes is over the {MAX_PAYLOAD_BYTES}-byte limit")]
    TooLarge(usize),
    /// Not the expected JSON shape.
    #[error("not a simple-signing document: {0}")]
    Json(#[from] serde_json::Error),
    /// `critical.type` is something else.
    #[error("critical.type is {0:?}, expected {COSIGN_SIGNATURE_TYPE:?}")]
    WrongType(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    critical: Critical,
    #[serde(default)]
    #[allow(dead_code)]
    optional: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Critical {
    #[serde(rename = "type")]
    type_name: String,
    image: Image,
    identity: Identity,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Image {
    docker_manifest_digest: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Identity {
    docker_reference: String,
}

impl SimpleSigningPayload {
    /// Parse and check the payload bytes exactly as they were signed.
    pub fn parse(bytes: &[u8]) -> Result<Self, PayloadError> {
        if bytes.len() > MAX_PAYLOAD_BYTES {
            return Err(PayloadError::TooLarge(bytes.len()));
        }
        let doc: Document = serde_json::from_slice(bytes)?;
        if doc.critical.type_name != COSIGN_SIGNATURE_TYPE {
            return Err(PayloadError::WrongType(doc.critical.type_name));
        }
        Ok(Self {
            manifest_digest: doc.critical.image.docker_manifest_digest,
            docker_reference: doc.critical.identity.docker_reference,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:3dec0ccf6d1e1d1bcb5e5d5c36e0e3cf8e0e2b0a7b2b5e6d3c4f1a2b3c4d5e6f";

    fn doc(critical_extra: &str, ty: &str) -> String {
        format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"r.io/a/b"}},"image":{{"docker-manifest-digest":"{DIGEST}"}},"type":"{ty}"{critical_extra}}},"optional":null}}"#
        )
    }

    #[test]
    fn cosign_payload_parses() {
        let p = SimpleSigningPayload::parse(doc("", COSIGN_SIGNATURE_TYPE).as_bytes()).unwrap();
        assert_eq!(p.manifest_digest, DIGEST);
        assert_eq!(p.docker_reference, "r.io/a/b");
    }

    #[test]
    fn optional_section_with_creator_and_timestamp_is_accepted() {
        let text = doc("", COSIGN_SIGNATURE_TYPE).replace(
            r#""optional":null"#,
            r#""optional":{"creator":"skopeo","timestamp":1}"#,
        );
        assert!(SimpleSigningPayload::parse(text.as_bytes()).is_ok());
    }

    #[test]
    fn extra_critical_field_is_refused() {
        let text = doc(r#","extra":1"#, COSIGN_SIGNATURE_TYPE);
        assert!(matches!(
            SimpleSigningPayload::parse(text.as_bytes()),
            Err(PayloadError::Json(_))
        ));
    }

    #[test]
    fn duplicate_critical_key_is_refused() {
        let text = doc("", COSIGN_SIGNATURE_TYPE).replace(
            r#""type":"#,
            r#""image":{"docker-manifest-digest":"sha256:00"},"type":"#,
        );
        assert!(SimpleSigningPayload::parse(text.as_bytes()).is_err());
    }

    #[test]
    fn wrong_type_is_refused() {
        let text = doc("", "atomic container signature");
        assert!(matches!(
            SimpleSigningPayload::parse(text.as_bytes()),
            Err(PayloadError::WrongType(_))
        ));
    }

    #[test]
    fn oversized_payload_is_refused_before_parsing() {
        let big = vec![b' '; MAX_PAYLOAD_BYTES + 1];
        assert!(matches!(
            SimpleSigningPayload::parse(&big),
            Err(PayloadError::TooLarge(_))
        ));
    }
}
