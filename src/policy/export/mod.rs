//! `signet export crio`: a `ClusterImagePolicy` set written as CRI-O's containers-policy.json
//! files: a global `policy.json` from the cluster-wide policies, and `<namespace>.json` for each
//! namespace whose rules differ (its namespaced `ImagePolicy` objects added), for CRI-O's
//! `signature_policy_dir`.
//!
//! Globs become scopes: `**` the transport default `""`, `host/**` the scope `host`, a tag or
//! digest glob the scope of that one image. A scope also covers the repositories below it, so a
//! repository glob `host/ns/app` is the scope `host/ns/app` exactly only together with
//! `host/ns/app/**`. Where scopes nest, the more specific one carries the requirements of every
//! policy that covers it too (containers/image applies only the most specific scope; Signet
//! applies every matching policy). Images no policy covers get `default`: `reject` for
//! `--no-match deny`. Whatever cannot be said exactly is an [`ExportFinding`].
//!
//! This folder runs the other way from `sigstore/` and `containers/`: the one model written out
//! as a containers-policy.json, scopes and files here, one policy's authorities as requirements
//! in `authority`.

mod authority;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::PolicySet;
use super::model::ImagePolicy;
use authority::requirements;

/// How much an export finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Same verdicts; only wording or redundant detail is lost.
    Note,
    /// CRI-O may decide differently from Signet, never refusing what Signet admits (`--strict`
    /// fails on these).
    Inexact,
    /// CRI-O would refuse images Signet admits (a policy's glob left out under `default:
    /// reject`, an alternative authority or identity left out): nodes would fail pulls the
    /// webhook let through, so the export always fails on these.
    Refuses,
}

/// Something the export could not express exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFinding {
    /// How much it matters.
    pub severity: Severity,
    /// The policy it concerns (`ClusterImagePolicy x`, `ImagePolicy ns/x`).
    pub policy: String,
    /// What and why.
    pub message: String,
}

impl std::fmt::Display for ExportFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let level = match self.severity {
            Severity::Note => "note",
            Severity::Inexact => "inexact",
            Severity::Refuses => "refuses",
        };
        write!(f, "{level}: {}: {}", self.policy, self.message)
    }
}

/// What images no policy covers become (Signet's `--no-match`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmatched {
    /// `default: reject`.
    Reject,
    /// `default: insecureAcceptAnything`.
    Accept,
    /// Admitted with a warning: cannot be expressed; exported as accept.
    Warn,
}

/// The files of an export.
#[derive(Debug, Clone)]
pub struct CrioExport {
    /// `policy.json`.
    pub global: Value,
    /// `<namespace>.json`, for namespaces whose rules differ from the global ones.
    pub namespaces: BTreeMap<String, Value>,
    /// What could not be expressed exactly, each once.
    pub findings: Vec<ExportFinding>,
}

/// Why nothing was exported.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExportError {
    /// The input is already a containers-policy.json.
    #[error("the policy is already a containers-policy.json; give it to CRI-O as it is")]
    AlreadyContainersPolicy,
}

/// Export `set` (and its per-namespace sets), with `unmatched` for images no policy covers.
pub fn export_crio(set: &PolicySet, unmatched: Unmatched) -> Result<CrioExport, ExportError> {
    if set.is_containers_policy() {
        return Err(ExportError::AlreadyContainersPolicy);
    }
    let mut findings = Vec::new();
    if unmatched == Unmatched::Warn {
        findings.push(ExportFinding {
            severity: Severity::Inexact,
            policy: "--no-match warn".into(),
            message: "images no policy covers are admitted without the warning (default: insecureAcceptAnything)".into(),
        });
    }
    if let Some(notation) = set.notation() {
        for (scopes, policy) in notation.statements() {
            findings.push(ExportFinding {
                severity: Severity::Refuses,
                policy: policy.display_name(),
                message: format!(
                    "not carried (registryScopes {}): containers-policy.json cannot verify \
                     Notary Project (Notation) signatures, so CRI-O would refuse or admit \
                     these images regardless of their Notation signatures",
                    scopes.join(", ")
                ),
            });
        }
    }
    let cluster: Vec<&ImagePolicy> = set
        .policies()
        .iter()
        .filter(|p| p.namespace.is_none())
        .collect();
    let global = policy_json(&cluster, unmatched, &mut findings);
    let mut namespaces = BTreeMap::new();
    let named: BTreeSet<&str> = set
        .policies()
        .iter()
        .filter_map(|p| p.namespace.as_deref())
        .collect();
    for namespace in named {
        let policies: Vec<&ImagePolicy> = set
            .policies()
            .iter()
            .filter(|p| p.namespace.is_none() || p.namespace.as_deref() == Some(namespace))
            .collect();
        let json = policy_json(&policies, unmatched, &mut findings);
        if json != global {
            namespaces.insert(namespace.to_string(), json);
        }
    }
    for (namespace, nested) in set.namespace_sets() {
        let inner =
            export_crio(nested, unmatched).map_err(|_| ExportError::AlreadyContainersPolicy)?;
        findings.extend(inner.findings);
        namespaces.insert(namespace.to_string(), inner.global);
    }
    let mut unique = Vec::new();
    for finding in findings {
        if !unique.contains(&finding) {
            unique.push(finding);
        }
    }
    Ok(CrioExport {
        global,
        namespaces,
        findings: unique,
    })
}

/// A scope key: `""` is the transport default.
type ScopeKey = String;

