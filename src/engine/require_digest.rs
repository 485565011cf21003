//! `spec.requireDigest`: a reference without a digest is refused even when its signature
//! verifies, and the message names the exact `registry/repo:tag@sha256:…` to write instead (the
//! digest the tag resolves to now, which was just verified).

use crate::policy::{ImagePolicy, Mode};
use crate::reference::ImageReference;
use crate::verdict::{Outcome, Reason};

use super::ImageResult;

/// The policy that requires a digest of `image`, when the reference has none (an enforcing
/// policy first, so its denial wins over a warning).
pub(super) fn needs_pin<'p>(
    matching: &[&'p ImagePolicy],
    image: &ImageReference,
) -> Option<&'p ImagePolicy> {
    if image.digest().is_some() {
        return None;
    }
    let requiring = || matching.iter().copied().filter(|p| p.require_digest);
    requiring()
        .find(|p| p.mode == Mode::Enforce)
        .or_else(|| requiring().next())
}

/// Turn `result` into the digest requirement of `policy`. A denial stays as it is (the
/// signature problem comes first); an admission becomes a denial naming the pinned reference; a
/// warning becomes a denial without one (the tag could not be verified, so no digest is offered).
pub(super) fn require(
    policy: &ImagePolicy,
    image: &ImageReference,
    result: ImageResult,
) -> ImageResult {
    let pinned = match &result.outcome {
        Outcome::Deny(_) => return result,
        Outcome::Admit(..) => result
            .digest
            .clone()
            .map(|d| image.with_digest(d).to_string()),
        Outcome::Warn(_) => None,
    };
    let reason = Reason::DigestRequired {
        policy: policy.name.clone(),
        pinned,
    };
    let outcome = match policy.mode {
        Mode::Enforce => Outcome::Deny(reason),
        Mode::Warn => Outcome::Warn(reason),
    };
    ImageResult {
        digest: result.digest,
        outcome,
    }
}
