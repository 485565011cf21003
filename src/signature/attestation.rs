//! Attestations (cosign `attest`): which DSSE envelopes of one digest a key authority has
//! signed, and what their in-toto Statements say. For every `.att` layer, in this order:
//!
//! 1. the layer is a DSSE envelope of payload type `application/vnd.in-toto+json` whose
//!    payload is at most [`MAX_STATEMENT_BYTES`];
//! 2. one of its signatures verifies with a trusted key over the DSSE pre-authentication
//!    encoding `PAE(payloadType, payload)` (other signatures in the envelope are ignored, as
//!    cosign's verifier ignores them);
//! 3. the payload is an in-toto Statement (v0.1 or v1) with a `subject` whose sha256 is the
//!    digest this review resolved.
//!
//! Sigstore bundles carrying a DSSE envelope (`cosign attest --new-bundle-format`, found
//! as referrers with the signatures) are verified as bundles are (`bundle/verify.rs`: the key,
//! or for keyless authorities a Fulcio certificate of an allowed identity logged in a trusted
//! Rekor log; a Rekor entry where a key authority's `ctlog` requires one), then steps 1 and 3.
//! cosign 3's image signatures (predicate `https://sigstore.dev/cosign/sign/v1`) are not
//! attestations and are skipped.
//!
//! What the Statement must further say (its predicate type, its policy) is the engine's, which
//! evaluates the policies under their budget. Pure functions over fetched bytes, like the rest
//! of this stage.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use sigstore::crypto::Signature;

use super::bundle::dsse::{COSIGN_SIGN_PREDICATE, IN_TOTO_PAYLOAD_TYPE, pae, parse_statement};
use super::bundle::{SignedContent, Signer, verify_sigstore_bundle};
use super::keyless::identity_allowed;
use super::{SignatureBundle, SignatureLayer, Subject};
use crate::policy::{AuthorityKind, KeyAuthority, MAX_STATEMENT_BYTES, TrustedKey};

/// Most signatures read from one envelope.
const MAX_ENVELOPE_SIGNATURES: usize = 16;

/// An attestation whose envelope a trusted key signed, about this digest.
#[derive(Debug, Clone)]
pub struct VerifiedAttestation {
    /// Who signed it: `key sha256:…` (the key's fingerprint) or, keyless, the certificate's
    /// identity; thresholds count distinct signers.
    pub signer: String,
    /// The Statement's `predicateType`.
    pub predicate_type: String,
    /// The whole Statement, as policies see it.
    pub statement: serde_json::Value,
}

/// Why an attestation layer proved nothing, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedAttestation {
    /// The layer's `predicateType` annotation, when it has one.
    pub predicate_type: Option<String>,
    /// What was wrong.
    pub detail: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    payload_type: String,
    payload: String,
    #[serde(default)]
    signatures: Vec<EnvelopeSignature>,
}

#[derive(Deserialize)]
struct EnvelopeSignature {
    #[serde(default)]
    sig: String,
}

/// Every attestation of `layers` the key `authority` signed about `subject`, and why the
/// others were rejected.
pub fn key_attestations(
    authority: &KeyAuthority,
    subject: Subject<'_>,
    layers: &[SignatureLayer],
) -> (Vec<VerifiedAttestation>, Vec<RejectedAttestation>) {
    let mut verified = Vec::new();
    let mut rejected = Vec::new();
    for layer in layers {
        match check_envelope(&authority.keys, subject, &layer.payload) {
            Ok(attestation) => verified.push(attestation),
            Err(detail) => rejected.push(RejectedAttestation {
                predicate_type: layer.annotations.get("predicateType").cloned(),
                detail,
            }),
        }
    }
    (verified, rejected)
}

fn check_envelope(
    keys: &[TrustedKey],
    subject: Subject<'_>,
    bytes: &[u8],
) -> Result<VerifiedAttestation, String> {
    let envelope: Envelope = serde_json::from_slice(bytes)
        .map_err(|e| format!("the layer is not a DSSE envelope: {e}"))?;
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(format!(
            "the DSSE payload type is {:?}, not an in-toto Statement",
            envelope.payload_type
        ));
    }
    if envelope.payload.len() > MAX_STATEMENT_BYTES / 3 * 4 + 4 {
        return Err(format!(
            "the Statement is over Signet's limit of {MAX_STATEMENT_BYTES} bytes"
        ));
    }
    let payload = BASE64
        .decode(envelope.payload.trim())
        .map_err(|_| "the DSSE payload is not base64".to_string())?;
    if payload.len() > MAX_STATEMENT_BYTES {
        return Err(format!(
            "the Statement is {} bytes, over Signet's limit of {MAX_STATEMENT_BYTES}",
            payload.len()
        ));
    }
    let signed = pae(&envelope.payload_type, &payload);
    let signer = envelope
        .signatures
        .iter()
        .take(MAX_ENVELOPE_SIGNATURES)
        .filter_map(|s| BASE64.decode(s.sig.trim()).ok())
        .find_map(|sig| {
            keys.iter().find(|k| {
                k.key
                    .verify_signature(Signature::Raw(&sig), &signed)
                    .is_ok()
            })
        })
        .ok_or_else(|| {
            format!(
                "none of its {} signatures verifies with the {} trusted key(s)",
                envelope.signatures.len(),
                keys.len()
            )
        })?;
    let (predicate_type, statement) = about_subject(subject, &envelope.payload_type, &payload)?;
    Ok(VerifiedAttestation {
        signer: format!("key {}", signer.fingerprint),
        predicate_type,
        statement,
    })
}

