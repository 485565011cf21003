//! Signature stage: does the signature material fetched for one digest satisfy an authority?
//! Key authorities are checked here; keyless ones (Fulcio certificate + Rekor proof) in
//! `keyless.rs`, with `certificate.rs` and `rekor.rs`; Sigstore bundles (cosign 3) in
//! `bundle.rs`. `.sig` layers and bundles are judged alike and either may satisfy an authority;
//! how many distinct signers must have signed (Signet's `threshold`) is counted in
//! `threshold.rs`.
//!
//! Pure functions over bytes the registry stage already fetched and bounded: no network, no
//! clock. The sigstore crate is used for the cryptography only. Everything it does not check for
//! us is checked here, in this order, for every signature layer of a key authority:
//!
//! 1. the layer's signature verifies over the exact payload bytes with one of the trusted keys
//!    (and, where the authority requires Rekor, its bundle records that signature and key);
//! 2. the payload is a cosign simple-signing document of the right type;
//! 3. `critical.image.docker-manifest-digest` equals the digest this review resolved;
//! 4. `critical.identity.docker-reference` satisfies the authority's identity rule.
//!
//! Failures are returned as [`Mismatch`] values that say what was required and what was found,
//! never as a bare `false`.

mod attestation;
pub mod bundle;
mod certificate;
mod identity;
mod key_timestamp;
mod key_verify;
mod keyless;
mod mismatch;
pub mod notation;
mod payload;
mod rekor;
mod threshold;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::policy::{
    CertificateIdentity, IdentityRule, KeyAuthority, KeylessAuthority, KeylessTrust, TrustedKey,
};
use crate::reference::{Digest, ImageReference};
pub use crate::registry::{SignatureBundle, SignatureLayer, SignatureMaterial};

pub use attestation::{
    RejectedAttestation, VerifiedAttestation, bundle_attestations, key_attestations,
    keyless_attestations,
};
pub use certificate::{
    CertificateError, FulcioIdentity, SigningCertificate, parse_chain, parse_signing_certificate,
};
pub use identity::identity_accepts;
pub use mismatch::Mismatch;
pub use payload::{PayloadError, SimpleSigningPayload};
pub use rekor::{LogEntry, RekorError, VerifiedEntry, verify_bundle};
use threshold::Tally;

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

/// Do the `.sig` layers and bundles of `material` satisfy the key `authority` for `subject`:
/// valid signatures by `threshold` distinct trusted keys? Returns the first acceptance, or why
/// not: too few signers, the one signature's reason, or [`Mismatch::NoneAccepted`] with each
/// signature's reason (and the most informative one for the code).
pub fn check_key_material(
    authority: &KeyAuthority,
    subject: Subject<'_>,
    material: &SignatureMaterial,
) -> Result<Acceptance, Mismatch> {
    check_key(authority, subject, &material.layers, &material.bundles)
}

/// [`check_key_material`] for `.sig` layers alone.
pub fn check_key_authority(
    authority: &KeyAuthority,
    subject: Subject<'_>,
    layers: &[SignatureLayer],
) -> Result<Acceptance, Mismatch> {
    check_key(authority, subject, layers, &[])
}

/// Do the `.sig` layers and bundles of `material` satisfy the keyless `authority`: valid
/// signatures from `threshold` distinct allowed identities?
pub fn check_keyless_material(
    authority: &KeylessAuthority,
    subject: Subject<'_>,
    material: &SignatureMaterial,
) -> Result<Acceptance, Mismatch> {
    check_keyless(authority, subject, &material.layers, &material.bundles)
}

/// [`check_keyless_material`] for `.sig` layers alone.
pub fn check_keyless_authority(
    authority: &KeylessAuthority,
    subject: Subject<'_>,
    layers: &[SignatureLayer],
) -> Result<Acceptance, Mismatch> {
    check_keyless(authority, subject, layers, &[])
}

