//! HTTP routes: each handler extracts, calls one function and maps the result.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kube::core::DynamicObject;
use kube::core::admission::AdmissionRequest;

use super::budget::{BodyRefusal, HeldBody};
use super::{AppState, ServeError};
use crate::admission;
use crate::audit::logs::{self as audit_log, Subject};
use crate::engine::CredentialSource;
use crate::workload::WorkloadKind;

/// The HTTPS router.
pub fn router(state: Arc<AppState>, mutation: bool) -> Router {
    let router = Router::new().route("/validate", post(validate));
    let router = match mutation {
        true => router.route("/mutate", post(mutate)),
        false => router,
    };
    router
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(state)
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if state.is_ready() {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response()
    }
}

/// `POST /validate`: AdmissionReview in, AdmissionReview out.
async fn validate(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let started = Instant::now();
    let body = match read_body(&state, request).await {
        Ok(body) => body,
        Err(refusal) => return *refusal,
    };
    let _in_flight = state.metrics.start_review();
    let request = match parse_or_reject(&state, body.bytes()) {
        Ok(request) => request,
        Err(rejection) => return *rejection,
    };
    let decision = decide(&state, &request).await;
    state
        .metrics
        .observe(&decision, started.elapsed().as_secs_f64());
    // `allowed` is what the answer says (`--dry-run` admits everything); `denial` is the
    // message enforcing would give. Not `message`: that is the event's own key in JSON logs.
    tracing::info!(
        uid = %request.uid,
        namespace = request.namespace.as_deref().unwrap_or(""),
        kind = %request.kind.kind,
        name = %request.name,
        allowed = decision.allowed() || state.dry_run,
        dry_run = state.dry_run,
        denial = decision.deny_message().unwrap_or_default(),
        "review"
    );
    record_would_deny(&state, &request, &decision);
    let answer = admission::answer_bytes(&request, &decision, state.dry_run);
    ([(header::CONTENT_TYPE, "application/json")], answer).into_response()
}

/// The would-deny log lines and events of a review, with the object they name built only when
/// there is one to write (most reviews admit and write none).
fn record_would_deny(
    state: &AppState,
    request: &AdmissionRequest<DynamicObject>,
    decision: &crate::verdict::Decision,
) {
    let logs = audit_log::records_anything(decision, state.dry_run);
    // A dry-run request (`kubectl apply --dry-run=server`) changes nothing, so it records
    // nothing either: the webhook configurations declare sideEffects NoneOnDryRun.
    let event = match &state.would_deny {
        Some(sink) if !request.dry_run => {
            audit_log::enforced_message(decision, state.dry_run).map(|message| (sink, message))
        }
        _ => None,
    };
    if !logs && event.is_none() {
        return;
    }
    let subject = Subject::of(request);
    if logs {
        audit_log::record(&subject, decision, state.dry_run);
    }
    if let Some((sink, message)) = event {
        sink.would_deny(&subject, &message);
    }
}

/// The AdmissionReview in `body`, or the 400 answer that says why it cannot be read.
/// A policy whose `spec.policy` reads the object (`includeSpec`, ...) needs it whole, so for its
/// namespace the review is decoded again with the full decoder (the fast one keeps only what
/// image extraction reads).
fn parse_or_reject(
    state: &AppState,
    body: &[u8],
) -> Result<AdmissionRequest<DynamicObject>, Box<Response>> {
    let reject = |error: admission::AdmissionError| {
        tracing::warn!(%error, "unreadable admission review");
        Box::new(json_error(StatusCode::BAD_REQUEST, &error.to_string()))
    };
    let request = admission::parse_review(body).map_err(reject)?;
    let policies = state.engine.policies();
    if !policies.reads_objects_in(request.namespace.as_deref()) {
        return Ok(request);
    }
    admission::parse_review_full(body).map_err(reject)
}

/// Decide `request` with the credentials of the pod it creates or changes, when pull secrets are
/// configured.
async fn decide(
    state: &AppState,
    request: &AdmissionRequest<DynamicObject>,
) -> crate::verdict::Decision {
    let source = pod_credentials(state, request);
    admission::decide_as(&state.engine, request, source.as_deref()).await
}

