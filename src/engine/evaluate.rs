//! Deciding one image: which policies apply, what the registry says, which authorities accept.
//!
//! The flow reads one way: this module decides; `namespaced` (the cluster's floor),
//! `require_digest` (pinning), `multi_arch` (which digests are judged) and `authorities` (one
//! policy on one digest) are steps it calls, and none of them calls back.

use tokio::time::Instant;

use crate::policy::{
    Authority, AuthorityKind, FailureAction, ImagePolicy, Mode, PolicySet, StaticAction,
};
use crate::reference::{Digest, ImageReference};
use crate::verdict::{ACCEPTED_UNVERIFIED, AuthorityFailure, Outcome, Reason, VERIFIED};
use crate::workload::ResourceIdentity;

use super::authorities::{PolicyResult, static_cause};
use super::cache::ReviewRegistry;
use super::credentials::ReviewCredentials;
use super::result_policy::ReviewedObject;
use super::stages::Stage;
use super::verdicts::memo::Reuse;
use super::verdicts::{Judged, VerdictKey};
use super::{Engine, ImageResult, NoMatchAction, multi_arch, namespaced, require_digest};

/// Where the image is used: the namespace, the object (for `spec.match`) and the object itself
/// (for a `spec.policy` that includes its parts), each unknown as `None`.
pub(super) type Target<'a> = (
    Option<&'a str>,
    Option<&'a ResourceIdentity>,
    Option<ReviewedObject<'a>>,
);

/// Decide `image` under every policy that covers it in `target`, within `deadline`; with how
/// long the result may be reused (see [`Reuse`]).
pub(super) async fn decide_image(
    engine: &Engine,
    policies: &PolicySet,
    (namespace, object, reviewed): Target<'_>,
    image: &ImageReference,
    deadline: Instant,
    credentials: &ReviewCredentials<'_>,
) -> (ImageResult, Reuse) {
    let settings = &engine.settings;
    let matching = policies.matching_for(image, namespace, object);
    if matching.is_empty() {
        return (no_match(settings.no_match), Reuse::Always);
    }
    let floor = namespaced::cluster_floor(&matching, settings.no_match, settings.namespaced);
    if let Some(Outcome::Deny(reason)) = &floor {
        // Nothing the namespaced policies say can lift it: no registry call.
        let denied = ImageResult {
            digest: None,
            outcome: Outcome::Deny(reason.clone()),
        };
        return (denied, Reuse::Always);
    }
    let (result, reuse) =
        judge_matching(engine, &matching, image, deadline, credentials, reviewed).await;
    match floor {
        Some(floor) => (namespaced::at_most(floor, result), reuse),
        None => (result, reuse),
    }
}

/// Every policy of `matching` must pass (and `requireDigest` hold).
async fn judge_matching(
    engine: &Engine,
    matching: &[&ImagePolicy],
    image: &ImageReference,
    deadline: Instant,
    credentials: &ReviewCredentials<'_>,
    reviewed: Option<ReviewedObject<'_>>,
) -> (ImageResult, Reuse) {
    let settings = &engine.settings;
    let pin = require_digest::needs_pin(matching, image);
    let (result, reuse) = if matching.iter().all(|p| decided_statically(p)) && pin.is_none() {
        let results = matching.iter().map(|p| (*p, judge_statically(p))).collect();
        (fold(None, results), Reuse::Always)
    } else {
        // Boxed: the verification's state is large, and unboxed it is part of every image's
        // future, moved into the review's stream and zeroed even when the policy is static.
        let work = Box::pin(verify(engine, matching, image, credentials, reviewed));
        match tokio::time::timeout_at(deadline, work).await {
            Ok(verified) => verified,
            Err(_) => {
                let reason = Reason::Timeout(settings.review_deadline);
                (unverifiable(matching, None, reason), Reuse::Never)
            }
        }
    };
    match pin {
        Some(policy) => (require_digest::require(policy, image, result), reuse),
        None => (result, reuse),
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
    if policy.result_policy.is_some() {
        return false;
    }
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
            AuthorityKind::Key(_) | AuthorityKind::Keyless(_) | AuthorityKind::Notation(_) => None,
        })
        .collect();
    PolicyResult::Failed(Reason::PolicyFailed {
        policy: policy.name.clone(),
        authorities,
    })
}

/// Resolve once (with the review's credentials), then reuse the verdict these policies gave
/// this digest, or judge it; reusable only as long as both the tag's digest and the verdict
/// came from their caches.
async fn verify(
    engine: &Engine,
    matching: &[&ImagePolicy],
    image: &ImageReference,
    credentials: &ReviewCredentials<'_>,
    reviewed: Option<ReviewedObject<'_>>,
) -> (ImageResult, Reuse) {
    let (via, provider_failures) = match credentials.registry(engine.registry.base(), image).await {
        Ok(via) => via,
        Err(detail) => {
            return (
                failed(matching, Reason::PullCredentials(detail)),
                Reuse::Never,
            );
        }
    };
    let registry = engine.registry.for_review(&via);
    let timer = engine.stages.start(Stage::DigestResolution);
    let resolved = registry.resolve_digest(image).await;
    drop(timer);
    let (digest, resolved_reuse) = match resolved {
        Ok(resolved) => resolved,
        Err(e) if provider_failures.is_empty() => {
            let failed = unverifiable(matching, None, Reason::Registry(e));
            return (failed, Reuse::Never);
        }
        Err(e) => {
            let reason = Reason::CredentialProvider {
                failures: provider_failures.join("; "),
                registry: e,
            };
            return (unverifiable(matching, None, reason), Reuse::Never);
        }
    };
    // What credential plugins said is not in any cache key the memo could follow.
    let resolved_reuse = match provider_failures.is_empty() {
        true => resolved_reuse,
        false => Reuse::Never,
    };
    let key = VerdictKey::new(matching, image, &digest, &engine.settings.platforms);
    // Boxed: registry and signature futures nested inside the cache's would be large on the stack.
    let judging = || {
        Box::pin(judge_all(
            engine,
            &registry,
            (matching, reviewed),
            image,
            digest.clone(),
        ))
    };
    // A `spec.policy` reading the object decides for this object only: no shared verdict.
    let per_object = |p: &&ImagePolicy| p.result_policy.as_ref().is_some_and(|r| r.reads_object());
    if reviewed.is_some() && matching.iter().any(per_object) {
        return (judging().await.result, Reuse::Never);
    }
    let (result, verdict_reuse) = engine.verdicts.get_or_judge_reusable(key, judging).await;
    (result, resolved_reuse.and(verdict_reuse))
}

/// Fetch each signature repository once and judge every policy under its `multiArch`.
async fn judge_all(
    engine: &Engine,
    registry: &ReviewRegistry<'_>,
    (matching, reviewed): (&[&ImagePolicy], Option<ReviewedObject<'_>>),
    image: &ImageReference,
    digest: Digest,
) -> Judged {
    let mut review = multi_arch::Review::new(
        &engine.stages,
        &engine.settings.platforms,
        registry,
        image,
        &digest,
    )
    .with_object(reviewed);
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
