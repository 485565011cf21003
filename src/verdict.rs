//! Verdicts: the outcome for each image, folded into one decision, and the one place where
//! messages are written. There is no constructor that turns a failure into an admit.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::policy::REJECT_MESSAGE;
use crate::reference::Digest;
use crate::registry::RegistryError;
use crate::signature::Mismatch;
use crate::workload::ImageUse;

/// The reason code kube-apiserver shows for every denial, as CRI-O uses it for rejected pulls.
pub const DENY_REASON: &str = "SignatureValidationFailed";

/// Admit code: a signature was verified for the image.
pub const VERIFIED: &str = "Verified";
/// Admit code: a `static: pass` authority (containers-policy.json `insecureAcceptAnything`)
/// admitted the image without verifying anything; kept apart so that counts of verified images
/// are true.
pub const ACCEPTED_UNVERIFIED: &str = "AcceptedUnverified";

/// Why an image was not admitted outright.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The object could not be read (missing pod spec, container without an image …).
    InvalidObject(String),
    /// The image reference does not parse.
    InvalidReference(String),
    /// No policy covers the image and the no-match action is not allow.
    NoPolicyMatch,
    /// A policy covering the image was satisfied by none of its authorities.
    PolicyFailed {
        /// The policy's name.
        policy: String,
        /// Each authority and why it was not satisfied.
        authorities: Vec<AuthorityFailure>,
    },
    /// The registry could not answer for the image.
    Registry(RegistryError),
    /// The whole-review deadline passed before this image was decided.
    Timeout(Duration),
    /// The pod's own registry credentials (its pull secrets, its service account's) could not
    /// be read, so the registry could not be asked as the pod would be.
    PullCredentials(String),
    /// A credential provider plugin (`--image-credential-provider-config`) failed, and the
    /// registry then refused or failed the read made without its credentials.
    CredentialProvider {
        /// Each plugin that failed, and why.
        failures: String,
        /// What the registry then answered.
        registry: RegistryError,
    },
    /// `spec.requireDigest`: the reference names no digest.
    DigestRequired {
        /// The policy that requires it.
        policy: String,
        /// `registry/repo:tag@sha256:…` to write, when the tag resolved to a verified digest.
        pinned: Option<String>,
    },
    /// `spec.multiArch`: the index is not signed (or does not count) and one of its platform
    /// manifests that must be signed is not.
    PlatformUnsigned {
        /// `indexOrPlatform` or `allPlatforms`.
        mode: &'static str,
        /// The index digest.
        index: Digest,
        /// The child's platform, `linux/arm64`.
        platform: String,
        /// The child's digest.
        digest: Digest,
        /// Why the child was refused.
        cause: Box<Reason>,
    },
    /// `spec.placeholders`: an injector's placeholder where no policy exempts it, or left in a
    /// Pod (its injector did not run).
    Placeholder {
        /// The placeholder as written (`auto`).
        image: String,
        /// Why it is refused, and how to exempt it where that is safe.
        why: String,
    },
    /// Only namespaced `ImagePolicy` objects cover the image, and they add requirements to the
    /// cluster's policies: they cannot admit what no cluster policy covers (unless
    /// `--namespaced-policies-may-admit`).
    OnlyNamespacedPolicies {
        /// `ImagePolicy <namespace>/<name>` of each covering policy.
        policies: Vec<String>,
    },
    /// The namespace holds more `ImagePolicy` objects than `--max-policies-per-namespace`: some
    /// of its requirements are not loaded, so none of its images is admitted.
    NamespacePolicyLimit {
        /// The namespace.
        namespace: String,
        /// `--max-policies-per-namespace`.
        limit: usize,
        /// The refused objects' names (sorted, at most a few named in the message).
        refused: Vec<String>,
    },
}

/// One authority of a policy and why it did not accept the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorityFailure {
    /// The authority's name.
    pub authority: String,
    /// What went wrong.
    pub cause: AuthorityCause,
}

