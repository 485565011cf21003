//! The transparency-log entry of a Sigstore bundle, checked offline against the trusted Rekor
//! keys: the signed entry timestamp (the same SET as cosign's legacy bundle annotation) of a
//! Rekor v1 entry, the inclusion proof up to a checkpoint signed by the same log (all a Rekor v2
//! entry has: its time comes from an RFC 3161 timestamp), and the entry body, read so the
//! caller can compare it with the bundle's signature, verifier and content. It does not decide
//! whether the entry is *this* signature's; `bundle.rs` does, with [`LoggedBody`].

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use sigstore::crypto::Signature;

use crate::policy::KeylessTrust;

use super::super::rekor::{self, LogEntry};
use super::BundleError;
use super::merkle;

mod v2;
use super::wire::{InclusionProof, KindVersion, TlogEntry, Version};

/// A verified log entry.
#[derive(Debug)]
pub(super) struct Logged {
    /// When the log recorded it (Unix seconds), as the SET vouches; `None` for an entry proved
    /// by its inclusion proof alone (Rekor v2), whose time must come from a timestamp.
    pub integrated_time: Option<i64>,
    /// When the log's key is trusted (checked here against a SET's time; the caller checks it
    /// against timestamp times for an entry without one).
    pub key_valid_for: crate::policy::TimeRange,
    /// The entry's index in the log: the one the SET signs, else the one the inclusion proof
    /// proves (an entry without a SET states its `logIndex` unsigned, so it is not reported).
    pub log_index: i64,
    /// What the entry records.
    pub body: LoggedBody,
}

/// What an entry records, by kind.
#[derive(Debug)]
pub(super) enum LoggedBody {
    /// `hashedrekord` (or `rekord`) 0.0.1: a signature over a digest.
    Rekord(LogEntry),
    /// `dsse` 0.0.1 or `intoto` 0.0.2: an envelope's payload hash and signatures.
    Envelope(EnvelopeEntry),
}

