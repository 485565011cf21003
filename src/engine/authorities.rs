//! One policy judged on one digest: any of its authorities accepts (a `static` one, or a verified
//! signature), each signature repository fetched at most once per review. The engine and its
//! multi-arch step call this; it calls nothing of theirs.

use std::collections::HashMap;
use std::sync::Arc;

use crate::policy::{Authority, AuthorityKind, ImagePolicy, SignatureFormat, StaticAction};
use crate::reference::{Digest, ImageReference};
use crate::registry::RegistryError;
use crate::registry::SignatureMaterial;
use crate::signature::{self, Acceptance, Mismatch, Subject};
use crate::verdict::{AuthorityCause, AuthorityFailure, Reason};

use super::attestations;
use super::cache::ReviewRegistry;
use super::stages::{Stage, StageMetrics};

/// How one policy judged the image.
pub(super) enum PolicyResult {
    /// A signature was verified.
    Satisfied(String),
    /// A `static: pass` authority (CRI-O's `insecureAcceptAnything`) admitted it: nothing was
    /// verified, so counts of verified images must not include it.
    Passed(String),
    Failed(Reason),
    /// The registry could not answer (or the deadline passed): the policy's `onRegistryError`
    /// decides.
    Unverifiable(Reason),
}

/// Signature material as this review saw it, by repository and digest: every authority of the review
/// judges the same material, even if the shared cache changes meanwhile.
#[derive(Default)]
pub(super) struct ReviewSignatures {
    by_repository: HashMap<String, Result<Arc<SignatureMaterial>, RegistryError>>,
}

impl ReviewSignatures {
    pub(super) async fn get(
        &mut self,
        registry: &ReviewRegistry<'_>,
        stages: &StageMetrics,
        repository: &ImageReference,
        digest: &Digest,
    ) -> &Result<Arc<SignatureMaterial>, RegistryError> {
        let key = format!("{}@{digest}", repository.name());
        if !self.by_repository.contains_key(&key) {
            let _timer = stages.start(Stage::SignatureFetch);
            let layers = registry.fetch_signatures(repository, digest).await;
            self.by_repository.insert(key.clone(), layers);
        }
        &self.by_repository[&key]
    }
}

/// Any-of over the policy's authorities.
pub(super) async fn judge(
    registry: &ReviewRegistry<'_>,
    stages: &StageMetrics,
    fetched: &mut ReviewSignatures,
    policy: &ImagePolicy,
    image: &ImageReference,
    digest: &Digest,
) -> PolicyResult {
    let mut failures = Vec::new();
    let mut registry_error = None;
    for authority in &policy.authorities {
        let cause = match &authority.kind {
            AuthorityKind::Static(s) if s.action == StaticAction::Pass => {
                return PolicyResult::Passed(format!(
                    "static pass ({}/{})",
                    policy.name, authority.name
                ));
            }
            AuthorityKind::Static(s) => AuthorityCause::StaticFail(s.message.clone()),
            AuthorityKind::Key(_) | AuthorityKind::Keyless(_)
                if !authority.attestations.is_empty() =>
            {
                let repository = signature_repository(authority, image);
                let subject = Subject { image, digest };
                let judged = attestations::judge_authority(
                    registry,
                    stages,
                    fetched,
                    authority,
                    &repository,
                    subject,
                )
                .await;
                match judged {
                    Ok(Ok(note)) => {
                        return PolicyResult::Satisfied(format!(
                            "{note} ({}/{})",
                            policy.name, authority.name
                        ));
                    }
                    Ok(Err(cause)) => cause,
                    Err(e) => {
                        registry_error.get_or_insert(e);
                        continue;
                    }
                }
            }
            AuthorityKind::Key(_) | AuthorityKind::Keyless(_) => {
                let repository = signature_repository(authority, image);
                let layers = match fetched.get(registry, stages, &repository, digest).await {
                    Ok(layers) => layers,
                    Err(e) => {
                        registry_error.get_or_insert_with(|| e.clone());
                        continue;
                    }
                };
                let subject = Subject { image, digest };
                let timer = stages.start(Stage::Verification);
                let checked =
                    check_signatures(&authority.kind, subject, &in_format(authority, layers));
                drop(timer);
                match checked {
                    Ok(accepted) => {
                        return PolicyResult::Satisfied(format!(
                            "{} ({}/{})",
                            signer_note(&accepted),
                            policy.name,
                            authority.name
                        ));
                    }
                    Err(mismatch) => AuthorityCause::Signature(mismatch),
                }
            }
        };
        failures.push(AuthorityFailure {
            authority: authority.name.clone(),
            cause,
        });
    }
    match registry_error {
        Some(e) => PolicyResult::Unverifiable(Reason::Registry(e)),
        None => PolicyResult::Failed(Reason::PolicyFailed {
            policy: policy.name.clone(),
            authorities: failures,
        }),
    }
}

/// The material of the kind the authority's `signatureFormat` reads.
fn in_format<'m>(
    authority: &Authority,
    material: &'m SignatureMaterial,
) -> std::borrow::Cow<'m, SignatureMaterial> {
    use std::borrow::Cow;
    match authority.format {
        SignatureFormat::Any => Cow::Borrowed(material),
        SignatureFormat::Legacy => Cow::Owned(SignatureMaterial {
            layers: material.layers.clone(),
            bundles: Vec::new(),
        }),
        SignatureFormat::Bundle => Cow::Owned(SignatureMaterial {
            layers: Vec::new(),
            bundles: material.bundles.clone(),
        }),
    }
}

/// The signature check of a key or keyless authority (static ones never get here).
fn check_signatures(
    kind: &AuthorityKind,
    subject: Subject<'_>,
    material: &SignatureMaterial,
) -> Result<Acceptance, Mismatch> {
    match kind {
        AuthorityKind::Key(key) => signature::check_key_material(key, subject, material),
        AuthorityKind::Keyless(keyless) => {
            signature::check_keyless_material(keyless, subject, material)
        }
        AuthorityKind::Static(_) => Err(Mismatch::NoSignature),
    }
}

/// `signed by key sha256:…` or `signed by certificate issuer "…" subject "…" (Rekor entry N)`.
fn signer_note(accepted: &Acceptance) -> String {
    match &accepted.certificate {
        Some(signer) => format!(
            "signed by certificate {} (Rekor entry {})",
            signer.identity.describe(),
            signer.log_index
        ),
        None => format!("signed by key {}", accepted.key_fingerprint),
    }
}

/// Where an authority's signatures live: its `source.oci` repository, else the image's own.
fn signature_repository(authority: &Authority, image: &ImageReference) -> ImageReference {
    authority
        .source
        .as_ref()
        .and_then(|s| ImageReference::parse(&s.repository).ok())
        .unwrap_or_else(|| image.clone())
}