/// What went wrong for one authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorityCause {
    /// A signature check failed.
    Signature(Mismatch),
    /// A `static: fail` authority.
    StaticFail(Option<String>),
    /// The authority cannot be checked (a Secret it names is missing or unusable): why, and
    /// what to do.
    Unusable(String),
    /// An attestation the authority requires was missing, unverified or refused by its policy.
    Attestation(AttestationFailure),
    /// No Notary Project (Notation) signature was accepted: the stable code (`NoSignature`,
    /// `NotationSignatureInvalid`) and why, naming each signature (`Notation signature
    /// sha256:…: …`).
    Notation(&'static str, String),
    /// The policy's `spec.policy` (over every authority that matched) refused the result: its
    /// own message.
    ResultPolicy(String),
}

/// Why one `attestations[]` entry of an authority was not satisfied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestationFailure {
    /// The authority's name.
    pub authority: String,
    /// The entry's `name`.
    pub name: String,
    /// Its `predicateType` as written.
    pub predicate_type: String,
    /// What was found instead, or the policy's own message.
    pub detail: String,
}

impl Reason {
    /// Stable code for annotations, JSON output and metric labels.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidObject(_) => "InvalidObject",
            Self::InvalidReference(_) => "InvalidReference",
            Self::NoPolicyMatch => "NoPolicyMatch",
            Self::PolicyFailed { authorities, .. } => authorities
                .first()
                .map(|a| match &a.cause {
                    AuthorityCause::Signature(m) => m.code(),
                    AuthorityCause::StaticFail(_) => "StaticFail",
                    AuthorityCause::Attestation(_) => "AttestationFailed",
                    AuthorityCause::Unusable(_) => "AuthorityUnusable",
                    AuthorityCause::Notation(code, _) => code,
                    AuthorityCause::ResultPolicy(_) => "PolicyEvaluationFailed",
                })
                .unwrap_or("PolicyFailed"),
            Self::Registry(e) => e.code(),
            Self::Timeout(_) => "Timeout",
            Self::PullCredentials(_) => "PullSecretsUnavailable",
            Self::CredentialProvider { .. } => "CredentialProviderFailed",
            Self::DigestRequired { .. } => "DigestRequired",
            Self::PlatformUnsigned { cause, .. } => cause.code(),
            Self::Placeholder { .. } => "Placeholder",
            Self::OnlyNamespacedPolicies { .. } => "NoPolicyMatch",
            Self::NamespacePolicyLimit { .. } => "NamespacePolicyLimit",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InvalidObject(detail) => write!(f, "cannot read the object: {detail}"),
            Self::InvalidReference(detail) => write!(f, "invalid image reference: {detail}"),
            Self::NoPolicyMatch => f.write_str(
                "no image policy covers this image (add a glob that matches it to a policy's \
                 spec.images; --no-match decides images no policy covers: deny, allow or warn)",
            ),
            Self::PolicyFailed {
                policy,
                authorities,
            } => write_policy_failure(f, policy, authorities),
            Self::Registry(e) => write!(f, "cannot verify: {e}"),
            Self::Timeout(after) => write!(
                f,
                "cannot verify: no answer within the {after:?} review deadline"
            ),
            Self::PullCredentials(detail) => {
                write!(f, "cannot read the pod's registry credentials: {detail}")
            }
            Self::CredentialProvider { failures, registry } => write!(
                f,
                "cannot verify: {failures}; read without its credentials: {registry}"
            ),
            Self::DigestRequired { policy, pinned } => match pinned {
                Some(pinned) => write!(
                    f,
                    "policy {policy:?} requires a digest (requireDigest): write {pinned}"
                ),
                None => write!(
                    f,
                    "policy {policy:?} requires a digest (requireDigest), and the tag could not be verified"
                ),
            },
            Self::PlatformUnsigned {
                mode,
                index,
                platform,
                digest,
                cause,
            } => write!(
                f,
                "the {platform} manifest {digest} of index {index} is not signed (multiArch: {mode}): {cause}"
            ),
            Self::Placeholder { image, why } => write!(f, "{image:?} is a placeholder: {why}"),
            Self::OnlyNamespacedPolicies { policies } => write!(
                f,
                "no cluster policy covers this image, and namespaced policies only add \
                 requirements to the cluster's, they cannot admit on their own (covering it: {}): \
                 ask the cluster's operator for a ClusterImagePolicy that covers it",
                policies.join(", ")
            ),
            Self::NamespacePolicyLimit {
                namespace,
                limit,
                refused,
            } => write_namespace_limit(f, namespace, *limit, refused),
        }
    }
}

