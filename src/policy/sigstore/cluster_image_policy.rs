//! Wire types of policy-controller's `ClusterImagePolicy` / `ImagePolicy`
//! (`policy.sigstore.dev/v1alpha1` and `v1beta1`, same shape) plus Signet's extensions
//! (`spec.onRegistryError`, `spec.multiArch`, `spec.requireDigest`, `spec.placeholders`,
//! `spec.authorities[].signedIdentity`), and the split of a YAML
//! stream into policy documents. Objects policy-controller's CRD schema closes reject unknown
//! fields, as `kubectl create` does; `metadata` and `status` are Kubernetes' and stay open.
//! `null` is read as "absent", as the API server prunes it. Splitting a YAML stream into these
//! documents is `parse.rs`'s job.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_yaml::Value;

/// `null` or absent as `T::default()`.
fn nullable<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// One policy object.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Document {
    /// `policy.sigstore.dev/v1alpha1` or `v1beta1`.
    #[allow(dead_code, reason = "part of the closed schema; not read by Signet")]
    pub api_version: String,
    /// `ClusterImagePolicy` or `ImagePolicy`.
    pub kind: String,
    /// Name and namespace; everything else is ignored.
    #[serde(default, deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    /// The policy.
    #[serde(default, deserialize_with = "nullable")]
    pub spec: Spec,
    /// Written by the controller in a cluster; ignored.
    #[allow(dead_code, reason = "part of the closed schema; not read by Signet")]
    #[serde(default)]
    pub status: Option<Value>,
}

/// The parts of `metadata` Signet reads.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ObjectMeta {
    /// `metadata.name`.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// `metadata.namespace` (required for `ImagePolicy`).
    #[serde(default, deserialize_with = "nullable")]
    pub namespace: String,
}

/// `spec`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Spec {
    /// Image globs the policy covers.
    #[serde(default, deserialize_with = "nullable")]
    pub images: Vec<ImagePattern>,
    /// Any-of list of authorities.
    #[serde(default, deserialize_with = "nullable")]
    pub authorities: Vec<Authority>,
    /// CUE/Rego policy over all authorities.
    #[serde(default)]
    pub policy: Option<Policy>,
    /// `enforce` (default) or `warn`.
    #[serde(default, deserialize_with = "nullable")]
    pub mode: String,
    /// Resource kinds the policy applies to.
    #[serde(default, rename = "match", deserialize_with = "nullable")]
    pub match_resources: Vec<MatchResource>,
    /// Signet extension: `deny` (default) or `warn` when the registry fails.
    #[serde(default)]
    pub on_registry_error: Option<String>,
    /// Signet extension: `index` (default, as policy-controller), `indexOrPlatform` or
    /// `allPlatforms`.
    #[serde(default)]
    pub multi_arch: Option<String>,
    /// Signet extension: deny references without a digest.
    #[serde(default, deserialize_with = "nullable")]
    pub require_digest: bool,
    /// Signet extension: placeholder images a sidecar injector replaces.
    #[serde(default, deserialize_with = "nullable")]
    pub placeholders: Vec<PlaceholderRef>,
}

/// `spec.placeholders[]` (Signet extension).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceholderRef {
    /// The image string exactly as the pod template writes it (`auto`).
    #[serde(default, deserialize_with = "nullable")]
    pub image: String,
    /// The injector that replaces it.
    #[serde(default, deserialize_with = "nullable")]
    pub injector: String,
    /// Names of the containers the injector adds (`istio-proxy`); any when empty.
    #[serde(default, deserialize_with = "nullable")]
    pub containers: Vec<String>,
    /// Namespaces the injector works in; any when empty. One of the two must be set.
    #[serde(default, deserialize_with = "nullable")]
    pub namespaces: Vec<String>,
}

/// `spec.images[]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImagePattern {
    /// The glob.
    #[serde(default, deserialize_with = "nullable")]
    pub glob: String,
}

/// `spec.authorities[]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Authority {
    /// Defaults to `authority-<index>`.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// Public key authority.
    #[serde(default)]
    pub key: Option<KeyRef>,
    /// Fulcio certificate authority.
    #[serde(default)]
    pub keyless: Option<KeylessRef>,
    /// Fixed pass/fail.
    #[serde(default, rename = "static")]
    pub static_ref: Option<StaticRef>,
    /// Where to read signatures from.
    #[serde(default, rename = "source", deserialize_with = "nullable")]
    pub sources: Vec<Source>,
    /// Rekor settings.
    #[serde(default)]
    pub ctlog: Option<TLog>,
    /// Attestations to verify.
    #[serde(default, deserialize_with = "nullable")]
    pub attestations: Vec<Attestation>,
    /// RFC 3161 timestamp authority settings.
    #[serde(default)]
    pub rfc3161timestamp: Option<Rfc3161Timestamp>,
    /// Signature format (newer policy-controller releases).
    #[serde(default)]
    pub signature_format: Option<String>,
    /// Signet extension: the signed identity rule.
    #[serde(default)]
    pub signed_identity: Option<SignedIdentity>,
    /// Signet extension: a Notary Project (Notation) signature, judged as a trust policy
    /// statement with these stores and identities would judge it.
    #[serde(default)]
    pub notation: Option<NotationRef>,
}

