//! Signature stage: does the signature material fetched for one digest satisfy a key authority?
//!
//! A pure function over bytes the registry stage already fetched and bounded: no network, no clock.
//! The sigstore crate is used for the cryptography only. Everything it does not check for us is
//! checked here, in this order, for every signature layer:
//!
//! 1. the layer's signature verifies over the exact payload bytes with one of the trusted keys;
//! 2. the payload is a cosign simple-signing document of the right type;
//! 3. `critical.image.docker-manifest-digest` equals the digest this review resolved;
//! 4. `critical.identity.docker-reference` satisfies the authority's identity rule.
//!
//! Failures are returned as [`Mismatch`] values that say what was required and what was found,
//! never as a bare `false`.

mod identity;
mod payload;

use std::collections::BTreeMap;

use sigstore::crypto::Signature;

use crate::policy::{KeyAuthority, TrustedKey};
use crate::reference::{Digest, ImageReference};

pub use identity::identity_accepts;
pub use payload::{PayloadError, SimpleSigningPayload};

/// Annotation on a cosign signature layer that holds the base64 signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// One cosign signature layer as fetched from the registry: the payload blob and the layer's
/// descriptor annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureLayer {
    /// The layer blob: a simple-signing JSON document, verified against its descriptor digest.
    pub payload: Vec<u8>,
    /// Descriptor annotations (`dev.cosignproject.cosign/signature`, certificate, bundle …).
    pub annotations: BTreeMap<String, String>,
}

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
    /// Fingerprint of the key that verified the signature.
    pub key_fingerprint: String,
    /// The `docker-reference` the signer claimed.
    pub signed_reference: String,
}

/// Why the signatures of an image did not satisfy an authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// The image has no signature at all.
    NoSignature,
    /// Signatures exist, but none verifies with any trusted key.
    UntrustedSigner {
        /// How many keys the authority trusts.
        trusted_keys: usize,
        /// How many signatures were examined.
        signatures: usize,
    },
    /// A trusted key signed a payload for another digest (a copied signature).
    DigestMismatch {
        /// The digest this review resolved.
        expected: Digest,
        /// The digest the signed payload names.
        found: String,
    },
    /// A trusted key signed this digest under another name.
    IdentityMismatch {
        /// What the identity rule requires, in words.
        required: String,
        /// The `docker-reference` the payload carries.
        found: String,
    },
    /// A trusted key signed something that is not a cosign simple-signing payload.
    MalformedPayload {
        /// What was wrong with it.
        detail: String,
    },
}

impl Mismatch {
    /// Stable code for messages, annotations and metric labels.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoSignature => "NoSignature",
            Self::UntrustedSigner { .. } => "UntrustedSigner",
            Self::DigestMismatch { .. } => "DigestMismatch",
            Self::IdentityMismatch { .. } => "IdentityMismatch",
            Self::MalformedPayload { .. } => "MalformedSignature",
        }
    }

    /// How far a layer got before it failed; the furthest failure is the most useful to report.
    fn depth(&self) -> u8 {
        match self {
            Self::NoSignature => 0,
            Self::UntrustedSigner { .. } => 1,
            Self::MalformedPayload { .. } => 2,
            Self::DigestMismatch { .. } => 3,
            Self::IdentityMismatch { .. } => 4,
        }
    }
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoSignature => f.write_str("A signature was required, but no signature exists"),
            Self::UntrustedSigner {
                trusted_keys,
                signatures,
            } => write!(
                f,
                "signed by none of the {trusted_keys} trusted key(s) ({signatures} signature(s) examined)"
            ),
            Self::DigestMismatch { expected, found } => write!(
                f,
                "signature payload digest mismatch: signed {found}, image is {expected}"
            ),
            Self::IdentityMismatch { required, found } => write!(
                f,
                "signature identity mismatch: signed for {found:?}, required {required}"
            ),
            Self::MalformedPayload { detail } => write!(f, "malformed signature payload: {detail}"),
        }
    }
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
            Err(mismatch) if mismatch.depth() > best.depth() => best = mismatch,
            Err(_) => {}
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