fn write_policy_failure(
    f: &mut std::fmt::Formatter<'_>,
    policy: &str,
    authorities: &[AuthorityFailure],
) -> std::fmt::Result {
    write!(f, "Source image rejected by policy {policy:?}: ")?;
    match authorities {
        [one] => write!(f, "{}", one.cause),
        many => {
            f.write_str("none of its authorities accepted it: ")?;
            for (i, a) in many.iter().enumerate() {
                let sep = if i == 0 { "" } else { "; " };
                write!(f, "{sep}{}: {}", a.authority, a.cause)?;
            }
            Ok(())
        }
    }
}

fn write_namespace_limit(
    f: &mut std::fmt::Formatter<'_>,
    namespace: &str,
    limit: usize,
    refused: &[String],
) -> std::fmt::Result {
    const SHOWN: usize = 3;
    let mut names = refused
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if refused.len() > SHOWN {
        names.push_str(&format!(" and {} more", refused.len() - SHOWN));
    }
    write!(
        f,
        "namespace {namespace:?} has more ImagePolicy objects than Signet's limit of {limit} per \
         namespace (--max-policies-per-namespace), so {} of them ({names}) are not enforced and \
         no image in the namespace is admitted: delete ImagePolicy objects in {namespace:?} until \
         at most {limit} remain",
        refused.len()
    )
}

impl std::fmt::Display for AuthorityCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Signature(m) => write!(f, "{m}"),
            Self::StaticFail(Some(message)) if message == REJECT_MESSAGE => f.write_str(message),
            Self::StaticFail(Some(message)) => {
                write!(f, "rejected by a static authority: {message}")
            }
            Self::StaticFail(None) => f.write_str("rejected by a static authority"),
            Self::Attestation(a) => write!(
                f,
                "attestation {:?} ({}) from authority {:?}: {}",
                a.name, a.predicate_type, a.authority, a.detail
            ),
            Self::Unusable(reason) => write!(f, "cannot be checked: {reason}"),
            Self::Notation(_, why) => f.write_str(why),
            Self::ResultPolicy(message) => write!(f, "{message}"),
        }
    }
}

/// The outcome for one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Admitted: a stable code (`Verified`, `AcceptedUnverified`, `NoPolicyMatch`, `Unchanged`)
    /// and a note that says why (which authority or key, a static pass, the no-match action, an
    /// unchanged image of an UPDATE).
    Admit(&'static str, String),
    /// Admitted with a warning (warn mode, or a failure the policy turns into a warning).
    Warn(Reason),
    /// Denied.
    Deny(Reason),
}

impl Outcome {
    /// `admit`, `warn` or `deny`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Admit(..) => "admit",
            Self::Warn(_) => "warn",
            Self::Deny(_) => "deny",
        }
    }

    /// The reason, for warn and deny.
    pub fn reason(&self) -> Option<&Reason> {
        match self {
            Self::Admit(..) => None,
            Self::Warn(r) | Self::Deny(r) => Some(r),
        }
    }

    /// Stable code for annotations, JSON output and metric labels.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Admit(code, _) => code,
            Self::Warn(r) | Self::Deny(r) => r.code(),
        }
    }
}

