//! The compiled policy model: what the rest of Signet evaluates. Built once at load from
//! validated `ClusterImagePolicy`/`ImagePolicy` documents or from a containers-policy.json (one
//! [`ImagePolicy`] per requirement of a scope); holds parsed keys and compiled globs, never wire
//! text that still needs interpreting.

use std::sync::Arc;

use regex::Regex;
use sigstore::crypto::CosignVerificationKey;

use super::attestation::{AttestationPolicy, AttestationRequirement};
use super::glob::ImageGlob;
use super::sigstore::ResourceMatch;
use super::trust::KeylessTrust;
use crate::workload::ResourceIdentity;

/// One compiled policy: the images it covers and the authorities any of which may admit them.
#[derive(Debug, Clone)]
pub struct ImagePolicy {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace` for kind `ImagePolicy`; `None` for a `ClusterImagePolicy`.
    pub namespace: Option<String>,
    /// The file the policy came from, or `"embedded"`.
    pub source: String,
    /// `spec.images[].glob`: the policy covers an image when any glob matches it. Empty for a
    /// containers-policy.json requirement, which is selected by its [`Scope`] instead.
    pub images: Vec<ImageGlob>,
    /// For a containers-policy.json requirement: the scope it belongs to. `None` for
    /// `ClusterImagePolicy`/`ImagePolicy` documents.
    pub scope: Option<Scope>,
    /// `spec.authorities`: any one of them admits an image (policy-controller semantics).
    pub authorities: Vec<Authority>,
    /// `spec.mode`: deny on failure (`enforce`) or only warn.
    pub mode: Mode,
    /// Signet extension `spec.onRegistryError`: what a registry failure becomes.
    pub on_registry_error: FailureAction,
    /// sha256 over everything above that can change a verdict (the source file excluded), set
    /// when the policy set is built: verdict caches key on it, so editing a policy or its trust
    /// material never serves a verdict the old content gave.
    pub(crate) fingerprint: [u8; 32],
    /// Signet extension `spec.multiArch`: which signatures a multi-platform image needs.
    pub multi_arch: MultiArch,
    /// Signet extension `spec.requireDigest`: a reference without `@sha256:…` is denied, with
    /// the digest to pin named in the message.
    pub require_digest: bool,
    /// Signet extension `spec.placeholders`: literal images (`auto`) a named injector replaces
    /// when it creates the Pod; skipped in pod templates only.
    pub placeholders: Vec<Placeholder>,
    /// `spec.match`: the objects the policy applies to; empty applies to every object.
    pub resources: Vec<ResourceMatch>,
    /// `spec.policy`: a policy over the whole result (every authority that matched, and the
    /// object's parts it asks for), evaluated once an authority has matched.
    pub result_policy: Option<ResultPolicy>,
}

/// policy-controller's CIP-level `spec.policy`: Rego, CUE (or Signet's CEL) over the JSON of
/// `{authorityMatches, spec, metadata, typemeta}` as its `PolicyResult` marshals it.
#[derive(Debug, Clone)]
pub struct ResultPolicy {
    /// The compiled policy (the same languages and budget as attestation policies).
    pub policy: Arc<AttestationPolicy>,
    /// `includeSpec`: the reviewed object's `spec` as `spec`.
    pub include_spec: bool,
    /// `includeObjectMeta`: its `metadata` as `metadata`.
    pub include_object_meta: bool,
    /// `includeTypeMeta`: its `apiVersion` and `kind` as `typemeta` (not for Pods, as in
    /// policy-controller).
    pub include_type_meta: bool,
}

impl ResultPolicy {
    /// Does the result depend on the reviewed object (so verdicts cannot be shared)?
    pub fn reads_object(&self) -> bool {
        self.include_spec || self.include_object_meta || self.include_type_meta
    }
}

impl ImagePolicy {
    /// An enforcing policy of one authority, selected by something other than globs (a
    /// containers-policy.json scope, a Notation trust-policy statement): the index digest
    /// signed, nothing else asked.
    pub(crate) fn of_one_authority(
        (name, source, scope): (String, &str, Option<Scope>),
        authority_name: String,
        kind: AuthorityKind,
    ) -> ImagePolicy {
        ImagePolicy {
            name,
            namespace: None,
            source: source.to_string(),
            images: Vec::new(),
            scope,
            authorities: vec![Authority {
                name: authority_name,
                kind,
                source: None,
                format: SignatureFormat::Any,
                attestations: Vec::new(),
            }],
            mode: Mode::Enforce,
            on_registry_error: FailureAction::Deny,
            fingerprint: [0; 32],
            multi_arch: MultiArch::Index,
            require_digest: false,
            placeholders: Vec::new(),
            resources: Vec::new(),
            result_policy: None,
        }
    }

    /// Whether the policy applies to `object` (`spec.match`). An unknown object (`signet
    /// verify IMAGE`) is matched by every policy: applying more policies never admits more.
    pub fn applies_to(&self, object: Option<&ResourceIdentity>) -> bool {
        match object {
            Some(object) if !self.resources.is_empty() => {
                self.resources.iter().any(|m| m.matches(object))
            }
            _ => true,
        }
    }

