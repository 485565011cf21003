//! Placeholder images (`image: auto`) that sidecar injectors write into pod templates and
//! replace in their own mutating webhook when the Pod is created. A validating webhook sees the
//! object after every mutating webhook, so a Pod reaches Signet with the injected image, which
//! is verified like any other; only a pod template (a Deployment's, a Job's, ...) still holds the
//! placeholder. It is admitted there, without a registry call, only where a policy's
//! `spec.placeholders` names it and the injector's containers or namespaces: never a global allow.

use crate::policy::{ImagePolicy, Placeholder, PolicySet};
use crate::verdict::{Outcome, Reason};
use crate::workload::ImageUse;

use super::namespaced::{self, NamespacedPolicies};

/// The outcome for `usage` when its image is a placeholder some policy in `namespace` names;
/// `None` for every other image (verified as usual). An exemption is an admission, so a
/// namespaced policy's entries count only when namespaced policies may admit.
pub(super) fn judge(
    policies: &PolicySet,
    namespace: Option<&str>,
    usage: &ImageUse,
    rule: NamespacedPolicies,
) -> Option<Outcome> {
    let named: Vec<(&ImagePolicy, &Placeholder)> = policies
        .naming_placeholders(namespace)
        .into_iter()
        .filter(|p| namespaced::may_admit(p, rule))
        .flat_map(|p| p.placeholders.iter().map(move |entry| (p, entry)))
        .filter(|(_, entry)| entry.image == usage.image)
        .collect();
    let (first_policy, first) = named.first()?;
    let deny = |why: String| {
        Some(Outcome::Deny(Reason::Placeholder {
            image: usage.image.clone(),
            why,
        }))
    };
    let Some((policy, entry)) = named
        .iter()
        .find(|(_, entry)| entry.covers(&usage.container, namespace))
    else {
        return deny(format!(
            "{} exempts it only for {} ({}); container {:?} in namespace {:?} is not one of them: \
             add it to that entry's containers or namespaces if {} injects it there",
            first_policy.display_name(),
            first.scope(),
            first.injector,
            usage.container,
            namespace.unwrap_or_default(),
            first.injector,
        ));
    };
    if !usage.in_pod_template() {
        return deny(format!(
            "a Pod still holds it, so {} did not replace it (mutating webhooks run before Signet); \
             the kubelet would pull an unverified image: check that the injector is enabled here",
            entry.injector
        ));
    }
    Some(Outcome::Admit(
        "Placeholder",
        format!(
            "placeholder that {} replaces when the Pod is created; the Pod's image is verified then ({})",
            entry.injector,
            policy.display_name()
        ),
    ))
}
