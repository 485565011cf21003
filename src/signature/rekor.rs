//! Rekor proofs carried in a layer's `dev.sigstore.cosign/bundle` annotation, checked offline:
//! the signed entry timestamp (SET) must verify with a configured Rekor key, looked up by the
//! bundle's log ID, over the canonical JSON of `{body, integratedTime, logID, logIndex}` (as
//! sigstore-rs and cosign canonicalise it), inside the key's validity window; and the entry body
//! (`hashedrekord` or `rekord` v0.0.1) must record exactly this signature, payload digest and
//! certificate. The SET alone proves only that *some* entry was logged. Never contacts a log.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use sha2::{Digest, Sha256, Sha384, Sha512};
use sigstore::crypto::Signature;

use crate::policy::{KeylessTrust, LogKey};

/// Largest bundle annotation accepted (real ones are 2–5 KiB).
pub const MAX_BUNDLE_BYTES: usize = 64 * 1024;

/// A bundle whose SET verified, with its decoded entry.
#[derive(Debug, Clone)]
pub struct VerifiedEntry {
    /// When the log recorded the entry (Unix seconds): the signing time.
    pub integrated_time: i64,
    /// The entry's index in the log.
    pub log_index: i64,
    /// The log ID, hex.
    pub log_id: String,
    /// What the entry records.
    pub entry: LogEntry,
}

/// What a `hashedrekord` / `rekord` entry records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// `hashedrekord` or `rekord`.
    pub kind: String,
    /// The signature bytes.
    pub signature: Vec<u8>,
    /// The verification material as logged: PEM of a certificate or a public key.
    pub public_key_pem: Vec<u8>,
    /// `sha256`, `sha384` or `sha512`.
    pub hash_algorithm: String,
    /// The digest of the signed payload.
    pub payload_digest: Vec<u8>,
}

/// Why a bundle is not valid proof for a signature.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RekorError {
    /// Not a bundle, or too large.
    #[error("malformed Rekor bundle: {0}")]
    Malformed(String),
    /// The bundle names a log whose key is not configured.
    #[error("entry of log {0}, whose key is not trusted")]
    UnknownLog(String),
    /// The SET does not verify.
    #[error("the signed entry timestamp does not verify with the key of log {0}")]
    InvalidSet(String),
    /// The log key was not valid at the entry's time.
    #[error("log {0} was not trusted at the entry's integratedTime")]
    KeyNotValid(String),
    /// The body cannot be read or is of an unsupported kind.
    #[error("unreadable log entry: {0}")]
    Body(String),
    /// The entry records something else than this signature.
    #[error("the log entry records {0}")]
    NotBound(&'static str),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct Bundle {
    signed_entry_timestamp: String,
    payload: Payload,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Payload {
    body: String,
    integrated_time: i64,
    log_index: i64,
    #[serde(rename = "logID")]
    log_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    api_version: String,
    kind: String,
    spec: Spec,
}

#[derive(Deserialize)]
struct Spec {
    data: Data,
    signature: EntrySignature,
}

#[derive(Deserialize)]
struct Data {
    hash: Option<Hash>,
}

#[derive(Deserialize)]
struct Hash {
    algorithm: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EntrySignature {
    content: String,
    #[serde(default)]
    format: Option<String>,
    public_key: EntryKey,
}

#[derive(Deserialize)]
struct EntryKey {
    content: String,
}

/// Steps 1–4 of the module documentation for the annotation text of one layer.
pub fn verify_bundle(annotation: &str, trust: &KeylessTrust) -> Result<VerifiedEntry, RekorError> {
    let p = verified_set_payload(annotation, trust)?;
    // 4. The body is an entry we can compare with the layer.
    Ok(VerifiedEntry {
        integrated_time: p.integrated_time,
        log_index: p.log_index,
        entry: parse_entry(&p.body)?,
        log_id: p.log_id,
    })
}

/// Steps 1–3: the bundle parses, its log is trusted then, and its SET verifies.
fn verified_set_payload(annotation: &str, trust: &KeylessTrust) -> Result<Payload, RekorError> {
    if annotation.len() > MAX_BUNDLE_BYTES {
        let detail = format!("over the {MAX_BUNDLE_BYTES}-byte limit");
        return Err(RekorError::Malformed(detail));
    }
    // 1. The bundle parses, strictly.
    let bundle: Bundle =
        serde_json::from_str(annotation).map_err(|e| RekorError::Malformed(e.to_string()))?;
    let p = &bundle.payload;
    if p.integrated_time < 0 || p.log_index < 0 {
        return Err(RekorError::Malformed(
            "negative integratedTime or logIndex".into(),
        ));
    }
    // 2. The log is one we trust, and was trusted at the entry's time.
    let key = trusted_log(trust, &p.log_id)?;
    if !key.valid_for.contains(p.integrated_time) {
        return Err(RekorError::KeyNotValid(p.log_id.clone()));
    }
    // 3. The SET verifies over the canonical payload.
    let signed = canonical_payload(p)?;
    let set = Signature::Base64Encoded(bundle.signed_entry_timestamp.as_bytes());
    key.key
        .verify_signature(set, &signed)
        .map_err(|_| RekorError::InvalidSet(p.log_id.clone()))?;
    Ok(bundle.payload)
}

/// Steps 1–3 for the bundle of a `.att` layer, whose entry (`dsse` or `intoto`) records an
/// envelope: the SET verified, the entry's base64 body and times, for `attestation.rs` to read.
pub(super) fn verify_envelope_bundle(
    annotation: &str,
    trust: &KeylessTrust,
) -> Result<LoggedEnvelope, RekorError> {
    let p = verified_set_payload(annotation, trust)?;
    Ok(LoggedEnvelope {
        integrated_time: p.integrated_time,
        body: p.body,
    })
}

/// A `.att` layer's Rekor bundle whose SET verified: when, and the entry body (base64).
pub(super) struct LoggedEnvelope {
    pub integrated_time: i64,
    pub body: String,
}

fn trusted_log<'t>(trust: &'t KeylessTrust, log_id: &str) -> Result<&'t LogKey, RekorError> {
    trust
        .rekor_keys
        .get(log_id)
        .ok_or_else(|| RekorError::UnknownLog(log_id.chars().take(64).collect()))
}