/// Signet extension `notation:`: one Notation trust policy statement, its trust stores inline.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NotationRef {
    /// `strict` (with a revocation override), `permissive` or `audit`, as in a trust policy.
    #[serde(default, deserialize_with = "nullable")]
    pub level: String,
    /// Per-check actions, as a trust policy's `signatureVerification.override`.
    #[serde(default, rename = "override")]
    pub overrides: BTreeMap<String, String>,
    /// `always` (default) or `afterCertExpiry`.
    #[serde(default, deserialize_with = "nullable")]
    pub verify_timestamp: String,
    /// The trust stores, certificates inline.
    #[serde(default, deserialize_with = "nullable")]
    pub trust_stores: Vec<NotationStoreRef>,
    /// `*` or `x509.subject: C=..., ST=..., O=...`, as in a trust policy.
    #[serde(default, deserialize_with = "nullable")]
    pub trusted_identities: Vec<String>,
}

/// One `notation.trustStores[]` entry.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NotationStoreRef {
    /// The store's name, for messages (`[a-zA-Z0-9_.-]+`).
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// `ca` (default), `signingAuthority` or `tsa`.
    #[serde(default, rename = "type", deserialize_with = "nullable")]
    pub kind: String,
    /// PEM certificates.
    #[serde(default, deserialize_with = "nullable")]
    pub data: String,
}

/// `key:` (also `keyless.ca-cert`).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeyRef {
    /// Secret holding the key.
    #[serde(default)]
    pub secret_ref: Option<SecretReference>,
    /// Inline PEM.
    #[serde(default, deserialize_with = "nullable")]
    pub data: String,
    /// KMS URI.
    #[serde(default, deserialize_with = "nullable")]
    pub kms: String,
    /// `sha224`, `sha256` (default), `sha384` or `sha512`.
    #[serde(default, deserialize_with = "nullable")]
    pub hash_algorithm: String,
    /// Signet extension: distinct keys of `data` that must have signed (default 1).
    #[serde(default)]
    pub threshold: Option<i64>,
}

/// A Secret reference.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretReference {
    /// Secret name.
    #[allow(dead_code, reason = "part of the closed schema; not read by Signet")]
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// Secret namespace.
    #[serde(default, deserialize_with = "nullable")]
    pub namespace: String,
}

/// `keyless:`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeylessRef {
    /// Fulcio URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Accepted certificate identities.
    #[serde(default)]
    pub identities: Option<Vec<Identity>>,
    /// CA certificate instead of Fulcio.
    #[serde(default, rename = "ca-cert")]
    pub ca_cert: Option<KeyRef>,
    /// TrustRoot to use.
    #[allow(dead_code, reason = "part of the closed schema; not read by Signet")]
    #[serde(default, deserialize_with = "nullable")]
    pub trust_root_ref: String,
    /// Skip the SCT check.
    #[allow(dead_code, reason = "part of the closed schema; not read by Signet")]
    #[serde(default, rename = "insecureIgnoreSCT")]
    pub insecure_ignore_sct: Option<bool>,
    /// Signet extension: distinct `identities` that must have signed (default 1).
    #[serde(default)]
    pub threshold: Option<i64>,
}

/// `keyless.identities[]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Identity {
    /// Exact OIDC issuer.
    #[serde(default, deserialize_with = "nullable")]
    pub issuer: String,
    /// Exact certificate subject.
    #[serde(default, deserialize_with = "nullable")]
    pub subject: String,
    /// Issuer regular expression.
    #[serde(default, deserialize_with = "nullable")]
    pub issuer_reg_exp: String,
    /// Subject regular expression.
    #[serde(default, deserialize_with = "nullable")]
    pub subject_reg_exp: String,
}

/// `static:`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticRef {
    /// `pass` or `fail`.
    #[serde(default, deserialize_with = "nullable")]
    pub action: String,
    /// Message for `fail`.
    #[serde(default, deserialize_with = "nullable")]
    pub message: String,
}

/// `source[]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Source {
    /// `registry/repo` holding the signatures.
    #[serde(default, deserialize_with = "nullable")]
    pub oci: String,
    /// Pull secrets for that repository.
    #[serde(default, deserialize_with = "nullable")]
    pub signature_pull_secrets: Vec<LocalObjectReference>,
    /// Prefix of signature tags.
    #[serde(default, deserialize_with = "nullable")]
    pub tag_prefix: String,
}

/// A reference by name.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalObjectReference {
    /// The name.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
}

