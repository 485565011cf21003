//! The engine: one review pipeline shared by the webhook, the dry-run CLI and the audit, so all
//! three give the same verdict for the same input.
//!
//! image uses -> references -> matching policies -> (resolve digest once -> fetch signatures once
//! per repository -> check authorities) -> outcome per image. Policy matching comes first, so an
//! image that no policy covers, or that only `static` authorities decide, never touches the
//! network. The images of a review are decided concurrently (at most `images_in_flight` at once)
//! under one deadline; an image still undecided at the deadline is denied (or warned, where its
//! policies say so), never admitted.

mod attestations;
mod authorities;
pub mod cache;
mod credentials;
mod evaluate;
mod multi_arch;
mod namespaced;
mod notation;
mod placeholders;
mod require_digest;
mod result_policy;
mod signature_sources;
pub mod stages;
pub mod verdicts;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use futures::stream::{self, StreamExt};
use tokio::time::Instant;

use crate::policy::PolicySet;
use crate::reference::{Digest, ImageReference};
use crate::registry::{Platform, Registry};

use crate::verdict::{Decision, ImageVerdict, Outcome, Reason};
use crate::workload::{ImageUse, ResourceIdentity};
use cache::{CacheSettings, CachedRegistry};
use credentials::ReviewCredentials;
use stages::StageMetrics;
use verdicts::memo::{DecisionMemo, MemoScope, Memoized, Reuse};
use verdicts::{VerdictCache, VerdictSettings};

pub use credentials::CredentialSource;
pub use namespaced::NamespacedPolicies;
pub use result_policy::ReviewedObject;

/// The decision for one distinct image reference.
#[derive(Debug, Clone)]
pub struct ImageResult {
    /// The digest that was checked, if one was resolved.
    pub digest: Option<Digest>,
    /// The outcome.
    pub outcome: Outcome,
}

/// What to do with an image no policy covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NoMatchAction {
    /// Deny it (the default: an image nobody wrote a policy for is not trusted).
    Deny,
    /// Admit it silently.
    Allow,
    /// Admit it with a warning.
    Warn,
}

/// Engine-wide settings.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// What to do with images no policy covers.
    pub no_match: NoMatchAction,
    /// The whole-review deadline; keep it below the webhook's `timeoutSeconds`.
    pub review_deadline: Duration,
    /// Registry cache sizes and lifetimes.
    pub cache: CacheSettings,
    /// Verdict cache sizes and lifetimes.
    pub verdicts: VerdictSettings,
    /// The platforms the cluster's nodes run: the children of an index `multiArch:
    /// indexOrPlatform` requires signed when the index is not.
    pub platforms: Vec<Platform>,
    /// Most distinct images of one review decided at once (`--max-images-in-flight`): one pod
    /// naming a thousand images on a thousand hosts keeps only this many busy; the rest wait
    /// their turn within the review's deadline (and are denied when it passes).
    pub images_in_flight: usize,
    /// What a namespaced `ImagePolicy` may do: only add requirements (the default), or also
    /// admit (`--namespaced-policies-may-admit`).
    pub namespaced: NamespacedPolicies,
}

/// The longest the decision memo keeps a result, whatever the caches it came from allow.
const MEMO_LONGEST: Duration = Duration::from_secs(30);

/// Default of [`EngineSettings::images_in_flight`].
pub const DEFAULT_IMAGES_IN_FLIGHT: usize = 16;

/// `linux/amd64` and `linux/arm64`, the default `--platforms`.
pub fn default_platforms() -> Vec<Platform> {
    ["linux/amd64", "linux/arm64"]
        .iter()
        .filter_map(|p| Platform::parse(p))
        .collect()
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            no_match: NoMatchAction::Deny,
            review_deadline: Duration::from_secs(8),
            cache: CacheSettings::default(),
            verdicts: VerdictSettings::default(),
            platforms: default_platforms(),
            images_in_flight: DEFAULT_IMAGES_IN_FLIGHT,
            namespaced: NamespacedPolicies::default(),
        }
    }
}

/// The review pipeline with its current policy set and registry client.
pub struct Engine {
    policies: ArcSwap<PolicySet>,
    registry: CachedRegistry,
    verdicts: VerdictCache,
    memo: DecisionMemo,
    stages: Arc<StageMetrics>,
    settings: EngineSettings,
}

