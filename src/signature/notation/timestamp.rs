//! The authentic-timestamp check (trust-store-trust-policy.md, "Validate Authentic
//! Timestamp"; notation-go `verifyAuthenticTimestamp`): was the signature made while its
//! certificate chain was valid?
//!
//! - `notary.x509.signingAuthority`: the signing authority vouches for the authentic signing
//!   time, which must lie within every chain certificate's validity.
//! - `notary.x509` with a `tsa` trust store configured (and, under `verifyTimestamp:
//!   afterCertExpiry`, a chain certificate expired now): the RFC 3161 timestamp
//!   countersignature over the signature bytes must be present, verify, chain to a `tsa` root
//!   at its own time, and its time must lie within every chain certificate's validity.
//! - `notary.x509` otherwise: now must lie within every chain certificate's validity.
//!
//! The RFC 3161 token itself is verified by the same code as a Sigstore bundle's timestamps
//! (`bundle/timestamp.rs`), each `tsa` root its own anchor, the token's embedded certificates
//! completing the path. The token's `genTime` is used as the time (its accuracy is not
//! widened into a range).

use crate::policy::{CertificateAuthority, KeylessTrust};

use super::super::bundle::timestamp;
use super::chain::ChainCertificate;
use super::envelope::{Envelope, Scheme};
use super::{CheckOutcome, NotationAnchors, VerifyTimestamp, rfc3339};

/// The outcome, and the verified timestamp's time (Unix seconds) when one was verified.
pub(super) fn check(
    envelope: &Envelope,
    chain: &[ChainCertificate],
    anchors: &NotationAnchors,
    now: i64,
) -> (CheckOutcome, Option<i64>) {
    if envelope.scheme == Scheme::SigningAuthority {
        let Some(signed) = envelope.authentic_signing_time else {
            let why = "the signature has no authentic signing time".to_string();
            return (CheckOutcome::Failed(why), None);
        };
        let outcome = match outside_validity(chain, signed) {
            Some(cert) => CheckOutcome::Failed(format!(
                "the certificate {:?} was not valid when the signature was produced at {} \
                 (valid {} to {})",
                cert.subject,
                rfc3339(signed),
                rfc3339(cert.not_before),
                rfc3339(cert.not_after)
            )),
            None => CheckOutcome::Passed,
        };
        return (outcome, None);
    }
    let mut timestamp_required = !anchors.tsa.is_empty();
    if timestamp_required && anchors.verify_timestamp == VerifyTimestamp::AfterCertExpiry {
        timestamp_required = chain.iter().any(|c| now > c.not_after);
    }
    if !timestamp_required {
        let outcome = match outside_validity(chain, now) {
            Some(cert) => CheckOutcome::Failed(format!(
                "the certificate {:?} is not valid at verification time {} (valid {} to {}), \
                 and no timestamp countersignature verified against a tsa trust store shows \
                 when the signature was made",
                cert.subject,
                rfc3339(now),
                rfc3339(cert.not_before),
                rfc3339(cert.not_after)
            )),
            None => CheckOutcome::Passed,
        };
        return (outcome, None);
    }
    let Some(token) = &envelope.timestamp else {
        let why = "no timestamp countersignature was found in the signature envelope, and the \
                   trust policy configures a tsa trust store"
            .to_string();
        return (CheckOutcome::Failed(why), None);
    };
    let trust = KeylessTrust {
        origin: "the tsa trust store".to_string(),
        timestamp_authorities: anchors
            .tsa
            .iter()
            .map(|root| CertificateAuthority {
                uri: None,
                root: root.clone(),
                intermediates: Vec::new(),
                valid_for: Default::default(),
                presented_intermediates: true,
            })
            .collect(),
        ..KeylessTrust::default()
    };
    let at = match timestamp::verify(token, &envelope.signature, &trust) {
        Ok(at) => at,
        Err(e) => {
            let why = format!("the timestamp countersignature does not verify: {e}");
            return (CheckOutcome::Failed(why), None);
        }
    };
    let outcome = match outside_validity(chain, at) {
        Some(cert) => CheckOutcome::Failed(format!(
            "the timestamp {} is outside the validity of the certificate {:?} ({} to {})",
            rfc3339(at),
            cert.subject,
            rfc3339(cert.not_before),
            rfc3339(cert.not_after)
        )),
        None => CheckOutcome::Passed,
    };
    (outcome, Some(at))
}

/// The first certificate of `chain` not valid at `at`.
fn outside_validity(chain: &[ChainCertificate], at: i64) -> Option<&ChainCertificate> {
    chain.iter().find(|c| at < c.not_before || at > c.not_after)
}
