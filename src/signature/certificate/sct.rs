//! Signed certificate timestamps (RFC 6962 §3.2–3.3) embedded in a Fulcio certificate: a CT
//! log's signed promise that it published the certificate (as a precertificate). policy-controller
//! requires one unless a keyless authority sets `insecureIgnoreSCT: true`; so does Signet where
//! the trust root lists CT logs. Steps: 1. the certificate carries the SCT list extension; 2.
//! the list parses (bounded); 3. the precertificate's TBS is the certificate's TBS without that
//! extension, and the issuer key hash is the SHA-256 of the issuing certificate's public key; 4.
//! one SCT (v1) names a CT log of the trust root whose `validFor` holds the SCT's time, and its
//! signature verifies with that log's key over the RFC 6962 `digitally-signed` structure.
//! Pure: bytes in, a verdict out.

use std::collections::BTreeMap;

use der::asn1::{BitString, ObjectIdentifier, OctetString};
use der::{Any, Decode, Encode, Sequence};
use sha2::{Digest, Sha256};
use sigstore::crypto::Signature;
use x509_cert::Certificate;
use x509_cert::ext::Extension;

use crate::policy::LogKey;

use super::rfc3339;

/// The embedded SCT list extension (RFC 6962 §3.3).
const SCT_LIST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");
/// Most SCTs read from one certificate (Fulcio embeds one).
const MAX_SCTS: usize = 8;

/// A TBSCertificate read field by field, so it can be written back without one extension.
#[derive(Sequence)]
struct RawTbs {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    version: Option<u8>,
    serial_number: Any,
    signature: Any,
    issuer: Any,
    validity: Any,
    subject: Any,
    subject_public_key_info: Any,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    issuer_unique_id: Option<BitString>,
    #[asn1(context_specific = "2", tag_mode = "IMPLICIT", optional = "true")]
    subject_unique_id: Option<BitString>,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
    extensions: Option<Vec<Extension>>,
}

/// One SCT, as read from the list.
struct Sct<'a> {
    log_id: &'a [u8],
    timestamp_ms: u64,
    extensions: &'a [u8],
    signature: &'a [u8],
}

/// Does `leaf` (DER) carry an SCT by one of `ct_keys`, valid at the SCT's time, over the
/// precertificate issued by the holder of `issuer_spki` (DER)? `origin` names the trust root.
pub(super) fn verify_embedded(
    leaf: &[u8],
    issuer_spki: &[u8],
    ct_keys: &BTreeMap<String, LogKey>,
    origin: &str,
) -> Result<(), String> {
    // 1. The extension.
    let cert = Certificate::from_der(leaf).map_err(|e| format!("not X.509: {e}"))?;
    let extensions = cert.tbs_certificate().extensions().map(|e| e.as_slice());
    let found = extensions
        .unwrap_or_default()
        .iter()
        .find(|e| e.extn_id == SCT_LIST)
        .ok_or_else(|| {
            format!(
                "carries no SCT, and its policy requires one from a CT log of {origin} (set \
                 insecureIgnoreSCT: true on the keyless authority to rely on the Rekor entry alone)"
            )
        })?;
    // 2. The list.
    let list = OctetString::from_der(found.extn_value.as_bytes())
        .map_err(|e| format!("its SCT list is not an OCTET STRING: {e}"))?;
    let scts = parse_list(list.as_bytes()).ok_or("its SCT list is malformed")?;
    // 3. What the log signed over.
    let tbs = precertificate_tbs(leaf)?;
    let issuer_key_hash: [u8; 32] = Sha256::digest(issuer_spki).into();
    // 4. One SCT by a trusted log, in its window.
    let mut why = format!("none of its SCTs is by a CT log of {origin}");
    for sct in &scts {
        let Some(log) = ct_keys.get(&hex::encode(sct.log_id)) else {
            continue;
        };
        let seconds = i64::try_from(sct.timestamp_ms / 1000).unwrap_or(i64::MAX);
        if !log.valid_for.contains(seconds) {
            why = format!(
                "its SCT is by CT log {}, which {origin} does not trust at the SCT's time {}",
                log.log_id,
                rfc3339(seconds)
            );
            continue;
        }
        let signed = signed_data(sct, &issuer_key_hash, &tbs).ok_or("its TBS is too large")?;
        if log
            .key
            .verify_signature(Signature::Raw(sct.signature), &signed)
            .is_ok()
        {
            return Ok(());
        }
        why = format!(
            "its SCT does not verify with the key of CT log {}",
            log.log_id
        );
    }
    Err(why)
}

