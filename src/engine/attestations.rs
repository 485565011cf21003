//! Judging an authority that requires attestations (policy-controller's
//! `ValidatePolicyAttestationsForAuthority`): the authority is satisfied when every
//! `attestations[]` entry has verified attestations of its predicate type, from `threshold`
//! distinct keys, whose Statements its policy accepts. Its signatures are not consulted: an
//! authority with attestations checks attestations only, as in policy-controller. To require a
//! signature as well, add a second policy covering the image (every matching policy must pass;
//! the authorities of one policy are alternatives).
//!
//! Each policy evaluation runs on a blocking thread under [`EVALUATION_BUDGET`] (Rego's
//! interpreter also stops itself there): a slow policy denies, it never holds a runtime thread
//! or the review.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::authorities::ReviewSignatures;
use super::cache::ReviewRegistry;
use super::stages::{Stage, StageMetrics};
use crate::policy::{
    AttestationRequirement, Authority, AuthorityKind, EVALUATION_BUDGET, Evaluation,
    SignatureFormat,
};
use crate::reference::ImageReference;
use crate::registry::{RegistryError, SignatureBundle, SignatureLayer};
use crate::signature::{self, RejectedAttestation, Subject, VerifiedAttestation};
use crate::verdict::{AttestationFailure, AuthorityCause};

/// How long past the budget the engine waits for a blocking evaluation before denying.
const GRACE: std::time::Duration = std::time::Duration::from_millis(250);

/// Fetch what may attest `subject` for `authority` (which has attestations) from `repository`
/// (the `.att` layers; the Sigstore bundles with the signatures, as this review fetched them),
/// in the kinds its `signatureFormat` reads, and judge it: `Err` when the registry failed.
pub(super) async fn judge_authority(
    registry: &ReviewRegistry<'_>,
    stages: &StageMetrics,
    fetched: &mut ReviewSignatures,
    authority: &Authority,
    repository: &ImageReference,
    subject: Subject<'_>,
) -> Result<Result<String, AuthorityCause>, RegistryError> {
    let layers = match authority.format {
        SignatureFormat::Bundle => Vec::new(),
        SignatureFormat::Any | SignatureFormat::Legacy => {
            let _timer = stages.start(Stage::SignatureFetch);
            registry
                .fetch_attestations(repository, subject.digest)
                .await?
        }
    };
    // cosign 3's attestations are Sigstore bundles, found with the signatures. A failed
    // lookup hides nothing the `.att` layers hold; what is missing then is reported as such.
    let bundles = match authority.format {
        SignatureFormat::Legacy => Vec::new(),
        SignatureFormat::Any | SignatureFormat::Bundle => {
            match fetched
                .get(registry, stages, (repository, ""), subject.digest, None)
                .await
            {
                Ok(material) => material.bundles.clone(),
                Err(e) if layers.is_empty() => return Err(e.clone()),
                Err(_) => Vec::new(),
            }
        }
    };
    let _timer = stages.start(Stage::Verification);
    Ok(judge_attestations(authority, subject, &layers, &bundles).await)
}

/// Judge `authority` (which has attestations) over the fetched `.att` layers and Sigstore
/// bundles: a note for the admission, or why not.
async fn judge_attestations(
    authority: &Authority,
    subject: Subject<'_>,
    layers: &[SignatureLayer],
    bundles: &[SignatureBundle],
) -> Result<String, AuthorityCause> {
    let fail = |requirement: &AttestationRequirement, detail: String| {
        AuthorityCause::Attestation(AttestationFailure {
            authority: authority.name.clone(),
            name: requirement.name.clone(),
            predicate_type: requirement.predicate_type.clone(),
            detail,
        })
    };
    let (mut verified, mut rejected, threshold) = match &authority.kind {
        AuthorityKind::Key(key) => {
            let (verified, rejected) = signature::key_attestations(key, subject, layers);
            (verified, rejected, key.threshold)
        }
        AuthorityKind::Keyless(keyless) => {
            let (verified, rejected) = signature::keyless_attestations(keyless, subject, layers);
            (verified, rejected, keyless.threshold)
        }
        AuthorityKind::Static(_) => {
            return Err(AuthorityCause::Signature(signature::Mismatch::NoSignature));
        }
    };
    let (from_bundles, bundle_rejections) =
        signature::bundle_attestations(&authority.kind, subject, bundles);
    verified.extend(from_bundles);
    rejected.extend(bundle_rejections);
    let verified: Arc<Vec<VerifiedAttestation>> = Arc::new(verified);
    let mut notes = Vec::new();
    for requirement in &authority.attestations {
        match judge_requirement(threshold, requirement, &verified, &rejected).await {
            Ok(note) => notes.push(note),
            Err(detail) => return Err(fail(requirement, detail)),
        }
    }
    Ok(notes.join(", "))
}

