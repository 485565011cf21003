//! A Signet engine fed by the policy objects of a real kube-apiserver, as `signet serve
//! --watch-policies` runs it: a real kube client and watcher, the composer, and the engine the
//! webhook would ask. The objects pass the shipped CRDs (manifests/crds) on their way in.
//!
//! Policies are cluster-wide, so the test binary's one control plane (tests/common/shared_plane.rs)
//! serves one [`Cluster`] at a time: [`start`] waits for the previous one to be dropped, deletes
//! every policy object it left, and stops its watch.
//!
//! [`start_recorded`] runs the same watch against the recorded-shapes server
//! (tests/common/apiserver.rs) instead, for objects a real API server under the shipped CRDs
//! refuses or prunes (fields ImagePolicy's schema does not declare, values its enums do not
//! list): Signet must still judge them safely where the CRDs installed are older or schemaless.

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
use super::control_plane::ControlPlane;
use super::shared_plane::{client, shared};

/// policy-controller's group.
pub const SIGSTORE: &str = "policy.sigstore.dev/v1beta1";
/// Signet's group.
pub const SIGNET: &str = "signet.dev/v1alpha1";

/// The API server and the engine its policy objects feed.
pub struct Cluster {
    pub api: PolicyApi,
    pub engine: Arc<Engine>,
    pub sync: Arc<PolicySync>,
    watch: tokio::task::JoinHandle<()>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.watch.abort();
    }
}

/// The policy kinds, as kubectl names them.
const POLICY_RESOURCES: &str = "clusterimagepolicies.policy.sigstore.dev,clusterimagepolicies.signet.dev,imagepolicies.signet.dev";

/// One [`Cluster`] at a time on the shared control plane.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Where a [`Cluster`]'s policy objects live.
pub enum PolicyApi {
    /// The binary's real control plane.
    Real(RealApi),
    /// The recorded-shapes server, for objects a real one refuses.
    Recorded(TestApiServer),
}

impl PolicyApi {
    /// Creates or updates `object`, a resource of `plural`.
    pub fn apply(&self, plural: &str, object: Value) {
        match self {
            PolicyApi::Real(real) => real.store("apply", &[object]),
            PolicyApi::Recorded(api) => {
                api.apply(plural, object);
            }
        }
    }

    /// The stored object, if any.
    pub fn get(
        &self,
        api_version: &str,
        plural: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        match self {
            PolicyApi::Real(real) => {
                let resource = resource(api_version, plural);
                super::shared_plane::get(real.plane, &resource, namespace, name)
            }
            PolicyApi::Recorded(api) => api.get(api_version, plural, namespace, name),
        }
    }

    /// Deletes an object; whether it existed.
    pub fn delete(
        &self,
        api_version: &str,
        plural: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> bool {
        match self {
            PolicyApi::Real(real) => {
                let resource = resource(api_version, plural);
                let mut args = vec!["delete", resource.as_str(), name];
                args.extend(namespace.iter().flat_map(|ns| ["-n", ns]));
                real.plane.kubectl(&args).status.success()
            }
            PolicyApi::Recorded(api) => api.delete(api_version, plural, namespace, name),
        }
    }

    /// `VERB uri` of each request from Signet since the cluster started whose URI contains
    /// `fragment`.
    pub fn requests_to(&self, fragment: &str) -> Vec<String> {
        match self {
            PolicyApi::Real(real) => real.requests_to(fragment),
            PolicyApi::Recorded(api) => api
                .requests_to(fragment)
                .into_iter()
                .map(|r| format!("{} {}?{}", r.method, r.path, r.query))
                .collect(),
        }
    }

    async fn client(&self) -> kube::Client {
        match self {
            PolicyApi::Real(real) => client(real.plane).await,
            PolicyApi::Recorded(api) => api.client(),
        }
    }
}

/// The shared API server, as the tests of one [`Cluster`] see it: objects are stored with kubectl
/// (as an administrator would), and only requests from Signet made since the cluster started
/// are reported.
pub struct RealApi {
    plane: &'static ControlPlane,
    /// Audit-log entries before this cluster started.
    since: usize,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

/// A turn at the shared control plane's cluster-wide policy objects for a test that stores its
/// own (tests/it/kube_apiserver.rs): every test area shares the one plane, so whoever lists or
/// watches policies takes a turn first. The CRDs are installed and no policy object is left.
pub async fn policy_turn() -> RealApi {
    RealApi::take_turn().await
}

impl RealApi {
    /// Waits for its turn, installs the CRDs (once) and removes every policy object left.
    async fn take_turn() -> RealApi {
        let turn = TURN.lock().await;
        let plane = shared();
        static CRDS: std::sync::OnceLock<()> = std::sync::OnceLock::new();
        CRDS.get_or_init(|| {
            // Signet's CRDs and (the opt-in step) policy-controller's.
            for crds in [
                concat!(env!("CARGO_MANIFEST_DIR"), "/manifests/crds"),
                concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/manifests/crds/policy-controller"
                ),
            ] {
                plane.kubectl_ok(&["apply", "-k", crds]);
            }
            plane.kubectl_ok(&["wait", "--for=condition=Established", "crd", "--all"]);
        });
        remove_policies(plane);
        RealApi {
            plane,
            since: plane.requests().len(),
            _turn: turn,
        }
    }

