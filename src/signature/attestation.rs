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
//! For a key authority with `ctlog`, and always for a keyless one, the layer's Rekor bundle
//! (`dev.sigstore.cosign/bundle`) must carry a SET by a trusted log over a `dsse` 0.0.1 or
//! `intoto` 0.0.2 entry (what `cosign attest` logs) recording this payload's hash and the very
//! signature that verified, with this key or this certificate. Keyless, the signature must verify
//! with the key of the layer's certificate (`dev.sigstore.cosign/certificate`), which must chain
//! to a trusted Fulcio at the entry's `integratedTime` and name an allowed identity.
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

use sha2::{Digest as _, Sha256};

use super::bundle::dsse::{COSIGN_SIGN_PREDICATE, IN_TOTO_PAYLOAD_TYPE, pae, parse_statement};
use super::bundle::{EnvelopeEntry, SignedContent, Signer, envelope_entry, verify_sigstore_bundle};
use super::certificate::FulcioIdentity;
use super::keyless::identity_allowed;
use super::{
    BUNDLE_ANNOTATION, CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION, SignatureBundle, SignatureLayer,
    Subject, certificate, rekor,
};
use crate::policy::{
    AuthorityKind, CertificateIdentity, KeyAuthority, KeylessAuthority, KeylessTrust,
    MAX_STATEMENT_BYTES,
};

/// Most signatures read from one envelope.
const MAX_ENVELOPE_SIGNATURES: usize = 16;

/// An attestation whose envelope a trusted key or certificate signed, about this digest.
#[derive(Debug, Clone)]
pub struct VerifiedAttestation {
    /// Who signed it: `key sha256:…` (the key's fingerprint) or, keyless, the certificate's
    /// identity; thresholds count distinct signers.
    pub signer: String,
    /// The Statement's `predicateType`.
    pub predicate_type: String,
    /// The whole Statement, as policies see it.
    pub statement: serde_json::Value,
    /// Hex sha256 of the layer (the envelope) or of the Sigstore bundle: policy-controller's
    /// `id` of an attestation in a CIP-level policy's input.
    pub id: String,
    /// Keyless: the certificate's issuer, subjects and extensions.
    pub identity: Option<FulcioIdentity>,
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

/// Every attestation of `layers` the key `authority` signed about `subject` (and, where its
/// `ctlog` requires it, logged in a trusted Rekor log), and why the others were rejected.
pub fn key_attestations(
    authority: &KeyAuthority,
    subject: Subject<'_>,
    layers: &[SignatureLayer],
) -> (Vec<VerifiedAttestation>, Vec<RejectedAttestation>) {
    judge_layers(layers, |layer| check_key_layer(authority, subject, layer))
}

/// Every attestation of `layers` signed with the key of a Fulcio certificate the keyless
/// `authority` trusts, for an identity it allows, logged in a trusted Rekor log, about
/// `subject`; and why the others were rejected. The steps of `keyless.rs` for `.sig` layers,
/// over the envelope's PAE instead of a payload, with the log entry a `dsse` or `intoto` one.
pub fn keyless_attestations(
    authority: &KeylessAuthority,
    subject: Subject<'_>,
    layers: &[SignatureLayer],
) -> (Vec<VerifiedAttestation>, Vec<RejectedAttestation>) {
    judge_layers(layers, |layer| {
        check_keyless_layer(authority, subject, layer)
    })
}

fn judge_layers(
    layers: &[SignatureLayer],
    check: impl Fn(&SignatureLayer) -> Result<VerifiedAttestation, String>,
) -> (Vec<VerifiedAttestation>, Vec<RejectedAttestation>) {
    let mut verified = Vec::new();
    let mut rejected = Vec::new();
    for layer in layers {
        match check(layer) {
            Ok(attestation) => verified.push(attestation),
            Err(detail) => rejected.push(RejectedAttestation {
                predicate_type: layer.annotations.get("predicateType").cloned(),
                detail,
            }),
        }
    }
    (verified, rejected)
}

/// A DSSE envelope read from a layer: steps 1 and the decoding of its signatures (bounded).
struct OpenedEnvelope {
    payload_type: String,
    payload: Vec<u8>,
    signatures: Vec<Vec<u8>>,
    /// How many signatures the envelope holds, for messages.
    count: usize,
}

impl OpenedEnvelope {
    /// The signed bytes: DSSE's pre-authentication encoding.
    fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }
}

