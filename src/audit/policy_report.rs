//! The audit as `wgpolicyk8s.io/v1alpha2` PolicyReport objects (one set per namespace) and a
//! ClusterPolicyReport (for objects that name no namespace), so tools that read the Policy
//! Working Group's reports (Policy Reporter and its UI) show Signet's findings beside others.
//!
//! Mapping: admit -> `pass`, warn -> `warn`, deny -> `fail`, error -> `error`; `policy` is
//! `signet`, `rule` the stable code (`NoSignature`, `Verified` …), `message` the webhook's reason
//! text, and the container, image, digest and refusing policy go in `properties`. A report holds
//! at most [`MAX_RESULTS`] results (objects must stay well below etcd's 1.5 MiB); more spill into
//! `signet-audit-2`, `-3` …. [`write`] creates them in a cluster, or replaces the ones an earlier
//! audit wrote.

use std::collections::BTreeMap;

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde::{Deserialize, Serialize};

use super::{Finding, Report, Status};

/// The API version written.
pub const API_VERSION: &str = "wgpolicyk8s.io/v1alpha2";
/// The base name of every report Signet writes.
pub const REPORT_NAME: &str = "signet-audit";
/// Most results in one report object.
pub const MAX_RESULTS: usize = 500;

/// A PolicyReport or ClusterPolicyReport.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyReport {
    /// [`API_VERSION`].
    pub api_version: String,
    /// `PolicyReport` or `ClusterPolicyReport`.
    pub kind: String,
    /// Name, namespace and labels.
    pub metadata: Metadata,
    /// Counts of `results`.
    pub summary: ResultSummary,
    /// One per finding.
    pub results: Vec<ReportResult>,
}

/// The metadata written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// `signet-audit`, `signet-audit-2` ….
    pub name: String,
    /// The namespace, absent on a ClusterPolicyReport.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `app.kubernetes.io/managed-by: signet`.
    pub labels: BTreeMap<String, String>,
}

/// Counts per result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResultSummary {
    /// Admitted.
    pub pass: usize,
    /// Denied.
    pub fail: usize,
    /// Warned.
    pub warn: usize,
    /// The registry could not answer.
    pub error: usize,
    /// Always 0.
    pub skip: usize,
}

/// One result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportResult {
    /// `signet`.
    pub source: String,
    /// `signet`.
    pub policy: String,
    /// The stable code.
    pub rule: String,
    /// pass, fail, warn or error.
    pub result: String,
    /// The reason text.
    pub message: String,
    /// Always true.
    pub scored: bool,
    /// `Image Signatures`.
    pub category: String,
    /// When the audit ran.
    pub timestamp: Timestamp,
    /// The object.
    pub resources: Vec<ResourceRef>,
    /// container, path, image, digest, policy, running.
    pub properties: BTreeMap<String, String>,
}

/// `metav1.Timestamp`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Timestamp {
    /// Seconds since the epoch.
    pub seconds: i64,
    /// Always 0.
    pub nanos: i32,
}

/// A reference to the object a result is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRef {
    /// apiVersion.
    pub api_version: String,
    /// kind.
    pub kind: String,
    /// name.
    pub name: String,
    /// namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// The reports for `report`, stamped `seconds` since the epoch.
pub fn reports(report: &Report, seconds: i64) -> Vec<PolicyReport> {
    let mut groups: BTreeMap<Option<&str>, Vec<&Finding>> = BTreeMap::new();
    for finding in &report.findings {
        groups
            .entry(finding.namespace.as_deref())
            .or_default()
            .push(finding);
    }
    let timestamp = Timestamp { seconds, nanos: 0 };
    let mut out = Vec::new();
    for (namespace, findings) in groups {
        for (i, chunk) in findings.chunks(MAX_RESULTS).enumerate() {
            let results: Vec<ReportResult> = chunk.iter().map(|f| result(f, timestamp)).collect();
            out.push(PolicyReport {
                api_version: API_VERSION.to_string(),
                kind: kind_for(namespace).to_string(),
                metadata: metadata(namespace, i),
                summary: summary(&results),
                results,
            });
        }
    }
    out
}

