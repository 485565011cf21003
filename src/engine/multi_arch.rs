//! `spec.multiArch`: which digests must be signed when a reference resolves to an image index.
//!
//! The webhook cannot know which node will run the pod, nor which child a runtime there will
//! pick, so "the child that will run" is every child that any supported runtime (containerd,
//! CRI-O) could pull on a platform the cluster runs (`--platforms`, default
//! `linux/amd64,linux/arm64`): platforms are read as containerd normalises them (`x86_64` is
//! `amd64`, `aarch64` is `arm64`, case ignored), every variant counts, and an architecture's
//! fallbacks count too (`386` on `amd64` nodes, 32-bit `arm` on `arm64` nodes) unless the index
//! has a child of the node's own architecture that every such node runs first. Children that
//! name no platform (a runtime takes them when nothing else matches) and children whose platform
//! cannot be normalised (Signet cannot rule out that some runtime reads them as the node's) are
//! judged as well. An index with no child for those platforms (Windows-only, or `linux/s390x`
//! only) needs every child signed instead: never a platform error, never an unsigned child
//! admitted. `allPlatforms` judges every child. Attestation entries (`unknown/unknown`, as
//! BuildKit writes them) are never run and never judged.

use crate::policy::{ImagePolicy, MultiArch};
use crate::reference::{Digest, ImageReference, clip};
use crate::registry::{Platform, PlatformManifest, Pull, RegistryError};
use crate::verdict::Reason;

use super::authorities::{PolicyResult, ReviewSignatures, judge};
use super::cache::{Children, ReviewRegistry};
use super::result_policy::ReviewedObject;
use super::stages::StageMetrics;

/// The multi-arch judgement of one image in one review: the index children are fetched at most
/// once, signatures at most once per digest.
pub(super) struct Review<'a> {
    stages: &'a StageMetrics,
    platforms: &'a [Platform],
    registry: &'a ReviewRegistry<'a>,
    image: &'a ImageReference,
    digest: &'a Digest,
    fetched: ReviewSignatures,
    children: Option<Result<Children, RegistryError>>,
    /// The reviewed object's JSON, for a `spec.policy` that includes its parts.
    object: Option<ReviewedObject<'a>>,
}

impl<'a> Review<'a> {
    pub(super) fn new(
        stages: &'a StageMetrics,
        platforms: &'a [Platform],
        registry: &'a ReviewRegistry<'a>,
        image: &'a ImageReference,
        digest: &'a Digest,
    ) -> Self {
        Self {
            stages,
            platforms,
            registry,
            image,
            digest,
            fetched: ReviewSignatures::default(),
            children: None,
            object: None,
        }
    }

    /// The reviewed object's JSON, for a `spec.policy` that includes its parts.
    pub(super) fn with_object(mut self, object: Option<ReviewedObject<'a>>) -> Self {
        self.object = object;
        self
    }

    /// Judge `policy` under its `multiArch` setting.
    pub(super) async fn judge(&mut self, policy: &ImagePolicy) -> PolicyResult {
        match policy.multi_arch {
            MultiArch::Index => self.judge_digest(policy, self.digest).await,
            MultiArch::IndexOrPlatform => {
                let own = self.judge_index_and_list_children(policy).await;
                if !matches!(own, PolicyResult::Failed(_)) {
                    return own;
                }
                self.judge_children(policy, Some(own), true).await
            }
            MultiArch::AllPlatforms => self.judge_children(policy, None, false).await,
        }
    }

    /// The index's own signatures and, at the same time, its children (cached by digest), so
    /// an unsigned index costs the slower of the two reads, not their sum.
    async fn judge_index_and_list_children(&mut self, policy: &ImagePolicy) -> PolicyResult {
        if self.children.is_some() {
            return self.judge_digest(policy, self.digest).await;
        }
        let own = judge(
            self.registry,
            self.stages,
            &mut self.fetched,
            policy,
            (self.image, self.digest),
            self.object,
        );
        let children = self.registry.index_children(self.image, self.digest);
        let (own, children) = futures::join!(own, children);
        self.children = Some(children);
        own
    }

    async fn judge_digest(&mut self, policy: &ImagePolicy, digest: &Digest) -> PolicyResult {
        judge(
            self.registry,
            self.stages,
            &mut self.fetched,
            policy,
            (self.image, digest),
            self.object,
        )
        .await
    }