    /// The content fingerprint (see the field): equal fingerprints judge every image alike.
    pub fn fingerprint(&self) -> &[u8; 32] {
        &self.fingerprint
    }

    /// Compute the fingerprint of the policy's content as it is now.
    pub(crate) fn refresh_fingerprint(&mut self) {
        self.fingerprint = super::fingerprint::policy_fingerprint(self);
    }

    /// `ClusterImagePolicy <name>`, `ImagePolicy <namespace>/<name>` or
    /// `containers-policy.json requirement <scope>[i]`, for messages.
    pub fn display_name(&self) -> String {
        // Only a Notation trust policy statement has neither globs nor a scope.
        if self.images.is_empty() && self.scope.is_none() {
            return format!("Notation trust policy statement {}", self.name);
        }
        match (&self.scope, &self.namespace) {
            (Some(_), _) => format!("containers-policy.json requirement {}", self.name),
            (None, Some(ns)) => format!("ImagePolicy {ns}/{}", self.name),
            (None, None) => format!("ClusterImagePolicy {}", self.name),
        }
    }
}

/// Where a containers-policy.json requirement applies. Only the most specific scope that covers
/// an image applies to it (containers/image `requirementsForImageRef`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// `transports.docker["<scope>"]`: `host[:port][/ns…][/repo][:tag|@digest]` or `*.domain`.
    Docker(String),
    /// `transports.docker[""]`: every `docker:` image no named scope covers.
    DockerDefault,
    /// `default`: every image no transport section covers.
    Default,
}

impl std::fmt::Display for Scope {
    /// `transports.docker['quay.io/crio']`, `transports.docker['']` or `default`, as the scope is
    /// spelled in the file (single quotes, so messages need no escaping).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Docker(scope) => write!(f, "transports.docker['{scope}']"),
            Self::DockerDefault => f.write_str("transports.docker['']"),
            Self::Default => f.write_str("default"),
        }
    }
}

/// Signet extension `spec.multiArch`: what must be signed when a reference resolves to an
/// image index (a multi-platform image). A single-platform image always needs its own signature.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MultiArch {
    /// `index`: the index digest must be signed (what `cosign sign` does by default); the
    /// default of a `ClusterImagePolicy`/`ImagePolicy`, as policy-controller verifies.
    Index,
    /// `indexOrPlatform` (`MultiArch::default()`, opt-in in policies): the index signed, or else every child manifest for a
    /// platform the cluster runs (`--platforms`) signed, so that per-platform pipelines pass
    /// and no unsigned child that will run is admitted.
    #[default]
    IndexOrPlatform,
    /// `allPlatforms`: every child manifest signed (`cosign sign --recursive`); the index's own
    /// signature is neither needed nor enough.
    AllPlatforms,
}

impl MultiArch {
    /// The spelling in `spec.multiArch`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Index => "index",
            Self::IndexOrPlatform => "indexOrPlatform",
            Self::AllPlatforms => "allPlatforms",
        }
    }

    /// Parse the spelling in `spec.multiArch`.
    pub fn parse(text: &str) -> Option<MultiArch> {
        [Self::Index, Self::IndexOrPlatform, Self::AllPlatforms]
            .into_iter()
            .find(|m| m.as_str() == text)
    }
}

/// One `spec.placeholders[]` entry: an image string a sidecar injector replaces. Never a global
/// allow: it names where the injector works (container names, namespaces, or both).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placeholder {
    /// The image exactly as written in the pod template, such as `auto`.
    pub image: String,
    /// Who replaces it (for messages), such as `istio-sidecar-injector`.
    pub injector: String,
    /// The injector's container names; any name when empty.
    pub containers: Vec<String>,
    /// The namespaces the injector works in; any namespace when empty (never both empty).
    pub namespaces: Vec<String>,
}

