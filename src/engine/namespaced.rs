//! Namespaced `ImagePolicy` objects are written by a namespace's own users, not by the cluster's
//! operator. By default they only add requirements: an image is admitted only if the cluster's
//! own rules (its cluster policies, or `--no-match` when none covers the image) admit it *and*
//! every namespaced policy of its namespace that covers it passes. So a namespaced `static:
//! pass`, `mode: warn`, `onRegistryError: warn`, a weaker `multiArch`, no `requireDigest`, a
//! placeholder entry or a trust root of its own can never admit what the cluster would deny.
//! `--namespaced-policies-may-admit` restores the older rule, where a namespaced policy alone
//! decides the images only it covers.
//!
//! A namespace with more `ImagePolicy` objects than `--max-policies-per-namespace` has
//! requirements that were not loaded; none of its images is admitted until it is back within
//! the limit, so a requirement is never lost silently.

use crate::policy::{ImagePolicy, PolicySet};
use crate::verdict::{Outcome, Reason};

use super::ImageResult;
use super::NoMatchAction;

/// What a namespaced `ImagePolicy` may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NamespacedPolicies {
    /// Add requirements only (the default): never admit what the cluster's rules deny.
    #[default]
    AddRequirements,
    /// `--namespaced-policies-may-admit`: decide, alone, the images no cluster policy covers,
    /// and exempt placeholders. Anyone who may write an `ImagePolicy` in a namespace can then
    /// admit any image there (a `static: pass` does it), so only for namespaces whose writers
    /// the operator trusts as much as the cluster policies.
    MayAdmit,
}

/// Whether `policy`'s own verdict may admit an image (or exempt a placeholder): every cluster
/// policy, and namespaced ones only when they may admit.
pub(super) fn may_admit(policy: &ImagePolicy, rule: NamespacedPolicies) -> bool {
    policy.namespace.is_none() || rule == NamespacedPolicies::MayAdmit
}

/// What the cluster's own rules say of an image that only namespaced policies cover: the
/// `--no-match` action, naming those policies. `None` when a cluster policy covers the image
/// (its verdict is the floor) or namespaced policies may admit.
pub(super) fn cluster_floor(
    matching: &[&ImagePolicy],
    no_match: NoMatchAction,
    rule: NamespacedPolicies,
) -> Option<Outcome> {
    if matching.iter().any(|p| may_admit(p, rule)) {
        return None;
    }
    let reason = Reason::OnlyNamespacedPolicies {
        policies: matching.iter().map(|p| p.display_name()).collect(),
    };
    Some(match no_match {
        NoMatchAction::Deny => Outcome::Deny(reason),
        NoMatchAction::Warn => Outcome::Warn(reason),
        NoMatchAction::Allow => Outcome::Admit(
            "NoPolicyMatch",
            "no cluster policy covers this image (no-match: allow)".into(),
        ),
    })
}

/// `result` held to `floor`: a denial of either denies, else a warning of either warns.
pub(super) fn at_most(floor: Outcome, result: ImageResult) -> ImageResult {
    let outcome = match (floor, result.outcome) {
        (_, deny @ Outcome::Deny(_)) => deny,
        (deny @ Outcome::Deny(_), _) => deny,
        (_, warn @ Outcome::Warn(_)) => warn,
        (warn @ Outcome::Warn(_), _) => warn,
        (Outcome::Admit(..), admit @ Outcome::Admit(..)) => admit,
    };
    ImageResult {
        digest: result.digest,
        outcome,
    }
}

/// The denial of every image in `namespace` while it holds more `ImagePolicy` objects than its
/// limit.
pub(super) fn over_limit(policies: &PolicySet, namespace: Option<&str>) -> Option<Outcome> {
    let namespace = namespace?;
    let over = policies.namespace_over_limit(namespace)?;
    Some(Outcome::Deny(Reason::NamespacePolicyLimit {
        namespace: namespace.to_string(),
        limit: over.limit,
        refused: over.refused.clone(),
    }))
}
