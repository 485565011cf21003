//! Whose credentials a review presents to registries. The webhook reviews a pod with the pod's
//! own pull secrets (read by the cluster shell, which implements [`CredentialSource`]); the CLI
//! and the audit use the global `--registry-config` alone. The source is asked at most once per
//! review, and only when an image needs the registry, so a pod whose images no policy covers (or
//! static authorities decide) never waits for the Kubernetes API.

use std::borrow::Cow;

use futures::future::BoxFuture;
use tokio::sync::OnceCell;

use crate::reference::ImageReference;
use crate::registry::{Credentials, Registry};

/// Where the credentials of one review come from.
pub trait CredentialSource: Send + Sync {
    /// The credentials (tried before the global ones), or why they could not be read; the
    /// message becomes the denial's detail. Must finish within its own deadline.
    fn credentials(&self) -> BoxFuture<'_, Result<Credentials, String>>;
}

/// One review's registry client: built from its source on first use, then shared by every image
/// of the review.
pub(super) struct ReviewCredentials<'a> {
    source: Option<&'a dyn CredentialSource>,
    registry: OnceCell<Result<Registry, String>>,
}

impl<'a> ReviewCredentials<'a> {
    pub(super) fn new(source: Option<&'a dyn CredentialSource>) -> Self {
        Self {
            source,
            registry: OnceCell::new(),
        }
    }

    /// `base` presenting this review's credentials first (`base` itself without a source).
    async fn for_review<'s>(&'s self, base: &'s Registry) -> Result<&'s Registry, String> {
        let Some(source) = self.source else {
            return Ok(base);
        };
        let built = self.registry.get_or_init(|| async {
            let pod = source.credentials().await?;
            Ok(base.with_pull_credentials(&pod))
        });
        built.await.as_ref().map_err(String::clone)
    }

    /// The client for `image`: this review's credentials, then the global ones, then those the
    /// kubelet's credential provider plugins give for the image (the kubelet's order); with the
    /// failures of the plugins asked. Borrowed when no plugin is configured: a warm review
    /// then copies no client (its shared parts are reference counts other reviews touch too).
    pub(super) async fn registry<'s>(
        &'s self,
        base: &'s Registry,
        image: &ImageReference,
    ) -> Result<(Cow<'s, Registry>, Vec<String>), String> {
        let review = self.for_review(base).await?;
        if review.config().credential_providers.is_none() {
            return Ok((Cow::Borrowed(review), Vec::new()));
        }
        let (provided, failures) = review.with_provided_credentials(image).await;
        Ok((Cow::Owned(provided), failures))
    }
}