/// The verdict for one use of an image in the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageVerdict {
    /// Where the image is used.
    pub usage: ImageUse,
    /// The normalised reference, when it parsed.
    pub reference: Option<String>,
    /// The digest every check used, when one was resolved.
    pub digest: Option<Digest>,
    /// What was decided.
    pub outcome: Outcome,
}

impl ImageVerdict {
    /// The text of `reason` for this image. A containers-policy.json `reject` names the image
    /// as containers/image does: `Running image docker://quay.io/x:latest is rejected by policy.`
    pub fn reason_text(&self, reason: &Reason) -> String {
        let text = self.policy_reason_text(reason);
        match is_bare_word(&self.usage.image) && !matches!(reason, Reason::Placeholder { .. }) {
            true => format!(
                "{text} (if {:?} is a placeholder that a sidecar injector replaces, name it in a \
                 policy's spec.placeholders with the injector's containers or namespaces)",
                self.usage.image
            ),
            false => text,
        }
    }

    fn policy_reason_text(&self, reason: &Reason) -> String {
        let text = reason.to_string();
        let rejected = matches!(reason, Reason::PolicyFailed { authorities, .. }
        if authorities.iter().any(|a| {
            matches!(&a.cause, AuthorityCause::StaticFail(Some(m)) if m == REJECT_MESSAGE)
        }));
        if !rejected {
            return text;
        }
        let image = self.reference.as_deref().unwrap_or(&self.usage.image);
        let sentence = REJECT_MESSAGE.replace("{image}", &transport_name(image));
        text.replace(REJECT_MESSAGE, &sentence)
    }

    /// `spec.containers[0] (app) image r/x:1@sha256:…`, the prefix of every message line.
    pub fn subject(&self) -> String {
        let image = self.reference.as_deref().unwrap_or(&self.usage.image);
        let digest = match &self.digest {
            Some(d) if !image.contains('@') => format!(" ({d})"),
            _ => String::new(),
        };
        format!(
            "{} ({}) image {image:?}{digest}",
            self.usage.path, self.usage.container
        )
    }
}

/// The decision for a whole object: one verdict per image use, or an object-level failure.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decision {
    /// Per image use, in the order the object lists them.
    pub verdicts: Vec<ImageVerdict>,
    /// A failure that concerns the whole object (it could not be read).
    pub object_failure: Option<Reason>,
}

impl Decision {
    /// A decision that denies an object that could not be read.
    pub fn invalid_object(detail: impl Into<String>) -> Self {
        Self {
            verdicts: Vec::new(),
            object_failure: Some(Reason::InvalidObject(detail.into())),
        }
    }

    /// Admitted only when nothing is denied and the object was readable.
    pub fn allowed(&self) -> bool {
        self.object_failure.is_none()
            && !self
                .verdicts
                .iter()
                .any(|v| matches!(v.outcome, Outcome::Deny(_)))
    }

    /// The decision enforce mode would give: every warning a denial. Its
    /// [`deny_message`](Self::deny_message) is what a warn-mode policy would answer once enforced.
    pub fn enforced(&self) -> Decision {
        let verdicts = self
            .verdicts
            .iter()
            .cloned()
            .map(|mut v| {
                v.outcome = match v.outcome {
                    Outcome::Warn(reason) => Outcome::Deny(reason),
                    other => other,
                };
                v
            })
            .collect();
        Decision {
            verdicts,
            object_failure: self.object_failure.clone(),
        }
    }

    /// `SignatureValidationFailed: <path> (<container>) image "<ref>" (<digest>): <reason>; …`
    /// naming only the denied images; `None` when admitted.
    pub fn deny_message(&self) -> Option<String> {
        if let Some(reason) = &self.object_failure {
            return Some(format!("{DENY_REASON}: {reason}"));
        }
        let lines: Vec<String> = self
            .verdicts
            .iter()
            .filter_map(|v| match &v.outcome {
                Outcome::Deny(reason) => {
                    Some(format!("{}: {}", v.subject(), v.reason_text(reason)))
                }
                _ => None,
            })
            .collect();
        (!lines.is_empty()).then(|| format!("{DENY_REASON}: {}", lines.join("; ")))
    }

