//! One policy judged on one digest: any of its authorities accepts (a `static` one, or a verified
//! signature), each signature repository fetched at most once per review. The engine and its
//! multi-arch step call this; it calls nothing of theirs.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::policy::{
    Authority, AuthorityKind, Evaluation, ImagePolicy, SignatureFormat, StaticAction,
    StaticAuthority,
};
use crate::reference::{Digest, ImageReference};
use crate::registry::SignatureMaterial;
use crate::registry::{Credentials, RegistryError};
use crate::signature::{self, Acceptance, Mismatch, Subject};
use crate::verdict::{AuthorityCause, AuthorityFailure, Reason};

use super::attestations;
use super::cache::ReviewRegistry;
use super::notation;
use super::result_policy::{self, ReviewedObject};
use super::signature_sources::{Sources, signature_pull_credentials};
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
        (repository, tag_prefix): (&ImageReference, &str),
        digest: &Digest,
        pull: Option<&(String, Credentials)>,
    ) -> &Result<Arc<SignatureMaterial>, RegistryError> {
        let with = pull.map(|(names, _)| names.as_str()).unwrap_or_default();
        let key = format!("{}@{digest} {tag_prefix} {with}", repository.name());
        if !self.by_repository.contains_key(&key) {
            let _timer = stages.start(Stage::SignatureFetch);
            let layers = match pull {
                Some((_, credentials)) => {
                    let via = registry.with_credentials(credentials);
                    let registry = registry.through(&via);
                    registry
                        .fetch_signatures(repository, digest, tag_prefix)
                        .await
                }
                None => {
                    registry
                        .fetch_signatures(repository, digest, tag_prefix)
                        .await
                }
            };
            self.by_repository.insert(key.clone(), layers);
        }
        &self.by_repository[&key]
    }
}

/// What one authority concluded.
enum Judgement {
    /// It accepts the image: a note, whether only statically (`static: pass`), and its match
    /// for a `spec.policy`.
    Matched {
        note: String,
        statically: bool,
        json: Value,
    },
    Failed(AuthorityCause),
    /// The registry failed before it could conclude.
    Unreachable(RegistryError),
}

/// Any-of over the policy's authorities; with a `spec.policy`, every authority is judged and
/// the policy decides over all that matched (policy-controller's `ValidatePolicy`). `object` is
/// the reviewed object's JSON, for a `spec.policy` that includes its parts.
pub(super) async fn judge(
    registry: &ReviewRegistry<'_>,
    stages: &StageMetrics,
    fetched: &mut ReviewSignatures,
    policy: &ImagePolicy,
    (image, digest): (&ImageReference, &Digest),
    object: Option<ReviewedObject<'_>>,
) -> PolicyResult {
    let mut failures = Vec::new();
    let mut registry_error = None;
    let mut matches = Map::new();
    let mut notes = Vec::new();
    let mut verified = false;
    for authority in &policy.authorities {
        let judged = judge_authority(registry, stages, fetched, policy, authority, image, digest);
        match judged.await {
            Judgement::Matched {
                note,
                statically,
                json,
            } => {
                if policy.result_policy.is_none() {
                    return match statically {
                        true => PolicyResult::Passed(note),
                        false => PolicyResult::Satisfied(note),
                    };
                }
                verified |= !statically;
                notes.push(note);
                matches.insert(authority.name.clone(), json);
            }
            Judgement::Failed(cause) => failures.push(AuthorityFailure {
                authority: authority.name.clone(),
                cause,
            }),
            Judgement::Unreachable(e) => {
                registry_error.get_or_insert(e);
            }
        }
    }
    if let Some(result_policy) = &policy.result_policy
        && !matches.is_empty()
    {
        let input = result_policy::input(result_policy, matches, object);
        let policy_text = Arc::clone(&result_policy.policy);
        let timer = stages.start(Stage::Verification);
        let evaluation = result_policy::run_within_budget(policy_text, input).await;
        drop(timer);
        let note = format!("{}; spec.policy passed", notes.join(", "));
        return match (evaluation, registry_error) {
            (Evaluation::Pass, _) if verified => PolicyResult::Satisfied(note),
            (Evaluation::Pass, _) => PolicyResult::Passed(note),
            // What it needs might be what the registry did not answer.
            (Evaluation::Fail(_), Some(e)) => PolicyResult::Unverifiable(Reason::Registry(e)),
            (Evaluation::Fail(message), None) => PolicyResult::Failed(Reason::PolicyFailed {
                policy: policy.name.clone(),
                authorities: vec![AuthorityFailure {
                    authority: "spec.policy".into(),
                    cause: AuthorityCause::ResultPolicy(format!(
                        "spec.policy ({}) refused what its authorities verified: {message}",
                        result_policy.policy.language.as_str()
                    )),
                }],
            }),
        };
    }
    match registry_error {
        Some(e) => PolicyResult::Unverifiable(Reason::Registry(e)),
        None => PolicyResult::Failed(Reason::PolicyFailed {
            policy: policy.name.clone(),
            authorities: failures,
        }),
    }
}

