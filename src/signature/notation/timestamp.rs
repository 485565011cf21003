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
//! completing the path. The timestamp is the range `genTime` plus or minus its accuracy (RFC
//! 3161 §2.4.2, the specification's rule), which must lie within every certificate's validity.

use crate::policy::{CertificateAuthority, KeylessTrust};

use super::super::bundle::timestamp;
use super::chain::{self, ChainCertificate};
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
    let verified = match timestamp::verify_detailed(token, &envelope.signature, &trust) {
        Ok(verified) => verified,
        Err(e) => {
            let why = format!("the timestamp countersignature does not verify: {e}");
            return (CheckOutcome::Failed(why), None);
        }
    };
    if let Err(why) = chain::timestamping_leaf_requirements(&verified.signer) {
        let why = format!("the timestamp countersignature does not verify: {why}");
        return (CheckOutcome::Failed(why), None);
    }
    let (at, accuracy) = (verified.gen_time, verified.accuracy);
    // The timestamp's whole range, genTime plus or minus its accuracy, must lie within every
    // certificate's validity.
    let accuracy = i64::try_from(accuracy).unwrap_or(i64::MAX);
    let (earliest, latest) = (at.saturating_sub(accuracy), at.saturating_add(accuracy));
    let outside = chain
        .iter()
        .find(|c| earliest < c.not_before || latest > c.not_after);
    let outcome = match outside {
        Some(cert) => CheckOutcome::Failed(format!(
            "the timestamp {} (accurate to {accuracy} s) is outside the validity of the \
             certificate {:?} ({} to {})",
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
