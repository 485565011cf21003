//! Keyless authorities: does a cosign `.sig` layer carry a signature made with the key of a
//! short-lived certificate from a trusted CA, for an allowed identity, proven by a trusted Rekor
//! log, for this image? Stricter than sigstore-rs 0.15, whose certificate verifiers neither check
//! the signature against the certificate's key nor compare the log entry with the layer.
//!
//! A pure function over the fetched layer and the compiled authority: no network, no clock (the
//! certificate is judged at the log's `integratedTime`). Steps, for every layer:
//!
//! 1. the layer's signature annotation is present, bounded and base64;
//! 2. a Rekor bundle is present and its SET verifies with a trusted Rekor key (by log ID), valid
//!    at the entry's time;
//! 3. the logged entry records exactly this signature over this payload's digest;
//! 4. a certificate is present, parses, and is for code signing;
//! 5. the logged entry records exactly this certificate;
//! 6. the signature verifies over the payload with the certificate's key — always;
//! 7. the certificate was valid at `integratedTime` and chains to a trusted CA valid then:
//!    through one trust-root entry's own certificates (the chain annotation completes chains
//!    only to a bare PEM anchor), that entry's `validFor` holding the time, and every
//!    certificate, the root included, valid then; and, where the authority requires one
//!    (`insecureIgnoreSCT` unset and CT logs in the trust root), it carries an SCT by one of
//!    the trust root's CT logs, valid at the SCT's time;
//! 8. its issuer and subject (SAN email or URI) match one of the allowed identities;
//! 9. the payload is a cosign simple-signing document, 10. for the resolved digest, 11. under
//!    an acceptable `docker-reference` (exactly as for key authorities).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sigstore::crypto::Signature;

use crate::policy::{CertificateIdentity, KeylessAuthority, Matcher};

use super::certificate::{self, FulcioIdentity};
use super::rekor::{self, RekorError};
use super::{
    Acceptance, BUNDLE_ANNOTATION, CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION, CertifiedSigner,
    Mismatch, SIGNATURE_ANNOTATION, SignatureLayer, Subject, signed_payload,
};

/// Largest base64 signature annotation accepted (ECDSA signatures are under 200 bytes).
pub const MAX_SIGNATURE_BYTES: usize = 8 * 1024;

/// Steps 1 to 11 of the module documentation for one layer. Which layers are examined, and how
/// many distinct signers are needed, is decided in `mod.rs` (with `threshold.rs`).
pub(super) fn check_layer(
    authority: &KeylessAuthority,
    subject: Subject<'_>,
    layer: &SignatureLayer,
) -> Result<Acceptance, Mismatch> {
    let annotation = |name: &str| layer.annotations.get(name).map(String::as_str);
    // 1. The signature.
    let signature = signature_bytes(annotation(SIGNATURE_ANNOTATION))?;
    // 2. The transparency-log proof.
    let bundle = annotation(BUNDLE_ANNOTATION).ok_or(Mismatch::TransparencyLogMissing)?;
    let logged = rekor::verify_bundle(bundle, &authority.trust).map_err(log_invalid)?;
    // 3. ... is a proof for this signature over this payload.
    logged
        .entry
        .binds(&signature, &layer.payload)
        .map_err(log_invalid)?;
    // 4. The certificate.
    let cert_pem =
        annotation(CERTIFICATE_ANNOTATION).ok_or_else(|| Mismatch::CertificateInvalid {
            detail: "the signature carries no certificate (dev.sigstore.cosign/certificate)".into(),
        })?;
    let cert = certificate::parse_signing_certificate(cert_pem).map_err(cert_invalid)?;
    let chain = match annotation(CHAIN_ANNOTATION) {
        Some(pem) => certificate::parse_chain(pem).map_err(cert_invalid)?,
        None => Vec::new(),
    };
    // 5. ... is the certificate the log recorded.
    logged
        .entry
        .binds_certificate(&cert.der)
        .map_err(log_invalid)?;
    // 6. The signature is the certificate key's.
    cert.key
        .verify_signature(Signature::Raw(&signature), &layer.payload)
        .map_err(|_| Mismatch::CertificateKeyMismatch)?;
    // 7. The certificate is trusted at the signing time.
    certificate::verify_chain(&cert, &chain, &authority.trust, logged.integrated_time)
        .map_err(|detail| Mismatch::CertificateUntrusted { detail })?;
    // 8. The identity is allowed.
    if !authority
        .identities
        .iter()
        .any(|id| identity_allowed(id, &cert.identity))
    {
        return Err(identity_not_allowed(&authority.identities, &cert.identity));
    }
    // 9.–11. The payload, as for key authorities.
    let payload = signed_payload(layer, subject, &authority.identity)?;
    Ok(Acceptance {
        key_fingerprint: cert.key_fingerprint,
        signed_reference: payload.docker_reference,
        certificate: Some(CertifiedSigner {
            identity: cert.identity,
            log_index: logged.log_index,
            integrated_time: logged.integrated_time,
        }),
    })
}

/// Does the certificate satisfy `id`? The issuer must match (a certificate without one is
/// matched as the empty string, so only a pattern that accepts "" admits it), and so must one
/// of its SAN emails or URIs (only its emails for a containers-policy.json `subjectEmail`).
pub(super) fn identity_allowed(id: &CertificateIdentity, found: &FulcioIdentity) -> bool {
    let issuer_ok = id
        .issuer
        .matches(found.issuer.as_deref().unwrap_or_default());
    issuer_ok
        && match &id.subject {
            Matcher::Email(email) => found.emails.iter().any(|e| e == email),
            subject => found.subjects().any(|s| subject.matches(s)),
        }
}

/// Why a valid certificate is not allowed: containers/image's words for a containers-policy.json
/// `fulcio` identity (issuer first, then email), the allowed and found identities otherwise.
pub(super) fn identity_not_allowed(
    allowed: &[CertificateIdentity],
    found: &FulcioIdentity,
) -> Mismatch {
    if let [
        CertificateIdentity {
            issuer,
            subject: Matcher::Email(email),
        },
    ] = allowed
    {
        if !issuer.matches(found.issuer.as_deref().unwrap_or_default()) {
            return Mismatch::UnexpectedIssuer {
                found: found.issuer.clone(),
            };
        }
        return Mismatch::EmailNotFound {
            required: email.clone(),
            found: found.emails.clone(),
        };
    }
    Mismatch::IdentityNotAllowed {
        required: allowed.iter().map(CertificateIdentity::describe).collect(),
        found: vec![found.describe()],
    }
}

/// A layer without a signature is no signature; one that is not bounded base64 is malformed.
fn signature_bytes(annotation: Option<&str>) -> Result<Vec<u8>, Mismatch> {
    let malformed = |detail: &str| Mismatch::MalformedPayload {
        detail: detail.to_string(),
    };
    let text = annotation.ok_or(Mismatch::NoSignature)?;
    if text.len() > MAX_SIGNATURE_BYTES {
        return Err(malformed("the signature annotation is over 8 KiB"));
    }
    BASE64
        .decode(text.trim())
        .map_err(|_| malformed("the signature annotation is not base64"))
}

fn log_invalid(e: RekorError) -> Mismatch {
    Mismatch::TransparencyLogInvalid {
        detail: e.to_string(),
    }
}

fn cert_invalid(e: certificate::CertificateError) -> Mismatch {
    Mismatch::CertificateInvalid {
        detail: e.to_string(),
    }
}

#[cfg(test)]
mod tests;