/// The parts of a `dsse` / `intoto` entry that bind it to an envelope.
#[derive(Debug)]
pub(in crate::signature) struct EnvelopeEntry {
    /// SHA-256 of the envelope payload.
    pub payload_hash: Vec<u8>,
    /// Each signature with its verifier (PEM certificate or public key).
    pub signatures: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Steps: 1. the log is trusted (by log ID) and the index sane; 2. with a signed entry
/// timestamp (Rekor v1), the log's key is valid at the entry's integratedTime and the SET
/// verifies; without one (Rekor v2) the entry carries no trusted time, and an inclusion proof is
/// its only proof; 3. an inclusion proof (required from bundle v0.2, and always without a SET)
/// leads from the entry to a root hash that 4. a checkpoint signed by the same log states for
/// the same tree size (one signature line verified, see [`merkle::verify_checkpoint`]); 5. the
/// body is read. The index reported is the SET's, else the inclusion proof's.
pub(super) fn verify_entry(
    entry: &TlogEntry,
    version: Version,
    trust: &KeylessTrust,
) -> Result<Logged, BundleError> {
    // 1. The log and the index.
    let log_id = hex::encode(&entry.log_id.key_id);
    let key = trust
        .rekor_keys
        .get(&log_id)
        .ok_or_else(|| log(format!("entry of log {log_id}, whose key is not trusted")))?;
    if entry.log_index < 0 {
        return Err(log("negative log index".into()));
    }
    // 2. The signed entry timestamp, when there is one.
    let body_text = BASE64.encode(&entry.canonicalized_body);
    let integrated_time = match &entry.inclusion_promise {
        Some(promise) => {
            verify_set(
                entry,
                &body_text,
                &promise.signed_entry_timestamp,
                &log_id,
                key,
            )?;
            Some(entry.integrated_time)
        }
        None => None,
    };
    // 3.–4. Inclusion in a tree the log signed.
    match (&entry.inclusion_proof, version, integrated_time) {
        (Some(proof), _, _) => verify_inclusion(proof, &entry.canonicalized_body, &log_id, key)?,
        (None, Version::V01, Some(_)) => {}
        (None, _, _) => return Err(log("the entry has no inclusion proof".into())),
    }
    // 5. The body.
    let log_index = match (&entry.inclusion_proof, integrated_time) {
        (Some(proof), None) => proof.log_index,
        _ => entry.log_index,
    };
    Ok(Logged {
        integrated_time,
        key_valid_for: key.valid_for,
        log_index,
        body: parse_body(&entry.kind_version, &body_text, &entry.canonicalized_body)?,
    })
}

/// The SET over the entry, by the log's key valid at the entry's integratedTime.
fn verify_set(
    entry: &TlogEntry,
    body_text: &str,
    set: &[u8],
    log_id: &str,
    key: &crate::policy::LogKey,
) -> Result<(), BundleError> {
    if entry.integrated_time <= 0 {
        return Err(log("the entry has no integratedTime".into()));
    }
    if !key.valid_for.contains(entry.integrated_time) {
        return Err(log(format!(
            "log {log_id} was not trusted at the entry's integratedTime"
        )));
    }
    let signed =
        rekor::canonical_set_payload(body_text, entry.integrated_time, log_id, entry.log_index)
            .map_err(|e| log(e.to_string()))?;
    key.key
        .verify_signature(Signature::Raw(set), &signed)
        .map_err(|_| {
            log(format!(
                "the signed entry timestamp does not verify with the key of log {log_id}"
            ))
        })
}

fn verify_inclusion(
    proof: &InclusionProof,
    body: &[u8],
    log_id: &str,
    key: &crate::policy::LogKey,
) -> Result<(), BundleError> {
    let (index, size) = match (
        u64::try_from(proof.log_index),
        u64::try_from(proof.tree_size),
    ) {
        (Ok(index), Ok(size)) => (index, size),
        _ => {
            return Err(log(
                "negative index or tree size in the inclusion proof".into()
            ));
        }
    };
    let root = merkle::root_from_proof(index, size, merkle::leaf_hash(body), &proof.hashes)
        .map_err(|e| log(format!("invalid inclusion proof: {e}")))?;
    if root[..] != proof.root_hash[..] {
        return Err(log(
            "the inclusion proof does not lead to its root hash (a proof for another entry?)"
                .into(),
        ));
    }
    let note = proof
        .checkpoint
        .as_ref()
        .ok_or_else(|| log("the inclusion proof has no checkpoint".into()))?;
    let checkpoint = merkle::verify_checkpoint(&note.envelope, log_id, &key.key)
        .map_err(|e| log(format!("invalid checkpoint: {e}")))?;
    if checkpoint.size != size || checkpoint.root_hash != proof.root_hash {
        return Err(log(
            "the checkpoint is for another tree than the inclusion proof".into(),
        ));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    api_version: String,
    kind: String,
    spec: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DsseSpec {
    payload_hash: Hash,
    signatures: Vec<DsseSignature>,
}

#[derive(Deserialize)]
struct DsseSignature {
    signature: String,
    verifier: String,
}

#[derive(Deserialize)]
struct IntotoSpec {
    content: IntotoContent,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntotoContent {
    envelope: IntotoEnvelope,
    payload_hash: Hash,
}

#[derive(Deserialize)]
struct IntotoEnvelope {
    signatures: Vec<IntotoSignature>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntotoSignature {
    sig: String,
    public_key: String,
}

#[derive(Deserialize)]
struct Hash {
    algorithm: String,
    value: String,
}

/// The `dsse` 0.0.1 / `intoto` 0.0.2 entry in the base64 `body_text` of a legacy Rekor bundle
/// (the `dev.sigstore.cosign/bundle` of a `.att` layer), whose SET `rekor.rs` has verified:
/// what the entry records about the envelope, as for a Sigstore bundle's entry.
pub(in crate::signature) fn envelope_entry(body_text: &str) -> Result<EnvelopeEntry, BundleError> {
    let body = BASE64
        .decode(body_text)
        .map_err(|e| log(format!("unreadable log entry: body is not base64: {e}")))?;
    let entry: Entry =
        serde_json::from_slice(&body).map_err(|e| log(format!("unreadable log entry: {e}")))?;
    let declared = KindVersion {
        kind: entry.kind,
        version: entry.api_version,
    };
    match (declared.kind.as_str(), declared.version.as_str()) {
        ("dsse", "0.0.1") | ("intoto", "0.0.2") => {}
        (kind, version) => {
            return Err(log(format!(
                "the entry is a {kind} {version} entry, not a dsse 0.0.1 or intoto 0.0.2 entry of an envelope"
            )));
        }
    }
    match parse_body(&declared, body_text, &body)? {
        LoggedBody::Envelope(entry) => Ok(entry),
        LoggedBody::Rekord(_) => Err(log("the entry records no envelope".into())),
    }
}

/// The body by kind: `hashedrekord`/`rekord` 0.0.1 as the legacy bundle reads them, `dsse`
/// 0.0.1 and `intoto` 0.0.2 (whose signatures are base64 of the base64 text).
fn parse_body(
    declared: &KindVersion,
    body_text: &str,
    body: &[u8],
) -> Result<LoggedBody, BundleError> {
    let bad = |e: String| log(format!("unreadable log entry: {e}"));
    let entry: Entry = serde_json::from_slice(body).map_err(|e| bad(e.to_string()))?;
    if entry.kind != declared.kind || entry.api_version != declared.version {
        return Err(log(
            "the entry's kind differs from the one the bundle names".into(),
        ));
    }
    match (entry.kind.as_str(), entry.api_version.as_str()) {
        ("hashedrekord", "0.0.2") => return v2::hashedrekord(entry.spec),
        ("dsse", "0.0.2") => return v2::dsse(entry.spec),
        ("hashedrekord" | "rekord", _) => {
            let entry = rekor::parse_entry(body_text).map_err(|e| log(e.to_string()))?;
            return Ok(LoggedBody::Rekord(entry));
        }
        _ => {}
    }
    let decode = |text: &str| BASE64.decode(text).map_err(|e| bad(e.to_string()));
    let (hash, signatures) = match (entry.kind.as_str(), entry.api_version.as_str()) {
        ("dsse", "0.0.1") => {
            let spec: DsseSpec =
                serde_json::from_value(entry.spec).map_err(|e| bad(e.to_string()))?;
            let signatures = spec
                .signatures
                .iter()
                .map(|s| Ok((decode(&s.signature)?, decode(&s.verifier)?)))
                .collect::<Result<_, BundleError>>()?;
            (spec.payload_hash, signatures)
        }
        ("intoto", "0.0.2") => {
            let spec: IntotoSpec =
                serde_json::from_value(entry.spec).map_err(|e| bad(e.to_string()))?;
            let signatures = spec
                .content
                .envelope
                .signatures
                .iter()
                .map(|s| {
                    Ok((
                        decode(&String::from_utf8_lossy(&decode(&s.sig)?))?,
                        decode(&s.public_key)?,
                    ))
                })
                .collect::<Result<_, BundleError>>()?;
            (spec.content.payload_hash, signatures)
        }
        (kind, version) => {
            return Err(BundleError::Unsupported(format!(
                "{kind} {version} log entries are not supported"
            )));
        }
    };
    if hash.algorithm != "sha256" {
        return Err(log(format!("unsupported payload hash {}", hash.algorithm)));
    }
    Ok(LoggedBody::Envelope(EnvelopeEntry {
        payload_hash: hex::decode(&hash.value).map_err(|e| bad(e.to_string()))?,
        signatures,
    }))
}

pub(super) fn log(detail: String) -> BundleError {
    BundleError::Log(detail)
}
