//! Policy objects from the cluster, watched with kube-runtime and applied live: policy-controller's
//! `ClusterImagePolicy` (`policy.sigstore.dev`), and Signet's own `ClusterImagePolicy` and
//! namespaced `ImagePolicy` (`signet.dev`). Each object is validated on its own, with the files
//! and the other objects, before it replaces anything: a refused object keeps its last valid
//! version in force and says why in its status (`Ready=False`, reason `Invalid` or
//! `Unsupported`, the message as `signet policy check` prints it).
//!
//! An `ImagePolicy` is judged as its namespace's users wrote it: it only adds requirements (see
//! `engine::namespaced`), and a namespace has a budget of them of its own. One refused for that
//! budget says so in its status (reason `NamespaceLimit`) and is applied again, by itself, when
//! a deletion in its namespace makes room.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use kube::api::{Api, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::discovery::ApiResource;
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::{Value, json};

use crate::policy::{LoadError, LoadErrorKind};
use crate::reload::{Applied, Namespaced, PolicyComposer};

/// One watched policy resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyKind {
    /// API group.
    pub group: &'static str,
    /// The version read (the CRD serves the same schema under every version).
    pub version: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// Resource (plural).
    pub plural: &'static str,
}

/// The resources Signet watches. Signet's manifests install all three CRDs.
pub const POLICY_KINDS: [PolicyKind; 3] = [
    PolicyKind {
        group: "policy.sigstore.dev",
        version: "v1beta1",
        kind: "ClusterImagePolicy",
        plural: "clusterimagepolicies",
    },
    PolicyKind {
        group: "signet.dev",
        version: "v1alpha1",
        kind: "ClusterImagePolicy",
        plural: "clusterimagepolicies",
    },
    PolicyKind {
        group: "signet.dev",
        version: "v1alpha1",
        kind: "ImagePolicy",
        plural: "imagepolicies",
    },
];

impl PolicyKind {
    fn resource(&self) -> ApiResource {
        let gvk = GroupVersionKind::gvk(self.group, self.version, self.kind);
        ApiResource::from_gvk_with_plural(&gvk, self.plural)
    }

    /// `ClusterImagePolicy.policy.sigstore.dev`: the prefix of this kind's document keys.
    fn prefix(&self) -> String {
        format!("{}.{}", self.kind, self.group)
    }

    fn api_version(&self) -> String {
        format!("{}/{}", self.group, self.version)
    }

    fn is_namespaced(&self) -> bool {
        self.kind == "ImagePolicy"
    }

    /// The document key of an object: `<Kind>.<group>/[<namespace>/]<name>`.
    fn key(&self, object: &DynamicObject) -> String {
        let name = object.metadata.name.as_deref().unwrap_or_default();
        match object.metadata.namespace.as_deref() {
            Some(ns) => format!("{}/{ns}/{name}", self.prefix()),
            None => format!("{}/{name}", self.prefix()),
        }
    }
}

/// How many watched kinds have finished their first list (readiness waits for all of them).
#[derive(Debug, Default)]
pub struct PolicySync {
    synced: AtomicUsize,
}

impl PolicySync {
    /// Whether every watched kind has been listed and applied once.
    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::SeqCst) >= POLICY_KINDS.len()
    }
}

impl crate::server::ReadinessGate for PolicySync {
    fn is_ready(&self) -> bool {
        self.is_synced()
    }
}

/// Watch every kind of [`POLICY_KINDS`] until the process ends, feeding `composer`;
/// `report(ok)` after each attempt to change the policy set.
pub async fn watch_policies(
    client: kube::Client,
    composer: Arc<PolicyComposer>,
    sync: Arc<PolicySync>,
    report: impl Fn(bool) + Send + Sync + 'static,
) {
    let report: Arc<dyn Fn(bool) + Send + Sync> = Arc::new(report);
    let watches = POLICY_KINDS.iter().map(|kind| {
        let watch = KindWatch {
            kind: *kind,
            client: client.clone(),
            composer: composer.clone(),
            report: report.clone(),
            over_limit: Mutex::default(),
        };
        watch.run(sync.clone())
    });
    futures::future::join_all(watches).await;
}