/// `ctlog:`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TLog {
    /// Rekor URL.
    #[allow(dead_code, reason = "part of the closed schema; not read by Signet")]
    #[serde(default)]
    pub url: Option<String>,
    /// TrustRoot to use.
    #[serde(default, deserialize_with = "nullable")]
    pub trust_root_ref: String,
}

/// `rfc3161timestamp:`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Rfc3161Timestamp {
    /// TrustRoot to use.
    #[allow(dead_code, reason = "part of the closed schema; not read by Signet")]
    #[serde(default, deserialize_with = "nullable")]
    pub trust_root_ref: String,
}

/// `attestations[]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Attestation {
    /// Attestation name.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// Predicate type (short name or URL).
    #[serde(default, deserialize_with = "nullable")]
    pub predicate_type: String,
    /// Policy over the predicate.
    #[serde(default)]
    pub policy: Option<Policy>,
}

/// `policy:` (CIP-level and per attestation).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Policy {
    /// `cue` or `rego`.
    #[serde(default, rename = "type", deserialize_with = "nullable")]
    pub policy_type: String,
    /// Inline policy.
    #[serde(default, deserialize_with = "nullable")]
    pub data: String,
    /// Policy fetched from a URL.
    #[serde(default)]
    pub remote: Option<RemotePolicy>,
    /// Policy in a ConfigMap.
    #[serde(default)]
    pub config_map_ref: Option<ConfigMapReference>,
    /// CIP level only.
    #[serde(default)]
    pub fetch_config_file: Option<bool>,
    /// CIP level only.
    #[serde(default)]
    pub include_spec: Option<bool>,
    /// CIP level only.
    #[serde(default)]
    pub include_object_meta: Option<bool>,
    /// CIP level only.
    #[serde(default)]
    pub include_type_meta: Option<bool>,
}

/// `policy.remote`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemotePolicy {
    /// URL.
    #[allow(dead_code, reason = "part of the closed schema; not read by Signet")]
    #[serde(default, deserialize_with = "nullable")]
    pub url: String,
    /// Expected sha256 of the body.
    #[allow(dead_code, reason = "part of the closed schema; not read by Signet")]
    #[serde(default, deserialize_with = "nullable")]
    pub sha256sum: String,
}

/// `policy.configMapRef`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigMapReference {
    /// ConfigMap name.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// ConfigMap namespace.
    #[allow(dead_code, reason = "part of the closed schema; not read by Signet")]
    #[serde(default, deserialize_with = "nullable")]
    pub namespace: String,
    /// Key in the ConfigMap.
    #[serde(default, deserialize_with = "nullable")]
    pub key: String,
}

/// `spec.match[]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchResource {
    /// API group.
    #[serde(default, deserialize_with = "nullable")]
    pub group: String,
    /// API version.
    #[serde(default, deserialize_with = "nullable")]
    pub version: String,
    /// Resource name (`pods`, `deployments`, ...).
    #[serde(default, deserialize_with = "nullable")]
    pub resource: String,
    /// Label selector.
    #[serde(default)]
    pub selector: Option<LabelSelector>,
}

/// A Kubernetes label selector.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LabelSelector {
    /// Exact labels.
    #[allow(dead_code, reason = "part of the closed schema; not read by Signet")]
    #[serde(default, deserialize_with = "nullable")]
    pub match_labels: BTreeMap<String, String>,
    /// Expressions.
    #[allow(dead_code, reason = "part of the closed schema; not read by Signet")]
    #[serde(default, deserialize_with = "nullable")]
    pub match_expressions: Vec<Value>,
}

/// Signet extension `signedIdentity`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SignedIdentity {
    /// `matchRepository`, `exactRepository`, `remapIdentity` or `anyRepository`.
    #[serde(default, rename = "type", deserialize_with = "nullable")]
    pub identity_type: String,
    /// For `exactRepository`.
    #[serde(default)]
    pub docker_repository: Option<String>,
    /// For `remapIdentity`.
    #[serde(default)]
    pub prefix: Option<String>,
    /// For `remapIdentity`.
    #[serde(default)]
    pub signed_prefix: Option<String>,
}

impl Document {
    /// Whether this is the namespaced kind.
    pub fn is_namespaced(&self) -> bool {
        self.kind == "ImagePolicy"
    }

    /// `<kind>/<name>` or `ImagePolicy/<namespace>/<name>`.
    pub fn object_id(&self) -> String {
        object_id(&self.kind, &self.metadata.namespace, &self.metadata.name)
    }
}

/// `<kind>/<name>` or `ImagePolicy/<namespace>/<name>`, `(unnamed)` when the name is missing.
pub(crate) fn object_id(kind: &str, namespace: &str, name: &str) -> String {
    let name = if name.is_empty() { "(unnamed)" } else { name };
    match kind {
        "ImagePolicy" if !namespace.is_empty() => format!("{kind}/{namespace}/{name}"),
        _ => format!("{kind}/{name}"),
    }
}
