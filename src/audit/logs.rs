//! The webhook's would-deny log lines: written by the server for every image a warn-mode policy
//! or `--dry-run` let through that enforce mode would refuse, and folded back into an audit
//! report by `signet audit --from-logs`. Writer and reader live here so the format has one owner.
//!
//! A line is a `tracing` event with target [`LOG_TARGET`] and message [`WOULD_DENY`]; with
//! `--log-format json` it reads
//! `{"timestamp":…,"level":"WARN","fields":{"message":"would deny","namespace":…,"kind":…,
//! "name":…,"container":…,"image":…,"digest":…,"code":…,"reason":…,"answer":…},
//! "target":"signet::audit"}`, where `answer` is the line the webhook sent back as a warning.
//! Any other line (text logs, other events) is ignored by the reader.

use std::collections::HashSet;
use std::io::BufRead;

use kube::core::DynamicObject;
use kube::core::admission::AdmissionRequest;
use serde_json::Value;

use super::{Finding, Status, Target};
use crate::verdict::{Decision, Outcome};

/// The `tracing` target of would-deny lines.
pub const LOG_TARGET: &str = "signet::audit";
/// The message of would-deny lines.
pub const WOULD_DENY: &str = "would deny";
/// The `source` of findings read from log lines.
pub const LOG_SOURCE: &str = "webhook-log";
/// Longest line read; longer ones are skipped.
pub const MAX_LINE_BYTES: usize = 256 * 1024;

/// The object an admission request was about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    /// `apps/v1`.
    pub api_version: String,
    /// `Deployment`.
    pub kind: String,
    /// metadata.name; for a CREATE that carries only `generateName` (the apiserver fills the
    /// name in before validating admission, so this is rare), the `generateName` prefix
    /// (`web-7d9f-`): it is what is there, and it names the family of objects.
    pub name: String,
    /// The request's namespace.
    pub namespace: Option<String>,
    /// metadata.uid, when the object has one already (not on CREATE).
    pub uid: Option<String>,
    /// The controller owner (`ownerReferences[].controller: true`): the ReplicaSet of a Pod.
    pub controller: Option<Owner>,
}

/// An owner reference of the reviewed object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Owner {
    /// `apps/v1`.
    pub api_version: String,
    /// `ReplicaSet`.
    pub kind: String,
    /// metadata.name of the owner.
    pub name: String,
    /// metadata.uid of the owner.
    pub uid: String,
}

impl Subject {
    /// The object of an admission request: the request's kind and names, the object's
    /// metadata (or the old object's, for a DELETE).
    pub fn of(request: &AdmissionRequest<DynamicObject>) -> Self {
        let kind = &request.kind;
        let api_version = match kind.group.as_str() {
            "" => kind.version.clone(),
            group => format!("{group}/{}", kind.version),
        };
        let meta = request
            .object
            .as_ref()
            .or(request.old_object.as_ref())
            .map(|o| &o.metadata);
        let name = [
            Some(&request.name).filter(|n| !n.is_empty()),
            meta.and_then(|m| m.name.as_ref()),
            meta.and_then(|m| m.generate_name.as_ref()),
        ]
        .into_iter()
        .flatten()
        .find(|n| !n.is_empty())
        .cloned()
        .unwrap_or_default();
        let controller = meta
            .and_then(|m| m.owner_references.as_ref())
            .and_then(|refs| refs.iter().find(|r| r.controller == Some(true)))
            .map(|r| Owner {
                api_version: r.api_version.clone(),
                kind: r.kind.clone(),
                name: r.name.clone(),
                uid: r.uid.clone(),
            });
        Self {
            api_version,
            kind: kind.kind.clone(),
            name,
            namespace: request.namespace.clone(),
            uid: meta.and_then(|m| m.uid.clone()).filter(|u| !u.is_empty()),
            controller,
        }
    }
}

/// The message enforce mode would deny with, for a decision the webhook admitted: warn-mode
/// verdicts, or everything under `dry_run`. `None` when nothing would be denied, and when the
/// request was denied anyway: the client got the message itself, and no object exists to
/// attach anything to.
pub fn enforced_message(decision: &Decision, dry_run: bool) -> Option<String> {
    if !dry_run && !decision.allowed() {
        return None;
    }
    decision.enforced().deny_message()
}

/// Log one line per image the webhook let through but enforce mode would refuse: warnings
/// always, denials when `dry_run` turned them into warnings.
pub fn record(subject: &Subject, decision: &Decision, dry_run: bool) {
    for finding in would_deny(subject, decision, dry_run) {
        tracing::warn!(
            target: LOG_TARGET,
            namespace = finding.namespace.as_deref().unwrap_or(""),
            api_version = %finding.api_version,
            kind = %finding.kind,
            name = %finding.name,
            path = %finding.path,
            container = %finding.container,
            image = %finding.image,
            digest = finding.digest.as_deref().unwrap_or(""),
            outcome = finding.outcome.label(),
            code = %finding.code,
            policy = finding.policy.as_deref().unwrap_or(""),
            reason = %finding.reason,
            answer = finding.message.as_deref().unwrap_or(""),
            "{WOULD_DENY}"
        );
    }
}

/// The findings [`record`] logs.
pub fn would_deny(subject: &Subject, decision: &Decision, dry_run: bool) -> Vec<Finding> {
    let target = Target {
        source: LOG_SOURCE.to_string(),
        api_version: subject.api_version.clone(),
        kind: subject.kind.clone(),
        name: subject.name.clone(),
        namespace: subject.namespace.clone(),
        uses: Ok(Vec::new()),
        running: false,
        owner: None,
        labels: Default::default(),
    };
    let mut out = Vec::new();
    if let (true, Some(reason)) = (dry_run, &decision.object_failure) {
        out.push(Finding::unreadable(&target, &reason_detail(reason)));
    }
    for verdict in &decision.verdicts {
        if logged(&verdict.outcome, dry_run) {
            out.push(Finding::from_verdict(&target, verdict.clone()));
        }
    }
    out
}

