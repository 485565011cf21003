//! A YAML (or JSON) stream split into policy documents: empty documents skipped, lists as
//! `kubectl get -o yaml` writes them (`kind: List`, `ClusterImagePolicyList`) flattened,
//! documents of other kinds refused by name, the rest read into the closed wire schema with
//! serde_yaml's path and line in any error.

use serde::Deserialize;
use serde_yaml::Value;

use super::cluster_image_policy::{Document, object_id};
use crate::policy::error::{LoadError, LoadErrorKind};

/// The API group of policy-controller's CRDs.
const GROUP: &str = "policy.sigstore.dev";
/// Signet's own API group: the same kinds and schema, for clusters where policy-controller owns
/// its group, and the namespaced `ImagePolicy`.
pub const SIGNET_GROUP: &str = "signet.dev";

/// A list of policies, as exported by `kubectl get clusterimagepolicies -o yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct List {
    #[allow(dead_code, reason = "checked in the first pass")]
    api_version: String,
    #[allow(dead_code, reason = "checked in the first pass")]
    kind: String,
    #[serde(default)]
    #[allow(dead_code, reason = "list metadata carries no policy")]
    metadata: Option<Value>,
    #[serde(default)]
    items: Option<Vec<Document>>,
}

/// What the first pass found a document to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Empty,
    Policy,
    List,
}

/// Split `text` into policy documents; empty documents are skipped, other kinds are refused.
/// The text is read twice: first loosely, to refuse foreign kinds by name, then into the typed
/// schema, so that schema errors carry their path and line.
pub(crate) fn parse_documents(text: &str, file: &str) -> Result<Vec<Document>, LoadError> {
    let mut shapes = Vec::new();
    for (index, de) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let value = Value::deserialize(de).map_err(|e| yaml_error(file, index, &e))?;
        shapes.push(shape(&value, index, file)?);
    }
    let mut documents = Vec::new();
    let streams = serde_yaml::Deserializer::from_str(text).zip(shapes);
    for (index, (de, shape)) in streams.enumerate() {
        let parsed = match shape {
            Shape::Empty => Ok(Vec::new()),
            Shape::Policy => Document::deserialize(de).map(|doc| vec![doc]),
            Shape::List => List::deserialize(de).map(|list| list.items.unwrap_or_default()),
        };
        documents.extend(parsed.map_err(|e| schema_error(text, index, file, &e))?);
    }
    Ok(documents)
}

fn yaml_error(file: &str, index: usize, e: &serde_yaml::Error) -> LoadError {
    let message = format!("document {}: {e}", index + 1);
    LoadError::file(file, LoadErrorKind::Yaml(message))
}

/// A document that is YAML but not the schema: the API server would refuse it.
fn schema_error(text: &str, index: usize, file: &str, e: &serde_yaml::Error) -> LoadError {
    let message = e.to_string();
    let field = message
        .split_once(": ")
        .map(|(path, _)| path)
        .filter(|path| !path.is_empty() && !path.contains(char::is_whitespace))
        .map(str::to_string);
    let value = serde_yaml::Deserializer::from_str(text)
        .nth(index)
        .and_then(|de| Value::deserialize(de).ok());
    let object = value.map(|v| match list_item(field.as_deref()) {
        Some(item) => value_object_id(v.get("items").and_then(|i| i.get(item)).unwrap_or(&v)),
        None => value_object_id(&v),
    });
    LoadError::object(file, object, field, LoadErrorKind::Invalid(message))
}

/// The item index of a path such as `items[2].spec.images`.
fn list_item(path: Option<&str>) -> Option<usize> {
    let rest = path?.strip_prefix("items[")?;
    rest.split_once(']')?.0.parse().ok()
}

fn value_object_id(value: &Value) -> String {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("").to_string();
    let meta = |key: &str| text(value.get("metadata").and_then(|m| m.get(key)));
    object_id(&text(value.get("kind")), &meta("namespace"), &meta("name"))
}

fn shape(value: &Value, index: usize, file: &str) -> Result<Shape, LoadError> {
    if value.is_null() {
        return Ok(Shape::Empty);
    }
    let text = |key: &str| value.get(key).and_then(Value::as_str).unwrap_or("");
    let (api_version, kind) = (text("apiVersion"), text("kind"));
    let is_list = (api_version == "v1" && kind == "List")
        || (policy_version(api_version)
            && matches!(kind, "ClusterImagePolicyList" | "ImagePolicyList"));
    if !is_list {
        check_kind(value, &format!("document {}", index + 1), file)?;
        return Ok(Shape::Policy);
    }
    let items = value.get("items").and_then(Value::as_sequence);
    for (i, item) in items.into_iter().flatten().enumerate() {
        check_kind(
            item,
            &format!("document {} item {}", index + 1, i + 1),
            file,
        )?;
    }
    Ok(Shape::List)
}