/// One authority of `policy` on `digest`.
async fn judge_authority(
    registry: &ReviewRegistry<'_>,
    stages: &StageMetrics,
    fetched: &mut ReviewSignatures,
    policy: &ImagePolicy,
    authority: &Authority,
    image: &ImageReference,
    digest: &Digest,
) -> Judgement {
    let subject = Subject { image, digest };
    match &authority.kind {
        AuthorityKind::Static(s) if s.action == StaticAction::Pass => Judgement::Matched {
            note: format!("static pass ({}/{})", policy.name, authority.name),
            statically: true,
            json: result_policy::static_match(),
        },
        AuthorityKind::Static(s) => Judgement::Failed(static_cause(s)),
        AuthorityKind::Notation(n) => {
            match notation::judge(registry, stages, n, image, digest).await {
                Ok(Ok(note)) => Judgement::Matched {
                    note: format!("{note} ({}/{})", policy.name, authority.name),
                    statically: false,
                    json: result_policy::notation_match(&note),
                },
                Ok(Err(cause)) => Judgement::Failed(cause),
                Err(e) => Judgement::Unreachable(e),
            }
        }
        AuthorityKind::Key(_) | AuthorityKind::Keyless(_) if !authority.attestations.is_empty() => {
            let judged =
                attestations::judge_authority(registry, stages, fetched, authority, subject).await;
            match judged {
                Ok(Ok((note, json))) => Judgement::Matched {
                    note: format!("{note} ({}/{})", policy.name, authority.name),
                    statically: false,
                    json,
                },
                Ok(Err(cause)) => Judgement::Failed(cause),
                Err(e) => Judgement::Unreachable(e),
            }
        }
        AuthorityKind::Key(_) | AuthorityKind::Keyless(_) => {
            let pull = match signature_pull_credentials(authority) {
                Ok(pull) => pull,
                Err(reason) => return Judgement::Failed(AuthorityCause::Unusable(reason)),
            };
            let found = Sources {
                registry,
                stages,
                fetched: &mut *fetched,
                pull: pull.as_ref(),
            };
            let (layers, failure) = found.material(authority, image, digest).await;
            if let (true, Some(e)) = (layers.is_empty(), &failure) {
                return Judgement::Unreachable(e.clone());
            }
            let timer = stages.start(Stage::Verification);
            let checked =
                check_signatures(&authority.kind, subject, &in_format(authority, &layers));
            drop(timer);
            match (checked, failure) {
                (Ok(accepted), _) => Judgement::Matched {
                    note: format!(
                        "{} ({}/{})",
                        signer_note(&accepted),
                        policy.name,
                        authority.name
                    ),
                    statically: false,
                    json: result_policy::signature_match(&accepted),
                },
                // The signature it needs might be in the source that failed.
                (Err(_), Some(e)) => Judgement::Unreachable(e),
                (Err(mismatch), None) => Judgement::Failed(AuthorityCause::Signature(mismatch)),
            }
        }
    }
}

/// Why a failing static authority failed: its `static.message`, or why the authority it stands
/// for cannot be checked.
pub(super) fn static_cause(s: &StaticAuthority) -> AuthorityCause {
    match (s.unusable, &s.message) {
        (true, Some(reason)) => AuthorityCause::Unusable(reason.clone()),
        _ => AuthorityCause::StaticFail(s.message.clone()),
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
        AuthorityKind::Static(_) | AuthorityKind::Notation(_) => Err(Mismatch::NoSignature),
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
