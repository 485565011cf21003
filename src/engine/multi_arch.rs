//! `spec.multiArch`: which digests must be signed when a reference resolves to an image index.
//!
//! The webhook cannot know which node will run the pod, so "the child that will run" is every
//! child for a platform the cluster runs (`--platforms`, default `linux/amd64,linux/arm64`), plus
//! children that name no platform (a runtime may pull those anywhere). An index with no child for
//! those platforms (Windows-only, or `linux/s390x` only) needs every child signed instead: never a
//! platform error, never an unsigned child admitted. Attestation entries (`unknown/unknown`, as
//! BuildKit writes them) are never run and never judged.

use crate::policy::{ImagePolicy, MultiArch};
use crate::reference::{Digest, ImageReference};
use crate::registry::{Platform, PlatformManifest, RegistryError};
use crate::verdict::Reason;

use super::Engine;
use super::cache::{Children, ReviewRegistry};
use super::evaluate::{PolicyResult, ReviewSignatures, judge};

/// The multi-arch judgement of one image in one review: the index children are fetched at most
/// once, signatures at most once per digest.
pub(super) struct Review<'a> {
    engine: &'a Engine,
    registry: &'a ReviewRegistry<'a>,
    image: &'a ImageReference,
    digest: &'a Digest,
    fetched: ReviewSignatures,
    children: Option<Result<Children, RegistryError>>,
}

impl<'a> Review<'a> {
    pub(super) fn new(
        engine: &'a Engine,
        registry: &'a ReviewRegistry<'a>,
        image: &'a ImageReference,
        digest: &'a Digest,
    ) -> Self {
        Self {
            engine,
            registry,
            image,
            digest,
            fetched: ReviewSignatures::default(),
            children: None,
        }
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
        let engine = self.engine;
        let own = judge(
            self.registry,
            &engine.stages,
            &mut self.fetched,
            policy,
            self.image,
            self.digest,
        );
        let children = self.registry.index_children(self.image, self.digest);
        let (own, children) = futures::join!(own, children);
        self.children = Some(children);
        own
    }

    async fn judge_digest(&mut self, policy: &ImagePolicy, digest: &Digest) -> PolicyResult {
        judge(
            self.registry,
            &self.engine.stages,
            &mut self.fetched,
            policy,
            self.image,
            digest,
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
        let platforms: &[Platform] = if running_only {
            &self.engine.settings.platforms
        } else {
            &[]
        };
        let selected = select(&children, platforms);
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
            platform: child
                .platform
                .as_ref()
                .map_or_else(|| "unnamed-platform".to_string(), ToString::to_string),
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
        Some(platform) => format!("{platform} {}", child.digest),
        None => child.digest.to_string(),
    }
}

/// The children that must be signed: those that run on one of `platforms` (all of them when
/// `platforms` is empty or none runs there), never attestation entries.
pub(super) fn select<'c>(
    children: &'c [PlatformManifest],
    platforms: &[Platform],
) -> Vec<&'c PlatformManifest> {
    let runnable: Vec<&PlatformManifest> = children
        .iter()
        .filter(|c| c.platform.as_ref().is_none_or(|p| p.os != "unknown"))
        .collect();
    let running: Vec<&PlatformManifest> = runnable
        .iter()
        .copied()
        .filter(|c| {
            c.platform
                .as_ref()
                .is_none_or(|p| platforms.iter().any(|node| p.runs_on(node)))
        })
        .collect();
    if running.is_empty() {
        runnable
    } else {
        running
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn child(platform: &str, seed: &[u8]) -> PlatformManifest {
        PlatformManifest {
            digest: Digest::sha256_of(seed),
            platform: Platform::parse(platform),
        }
    }

    fn cluster() -> Vec<Platform> {
        ["linux/amd64", "linux/arm64"]
            .iter()
            .filter_map(|p| Platform::parse(p))
            .collect()
    }

    #[test]
    fn only_children_for_cluster_platforms_are_selected() {
        let children = [
            child("linux/amd64", b"a"),
            child("linux/s390x", b"s"),
            child("linux/arm64/v8", b"b"),
            child("unknown/unknown", b"att"),
        ];
        let selected = select(&children, &cluster());
        let digests: Vec<_> = selected.iter().map(|c| &c.digest).collect();
        assert_eq!(digests, [&children[0].digest, &children[2].digest]);
    }

    #[test]
    fn an_index_with_nothing_for_the_cluster_needs_every_child() {
        let children = [child("windows/amd64", b"w1"), child("windows/arm64", b"w2")];
        assert_eq!(select(&children, &cluster()).len(), 2);
    }

    #[test]
    fn attestations_alone_select_nothing_and_no_platforms_select_all() {
        assert!(select(&[child("unknown/unknown", b"att")], &cluster()).is_empty());
        let children = [child("linux/amd64", b"a"), child("linux/s390x", b"s")];
        assert_eq!(select(&children, &[]).len(), 2);
    }
}
