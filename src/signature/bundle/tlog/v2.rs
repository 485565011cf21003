//! Rekor v2 entry bodies (`hashedrekord` and `dsse` 0.0.2, protobuf-specs `rekor.v2`): the
//! signature, its verifier (an X.509 certificate or a public key, DER) and the digest, read into
//! the same shapes as v1 bodies so that one binding check serves both. The verifier is turned
//! into PEM, the form v1 bodies log it in.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use der::pem::LineEnding;
use serde::Deserialize;

use super::super::super::rekor::LogEntry;
use super::{BundleError, EnvelopeEntry, LoggedBody, log};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HashedRekordSpec {
    hashed_rekord_v002: HashedRekord,
}

#[derive(Deserialize)]
struct HashedRekord {
    data: HashOutput,
    signature: SignatureV2,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DsseSpec {
    dsse_v002: Dsse,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Dsse {
    payload_hash: HashOutput,
    signatures: Vec<SignatureV2>,
}

#[derive(Deserialize)]
struct HashOutput {
    algorithm: String,
    digest: String,
}

#[derive(Deserialize)]
struct SignatureV2 {
    content: String,
    verifier: Verifier,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Verifier {
    #[serde(default)]
    x509_certificate: Option<RawBytes>,
    #[serde(default)]
    public_key: Option<RawBytes>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBytes {
    raw_bytes: String,
}

/// Most signatures read from one `dsse` entry.
const MAX_SIGNATURES: usize = 16;

/// A `hashedrekord` 0.0.2 body.
pub(super) fn hashedrekord(spec: serde_json::Value) -> Result<LoggedBody, BundleError> {
    let spec: HashedRekordSpec = serde_json::from_value(spec).map_err(bad)?;
    let entry = spec.hashed_rekord_v002;
    let (signature, public_key_pem) = signature(&entry.signature)?;
    Ok(LoggedBody::Rekord(LogEntry {
        kind: "hashedrekord".into(),
        signature,
        public_key_pem,
        hash_algorithm: algorithm(&entry.data.algorithm)?.into(),
        payload_digest: decode(&entry.data.digest)?,
    }))
}

/// A `dsse` 0.0.2 body.
pub(super) fn dsse(spec: serde_json::Value) -> Result<LoggedBody, BundleError> {
    let spec: DsseSpec = serde_json::from_value(spec).map_err(bad)?;
    let entry = spec.dsse_v002;
    if algorithm(&entry.payload_hash.algorithm)? != "sha256" {
        return Err(log("unsupported payload hash in the dsse entry".into()));
    }
    if entry.signatures.len() > MAX_SIGNATURES {
        return Err(log("the dsse entry has too many signatures".into()));
    }
    Ok(LoggedBody::Envelope(EnvelopeEntry {
        payload_hash: decode(&entry.payload_hash.digest)?,
        signatures: entry
            .signatures
            .iter()
            .map(signature)
            .collect::<Result<_, _>>()?,
    }))
}

/// The signature bytes and the verifier as PEM (exactly one of certificate or key).
fn signature(signature: &SignatureV2) -> Result<(Vec<u8>, Vec<u8>), BundleError> {
    let verifier = &signature.verifier;
    let (label, raw) = match (&verifier.x509_certificate, &verifier.public_key) {
        (Some(cert), None) => ("CERTIFICATE", &cert.raw_bytes),
        (None, Some(key)) => ("PUBLIC KEY", &key.raw_bytes),
        _ => {
            return Err(log(
                "the entry's verifier is not exactly one certificate or key".into(),
            ));
        }
    };
    let pem = der::pem::encode_string(label, LineEnding::LF, &decode(raw)?)
        .map_err(|e| log(format!("unreadable verifier: {e}")))?;
    Ok((decode(&signature.content)?, pem.into_bytes()))
}

/// protobuf-specs `HashAlgorithm` names to the names v1 bodies use.
fn algorithm(name: &str) -> Result<&'static str, BundleError> {
    match name {
        "SHA2_256" => Ok("sha256"),
        "SHA2_384" => Ok("sha384"),
        "SHA2_512" => Ok("sha512"),
        other => Err(log(format!("unsupported digest algorithm {other}"))),
    }
}

fn decode(text: &str) -> Result<Vec<u8>, BundleError> {
    BASE64.decode(text).map_err(bad)
}

fn bad(e: impl std::fmt::Display) -> BundleError {
    log(format!("unreadable log entry: {e}"))
}
