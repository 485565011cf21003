//! The real Signet server, started in-process over real TLS on a free port, and AdmissionReview
//! bodies built from a review kube-apiserver really sent (kube-rs's GKE capture).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;

use signet::cluster::{EventQueue, EventSettings, PullSecrets};
use signet::engine::cache::CacheSettings;
use signet::engine::verdicts::VerdictSettings;
use signet::engine::{Engine, EngineSettings, NoMatchAction};
use signet::expiring::{SharedClock, system_clock};
use signet::policy::{PolicySet, TrustRoots};
use signet::registry::{Credentials, Registry, RegistryConfig};
use signet::server::{self, Metrics, RunningServer, ServeConfig, TlsSource};

use super::tls::https_client;

/// kube-apiserver's real request (GKE), from kube-rs's tests; see shared/fixtures/third_party.
const GKE_REVIEW: &str = include_str!(
    "../../../shared/fixtures/third_party/kube-rs/extracted/admission_review_v1_pod_create_gke.json"
);

/// How to start a test webhook.
pub struct WebhookOptions {
    pub policy_yaml: String,
    pub insecure: Vec<String>,
    pub no_match: NoMatchAction,
    pub review_deadline: Duration,
    pub registry_timeout: Duration,
    /// Longest pause after a registry answers 429.
    pub rate_limit_pause: Duration,
    pub dry_run: bool,
    pub max_body_bytes: usize,
    /// Connection caps, deadlines and the body budget.
    pub limits: server::Limits,
    pub registry_config: Option<PathBuf>,
    pub cache: CacheSettings,
    /// `--trust-root` files to write next to the policy: (file name, content).
    pub trust_roots: Vec<(String, String)>,
    /// `--signature-policy-dir` files: (namespace, content of `<namespace>.json`). When empty,
    /// no directory is given.
    pub namespace_policies: Vec<(String, String)>,
    /// `--enable-mutation`: serve `/mutate`.
    pub enable_mutation: bool,
    /// `--registries-conf` content, when given.
    pub registries_conf: Option<String>,
    /// A containerd hosts directory (`--containerd-hosts-dir`).
    pub containerd_hosts_dir: Option<PathBuf>,
    /// `--events`: would-deny Events written through this client.
    pub events: Option<(kube::Client, EventSettings)>,
    /// `--pull-secrets`: each pod's own pull secrets, read from this (test) API server.
    pub pull_secrets: Option<Arc<PullSecrets>>,
    /// `--max-requests-per-registry`.
    pub max_requests_per_registry: usize,
    /// `--max-images-in-flight`.
    pub max_images_in_flight: usize,
    /// What every lifetime (caches, the rate-limit pause) is measured by: a test that checks a
    /// lifetime gives a [`signet::expiring::ManualClock`] and moves it itself.
    pub clock: SharedClock,
    /// `--image-credential-provider-config` and its plugins, loaded.
    pub credential_providers: Option<Arc<signet::registry::CredentialProviders>>,
}

impl WebhookOptions {
    /// A policy, plain HTTP to `insecure`, defaults for the rest.
    pub fn new(policy_yaml: impl Into<String>, insecure: &[String]) -> Self {
        Self {
            policy_yaml: policy_yaml.into(),
            insecure: insecure.to_vec(),
            no_match: NoMatchAction::Deny,
            review_deadline: Duration::from_secs(5),
            registry_timeout: Duration::from_secs(2),
            rate_limit_pause: RegistryConfig::default().rate_limit_pause,
            dry_run: false,
            max_body_bytes: server::DEFAULT_MAX_BODY_BYTES,
            limits: server::Limits::default(),
            registry_config: None,
            cache: CacheSettings::default(),
            trust_roots: Vec::new(),
            namespace_policies: Vec::new(),
            enable_mutation: false,
            registries_conf: None,
            containerd_hosts_dir: None,
            events: None,
            pull_secrets: None,
            max_requests_per_registry: RegistryConfig::default().max_requests_per_host,
            max_images_in_flight: EngineSettings::default().images_in_flight,
            clock: system_clock(),
            credential_providers: None,
        }
    }
}

/// A running webhook and an HTTPS client that trusts its certificate.
pub struct TestWebhook {
    pub addr: SocketAddr,
    pub metrics_addr: SocketAddr,
    pub client: reqwest::Client,
    pub dir: TempDir,
    pub cert_pem: Vec<u8>,
    server: Option<RunningServer>,
}