fn policy_json(
    policies: &[&ImagePolicy],
    unmatched: Unmatched,
    findings: &mut Vec<ExportFinding>,
) -> Value {
    let mut by_scope: BTreeMap<ScopeKey, BTreeSet<usize>> = BTreeMap::new();
    let mut reqs: Vec<Vec<Value>> = Vec::new();
    for (index, policy) in policies.iter().enumerate() {
        reqs.push(requirements(policy, findings));
        for scope in scopes_of(policy, unmatched, findings) {
            by_scope.entry(scope).or_default().insert(index);
        }
    }
    let mut docker = serde_json::Map::new();
    for scope in by_scope.keys() {
        let mut covering: BTreeSet<usize> = BTreeSet::new();
        for candidate in std::iter::once(scope.clone()).chain(ancestors(scope)) {
            covering.extend(by_scope.get(&candidate).into_iter().flatten());
        }
        // Namespaced policies only add requirements: where no cluster policy covers a scope,
        // images there are unmatched, whatever the namespaced ones require.
        let namespaced_only = covering.iter().all(|i| policies[*i].namespace.is_some());
        let list: Vec<Value> = match (namespaced_only, unmatched) {
            (true, Unmatched::Reject) => vec![json!({"type": "reject"})],
            _ => covering.iter().flat_map(|i| reqs[*i].clone()).collect(),
        };
        docker.insert(scope.clone(), Value::Array(list));
    }
    let default = match unmatched {
        Unmatched::Reject => json!([{"type": "reject"}]),
        Unmatched::Accept | Unmatched::Warn => json!([{"type": "insecureAcceptAnything"}]),
    };
    match docker.is_empty() {
        true => json!({"default": default}),
        false => json!({"default": default, "transports": {"docker": docker}}),
    }
}

/// The scopes a policy's globs stand for, with a finding for each glob that is not exactly one.
/// A scope wider than its glob gives the policy's requirements to images Signet leaves to
/// `default`: stricter than Signet when `default` accepts. A glob left out leaves its images to
/// `default`: stricter than Signet when `default` rejects.
fn scopes_of(
    policy: &ImagePolicy,
    unmatched: Unmatched,
    findings: &mut Vec<ExportFinding>,
) -> Vec<ScopeKey> {
    let (widened, left_out) = match unmatched {
        Unmatched::Reject => (Severity::Inexact, Severity::Refuses),
        Unmatched::Accept | Unmatched::Warn => (Severity::Refuses, Severity::Inexact),
    };
    let globs: Vec<&str> = policy.images.iter().map(|g| g.normalised()).collect();
    let mut out = Vec::new();
    let mut report = |severity: Severity, message: String| {
        findings.push(ExportFinding {
            severity,
            policy: policy.display_name(),
            message,
        })
    };
    for glob in &globs {
        let wild = |s: &str| s.contains(['*', '?']);
        if *glob == "**" {
            out.push(String::new());
        } else if let Some(prefix) = glob.strip_suffix("/**").filter(|p| !wild(p)) {
            let repository_like = prefix.contains('/');
            if repository_like && !globs.contains(&prefix) {
                report(
                    widened,
                    format!(
                        "glob {glob} becomes the scope {prefix}, which also covers the repository \
                     {prefix} itself; add the glob {prefix} to say the same"
                    ),
                );
            }
            out.push(prefix.to_string());
        } else if let Some(host) = glob
            .strip_suffix("/**")
            .filter(|p| p.starts_with("*.") && !wild(&p[2..]))
        {
            report(
                widened,
                format!(
                    "glob {glob} becomes the scope {host}, which also covers those hosts with a port"
                ),
            );
            out.push(host.to_string());
        } else if !wild(glob) {
            let has_tag =
                glob.contains('@') || glob.rsplit('/').next().is_some_and(|l| l.contains(':'));
            if !has_tag && !globs.contains(&format!("{glob}/**").as_str()) {
                report(
                    widened,
                    format!(
                        "glob {glob} becomes the scope {glob}, which also covers the repositories under \
                     it; add the glob {glob}/** to say the same"
                    ),
                );
            }
            out.push(glob.to_string());
        } else {
            report(
                left_out,
                format!(
                    "glob {glob} is not a containers-policy.json scope (scopes are a host, a \
                     namespace, a repository, one image, or *.domain): CRI-O would judge its \
                     images by `default` instead of this policy"
                ),
            );
        }
    }
    out
}

/// The less specific scopes that also cover every image of `scope`, as containers/image would
/// try them after it (see `scope.rs`), ending with the transport default.
fn ancestors(scope: &str) -> Vec<ScopeKey> {
    if scope.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let name = match scope.split_once('@') {
        Some((name, _)) => name.to_string(),
        None => {
            let last = scope.rsplit('/').next().unwrap_or(scope);
            match (scope.contains('/'), last.rfind(':')) {
                (true, Some(i)) => scope[..scope.len() - last.len() + i].to_string(),
                _ => scope.to_string(),
            }
        }
    };
    if name != scope {
        out.push(name.clone());
    }
    let mut current = name.as_str();
    while let Some(slash) = current.rfind('/') {
        current = &current[..slash];
        out.push(current.to_string());
    }
    let host = current.strip_prefix("*.").unwrap_or(current);
    let mut host = host.split(':').next().unwrap_or(host).to_string();
    while let Some(dot) = host.find('.') {
        host = host[dot + 1..].to_string();
        out.push(format!("*.{host}"));
    }
    out.push(String::new());
    out
}

#[cfg(test)]
mod tests;