/// Whether [`record`] logs anything for `decision`: the server asks first, so that a review
/// that logs nothing (most of them) does not build the [`Subject`] it would name.
pub fn records_anything(decision: &Decision, dry_run: bool) -> bool {
    (dry_run && decision.object_failure.is_some())
        || decision
            .verdicts
            .iter()
            .any(|v| logged(&v.outcome, dry_run))
}

/// Warnings are logged always, denials when `dry_run` turned them into warnings.
fn logged(outcome: &Outcome, dry_run: bool) -> bool {
    match outcome {
        Outcome::Warn(_) => true,
        Outcome::Deny(_) => dry_run,
        Outcome::Admit(..) => false,
    }
}

fn reason_detail(reason: &crate::verdict::Reason) -> String {
    match reason {
        crate::verdict::Reason::InvalidObject(detail) => detail.clone(),
        other => other.to_string(),
    }
}

/// Findings read from a log, distinct, and how many would-deny lines held them.
#[derive(Debug, Default)]
pub struct Folded {
    /// One per distinct (object, container, image, digest, code).
    pub findings: Vec<Finding>,
    /// Would-deny lines read.
    pub lines: usize,
    /// Lines read at all.
    pub read: usize,
    /// Lines that are JSON log events (`--log-format json`), would-deny or not: none at all
    /// means the file is not a log the reader understands (a text log, the wrong file).
    pub events: usize,
}

/// Read would-deny lines from `reader`, ignoring everything else.
pub fn fold(mut reader: impl BufRead) -> std::io::Result<Folded> {
    let mut folded = Folded::default();
    let mut seen = HashSet::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(folded);
        }
        folded.read += 1;
        if line.len() > MAX_LINE_BYTES {
            continue;
        }
        if is_event(&line) {
            folded.events += 1;
        }
        let Some(finding) = parse_line(&line) else {
            continue;
        };
        folded.lines += 1;
        let key = (
            finding.namespace.clone(),
            finding.object(),
            finding.path.clone(),
            finding.image.clone(),
            finding.digest.clone(),
            finding.code.clone(),
        );
        if seen.insert(key) {
            folded.findings.push(finding);
        }
    }
}

/// A JSON log event as `tracing`'s JSON format writes it: an object with `level` and `target`.
fn is_event(line: &[u8]) -> bool {
    serde_json::from_slice::<Value>(line)
        .is_ok_and(|v| v.get("level").is_some() && v.get("target").is_some())
}

/// One would-deny line as a finding; `None` for any other line.
pub fn parse_line(line: &[u8]) -> Option<Finding> {
    let value: Value = serde_json::from_slice(line).ok()?;
    if value.get("target")?.as_str()? != LOG_TARGET {
        return None;
    }
    let fields = value.get("fields").unwrap_or(&value);
    let text = |key: &str| fields.get(key).and_then(Value::as_str).unwrap_or("");
    let optional = |key: &str| Some(text(key).to_string()).filter(|s| !s.is_empty());
    if text("message") != WOULD_DENY {
        return None;
    }
    let outcome = match text("outcome") {
        "warn" => Status::Warn,
        "error" => Status::Error,
        _ => Status::Deny,
    };
    let reason = text("reason").to_string();
    Some(Finding {
        namespace: optional("namespace"),
        api_version: text("api_version").to_string(),
        kind: text("kind").to_string(),
        name: text("name").to_string(),
        source: LOG_SOURCE.to_string(),
        path: text("path").to_string(),
        container: text("container").to_string(),
        image: text("image").to_string(),
        digest: optional("digest"),
        running: false,
        pods: 0,
        outcome,
        code: text("code").to_string(),
        policy: optional("policy"),
        reason,
        message: optional("answer"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::{ImageVerdict, Reason};
    use crate::workload::ImageUse;

    fn verdict(outcome: Outcome) -> ImageVerdict {
        ImageVerdict {
            usage: ImageUse {
                path: "spec.containers[0]".into(),
                container: "app".into(),
                image: "registry.example/app:v1".into(),
            },
            reference: None,
            digest: None,
            outcome,
        }
    }

    /// The server skips building the subject when `records_anything` says no: it must say yes
    /// exactly when `would_deny` finds something, for every mix of outcomes and both modes.
    #[test]
    fn records_anything_is_exactly_when_would_deny_finds_something() {
        let admit = || Outcome::Admit("Verified", "signed".into());
        let warn = || Outcome::Warn(Reason::NoPolicyMatch);
        let deny = || Outcome::Deny(Reason::NoPolicyMatch);
        let mixes: Vec<Vec<Outcome>> = vec![
            vec![],
            vec![admit()],
            vec![admit(), warn()],
            vec![deny()],
            vec![admit(), deny()],
            vec![warn(), deny()],
        ];
        let mut both = (0, 0);
        for outcomes in mixes {
            for object_failure in [None, Some(Reason::InvalidObject("not a pod".into()))] {
                let decision = Decision {
                    verdicts: outcomes.iter().cloned().map(verdict).collect(),
                    object_failure,
                };
                for dry_run in [false, true] {
                    let found = !would_deny(&Subject::default(), &decision, dry_run).is_empty();
                    assert_eq!(
                        records_anything(&decision, dry_run),
                        found,
                        "{decision:?} {dry_run}"
                    );
                    match found {
                        true => both.0 += 1,
                        false => both.1 += 1,
                    }
                }
            }
        }
        assert!(
            both.0 > 5 && both.1 > 5,
            "{both:?}: the cases do not cover both answers"
        );
    }
}
