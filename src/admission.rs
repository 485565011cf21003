//! The AdmissionReview edge: wire types in (kube's `admission` types), the engine's decision out.
//! Used by the webhook server and by the dry-run CLI for AdmissionReview files, so both answer
//! the same way.

mod answer;
mod pin;
mod unchanged;
mod wire;

pub use answer::answer_bytes;
pub use wire::parse_review;

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use kube::core::{DynamicObject, ObjectMeta, Status, TypeMeta};
use serde_json::Value;

use crate::engine::{CredentialSource, Engine, ReviewedObject};
use crate::verdict::{DENY_REASON, Decision, ImageVerdict, Outcome};
use crate::workload::{ImageUse, ResourceIdentity, WorkloadKind, extract_images};

/// Why a body is not an AdmissionReview we can answer.
#[derive(Debug, thiserror::Error)]
pub enum AdmissionError {
    /// Not JSON, or not an AdmissionReview.
    #[error("body is not an AdmissionReview: {0}")]
    Malformed(#[from] serde_json::Error),
    /// `request` is missing.
    #[error("AdmissionReview has no request")]
    MissingRequest,
    /// An apiVersion we do not speak.
    #[error("unsupported AdmissionReview apiVersion {0:?}")]
    UnsupportedVersion(String),
}

/// The subresource kube-apiserver uses to add ephemeral containers to a running pod.
const EPHEMERAL_CONTAINERS: &str = "ephemeralcontainers";

/// Parse an AdmissionReview body (`admission.k8s.io/v1` or `v1beta1`) in full, every field of
/// the objects kept: what [`parse_review`] (which reads only what a review needs, and is what
/// the webhook and the CLI use) is tested against.
///
/// The body is read once into a JSON tree and the objects are taken out of it before kube's
/// types read the rest: their derived decoders buffer each `#[serde(flatten)]` level (the
/// review's and each `DynamicObject`'s), reading the objects three times over, which was a
/// quarter of a warm review's CPU. The result equals kube's decoder's (tested against it).
pub fn parse_review_full(body: &[u8]) -> Result<AdmissionRequest<DynamicObject>, AdmissionError> {
    let mut tree: Value = serde_json::from_slice(body)?;
    let (object, old_object) = match tree.get_mut("request").and_then(Value::as_object_mut) {
        Some(request) => (request.remove("object"), request.remove("oldObject")),
        None => (None, None),
    };
    let (object, old_object) = (dynamic_object(object)?, dynamic_object(old_object)?);
    let review: AdmissionReview<DynamicObject> = serde_json::from_value(tree)?;
    let version = review.types.api_version.as_str();
    if !matches!(version, "admission.k8s.io/v1" | "admission.k8s.io/v1beta1") {
        return Err(AdmissionError::UnsupportedVersion(version.to_string()));
    }
    let mut request: AdmissionRequest<DynamicObject> = review
        .try_into()
        .map_err(|_| AdmissionError::MissingRequest)?;
    request.object = object;
    request.old_object = old_object;
    Ok(request)
}

/// An object as kube's `DynamicObject` decoder reads it: `apiVersion` and `kind` into `types`
/// (when both are strings), `metadata` into `metadata`, every other field into `data`.
fn dynamic_object(value: Option<Value>) -> Result<Option<DynamicObject>, serde_json::Error> {
    let mut fields = match value {
        Some(Value::Object(fields)) => fields,
        other => return Ok(other.map(serde_json::from_value).transpose()?.flatten()),
    };
    let metadata = match fields.remove("metadata") {
        Some(metadata) => serde_json::from_value(metadata)?,
        None => ObjectMeta::default(),
    };
    // kube's decoder takes both fields out of `data` even when it cannot use them.
    let types = match (fields.remove("apiVersion"), fields.remove("kind")) {
        (Some(Value::String(api_version)), Some(Value::String(kind))) => {
            Some(TypeMeta { api_version, kind })
        }
        _ => None,
    };
    Ok(Some(DynamicObject {
        types,
        metadata,
        data: Value::Object(fields),
    }))
}

/// Decide one admission request. Operations and subresources that cannot add or change an image
/// (DELETE, CONNECT, `status`, `scale` …) and kinds without a pod template are admitted
/// untouched. An UPDATE is judged on what it adds or changes: an image the stored object
/// (`oldObject`) already runs in the same container is not verified again, so scaling or
/// relabelling never fails on a registry outage, while a changed, added or moved image is
/// verified as on CREATE.
pub async fn decide(engine: &Engine, request: &AdmissionRequest<DynamicObject>) -> Decision {
    decide_as(engine, request, None).await
}

/// [`decide`], reaching registries with the credentials of `source` (the pod's own pull
/// secrets) before the global ones.
pub async fn decide_as(
    engine: &Engine,
    request: &AdmissionRequest<DynamicObject>,
    source: Option<&dyn CredentialSource>,
) -> Decision {
    if matches!(request.operation, Operation::Delete | Operation::Connect) {
        return Decision::default();
    }
    match request.sub_resource.as_deref() {
        None | Some("") | Some(EPHEMERAL_CONTAINERS) => {}
        Some(_) => return Decision::default(),
    }
    let Some(kind) = WorkloadKind::from_kind(&request.kind.group, &request.kind.kind) else {
        return Decision::default();
    };
    let Some(object) = &request.object else {
        return Decision::invalid_object("the request carries no object");
    };
    let uses = match extract_images(kind, &object.data) {
        Ok(uses) => uses,
        Err(e) => return Decision::invalid_object(e.to_string()),
    };
    let running = images_already_running(kind, request);
    let (known, changed) = unchanged::split_unchanged(uses, &running);
    let namespace = request.namespace.as_deref();
    // The object as policy-controller's `spec.match` sees it: the request's group, version and
    // kind, the object's own labels (a Deployment's, not its template's).
    let resource = ResourceIdentity::with_labels(
        &request.kind.group,
        &request.kind.version,
        &request.kind.kind,
        object.metadata.labels.clone().unwrap_or_default(),
    );
    let api_version = match request.kind.group.as_str() {
        "" => request.kind.version.clone(),
        group => format!("{group}/{}", request.kind.version),
    };
    let reviewed = ReviewedObject {
        api_version: &api_version,
        kind: &request.kind.kind,
        spec: object.data.get("spec"),
        metadata: &object.metadata,
    };
    let mut decision = engine
        .review_reviewed(
            namespace,
            (Some(&resource), Some(reviewed)),
            &changed,
            source,
        )
        .await;
    decision
        .verdicts
        .extend(known.into_iter().map(unchanged_verdict));
    decision
}

/// The image uses of the stored object, for an UPDATE; none otherwise (or when the old object
/// cannot be read, so that everything is verified).
fn images_already_running(
    kind: WorkloadKind,
    request: &AdmissionRequest<DynamicObject>,
) -> Vec<ImageUse> {
    match (&request.operation, &request.old_object) {
        (Operation::Update, Some(old)) => extract_images(kind, &old.data).unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn unchanged_verdict(usage: ImageUse) -> ImageVerdict {
    ImageVerdict {
        usage,
        reference: None,
        digest: None,
        outcome: Outcome::Admit(
            "Unchanged",
            "already run by the same container of the stored object; an UPDATE verifies only what it adds, changes or moves"
                .to_string(),
        ),
    }
}

/// The AdmissionReview answer, in the apiVersion the request came in. In dry-run the answer
/// always admits and carries the verdict it would have given as warnings and annotations.
pub fn respond(
    request: &AdmissionRequest<DynamicObject>,
    decision: &Decision,
    dry_run: bool,
) -> AdmissionReview<DynamicObject> {
    let mut response = AdmissionResponse::from(request);
    let mut warnings = decision.warnings();
    if let Some(message) = decision.deny_message() {
        if dry_run {
            warnings.insert(0, format!("dry-run, would deny: {message}"));
        } else {
            response = response.deny(&message);
            response.result = Status::failure(&message, DENY_REASON).with_code(403);
        }
    }
    response.warnings = (!warnings.is_empty()).then_some(warnings);
    response.audit_annotations = decision
        .audit_annotations()
        .into_iter()
        .collect::<HashMap<_, _>>();
    response.into_review()
}

/// The `/mutate` answer: always allowed (denying is `/validate`'s job), with a JSONPatch pinning
/// every image the review verified to its digest, or no patch at all when there is nothing to
/// pin (so applying the pinned object again changes nothing). The patch is written as the
/// base64 string kube-apiserver's Go types expect for `[]byte` (kube-rs writes a number array).
pub fn respond_mutation(
    request: &AdmissionRequest<DynamicObject>,
    decision: &Decision,
) -> serde_json::Value {
    let operations = pin::pin_operations(decision);
    let response = AdmissionResponse::from(request);
    let response = match operations.is_empty() {
        true => response,
        false => match response.clone().with_patch(json_patch::Patch(operations)) {
            Ok(patched) => patched,
            Err(error) => {
                tracing::warn!(%error, "cannot serialise the pinning patch; admitting unpinned");
                response
            }
        },
    };
    let patch = response.patch.clone();
    let mut review = serde_json::to_value(response.into_review()).unwrap_or_default();
    if let Some(bytes) = patch {
        review["response"]["patch"] = serde_json::Value::String(BASE64.encode(bytes));
    }
    review
}