/// The SCTs of a TLS `SignedCertificateTimestampList`; `None` when malformed or too many.
fn parse_list(bytes: &[u8]) -> Option<Vec<Sct<'_>>> {
    let (list, rest) = take_u16_prefixed(bytes)?;
    if !rest.is_empty() {
        return None;
    }
    let mut scts = Vec::new();
    let mut remaining = list;
    while !remaining.is_empty() {
        let (one, rest) = take_u16_prefixed(remaining)?;
        if scts.len() == MAX_SCTS {
            return None;
        }
        scts.push(parse_sct(one)?);
        remaining = rest;
    }
    Some(scts)
}

/// One v1 SCT: version, log ID, timestamp, extensions, `digitally-signed` signature.
fn parse_sct(bytes: &[u8]) -> Option<Sct<'_>> {
    let (&version, rest) = bytes.split_first()?;
    if version != 0 {
        return None;
    }
    let (log_id, rest) = rest.split_at_checked(32)?;
    let (timestamp, rest) = rest.split_at_checked(8)?;
    let timestamp_ms = u64::from_be_bytes(timestamp.try_into().ok()?);
    let (extensions, rest) = take_u16_prefixed(rest)?;
    // Hash and signature algorithm (2 bytes): the log key decides how it verifies.
    let (_algorithms, rest) = rest.split_at_checked(2)?;
    let (signature, rest) = take_u16_prefixed(rest)?;
    rest.is_empty().then_some(Sct {
        log_id,
        timestamp_ms,
        extensions,
        signature,
    })
}

fn take_u16_prefixed(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (length, rest) = bytes.split_at_checked(2)?;
    let length = usize::from(u16::from_be_bytes([length[0], length[1]]));
    rest.split_at_checked(length)
}

/// The leaf's TBSCertificate, DER, without the SCT list extension: the precertificate's TBS as
/// the log saw it (RFC 6962 §3.2).
fn precertificate_tbs(leaf: &[u8]) -> Result<Vec<u8>, String> {
    let cert = Certificate::from_der(leaf).map_err(|e| format!("not X.509: {e}"))?;
    let tbs_der = cert
        .tbs_certificate()
        .to_der()
        .map_err(|e| format!("unreadable TBS: {e}"))?;
    let mut tbs = RawTbs::from_der(&tbs_der).map_err(|e| format!("unreadable TBS: {e}"))?;
    if let Some(extensions) = &mut tbs.extensions {
        extensions.retain(|e| e.extn_id != SCT_LIST);
    }
    tbs.to_der().map_err(|e| format!("unwritable TBS: {e}"))
}

/// RFC 6962 §3.2 `digitally-signed` input for a precertificate entry.
fn signed_data(sct: &Sct<'_>, issuer_key_hash: &[u8; 32], tbs: &[u8]) -> Option<Vec<u8>> {
    let tbs_length = u32::try_from(tbs.len()).ok().filter(|l| *l < 1 << 24)?;
    let extensions_length = u16::try_from(sct.extensions.len()).ok()?;
    let mut out = Vec::with_capacity(tbs.len() + 64);
    out.push(0); // sct_version v1
    out.push(0); // signature_type certificate_timestamp
    out.extend_from_slice(&sct.timestamp_ms.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes()); // entry_type precert_entry
    out.extend_from_slice(issuer_key_hash);
    out.extend_from_slice(&tbs_length.to_be_bytes()[1..]);
    out.extend_from_slice(tbs);
    out.extend_from_slice(&extensions_length.to_be_bytes());
    out.extend_from_slice(sct.extensions);
    Some(out)
}