    /// Stores `objects` with `kubectl <verb>` (`create` for new ones: one request each instead
    /// of apply's two), creating their namespaces first.
    fn store(&self, verb: &str, objects: &[Value]) {
        let mut namespaces: Vec<&str> = objects
            .iter()
            .filter_map(|o| o["metadata"]["namespace"].as_str())
            .collect();
        namespaces.sort();
        namespaces.dedup();
        if !namespaces.is_empty() {
            let items: Vec<Value> = namespaces
                .iter()
                .map(
                    |ns| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
                )
                .collect();
            self.kubectl_list("apply", items);
        }
        self.kubectl_list(verb, objects.to_vec());
    }

    fn kubectl_list(&self, verb: &str, items: Vec<Value>) {
        let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
        let output = self.plane.kubectl_stdin(&[verb], &list.to_string());
        assert!(
            output.status.success(),
            "kubectl {verb}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn requests_to(&self, fragment: &str) -> Vec<String> {
        std::thread::sleep(Duration::from_millis(300));
        self.plane
            .requests()
            .into_iter()
            .skip(self.since)
            .filter(|r| !r.sent_by_kubectl() && r.uri.contains(fragment))
            .map(|r| format!("{} {}", r.verb, r.uri))
            .collect()
    }
}

/// Deletes every policy object, a collection at a time (`kubectl delete --all` deletes one by
/// one: minutes for a thousand objects on a loaded machine).
fn remove_policies(plane: &ControlPlane) {
    let namespaces = plane.kubectl_ok(&[
        "get",
        "imagepolicies.signet.dev",
        "--all-namespaces",
        "-o",
        "jsonpath={.items[*].metadata.namespace}",
    ]);
    let mut namespaces: Vec<&str> = namespaces.split_whitespace().collect();
    namespaces.dedup();
    let mut collections = vec![
        "/apis/policy.sigstore.dev/v1beta1/clusterimagepolicies".to_string(),
        "/apis/signet.dev/v1alpha1/clusterimagepolicies".to_string(),
    ];
    collections.extend(
        namespaces
            .iter()
            .map(|ns| format!("/apis/signet.dev/v1alpha1/namespaces/{ns}/imagepolicies")),
    );
    for collection in collections {
        plane.kubectl_ok(&["delete", "--raw", &collection]);
    }
}

/// `plural.group` (`plural` for the core group), as kubectl takes it.
fn resource(api_version: &str, plural: &str) -> String {
    match api_version.split_once('/') {
        Some((group, _)) => format!("{plural}.{group}"),
        None => plural.to_string(),
    }
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

/// An engine with no policy, fed by the policy objects `client` reads; the watch task.
pub fn spawn_watch(
    client: kube::Client,
    options: WatchOptions,
) -> (Arc<Engine>, Arc<PolicySync>, tokio::task::JoinHandle<()>) {
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
    let watch = tokio::spawn(watch_policies(
        client,
        Arc::new(composer),
        sync.clone(),
        |_| {},
    ));
    (engine, sync, watch)
}

/// The API server holding `objects` (by resource plural) and no other policy, watched with the
/// default options.
pub async fn start(objects: Vec<(&str, Value)>) -> Cluster {
    start_with(objects, WatchOptions::default()).await
}

/// [`start`] with `options`; returns once every policy kind was listed and applied.
pub async fn start_with(objects: Vec<(&str, Value)>, options: WatchOptions) -> Cluster {
    let real = RealApi::take_turn().await;
    let objects: Vec<Value> = objects.into_iter().map(|(_, object)| object).collect();
    if !objects.is_empty() {
        real.store("create", &objects);
    }
    watched(PolicyApi::Real(real), options).await
}

/// The recorded-shapes server holding `objects` (by resource plural), watched with the default
/// options.
pub async fn start_recorded(objects: Vec<(&str, Value)>) -> Cluster {
    start_recorded_with(objects, WatchOptions::default()).await
}

/// [`start_recorded`] with `options`.
pub async fn start_recorded_with(objects: Vec<(&str, Value)>, options: WatchOptions) -> Cluster {
    let api = TestApiServer::start().await;
    for (plural, object) in objects {
        api.apply(plural, object);
    }
    watched(PolicyApi::Recorded(api), options).await
}

/// The engine fed by `api`'s policy objects, once every policy kind was listed and applied.
async fn watched(api: PolicyApi, options: WatchOptions) -> Cluster {
    let (engine, sync, watch) = spawn_watch(api.client().await, options);
    let cluster = Cluster {
        api,
        engine,
        sync,
        watch,
    };
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
    api: &PolicyApi,
    api_version: &str,
    plural: &str,
    namespace: Option<&str>,
    name: &str,
) -> Value {
    api.get(api_version, plural, namespace, name)
        .map(|o| o["status"]["conditions"][0].clone())
        .unwrap_or(Value::Null)
}