struct KindWatch {
    kind: PolicyKind,
    client: kube::Client,
    composer: Arc<PolicyComposer>,
    report: Arc<dyn Fn(bool) + Send + Sync>,
    /// Objects refused for their namespace's limit, by key: applied again when a deletion in
    /// their namespace makes room.
    over_limit: Mutex<BTreeMap<String, DynamicObject>>,
}

impl KindWatch {
    async fn run(self, sync: Arc<PolicySync>) {
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &self.kind.resource());
        let mut events = watcher(api, watcher::Config::default())
            .default_backoff()
            .boxed();
        let mut listing: Vec<DynamicObject> = Vec::new();
        let mut counted = false;
        while let Some(event) = events.next().await {
            match event {
                Ok(watcher::Event::Init) => listing.clear(),
                Ok(watcher::Event::InitApply(object)) => listing.push(object),
                Ok(watcher::Event::InitDone) => {
                    self.resync(std::mem::take(&mut listing)).await;
                    if !counted {
                        counted = true;
                        sync.synced.fetch_add(1, Ordering::SeqCst);
                    }
                }
                Ok(watcher::Event::Apply(object)) => {
                    self.apply(&object).await;
                }
                Ok(watcher::Event::Delete(object)) => self.delete(&object).await,
                Err(error) => {
                    let kind = self.kind.prefix();
                    tracing::warn!(%error, %kind, "watching policy objects failed; retrying");
                }
            }
        }
    }

    /// After a (re)list: drop the documents of objects that are gone, then apply each object.
    async fn resync(&self, objects: Vec<DynamicObject>) {
        let prefix = format!("{}/", self.kind.prefix());
        let present: Vec<String> = objects.iter().map(|o| self.kind.key(o)).collect();
        let gone: Vec<String> = self
            .composer
            .keys()
            .into_iter()
            .filter(|k| k.starts_with(&prefix) && !present.contains(k))
            .collect();
        self.pending().retain(|key, _| present.contains(key));
        if !gone.is_empty() {
            self.report_change(self.composer.remove(&gone)).ok();
        }
        for object in &objects {
            self.apply(object).await;
        }
    }

    /// Validate `object` with everything else in force; apply it, or keep its last valid
    /// version. Either way its status says which.
    async fn apply(&self, object: &DynamicObject) -> Option<Applied> {
        let key = self.kind.key(object);
        let text = self.document_text(object);
        let previous = self.composer.document(&key);
        let result = match previous.as_deref() == Some(text.as_str()) {
            true => Ok(Applied::Enforced),
            false => {
                let namespaced = self.namespaced(object);
                self.report_change(self.composer.apply(&key, &text, namespaced))
            }
        };
        match &result {
            Ok(Applied::OverNamespaceLimit { .. }) => {
                self.pending().insert(key, object.clone());
            }
            _ => drop(self.pending().remove(&key)),
        }
        let condition = condition(&result, previous.is_some(), object);
        self.write_status(object, condition).await;
        result.ok()
    }

    /// Remove the object's document; in its namespace, apply again the objects refused for
    /// its limit, while there is room.
    async fn delete(&self, object: &DynamicObject) {
        let key = self.kind.key(object);
        self.pending().remove(&key);
        self.report_change(self.composer.remove(std::slice::from_ref(&key)))
            .ok();
        let Some(namespace) = object.metadata.namespace.as_deref() else {
            return;
        };
        let waiting: Vec<DynamicObject> = self
            .pending()
            .values()
            .filter(|o| o.metadata.namespace.as_deref() == Some(namespace))
            .cloned()
            .collect();
        for object in waiting {
            if let Some(Applied::OverNamespaceLimit { .. }) = self.apply(&object).await {
                break;
            }
        }
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, DynamicObject>> {
        self.over_limit.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Where a namespaced kind's object lives; `None` for cluster-wide kinds. An `ImagePolicy`
    /// without a namespace is left to validation, which refuses it.
    fn namespaced<'o>(&self, object: &'o DynamicObject) -> Option<Namespaced<'o>> {
        if !self.kind.is_namespaced() {
            return None;
        }
        Some(Namespaced {
            namespace: object.metadata.namespace.as_deref()?,
            name: object.metadata.name.as_deref().unwrap_or_default(),
        })
    }

    fn report_change<T>(&self, result: Result<T, LoadError>) -> Result<T, LoadError> {
        match &result {
            Ok(_) => tracing::info!(kind = %self.kind.prefix(), "cluster policies applied"),
            Err(error) => {
                tracing::warn!(%error, "policy object refused; the last valid policy stays in force")
            }
        }
        (self.report)(result.is_ok());
        result
    }

    /// The object as a policy document: the watched kind's apiVersion and kind (never what
    /// the object claims, so an object of the namespaced resource is always read as an
    /// `ImagePolicy`), name, namespace and spec. Server-set metadata and the status are left
    /// out, so a status write changes nothing here.
    fn document_text(&self, object: &DynamicObject) -> String {
        let mut metadata = json!({"name": object.metadata.name});
        if let Some(ns) = &object.metadata.namespace {
            metadata["namespace"] = json!(ns);
        }
        json!({
            "apiVersion": self.kind.api_version(),
            "kind": self.kind.kind,
            "metadata": metadata,
            "spec": object.data.get("spec").cloned().unwrap_or(Value::Null),
        })
        .to_string()
    }

    /// Patch the status subresource unless it already says the same (a status patch is itself
    /// a watch event; writing it again would loop).
    async fn write_status(&self, object: &DynamicObject, condition: Condition) {
        let generation = object.metadata.generation;
        let current = &object.data["status"];
        if same_status(current, &condition, generation) {
            return;
        }
        let name = object.metadata.name.clone().unwrap_or_default();
        let resource = self.kind.resource();
        let api: Api<DynamicObject> = match &object.metadata.namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, &resource),
            None => Api::all_with(self.client.clone(), &resource),
        };
        let patch = status_patch(&condition, generation);
        if let Err(error) = api
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            tracing::warn!(%error, %name, "cannot write the policy status");
        }
    }
}

