//! `signet serve`: the webhook, until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

use signet::cluster::{
    EventQueue, EventSettings, PolicySync, PullSecrets, SecretSync, watch_policies,
    watch_policy_secrets,
};
use signet::engine::Engine;
use signet::reload::{DEFAULT_MAX_POLICIES_PER_NAMESPACE, PolicyComposer, watch_sources};
use signet::server::{
    self, DEFAULT_MAX_BODY_BYTES, Metrics, PodCredentials, ReadinessGate, ServeConfig, TlsSource,
    WouldDenySink,
};

use super::EngineArgs;
use super::client_limits::ClientLimitArgs;

/// Options of `signet serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    caches: super::CacheArgs,
    /// HTTPS address for reviews and probes: `host:port` (`0.0.0.0:8443`, `localhost:8443`), or
    /// `:port` for every interface.
    #[arg(long, default_value = "127.0.0.1:8443", env = "SIGNET_LISTEN", value_parser = parse_listen)]
    listen: SocketAddr,
    /// Plain-HTTP address for /metrics (as --listen).
    #[arg(
        long = "metrics-listen",
        default_value = "127.0.0.1:9090",
        env = "SIGNET_METRICS_LISTEN",
        value_parser = parse_listen
    )]
    metrics_listen: SocketAddr,
    /// Serving certificate chain (PEM). Without it a self-signed one is made.
    #[arg(long = "tls-cert", requires = "tls_key", env = "SIGNET_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// Serving private key (PEM).
    #[arg(long = "tls-key", requires = "tls_cert", env = "SIGNET_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// Require every client to present a certificate that chains to this CA bundle (PEM), so
    /// that only kube-apiserver (with the client certificate of its AdmissionConfiguration,
    /// docs/hardening.md) can ask; others are refused in the TLS handshake. Re-read like
    /// --tls-cert. Probes then go to the --metrics-listen port, which serves /healthz and /readyz.
    #[arg(long = "client-ca", requires = "tls_cert", env = "SIGNET_CLIENT_CA")]
    client_ca: Option<PathBuf>,
    /// Always admit, and report the verdict that would have been given as warnings.
    #[arg(long = "dry-run")]
    dry_run: bool,
    /// Also serve `POST /mutate`, which pins each image it verified to its digest
    /// (`repo:tag@sha256:…`); wire it with manifests/components/mutate.
    #[arg(long = "enable-mutation")]
    enable_mutation: bool,
    /// Largest AdmissionReview body in bytes (413 above it).
    #[arg(long = "max-body-bytes", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
    #[command(flatten)]
    client_limits: ClientLimitArgs,
    /// Seconds between checks of the policy and certificate files for changes.
    #[arg(long = "reload-interval", default_value = "5")]
    reload_interval: u64,
    /// Seconds the server keeps answering after SIGTERM while /readyz already fails, so that
    /// the endpoint is removed before the listener closes.
    #[arg(long = "shutdown-delay", default_value = "5")]
    shutdown_delay: u64,
    /// Seconds in-flight reviews may take to finish once the listener is closed.
    #[arg(long = "shutdown-grace", default_value = "20")]
    shutdown_grace: u64,
    /// Watch ClusterImagePolicy and ImagePolicy objects in the cluster (in-cluster config or
    /// kubeconfig) and apply them live, with the --policy files. Not ready until listed.
    /// Without --policy, the embedded example is then not used.
    #[arg(long = "watch-policies", env = "SIGNET_WATCH_POLICIES")]
    watch_policies: bool,
    /// With --watch-policies: most ImagePolicy objects one namespace may hold (cluster policies
    /// have a budget of their own). One more is refused in its status, and no image of that
    /// namespace is admitted until it is deleted (a tenant never loses a requirement silently).
    #[arg(
        long = "max-policies-per-namespace",
        default_value_t = DEFAULT_MAX_POLICIES_PER_NAMESPACE,
    )]
    max_policies_per_namespace: usize,
    /// With --watch-policies: the namespace Signet runs in, the only one the Secrets policies
    /// name (key.secretRef, ca-cert.secretRef, signaturePullSecrets) are read from, as
    /// policy-controller reads its own namespace. Default: the client's namespace (in-cluster:
    /// the service account's). Readiness waits for their first list (RBAC: the Role of
    /// manifests/base/rbac.yaml in that namespace).
    #[arg(long = "secrets-namespace", env = "SIGNET_NAMESPACE")]
    secrets_namespace: Option<String>,
    /// Record every admitted object that enforce mode would deny (warn-mode policies,
    /// --dry-run) as a Warning Event on the object, reason SignatureValidationFailed, besides the
    /// would-deny log line. Needs a cluster (in-cluster config or kubeconfig); never delays an
    /// answer: Events are queued, and dropped (counted) when the queue is full.
    #[arg(long = "events", env = "SIGNET_EVENTS")]
    events: bool,
    /// Reach registries as the kubelet would for each pod: with its imagePullSecrets, then its
    /// service account's, read from the pod's namespace through the Kubernetes API (in-cluster
    /// config or kubeconfig; needs `get` on secrets and serviceaccounts), then --registry-config.
    #[arg(long = "pull-secrets", env = "SIGNET_PULL_SECRETS")]
    pull_secrets: bool,
    /// Deadline in seconds of one pod's credential lookup; an API server that fails or does not
    /// answer in time gets the pod denied with that reason. Below --review-timeout.
    #[arg(long = "pull-secret-timeout", default_value = "2")]
    pull_secret_timeout: f64,
    /// Seconds a pull secret or service account read is reused (errors are not).
    #[arg(long = "pull-secret-cache-ttl", default_value = "30")]
    pull_secret_cache_ttl: f64,
}

