//! `spec.match`: the objects a policy applies to, as policy-controller's
//! `GetMatchingPolicies` decides (`pkg/apis/config/image_policies.go`): a policy with match
//! entries applies only when one entry has the object's resource and group exactly, its
//! version exactly or `*`, and (if it has a selector) a label selector the object's own labels
//! satisfy. A selector policy-controller would fail on at review time (an unknown operator,
//! `In` without values, ...) is refused here at load instead.

use std::collections::BTreeMap;

use serde_yaml::Value;

use super::cluster_image_policy as wire;
use super::compile::Findings;
use crate::policy::field_error::join;
use crate::workload::ResourceIdentity;

/// At most this many match entries, and label requirements per selector.
pub(super) const MAX_MATCH_ENTRIES: usize = 100;

/// One `spec.match[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceMatch {
    /// API group (`""`: core).
    pub group: String,
    /// API version, or `*` for any.
    pub version: String,
    /// Lower-case plural resource (`deployments`).
    pub resource: String,
    /// Label selector on the object's own labels; `None` selects every object.
    pub selector: Option<Vec<LabelRequirement>>,
}

/// One requirement of a label selector (`matchLabels` entries are `In` with one value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelRequirement {
    /// The label key.
    pub key: String,
    /// What the label must satisfy.
    pub operator: LabelOperator,
}

/// Kubernetes' label selector operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelOperator {
    /// The label is one of these values.
    In(Vec<String>),
    /// The label is absent or none of these values.
    NotIn(Vec<String>),
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
}

impl ResourceMatch {
    /// Whether `object` is one this entry selects.
    pub fn matches(&self, object: &ResourceIdentity) -> bool {
        self.resource == object.resource
            && (self.version == object.version || self.version == "*")
            && self.group == object.group
            && self
                .selector
                .as_ref()
                .is_none_or(|requirements| requirements.iter().all(|r| r.matches(&object.labels)))
    }

    /// `apps/v1/deployments` with the selector, for `policy check` and fingerprints.
    pub fn describe(&self) -> String {
        let gvr = format!("{}/{}/{}", self.group, self.version, self.resource);
        match &self.selector {
            None => gvr,
            Some(requirements) => {
                let shown: Vec<String> = requirements
                    .iter()
                    .map(LabelRequirement::describe)
                    .collect();
                format!("{gvr} labels {{{}}}", shown.join(", "))
            }
        }
    }
}

impl LabelRequirement {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match &self.operator {
            LabelOperator::In(values) => value.is_some_and(|v| values.contains(v)),
            LabelOperator::NotIn(values) => value.is_none_or(|v| !values.contains(v)),
            LabelOperator::Exists => value.is_some(),
            LabelOperator::DoesNotExist => value.is_none(),
        }
    }

    fn describe(&self) -> String {
        let key = &self.key;
        match &self.operator {
            LabelOperator::In(v) => format!("{key} in ({})", v.join(",")),
            LabelOperator::NotIn(v) => format!("{key} notin ({})", v.join(",")),
            LabelOperator::Exists => key.clone(),
            LabelOperator::DoesNotExist => format!("!{key}"),
        }
    }
}

/// Compile `spec.match`; findings name the field of anything refused.
pub(super) fn compile_match(
    entries: &[wire::MatchResource],
    findings: &mut Findings,
) -> Vec<ResourceMatch> {
    if entries.len() > MAX_MATCH_ENTRIES {
        let reason = format!(
            "{} match entries exceed Signet's limit of {MAX_MATCH_ENTRIES}",
            entries.len()
        );
        findings.add("spec.match", reason);
        return Vec::new();
    }
    entries
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            let at = format!("spec.match[{i}]");
            let selector = match &m.selector {
                None => None,
                Some(s) => Some(compile_selector(s, &join(&at, "selector"), findings)?),
            };
            Some(ResourceMatch {
                group: m.group.clone(),
                version: m.version.clone(),
                resource: m.resource.clone(),
                selector,
            })
        })
        .collect()
}

fn compile_selector(
    s: &wire::LabelSelector,
    at: &str,
    findings: &mut Findings,
) -> Option<Vec<LabelRequirement>> {
    if s.match_labels.len() + s.match_expressions.len() > MAX_MATCH_ENTRIES {
        let reason = format!("more than {MAX_MATCH_ENTRIES} label requirements (Signet's limit)");
        findings.add(at, reason);
        return None;
    }
    let mut requirements: Vec<LabelRequirement> = s
        .match_labels
        .iter()
        .map(|(key, value)| LabelRequirement {
            key: key.clone(),
            operator: LabelOperator::In(vec![value.clone()]),
        })
        .collect();
    for (i, expression) in s.match_expressions.iter().enumerate() {
        let path = format!("{at}.matchExpressions[{i}]");
        match expression_requirement(expression) {
            Ok(r) => requirements.push(r),
            Err(why) => {
                findings.add(&path, why);
                return None;
            }
        }
    }
    Some(requirements)
}

/// One `matchExpressions` entry, with `LabelSelectorAsSelector`'s rules: `In`/`NotIn` need
/// values, `Exists`/`DoesNotExist` take none, other operators are errors.
fn expression_requirement(expression: &Value) -> Result<LabelRequirement, String> {
    let field = |name: &str| expression.get(name);
    let key = field("key").and_then(Value::as_str).unwrap_or_default();
    if key.is_empty() {
        return Err("a label requirement needs a key".into());
    }
    let operator = field("operator")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let values: Option<Vec<String>> = match field("values") {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(Value::Sequence(items)) => {
            items.iter().map(|v| v.as_str().map(String::from)).collect()
        }
        Some(_) => None,
    };
    let values = values.ok_or("values must be a list of strings")?;
    let operator = match (operator, values.is_empty()) {
        ("In", false) => LabelOperator::In(values),
        ("NotIn", false) => LabelOperator::NotIn(values),
        ("Exists", true) => LabelOperator::Exists,
        ("DoesNotExist", true) => LabelOperator::DoesNotExist,
        ("In" | "NotIn", true) => return Err(format!("operator {operator} needs values")),
        ("Exists" | "DoesNotExist", false) => {
            return Err(format!("operator {operator} takes no values"));
        }
        _ => {
            return Err(format!(
                "operator {operator:?} is not In, NotIn, Exists or DoesNotExist"
            ));
        }
    };
    Ok(LabelRequirement {
        key: key.to_string(),
        operator,
    })
}

#[cfg(test)]
mod tests;
