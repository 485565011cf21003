//! Judging an authority that requires attestations (policy-controller's
//! `ValidatePolicyAttestationsForAuthority`): the authority is satisfied when every
//! `attestations[]` entry has verified attestations of its predicate type, from `threshold`
//! distinct keys, whose Statements its policy accepts. Its signatures are not consulted: an
//! authority with attestations checks attestations only, as in policy-controller. To require a
//! signature as well, add a second policy covering the image (every matching policy must pass;
//! the authorities of one policy are alternatives).
//!
//! Each policy evaluation runs on a blocking thread under [`crate::policy::EVALUATION_BUDGET`] (Rego's
//! interpreter also stops itself there): a slow policy denies, it never holds a runtime thread
//! or the review.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::Value;

use super::authorities::ReviewSignatures;
use super::cache::ReviewRegistry;
use super::result_policy;
use super::signature_sources::{locations, signature_pull_credentials};
use super::stages::{Stage, StageMetrics};
use crate::policy::{
    AttestationRequirement, Authority, AuthorityKind, Evaluation, SignatureFormat,
};
use crate::registry::{RegistryError, SignatureBundle, SignatureLayer};
use crate::signature::{self, RejectedAttestation, Subject, VerifiedAttestation};
use crate::verdict::{AttestationFailure, AuthorityCause};

/// Fetch what may attest `subject` for `authority` (which has attestations) from every source
/// it names, as signatures are read (`signature_sources.rs`: each `source[]` repository and tag
/// prefix, else the image's own repository, with its `signaturePullSecrets` presented first):
/// the `.att` layers, and the Sigstore bundles with the signatures as this review fetched them,
/// in the kinds its `signatureFormat` reads; and judge it. `Err` when a registry failed and
/// what the others held proves nothing (the attestation needed might be in the one that failed).
pub(super) async fn judge_authority(
    registry: &ReviewRegistry<'_>,
    stages: &StageMetrics,
    fetched: &mut ReviewSignatures,
    authority: &Authority,
    subject: Subject<'_>,
) -> Result<Result<(String, Value), AuthorityCause>, RegistryError> {
    let pull = match signature_pull_credentials(authority) {
        Ok(pull) => pull,
        Err(reason) => return Ok(Err(AuthorityCause::Unusable(reason))),
    };
    let via = pull.as_ref().map(|(_, c)| registry.with_credentials(c));
    let through = via.as_ref().map(|via| registry.through(via));
    let att_registry = through.as_ref().unwrap_or(registry);
    let mut layers = Vec::new();
    let mut bundles = Vec::new();
    let mut failure: Option<RegistryError> = None;
    for (repository, prefix) in &locations(authority, subject.image) {
        if authority.format != SignatureFormat::Bundle {
            let _timer = stages.start(Stage::SignatureFetch);
            match att_registry
                .fetch_attestations(repository, subject.digest, prefix)
                .await
            {
                Ok(found) => layers.extend(found),
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        // cosign 3's attestations are Sigstore bundles, found with the signatures.
        if authority.format != SignatureFormat::Legacy {
            let at = (repository, prefix.as_str());
            match fetched
                .get(registry, stages, at, subject.digest, pull.as_ref())
                .await
            {
                Ok(material) => bundles.extend(material.bundles.iter().cloned()),
                Err(e) => {
                    failure.get_or_insert_with(|| e.clone());
                }
            }
        }
    }
    if let (true, true, Some(e)) = (layers.is_empty(), bundles.is_empty(), &failure) {
        return Err(e.clone());
    }
    let judged = {
        let _timer = stages.start(Stage::Verification);
        judge_attestations(authority, subject, &layers, &bundles).await
    };
    match (judged, failure) {
        (Err(_), Some(e)) => Err(e),
        (judged, _) => Ok(judged),
    }
}

/// Judge `authority` (which has attestations) over the fetched `.att` layers and Sigstore
/// bundles: a note for the admission and the authority's match for a `spec.policy`, or why not.
async fn judge_attestations(
    authority: &Authority,
    subject: Subject<'_>,
    layers: &[SignatureLayer],
    bundles: &[SignatureBundle],
) -> Result<(String, Value), AuthorityCause> {
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
        AuthorityKind::Static(_) | AuthorityKind::Notation(_) => {
            return Err(AuthorityCause::Signature(signature::Mismatch::NoSignature));
        }
    };
    let (from_bundles, bundle_rejections) =
        signature::bundle_attestations(&authority.kind, subject, bundles);
    verified.extend(from_bundles);
    rejected.extend(bundle_rejections);
    let verified: Arc<Vec<VerifiedAttestation>> = Arc::new(verified);
    let mut notes = Vec::new();
    let mut matched = Vec::new();
    for requirement in &authority.attestations {
        match judge_requirement(threshold, requirement, &verified, &rejected).await {
            Ok((note, accepted)) => {
                notes.push(note);
                let accepted = accepted.into_iter().map(|i| &verified[i]).collect();
                matched.push((requirement.name.clone(), accepted));
            }
            Err(detail) => return Err(fail(requirement, detail)),
        }
    }
    Ok((notes.join(", "), result_policy::attestation_match(matched)))
}

/// One entry: enough distinct signers whose attestations of the type its policy accepts (a
/// note, and the attestations accepted, by index).
async fn judge_requirement(
    threshold: usize,
    requirement: &AttestationRequirement,
    verified: &Arc<Vec<VerifiedAttestation>>,
    rejected: &[RejectedAttestation],
) -> Result<(String, Vec<usize>), String> {
    let of_type: Vec<usize> = (0..verified.len())
        .filter(|i| verified[*i].predicate_type == requirement.predicate_uri)
        .collect();
    if of_type.is_empty() {
        return Err(nothing_of_type(requirement, verified, rejected));
    }
    let mut accepted = BTreeSet::new();
    let mut indices = Vec::new();
    let mut first_failure = None;
    for i in of_type {
        let attestation = &verified[i];
        if accepted.contains(&attestation.signer) {
            continue;
        }
        match evaluate(requirement, verified, i).await {
            Evaluation::Pass => {
                accepted.insert(attestation.signer.clone());
                indices.push(i);
            }
            Evaluation::Fail(message) => {
                first_failure.get_or_insert(message);
            }
        }
        if accepted.len() >= threshold.max(1) {
            let signers: Vec<&str> = accepted.iter().map(String::as_str).collect();
            let note = format!(
                "attestation {:?} signed by {}",
                requirement.name,
                signers.join(", ")
            );
            return Ok((note, indices));
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
    match requirement.policy.clone() {
        None => Evaluation::Pass,
        Some(policy) => {
            result_policy::run_within_budget(policy, verified[i].statement.clone()).await
        }
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