/// One image use before the pipeline runs: decided already, remembered, or to be decided.
enum Parsed {
    /// Decided without the pipeline (a placeholder, an invalid reference, a namespace over
    /// its limit).
    Decided(Outcome),
    /// Decided by an earlier review (see [`verdicts::memo`]).
    Memoized(Arc<Memoized>),
    /// To be decided.
    Image(ImageReference),
}

impl Engine {
    /// An engine over `policies`, reaching registries through `registry`.
    pub fn new(policies: PolicySet, registry: Registry, settings: EngineSettings) -> Self {
        let stages = Arc::new(StageMetrics::default());
        Self {
            policies: ArcSwap::from_pointee(policies),
            registry: CachedRegistry::new(registry, &settings.cache, stages.clone()),
            verdicts: VerdictCache::new(&settings.verdicts),
            memo: DecisionMemo::new(settings.cache.clock.clone(), MEMO_LONGEST),
            stages,
            settings,
        }
    }

    /// The policy set reviews use now.
    pub fn policies(&self) -> Arc<PolicySet> {
        self.policies.load_full()
    }

    /// Swap in a new policy set; reviews already running finish with the old one.
    pub fn replace_policies(&self, policies: PolicySet) {
        self.policies.store(Arc::new(policies));
        // After the store: see `DecisionMemo::generation`.
        self.memo.advance();
    }

    /// The decision memo (for metrics).
    pub fn decision_memo(&self) -> &DecisionMemo {
        &self.memo
    }

    /// The registry behind its caches (for cache metrics).
    pub fn registry(&self) -> &CachedRegistry {
        &self.registry
    }

    /// The verdict cache (for metrics).
    pub fn verdicts(&self) -> &VerdictCache {
        &self.verdicts
    }

    /// Per-stage and registry call metrics.
    pub fn stage_metrics(&self) -> &StageMetrics {
        &self.stages
    }

    /// The engine's settings.
    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// Decide every image use of one object in `namespace` with the global registry
    /// credentials. Never fails: every error is a denial or, where a policy says so, a warning.
    pub async fn review(&self, namespace: Option<&str>, uses: &[ImageUse]) -> Decision {
        self.review_as(namespace, None, uses, None).await
    }

    /// [`Engine::review`] of the images of `object`, so policies with `spec.match` apply only
    /// to the objects they select.
    pub async fn review_object(
        &self,
        namespace: Option<&str>,
        object: &ResourceIdentity,
        uses: &[ImageUse],
    ) -> Decision {
        self.review_as(namespace, Some(object), uses, None).await
    }

    /// [`Engine::review`], presenting the credentials of `source` (the pod's own pull secrets)
    /// before the global ones. When the source fails, every image that needs the registry is
    /// judged failed with its reason (a denial under an enforcing policy), never admitted.
    /// `object` is the reviewed object, for `spec.match` (`None`: every policy applies).
    pub async fn review_as(
        &self,
        namespace: Option<&str>,
        object: Option<&ResourceIdentity>,
        uses: &[ImageUse],
        source: Option<&dyn CredentialSource>,
    ) -> Decision {
        self.review_reviewed(namespace, (object, None), uses, source)
            .await
    }

