//! Kubernetes manifest files (multi-document YAML or JSON, `kind: List` too) turned into the
//! objects the engine reviews, for the dry-run CLI and the audit of a GitOps repository.

use serde_json::Value;

use crate::workload::WorkloadKind;

/// Largest manifest file read.
pub const MAX_MANIFEST_BYTES: usize = 8 * 1024 * 1024;

/// Most documents read from one file.
pub const MAX_DOCUMENTS: usize = 10_000;

/// One document of a manifest file.
#[derive(Debug, Clone)]
pub enum Document {
    /// An object with a pod template (or a Pod).
    Workload(Workload),
    /// An AdmissionReview, as kube-apiserver would send it.
    AdmissionReview(Value),
    /// Any other kind: nothing to review.
    Other {
        /// Its kind.
        kind: String,
    },
}

/// An object that runs images.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Which kind.
    pub kind: WorkloadKind,
    /// `Kind/name` for messages.
    pub display: String,
    /// metadata.namespace, if set.
    pub namespace: Option<String>,
    /// The whole object.
    pub object: Value,
}

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Too large.
    #[error("manifest is {0} bytes, over the {MAX_MANIFEST_BYTES}-byte limit")]
    TooLarge(usize),
    /// Too many documents.
    #[error("manifest has more than {MAX_DOCUMENTS} documents")]
    TooManyDocuments,
    /// Not YAML.
    #[error("document {}: {source}", .index + 1)]
    Yaml {
        /// 0-based document index.
        index: usize,
        /// The parser's error.
        source: serde_yaml::Error,
    },
    /// A document that is not an object with a kind.
    #[error("document {} has no kind", .0 + 1)]
    NoKind(usize),
}

/// Split a manifest into documents.
pub fn parse_manifest(text: &str) -> Result<Vec<Document>, ManifestError> {
    if text.len() > MAX_MANIFEST_BYTES {
        return Err(ManifestError::TooLarge(text.len()));
    }
    let mut out = Vec::new();
    for (index, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
        if index >= MAX_DOCUMENTS {
            return Err(ManifestError::TooManyDocuments);
        }
        let value =
            Value::deserialize(doc).map_err(|source| ManifestError::Yaml { index, source })?;
        if value.is_null() {
            continue;
        }
        push_document(&mut out, index, value)?;
    }
    Ok(out)
}

use serde::Deserialize as _;

fn push_document(out: &mut Vec<Document>, index: usize, value: Value) -> Result<(), ManifestError> {
    let kind = value
        .get("kind")
        .and_then(Value::as_str)
        .ok_or(ManifestError::NoKind(index))?
        .to_string();
    if kind == "List" {
        let items = value
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for item in items {
            push_document(out, index, item)?;
        }
        return Ok(());
    }
    if kind == "AdmissionReview" {
        out.push(Document::AdmissionReview(value));
        return Ok(());
    }
    let group = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .and_then(|v| v.rsplit_once('/').map(|(g, _)| g))
        .unwrap_or("");
    match WorkloadKind::from_kind(group, &kind) {
        Some(workload_kind) => out.push(Document::Workload(Workload {
            kind: workload_kind,
            display: format!("{kind}/{}", metadata(&value, "name").unwrap_or("-")),
            namespace: metadata(&value, "namespace").map(str::to_string),
            object: value,
        })),
        None => out.push(Document::Other { kind }),
    }
    Ok(())
}

fn metadata<'a>(value: &'a Value, field: &str) -> Option<&'a str> {
    value.get("metadata")?.get(field)?.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_document_yaml_with_list_and_other_kinds() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ns}\nspec: {containers: [{name: a, image: nginx}]}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: d}\n  spec: {template: {spec: {containers: [{name: b, image: busybox}]}}}\n";
        let docs = parse_manifest(text).unwrap();
        assert_eq!(docs.len(), 3);
        assert!(
            matches!(&docs[0], Document::Workload(w) if w.display == "Pod/p" && w.namespace.as_deref() == Some("ns"))
        );
        assert!(matches!(&docs[1], Document::Other { kind } if kind == "ConfigMap"));
        assert!(matches!(&docs[2], Document::Workload(w) if w.kind == WorkloadKind::Deployment));
    }

    #[test]
    fn document_without_kind_is_an_error() {
        assert!(matches!(
            parse_manifest("a: 1\n"),
            Err(ManifestError::NoKind(0))
        ));
    }
}
