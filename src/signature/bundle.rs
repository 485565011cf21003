//! Sigstore bundles (cosign 3): does a bundle attached to an image digest satisfy an authority?
//! cosign 3 signs an image as a DSSE envelope holding an in-toto statement whose subject is the
//! image digest and whose predicate type is `https://sigstore.dev/cosign/sign/v1`; it names no
//! repository. The generic, offline bundle verification (signature, certificate, transparency
//! log with inclusion proof and checkpoint) is in `bundle/verify.rs`; this file adds what an
//! image signature must say, in this order, for every bundle:
//!
//! 1. the bundle verifies (`verify.rs` steps 1–8) with a trusted key, or with a certificate from
//!    a trusted CA logged in a trusted Rekor log, valid at every trusted time (the SET's
//!    integratedTime, verified RFC 3161 timestamps);
//! 2. keyless: the certificate's issuer and subject match an allowed identity;
//! 3. the content is an in-toto statement with the cosign image-signature predicate (an
//!    attestation is recognised as one and refused as a signature);
//! 4. a subject names the digest this review resolved;
//! 5. the subject's name, when the statement gives one, satisfies the identity rule like a
//!    `.sig` payload's `docker-reference`; without a name (cosign 3) only `matchRepository`
//!    (Signet's default, where the bundle was found in the image's own repository or its
//!    configured signature repository) and `anyRepository` accept it, since no name was signed.
//!
//! Pure: no network, no clock. Failures are [`Mismatch`] values naming what was found.

pub(super) mod dsse;
mod merkle;
pub(super) mod timestamp;
mod tlog;
mod verify;
mod wire;

use crate::policy::{IdentityRule, KeyAuthority, KeylessAuthority};
use crate::registry::SignatureBundle;

use super::certificate::CertificateError;
use super::keyless::{identity_allowed, identity_not_allowed};
use super::{Acceptance, CertifiedSigner, Mismatch, Subject, identity_accepts};

pub use dsse::{COSIGN_SIGN_PREDICATE, Statement, StatementSubject};
pub use merkle::{leaf_hash, node_hash, root_from_proof};
pub(super) use tlog::{EnvelopeEntry, envelope_entry};
pub use verify::{SignedContent, Signer, VerifiedBundle, verify_sigstore_bundle};
pub use wire::MAX_BUNDLE_BYTES;

/// Why a bundle is not a valid signature (before image-specific checks).
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Not a bundle Signet can read: bad JSON, unknown version, inconsistent material.
    #[error("invalid Sigstore bundle: {0}")]
    Malformed(String),
    /// Valid elsewhere, but needs what Signet does not verify (TSA-only time, Rekor v2, ...).
    #[error("not supported: {0}")]
    Unsupported(String),
    /// The transparency-log entry is not valid proof for this signature.
    #[error("invalid transparency-log proof: {0}")]
    Log(String),
    /// The signing certificate cannot be used.
    #[error("unusable signing certificate: {0}")]
    Certificate(CertificateError),
    /// The signature does not verify.
    #[error("{0}")]
    Signature(String),
    /// The certificate is not trusted at the signing time.
    #[error("untrusted signing certificate: {0}")]
    Untrusted(String),
    /// An RFC 3161 timestamp does not verify, or no trusted signing time exists.
    #[error("untrusted timestamp: {0}")]
    Timestamp(String),
    /// The signed content is not what was asked for.
    #[error("{0}")]
    Content(String),
}

/// Steps 1 and 3–5 for a key authority (the keys sign; a log entry is required only where the
/// authority requires Rekor, as for `.sig` signatures).
pub fn check_key_bundle(
    authority: &KeyAuthority,
    subject: Subject<'_>,
    bundle: &SignatureBundle,
) -> Result<Acceptance, Mismatch> {
    if authority.timestamps.is_some() {
        // Fail closed: a bundle's timestamps are not checked against `rfc3161timestamp` yet.
        return Err(Mismatch::BundleUnsupported {
            detail: "a key authority with rfc3161timestamp verifies the timestamps of `.sig` \
                     signatures only (cosign sign --timestamp-server-url)"
                .into(),
        });
    }
    let signer = Signer::Keys {
        keys: &authority.keys,
        log: authority.rekor.as_deref(),
    };
    let verified = verify_sigstore_bundle(&bundle.bytes, None, signer).map_err(|e| match e {
        BundleError::Signature(_) => Mismatch::UntrustedSigner {
            trusted_keys: authority.keys.len(),
            signatures: 1,
        },
        other => mismatch(other),
    })?;
    let signed_reference = image_claims(&verified, subject, &authority.identity)?;
    Ok(Acceptance {
        key_fingerprint: verified.key_fingerprint,
        signed_reference,
        certificate: None,
    })
}