/// Whose pull secrets a request's pods use: the pod spec of the object (a Pod, the Pod an
/// `ephemeralcontainers` request changes, or a workload's template), in the request's namespace.
fn pod_credentials(
    state: &AppState,
    request: &AdmissionRequest<DynamicObject>,
) -> Option<Box<dyn CredentialSource>> {
    let credentials = state.pull_secrets.as_ref()?;
    let kind = WorkloadKind::from_kind(&request.kind.group, &request.kind.kind)?;
    let namespace = request.namespace.as_deref()?;
    let object = request.object.as_ref()?;
    Some(credentials.for_pod(kind, namespace, &object.data))
}

/// `POST /mutate`: AdmissionReview in, AdmissionReview with a pinning JSONPatch out.
async fn mutate(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let body = match read_body(&state, request).await {
        Ok(body) => body,
        Err(refusal) => return *refusal,
    };
    let request = match parse_or_reject(&state, body.bytes()) {
        Ok(request) => request,
        Err(rejection) => return *rejection,
    };
    let decision = decide(&state, &request).await;
    let review = admission::respond_mutation(&request, &decision);
    let patched = !review["response"]["patch"].is_null();
    tracing::info!(uid = %request.uid, patched, "mutate");
    axum::Json(review).into_response()
}

/// The body of `request`, within the per-request limit, the body deadline and the shared budget
/// (held until the returned body is dropped, after the answer); or the answer that refuses it.
async fn read_body(state: &AppState, request: Request) -> Result<HeldBody, Box<Response>> {
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let limit = state.max_body_bytes;
    let read = match declared.map(usize::try_from) {
        Some(Ok(length)) if length <= limit => {
            let timeout = state.body_timeout;
            state.budget.read(body, Some(length), limit, timeout).await
        }
        Some(_) => Err(BodyRefusal::TooLarge(limit)),
        None => {
            state
                .budget
                .read(body, None, limit, state.body_timeout)
                .await
        }
    };
    read.map_err(|refusal| Box::new(refuse_body(state, refusal, parts.version)))
}

/// The answer to a body that was not read: an AdmissionReview-shaped error (kube-apiserver then
/// applies the webhook's `failurePolicy`), and on HTTP/1.1 the connection closed, since the
/// rest of the body was never read.
fn refuse_body(state: &AppState, refusal: BodyRefusal, version: Version) -> Response {
    state.metrics.refused(refusal.code());
    tracing::warn!(reason = refusal.code(), "request body refused: {refusal}");
    let status = match refusal {
        BodyRefusal::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        BodyRefusal::BudgetFull(_) => StatusCode::SERVICE_UNAVAILABLE,
        BodyRefusal::Stalled | BodyRefusal::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
        BodyRefusal::Broken => StatusCode::BAD_REQUEST,
    };
    let mut response = admission_error(status, &refusal.to_string());
    let headers = response.headers_mut();
    if version <= Version::HTTP_11 {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    if let BodyRefusal::BudgetFull(_) = refusal {
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// An AdmissionReview whose response denies with `status` and `message` (the request's uid is
/// unknown: its body was not read), with the message also under `error` as in other errors.
fn admission_error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {
            "uid": "",
            "allowed": false,
            "status": { "code": status.as_u16(), "message": message },
        },
        "error": message,
    })
    .to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn json_error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "error": message }).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Bind the plain-HTTP metrics listener and serve `/metrics` in the background, with `/healthz`
/// and `/readyz` as on the HTTPS port: kubelet probes present no client certificate, so with
/// `--client-ca` they must use this port.
pub async fn serve_metrics(
    state: Arc<AppState>,
    addr: SocketAddr,
) -> Result<SocketAddr, ServeError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| ServeError::Bind(addr, e))?;
    let bound = listener
        .local_addr()
        .map_err(|e| ServeError::Bind(addr, e))?;
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(bound)
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    state
        .metrics
        .body_budget(state.budget.in_use_bytes(), state.budget.total_bytes());
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    (
        [(header::CONTENT_TYPE, content_type)],
        state.metrics.encode(),
    )
        .into_response()
}
