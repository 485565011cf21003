//! A Signet engine fed by the policy objects of the test API server (tests/common/apiserver.rs),
//! as `signet serve --watch-policies` runs it: a real kube client and watcher, the composer,
//! and the engine the webhook would ask.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use signet::cluster::{PolicySync, watch_policies};
use signet::engine::{Engine, EngineSettings};
use signet::policy::PolicySet;
use signet::registry::{Credentials, Registry, RegistryConfig};
use signet::reload::{DEFAULT_MAX_POLICIES_PER_NAMESPACE, PolicyComposer, PolicySources};
use signet::verdict::Decision;
use signet::workload::ImageUse;

use super::apiserver::TestApiServer;

/// policy-controller's group.
pub const SIGSTORE: &str = "policy.sigstore.dev/v1beta1";
/// Signet's group.
pub const SIGNET: &str = "signet.dev/v1alpha1";

/// The test API server and the engine its policy objects feed.
pub struct Cluster {
    pub api: TestApiServer,
    pub engine: Arc<Engine>,
    pub sync: Arc<PolicySync>,
}

/// How the engine and the watch are set up.
pub struct WatchOptions {
    pub settings: EngineSettings,
    /// `--max-policies-per-namespace`.
    pub max_policies_per_namespace: usize,
    /// Registries reached over plain HTTP.
    pub insecure: Vec<String>,
}

impl Default for WatchOptions {
    fn default() -> Self {
        Self {
            settings: EngineSettings::default(),
            max_policies_per_namespace: DEFAULT_MAX_POLICIES_PER_NAMESPACE,
            insecure: Vec::new(),
        }
    }
}

/// A policy object of `kind` with `spec`, namespaced when `namespace` is given.
pub fn policy_object(
    api_version: &str,
    kind: &str,
    namespace: Option<&str>,
    name: &str,
    spec: Value,
) -> Value {
    let mut metadata = json!({"name": name});
    if let Some(ns) = namespace {
        metadata["namespace"] = json!(ns);
    }
    json!({"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec})
}

/// A policy object admitting (`pass`) or refusing (`fail`) every image under `glob`.
pub fn static_policy(
    api_version: &str,
    kind: &str,
    namespace: Option<&str>,
    name: &str,
    glob: &str,
    action: &str,
) -> Value {
    let spec = json!({"images": [{"glob": glob}], "authorities": [{"static": {"action": action}}]});
    policy_object(api_version, kind, namespace, name, spec)
}

/// An engine with no policy, fed by the policy objects of `api`.
pub fn spawn_watch(api: &TestApiServer, options: WatchOptions) -> (Arc<Engine>, Arc<PolicySync>) {
    let config = RegistryConfig {
        insecure: options.insecure,
        ..RegistryConfig::default()
    };
    let registry = Registry::new(config, Credentials::default());
    let engine = Arc::new(Engine::new(
        PolicySet::default(),
        registry,
        options.settings,
    ));
    let composer = PolicyComposer::new(PolicySources::default(), engine.clone())
        .with_max_policies_per_namespace(options.max_policies_per_namespace);
    let sync = Arc::new(PolicySync::default());
    tokio::spawn(watch_policies(
        api.client(),
        Arc::new(composer),
        sync.clone(),
        |_| {},
    ));
    (engine, sync)
}

/// An API server holding `objects` (by resource plural), watched with the default options.
pub async fn start(objects: Vec<(&str, Value)>) -> Cluster {
    start_with(objects, WatchOptions::default()).await
}

/// [`start`] with `options`; returns once every policy kind was listed and applied.
pub async fn start_with(objects: Vec<(&str, Value)>, options: WatchOptions) -> Cluster {
    let api = TestApiServer::start().await;
    for (plural, object) in objects {
        api.apply(plural, object);
    }
    let (engine, sync) = spawn_watch(&api, options);
    let cluster = Cluster { api, engine, sync };
    // Generous: listing a thousand objects applies each one with the whole set (debug build).
    let listed = || cluster.sync.is_synced();
    eventually_within(
        "the policy kinds are listed",
        Duration::from_secs(120),
        listed,
    )
    .await;
    cluster
}

/// Wait (up to 10 s) until `check` holds.
pub async fn eventually(what: &str, check: impl Fn() -> bool) {
    eventually_within(what, Duration::from_secs(10), check).await;
}

/// Wait up to `limit` until `check` holds.
pub async fn eventually_within(what: &str, limit: Duration, check: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

/// The decision for one container using `image` at `path` in `namespace` (`None`: a
/// cluster-scoped object).
pub async fn decide(engine: &Engine, namespace: Option<&str>, path: &str, image: &str) -> Decision {
    let uses = [ImageUse {
        path: path.into(),
        container: "app".into(),
        image: image.into(),
    }];
    engine.review(namespace, &uses).await
}

/// Whether a Pod's one image is admitted in `namespace`, and the verdict's code ("Verified",
/// "NoPolicyMatch", ...).
pub async fn verdict(engine: &Engine, namespace: &str, image: &str) -> (bool, String) {
    let decision = decide(engine, Some(namespace), "spec.containers[0]", image).await;
    (
        decision.allowed(),
        decision.verdicts[0].outcome.code().to_string(),
    )
}

/// The names of the policies in force.
pub fn policy_names(engine: &Engine) -> Vec<String> {
    engine
        .policies()
        .policies()
        .iter()
        .map(|p| p.name.clone())
        .collect()
}

/// The `Ready` condition of a stored object.
pub fn ready_condition(
    api: &TestApiServer,
    api_version: &str,
    plural: &str,
    namespace: Option<&str>,
    name: &str,
) -> Value {
    api.get(api_version, plural, namespace, name)
        .map(|o| o["status"]["conditions"][0].clone())
        .unwrap_or(Value::Null)
}