/// Most secrets (and, separately, service accounts) remembered.
const PULL_SECRET_CACHE_ENTRIES: u64 = 10_000;

/// Run the webhook.
pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let engine = Arc::new(args.engine.build_with(&args.caches, None)?);
    let policies = engine.policies();
    tracing::info!(
        policies = policies.policies().len(),
        namespace_files = policies.namespace_sets().count(),
        source = %describe_sources(&args.engine),
        "policies loaded"
    );
    let mut metrics = Metrics::for_engine(engine.clone());
    let interval = Duration::from_secs(args.reload_interval.max(1));
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => TlsSource::Files { cert, key },
        _ => {
            tracing::warn!(
                "no --tls-cert/--tls-key: serving a self-signed certificate for localhost"
            );
            TlsSource::SelfSigned
        }
    };
    let mut config = ServeConfig {
        listen: args.listen,
        metrics_listen: args.metrics_listen,
        tls,
        client_ca: args.client_ca,
        max_body_bytes: args.max_body_bytes,
        limits: args.client_limits.limits(args.max_body_bytes)?,
        dry_run: args.dry_run,
        shutdown_delay: Duration::from_secs(args.shutdown_delay),
        shutdown_grace: Duration::from_secs(args.shutdown_grace),
        tls_reload_interval: interval,
        readiness: Vec::new(),
        enable_mutation: args.enable_mutation,
        would_deny: None,
        pull_secrets: None,
    };
    let client = cluster_client(args.watch_policies || args.events || args.pull_secrets).await?;
    if let (true, Some(client)) = (args.events, &client) {
        config.would_deny = Some(record_events(client, &mut metrics));
    }
    if let (true, Some(client)) = (args.pull_secrets, &client) {
        let timeouts = (args.pull_secret_timeout, args.pull_secret_cache_ttl);
        config.pull_secrets = Some(pull_secrets(client, timeouts, args.engine.review_timeout)?);
    }
    let metrics = Arc::new(metrics);
    if let (true, Some(client)) = (args.watch_policies, client) {
        let namespace = args
            .secrets_namespace
            .clone()
            .unwrap_or_else(|| client.default_namespace().to_string());
        let cluster = ClusterWatch {
            client,
            max_policies_per_namespace: args.max_policies_per_namespace,
            secrets_namespace: namespace,
        };
        let gates = watch_cluster_policies(cluster, &args.engine, &engine, &metrics, interval)?;
        config.readiness.extend(gates);
    } else if !args.engine.policy.is_empty() || args.engine.signature_policy_dir.is_some() {
        let reload_metrics = metrics.clone();
        let watcher = watch_sources(
            args.engine.sources(),
            Some(super::EMBEDDED),
            engine.clone(),
            interval,
            move |ok| reload_metrics.policy_reload(ok),
        );
        tokio::spawn(watcher);
    }
    let running = server::start(engine, metrics, config)
        .await
        .context("starting the server")?;
    tracing::info!(addr = %running.addr, metrics = %running.metrics_addr, dry_run = args.dry_run, "signet is serving");
    shutdown_signal().await;
    tracing::info!(
        delay_seconds = args.shutdown_delay,
        "shutting down: readiness fails now; in-flight reviews finish after the delay"
    );
    running
        .shutdown()
        .await
        .context("server stopped with an error")?;
    Ok(ExitCode::SUCCESS)
}

/// What `--watch-policies` watches.
struct ClusterWatch {
    client: kube::Client,
    max_policies_per_namespace: usize,
    /// Signet's namespace, whose Secrets policies may name.
    secrets_namespace: String,
}