/// Step 3: the Statement's predicate type and JSON, when a subject is `subject`'s digest.
fn about_subject(
    subject: Subject<'_>,
    payload_type: &str,
    payload: &[u8],
) -> Result<(String, serde_json::Value), String> {
    let statement = parse_statement(payload_type, payload)?;
    if statement
        .subject_for(subject.digest.algorithm(), subject.digest.hex())
        .is_none()
    {
        let named: Vec<String> = statement
            .subjects
            .iter()
            .filter_map(|s| s.digest.get("sha256").map(|d| format!("sha256:{d}")))
            .take(3)
            .collect();
        return Err(format!(
            "its Statement is about another image (subject {}), not {}",
            match named.is_empty() {
                true => "without a sha256 digest".to_string(),
                false => named.join(", "),
            },
            subject.digest
        ));
    }
    let json =
        serde_json::from_slice(payload).map_err(|e| format!("the Statement is not JSON: {e}"))?;
    Ok((statement.predicate_type, json))
}

/// Every attestation carried by a Sigstore bundle of `bundles` that the key or keyless
/// `authority` verifies, about `subject`; image signatures and message signatures are skipped.
pub fn bundle_attestations(
    authority: &AuthorityKind,
    subject: Subject<'_>,
    bundles: &[SignatureBundle],
) -> (Vec<VerifiedAttestation>, Vec<RejectedAttestation>) {
    let mut verified = Vec::new();
    let mut rejected = Vec::new();
    for bundle in bundles {
        match bundle_attestation(authority, subject, bundle) {
            Ok(Some(attestation)) => verified.push(attestation),
            Ok(None) => {}
            Err(detail) => rejected.push(RejectedAttestation {
                predicate_type: None,
                detail: format!("a Sigstore bundle: {detail}"),
            }),
        }
    }
    (verified, rejected)
}

fn bundle_attestation(
    authority: &AuthorityKind,
    subject: Subject<'_>,
    bundle: &SignatureBundle,
) -> Result<Option<VerifiedAttestation>, String> {
    let signer = match authority {
        AuthorityKind::Key(k) => Signer::Keys {
            keys: &k.keys,
            log: k.rekor.as_deref(),
        },
        AuthorityKind::Keyless(k) => Signer::Keyless(&k.trust),
        AuthorityKind::Static(_) | AuthorityKind::Notation(_) => return Ok(None),
    };
    let verified =
        verify_sigstore_bundle(&bundle.bytes, None, signer).map_err(|e| e.to_string())?;
    let (SignedContent::Statement(statement), Some(payload)) =
        (&verified.content, &verified.payload)
    else {
        return Ok(None);
    };
    if statement.predicate_type == COSIGN_SIGN_PREDICATE {
        return Ok(None);
    }
    if payload.len() > MAX_STATEMENT_BYTES {
        return Err(format!(
            "the Statement is over Signet's limit of {MAX_STATEMENT_BYTES} bytes"
        ));
    }
    let signer = match (authority, &verified.certificate) {
        (AuthorityKind::Keyless(k), Some(cert)) => {
            if !k
                .identities
                .iter()
                .any(|id| identity_allowed(id, &cert.identity))
            {
                return Err(format!(
                    "signed by {}, which none of the authority's identities allows",
                    cert.identity.describe()
                ));
            }
            cert.identity.describe()
        }
        (AuthorityKind::Keyless(_), None) => return Err("the bundle carries no certificate".into()),
        _ => format!("key {}", verified.key_fingerprint),
    };
    let (predicate_type, statement) = about_subject(subject, IN_TOTO_PAYLOAD_TYPE, payload)?;
    Ok(Some(VerifiedAttestation {
        signer,
        predicate_type,
        statement,
    }))
}