/// The `Ready` condition Signet writes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Condition {
    status: &'static str,
    reason: &'static str,
    message: String,
}

fn condition(
    result: &Result<Applied, LoadError>,
    had_previous: bool,
    object: &DynamicObject,
) -> Condition {
    match result {
        Ok(Applied::Enforced) => Condition {
            status: "True",
            reason: "Applied",
            message: "enforced by Signet".to_string(),
        },
        Ok(Applied::OverNamespaceLimit { limit }) => {
            let namespace = object.metadata.namespace.as_deref().unwrap_or_default();
            Condition {
                status: "False",
                reason: "NamespaceLimit",
                message: format!(
                    "refused (not enforced): namespace {namespace:?} already has {limit} \
                     ImagePolicy objects, Signet's limit (--max-policies-per-namespace); no image \
                     in {namespace:?} is admitted until this object is deleted, or another is and \
                     this one is applied in its place"
                ),
            }
        }
        Err(error) => {
            let reason = match error.kind {
                LoadErrorKind::Unsupported(_) => "Unsupported",
                _ => "Invalid",
            };
            let kept = match had_previous {
                true => "the last valid version stays in force",
                false => "not enforced",
            };
            Condition {
                status: "False",
                reason,
                message: format!("refused ({kept}): {error}"),
            }
        }
    }
}

fn same_status(current: &Value, condition: &Condition, generation: Option<i64>) -> bool {
    let ready = current["conditions"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["type"] == "Ready"));
    ready.is_some_and(|c| {
        c["status"] == condition.status
            && c["reason"] == condition.reason
            && c["message"] == condition.message.as_str()
    }) && current["observedGeneration"].as_i64() == generation
}

fn status_patch(condition: &Condition, generation: Option<i64>) -> Value {
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    json!({"status": {
        "observedGeneration": generation,
        "conditions": [{
            "type": "Ready",
            "status": condition.status,
            "reason": condition.reason,
            "message": condition.message,
            "lastTransitionTime": now,
        }],
    }})
}