impl TestWebhook {
    pub async fn start(options: WebhookOptions) -> TestWebhook {
        super::tls::install_crypto_provider();
        let dir = tempfile::tempdir().expect("temp dir");
        let policy = dir.path().join("policy.yaml");
        std::fs::write(&policy, &options.policy_yaml).expect("write policy");
        let made = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .expect("self-signed certificate");
        let cert_pem = made.cert.pem().into_bytes();
        let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
        std::fs::write(&cert, &cert_pem).expect("write cert");
        std::fs::write(&key, made.signing_key.serialize_pem()).expect("write key");
        let roots: Vec<PathBuf> = options
            .trust_roots
            .iter()
            .map(|(name, text)| {
                let path = dir.path().join(name);
                std::fs::write(&path, text).expect("write trust root");
                path
            })
            .collect();
        let namespaces = (!options.namespace_policies.is_empty()).then(|| {
            let dir = dir.path().join("namespaces");
            std::fs::create_dir(&dir).expect("namespace dir");
            for (namespace, text) in &options.namespace_policies {
                std::fs::write(dir.join(format!("{namespace}.json")), text)
                    .expect("write namespace policy");
            }
            dir
        });
        let engine = Arc::new(build_engine(&options, &policy, &roots, namespaces));
        let mut config = ServeConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            metrics_listen: "127.0.0.1:0".parse().expect("addr"),
            tls: TlsSource::Files { cert, key },
            client_ca: None,
            max_body_bytes: options.max_body_bytes,
            limits: options.limits.clone(),
            dry_run: options.dry_run,
            shutdown_delay: Duration::ZERO,
            shutdown_grace: Duration::from_secs(10),
            tls_reload_interval: Duration::from_millis(200),
            readiness: Vec::new(),
            enable_mutation: options.enable_mutation,
            would_deny: None,
            pull_secrets: options
                .pull_secrets
                .clone()
                .map(|s| s as Arc<dyn server::PodCredentials>),
        };
        let mut metrics = Metrics::for_engine(engine.clone());
        if let Some((client, settings)) = options.events {
            let queue = EventQueue::start(client, settings);
            queue.register(metrics.registry_mut());
            config.would_deny = Some(Arc::new(queue));
        }
        let running = server::start(engine, Arc::new(metrics), config)
            .await
            .expect("start webhook");
        TestWebhook {
            addr: running.addr,
            metrics_addr: running.metrics_addr,
            client: https_client(&cert_pem),
            dir,
            cert_pem,
            server: Some(running),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.addr.port())
    }

    /// POST raw bytes to /validate: (status, body text).
    pub async fn post(&self, body: Vec<u8>) -> (u16, String) {
        self.post_to("/validate", body).await
    }

    /// POST raw bytes to `path`: (status, body text).
    pub async fn post_to(&self, path: &str, body: Vec<u8>) -> (u16, String) {
        let response = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = response.status().as_u16();
        (status, response.text().await.expect("response body"))
    }

    /// POST a review, expect 200 and return the whole AdmissionReview answer.
    pub async fn review(&self, review: &Value) -> Value {
        let (status, text) = self.post(serde_json::to_vec(review).expect("json")).await;
        assert_eq!(status, 200, "unexpected status, body: {text}");
        serde_json::from_str(&text).expect("answer is JSON")
    }

    /// Review a Pod running `image` in container `app`: (allowed, deny message).
    pub async fn review_image(&self, image: &str) -> (bool, String) {
        let answer = self
            .review(&pod_review("u", vec![container("app", image)], vec![]))
            .await;
        (allowed(&answer), message(&answer))
    }

    /// `signet_cache_requests_total{cache,result}` from the metrics listener.
    pub async fn cache_lookups(&self, cache: &str, result: &str) -> u64 {
        let metrics = self.metrics().await;
        let prefix =
            format!("signet_cache_requests_total{{cache=\"{cache}\",result=\"{result}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {cache} {result} counter in {metrics}"))
    }

    /// The text of `/metrics` on the metrics listener.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("http://{}/metrics", self.metrics_addr))
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics body")
    }

    pub fn engine(&self) -> &Engine {
        &self.server.as_ref().expect("running").state.engine
    }

    pub fn state(&self) -> &server::AppState {
        &self.server.as_ref().expect("running").state
    }

    pub async fn shutdown(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.expect("clean shutdown");
        }
    }
}

