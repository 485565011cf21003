//! Deciding one image: which policies apply, what the registry says, which authorities accept.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::time::Instant;

use crate::policy::{
    Authority, AuthorityKind, FailureAction, ImagePolicy, Mode, PolicySet, SignatureFormat,
    StaticAction, StaticAuthority,
};
use crate::reference::{Digest, ImageReference};
use crate::registry::SignatureMaterial;
use crate::registry::{Credentials, RegistryError};
use crate::signature::{self, Acceptance, Mismatch, Subject};
use crate::verdict::{
    ACCEPTED_UNVERIFIED, AuthorityCause, AuthorityFailure, Outcome, Reason, VERIFIED,
};
use crate::workload::ResourceIdentity;

use super::cache::ReviewRegistry;
use super::credentials::ReviewCredentials;
use super::signature_sources::{Sources, signature_pull_credentials};
use super::stages::{Stage, StageMetrics};
use super::verdicts::{Judged, VerdictKey};
use super::{Engine, NoMatchAction, digest, multi_arch, namespaced};

/// The decision for one distinct image reference.
#[derive(Debug, Clone)]
pub struct ImageResult {
    /// The digest that was checked, if one was resolved.
    pub digest: Option<Digest>,
    /// The outcome.
    pub outcome: Outcome,
}

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

/// Where the image is used: the namespace and the object (for `spec.match`), each unknown as
/// `None`.
pub(super) type Target<'a> = (Option<&'a str>, Option<&'a ResourceIdentity>);

/// Decide `image` under every policy that covers it in `target`, within `deadline`.
pub(super) async fn decide_image(
    engine: &Engine,
    policies: &PolicySet,
    (namespace, object): Target<'_>,
    image: &ImageReference,
    deadline: Instant,
    credentials: &ReviewCredentials<'_>,
) -> ImageResult {
    let settings = &engine.settings;
    let matching = policies.matching_for(image, namespace, object);
    if matching.is_empty() {
        return no_match(settings.no_match);
    }
    let floor = namespaced::cluster_floor(&matching, settings.no_match, settings.namespaced);
    if let Some(Outcome::Deny(reason)) = &floor {
        // Nothing the namespaced policies say can lift it: no registry call.
        return ImageResult {
            digest: None,
            outcome: Outcome::Deny(reason.clone()),
        };
    }
    let result = judge_matching(engine, &matching, image, deadline, credentials).await;
    match floor {
        Some(floor) => namespaced::at_most(floor, result),
        None => result,
    }
}

/// Every policy of `matching` must pass (and `requireDigest` hold).
async fn judge_matching(
    engine: &Engine,
    matching: &[&ImagePolicy],
    image: &ImageReference,
    deadline: Instant,
    credentials: &ReviewCredentials<'_>,
) -> ImageResult {
    let settings = &engine.settings;
    let pin = digest::needs_pin(matching, image);
    let result = if matching.iter().all(|p| decided_statically(p)) && pin.is_none() {
        let results = matching.iter().map(|p| (*p, judge_statically(p))).collect();
        fold(None, results)
    } else {
        let work = verify(engine, matching, image, credentials);
        match tokio::time::timeout_at(deadline, work).await {
            Ok(result) => result,
            Err(_) => unverifiable(matching, None, Reason::Timeout(settings.review_deadline)),
        }
    };
    match pin {
        Some(policy) => digest::require(policy, image, result),
        None => result,
    }
}

fn no_match(action: NoMatchAction) -> ImageResult {
    let outcome = match action {
        NoMatchAction::Deny => Outcome::Deny(Reason::NoPolicyMatch),
        NoMatchAction::Warn => Outcome::Warn(Reason::NoPolicyMatch),
        NoMatchAction::Allow => Outcome::Admit(
            "NoPolicyMatch",
            "no policy covers this image (no-match: allow)".into(),
        ),
    };
    ImageResult {
        digest: None,
        outcome,
    }
}

/// A policy needs no signatures when a `static: pass` authority satisfies it, or when every
/// authority is static.
fn decided_statically(policy: &ImagePolicy) -> bool {
    let is_static = |a: &Authority| matches!(a.kind, AuthorityKind::Static(_));
    policy.authorities.iter().all(is_static) || policy.authorities.iter().any(static_pass)
}

fn static_pass(a: &Authority) -> bool {
    matches!(&a.kind, AuthorityKind::Static(s) if s.action == StaticAction::Pass)
}

fn judge_statically(policy: &ImagePolicy) -> PolicyResult {
    if let Some(a) = policy.authorities.iter().find(|a| static_pass(a)) {
        return PolicyResult::Passed(format!("static pass ({}/{})", policy.name, a.name));
    }
    let authorities = policy
        .authorities
        .iter()
        .filter_map(|a| match &a.kind {
            AuthorityKind::Static(s) => Some(AuthorityFailure {
                authority: a.name.clone(),
                cause: static_cause(s),
            }),
            AuthorityKind::Key(_) | AuthorityKind::Keyless(_) => None,
        })
        .collect();
    PolicyResult::Failed(Reason::PolicyFailed {
        policy: policy.name.clone(),
        authorities,
    })
}