fn open_envelope(bytes: &[u8]) -> Result<OpenedEnvelope, String> {
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
    let signatures = envelope
        .signatures
        .iter()
        .take(MAX_ENVELOPE_SIGNATURES)
        .filter_map(|s| BASE64.decode(s.sig.trim()).ok())
        .collect();
    Ok(OpenedEnvelope {
        payload_type: envelope.payload_type,
        payload,
        signatures,
        count: envelope.signatures.len(),
    })
}

fn check_key_layer(
    authority: &KeyAuthority,
    subject: Subject<'_>,
    layer: &SignatureLayer,
) -> Result<VerifiedAttestation, String> {
    let envelope = open_envelope(&layer.payload)?;
    let signed = envelope.pae();
    // Step 2: every (trusted key, signature) pair that verifies; with `ctlog`, the first the
    // log recorded.
    let mut signers = envelope.signatures.iter().flat_map(|sig| {
        authority
            .keys
            .iter()
            .filter(|k| k.key.verify_signature(Signature::Raw(sig), &signed).is_ok())
            .map(move |k| (k, sig))
    });
    let unsigned = || {
        format!(
            "none of its {} signatures verifies with the {} trusted key(s)",
            envelope.count,
            authority.keys.len()
        )
    };
    let signer = match &authority.rekor {
        None => signers.next().map(|(k, _)| k).ok_or_else(unsigned)?,
        Some(trust) => {
            let signers: Vec<_> = signers.collect();
            if signers.is_empty() {
                return Err(unsigned());
            }
            let (logged, _) = logged_envelope(layer, trust, &envelope.payload)?;
            signers
                .into_iter()
                .find(|(k, sig)| {
                    logged
                        .signatures
                        .iter()
                        .any(|(s, pem)| s == *sig && same_key(pem, k.spki()))
                })
                .map(|(k, _)| k)
                .ok_or_else(|| {
                    "its Rekor entry records another signature or key than the trusted key's"
                        .to_string()
                })?
        }
    };
    let (predicate_type, statement) =
        about_subject(subject, &envelope.payload_type, &envelope.payload)?;
    Ok(VerifiedAttestation {
        signer: format!("key {}", signer.fingerprint),
        predicate_type,
        statement,
        id: hex::encode(Sha256::digest(&layer.payload)),
        identity: None,
    })
}