    /// One warning per warned image (kube-apiserver shows them to the client).
    pub fn warnings(&self) -> Vec<String> {
        self.verdicts
            .iter()
            .filter_map(|v| match &v.outcome {
                Outcome::Warn(reason) => {
                    Some(format!("{}: {}", v.subject(), v.reason_text(reason)))
                }
                _ => None,
            })
            .collect()
    }

    /// Per-image outcome for the audit log: `signet.dev/<path>` -> `deny:NoSignature <ref>@<digest>`.
    pub fn audit_annotations(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        if let Some(reason) = &self.object_failure {
            out.insert("object".to_string(), format!("deny:{}", reason.code()));
        }
        for v in &self.verdicts {
            out.insert(annotation_key(&v.usage.path), annotation_value(v));
        }
        out
    }

    /// A machine-readable summary for the CLI's JSON output.
    pub fn report(&self) -> DecisionReport {
        DecisionReport {
            allowed: self.allowed(),
            message: self.deny_message(),
            warnings: self.warnings(),
            images: self.verdicts.iter().map(ImageReport::from).collect(),
        }
    }
}

/// A reference that is one word (`auto`, `nginx`): what injectors' placeholders look like, so a
/// denial of one says how a placeholder is exempted.
fn is_bare_word(image: &str) -> bool {
    !image.is_empty() && !image.contains(['/', ':', '@', '.'])
}

/// containers/image's `transports.ImageName` of a `docker:` image: `docker://` and the familiar
/// form of the reference (`busybox:latest`, `quay.io/x@sha256:…`; a tag beside a digest is
/// dropped, as CRI-O drops it).
fn transport_name(reference: &str) -> String {
    let without_tag = match reference.split_once('@') {
        Some((name, digest)) => {
            let last = name.rsplit('/').next().unwrap_or(name);
            match last.rfind(':') {
                Some(i) => format!("{}@{digest}", &name[..name.len() - last.len() + i]),
                None => reference.to_string(),
            }
        }
        None => reference.to_string(),
    };
    let familiar = match without_tag.strip_prefix("docker.io/") {
        Some(rest) => match rest.strip_prefix("library/") {
            Some(official) if !official.contains('/') => official.to_string(),
            _ => rest.to_string(),
        },
        None => without_tag,
    };
    format!("docker://{familiar}")
}

/// `<outcome>:<code> <reference>[@<digest>]`, at most 1 KiB; written in one allocation, since
/// every review writes one per image.
fn annotation_value(v: &ImageVerdict) -> String {
    let (label, code) = (v.outcome.label(), v.outcome.code());
    let image = v.reference.as_deref().unwrap_or(&v.usage.image);
    let digest = v.digest.as_ref().map(Digest::as_str);
    let length = label.len() + code.len() + image.len() + digest.map_or(0, |d| d.len() + 1) + 2;
    let mut value = String::with_capacity(length);
    for part in [label, ":", code, " ", image] {
        value.push_str(part);
    }
    if let Some(digest) = digest {
        value.push('@');
        value.push_str(digest);
    }
    truncate(value, 1024)
}

