//! Asking the engine: each distinct (namespace, image) once, a bounded number at a time, and the
//! answer attached to every container that uses it.
//!
//! The namespace is part of the key because policies may differ per namespace; the engine's
//! registry caches (single-flight, keyed by repository and digest) make the second namespace's
//! question cost no registry calls. A Pod that runs exactly what its workload's template was
//! verified at is counted under the workload rather than listed again.

use std::collections::HashMap;

use futures::StreamExt as _;

use super::{Finding, Target};
use crate::engine::Engine;
use crate::verdict::{ImageVerdict, Outcome, Reason};
use crate::workload::{ImageUse, ResourceIdentity};

/// How far an audit is: `done` of `total` distinct images decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Distinct (namespace, image) pairs decided so far.
    pub done: usize,
    /// Distinct (namespace, image) pairs in the audit.
    pub total: usize,
}

/// Namespace, image, and the object for `spec.match`.
type Key = (Option<String>, String, ResourceIdentity);

/// Decide every image of `targets` through `engine`, at most `concurrency` images at a time,
/// calling `progress` after each. Returns one finding per container (or per unreadable object).
pub async fn evaluate(
    engine: &Engine,
    targets: &[Target],
    concurrency: usize,
    progress: &(dyn Fn(Progress) + Sync),
) -> Vec<Finding> {
    let keys = distinct_keys(targets);
    let total = keys.len();
    progress(Progress { done: 0, total });
    let mut decided: HashMap<Key, ImageVerdict> = HashMap::with_capacity(total);
    let mut answers = futures::stream::iter(keys)
        .map(|key| async move {
            let verdict = decide(engine, &key).await;
            (key, verdict)
        })
        .buffer_unordered(concurrency.max(1));
    while let Some((key, verdict)) = answers.next().await {
        decided.insert(key, verdict);
        progress(Progress {
            done: decided.len(),
            total,
        });
    }
    let findings = targets.iter().map(|t| findings_of(t, &decided)).collect();
    fold_covered_pods(targets, findings)
}

/// The distinct (namespace, image) pairs, in first-seen order.
fn distinct_keys(targets: &[Target]) -> Vec<Key> {
    let mut seen = std::collections::HashSet::new();
    let mut keys = Vec::new();
    for target in targets {
        for image_use in target.uses.iter().flatten() {
            let key = (
                target.namespace.clone(),
                image_use.image.clone(),
                target.resource(),
            );
            if seen.insert(key.clone()) {
                keys.push(key);
            }
        }
    }
    keys
}

/// The engine's verdict for one image in one namespace, exactly as a one-container review.
async fn decide(engine: &Engine, (namespace, image, object): &Key) -> ImageVerdict {
    let usage = ImageUse {
        path: String::new(),
        container: String::new(),
        image: image.clone(),
    };
    let decision = engine
        .review_object(namespace.as_deref(), object, std::slice::from_ref(&usage))
        .await;
    match decision.verdicts.into_iter().next() {
        Some(verdict) => verdict,
        None => not_evaluated(usage),
    }
}

/// Fail closed if an image somehow has no verdict.
fn not_evaluated(usage: ImageUse) -> ImageVerdict {
    ImageVerdict {
        usage,
        reference: None,
        digest: None,
        outcome: Outcome::Deny(Reason::InvalidObject("image was not evaluated".to_string())),
    }
}

fn findings_of(target: &Target, decided: &HashMap<Key, ImageVerdict>) -> Vec<Finding> {
    let uses = match &target.uses {
        Ok(uses) => uses,
        Err(detail) => return vec![Finding::unreadable(target, detail)],
    };
    uses.iter()
        .map(|usage| {
            let key = (
                target.namespace.clone(),
                usage.image.clone(),
                target.resource(),
            );
            let verdict = match decided.get(&key) {
                Some(shared) => ImageVerdict {
                    usage: usage.clone(),
                    ..shared.clone()
                },
                None => not_evaluated(usage.clone()),
            };
            Finding::from_verdict(target, verdict)
        })
        .collect()
}

/// Drop the findings of an owned Pod when every container runs the digest its workload's
/// template was verified at (or the outcome did not depend on a digest: no policy, a static
/// authority), with the same outcome; count the Pod on the workload instead.
fn fold_covered_pods(targets: &[Target], per_target: Vec<Vec<Finding>>) -> Vec<Finding> {
    let mut index: HashMap<(Option<String>, String), usize> = HashMap::new();
    for (i, target) in targets.iter().enumerate() {
        if !target.running {
            index
                .entry((target.namespace.clone(), target.object()))
                .or_insert(i);
        }
    }
    let mut per_target = per_target;
    for (i, target) in targets.iter().enumerate() {
        let Some(owner) = &target.owner else { continue };
        let Some(&w) = index.get(&(target.namespace.clone(), owner.clone())) else {
            continue;
        };
        if covered(&per_target[i], &per_target[w]) {
            per_target[i].clear();
            per_target[w].iter_mut().for_each(|f| f.pods += 1);
        }
    }
    per_target.into_iter().flatten().collect()
}

fn covered(pod: &[Finding], workload: &[Finding]) -> bool {
    !pod.is_empty()
        && pod.iter().all(|p| {
            workload.iter().any(|w| {
                w.container == p.container
                    && w.outcome == p.outcome
                    && w.code == p.code
                    && (w.digest.is_none() || w.digest == p.digest)
            })
        })
}
