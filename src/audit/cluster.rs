//! A running cluster as audit targets: the workload objects with pod templates (judged by their
//! spec, as the webhook judges a rollout) and the running Pods (judged at the digest each
//! container runs, from `status.*containerStatuses[].imageID`, so the report tells what
//! actually runs).
//!
//! ReplicaSets and Jobs owned by a Deployment or CronJob are reported through their owner. A Pod
//! is tied to its top owner (Pod -> ReplicaSet -> Deployment, Pod -> Job -> CronJob); when every
//! container runs what the owner's template was verified at, the audit counts it under the
//! owner instead of listing it (see `evaluate`). Finished Pods (Succeeded, Failed) run nothing
//! and are skipped. [`targets`] is pure, so tests feed it recorded API objects; [`list`] reads
//! them through a kube client, page by page.

use std::collections::HashMap;

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde_json::Value;

use super::Target;
use crate::workload::{ImageUse, ResourceIdentity, WorkloadKind, extract_images};

/// Objects read per list request.
pub const PAGE_SIZE: u32 = 500;
/// Most objects of one kind read from a cluster.
pub const MAX_OBJECTS: usize = 200_000;

/// The kinds read, as (group, version, kind, plural).
pub const KINDS: [(&str, &str, &str, &str); 8] = [
    ("", "v1", "Pod", "pods"),
    ("apps", "v1", "Deployment", "deployments"),
    ("apps", "v1", "StatefulSet", "statefulsets"),
    ("apps", "v1", "DaemonSet", "daemonsets"),
    ("apps", "v1", "ReplicaSet", "replicasets"),
    ("batch", "v1", "Job", "jobs"),
    ("batch", "v1", "CronJob", "cronjobs"),
    ("", "v1", "ReplicationController", "replicationcontrollers"),
];

/// Why the cluster could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A list request failed.
    #[error("listing {plural}: {source}")]
    List {
        /// The resource.
        plural: &'static str,
        /// kube's error.
        source: kube::Error,
    },
    /// More objects than [`MAX_OBJECTS`].
    #[error("more than {MAX_OBJECTS} {0}; audit one namespace at a time")]
    TooMany(&'static str),
}

/// Every object of [`KINDS`] (in `namespace`, or everywhere), each with `apiVersion` and `kind`.
pub async fn list(
    client: &kube::Client,
    namespace: Option<&str>,
) -> Result<Vec<Value>, ClusterError> {
    let mut objects = Vec::new();
    for (group, version, kind, plural) in KINDS {
        let resource =
            ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
        let api: Api<DynamicObject> = match namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
            None => Api::all_with(client.clone(), &resource),
        };
        list_kind(&api, &resource, plural, &mut objects).await?;
    }
    Ok(objects)
}

/// One kind, page by page.
async fn list_kind(
    api: &Api<DynamicObject>,
    resource: &ApiResource,
    plural: &'static str,
    out: &mut Vec<Value>,
) -> Result<(), ClusterError> {
    let mut params = ListParams::default().limit(PAGE_SIZE);
    let mut read = 0;
    loop {
        let page = api
            .list(&params)
            .await
            .map_err(|source| ClusterError::List { plural, source })?;
        for mut item in page.items {
            read += 1;
            if read > MAX_OBJECTS {
                return Err(ClusterError::TooMany(plural));
            }
            item.types = Some(kube::api::TypeMeta {
                api_version: resource.api_version.clone(),
                kind: resource.kind.clone(),
            });
            if let Ok(value) = serde_json::to_value(&item) {
                out.push(value);
            }
        }
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(()),
        }
    }
}

/// The audit targets of `objects` (each with `apiVersion` and `kind`), and notes on what was
/// reported through an owner or skipped.
pub fn targets(objects: &[Value]) -> (Vec<Target>, Vec<String>) {
    let owners = Owners::of(objects);
    let mut targets = Vec::new();
    let (mut through_owner, mut finished) = (0, 0);
    for object in objects {
        let Some(kind) = workload_kind(object) else {
            continue;
        };
        if kind == WorkloadKind::Pod {
            if finished_pod(object) {
                finished += 1;
                continue;
            }
            targets.push(pod_target(object, owners.top(object)));
        } else if owners.reported_through_owner(object) {
            through_owner += 1;
        } else {
            targets.push(template_target(kind, object));
        }
    }
    let mut notes = Vec::new();
    if through_owner > 0 {
        notes.push(format!(
            "{through_owner} ReplicaSets and Jobs owned by a Deployment or CronJob are reported through their owner"
        ));
    }
    if finished > 0 {
        notes.push(format!(
            "{finished} finished Pods (Succeeded or Failed) run nothing and were skipped"
        ));
    }
    (targets, notes)
}

/// Pods that run exactly what their workload verified are counted under it, not listed.
pub fn covered_pods_note(findings: &[super::Finding]) -> Option<String> {
    let pods: u32 = findings
        .iter()
        .map(|f| (f.namespace.clone(), f.object(), f.pods))
        .collect::<std::collections::HashSet<_>>()
        .iter()
        .map(|(_, _, pods)| pods)
        .sum();
    (pods > 0).then(|| {
        format!(
            "{pods} running Pods run exactly the digests their workload's template was verified at; they are counted in the workload's `pods` and not listed separately"
        )
    })
}