impl Placeholder {
    /// Whether this entry exempts container `container` in `namespace`.
    pub fn covers(&self, container: &str, namespace: Option<&str>) -> bool {
        let named =
            |names: &[String], value: &str| names.is_empty() || names.iter().any(|n| n == value);
        named(&self.containers, container) && named(&self.namespaces, namespace.unwrap_or_default())
    }

    /// `containers [a, b] in namespaces [c]`, for messages.
    pub fn scope(&self) -> String {
        let list = |what: &str, names: &[String]| match names {
            [] => None,
            names => Some(format!("{what} [{}]", names.join(", "))),
        };
        [
            list("containers", &self.containers),
            list("namespaces", &self.namespaces),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" in ")
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
    /// `signatureFormat`: which kind of signature material may satisfy the authority.
    pub format: SignatureFormat,
    /// `attestations`: when any, the authority is satisfied by attestations (each entry by at
    /// least one verified attestation of its predicate type that its policy accepts) instead of
    /// by signatures, as policy-controller decides.
    pub attestations: Vec<AttestationRequirement>,
}

/// policy-controller's `signatureFormat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignatureFormat {
    /// Unset: cosign `.sig` layers or Sigstore bundles, each verified against the same trust
    /// (policy-controller reads only `.sig` layers then; Signet also finds cosign 3 bundles).
    #[default]
    Any,
    /// `legacy`: cosign's `.sig` layers only.
    Legacy,
    /// `bundle`: Sigstore bundles attached as OCI referrers only.
    Bundle,
}

impl SignatureFormat {
    /// The name in policies and fingerprints.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureFormat::Any => "any",
            SignatureFormat::Legacy => "legacy",
            SignatureFormat::Bundle => "bundle",
        }
    }
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
    /// A Notary Project (Notation) signature whose certificate chain leads to a trust store
    /// (a statement of `--notation-trust-policy`).
    Notation(super::notation::NotationAuthority),
}

/// `key:` authority: the trusted keys and the identity rule for the signed payload.
#[derive(Debug, Clone)]
pub struct KeyAuthority {
    /// Every key from `key.data` (one per PEM block); any of them may sign.
    pub keys: Vec<TrustedKey>,
    /// What the signed `critical.identity.docker-reference` must be.
    pub identity: IdentityRule,
    /// When set, the signature must also carry a Rekor bundle from one of these logs recording
    /// it with the key that verified it (containers-policy.json `keyPath` +
    /// `rekorPublicKeyPath`). Only the Rekor keys of the trust are used.
    pub rekor: Option<Arc<KeylessTrust>>,
    /// Signet extension `key.threshold`: how many distinct keys of `keys` must have signed
    /// (1, the default, is policy-controller's any-of). Validated `1..=keys.len()` at load.
    pub threshold: usize,
    /// `rfc3161timestamp.trustRootRef`: when set, each signature must carry an RFC 3161
    /// timestamp over its bytes (`dev.sigstore.cosign/rfc3161timestamp`, as cosign writes it)
    /// from one of this trust's timestamp authorities.
    pub timestamps: Option<Arc<KeylessTrust>>,
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
    /// Signet extension `keyless.threshold`: how many distinct `identities` must have signed,
    /// each by a different certificate identity (1, the default, is any-of). Validated
    /// `1..=identities.len()` at load.
    pub threshold: usize,
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
    /// An email SAN equal to this, and no other SAN kind (containers-policy.json's
    /// `fulcio.subjectEmail`, which containers/image compares with the certificate's emails
    /// only). Only ever used for the subject.
    Email(String),
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
            Self::Exact(expected) | Self::Email(expected) => expected == value,
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
            Matcher::Email(value) => format!("{name}Email {value:?}"),
            Matcher::Regex { pattern, .. } => format!("{name}RegExp {pattern:?}"),
        };
        format!(
            "{} {}",
            field("issuer", &self.issuer),
            field("subject", &self.subject)
        )
    }
}

/// The message of a containers-policy.json `reject` requirement. The verdict stage writes it
/// with the image in place of `{image}`, as containers/image does: `Running image
/// docker://quay.io/x:latest is rejected by policy.`
pub const REJECT_MESSAGE: &str = "Running image {image} is rejected by policy.";

