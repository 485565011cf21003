//! The audit report: findings with their counts, in the stable JSON schema `--output json`
//! prints (documented in docs/audit.md; `tests/it/audit_manifests.rs` holds it to a checked-in
//! snapshot). Field names only ever get added, never renamed or removed, within one
//! `apiVersion`.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use super::{Finding, Status};

/// The schema version of [`Report`].
pub const REPORT_API_VERSION: &str = "signet.dev/v1alpha1";

/// A whole audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Always [`REPORT_API_VERSION`].
    pub api_version: String,
    /// Always `AuditReport`.
    pub kind: String,
    /// When the audit ran (RFC 3339, UTC).
    pub generated_at: String,
    /// What was audited: `manifests:<dir>`, `cluster:<context>`, `webhook-log:<file>`, joined
    /// with `, ` when several were.
    pub source: String,
    /// Counts over all findings.
    pub summary: Summary,
    /// Counts per namespace (`-` for objects that name none), by name.
    pub namespaces: Vec<NamespaceSummary>,
    /// One per container, sorted by namespace, object, path.
    pub findings: Vec<Finding>,
    /// What the reader should know: skipped files, Pods counted under their workload.
    pub notes: Vec<String>,
}

/// Counts over a set of findings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Distinct objects.
    pub objects: usize,
    /// Distinct images (as written).
    pub images: usize,
    /// Findings admitted.
    pub admit: usize,
    /// Findings admitted with a warning.
    pub warn: usize,
    /// Findings denied.
    pub deny: usize,
    /// Findings the registry could not answer for (denied too).
    pub error: usize,
}

/// Counts of one namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSummary {
    /// The namespace, `-` for objects that name none.
    pub namespace: String,
    /// Counts of its findings.
    #[serde(flatten)]
    pub summary: Summary,
}

impl Summary {
    /// Count `findings`.
    pub fn of<'a>(findings: impl IntoIterator<Item = &'a Finding> + Clone) -> Self {
        let objects: HashSet<(Option<&str>, String)> = findings
            .clone()
            .into_iter()
            .map(|f| (f.namespace.as_deref(), f.object()))
            .collect();
        let images: HashSet<&str> = findings
            .clone()
            .into_iter()
            .filter(|f| f.image != "-")
            .map(|f| f.image.as_str())
            .collect();
        let mut summary = Self {
            objects: objects.len(),
            images: images.len(),
            ..Self::default()
        };
        for finding in findings {
            *summary.count_mut(finding.outcome) += 1;
        }
        summary
    }

    /// The count of one status.
    pub fn count(&self, status: Status) -> usize {
        match status {
            Status::Admit => self.admit,
            Status::Warn => self.warn,
            Status::Deny => self.deny,
            Status::Error => self.error,
        }
    }

    fn count_mut(&mut self, status: Status) -> &mut usize {
        match status {
            Status::Admit => &mut self.admit,
            Status::Warn => &mut self.warn,
            Status::Deny => &mut self.deny,
            Status::Error => &mut self.error,
        }
    }
}

impl Report {
    /// A report over `findings` (sorted here), stamped `generated_at`.
    pub fn new(
        source: String,
        generated_at: String,
        mut findings: Vec<Finding>,
        notes: Vec<String>,
    ) -> Self {
        findings.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
        Self {
            api_version: REPORT_API_VERSION.to_string(),
            kind: "AuditReport".to_string(),
            generated_at,
            source,
            summary: Summary::of(&findings),
            namespaces: per_namespace(&findings),
            findings,
            notes,
        }
    }

    /// Would the webhook in enforce mode refuse anything reported?
    pub fn refuses_anything(&self) -> bool {
        self.findings.iter().any(|f| f.outcome.refused())
    }
}

fn sort_key(f: &Finding) -> (&str, &str, &str, &str, &str, &str) {
    let namespace = f.namespace.as_deref().unwrap_or("");
    (namespace, &f.kind, &f.name, &f.source, &f.path, &f.image)
}

/// Counts per namespace, `-` for objects that name none.
fn per_namespace(findings: &[Finding]) -> Vec<NamespaceSummary> {
    let mut groups: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for finding in findings {
        let namespace = finding.namespace.as_deref().unwrap_or("-");
        groups.entry(namespace).or_default().push(finding);
    }
    groups
        .into_iter()
        .map(|(namespace, group)| NamespaceSummary {
            namespace: namespace.to_string(),
            summary: Summary::of(group.iter().copied()),
        })
        .collect()
}
