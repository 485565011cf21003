//! The Sigstore bundle as JSON (protobuf-specs `dev.sigstore.bundle.v1.Bundle`, proto3 JSON
//! mapping: camelCase names, bytes as base64, 64-bit integers as strings or numbers), read into
//! plain structs with every byte field decoded and every list bounded. Only what verification
//! reads is modelled; it decides nothing.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Deserializer};

/// Largest bundle accepted (the registry stage fetches at most this much).
pub const MAX_BUNDLE_BYTES: usize = 64 * 1024;
/// Most inclusion-proof hashes (a tree of 2^63 leaves needs 63).
const MAX_PROOF_HASHES: usize = 64;

/// The bundle format versions Signet reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    /// `application/vnd.dev.sigstore.bundle+json;version=0.1`
    V01,
    /// `...;version=0.2`: an inclusion proof is required.
    V02,
    /// `...;version=0.3` or `application/vnd.dev.sigstore.bundle.v0.3+json`: a single leaf
    /// certificate instead of a chain.
    V03,
}

impl Version {
    /// The version a bundle `mediaType` names, if Signet knows it.
    pub fn from_media_type(media_type: &str) -> Option<Version> {
        match media_type {
            "application/vnd.dev.sigstore.bundle+json;version=0.1" => Some(Version::V01),
            "application/vnd.dev.sigstore.bundle+json;version=0.2" => Some(Version::V02),
            "application/vnd.dev.sigstore.bundle+json;version=0.3"
            | "application/vnd.dev.sigstore.bundle.v0.3+json" => Some(Version::V03),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct Bundle {
    pub media_type: String,
    pub verification_material: VerificationMaterial,
    #[serde(default)]
    pub message_signature: Option<MessageSignature>,
    #[serde(default)]
    pub dsse_envelope: Option<Envelope>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct VerificationMaterial {
    #[serde(default)]
    pub certificate: Option<RawBytes>,
    #[serde(default)]
    pub x509_certificate_chain: Option<CertificateChain>,
    #[serde(default)]
    pub public_key: Option<KeyHint>,
    #[serde(default)]
    pub tlog_entries: Vec<TlogEntry>,
    #[serde(default)]
    pub timestamp_verification_data: Option<TimestampData>,
}

#[derive(Deserialize)]
pub(super) struct RawBytes {
    #[serde(rename = "rawBytes", deserialize_with = "base64_bytes")]
    pub raw_bytes: Vec<u8>,
}

#[derive(Deserialize)]
pub(super) struct CertificateChain {
    #[serde(default)]
    pub certificates: Vec<RawBytes>,
}

/// A key the verifier must already know (the hint names it; it is not trusted).
#[derive(Deserialize)]
pub(super) struct KeyHint {}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TimestampData {
    #[serde(default)]
    pub rfc3161_timestamps: Vec<SignedTimestamp>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SignedTimestamp {
    #[serde(deserialize_with = "base64_bytes")]
    pub signed_timestamp: Vec<u8>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TlogEntry {
    #[serde(deserialize_with = "int64")]
    pub log_index: i64,
    pub log_id: LogId,
    pub kind_version: KindVersion,
    #[serde(default, deserialize_with = "int64")]
    pub integrated_time: i64,
    #[serde(default)]
    pub inclusion_promise: Option<InclusionPromise>,
    #[serde(default)]
    pub inclusion_proof: Option<InclusionProof>,
    #[serde(deserialize_with = "base64_bytes")]
    pub canonicalized_body: Vec<u8>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct LogId {
    #[serde(deserialize_with = "base64_bytes")]
    pub key_id: Vec<u8>,
}

#[derive(Deserialize)]
pub(super) struct KindVersion {
    pub kind: String,
    pub version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct InclusionPromise {
    #[serde(deserialize_with = "base64_bytes")]
    pub signed_entry_timestamp: Vec<u8>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct InclusionProof {
    #[serde(deserialize_with = "int64")]
    pub log_index: i64,
    #[serde(deserialize_with = "base64_bytes")]
    pub root_hash: Vec<u8>,
    #[serde(deserialize_with = "int64")]
    pub tree_size: i64,
    #[serde(default, deserialize_with = "hashes")]
    pub hashes: Vec<Vec<u8>>,
    #[serde(default)]
    pub checkpoint: Option<Checkpoint>,
}

#[derive(Deserialize)]
pub(super) struct Checkpoint {
    pub envelope: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MessageSignature {
    #[serde(default)]
    pub message_digest: Option<MessageDigest>,
    #[serde(deserialize_with = "base64_bytes")]
    pub signature: Vec<u8>,
}

#[derive(Deserialize)]
pub(super) struct MessageDigest {
    pub algorithm: String,
    #[serde(deserialize_with = "base64_bytes")]
    pub digest: Vec<u8>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Envelope {
    #[serde(deserialize_with = "base64_bytes")]
    pub payload: Vec<u8>,
    pub payload_type: String,
    pub signatures: Vec<EnvelopeSignature>,
}

#[derive(Deserialize)]
pub(super) struct EnvelopeSignature {
    #[serde(deserialize_with = "base64_bytes")]
    pub sig: Vec<u8>,
}

/// Parse `bytes` as a bundle, refusing oversized input before parsing.
pub(super) fn parse(bytes: &[u8]) -> Result<Bundle, String> {
    if bytes.len() > MAX_BUNDLE_BYTES {
        return Err(format!(
            "bundle of {} bytes is over the {MAX_BUNDLE_BYTES}-byte limit",
            bytes.len()
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| format!("not a Sigstore bundle: {e}"))
}

/// Base64 bytes; line breaks are skipped, as Go's decoder (protojson, cosign) skips them.
fn base64_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let text = String::deserialize(d)?;
    let compact: Vec<u8> = text
        .bytes()
        .filter(|b| !matches!(b, b'\r' | b'\n'))
        .collect();
    BASE64
        .decode(&compact)
        .map_err(|e| serde::de::Error::custom(format!("invalid base64: {e}")))
}

/// proto3 JSON writes int64 as a string; some writers use a number.
fn int64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Int {
        Number(i64),
        Text(String),
    }
    match Int::deserialize(d)? {
        Int::Number(n) => Ok(n),
        Int::Text(t) => t
            .parse()
            .map_err(|_| serde::de::Error::custom(format!("not an integer: {t:?}"))),
    }
}

fn hashes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
    let texts = Vec::<String>::deserialize(d)?;
    if texts.len() > MAX_PROOF_HASHES {
        return Err(serde::de::Error::custom(
            "inclusion proof has too many hashes",
        ));
    }
    texts
        .iter()
        .map(|t| BASE64.decode(t.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|e| serde::de::Error::custom(format!("invalid base64: {e}")))
}