/// The reports as multi-document YAML, ready for `kubectl apply -f -`.
pub fn to_yaml(report: &Report, seconds: i64) -> Result<String, serde_yaml::Error> {
    let mut out = String::new();
    for object in reports(report, seconds) {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&object)?);
    }
    Ok(out)
}

/// Where PolicyReports live.
fn resource(namespaced: bool) -> ApiResource {
    let (kind, plural) = match namespaced {
        true => ("PolicyReport", "policyreports"),
        false => ("ClusterPolicyReport", "clusterpolicyreports"),
    };
    let gvk = GroupVersionKind::gvk("wgpolicyk8s.io", "v1alpha2", kind);
    ApiResource::from_gvk_with_plural(&gvk, plural)
}

/// Create each report in the cluster, or replace the one Signet wrote before. Returns how many
/// were written.
pub async fn write(client: &kube::Client, reports: &[PolicyReport]) -> Result<usize, kube::Error> {
    for report in reports {
        let resource = resource(report.metadata.namespace.is_some());
        let api: Api<DynamicObject> = match &report.metadata.namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
            None => Api::all_with(client.clone(), &resource),
        };
        let mut object: DynamicObject = serde_json::to_value(report)
            .and_then(serde_json::from_value)
            .map_err(kube::Error::SerdeError)?;
        match api.get_opt(&report.metadata.name).await? {
            Some(existing) => {
                object.metadata.resource_version = existing.metadata.resource_version;
                api.replace(&report.metadata.name, &PostParams::default(), &object)
                    .await?;
            }
            None => {
                api.create(&PostParams::default(), &object).await?;
            }
        }
    }
    Ok(reports.len())
}

fn kind_for(namespace: Option<&str>) -> &'static str {
    match namespace {
        Some(_) => "PolicyReport",
        None => "ClusterPolicyReport",
    }
}

fn metadata(namespace: Option<&str>, index: usize) -> Metadata {
    let name = match index {
        0 => REPORT_NAME.to_string(),
        i => format!("{REPORT_NAME}-{}", i + 1),
    };
    let labels = [("app.kubernetes.io/managed-by", "signet")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Metadata {
        name,
        namespace: namespace.map(str::to_string),
        labels,
    }
}

fn result(f: &Finding, timestamp: Timestamp) -> ReportResult {
    let mut properties = BTreeMap::new();
    let mut put = |key: &str, value: &str| {
        if !value.is_empty() {
            properties.insert(key.to_string(), value.to_string());
        }
    };
    put("container", &f.container);
    put("path", &f.path);
    put("image", &f.image);
    put("digest", f.digest.as_deref().unwrap_or(""));
    put("policy", f.policy.as_deref().unwrap_or(""));
    put("running", if f.running { "true" } else { "" });
    put("source", &f.source);
    ReportResult {
        source: "signet".to_string(),
        policy: "signet".to_string(),
        rule: f.code.clone(),
        result: result_name(f.outcome).to_string(),
        message: f.reason.clone(),
        scored: true,
        category: "Image Signatures".to_string(),
        timestamp,
        resources: vec![ResourceRef {
            api_version: f.api_version.clone(),
            kind: f.kind.clone(),
            name: f.name.clone(),
            namespace: f.namespace.clone(),
        }],
        properties,
    }
}

fn result_name(status: Status) -> &'static str {
    match status {
        Status::Admit => "pass",
        Status::Warn => "warn",
        Status::Deny => "fail",
        Status::Error => "error",
    }
}

fn summary(results: &[ReportResult]) -> ResultSummary {
    let mut summary = ResultSummary::default();
    for r in results {
        match r.result.as_str() {
            "pass" => summary.pass += 1,
            "fail" => summary.fail += 1,
            "warn" => summary.warn += 1,
            _ => summary.error += 1,
        }
    }
    summary
}
