//! Notary Project (Notation) signatures: verify one signature envelope, JWS
//! (`application/jose+json`) or COSE (`application/cose`), against the artifact under review
//! and the trust stores a trust policy names, per the Notary Project specifications
//! (signature-specification.md, signature-envelope-jws.md, signature-envelope-cose.md,
//! trust-store-trust-policy.md "Signature Verification details").
//!
//! Each of the specification's checks is reported on its own ([`NotationChecks`]), because the
//! trust policy's verification level (`strict`, `permissive`, `audit`, `skip`) decides which
//! failures deny and which are only logged; that is the policy side's job, not this module's.
//!
//! - **integrity**: the envelope's signature verifies with its signing certificate's key and
//!   the algorithm that key implies; the signed attributes follow the rules (time attribute of
//!   the signing scheme, exactly the required attributes critical, no unknown critical one);
//!   the certificate chain meets the certificate requirements (`chain.rs`); the signed payload
//!   names the target artifact (digest, and size and media type when known).
//! - **authenticity**: a certificate of the chain is one of the trust store certificates of
//!   the signing scheme (`notary.x509` -> `ca`, `notary.x509.signingAuthority` ->
//!   `signingAuthority`), and the signing certificate matches a trusted identity.
//! - **authentic timestamp**: see `timestamp.rs`.
//! - **expiry**: the optional `io.cncf.notary.expiry` is not past.
//! - **revocation**: needs the network (OCSP, CRL); never checked.
//!
//! Pure: no network, no clock (`now` is passed in). Malformed, oversized or unsupported
//! envelopes are an error, never a pass.

mod chain;
mod cose;
mod envelope;
mod errors;
mod identity;
mod jws;
mod payload;
mod timestamp;

#[cfg(test)]
mod tests;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use errors::NotationEnvelopeError;

use envelope::Scheme;

/// Media type of a JWS envelope (the signature manifest's layer media type).
pub const JWS_MEDIA_TYPE: &str = "application/jose+json";
/// Media type of a COSE envelope.
pub const COSE_MEDIA_TYPE: &str = "application/cose";
/// Largest envelope read (real ones are 2 to 20 KiB with chain and timestamp).
pub const MAX_ENVELOPE_BYTES: usize = 256 * 1024;

/// The artifact a signature must be for.
#[derive(Debug, Clone, Copy)]
pub struct NotationTarget<'a> {
    /// `sha256:<hex>` (any `algorithm:hex`, compared exactly).
    pub digest: &'a str,
    /// The manifest's media type, compared when given.
    pub media_type: Option<&'a str>,
    /// The manifest's size in bytes, compared when given.
    pub size: Option<u64>,
}

/// When a `notary.x509` signature's timestamp countersignature is verified (the trust policy's
/// `signatureVerification.verifyTimestamp`), given a `tsa` trust store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum VerifyTimestamp {
    /// `always` (the default).
    #[default]
    Always,
    /// `afterCertExpiry`: only when a certificate of the chain has expired now.
    AfterCertExpiry,
}

/// The trust store certificates a trust policy names, by trust store type (DER).
#[derive(Debug, Clone, Default)]
pub struct NotationAnchors {
    /// Roots of the trust stores of type `ca` (scheme `notary.x509`).
    pub ca: Vec<Vec<u8>>,
    /// Roots of the trust stores of type `signingAuthority`.
    pub signing_authority: Vec<Vec<u8>>,
    /// Roots of the trust stores of type `tsa`; empty means no timestamp verification.
    pub tsa: Vec<Vec<u8>>,
    /// The policy's `verifyTimestamp`.
    pub verify_timestamp: VerifyTimestamp,
}

/// One entry of a trust policy's `trustedIdentities`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustedIdentity {
    /// `*`.
    Any,
    /// `x509.subject: C=US, O=Acme, ...`: every attribute must equal the signing certificate's.
    Subject(Vec<(String, String)>),
}

/// How one check came out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    /// It holds.
    Passed,
    /// It does not hold: why, in words for a person.
    Failed(String),
    /// It was not evaluated: why.
    NotChecked(String),
}

impl CheckOutcome {
    /// Whether the check holds.
    pub fn passed(&self) -> bool {
        matches!(self, CheckOutcome::Passed)
    }
}

/// The specification's checks of one envelope, each on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotationChecks {
    pub integrity: CheckOutcome,
    pub authenticity: CheckOutcome,
    pub authentic_timestamp: CheckOutcome,
    pub expiry: CheckOutcome,
    /// Always `NotChecked`: OCSP and CRL need the network.
    pub revocation: CheckOutcome,
    /// `notary.x509` or `notary.x509.signingAuthority`.
    pub signing_scheme: String,
    /// The signing certificate's subject (RFC 4514).
    pub signer_subject: String,
    /// The signing time the envelope states (authentic for `notary.x509.signingAuthority`, the
    /// signer's claim for `notary.x509`).
    pub signing_time: Option<SystemTime>,
    /// The time of the verified RFC 3161 timestamp countersignature, if one was verified.
    pub timestamp_time: Option<SystemTime>,
    /// The signature algorithm (`PS256` ... `ES512`).
    pub algorithm: String,
}

