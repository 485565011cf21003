//! The HTTPS webhook: a thin shell over the engine. `POST /validate` answers AdmissionReviews
//! (and, with `--enable-mutation`, `POST /mutate` pins verified images to their digests),
//! `/healthz` and `/readyz` report liveness and readiness, and metrics are served on a separate
//! plain-HTTP listener. A readable review always gets 200 with an AdmissionReview; only transport
//! problems (body too large, not JSON) get 4xx.

mod metrics;
mod routes;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;

use crate::audit::logs::Subject;
use crate::engine::{CredentialSource, Engine};
use crate::workload::WorkloadKind;

pub use metrics::Metrics;
pub use tls::{TlsError, TlsSource};

/// Largest AdmissionReview accepted: an UPDATE carries `object` and `oldObject`, each up to
/// kube-apiserver's 3 MiB request limit.
pub const DEFAULT_MAX_BODY_BYTES: usize = 7 * 1024 * 1024;

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// HTTPS address for reviews and probes.
    pub listen: SocketAddr,
    /// Plain-HTTP address for `/metrics`.
    pub metrics_listen: SocketAddr,
    /// The serving certificate.
    pub tls: TlsSource,
    /// Body size limit; larger bodies get 413.
    pub max_body_bytes: usize,
    /// Always admit; report the verdict as warnings.
    pub dry_run: bool,
    /// How long the server keeps answering after SIGTERM with readiness already failing, so
    /// that the endpoint is removed before the listener closes (kube-proxy and the apiserver
    /// learn of it only after the readiness probe and the endpoint update).
    pub shutdown_delay: Duration,
    /// How long in-flight reviews may take to finish once the listener is closed.
    pub shutdown_grace: Duration,
    /// How often certificate files are checked for new content.
    pub tls_reload_interval: Duration,
    /// More conditions `/readyz` waits for (for example: the cluster's policies listed).
    pub readiness: Vec<Arc<dyn ReadinessGate>>,
    /// Serve `POST /mutate`, which pins verified images to their digests (off by default).
    pub enable_mutation: bool,
    /// Where would-deny decisions go besides the log line (Kubernetes Events with `--events`).
    pub would_deny: Option<Arc<dyn WouldDenySink>>,
    /// Reach registries with each pod's own credentials before the global ones (`--pull-secrets`:
    /// its pull secrets and its service account's). `None`: global ones only.
    pub pull_secrets: Option<Arc<dyn PodCredentials>>,
}

/// A condition the server must meet before it reports ready.
pub trait ReadinessGate: Send + Sync + std::fmt::Debug {
    /// Whether the condition holds now.
    fn is_ready(&self) -> bool;
}

/// Told of every admitted request that enforce mode would have denied, with the message the
/// denial would carry (`signet serve --events` records them as Kubernetes Events). It is called
/// on the request path: an implementation must return at once (queue, never wait), so the
/// admission answer never waits for it.
pub trait WouldDenySink: Send + Sync + std::fmt::Debug {
    /// `subject` was admitted; enforce mode would have answered `message`.
    fn would_deny(&self, subject: &Subject, message: &str);
}

/// The registry credentials of the pod a request creates or changes (`signet serve
/// --pull-secrets`: `cluster::PullSecrets` reads its pull secrets through the Kubernetes API).
/// Called on the request path: it only names the pod; the engine asks the returned source
/// (which has its own deadline) if and when an image needs a registry.
pub trait PodCredentials: Send + Sync + std::fmt::Debug {
    /// The source of the credentials of the pod spec in `object`, a `kind`, in `namespace`.
    fn for_pod(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        object: &serde_json::Value,
    ) -> Box<dyn CredentialSource>;
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// TLS material is unusable.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// A listener could not be bound.
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
}

/// Shared state of the request handlers.
pub struct AppState {
    /// The review pipeline.
    pub engine: Arc<Engine>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Ready to serve: policy and certificate loaded, not shutting down.
    pub ready: AtomicBool,
    /// Further conditions for readiness, all of which must hold.
    pub readiness: Vec<Arc<dyn ReadinessGate>>,
    /// Dry-run: always admit.
    pub dry_run: bool,
    /// Where would-deny decisions go besides the log line.
    pub would_deny: Option<Arc<dyn WouldDenySink>>,
    /// Where each pod's own registry credentials are read, when configured.
    pub pull_secrets: Option<Arc<dyn PodCredentials>>,
}

impl AppState {
    /// Serving, not shutting down, and every readiness gate open.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst) && self.readiness.iter().all(|g| g.is_ready())
    }
}

/// A started server: its addresses and a way to stop it.
pub struct RunningServer {
    /// The HTTPS address actually bound.
    pub addr: SocketAddr,
    /// The metrics address actually bound.
    pub metrics_addr: SocketAddr,
    /// Shared state (readiness, engine).
    pub state: Arc<AppState>,
    handle: Handle<SocketAddr>,
    delay: Duration,
    grace: Duration,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningServer {
    /// Fail readiness first and keep answering for the shutdown delay; then stop accepting and
    /// let in-flight reviews finish within the grace period.
    pub async fn shutdown(self) -> std::io::Result<()> {
        self.state.ready.store(false, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        self.handle.graceful_shutdown(Some(self.grace));
        self.task
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }
}

/// Load TLS, bind both listeners and start serving in the background.
pub async fn start(
    engine: Arc<Engine>,
    metrics: Arc<Metrics>,
    config: ServeConfig,
) -> Result<RunningServer, ServeError> {
    let pem = config.tls.read()?;
    let live = RustlsConfig::from_config(tls::server_config(&pem)?);
    tokio::spawn(tls::watch(
        config.tls.clone(),
        pem,
        live.clone(),
        config.tls_reload_interval,
    ));
    let state = Arc::new(AppState {
        engine,
        metrics,
        ready: AtomicBool::new(true),
        readiness: config.readiness.clone(),
        dry_run: config.dry_run,
        would_deny: config.would_deny.clone(),
        pull_secrets: config.pull_secrets.clone(),
    });
    let metrics_addr = routes::serve_metrics(state.clone(), config.metrics_listen).await?;
    let app = routes::router(state.clone(), config.max_body_bytes, config.enable_mutation);
    let handle = Handle::new();
    let server = axum_server::bind_rustls(config.listen, live)
        .handle(handle.clone())
        .serve(app.into_make_service());
    let task = tokio::spawn(server);
    let Some(addr) = handle.listening().await else {
        // The bind failed inside the server task: its error says why (address in use …).
        let error = match task.await {
            Ok(Err(error)) => error,
            _ => std::io::Error::other("the listener stopped before it was bound"),
        };
        return Err(ServeError::Bind(config.listen, error));
    };
    Ok(RunningServer {
        addr,
        metrics_addr,
        state,
        handle,
        delay: config.shutdown_delay,
        grace: config.shutdown_grace,
        task,
    })
}