/// Start the policy-object watchers, the Secret watcher and the file watcher over one
/// composer; the returned gates open when every policy kind and the Secrets have been listed
/// once.
fn watch_cluster_policies(
    cluster: ClusterWatch,
    args: &EngineArgs,
    engine: &Arc<Engine>,
    metrics: &Arc<Metrics>,
    interval: Duration,
) -> anyhow::Result<Vec<Arc<dyn ReadinessGate>>> {
    let ClusterWatch {
        client,
        max_policies_per_namespace,
        secrets_namespace,
    } = cluster;
    let composer = PolicyComposer::new(args.sources(), engine.clone())
        .with_max_policies_per_namespace(max_policies_per_namespace);
    let composer = Arc::new(composer);
    composer.reload().context("loading the --policy files")?;
    let sync = Arc::new(PolicySync::default());
    let (files, objects) = (metrics.clone(), metrics.clone());
    tokio::spawn(
        composer
            .clone()
            .watch_files(interval, move |ok| files.policy_reload(ok)),
    );
    let secrets_sync = Arc::new(SecretSync::default());
    let secrets_metrics = metrics.clone();
    tokio::spawn(watch_policy_secrets(
        client.clone(),
        secrets_namespace,
        composer.clone(),
        secrets_sync.clone(),
        move |ok| secrets_metrics.policy_reload(ok),
    ));
    tokio::spawn(watch_policies(client, composer, sync.clone(), move |ok| {
        objects.policy_reload(ok)
    }));
    Ok(vec![sync, secrets_sync])
}

/// The Kubernetes client (in-cluster config or kubeconfig), when a flag needs one.
async fn cluster_client(needed: bool) -> anyhow::Result<Option<kube::Client>> {
    if !needed {
        return Ok(None);
    }
    let client = kube::Client::try_default()
        .await
        .context("--watch-policies/--events/--pull-secrets: no Kubernetes client configuration")?;
    Ok(Some(client))
}

/// Start the would-deny Event writer and count its results in `metrics`.
fn record_events(client: &kube::Client, metrics: &mut Metrics) -> Arc<dyn WouldDenySink> {
    let queue = EventQueue::start(client.clone(), event_settings());
    queue.register(metrics.registry_mut());
    Arc::new(queue)
}

/// The Event writer's settings; `reportingInstance` is this replica's Pod name (`POD_NAME` from
/// the downward API, else the hostname, which is the Pod name in a cluster).
fn event_settings() -> EventSettings {
    let instance = ["POD_NAME", "HOSTNAME"]
        .into_iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "signet".to_string());
    EventSettings {
        instance,
        ..EventSettings::default()
    }
}

/// The pull-secret reader of `--pull-secrets` from (`--pull-secret-timeout`,
/// `--pull-secret-cache-ttl`), its deadline checked against `--review-timeout`.
fn pull_secrets(
    client: &kube::Client,
    (timeout, ttl): (f64, f64),
    review_timeout: f64,
) -> anyhow::Result<Arc<dyn PodCredentials>> {
    let timeout = super::seconds(timeout, "--pull-secret-timeout")?;
    let ttl = super::seconds(ttl, "--pull-secret-cache-ttl")?;
    let review = super::seconds(review_timeout, "--review-timeout")?;
    anyhow::ensure!(
        timeout < review,
        "--pull-secret-timeout ({timeout:?}) must be below --review-timeout ({review:?})"
    );
    let secrets = PullSecrets::new(client.clone(), ttl, PULL_SECRET_CACHE_ENTRIES);
    Ok(Arc::new(secrets.with_timeout(timeout)))
}

/// SIGTERM (Kubernetes) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(term) => term,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// `host:port`, a host name resolved once at start (`localhost:8443`), or `:port` for every
/// interface, as Go programs (and so most webhooks) accept it.
fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs as _;
    let hint = || {
        format!(
            "{text:?} is not an address to listen on: write host:port (0.0.0.0:8443, localhost:8443) or :port"
        )
    };
    let spelled = match text.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => text.to_string(),
    };
    if let Ok(addr) = spelled.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let (host, port) = spelled.rsplit_once(':').ok_or_else(hint)?;
    port.parse::<u16>().map_err(|_| hint())?;
    let mut addrs: Vec<SocketAddr> = spelled.to_socket_addrs().map_err(|_| hint())?.collect();
    // localhost resolves to ::1 and 127.0.0.1; IPv4 is what the default and probes use.
    addrs.sort_by_key(|a| !a.is_ipv4());
    addrs
        .first()
        .copied()
        .ok_or_else(|| format!("{host:?} resolves to no address: write host:port or :port"))
}

/// Where the policies came from, for the start-up log line.
fn describe_sources(engine: &EngineArgs) -> String {
    match engine.policy.is_empty() {
        true => super::EMBEDDED.1.to_string(),
        false => engine
            .policy
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(","),
    }
}