fn canonical_payload(p: &Payload) -> Result<Vec<u8>, RekorError> {
    canonical_set_payload(&p.body, p.integrated_time, &p.log_id, p.log_index)
}

/// `{"body":…,"integratedTime":…,"logID":…,"logIndex":…}`: RFC 8785 canonical JSON of what a
/// SET signs (keys sorted, no whitespace; integers and JSON-escaped strings need nothing more).
/// Shared with Sigstore bundles, whose inclusion promise is the same SET.
pub(super) fn canonical_set_payload(
    body: &str,
    integrated_time: i64,
    log_id: &str,
    log_index: i64,
) -> Result<Vec<u8>, RekorError> {
    let text = |s: &str| serde_json::to_string(s).map_err(|e| RekorError::Malformed(e.to_string()));
    Ok(format!(
        r#"{{"body":{},"integratedTime":{integrated_time},"logID":{},"logIndex":{log_index}}}"#,
        text(body)?,
        text(log_id)?,
    )
    .into_bytes())
}

/// A base64 `hashedrekord` or `rekord` v0.0.1 entry body.
pub(super) fn parse_entry(body: &str) -> Result<LogEntry, RekorError> {
    let bad = |detail: String| RekorError::Body(detail);
    let json = BASE64
        .decode(body)
        .map_err(|e| bad(format!("body is not base64: {e}")))?;
    let entry: Entry = serde_json::from_slice(&json).map_err(|e| bad(e.to_string()))?;
    let supported = match entry.kind.as_str() {
        "hashedrekord" => entry.spec.signature.format.is_none(),
        "rekord" => entry.spec.signature.format.as_deref() == Some("x509"),
        _ => false,
    };
    if entry.api_version != "0.0.1" || !supported {
        return Err(bad(format!(
            "{} {} entries are not supported",
            entry.kind, entry.api_version
        )));
    }
    let hash = entry
        .spec
        .data
        .hash
        .ok_or_else(|| bad("the entry records no payload digest".into()))?;
    let decode = |what: &str, value: &str| {
        BASE64
            .decode(value)
            .map_err(|e| bad(format!("{what} is not base64: {e}")))
    };
    Ok(LogEntry {
        kind: entry.kind,
        signature: decode("signature", &entry.spec.signature.content)?,
        public_key_pem: decode("public key", &entry.spec.signature.public_key.content)?,
        payload_digest: hex::decode(&hash.value)
            .map_err(|e| bad(format!("digest is not hex: {e}")))?,
        hash_algorithm: hash.algorithm,
    })
}

impl LogEntry {
    /// Does the entry record `signature` over `payload`?
    pub fn binds(&self, signature: &[u8], payload: &[u8]) -> Result<(), RekorError> {
        if self.signature != signature {
            return Err(RekorError::NotBound("another signature"));
        }
        let digest = match self.hash_algorithm.as_str() {
            "sha256" => Sha256::digest(payload).to_vec(),
            "sha384" => Sha384::digest(payload).to_vec(),
            "sha512" => Sha512::digest(payload).to_vec(),
            _ => return Err(RekorError::Body("unsupported digest algorithm".into())),
        };
        if self.payload_digest != digest {
            return Err(RekorError::NotBound("the digest of another payload"));
        }
        Ok(())
    }

    /// Does the entry record exactly the public key `spki` (SubjectPublicKeyInfo DER)?
    pub fn binds_public_key(&self, spki: &[u8]) -> Result<(), RekorError> {
        let mut reader = self.public_key_pem.as_slice();
        let logged: Vec<_> = rustls_pemfile::read_all(&mut reader).collect();
        match logged.as_slice() {
            [Ok(rustls_pemfile::Item::SubjectPublicKeyInfo(one))] if one.as_ref() == spki => Ok(()),
            [Ok(rustls_pemfile::Item::SubjectPublicKeyInfo(_))] => {
                Err(RekorError::NotBound("another public key"))
            }
            [Ok(rustls_pemfile::Item::X509Certificate(_))] => {
                Err(RekorError::NotBound("a certificate, not this key"))
            }
            _ => Err(RekorError::Body("unreadable verification material".into())),
        }
    }

    /// Does the entry record exactly the certificate `der` (not another one, not a bare key)?
    pub fn binds_certificate(&self, der: &[u8]) -> Result<(), RekorError> {
        let mut reader = self.public_key_pem.as_slice();
        let logged: Vec<_> = rustls_pemfile::certs(&mut reader).collect();
        match logged.as_slice() {
            [Ok(one)] if one.as_ref() == der => Ok(()),
            [Ok(_)] => Err(RekorError::NotBound("another certificate")),
            [] => Err(RekorError::NotBound("a public key, not this certificate")),
            _ => Err(RekorError::Body("unreadable verification material".into())),
        }
    }
}

#[cfg(test)]
mod tests;