    /// [`Engine::review_as`] with the object itself, for `spec.policy` policies that include
    /// its spec, metadata or type (`includeSpec`, `includeObjectMeta`, `includeTypeMeta`).
    pub async fn review_reviewed(
        &self,
        namespace: Option<&str>,
        (object, reviewed): (Option<&ResourceIdentity>, Option<ReviewedObject<'_>>),
        uses: &[ImageUse],
        source: Option<&dyn CredentialSource>,
    ) -> Decision {
        let credentials = ReviewCredentials::new(source);
        let deadline = Instant::now() + self.settings.review_deadline;
        // Read before the policies: see `DecisionMemo::generation`.
        let generation = self.memo.generation();
        let policies = self.policies();
        let over_limit = namespaced::over_limit(&policies, namespace);
        let memo = (over_limit.is_none() && self.memo_applies(&policies, namespace, source))
            .then(|| self.memo.scope(generation, namespace));
        let parsed: Vec<Parsed> = uses
            .iter()
            .map(|u| self.parse_use(&policies, namespace, u, (&over_limit, memo.as_ref())))
            .collect();
        let results = self
            .decide_distinct(
                &policies,
                (namespace, object, reviewed),
                &parsed,
                deadline,
                &credentials,
            )
            .await;
        let verdicts = uses
            .iter()
            .zip(&parsed)
            .map(|(usage, parsed)| {
                let verdict = verdict_for(usage.clone(), parsed, &results);
                if let (Some(scope), Parsed::Image(image)) = (&memo, parsed)
                    && let Some((result, reuse)) = results.get(image)
                {
                    let decided = (verdict.reference.clone(), result);
                    self.memo.keep(scope, &usage.image, decided, *reuse);
                }
                verdict
            })
            .collect();
        Decision {
            verdicts,
            object_failure: None,
        }
    }

    /// May this review reuse remembered decisions? Not when anything beyond the policy set,
    /// the namespace and the image decides: the pod's own pull secrets, credential plugins,
    /// policies that select or read the object.
    fn memo_applies(
        &self,
        policies: &PolicySet,
        namespace: Option<&str>,
        source: Option<&dyn CredentialSource>,
    ) -> bool {
        source.is_none()
            && self.registry.base().config().credential_providers.is_none()
            && !policies.reads_objects_in(namespace)
            && !policies.selects_objects_in(namespace)
    }

    /// One use before the pipeline: decided by the namespace's limit or a placeholder,
    /// remembered from an earlier review, or parsed to be decided.
    fn parse_use(
        &self,
        policies: &PolicySet,
        namespace: Option<&str>,
        usage: &ImageUse,
        (over_limit, memo): (&Option<Outcome>, Option<&MemoScope<'_>>),
    ) -> Parsed {
        if let Some(denied) = over_limit {
            return Parsed::Decided(denied.clone());
        }
        let rule = self.settings.namespaced;
        if let Some(outcome) = placeholders::judge(policies, namespace, usage, rule) {
            return Parsed::Decided(outcome);
        }
        if let Some(memoized) = memo.and_then(|scope| self.memo.get(scope, &usage.image)) {
            return Parsed::Memoized(memoized);
        }
        match ImageReference::parse(&usage.image) {
            Ok(image) => Parsed::Image(image),
            Err(e) => Parsed::Decided(Outcome::Deny(Reason::InvalidReference(e.to_string()))),
        }
    }

    /// Decide each distinct reference once, at most `images_in_flight` at a time.
    async fn decide_distinct<'p>(
        &self,
        policies: &PolicySet,
        target: evaluate::Target<'_>,
        parsed: &'p [Parsed],
        deadline: Instant,
        credentials: &ReviewCredentials<'_>,
    ) -> HashMap<&'p ImageReference, (ImageResult, Reuse)> {
        let mut distinct: Vec<&ImageReference> = Vec::new();
        let images = parsed.iter().filter_map(|p| match p {
            Parsed::Image(image) => Some(image),
            Parsed::Decided(_) | Parsed::Memoized(_) => None,
        });
        for image in images {
            if !distinct.contains(&image) {
                distinct.push(image);
            }
        }
        // Collected first: a stream over a closure here is not `Send` to the compiler.
        let decisions: Vec<_> = distinct
            .into_iter()
            .map(|image| async move {
                let result =
                    evaluate::decide_image(self, policies, target, image, deadline, credentials)
                        .await;
                (image, result)
            })
            .collect();
        stream::iter(decisions)
            .buffer_unordered(self.settings.images_in_flight.max(1))
            .collect()
            .await
    }
}

/// Attach the shared result of a reference to one use of it (or the outcome decided without
/// one: a placeholder, an invalid reference; or remembered from an earlier review).
fn verdict_for(
    usage: ImageUse,
    parsed: &Parsed,
    results: &HashMap<&ImageReference, (ImageResult, Reuse)>,
) -> ImageVerdict {
    let image = match parsed {
        Parsed::Image(image) => image,
        Parsed::Decided(outcome) => {
            return ImageVerdict {
                usage,
                reference: None,
                digest: None,
                outcome: outcome.clone(),
            };
        }
        Parsed::Memoized(memoized) => {
            return ImageVerdict {
                usage,
                reference: memoized.reference.clone(),
                digest: memoized.result.digest.clone(),
                outcome: memoized.result.outcome.clone(),
            };
        }
    };
    let result = results.get(image).map(|(result, _)| result);
    let key = image.text();
    match result {
        Some(result) => ImageVerdict {
            usage,
            reference: Some(key),
            digest: result.digest.clone(),
            outcome: result.outcome.clone(),
        },
        None => ImageVerdict {
            usage,
            reference: Some(key),
            digest: None,
            outcome: Outcome::Deny(Reason::InvalidObject("image was not evaluated".to_string())),
        },
    }
}
