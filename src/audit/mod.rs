//! The audit: what a set of objects would meet under the current policy, before anyone switches
//! the webhook to enforce. The objects come from a GitOps repository ([`manifests`]), a running
//! cluster ([`cluster`]) or the webhook's would-deny log lines ([`logs`]); the verdicts come from
//! the same [`Engine::review`](crate::engine::Engine::review) the webhook calls, so a finding
//! carries the reason text the webhook would give, word for word.
//!
//! This module decides nothing itself: [`evaluate`] asks the engine once per distinct
//! (namespace, image) with bounded parallelism and attaches the answer to every container that
//! uses it. The renderers ([`table`], [`html`], [`policy_report`], and the JSON [`Report`]) only
//! present findings.

pub mod cluster;
mod evaluate;
pub mod html;
pub mod logs;
pub mod manifests;
pub mod policy_report;
mod report;
pub mod table;

use serde::{Deserialize, Serialize};

use crate::verdict::{Decision, ImageVerdict, Outcome, Reason};
use crate::workload::ImageUse;

pub use evaluate::{Progress, evaluate};
pub use report::{NamespaceSummary, REPORT_API_VERSION, Report, Summary};

/// One object whose images are audited.
#[derive(Debug, Clone)]
pub struct Target {
    /// Where it was found: a file path relative to the audited directory, or `cluster`.
    pub source: String,
    /// The object's apiVersion (`apps/v1`).
    pub api_version: String,
    /// The object's kind (`Deployment`).
    pub kind: String,
    /// metadata.name.
    pub name: String,
    /// metadata.namespace; `None` for a manifest that names none.
    pub namespace: Option<String>,
    /// The image uses of its pods, or why they could not be read (a denial, as in the webhook).
    pub uses: Result<Vec<ImageUse>, String>,
    /// `true` for a running Pod whose images are the digests its containers run.
    pub running: bool,
    /// The workload (`Deployment/web`, same namespace) that owns this Pod, when one is audited.
    pub owner: Option<String>,
    /// metadata.labels, for policies' `spec.match`.
    pub labels: std::collections::BTreeMap<String, String>,
}

impl Target {
    /// `Kind/name`.
    pub fn object(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }

    /// The object as policies' `spec.match` sees it.
    pub fn resource(&self) -> crate::workload::ResourceIdentity {
        crate::workload::ResourceIdentity::of_api_version(
            &self.api_version,
            &self.kind,
            self.labels.clone(),
        )
    }
}

/// What an image use met: the webhook's outcome, with registry failures told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Admitted.
    Admit,
    /// Admitted with a warning (warn mode, or a failure the policy turns into a warning).
    Warn,
    /// Denied because of the image's signatures, the policy or the object.
    Deny,
    /// Denied because the registry could not answer in time: nothing is known about the image.
    Error,
}

impl Status {
    /// Every status, in report order.
    pub const ALL: [Status; 4] = [Status::Admit, Status::Warn, Status::Deny, Status::Error];

    /// `admit`, `warn`, `deny` or `error`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Admit => "admit",
            Self::Warn => "warn",
            Self::Deny => "deny",
            Self::Error => "error",
        }
    }

    /// Would the webhook in enforce mode refuse it?
    pub fn refused(self) -> bool {
        matches!(self, Self::Deny | Self::Error)
    }

    fn of(outcome: &Outcome) -> Self {
        match outcome {
            Outcome::Admit(..) => Self::Admit,
            Outcome::Warn(_) => Self::Warn,
            // The registry answered that the image does not exist: a definite denial, as
            // `review` counts it, not a failure to ask.
            Outcome::Deny(reason @ Reason::Registry(_)) if reason.code() == "ImageNotFound" => {
                Self::Deny
            }
            Outcome::Deny(
                Reason::Registry(_)
                | Reason::Timeout(_)
                | Reason::PullCredentials(_)
                | Reason::CredentialProvider { .. },
            ) => Self::Error,
            Outcome::Deny(_) => Self::Deny,
        }
    }
}

/// One container (or image volume) of one object, and what it met. Field names are the stable
/// JSON schema documented in docs/audit.md.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// metadata.namespace, `null` when the object names none.
    pub namespace: Option<String>,
    /// apiVersion of the object.
    pub api_version: String,
    /// Kind of the object.
    pub kind: String,
    /// metadata.name.
    pub name: String,
    /// File (relative to the audited directory), `cluster`, or `webhook-log`.
    pub source: String,
    /// JSON path of the container within the object (`spec.containers[0]`), `-` for the object.
    pub path: String,
    /// Container (or image volume) name.
    pub container: String,
    /// The image as written in the object.
    pub image: String,
    /// The digest verified: the running digest for a Pod, the resolved one for a template.
    pub digest: Option<String>,
    /// `true` when `digest` is what the container runs now (from the Pod's status).
    pub running: bool,
    /// Pods of this workload that run exactly what this finding verified and are not listed.
    pub pods: u32,
    /// admit, warn, deny or error.
    pub outcome: Status,
    /// Stable code (`Verified`, `NoSignature`, `RegistryUnavailable` …).
    pub code: String,
    /// The policy that refused the image, when one did.
    pub policy: Option<String>,
    /// Why: the admit note, or the reason text the webhook gives.
    pub reason: String,
    /// The line the webhook would answer for this container (deny message or warning).
    pub message: Option<String>,
}

impl Finding {
    /// `Kind/name`.
    pub fn object(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }

    /// The finding for one verdict of `target`, worded exactly as the webhook words it.
    pub fn from_verdict(target: &Target, verdict: ImageVerdict) -> Self {
        let reason = match &verdict.outcome {
            Outcome::Admit(_, note) => note.clone(),
            Outcome::Warn(r) | Outcome::Deny(r) => verdict.reason_text(r),
        };
        let policy = match verdict.outcome.reason() {
            Some(Reason::PolicyFailed { policy, .. }) => Some(policy.clone()),
            _ => None,
        };
        let status = Status::of(&verdict.outcome);
        let code = verdict.outcome.code().to_string();
        let digest = verdict
            .digest
            .as_ref()
            .map(ToString::to_string)
            .or_else(|| {
                let reference = verdict.reference.as_deref()?;
                reference.split_once('@').map(|(_, d)| d.to_string())
            });
        let usage = verdict.usage.clone();
        let single = Decision {
            verdicts: vec![verdict],
            object_failure: None,
        };
        let message = single
            .deny_message()
            .or_else(|| single.warnings().into_iter().next());
        Self {
            path: usage.path,
            container: usage.container,
            image: usage.image,
            digest,
            running: target.running,
            outcome: status,
            code,
            policy,
            reason,
            message,
            ..Self::for_object(target)
        }
    }

    /// The finding for an object whose images could not be read: denied as a whole.
    pub fn unreadable(target: &Target, detail: &str) -> Self {
        let reason = Reason::InvalidObject(detail.to_string());
        Self {
            outcome: Status::Deny,
            code: reason.code().to_string(),
            message: Decision::invalid_object(detail).deny_message(),
            reason: reason.to_string(),
            ..Self::for_object(target)
        }
    }

    fn for_object(target: &Target) -> Self {
        Self {
            namespace: target.namespace.clone(),
            api_version: target.api_version.clone(),
            kind: target.kind.clone(),
            name: target.name.clone(),
            source: target.source.clone(),
            path: "-".to_string(),
            container: "-".to_string(),
            image: "-".to_string(),
            digest: None,
            running: target.running,
            pods: 0,
            outcome: Status::Deny,
            code: String::new(),
            policy: None,
            reason: String::new(),
            message: None,
        }
    }
}
