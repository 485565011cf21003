//! The JWS envelope (`application/jose+json`, signature-envelope-jws.md): JSON serialization,
//! flattened, with the signed attributes in the protected header and the certificate chain
//! (`x5c`) and timestamp countersignature in the unprotected header. Decoding only; what the
//! attributes mean is judged in `envelope.rs`, the signature in `chain.rs`.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::envelope::{
    AUTHENTIC_SIGNING_TIME, Algorithm, EXPIRY, Envelope, MAX_CERTIFICATE_BYTES,
    MAX_CHAIN_CERTIFICATES, PAYLOAD_CONTENT_TYPE, SIGNING_SCHEME, SIGNING_TIME, Scheme,
    TIMESTAMP_SIGNATURE,
};
use super::errors::{NotationEnvelopeError, malformed, unsupported};

/// The flattened JWS JSON serialization (RFC 7515 §7.2.2).
#[derive(Deserialize)]
struct Wire {
    payload: String,
    protected: String,
    #[serde(default)]
    header: Unprotected,
    signature: String,
}

#[derive(Deserialize, Default)]
struct Unprotected {
    #[serde(default)]
    x5c: Vec<String>,
    #[serde(rename = "io.cncf.notary.timestampSignature", default)]
    timestamp_signature: Option<String>,
}

/// Decode a JWS envelope.
pub(super) fn parse(bytes: &[u8]) -> Result<Envelope, NotationEnvelopeError> {
    let wire: Wire = serde_json::from_slice(bytes)
        .map_err(|e| malformed(format!("not a flattened JWS JSON serialization: {e}")))?;
    let protected_json = URL_SAFE_NO_PAD
        .decode(&wire.protected)
        .map_err(|_| malformed("the JWS protected header is not base64url"))?;
    let protected: Map<String, Value> = serde_json::from_slice(&protected_json).map_err(|e| {
        malformed(format!(
            "the JWS protected header is not a JSON object: {e}"
        ))
    })?;
    let text = |name: &str| -> Result<Option<&str>, NotationEnvelopeError> {
        match protected.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(malformed(format!(
                "the JWS header {name:?} is not a string"
            ))),
        }
    };
    let time = |name: &str| -> Result<Option<i64>, NotationEnvelopeError> {
        text(name)?.map(|t| rfc3339(name, t)).transpose()
    };
    let alg = text("alg")?.ok_or_else(|| malformed("the JWS protected header has no \"alg\""))?;
    let algorithm = Algorithm::from_jws(alg).ok_or_else(|| {
        unsupported(format!(
            "signature algorithm {alg:?} (the specification allows PS256, PS384, PS512, ES256, \
             ES384, ES512)"
        ))
    })?;
    let content_type = text("cty")?.unwrap_or_default();
    if content_type != PAYLOAD_CONTENT_TYPE {
        return Err(unsupported(format!(
            "payload content type {content_type:?} (want {PAYLOAD_CONTENT_TYPE:?})"
        )));
    }
    let scheme_name = text(SIGNING_SCHEME)?.unwrap_or_default();
    let scheme = Scheme::parse(scheme_name)
        .ok_or_else(|| unsupported(format!("signing scheme {scheme_name:?}")))?;
    let critical = match protected.get("crit") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                _ => Err(malformed("a \"crit\" entry is not a string")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(malformed("the JWS \"crit\" header is not an array")),
    };
    let payload = URL_SAFE_NO_PAD
        .decode(&wire.payload)
        .map_err(|_| malformed("the JWS payload is not base64url"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(&wire.signature)
        .map_err(|_| malformed("the JWS signature is not base64url"))?;
    if wire.header.x5c.len() > MAX_CHAIN_CERTIFICATES {
        return Err(NotationEnvelopeError::Oversized {
            what: "the certificate chain (x5c)",
            limit: MAX_CHAIN_CERTIFICATES,
        });
    }
    let chain = wire
        .header
        .x5c
        .iter()
        .map(|c| certificate(c))
        .collect::<Result<Vec<_>, _>>()?;
    let timestamp =
        match wire.header.timestamp_signature.as_deref() {
            None | Some("") => None,
            Some(b64) => Some(STANDARD.decode(b64).map_err(|_| {
                malformed(format!("the JWS {TIMESTAMP_SIGNATURE:?} is not base64"))
            })?),
        };
    let signed_bytes = format!("{}.{}", wire.protected, wire.payload).into_bytes();
    Ok(Envelope {
        algorithm,
        scheme,
        signing_time: time(SIGNING_TIME)?,
        authentic_signing_time: time(AUTHENTIC_SIGNING_TIME)?,
        expiry: time(EXPIRY)?,
        critical,
        payload,
        signed_bytes,
        signature,
        chain,
        timestamp,
    })
}

fn certificate(b64: &str) -> Result<Vec<u8>, NotationEnvelopeError> {
    // Base64 is 4/3 the size: refuse before decoding.
    if b64.len() > MAX_CERTIFICATE_BYTES / 3 * 4 + 4 {
        return Err(NotationEnvelopeError::Oversized {
            what: "a certificate of the chain",
            limit: MAX_CERTIFICATE_BYTES,
        });
    }
    STANDARD
        .decode(b64)
        .map_err(|_| malformed("an x5c certificate is not base64"))
}

/// An RFC 3339 time to Unix seconds.
fn rfc3339(name: &str, text: &str) -> Result<i64, NotationEnvelopeError> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map(OffsetDateTime::unix_timestamp)
        .map_err(|_| malformed(format!("the JWS header {name:?} is not an RFC 3339 time")))
}