    /// Every child that matters signed. `own` is the index's result, returned when the digest is
    /// a single image (when `None`, the digest itself is judged then).
    async fn judge_children(
        &mut self,
        policy: &ImagePolicy,
        own: Option<PolicyResult>,
        running_only: bool,
    ) -> PolicyResult {
        let children = match self.children().await {
            Ok(Some(children)) => children,
            Ok(None) => return self.or_own(policy, own).await,
            // The index's own failure is the stricter answer: a denial that `onRegistryError:
            // warn` cannot soften.
            Err(e) => {
                return own.unwrap_or(PolicyResult::Unverifiable(Reason::Registry(e)));
            }
        };
        let selected = if running_only {
            select(&children, self.platforms)
        } else {
            runnable(&children).collect()
        };
        if selected.is_empty() {
            return self.or_own(policy, own).await;
        }
        let mut notes = Vec::with_capacity(selected.len());
        for child in selected {
            match self.judge_digest(policy, &child.digest).await {
                PolicyResult::Satisfied(note) => notes.push(format!("{} {note}", label(child))),
                PolicyResult::Failed(cause) => return self.unsigned(policy, child, cause),
                other => return other,
            }
        }
        PolicyResult::Satisfied(format!(
            "index {} judged by its platform manifests (multiArch: {}): {}",
            self.digest,
            policy.multi_arch.as_str(),
            notes.join("; ")
        ))
    }

    async fn or_own(&mut self, policy: &ImagePolicy, own: Option<PolicyResult>) -> PolicyResult {
        match own {
            Some(own) => own,
            None => self.judge_digest(policy, self.digest).await,
        }
    }

    fn unsigned(
        &self,
        policy: &ImagePolicy,
        child: &PlatformManifest,
        cause: Reason,
    ) -> PolicyResult {
        PolicyResult::Failed(Reason::PlatformUnsigned {
            mode: policy.multi_arch.as_str(),
            index: self.digest.clone(),
            platform: platform_label(child),
            digest: child.digest.clone(),
            cause: Box::new(cause),
        })
    }

    async fn children(&mut self) -> Result<Children, RegistryError> {
        if self.children.is_none() {
            let found = self.registry.index_children(self.image, self.digest).await;
            self.children = Some(found);
        }
        self.children.clone().unwrap_or(Ok(None))
    }
}

/// `linux/arm64 sha256:…`.
fn label(child: &PlatformManifest) -> String {
    match &child.platform {
        Some(_) => format!("{} {}", platform_label(child), child.digest),
        None => child.digest.to_string(),
    }
}

/// The child's platform as a runtime reads it, with the spelling written when that differs
/// (`linux/amd64 (written "linux/x86_64")`).
fn platform_label(child: &PlatformManifest) -> String {
    let Some(written) = &child.platform else {
        return "unnamed-platform".to_string();
    };
    let as_written = clip(&written.to_string());
    match written.normalised() {
        Some(read) if read == *written => read.to_string(),
        Some(read) => format!("{read} (written {as_written:?})"),
        None => format!("{as_written:?} (a platform Signet cannot normalise, so it is judged)"),
    }
}

/// Every child a runtime may ever pull: all but attestation entries.
fn runnable(children: &[PlatformManifest]) -> impl Iterator<Item = &PlatformManifest> {
    children
        .iter()
        .filter(|c| c.platform.as_ref().is_none_or(|p| !p.is_attestation()))
}

/// The children that must be signed: every runnable child that some runtime may pull on one of
/// `platforms` (any child of a node's own architecture; a child of a fallback architecture when
/// the index has no base child for the node), that names no platform, or whose platform does not
/// normalise; every runnable child when none of them does.
pub(super) fn select<'c>(
    children: &'c [PlatformManifest],
    platforms: &[Platform],
) -> Vec<&'c PlatformManifest> {
    let read: Vec<Platform> = children
        .iter()
        .filter_map(|c| c.platform.as_ref()?.normalised())
        .collect();
    let nodes: Vec<(Platform, bool)> = platforms
        .iter()
        .filter_map(Platform::normalised)
        .map(|node| {
            let has_base = read.iter().any(|child| child.is_base_for(&node));
            (node, has_base)
        })
        .collect();
    let may_run = |child: &PlatformManifest| match &child.platform {
        None => true,
        Some(platform) => platform.normalised().is_none_or(|read| {
            nodes
                .iter()
                .any(|(node, has_base)| match read.pull_on(node) {
                    Pull::Own => true,
                    Pull::Fallback => !has_base,
                    Pull::Never => false,
                })
        }),
    };
    let running: Vec<&PlatformManifest> = runnable(children).filter(|c| may_run(c)).collect();
    if running.is_empty() {
        runnable(children).collect()
    } else {
        running
    }
}

#[cfg(test)]
mod tests;