fn workload_kind(object: &Value) -> Option<WorkloadKind> {
    let group = text(object, &["apiVersion"])
        .rsplit_once('/')
        .map_or("", |(g, _)| g);
    WorkloadKind::from_kind(group, text(object, &["kind"]))
}

fn finished_pod(pod: &Value) -> bool {
    matches!(text(pod, &["status", "phase"]), "Succeeded" | "Failed")
}

fn template_target(kind: WorkloadKind, object: &Value) -> Target {
    Target {
        uses: extract_images(kind, object).map_err(|e| e.to_string()),
        ..base_target(object)
    }
}

/// A running Pod, each container pinned to the digest it runs where the status tells it.
fn pod_target(pod: &Value, owner: Option<String>) -> Target {
    let uses = extract_images(WorkloadKind::Pod, pod)
        .map(|uses| uses.into_iter().map(|u| pin_to_running(pod, u)).collect())
        .map_err(|e| e.to_string());
    Target {
        uses,
        running: true,
        owner,
        ..base_target(pod)
    }
}

fn base_target(object: &Value) -> Target {
    let namespace = text(object, &["metadata", "namespace"]);
    Target {
        source: "cluster".to_string(),
        api_version: text(object, &["apiVersion"]).to_string(),
        kind: text(object, &["kind"]).to_string(),
        name: text(object, &["metadata", "name"]).to_string(),
        namespace: (!namespace.is_empty()).then(|| namespace.to_string()),
        uses: Ok(Vec::new()),
        running: false,
        owner: None,
        labels: ResourceIdentity::labels_of(object),
    }
}

/// `spec.containers[1]` -> `status.containerStatuses`, matched by container name.
fn pin_to_running(pod: &Value, mut usage: ImageUse) -> ImageUse {
    let list = match usage.path.split('[').next() {
        Some("spec.containers") => "containerStatuses",
        Some("spec.initContainers") => "initContainerStatuses",
        Some("spec.ephemeralContainers") => "ephemeralContainerStatuses",
        _ => return usage,
    };
    let statuses = pod
        .get("status")
        .and_then(|s| s.get(list))
        .and_then(Value::as_array);
    let image_id = statuses
        .into_iter()
        .flatten()
        .find(|s| s.get("name").and_then(Value::as_str) == Some(usage.container.as_str()))
        .and_then(|s| s.get("imageID"))
        .and_then(Value::as_str);
    if let Some(digest) = image_id.and_then(running_digest) {
        let name = usage.image.split('@').next().unwrap_or(&usage.image);
        usage.image = format!("{name}@{digest}");
    }
    usage
}

/// The manifest digest in an `imageID` (`docker.io/library/nginx@sha256:…`,
/// `docker-pullable://nginx@sha256:…`); `None` for an image ID that names no repository digest
/// (`sha256:…` alone is the local image configuration, not something a registry serves).
pub fn running_digest(image_id: &str) -> Option<&str> {
    let (_, digest) = image_id.rsplit_once('@')?;
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(digest)
}

/// Controller owners, to tie a Pod to the workload a person manages.
struct Owners {
    /// (namespace, Kind/name) -> the owner's Kind/name, for ReplicaSets and Jobs.
    parents: HashMap<(String, String), String>,
}

impl Owners {
    fn of(objects: &[Value]) -> Self {
        let parents = objects
            .iter()
            .filter(|o| matches!(text(o, &["kind"]), "ReplicaSet" | "Job"))
            .filter_map(|o| {
                let owner = controller(o)?;
                let key = (
                    namespace(o),
                    format!("{}/{}", text(o, &["kind"]), text(o, &["metadata", "name"])),
                );
                Some((key, owner))
            })
            .collect();
        Self { parents }
    }

    /// A ReplicaSet owned by a Deployment, a Job owned by a CronJob.
    fn reported_through_owner(&self, object: &Value) -> bool {
        matches!(text(object, &["kind"]), "ReplicaSet" | "Job") && controller(object).is_some()
    }

    /// The Pod's top owner: its controller, or that controller's controller.
    fn top(&self, pod: &Value) -> Option<String> {
        let owner = controller(pod)?;
        let up = self.parents.get(&(namespace(pod), owner.clone()));
        Some(up.cloned().unwrap_or(owner))
    }
}

/// `Kind/name` of the object's controller owner reference.
fn controller(object: &Value) -> Option<String> {
    let references = object.get("metadata")?.get("ownerReferences")?.as_array()?;
    let owner = references
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))?;
    Some(format!(
        "{}/{}",
        owner.get("kind")?.as_str()?,
        owner.get("name")?.as_str()?
    ))
}

fn namespace(object: &Value) -> String {
    text(object, &["metadata", "namespace"]).to_string()
}

fn text<'a>(object: &'a Value, path: &[&str]) -> &'a str {
    path.iter()
        .try_fold(object, |v, key| v.get(key))
        .and_then(Value::as_str)
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_digest_reads_repository_digests_only() {
        let hex = "a".repeat(64);
        let digest = format!("sha256:{hex}");
        assert_eq!(
            running_digest(&format!("docker.io/library/nginx@{digest}")),
            Some(digest.as_str())
        );
        assert_eq!(
            running_digest(&format!("docker-pullable://nginx@{digest}")),
            Some(digest.as_str())
        );
        assert_eq!(running_digest(&digest), None, "a local image ID");
        assert_eq!(running_digest("nginx@sha256:abc"), None);
    }
}