/// One entry: enough distinct signers whose attestations of the type its policy accepts.
async fn judge_requirement(
    threshold: usize,
    requirement: &AttestationRequirement,
    verified: &Arc<Vec<VerifiedAttestation>>,
    rejected: &[RejectedAttestation],
) -> Result<String, String> {
    let of_type: Vec<usize> = (0..verified.len())
        .filter(|i| verified[*i].predicate_type == requirement.predicate_uri)
        .collect();
    if of_type.is_empty() {
        return Err(nothing_of_type(requirement, verified, rejected));
    }
    let mut accepted = BTreeSet::new();
    let mut first_failure = None;
    for i in of_type {
        let attestation = &verified[i];
        if accepted.contains(&attestation.signer) {
            continue;
        }
        match evaluate(requirement, verified, i).await {
            Evaluation::Pass => {
                accepted.insert(attestation.signer.clone());
            }
            Evaluation::Fail(message) => {
                first_failure.get_or_insert(message);
            }
        }
        if accepted.len() >= threshold.max(1) {
            let signers: Vec<&str> = accepted.iter().map(String::as_str).collect();
            return Ok(format!(
                "attestation {:?} signed by {}",
                requirement.name,
                signers.join(", ")
            ));
        }
    }
    Err(match (first_failure, accepted.len()) {
        (Some(message), 0) => message,
        (failure, n) => format!(
            "{n} of the {threshold} distinct signers required attested it{}",
            failure
                .map(|m| format!(" (another: {m})"))
                .unwrap_or_default()
        ),
    })
}

/// Evaluate the entry's policy over attestation `i`, on a blocking thread, within the budget.
async fn evaluate(
    requirement: &AttestationRequirement,
    verified: &Arc<Vec<VerifiedAttestation>>,
    i: usize,
) -> Evaluation {
    let Some(policy) = requirement.policy.clone() else {
        return Evaluation::Pass;
    };
    let verified = Arc::clone(verified);
    let work = tokio::task::spawn_blocking(move || policy.evaluate(&verified[i].statement));
    match tokio::time::timeout(EVALUATION_BUDGET + GRACE, work).await {
        Ok(Ok(evaluation)) => evaluation,
        Ok(Err(e)) => Evaluation::Fail(format!("the policy evaluation failed: {e}")),
        Err(_) => Evaluation::Fail(format!(
            "the policy evaluation ran over its budget of {} ms",
            EVALUATION_BUDGET.as_millis()
        )),
    }
}

/// No verified attestation of the type: say what there was instead.
fn nothing_of_type(
    requirement: &AttestationRequirement,
    verified: &[VerifiedAttestation],
    rejected: &[RejectedAttestation],
) -> String {
    let mut message = format!(
        "no verified attestation of type {}",
        requirement.predicate_uri
    );
    let types: BTreeSet<&str> = verified.iter().map(|v| v.predicate_type.as_str()).collect();
    if !types.is_empty() {
        let types: Vec<&str> = types.into_iter().collect();
        message.push_str(&format!("; verified types: {}", types.join(", ")));
    }
    let wanted = |r: &&RejectedAttestation| {
        r.predicate_type
            .as_deref()
            .is_none_or(|t| t == requirement.predicate_uri)
    };
    if let Some(r) = rejected.iter().find(wanted) {
        message.push_str(&format!(
            "; {} attestation(s) rejected, the first: {}",
            rejected.len(),
            r.detail
        ));
    } else if verified.is_empty() && rejected.is_empty() {
        message.push_str(" (the image has no attestations: `cosign attest` stores them)");
    }
    message
}
