//! `spec.authorities[].attestations` (validated) to [`AttestationRequirement`]s: predicate
//! types to URIs, policies compiled now, so a policy that cannot be evaluated is refused at
//! load naming its field rather than denying every image at review.

use std::sync::Arc;

use super::cluster_image_policy as wire;
use super::compile::Findings;
use crate::policy::attestation::{
    AttestationPolicy, AttestationRequirement, PolicyLanguage, predicate_uri,
};
use crate::policy::field_error::join;
use crate::policy::{PolicySecrets, ResultPolicy};

/// At most this many attestations per authority.
pub(super) const MAX_ATTESTATIONS: usize = 20;

/// Every entry of `attestations` at `at` (an authority's path); `None` when any was refused.
pub(super) fn compile_attestations(
    attestations: &[wire::Attestation],
    at: &str,
    secrets: &PolicySecrets,
    findings: &mut Findings,
) -> Option<Vec<AttestationRequirement>> {
    let path = join(at, "attestations");
    if attestations.len() > MAX_ATTESTATIONS {
        let reason = format!(
            "{} attestations exceed Signet's limit of {MAX_ATTESTATIONS}",
            attestations.len()
        );
        findings.add(&path, reason);
        return None;
    }
    let compiled: Vec<_> = attestations
        .iter()
        .enumerate()
        .filter_map(|(i, a)| compile_one(a, &format!("{path}[{i}]"), secrets, findings))
        .collect();
    (compiled.len() == attestations.len()).then_some(compiled)
}

fn compile_one(
    a: &wire::Attestation,
    at: &str,
    secrets: &PolicySecrets,
    findings: &mut Findings,
) -> Option<AttestationRequirement> {
    let policy = match &a.policy {
        None => None,
        Some(p) => Some(Arc::new(compile_policy(
            p,
            &join(at, "policy"),
            &format!("attestation {:?}", a.name),
            (secrets, findings),
        )?)),
    };
    Some(AttestationRequirement {
        name: a.name.clone(),
        predicate_type: a.predicate_type.clone(),
        predicate_uri: predicate_uri(&a.predicate_type).to_string(),
        policy,
    })
}

/// `spec.policy`, the CIP-level policy over the whole result.
pub(super) fn compile_result_policy(
    p: &wire::Policy,
    secrets: &PolicySecrets,
    findings: &mut Findings,
) -> Option<ResultPolicy> {
    let at = "spec.policy";
    if p.fetch_config_file == Some(true) {
        findings.add(
            &join(at, "fetchConfigFile"),
            "the images' config files are not fetched for policies; remove fetchConfigFile",
        );
        return None;
    }
    let policy = compile_policy(p, at, "spec.policy", (secrets, findings))?;
    Some(ResultPolicy {
        policy: Arc::new(policy),
        include_spec: p.include_spec == Some(true),
        include_object_meta: p.include_object_meta == Some(true),
        include_type_meta: p.include_type_meta == Some(true),
    })
}

/// `what` names the policy in messages (`attestation "x"`, `spec.policy`). Its text is
/// `data`, or in cluster mode the `configMapRef` entry of a ConfigMap in Signet's namespace
/// (one that cannot be read makes a policy that denies, saying why, until it can).
fn compile_policy(
    p: &wire::Policy,
    at: &str,
    what: &str,
    (secrets, findings): (&PolicySecrets, &mut Findings),
) -> Option<AttestationPolicy> {
    if p.remote.is_some() {
        findings.add(
            &join(at, "remote"),
            "policies fetched from a URL are refused: Signet never calls out at load or review; \
             put the policy text in policy.data",
        );
        return None;
    }
    // Validation admitted only these spellings.
    let language = PolicyLanguage::parse(&p.policy_type)?;
    let (text, field) = match &p.config_map_ref {
        None => (p.data.clone(), join(at, "data")),
        Some(cm) => {
            let field = join(at, "configMapRef");
            match secrets.config_map_text(&cm.name, &cm.key, &field) {
                Ok(text) => (text, field),
                Err(Some(why)) => return Some(AttestationPolicy::unavailable(language, why)),
                Err(None) => {
                    findings.add(
                        &field,
                        "ConfigMaps are read only in cluster mode (`signet serve \
                         --watch-policies`, from Signet's own namespace); in a file, put the \
                         policy text in policy.data",
                    );
                    return None;
                }
            }
        }
    };
    AttestationPolicy::compile(language, &text)
        .map_err(|e| {
            let reason = format!("the {} policy of {what}: {e}", language.as_str());
            findings.add(&field, reason);
        })
        .ok()
}
