//! Signature stage: does the signature material fetched for one digest satisfy an authority?
//! Key authorities are checked here; keyless ones (Fulcio certificate + Rekor proof) in
//! `keyless.rs`, with `certificate.rs` and `rekor.rs`.
//!
//! Pure functions over bytes the registry stage already fetched and bounded: no network, no
//! clock. The sigstore crate is used for the cryptography only. Everything it does not check for
//! us is checked here, in this order, for every signature layer of a key authority:
//!
//! 1. the layer's signature verifies over the exact payload bytes with one of the trusted keys;
//! 2. the payload is a cosign simple-signing document of the right type;
//! 3. `critical.image.docker-manifest-digest` equals the digest this review resolved;
//! 4. `critical.identity.docker-reference` satisfies the authority's identity rule.
//!
//! Failures are returned as [`Mismatch`] values that say what was required and what was found,
//! never as a bare `false`.

mod certificate;
mod identity;
mod keyless;
mod mismatch;
mod payload;
mod rekor;

use sigstore::crypto::Signature;

use crate::policy::{KeyAuthority, TrustedKey};
use crate::reference::{Digest, ImageReference};
pub use crate::registry::SignatureLayer;

pub use certificate::{
    CertificateError, FulcioIdentity, SigningCertificate, parse_signing_certificate,
};
pub use identity::identity_accepts;
pub use keyless::check_keyless_authority;
pub use mismatch::Mismatch;
pub use payload::{PayloadError, SimpleSigningPayload};
pub use rekor::{LogEntry, RekorError, VerifiedEntry, verify_bundle};

/// Annotation on a cosign signature layer that holds the base64 signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// Annotation holding the PEM signing certificate of a keyless signature.
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// Annotation holding the PEM intermediate (and root) certificates of a keyless signature.
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
/// Annotation holding the Rekor bundle (signed entry timestamp and entry body).
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";

/// What the image to be checked is: the reference as the pod names it and the digest this review
/// resolved it to. Every check uses this digest, never a second lookup.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The normalised reference from the pod spec.
    pub image: &'a ImageReference,
    /// The digest the registry stage resolved, once, for this review.
    pub digest: &'a Digest,
}

/// A signature that satisfied an authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acceptance {
    /// Fingerprint (`sha256:` of the SubjectPublicKeyInfo DER) of the key that verified the
    /// signature: the trusted key, or the signing certificate's key.
    pub key_fingerprint: String,
    /// The `docker-reference` the signer claimed.
    pub signed_reference: String,
    /// For keyless signatures: who the certificate names and where the log recorded it.
    pub certificate: Option<CertifiedSigner>,
}

/// The signer of an accepted keyless signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertifiedSigner {
    /// Issuer, SANs and Fulcio extensions of the certificate.
    pub identity: FulcioIdentity,
    /// The Rekor log index of the entry.
    pub log_index: i64,
    /// When the log recorded it (Unix seconds).
    pub integrated_time: i64,
}

/// Does any layer satisfy `authority` for `subject`? Returns the first acceptance, or the most
/// informative mismatch across all layers.
pub fn check_key_authority(
    authority: &KeyAuthority,
    subject: Subject<'_>,
    layers: &[SignatureLayer],
) -> Result<Acceptance, Mismatch> {
    if layers.is_empty() {
        return Err(Mismatch::NoSignature);
    }
    let mut best = Mismatch::UntrustedSigner {
        trusted_keys: authority.keys.len(),
        signatures: layers.len(),
    };
    for layer in layers {
        match check_layer(authority, subject, layer) {
            Ok(acceptance) => return Ok(acceptance),
            Err(mismatch) => best = best.merge(mismatch),
        }
    }
    Err(best)
}

/// Steps 1 to 4 of the module documentation for one layer.
fn check_layer(
    authority: &KeyAuthority,
    subject: Subject<'_>,
    layer: &SignatureLayer,
) -> Result<Acceptance, Mismatch> {
    let untrusted = Mismatch::UntrustedSigner {
        trusted_keys: authority.keys.len(),
        signatures: 1,
    };
    let signature = layer
        .annotations
        .get(SIGNATURE_ANNOTATION)
        .ok_or(untrusted.clone())?;
    let key = trusted_signer(&authority.keys, signature, &layer.payload).ok_or(untrusted)?;
    let payload =
        SimpleSigningPayload::parse(&layer.payload).map_err(|e| Mismatch::MalformedPayload {
            detail: e.to_string(),
        })?;
    if payload.manifest_digest != subject.digest.as_str() {
        return Err(Mismatch::DigestMismatch {
            expected: subject.digest.clone(),
            found: payload.manifest_digest,
        });
    }
    identity_accepts(
        &authority.identity,
        subject.image,
        &payload.docker_reference,
    )?;
    Ok(Acceptance {
        key_fingerprint: key.fingerprint.clone(),
        signed_reference: payload.docker_reference,
        certificate: None,
    })
}

/// The first trusted key under which `signature` (base64) verifies over `payload`.
fn trusted_signer<'k>(
    keys: &'k [TrustedKey],
    signature: &str,
    payload: &[u8],
) -> Option<&'k TrustedKey> {
    keys.iter().find(|k| {
        k.key
            .verify_signature(Signature::Base64Encoded(signature.as_bytes()), payload)
            .is_ok()
    })
}
