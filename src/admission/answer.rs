//! The `/validate` answer written straight to bytes from borrowed parts: the same JSON as
//! kube's `AdmissionReview` built by [`super::respond`] (tested equal in
//! `tests/it/admission_decode.rs`), without copying the uid, the type meta and the
//! annotations into kube's types first.

use std::collections::BTreeMap;

use kube::core::DynamicObject;
use kube::core::admission::AdmissionRequest;
use serde::Serialize;

use crate::verdict::{DENY_REASON, Decision};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Answer<'a> {
    api_version: &'a str,
    kind: &'a str,
    response: Response<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Response<'a> {
    uid: &'a str,
    allowed: bool,
    status: Status<'a>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    audit_annotations: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

/// kube's `Status`: empty when admitted, `Failure`, 403, the message and reason when denied.
#[derive(Serialize, Default)]
struct Status<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

/// [`super::respond`]'s answer as JSON bytes.
pub fn answer_bytes(
    request: &AdmissionRequest<DynamicObject>,
    decision: &Decision,
    dry_run: bool,
) -> Vec<u8> {
    let mut warnings = decision.warnings();
    let denial = decision.deny_message();
    let mut status = Status::default();
    match &denial {
        Some(message) if dry_run => warnings.insert(0, format!("dry-run, would deny: {message}")),
        Some(message) => {
            status = Status {
                status: Some("Failure"),
                code: Some(403),
                message: Some(message),
                reason: Some(DENY_REASON),
            }
        }
        None => {}
    }
    let answer = Answer {
        api_version: &request.types.api_version,
        kind: &request.types.kind,
        response: Response {
            uid: &request.uid,
            allowed: denial.is_none() || dry_run,
            status,
            audit_annotations: decision.audit_annotations(),
            warnings,
        },
    };
    // Serialising these types cannot fail (string keys, no floats); an empty body would be
    // refused by kube-apiserver, which applies the failure policy.
    serde_json::to_vec(&answer).unwrap_or_default()
}