/// Steps 1–5 for a keyless authority.
pub fn check_keyless_bundle(
    authority: &KeylessAuthority,
    subject: Subject<'_>,
    bundle: &SignatureBundle,
) -> Result<Acceptance, Mismatch> {
    // 1. The bundle.
    let signer = Signer::Keyless(&authority.trust);
    let verified = verify_sigstore_bundle(&bundle.bytes, None, signer).map_err(mismatch)?;
    let (Some(cert), Some((log_index, integrated_time))) = (&verified.certificate, verified.log)
    else {
        return Err(Mismatch::CertificateInvalid {
            detail: "the bundle carries no certificate".into(),
        });
    };
    // 2. The identity.
    if !authority
        .identities
        .iter()
        .any(|id| identity_allowed(id, &cert.identity))
    {
        return Err(identity_not_allowed(&authority.identities, &cert.identity));
    }
    // 3.–5. The statement.
    let signed_reference = image_claims(&verified, subject, &authority.identity)?;
    Ok(Acceptance {
        key_fingerprint: verified.key_fingerprint.clone(),
        signed_reference,
        certificate: Some(CertifiedSigner {
            identity: cert.identity.clone(),
            log_index,
            integrated_time,
        }),
    })
}

/// Steps 3–5: the signed name (empty when the statement has none).
fn image_claims(
    verified: &VerifiedBundle,
    subject: Subject<'_>,
    rule: &IdentityRule,
) -> Result<String, Mismatch> {
    // 3. An image signature, not an attestation.
    let statement = match &verified.content {
        SignedContent::Statement(s) => s,
        SignedContent::Message => {
            return Err(Mismatch::NotAnImageSignature {
                detail: "a message signature over a blob".into(),
            });
        }
    };
    if statement.predicate_type != COSIGN_SIGN_PREDICATE {
        return Err(Mismatch::NotAnImageSignature {
            detail: format!(
                "an attestation (predicateType {:?})",
                statement.predicate_type
            ),
        });
    }
    // 4. For this digest.
    let digest = subject.digest;
    let Some(signed) = statement.subject_for(digest.algorithm(), digest.hex()) else {
        let found = statement
            .subjects
            .iter()
            .flat_map(|s| s.digest.iter())
            .map(|(algorithm, hex)| format!("{algorithm}:{hex}"))
            .next()
            .unwrap_or_else(|| "no digest".into());
        return Err(Mismatch::DigestMismatch {
            expected: digest.clone(),
            found,
        });
    };
    // 5. Under an acceptable name.
    if !signed.name.is_empty() {
        identity_accepts(rule, subject.image, &signed.name)?;
        return Ok(signed.name.clone());
    }
    match rule {
        IdentityRule::MatchRepository | IdentityRule::AnyRepository => Ok(String::new()),
        _ => Err(unnamed(rule, subject)),
    }
}

/// The identity mismatch for a statement that signs no name, worded as the rule requires.
fn unnamed(rule: &IdentityRule, subject: Subject<'_>) -> Mismatch {
    let found = "no name (a Sigstore bundle signs the digest only)".to_string();
    match identity_accepts(rule, subject.image, "") {
        Err(Mismatch::IdentityMismatch { required, .. }) => {
            Mismatch::IdentityMismatch { required, found }
        }
        _ => Mismatch::IdentityMismatch {
            required: "a signed name".into(),
            found,
        },
    }
}

/// Bundle failures in the words of `.sig` failures where the situation is the same.
fn mismatch(e: BundleError) -> Mismatch {
    match e {
        BundleError::Malformed(detail) => Mismatch::BundleInvalid { detail },
        BundleError::Unsupported(detail) => Mismatch::BundleUnsupported { detail },
        BundleError::Log(detail) => Mismatch::TransparencyLogInvalid { detail },
        BundleError::Certificate(e) => Mismatch::CertificateInvalid {
            detail: e.to_string(),
        },
        BundleError::Signature(_) => Mismatch::CertificateKeyMismatch,
        BundleError::Untrusted(detail) => Mismatch::CertificateUntrusted { detail },
        BundleError::Timestamp(detail) => Mismatch::CertificateUntrusted {
            detail: format!("untrusted timestamp: {detail}"),
        },
        BundleError::Content(detail) => Mismatch::NotAnImageSignature { detail },
    }
}

#[cfg(test)]
mod tests;