/// Every signature until `threshold` distinct keys are found.
fn check_key(
    authority: &KeyAuthority,
    subject: Subject<'_>,
    layers: &[SignatureLayer],
    bundles: &[SignatureBundle],
) -> Result<Acceptance, Mismatch> {
    let mut tally = Tally::new();
    let enough = |t: &Tally| t.keys().len() >= authority.threshold.max(1);
    for layer in layers {
        tally.add(check_layer(authority, subject, layer));
        if enough(&tally) {
            break;
        }
    }
    for bundle in bundles {
        if enough(&tally) {
            break;
        }
        tally.add(bundle::check_key_bundle(authority, subject, bundle));
    }
    let signers = tally.keys();
    tally.decide(signers, authority.threshold, |k: &str| format!("key {k}"))
}

/// Every signature until `threshold` distinct identities are filled.
fn check_keyless(
    authority: &KeylessAuthority,
    subject: Subject<'_>,
    layers: &[SignatureLayer],
    bundles: &[SignatureBundle],
) -> Result<Acceptance, Mismatch> {
    let mut tally = Tally::new();
    let ids: &[CertificateIdentity] = &authority.identities;
    let enough = |t: &Tally| t.identities(ids).len() >= authority.threshold.max(1);
    for layer in layers {
        tally.add(keyless::check_layer(authority, subject, layer));
        if enough(&tally) {
            break;
        }
    }
    for bundle in bundles {
        if enough(&tally) {
            break;
        }
        tally.add(bundle::check_keyless_bundle(authority, subject, bundle));
    }
    let signers = tally.identities(ids);
    tally.decide(signers, authority.threshold, |s: &str| s.to_string())
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
    if let Some(trust) = &authority.rekor {
        logged_with_key(trust, key, signature, layer)?;
    }
    if let Some(trust) = &authority.timestamps {
        let raw = BASE64
            .decode(signature)
            .map_err(|_| Mismatch::MalformedPayload {
                detail: "the signature annotation is not base64".into(),
            })?;
        key_timestamp::timestamped(trust, &raw, layer)?;
    }
    let payload = signed_payload(layer, subject, &authority.identity)?;
    Ok(Acceptance {
        key_fingerprint: key.fingerprint.clone(),
        signed_reference: payload.docker_reference,
        certificate: None,
    })
}

/// Steps shared by key and keyless authorities once the signer is trusted: the payload parses,
/// names the resolved digest, and its `docker-reference` satisfies the identity rule.
fn signed_payload(
    layer: &SignatureLayer,
    subject: Subject<'_>,
    identity: &IdentityRule,
) -> Result<SimpleSigningPayload, Mismatch> {
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
    identity_accepts(identity, subject.image, &payload.docker_reference)?;
    Ok(payload)
}

/// Step 1b, for authorities that require Rekor (containers-policy.json `keyPath` +
/// `rekorPublicKeyPath`): the layer's Rekor bundle verifies with a trusted log and records this
/// signature over this payload, made with `key` (containers/image `VerifyRekorSET`).
fn logged_with_key(
    trust: &KeylessTrust,
    key: &TrustedKey,
    signature: &str,
    layer: &SignatureLayer,
) -> Result<(), Mismatch> {
    let invalid = |e: RekorError| Mismatch::TransparencyLogInvalid {
        detail: e.to_string(),
    };
    let bundle = layer
        .annotations
        .get(BUNDLE_ANNOTATION)
        .ok_or(Mismatch::TransparencyLogMissing)?;
    let logged = rekor::verify_bundle(bundle, trust).map_err(invalid)?;
    let bytes = BASE64
        .decode(signature.trim())
        .map_err(|_| Mismatch::MalformedPayload {
            detail: "the signature annotation is not base64".into(),
        })?;
    logged
        .entry
        .binds(&bytes, &layer.payload)
        .map_err(invalid)?;
    logged.entry.binds_public_key(key.spki()).map_err(invalid)
}

/// The first trusted key under which `signature` (base64) verifies over `payload`.
fn trusted_signer<'k>(
    keys: &'k [TrustedKey],
    signature: &str,
    payload: &[u8],
) -> Option<&'k TrustedKey> {
    let raw = BASE64.decode(signature).ok()?;
    keys.iter()
        .find(|k| key_verify::key_verifies(k, &raw, payload))
}
