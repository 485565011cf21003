//! The compiled policy model: what the rest of Signet evaluates. Built once at load from
//! validated `ClusterImagePolicy`/`ImagePolicy` documents; holds parsed keys and compiled globs,
//! never wire text that still needs interpreting.

use std::sync::Arc;

use regex::Regex;
use sigstore::crypto::CosignVerificationKey;

use super::glob::ImageGlob;
use super::trust::KeylessTrust;

/// One compiled policy: the images it covers and the authorities any of which may admit them.
#[derive(Debug, Clone)]
pub struct ImagePolicy {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` for kind `ImagePolicy`; `None` for a `ClusterImagePolicy`.
    pub namespace: Option<String>,
    /// The file the policy came from, or `"embedded"`.
    pub source: String,
    /// `spec.images[].glob`: the policy covers an image when any glob matches it.
    pub images: Vec<ImageGlob>,
    /// `spec.authorities`: any one of them admits an image (policy-controller semantics).
    pub authorities: Vec<Authority>,
    /// `spec.mode`: deny on failure (`enforce`) or only warn.
    pub mode: Mode,
    /// Signet extension `spec.onRegistryError`: what a registry failure becomes.
    pub on_registry_error: FailureAction,
}

impl ImagePolicy {
    /// `ClusterImagePolicy <name>` or `ImagePolicy <namespace>/<name>`, for messages.
    pub fn display_name(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("ImagePolicy {ns}/{}", self.name),
            None => format!("ClusterImagePolicy {}", self.name),
        }
    }
}

/// `spec.mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A failing policy denies the object (the default).
    Enforce,
    /// A failing policy admits the object with a warning.
    Warn,
}

/// What a failure that is not the image's fault (registry unreachable, timeout) becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureAction {
    /// Deny (the default: an unverifiable image is not trusted).
    Deny,
    /// Admit with a warning.
    Warn,
}

/// One entry of `spec.authorities`.
#[derive(Debug, Clone)]
pub struct Authority {
    /// `spec.authorities[i].name`, or `authority-<i>` as policy-controller defaults it.
    pub name: String,
    /// How the authority decides.
    pub kind: AuthorityKind,
    /// Where the signatures live when not next to the image (`source[0].oci`).
    pub source: Option<SignatureSource>,
}

/// The ways an authority can decide.
#[derive(Debug, Clone)]
pub enum AuthorityKind {
    /// A signature by one of these keys, with an acceptable signed identity.
    Key(KeyAuthority),
    /// A signature by a short-lived certificate from a trusted CA, proven in a trusted
    /// transparency log, for one of the allowed certificate identities.
    Keyless(KeylessAuthority),
    /// A fixed answer without looking at signatures.
    Static(StaticAuthority),
}

/// `key:` authority: the trusted keys and the identity rule for the signed payload.
#[derive(Debug, Clone)]
pub struct KeyAuthority {
    /// Every key from `key.data` (one per PEM block); any of them may sign.
    pub keys: Vec<TrustedKey>,
    /// What the signed `critical.identity.docker-reference` must be.
    pub identity: IdentityRule,
}

/// `keyless:` authority: who may sign (certificate identities), what they must chain to and
/// which logs must have recorded it, and the identity rule for the signed payload.
#[derive(Debug, Clone)]
pub struct KeylessAuthority {
    /// `keyless.identities`: any one of them is enough. Never empty.
    pub identities: Vec<CertificateIdentity>,
    /// Fulcio CAs, Rekor keys and CT keys, resolved at load from `trustRootRef`/`ca-cert`.
    pub trust: Arc<KeylessTrust>,
    /// What the signed `critical.identity.docker-reference` must be.
    pub identity: IdentityRule,
}

/// One `keyless.identities[]` entry: both the OIDC issuer and the certificate subject (SAN email
/// or URI) must match.
#[derive(Debug, Clone)]
pub struct CertificateIdentity {
    /// `issuer` or `issuerRegExp`.
    pub issuer: Matcher,
    /// `subject` or `subjectRegExp`.
    pub subject: Matcher,
}

/// How one certificate field is matched.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Byte-for-byte equality.
    Exact(String),
    /// A regular expression that must match the whole value (compiled as `^(?:pattern)$`).
    Regex {
        /// The pattern as written in the policy.
        pattern: String,
        /// The anchored, compiled form.
        regex: Regex,
    },
}

impl Matcher {
    /// A full-match regular expression; fails like `Regex::new` (and above 1 MiB compiled).
    pub fn regex(pattern: &str) -> Result<Matcher, regex::Error> {
        let regex = regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
            .size_limit(1 << 20)
            .build()?;
        Ok(Matcher::Regex {
            pattern: pattern.to_string(),
            regex,
        })
    }

    /// Whether `value` satisfies the matcher.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Self::Exact(expected) => expected == value,
            Self::Regex { regex, .. } => regex.is_match(value),
        }
    }
}

impl CertificateIdentity {
    /// `issuer "…" subject "…"`, naming `issuerRegExp`/`subjectRegExp` for patterns, as the
    /// policy spells them; used in deny messages.
    pub fn describe(&self) -> String {
        let field = |name: &str, m: &Matcher| match m {
            Matcher::Exact(value) => format!("{name} {value:?}"),
            Matcher::Regex { pattern, .. } => format!("{name}RegExp {pattern:?}"),
        };
        format!(
            "{} {}",
            field("issuer", &self.issuer),
            field("subject", &self.subject)
        )
    }
}

/// `static:` authority.
#[derive(Debug, Clone)]
pub struct StaticAuthority {
    /// `static.action`.
    pub action: StaticAction,
    /// `static.message`, shown when the action is `fail`.
    pub message: Option<String>,
}

/// `static.action`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StaticAction {
    /// Admit every image the policy covers.
    Pass,
    /// Deny every image the policy covers.
    Fail,
}

/// `source: [{oci: "registry/repo"}]`: signatures live in another repository (policy-controller's
/// `COSIGN_REPOSITORY`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureSource {
    /// Normalised `registry/repo`.
    pub repository: String,
}

/// A public key an authority trusts.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    /// The verification key, with its signature scheme fixed at load.
    pub key: Arc<CosignVerificationKey>,
    /// `sha256:<hex>` of the key's SubjectPublicKeyInfo DER.
    pub fingerprint: String,
    /// Human-readable algorithm for messages: `ECDSA P-256`, `RSA 2048`, `Ed25519`, ...
    pub algorithm: String,
}

/// What the signed `critical.identity.docker-reference` must be (Signet extension
/// `spec.authorities[].signedIdentity`, named as in containers-policy.json).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityRule {
    /// The signed repository must be the image's own repository (the default).
    MatchRepository,
    /// The signed repository must be exactly this normalised `registry/repo`.
    ExactRepository(String),
    /// An image under `prefix` must be signed under `signed_prefix` instead (mirrors).
    RemapIdentity {
        /// The prefix of the image's repository, such as `mirror.example.com/team`.
        prefix: String,
        /// What replaces `prefix` in the repository the signature must name.
        signed_prefix: String,
    },
    /// Any signed repository is accepted (cosign's own default; opt-in only).
    AnyRepository,
}
