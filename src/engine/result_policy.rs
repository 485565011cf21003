//! policy-controller's CIP-level `spec.policy`: once at least one authority matched, a Rego,
//! CUE (or CEL) policy sees the JSON its `PolicyResult` marshals to and decides. The input:
//!
//! ```json
//! {"authorityMatches": {"<authority>": {
//!     "signatures": [{"subject": "...", "issuer": "...", "githubWorkflowRepo": "..."}],
//!     "attestations": {"<attestation name>": [{"id": "<sha256 hex>", "predicateType": "...",
//!                                              "subject": "...", "issuer": "..."}]},
//!     "static": true}},
//!  "spec": {...}, "metadata": {...}, "typemeta": {"apiVersion": "...", "kind": "..."}}
//! ```
//!
//! `subject` is the certificate's first email, else its first URI (cosign's `CertSubject`),
//! `issuer` its OIDC issuer, the `github*` fields its GitHub Fulcio extensions; key signatures
//! carry none of them (as in policy-controller). A signature's `id` (the digest of its `.sig`
//! layer) is not given: Signet keeps only the signature that verified, not its layer. `spec`,
//! `metadata` and `typemeta` are the reviewed object's, when the policy asks for them
//! (`typemeta` never for a Pod, whose TypeMeta policy-controller does not pass).

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Map, Value, json};

use crate::policy::{AttestationPolicy, EVALUATION_BUDGET, Evaluation, ResultPolicy};
use crate::signature::{Acceptance, FulcioIdentity, VerifiedAttestation};

/// How long past the budget the engine waits for a blocking evaluation before denying.
const GRACE: std::time::Duration = std::time::Duration::from_millis(250);

/// The match of an authority whose signature verified.
pub(super) fn signature_match(accepted: &Acceptance) -> Value {
    let signer = signer_fields(accepted.certificate.as_ref().map(|c| &c.identity));
    json!({ "signatures": [Value::Object(signer)] })
}

/// The match of a `notation:` authority: policy-controller has no such authority, so the shape
/// is Signet's own: the accepted signature's description.
pub(super) fn notation_match(note: &str) -> Value {
    json!({ "notation": [{ "signature": note }] })
}

/// The match of a `static: pass` authority.
pub(super) fn static_match() -> Value {
    json!({ "static": true })
}

/// The match of an authority whose attestations satisfied it: by entry name, the attestations
/// its policy accepted.
pub(super) fn attestation_match(by_name: Vec<(String, Vec<&VerifiedAttestation>)>) -> Value {
    let attestations: Map<String, Value> = by_name
        .into_iter()
        .map(|(name, accepted)| {
            let entries = accepted
                .into_iter()
                .map(|a| {
                    let mut fields = signer_fields(a.identity.as_ref());
                    fields.insert("id".into(), Value::String(a.id.clone()));
                    fields.insert(
                        "predicateType".into(),
                        Value::String(a.predicate_type.clone()),
                    );
                    Value::Object(fields)
                })
                .collect();
            (name, Value::Array(entries))
        })
        .collect();
    json!({ "attestations": attestations })
}

/// `PolicySignature` without its `id`: who signed, for keyless signatures.
fn signer_fields(identity: Option<&FulcioIdentity>) -> Map<String, Value> {
    let mut fields = Map::new();
    let Some(identity) = identity else {
        return fields;
    };
    if let Some(subject) = identity.emails.first().or(identity.uris.first()) {
        fields.insert("subject".into(), Value::String(subject.clone()));
    }
    if let Some(issuer) = &identity.issuer {
        fields.insert("issuer".into(), Value::String(issuer.clone()));
    }
    // policy-controller's names for Fulcio's GitHub extensions (1.3.6.1.4.1.57264.1.2–6).
    for (extension, field) in [
        ("githubWorkflowTrigger", "githubWorkflowTrigger"),
        ("githubWorkflowSha", "githubWorkflowSha"),
        ("githubWorkflowName", "githubWorkflowName"),
        ("githubWorkflowRepository", "githubWorkflowRepo"),
        ("githubWorkflowRef", "githubWorkflowRef"),
    ] {
        if let Some(value) = identity.extensions.get(extension) {
            fields.insert(field.into(), Value::String(value.clone()));
        }
    }
    fields
}

/// The object under review, as a `spec.policy` may include it: borrowed from the admission
/// request, serialised only when a policy asks for it.
#[derive(Debug, Clone, Copy)]
pub struct ReviewedObject<'o> {
    /// `apps/v1`, `v1`, ...
    pub api_version: &'o str,
    /// `Deployment`, `Pod`, ...
    pub kind: &'o str,
    /// The object's `spec`, if it has one.
    pub spec: Option<&'o Value>,
    /// The object's `metadata`.
    pub metadata: &'o ObjectMeta,
}

/// The policy's input: the matches and the parts of `object` (when the review has one) the
/// policy includes.
pub(super) fn input(
    policy: &ResultPolicy,
    matches: Map<String, Value>,
    object: Option<ReviewedObject<'_>>,
) -> Value {
    let mut input = Map::new();
    input.insert("authorityMatches".into(), Value::Object(matches));
    let Some(object) = object else {
        return Value::Object(input);
    };
    if policy.include_spec
        && let Some(spec) = object.spec
    {
        input.insert("spec".into(), spec.clone());
    }
    if policy.include_object_meta
        && let Ok(metadata) = serde_json::to_value(object.metadata)
    {
        input.insert("metadata".into(), metadata);
    }
    if policy.include_type_meta && object.kind != "Pod" {
        let type_meta = json!({ "apiVersion": object.api_version, "kind": object.kind });
        input.insert("typemeta".into(), type_meta);
    }
    Value::Object(input)
}

/// Evaluate `policy` over `input` on a blocking thread, within the evaluation budget.
pub(super) async fn run_within_budget(policy: Arc<AttestationPolicy>, input: Value) -> Evaluation {
    let work = tokio::task::spawn_blocking(move || policy.evaluate(&input));
    match tokio::time::timeout(EVALUATION_BUDGET + GRACE, work).await {
        Ok(Ok(evaluation)) => evaluation,
        Ok(Err(e)) => Evaluation::Fail(format!("the policy evaluation failed: {e}")),
        Err(_) => Evaluation::Fail(format!(
            "the policy evaluation ran over its budget of {} ms",
            EVALUATION_BUDGET.as_millis()
        )),
    }
}