fn check_keyless_layer(
    authority: &KeylessAuthority,
    subject: Subject<'_>,
    layer: &SignatureLayer,
) -> Result<VerifiedAttestation, String> {
    let envelope = open_envelope(&layer.payload)?;
    // The log's proof: a SET by a trusted log over an entry recording this payload.
    let (logged, integrated_time) = logged_envelope(layer, &authority.trust, &envelope.payload)?;
    // The certificate, and a signature of the envelope made with its key.
    let annotation = |name: &str| layer.annotations.get(name).map(String::as_str);
    let cert_pem = annotation(CERTIFICATE_ANNOTATION)
        .ok_or("the attestation carries no certificate (dev.sigstore.cosign/certificate)")?;
    let cert = certificate::parse_signing_certificate(cert_pem)
        .map_err(|e| format!("its certificate: {e}"))?;
    let chain = match annotation(CHAIN_ANNOTATION) {
        Some(pem) => certificate::parse_chain(pem).map_err(|e| format!("its chain: {e}"))?,
        None => Vec::new(),
    };
    let signed = envelope.pae();
    let signature = envelope
        .signatures
        .iter()
        .find(|sig| {
            cert.key
                .verify_signature(Signature::Raw(sig), &signed)
                .is_ok()
        })
        .ok_or_else(|| {
            format!(
                "none of its {} signatures was made with its certificate's key",
                envelope.count
            )
        })?;
    // ... which is what the log recorded, with this certificate.
    if !logged
        .signatures
        .iter()
        .any(|(s, pem)| s == signature && same_certificate(pem, &cert.der))
    {
        return Err(
            "its Rekor entry records another signature or certificate than the envelope's".into(),
        );
    }
    // The certificate chains to a trusted CA at the signing time, for an allowed identity.
    certificate::verify_chain(&cert, &chain, &authority.trust, integrated_time)
        .map_err(|detail| format!("its certificate is not trusted: {detail}"))?;
    allowed_identity(&authority.identities, &cert.identity)?;
    let (predicate_type, statement) =
        about_subject(subject, &envelope.payload_type, &envelope.payload)?;
    Ok(VerifiedAttestation {
        signer: cert.identity.describe(),
        predicate_type,
        statement,
        id: hex::encode(Sha256::digest(&layer.payload)),
        identity: Some(cert.identity),
    })
}

/// The layer's Rekor bundle: its SET verifies with a log of `trust` (valid at its time), and
/// its `dsse`/`intoto` entry records the hash of `payload`. The entry and its time.
fn logged_envelope(
    layer: &SignatureLayer,
    trust: &KeylessTrust,
    payload: &[u8],
) -> Result<(EnvelopeEntry, i64), String> {
    let bundle = layer.annotations.get(BUNDLE_ANNOTATION).ok_or(
        "the attestation carries no Rekor bundle (dev.sigstore.cosign/bundle), and the authority \
         requires a transparency-log entry",
    )?;
    let logged = rekor::verify_envelope_bundle(bundle, trust)
        .map_err(|e| format!("its transparency-log proof is invalid: {e}"))?;
    let entry = envelope_entry(&logged.body)
        .map_err(|e| format!("its transparency-log proof is invalid: {e}"))?;
    if entry.payload_hash[..] != Sha256::digest(payload)[..] {
        return Err("its Rekor entry records another DSSE payload".into());
    }
    Ok((entry, logged.integrated_time))
}

/// Is the certificate's identity one of `allowed`?
fn allowed_identity(allowed: &[CertificateIdentity], found: &FulcioIdentity) -> Result<(), String> {
    match allowed.iter().any(|id| identity_allowed(id, found)) {
        true => Ok(()),
        false => Err(format!(
            "signed by {}, which none of the authority's identities allows",
            found.describe()
        )),
    }
}

/// Is the PEM `pem` exactly one certificate, `der`?
fn same_certificate(pem: &[u8], der: &[u8]) -> bool {
    let mut reader = pem;
    let certs: Vec<_> = rustls_pemfile::certs(&mut reader).collect();
    matches!(certs.as_slice(), [Ok(one)] if one.as_ref() == der)
}

/// Is the PEM `pem` exactly the public key `spki` (SubjectPublicKeyInfo DER)?
fn same_key(pem: &[u8], spki: &[u8]) -> bool {
    let mut reader = pem;
    matches!(
        rustls_pemfile::read_one(&mut reader),
        Ok(Some(rustls_pemfile::Item::SubjectPublicKeyInfo(one))) if one.as_ref() == spki
    )
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
    let identity = verified.certificate.as_ref().map(|c| c.identity.clone());
    let signer = match (authority, &verified.certificate) {
        (AuthorityKind::Keyless(k), Some(cert)) => {
            allowed_identity(&k.identities, &cert.identity)?;
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
        id: hex::encode(Sha256::digest(&bundle.bytes)),
        identity,
    }))
}
