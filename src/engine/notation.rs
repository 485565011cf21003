//! One `notation` authority judged on one digest: the Notation signatures attached to it as OCI
//! referrers are fetched (registry stage), each envelope verified against the image's manifest
//! descriptor and the authority's trust stores (signature stage), and the authority's
//! verification level applied to the checks, as Notation applies it: `enforce` refuses the
//! signature, `log` only logs the failure (the admit note says so too). The first signature
//! that passes admits; when none does, every signature's reason is given.

use std::time::SystemTime;

use crate::policy::NotationTimestamp;
use crate::policy::{NotationAction, NotationAuthority, NotationIdentity, NotationStoreKind};
use crate::reference::{Digest, ImageReference};
use crate::registry::{NotationSignature, RegistryError};
use crate::signature::notation::{
    CheckOutcome, NotationAnchors, NotationChecks, NotationTarget, TrustedIdentity,
    VerifyTimestamp, verify_notation_envelope,
};
use crate::verdict::AuthorityCause;

use super::cache::ReviewRegistry;
use super::stages::{Stage, StageMetrics};

/// Code of a denial when no Notation signature is attached.
const NO_SIGNATURE: &str = "NoSignature";
/// Code of a denial when Notation signatures are attached but none is accepted.
const INVALID: &str = "NotationSignatureInvalid";

/// `Ok(Ok(note))`: a signature was accepted; `Ok(Err(cause))`: none was; `Err`: the registry
/// could not answer.
pub(super) async fn judge(
    registry: &ReviewRegistry<'_>,
    stages: &StageMetrics,
    authority: &NotationAuthority,
    image: &ImageReference,
    digest: &Digest,
) -> Result<Result<String, AuthorityCause>, RegistryError> {
    let timer = stages.start(Stage::SignatureFetch);
    let signatures = registry.fetch_notation_signatures(image, digest).await?;
    if signatures.is_empty() {
        drop(timer);
        return Ok(Err(AuthorityCause::Notation(
            NO_SIGNATURE,
            format!(
                "no Notation signature is associated with {}@{digest} (trust policy statement \
                 {:?}): sign it with `notation sign`",
                image.name(),
                authority.statement
            ),
        )));
    }
    let descriptor = registry.manifest_descriptor(image, digest).await?;
    drop(timer);
    let _timer = stages.start(Stage::Verification);
    let target = NotationTarget {
        digest: digest.as_str(),
        media_type: Some(&descriptor.media_type),
        size: Some(descriptor.size),
    };
    let anchors = anchors(authority);
    let identities = identities(authority);
    let now = SystemTime::now();
    let mut refusals = Vec::with_capacity(signatures.len());
    for signature in &signatures {
        let verified = verify_notation_envelope(
            &signature.media_type,
            &signature.envelope,
            &target,
            &anchors,
            &identities,
            now,
        );
        let judged = match verified {
            Ok(checks) => apply_level(authority, &checks).map(|logged| (checks, logged)),
            Err(e) => Err(e.to_string()),
        };
        match judged {
            Ok((checks, logged)) => return Ok(Ok(accepted(signature, &checks, &logged, image))),
            Err(why) => refusals.push(format!(
                "Notation signature {}: {why}",
                signature.manifest_digest
            )),
        }
    }
    Ok(Err(AuthorityCause::Notation(INVALID, refusals.join("; "))))
}

/// The checks under the authority's level: `Err(why)` for the first enforced failure, else
/// the logged failures.
fn apply_level(
    authority: &NotationAuthority,
    checks: &NotationChecks,
) -> Result<Vec<String>, String> {
    let e = &authority.enforcement;
    let named = [
        ("integrity", NotationAction::Enforce, &checks.integrity),
        ("authenticity", e.authenticity, &checks.authenticity),
        (
            "authentic timestamp",
            e.authentic_timestamp,
            &checks.authentic_timestamp,
        ),
        ("expiry", e.expiry, &checks.expiry),
    ];
    let mut logged = Vec::new();
    for (check, action, outcome) in named {
        let why = match outcome {
            CheckOutcome::Passed => continue,
            CheckOutcome::Failed(why) => why,
            // Not evaluated is not passed: an enforced check that could not be made refuses.
            CheckOutcome::NotChecked(why) => why,
        };
        let why = match check {
            "authenticity" => authenticity_words(authority, why),
            _ => format!("{check}: {why}"),
        };
        match action {
            NotationAction::Enforce => return Err(why),
            NotationAction::Log => logged.push(why),
            NotationAction::Skip => {}
        }
    }
    // Revocation is never checked (the trust policy was refused at load where it is enforced).
    if e.revocation == NotationAction::Log {
        logged.push("revocation not checked (Signet makes no OCSP/CRL requests)".into());
    }
    Ok(logged)
}

/// An authenticity failure in the house words: the stores the chain had to lead to, or the
/// identities the signer had to be.
fn authenticity_words(authority: &NotationAuthority, why: &str) -> String {
    let untrusted_chain = why.contains("does not lead to") || why.contains("names no trust store");
    match untrusted_chain {
        true => format!(
            "certificate chain does not lead to trust store {} (statement {:?}): {why}",
            authority.store_names(),
            authority.statement
        ),
        false => format!(
            "the signer is not a trusted identity of statement {:?}: {why}",
            authority.statement
        ),
    }
}

/// `signed by Notation certificate "CN=…" (notary.x509, statement "…"; logged: …)`.
fn accepted(
    signature: &NotationSignature,
    checks: &NotationChecks,
    logged: &[String],
    image: &ImageReference,
) -> String {
    if !logged.is_empty() {
        tracing::warn!(
            image = %image,
            signature = %signature.manifest_digest,
            logged = %logged.join("; "),
            "Notation signature accepted with failures its verification level only logs"
        );
    }
    let logged = match logged {
        [] => String::new(),
        some => format!("; logged, not enforced: {}", some.join("; ")),
    };
    let timestamp = match checks.timestamp_time {
        Some(_) => "; RFC 3161 timestamp verified",
        None => "",
    };
    format!(
        "signed by Notation certificate {:?} ({}{timestamp}{logged})",
        checks.signer_subject, checks.signing_scheme
    )
}

fn anchors(authority: &NotationAuthority) -> NotationAnchors {
    NotationAnchors {
        ca: authority.certificates(NotationStoreKind::Ca),
        signing_authority: authority.certificates(NotationStoreKind::SigningAuthority),
        tsa: authority.certificates(NotationStoreKind::Tsa),
        verify_timestamp: match authority.verify_timestamp {
            NotationTimestamp::Always => VerifyTimestamp::Always,
            NotationTimestamp::AfterCertExpiry => VerifyTimestamp::AfterCertExpiry,
        },
    }
}

/// The identities the signature stage matches; other prefixes (a plugin's) match nothing.
fn identities(authority: &NotationAuthority) -> Vec<TrustedIdentity> {
    authority
        .identities
        .iter()
        .filter_map(|i| match i {
            NotationIdentity::Any => Some(TrustedIdentity::Any),
            NotationIdentity::Subject(attributes) => {
                Some(TrustedIdentity::Subject(attributes.clone()))
            }
            NotationIdentity::Other(_) => None,
        })
        .collect()
}