fn build_engine(
    options: &WebhookOptions,
    policy: &PathBuf,
    roots: &[PathBuf],
    namespaces: Option<PathBuf>,
) -> Engine {
    let roots = TrustRoots::load(roots).expect("test trust roots load");
    let mut policies = PolicySet::load_with_trust_roots(std::slice::from_ref(policy), &roots)
        .expect("test policy loads");
    if let Some(dir) = namespaces {
        policies = policies
            .with_namespace_dir(&dir, &roots)
            .expect("test namespace policies load");
    }
    let credentials = match &options.registry_config {
        Some(path) => Credentials::from_docker_config(path).expect("registry config"),
        None => Credentials::default(),
    };
    let registry = Registry::new(
        RegistryConfig {
            insecure: options.insecure.clone(),
            call_timeout: options.registry_timeout,
            rate_limit_pause: options.rate_limit_pause,
            max_requests_per_host: options.max_requests_per_registry,
            clock: options.clock.clone(),
            mirrors: {
                let conf = match &options.registries_conf {
                    Some(text) => signet::registry::Mirrors::parse(text, "registries.conf")
                        .expect("test registries.conf parses"),
                    None => signet::registry::Mirrors::default(),
                };
                match &options.containerd_hosts_dir {
                    Some(dir) => conf
                        .with_containerd_hosts(dir)
                        .expect("test hosts directory reads"),
                    None => conf,
                }
            },
            credential_providers: options.credential_providers.clone(),
            ..RegistryConfig::default()
        },
        credentials,
    );
    let cache = CacheSettings {
        clock: options.clock.clone(),
        ..options.cache.clone()
    };
    let settings = EngineSettings {
        no_match: options.no_match,
        review_deadline: options.review_deadline,
        verdicts: VerdictSettings::lasting_as(&cache),
        cache,
        platforms: signet::engine::default_platforms(),
        images_in_flight: options.max_images_in_flight,
        ..EngineSettings::default()
    };
    Engine::new(policies, registry, settings)
}

/// A ClusterImagePolicy trusting `public_pem` for images matching `glob`.
pub fn key_policy(name: &str, glob: &str, public_pem: &str) -> String {
    format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: {name}\nspec:\n  images:\n  - glob: \"{glob}\"\n  authorities:\n  - name: release-key\n    key:\n      data: |\n{}",
        indent(public_pem, 8)
    )
}

pub fn indent(text: &str, spaces: usize) -> String {
    let pad = " ".repeat(spaces);
    text.lines().map(|l| format!("{pad}{l}\n")).collect()
}

/// A container entry with the fields kube-apiserver defaults.
pub fn container(name: &str, image: &str) -> Value {
    json!({
        "name": name, "image": image, "resources": {},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"
    })
}

/// The GKE capture with its pod's containers replaced.
pub fn pod_review(uid: &str, containers: Vec<Value>, init_containers: Vec<Value>) -> Value {
    let mut review: Value = serde_json::from_str(GKE_REVIEW).expect("fixture parses");
    review["request"]["uid"] = json!(uid);
    let spec = &mut review["request"]["object"]["spec"];
    spec["containers"] = Value::Array(containers);
    if !init_containers.is_empty() {
        spec["initContainers"] = Value::Array(init_containers);
    }
    review
}

/// [`pod_review`] for a pod in `namespace`.
pub fn pod_review_in(namespace: &str, uid: &str, containers: Vec<Value>) -> Value {
    let mut review = pod_review(uid, containers, Vec::new());
    review["request"]["namespace"] = json!(namespace);
    review["request"]["object"]["metadata"]["namespace"] = json!(namespace);
    review
}

/// The `response` member of an answer.
pub fn response(answer: &Value) -> &Value {
    &answer["response"]
}

/// The stable code of the first container's verdict (`deny:<Code>...` in `auditAnnotations`).
pub fn first_code(answer: &Value) -> String {
    let note = response(answer)["auditAnnotations"]["spec.containers.0"]
        .as_str()
        .unwrap_or_default();
    note.split([':', ' '])
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

pub fn allowed(answer: &Value) -> bool {
    answer["response"]["allowed"]
        .as_bool()
        .expect("allowed is a bool")
}

pub fn message(answer: &Value) -> String {
    answer["response"]["status"]["message"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// [`pod_review`] turned into a review of an `apps/v1` Deployment whose template runs
/// `containers` (the pod template is what the Deployment's pods are created from).
pub fn deployment_review(uid: &str, containers: Vec<Value>) -> Value {
    let mut review = pod_review(uid, Vec::new(), Vec::new());
    let request = &mut review["request"];
    request["kind"] = json!({"group": "apps", "version": "v1", "kind": "Deployment"});
    request["resource"] = json!({"group": "apps", "version": "v1", "resource": "deployments"});
    request["requestKind"] = request["kind"].clone();
    request["requestResource"] = request["resource"].clone();
    request["object"] = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "app", "namespace": request["namespace"].clone()},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "app"}},
                 "template": {"metadata": {"labels": {"app": "app"}},
                              "spec": {"containers": containers}}},
    });
    review
}