fn policy_version(api_version: &str) -> bool {
    match api_version.split_once('/') {
        Some((GROUP, version)) => matches!(version, "v1alpha1" | "v1beta1"),
        Some((SIGNET_GROUP, version)) => version == "v1alpha1",
        _ => false,
    }
}

/// A sigstore `trusted_root.json` (its `mediaType` says so), given where a policy was expected.
fn is_trusted_root_json(value: &Value) -> bool {
    value
        .get("mediaType")
        .and_then(Value::as_str)
        .is_some_and(|m| m.starts_with("application/vnd.dev.sigstore.trustedroot"))
}

fn check_kind(value: &Value, what: &str, file: &str) -> Result<(), LoadError> {
    let text = |key: &str| value.get(key).and_then(Value::as_str).unwrap_or("");
    let (api_version, kind) = (text("apiVersion"), text("kind"));
    if policy_version(api_version) && matches!(kind, "ClusterImagePolicy" | "ImagePolicy") {
        return Ok(());
    }
    let found = format!("{what} is kind {kind:?} ({api_version:?})");
    if is_trusted_root_json(value) {
        return Err(LoadError::file(
            file,
            LoadErrorKind::Unsupported(
                "this is a sigstore trusted_root.json, not a policy: give it with --trust-root \
                 (keyless authorities name it by its file stem)"
                    .into(),
            ),
        ));
    }
    let error = if api_version.starts_with(GROUP) && kind == "TrustRoot" {
        LoadErrorKind::Unsupported(format!(
            "{found}: TrustRoot objects are read from --trust-root files, not policy files"
        ))
    } else {
        LoadErrorKind::Invalid(format!(
            "{found}, not a ClusterImagePolicy or ImagePolicy of {GROUP}/v1alpha1 or v1beta1 or {SIGNET_GROUP}/v1alpha1"
        ))
    };
    let object = Some(value_object_id(value));
    Err(LoadError::object(file, object, None, error))
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = "apiVersion: policy.sigstore.dev/v1beta1
  kind: ClusterImagePolicy
  metadata: {name: NAME, uid: 1234, resourceVersion: '7', generation: 2}
  spec: {images: [{glob: '**'}], authorities: [{static: {action: pass}}]}
  status: {conditions: []}";

    #[test]
    fn kubectl_lists_are_flattened() {
        let text = format!(
            "apiVersion: v1\nkind: List\nmetadata: {{resourceVersion: ''}}\nitems:\n- {}\n- {}\n",
            POLICY.replace("NAME", "a"),
            POLICY.replace("NAME", "b")
        );
        let docs = parse_documents(&text, "list.yaml").unwrap();
        let names: Vec<&str> = docs.iter().map(|d| d.metadata.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn a_foreign_item_in_a_list_is_refused_by_name() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: p}}\n";
        let err = parse_documents(text, "list.yaml").unwrap_err();
        assert!(
            err.to_string()
                .contains("document 1 item 1 is kind \"Pod\""),
            "{err}"
        );
        assert_eq!(err.object.as_deref(), Some("Pod/p"));
    }

    #[test]
    fn schema_errors_in_lists_name_the_item() {
        let bad = POLICY.replace("NAME", "b").replace("glob:", "globe:");
        let text = format!(
            "apiVersion: v1\nkind: List\nitems:\n- {}\n- {bad}\n",
            POLICY.replace("NAME", "a")
        );
        let err = parse_documents(&text, "list.yaml").unwrap_err();
        assert_eq!(err.object.as_deref(), Some("ClusterImagePolicy/b"));
        assert_eq!(err.field.as_deref(), Some("items[1].spec.images[0]"));
    }

    #[test]
    fn signets_own_group_is_read_like_policy_controllers() {
        let list = |version: &str| {
            let item = POLICY.replace("policy.sigstore.dev/v1beta1", version);
            format!(
                "apiVersion: v1\nkind: List\nitems:\n- {}\n",
                item.replace("NAME", "s")
            )
        };
        let docs = parse_documents(&list("signet.dev/v1alpha1"), "s.yaml").unwrap();
        assert_eq!(docs[0].metadata.name, "s");
        let err = parse_documents(&list("signet.dev/v1beta1"), "s.yaml").unwrap_err();
        assert!(err.to_string().contains("signet.dev/v1alpha1"), "{err}");
    }

    #[test]
    fn json_documents_parse() {
        let text = r#"{"apiVersion": "policy.sigstore.dev/v1alpha1", "kind": "ClusterImagePolicy",
            "metadata": {"name": "j"}, "spec": {"images": [{"glob": "**"}],
            "authorities": [{"static": {"action": "fail"}}]}}"#;
        assert_eq!(parse_documents(text, "p.json").unwrap().len(), 1);
    }
}