/// Why revocation is never checked.
pub const REVOCATION_NOT_CHECKED: &str = "needs the network (OCSP, CRL): Signet does not check \
     certificate revocation for Notation signatures";

/// Verify one envelope of `media_type` against `target`, the trust store certificates and the
/// trusted identities, at `now`.
pub fn verify_notation_envelope(
    media_type: &str,
    envelope: &[u8],
    target: &NotationTarget,
    anchors: &NotationAnchors,
    identities: &[TrustedIdentity],
    now: SystemTime,
) -> Result<NotationChecks, NotationEnvelopeError> {
    if envelope.len() > MAX_ENVELOPE_BYTES {
        return Err(NotationEnvelopeError::Oversized {
            what: "the envelope",
            limit: MAX_ENVELOPE_BYTES,
        });
    }
    let decoded = match media_type {
        JWS_MEDIA_TYPE => jws::parse(envelope)?,
        COSE_MEDIA_TYPE => cose::parse(envelope)?,
        other => {
            return Err(errors::unsupported(format!(
                "envelope media type {other:?} (want {JWS_MEDIA_TYPE:?} or {COSE_MEDIA_TYPE:?})"
            )));
        }
    };
    let certificates = chain::parse(&decoded.chain)?;
    let target_mismatch = payload::mismatch(&decoded.payload, target)?;
    let leaf = certificates
        .first()
        .ok_or_else(|| errors::malformed("the envelope carries no certificate chain"))?;
    let now = unix(now);
    let not_checked =
        || CheckOutcome::NotChecked("the signature's integrity check failed".to_string());
    let mut checks = NotationChecks {
        integrity: CheckOutcome::Passed,
        authenticity: not_checked(),
        authentic_timestamp: not_checked(),
        expiry: not_checked(),
        revocation: CheckOutcome::NotChecked(REVOCATION_NOT_CHECKED.to_string()),
        signing_scheme: decoded.scheme.name().to_string(),
        signer_subject: leaf.subject.clone(),
        signing_time: decoded.scheme_signing_time().map(system_time),
        timestamp_time: None,
        algorithm: decoded.algorithm.name().to_string(),
    };
    let integrity = decoded
        .attribute_problem()
        .map_or(Ok(()), Err)
        .and_then(|()| {
            chain::verify_signature(
                leaf,
                decoded.algorithm,
                &decoded.signed_bytes,
                &decoded.signature,
            )
        })
        .and_then(|()| {
            chain::validate(&certificates)
                .map_err(|e| format!("the certificate chain is invalid: {e}"))
        })
        .and_then(|()| target_mismatch.map_or(Ok(()), Err));
    if let Err(why) = integrity {
        checks.integrity = CheckOutcome::Failed(why);
        return Ok(checks);
    }
    checks.authenticity = authenticity(decoded.scheme, &certificates, anchors, identities);
    let (timestamped, at) = timestamp::check(&decoded, &certificates, anchors, now);
    checks.authentic_timestamp = timestamped;
    checks.timestamp_time = at.map(system_time);
    checks.expiry = match decoded.expiry {
        Some(expiry) if now > expiry => {
            CheckOutcome::Failed(format!("the signature expired at {}", rfc3339(expiry)))
        }
        _ => CheckOutcome::Passed,
    };
    Ok(checks)
}

/// A chain certificate is a trust store certificate of the scheme's type, and the signing
/// certificate matches a trusted identity.
fn authenticity(
    scheme: Scheme,
    certificates: &[chain::ChainCertificate],
    anchors: &NotationAnchors,
    identities: &[TrustedIdentity],
) -> CheckOutcome {
    let (store, kind) = match scheme {
        Scheme::X509 => (&anchors.ca, "ca"),
        Scheme::SigningAuthority => (&anchors.signing_authority, "signingAuthority"),
    };
    if store.is_empty() {
        return CheckOutcome::Failed(format!(
            "the trust policy names no trust store of type {kind}, which a {} signature needs",
            scheme.name()
        ));
    }
    let trusted = certificates.iter().any(|cert| store.contains(&cert.der));
    if !trusted {
        let root = certificates.last().map_or("", |c| c.subject.as_str());
        return CheckOutcome::Failed(format!(
            "the certificate chain (root {root:?}) does not lead to a certificate of the trust \
             policy's trust stores of type {kind}: the signature is not produced by a trusted \
             signer"
        ));
    }
    match identity::check(certificates.first().map(|c| &c.cert), identities) {
        Ok(()) => CheckOutcome::Passed,
        Err(why) => CheckOutcome::Failed(why),
    }
}

fn unix(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

fn system_time(seconds: i64) -> SystemTime {
    match u64::try_from(seconds) {
        Ok(after) => UNIX_EPOCH + Duration::from_secs(after),
        Err(_) => UNIX_EPOCH - Duration::from_secs(seconds.unsigned_abs()),
    }
}

/// `2023-01-20T20:51:31Z` for messages.
fn rfc3339(seconds: i64) -> String {
    crate::signature::certificate::rfc3339(seconds)
}