/// Resolve once (with the review's credentials), then reuse the verdict these policies gave
/// this digest, or judge it.
async fn verify(
    engine: &Engine,
    matching: &[&ImagePolicy],
    image: &ImageReference,
    credentials: &ReviewCredentials<'_>,
) -> ImageResult {
    let via = match credentials.registry(engine.registry.base()).await {
        Ok(via) => via,
        Err(detail) => return failed(matching, Reason::PullCredentials(detail)),
    };
    let registry = engine.registry.for_review(via);
    let timer = engine.stages.start(Stage::DigestResolution);
    let resolved = registry.resolve_digest(image).await;
    drop(timer);
    let digest = match resolved {
        Ok(digest) => digest,
        Err(e) => return unverifiable(matching, None, Reason::Registry(e)),
    };
    let key = VerdictKey::new(matching, image, &digest, &engine.settings.platforms);
    // Boxed: registry and signature futures nested inside the cache's would be large on the stack.
    let judging = || {
        Box::pin(judge_all(
            engine,
            &registry,
            matching,
            image,
            digest.clone(),
        ))
    };
    engine.verdicts.get_or_judge(key, judging).await
}

/// Fetch each signature repository once and judge every policy under its `multiArch`.
async fn judge_all(
    engine: &Engine,
    registry: &ReviewRegistry<'_>,
    matching: &[&ImagePolicy],
    image: &ImageReference,
    digest: Digest,
) -> Judged {
    let mut review = multi_arch::Review::new(engine, registry, image, &digest);
    let mut results = Vec::with_capacity(matching.len());
    for policy in matching {
        let result = review.judge(policy).await;
        results.push((*policy, result));
    }
    let cacheable = !results
        .iter()
        .any(|(_, r)| matches!(r, PolicyResult::Unverifiable(_)));
    Judged {
        result: fold(Some(digest), results),
        cacheable,
    }
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
            AuthorityKind::Static(s) => static_cause(s),
            AuthorityKind::Key(_) | AuthorityKind::Keyless(_) => {
                let pull = match signature_pull_credentials(authority) {
                    Ok(pull) => pull,
                    Err(reason) => {
                        failures.push(AuthorityFailure {
                            authority: authority.name.clone(),
                            cause: AuthorityCause::Unusable(reason),
                        });
                        continue;
                    }
                };
                let found = Sources {
                    registry,
                    stages,
                    fetched: &mut *fetched,
                    pull: pull.as_ref(),
                };
                let (layers, failure) = found.material(authority, image, digest).await;
                if let (true, Some(e)) = (layers.is_empty(), &failure) {
                    registry_error.get_or_insert_with(|| e.clone());
                    continue;
                }
                let subject = Subject { image, digest };
                let timer = stages.start(Stage::Verification);
                let checked =
                    check_signatures(&authority.kind, subject, &in_format(authority, &layers));
                drop(timer);
                match (checked, failure) {
                    (Ok(accepted), _) => {
                        return PolicyResult::Satisfied(format!(
                            "{} ({}/{})",
                            signer_note(&accepted),
                            policy.name,
                            authority.name
                        ));
                    }
                    // The signature it needs might be in the source that failed.
                    (Err(_), Some(e)) => {
                        registry_error.get_or_insert(e);
                        continue;
                    }
                    (Err(mismatch), None) => AuthorityCause::Signature(mismatch),
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

/// Why a failing static authority failed: its `static.message`, or why the authority it stands
/// for cannot be checked.
fn static_cause(s: &StaticAuthority) -> AuthorityCause {
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

/// Fold policy results: every policy must be satisfied. A failure of an enforce-mode policy
/// denies; failures of warn-mode policies only warn.
fn fold(digest: Option<Digest>, results: Vec<(&ImagePolicy, PolicyResult)>) -> ImageResult {
    let mut warned = None;
    let mut admitted = Vec::new();
    let mut verified = false;
    for (policy, result) in results {
        let (reason, action) = match result {
            PolicyResult::Satisfied(note) => {
                verified = true;
                admitted.push(note);
                continue;
            }
            PolicyResult::Passed(note) => {
                admitted.push(note);
                continue;
            }
            PolicyResult::Failed(reason) => (reason, FailureAction::Deny),
            PolicyResult::Unverifiable(reason) => (reason, policy.on_registry_error),
        };
        if policy.mode == Mode::Enforce && action == FailureAction::Deny {
            return ImageResult {
                digest,
                outcome: Outcome::Deny(reason),
            };
        }
        warned.get_or_insert(reason);
    }
    let outcome = match warned {
        Some(reason) => Outcome::Warn(reason),
        None => Outcome::Admit(
            match verified {
                true => VERIFIED,
                false => ACCEPTED_UNVERIFIED,
            },
            admitted.join(", "),
        ),
    };
    ImageResult { digest, outcome }
}

/// The registry failed (or the deadline passed) before signatures could be judged: policies that
/// static authorities decide are still judged; the others are unverifiable.
fn unverifiable(matching: &[&ImagePolicy], digest: Option<Digest>, reason: Reason) -> ImageResult {
    without_registry(matching, digest, || {
        PolicyResult::Unverifiable(reason.clone())
    })
}

/// The registry could not be asked as the pod would ask it: policies that static authorities
/// decide are still judged; the others fail (`onRegistryError` does not apply: the registry was
/// never reached).
fn failed(matching: &[&ImagePolicy], reason: Reason) -> ImageResult {
    without_registry(matching, None, || PolicyResult::Failed(reason.clone()))
}

fn without_registry(
    matching: &[&ImagePolicy],
    digest: Option<Digest>,
    otherwise: impl Fn() -> PolicyResult,
) -> ImageResult {
    let results = matching
        .iter()
        .map(|p| {
            let result = match decided_statically(p) {
                true => judge_statically(p),
                false => otherwise(),
            };
            (*p, result)
        })
        .collect();
    fold(digest, results)
}
