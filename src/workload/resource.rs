//! The object under review as policy-controller's `spec.match` sees it: its group, version,
//! resource (the plural guessed from the kind, as `meta.UnsafeGuessKindToResource` does) and
//! its own `metadata.labels` (a Deployment's, not its pod template's: the template is judged as
//! the Deployment).

use std::collections::BTreeMap;

use serde_json::Value;

/// Group, version, resource and labels of one object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ResourceIdentity {
    /// API group, `""` for the core group.
    pub group: String,
    /// API version (`v1`).
    pub version: String,
    /// Lower-case plural resource (`deployments`).
    pub resource: String,
    /// `metadata.labels` (string values; the API server allows no others).
    pub labels: BTreeMap<String, String>,
}

impl ResourceIdentity {
    /// From an `apiVersion` (`apps/v1`, `v1`), a kind and the object's JSON.
    pub fn new(api_version: &str, kind: &str, object: &Value) -> Self {
        Self::of_api_version(api_version, kind, labels(object))
    }

    /// From an `apiVersion`, a kind and the object's labels.
    pub fn of_api_version(api_version: &str, kind: &str, labels: BTreeMap<String, String>) -> Self {
        let (group, version) = match api_version.split_once('/') {
            Some((group, version)) => (group, version),
            None => ("", api_version),
        };
        Self::with_labels(group, version, kind, labels)
    }

    /// The `metadata.labels` of an object's JSON.
    pub fn labels_of(object: &Value) -> BTreeMap<String, String> {
        labels(object)
    }

    /// From the group, version, kind and `metadata.labels` (kube's `DynamicObject` keeps
    /// `metadata` apart from the rest of the object).
    pub fn with_labels(
        group: &str,
        version: &str,
        kind: &str,
        labels: BTreeMap<String, String>,
    ) -> Self {
        ResourceIdentity {
            group: group.to_string(),
            version: version.to_string(),
            resource: guess_resource(kind),
            labels,
        }
    }

    /// From an object's own `apiVersion` and `kind` (a manifest).
    pub fn of_object(object: &Value) -> Self {
        let text = |key: &str| object.get(key).and_then(Value::as_str).unwrap_or_default();
        Self::new(text("apiVersion"), text("kind"), object)
    }
}

/// `meta.UnsafeGuessKindToResource`: lower case, then `s` → `ses`, `y` → `ies`, else `+s`
/// (`endpoints` stays).
fn guess_resource(kind: &str) -> String {
    let singular = kind.to_ascii_lowercase();
    if singular.is_empty() || singular.ends_with("endpoints") {
        return singular;
    }
    if let Some(stem) = singular.strip_suffix('y') {
        return format!("{stem}ies");
    }
    match singular.ends_with('s') {
        true => format!("{singular}es"),
        false => format!("{singular}s"),
    }
}

fn labels(object: &Value) -> BTreeMap<String, String> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_become_policy_controller_resources() {
        for (kind, resource) in [
            ("Pod", "pods"),
            ("Deployment", "deployments"),
            ("CronJob", "cronjobs"),
            ("ReplicaSet", "replicasets"),
            ("StatefulSet", "statefulsets"),
            ("DaemonSet", "daemonsets"),
            ("Job", "jobs"),
            ("Policy", "policies"),
            ("Ingress", "ingresses"),
            ("Endpoints", "endpoints"),
        ] {
            assert_eq!(guess_resource(kind), resource);
        }
    }

    #[test]
    fn group_version_and_own_labels_not_the_template_s() {
        let object = serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"labels": {"app": "web", "n": 1}},
            "spec": {"template": {"metadata": {"labels": {"tier": "x"}}}}
        });
        let r = ResourceIdentity::of_object(&object);
        assert_eq!((r.group.as_str(), r.version.as_str()), ("apps", "v1"));
        assert_eq!(r.resource, "deployments");
        assert_eq!(r.labels.len(), 1);
        assert_eq!(r.labels["app"], "web");
        let pod = ResourceIdentity::new("v1", "Pod", &serde_json::json!({}));
        assert_eq!((pod.group.as_str(), pod.resource.as_str()), ("", "pods"));
    }
}
