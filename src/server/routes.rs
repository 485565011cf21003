//! HTTP routes: each handler extracts, calls one function and maps the result.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kube::core::DynamicObject;
use kube::core::admission::AdmissionRequest;

use super::{AppState, ServeError};
use crate::admission;
use crate::audit::logs::{self as audit_log, Subject};
use crate::engine::CredentialSource;
use crate::workload::WorkloadKind;

/// The HTTPS router.
pub fn router(state: Arc<AppState>, max_body_bytes: usize, mutation: bool) -> Router {
    let router = Router::new().route("/validate", post(validate));
    let router = match mutation {
        true => router.route("/mutate", post(mutate)),
        false => router,
    };
    router
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .layer(DefaultBodyLimit::max(max_body_bytes))
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
async fn validate(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let started = Instant::now();
    let _in_flight = state.metrics.start_review();
    let request = match parse_or_reject(&body) {
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
    let subject = Subject::of(&request);
    audit_log::record(&subject, &decision, state.dry_run);
    if let Some(sink) = &state.would_deny
        && let Some(message) = audit_log::enforced_message(&decision, state.dry_run)
    {
        sink.would_deny(&subject, &message);
    }
    let review = admission::respond(&request, &decision, state.dry_run);
    axum::Json(review).into_response()
}

/// The AdmissionReview in `body`, or the 400 answer that says why it cannot be read.
fn parse_or_reject(body: &[u8]) -> Result<AdmissionRequest<DynamicObject>, Box<Response>> {
    admission::parse_review(body).map_err(|error| {
        tracing::warn!(%error, "unreadable admission review");
        Box::new(json_error(StatusCode::BAD_REQUEST, &error.to_string()))
    })
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
async fn mutate(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let request = match parse_or_reject(&body) {
        Ok(request) => request,
        Err(rejection) => return *rejection,
    };
    let decision = decide(&state, &request).await;
    let review = admission::respond_mutation(&request, &decision);
    let patched = !review["response"]["patch"].is_null();
    tracing::info!(uid = %request.uid, patched, "mutate");
    axum::Json(review).into_response()
}

fn json_error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "error": message }).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Bind the plain-HTTP metrics listener and serve `/metrics` in the background.
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
        .with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(bound)
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    (
        [(header::CONTENT_TYPE, content_type)],
        state.metrics.encode(),
    )
        .into_response()
}