/// kube-apiserver keeps an audit annotation only when `<webhook>/<key>` is a qualified name, so
/// `spec.initContainers[1]` becomes `spec.initContainers.1` (at most 63 characters).
fn annotation_key(path: &str) -> String {
    let mut key = String::with_capacity(path.len().min(63));
    let mapped = path.chars().filter_map(|c| match c {
        '[' => Some('.'),
        ']' => None,
        c if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') => Some(c),
        _ => Some('-'),
    });
    key.extend(mapped.take(63));
    let trimmed = key.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    match trimmed.len() == key.len() {
        true => key,
        false => trimmed.to_string(),
    }
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// JSON form of a decision (stable field names).
#[derive(Debug, Serialize)]
pub struct DecisionReport {
    /// Would the object be admitted?
    pub allowed: bool,
    /// The denial message, if denied.
    pub message: Option<String>,
    /// Warnings.
    pub warnings: Vec<String>,
    /// One entry per image use.
    pub images: Vec<ImageReport>,
}

/// JSON form of one image verdict.
#[derive(Debug, Serialize)]
pub struct ImageReport {
    /// JSON path of the container.
    pub path: String,
    /// Container name.
    pub container: String,
    /// The image as written.
    pub image: String,
    /// The digest that was verified.
    pub digest: Option<String>,
    /// admit, warn or deny.
    pub outcome: &'static str,
    /// Stable code: `Verified`, `AcceptedUnverified`, `NoPolicyMatch`, `Unchanged` when
    /// admitted, else the reason.
    pub reason: &'static str,
    /// Human-readable detail.
    pub detail: String,
}

impl From<&ImageVerdict> for ImageReport {
    fn from(v: &ImageVerdict) -> Self {
        let detail = match &v.outcome {
            Outcome::Admit(_, note) => note.clone(),
            Outcome::Warn(r) | Outcome::Deny(r) => v.reason_text(r),
        };
        Self {
            path: v.usage.path.clone(),
            container: v.usage.container.clone(),
            image: v.usage.image.clone(),
            digest: v.digest.as_ref().map(ToString::to_string),
            outcome: v.outcome.label(),
            reason: v.outcome.code(),
            detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The annotation as first written, with `format!`: the one-allocation form must equal it.
    fn formatted(v: &ImageVerdict) -> (String, String) {
        let key: String = v
            .usage
            .path
            .chars()
            .filter_map(|c| match c {
                '[' => Some('.'),
                ']' => None,
                c if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') => Some(c),
                _ => Some('-'),
            })
            .take(63)
            .collect();
        let key = key
            .trim_matches(|c: char| !c.is_ascii_alphanumeric())
            .to_string();
        let image = v.reference.as_deref().unwrap_or(&v.usage.image);
        let digest = v
            .digest
            .as_ref()
            .map(|d| format!("@{d}"))
            .unwrap_or_default();
        let value = format!("{}:{} {image}{digest}", v.outcome.label(), v.outcome.code());
        (key, truncate(value, 1024))
    }

    #[test]
    fn audit_annotations_are_written_as_before_in_one_allocation() {
        let digest = Digest::parse(&format!("sha256:{}", "a".repeat(64)));
        let long = "x".repeat(2000);
        let paths = [
            "spec.containers[0]",
            "spec.initContainers[12]",
            "spec.template.spec.ephemeralContainers[3]",
            "[0].]spec-ä.containers[0]__",
            "..spec",
            &"spec.very-long-name.".repeat(8),
        ];
        let outcomes = [
            Outcome::Admit(VERIFIED, "note".into()),
            Outcome::Deny(Reason::NoPolicyMatch),
            Outcome::Warn(Reason::NoPolicyMatch),
        ];
        for (i, path) in paths.iter().enumerate() {
            for outcome in &outcomes {
                let verdict = ImageVerdict {
                    usage: ImageUse {
                        path: path.to_string(),
                        container: "c".into(),
                        image: if i == 5 {
                            long.clone()
                        } else {
                            "app:v1".into()
                        },
                    },
                    reference: (i % 2 == 0).then(|| "registry.example/app:v1".to_string()),
                    digest: digest.clone().ok().filter(|_| i % 3 != 0),
                    outcome: outcome.clone(),
                };
                let ours = (
                    annotation_key(&verdict.usage.path),
                    annotation_value(&verdict),
                );
                assert_eq!(ours, formatted(&verdict), "{path}");
            }
        }
    }
}