/// `static:` authority.
#[derive(Debug, Clone)]
pub struct StaticAuthority {
    /// `static.action`.
    pub action: StaticAction,
    /// `static.message`, shown when the action is `fail`.
    pub message: Option<String>,
    /// Not written as `static`: it stands for an authority whose material (a Secret it names)
    /// cannot be used, so it admits nothing and `message` says why and what to do.
    pub unusable: bool,
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
    /// `source[]`, in order: where signatures are looked up. A signature found in any of them
    /// may satisfy the authority (at most [`MAX_SOURCES`]).
    pub locations: Vec<SignatureLocation>,
    /// `source[].signaturePullSecrets` of every entry (cluster mode): the registry
    /// configurations signatures are read with, before the review's own credentials.
    pub pull_secrets: Vec<super::secret_refs::PullSecretData>,
}

/// At most this many `source` entries per authority (each one more registry lookup).
pub const MAX_SOURCES: usize = 8;

/// One `source[]` entry: a repository and the prefix of its signature tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureLocation {
    /// Normalised `registry/repo` (`oci`); `None`: the image's own repository.
    pub repository: Option<String>,
    /// `tagPrefix`: signatures are under `<prefix>sha256-<hex>.sig` (cosign's
    /// `--attachment-tag-prefix`); empty for cosign's default tag.
    pub tag_prefix: String,
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
    /// An RSA key with `hashAlgorithm: sha384` or `sha512`: verified with PKCS#1 v1.5 over that
    /// digest, as cosign's `LoadVerifier` does (the sigstore crate's schemes stop at sha256).
    /// `None`: `key`'s own scheme.
    pub rsa_digest: Option<RsaDigest>,
}

/// The digest of an RSA PKCS#1 v1.5 signature beyond the sigstore crate's sha256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaDigest {
    /// `hashAlgorithm: sha384`.
    Sha384,
    /// `hashAlgorithm: sha512`.
    Sha512,
}

impl RsaDigest {
    /// The spelling in `hashAlgorithm`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }
}

/// What the signed `critical.identity.docker-reference` must be: containers-policy.json's
/// `signedIdentity` rules (containers/image `policy_reference_match.go`), plus Signet's
/// `ClusterImagePolicy` extension `spec.authorities[].signedIdentity` (whose `remapIdentity` is
/// [`IdentityRule::RemapRepository`], and which adds `anyRepository`).
///
/// "Name-only" is a reference with neither tag nor digest, as `cosign sign` writes them. The
/// image's own reference always has one (`nginx` is `nginx:latest`); when it has both, the tag
/// is dropped and the digest kept, as CRI-O does before asking containers/image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityRule {
    /// The signed repository must be the image's own repository, tags ignored (Signet's
    /// default; containers-policy.json `matchRepository`).
    MatchRepository,
    /// `matchExact`: the signed reference must be exactly the image's reference (same tag, or
    /// same digest); name-only signatures are refused.
    MatchExact,
    /// `matchRepoDigestOrExact` (containers-policy.json's default): an image named by tag needs
    /// exactly that tag signed; an image named by digest needs its repository signed with any
    /// tag or digest. Name-only signatures are refused.
    MatchRepoDigestOrExact,
    /// `exactReference`: the signed reference must be exactly this normalised
    /// `registry/repo:tag` or `registry/repo@digest`, whatever the image.
    ExactReference(String),
    /// `exactRepository`: the signed repository must be exactly this normalised
    /// `registry/repo`.
    ExactRepository(String),
    /// containers-policy.json's `remapIdentity`: an image whose repository is `prefix` or under
    /// it is expected under `signed_prefix` instead, then `matchRepoDigestOrExact` applies.
    RemapIdentity {
        /// The prefix of the image's repository, such as `mirror.example.com/team`.
        prefix: String,
        /// What replaces `prefix` in the reference the signature must name.
        signed_prefix: String,
    },
    /// Signet's `ClusterImagePolicy` `remapIdentity`: the prefix is replaced as above, then the
    /// repositories must be equal (tags ignored), so cosign's name-only signatures of the
    /// original repository admit the mirror.
    RemapRepository {
        /// The prefix of the image's repository.
        prefix: String,
        /// What replaces `prefix` in the repository the signature must name.
        signed_prefix: String,
    },
    /// Any signed repository is accepted (cosign's own default; opt-in only).
    AnyRepository,
}
