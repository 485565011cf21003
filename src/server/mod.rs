//! The HTTPS webhook: a thin shell over the engine. `POST /validate` answers AdmissionReviews
//! (and, with `--enable-mutation`, `POST /mutate` pins verified images to their digests),
//! `/healthz` and `/readyz` report liveness and readiness, and metrics are served on a separate
//! plain-HTTP listener. A readable review always gets 200 with an AdmissionReview; only transport
//! problems (not JSON) and the limits on clients (body too large or too slow, no room in the body
//! budget: see `limits`) get 4xx or 503.

mod budget;
mod certificate_expiry;
pub mod client_auth;
mod connections;
mod limits;
mod listener;
mod metrics;
mod routes;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;
use tokio::sync::watch;

use crate::audit::logs::Subject;
use crate::engine::{CredentialSource, Engine};
use crate::workload::WorkloadKind;

pub use budget::{BodyBudget, BodyRefusal};
pub use limits::{DEFAULT_BODY_BUDGET_BYTES, DEFAULT_BODY_TIMEOUT, Limits};
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
    /// `--client-ca`: a PEM bundle every client's certificate must chain to (re-read like the
    /// serving certificate). `None`: no client certificate is asked for.
    pub client_ca: Option<PathBuf>,
    /// Body size limit; larger bodies get 413.
    pub max_body_bytes: usize,
    /// What clients may hold: connections, deadlines, the memory budget for bodies.
    pub limits: Limits,
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
    /// Request bodies in memory, across all connections.
    pub budget: BodyBudget,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Deadline of one request body.
    pub body_timeout: Duration,
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
    stop: watch::Sender<bool>,
    delay: Duration,
    grace: Duration,
    task: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// Fail readiness first and keep answering for the shutdown delay; then stop accepting and
    /// let in-flight reviews finish within the grace period.
    pub async fn shutdown(self) -> std::io::Result<()> {
        self.state.ready.store(false, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        self.stop.send_replace(true);
        self.task.await.map_err(std::io::Error::other)?;
        // Every connection holds a receiver until it has finished its requests.
        let drained = tokio::time::timeout(self.grace, self.stop.closed()).await;
        if drained.is_err() {
            tracing::warn!(grace = ?self.grace, "requests still in flight after the grace period");
        }
        Ok(())
    }
}

/// Load TLS, bind both listeners and start serving in the background.
pub async fn start(
    engine: Arc<Engine>,
    metrics: Arc<Metrics>,
    config: ServeConfig,
) -> Result<RunningServer, ServeError> {
    let material = tls::TlsMaterial::read(&config.tls, config.client_ca.as_ref())?;
    let live = RustlsConfig::from_config(material.server_config()?);
    let expiry = metrics.clone();
    let record_expiry = move |pair: &tls::PemPair| {
        if let Some(not_after) = certificate_expiry::leaf_not_after(&pair.cert) {
            expiry.certificate_expiry(not_after);
        }
    };
    record_expiry(&material.pair);
    tokio::spawn(tls::watch(
        config.tls.clone(),
        config.client_ca.clone(),
        material,
        live.clone(),
        config.tls_reload_interval,
        record_expiry,
    ));
    let state = Arc::new(AppState {
        engine,
        metrics,
        ready: AtomicBool::new(true),
        readiness: config.readiness.clone(),
        dry_run: config.dry_run,
        would_deny: config.would_deny.clone(),
        pull_secrets: config.pull_secrets.clone(),
        budget: BodyBudget::new(
            config.limits.body_budget_bytes,
            config.limits.body_budget_wait,
        ),
        max_body_bytes: config.max_body_bytes,
        body_timeout: config.limits.body_timeout,
    });
    let metrics_addr = routes::serve_metrics(state.clone(), config.metrics_listen).await?;
    let app = routes::router(state.clone(), config.enable_mutation);
    let tcp = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| ServeError::Bind(config.listen, e))?;
    let addr = tcp
        .local_addr()
        .map_err(|e| ServeError::Bind(config.listen, e))?;
    let (stop, stopped) = watch::channel(false);
    let listener = listener::Listener::new(app, live, config.limits, state.metrics.clone());
    let task = tokio::spawn(Arc::new(listener).run(tcp, stopped));
    Ok(RunningServer {
        addr,
        metrics_addr,
        state,
        stop,
        delay: config.shutdown_delay,
        grace: config.shutdown_grace,
        task,
    })
}
