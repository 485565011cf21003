//! Policies: sigstore policy-controller `ClusterImagePolicy` / `ImagePolicy` files and CRI-O's
//! containers-policy.json, loaded into Signet's typed model, and the choice of policies that
//! cover an image.
//!
//! Loading has two steps. *Parse and validate* applies the format's own rules (policy-controller
//! and the API server's CRD schema; containers/image's `policy_config.go`) and refuses what they
//! would refuse, with field paths (`LoadErrorKind::Invalid`). *Compile* turns a valid policy into
//! the model and refuses, by field, whatever Signet cannot enforce yet
//! (`LoadErrorKind::Unsupported`): nothing is silently ignored. Reads local files only; no
//! network.
//!
//! Selection follows the format: every `ClusterImagePolicy` whose glob covers an image applies
//! (policy-controller), but only the most specific scope of a containers-policy.json does
//! (containers/image). Per-namespace files (`--signature-policy-dir`, CRI-O's
//! `signature_policy_dir`) replace the global set for their namespace.
//!
//! Layout: a folder per format, each parse -> validate -> compile into the one model
//! (`sigstore/` for `ClusterImagePolicy`, `containers/` for containers-policy.json), `trust/` for
//! the keyless trust material both compile against, and `export/` for the model written out as
//! CRI-O's policy files. Shared above them: the model (`model`), glob matching (`glob`), scopes
//! (`scope`), loading and format detection (`load`), errors, fingerprints and `policy check`'s
//! description.

mod attestation;
mod containers;
mod describe;
mod error;
mod export;
mod field_error;
mod fingerprint;
mod glob;
mod index;
mod load;
mod model;
mod notation;
mod scope;
mod secret_refs;
mod sigstore;
mod strict_json;
mod trust;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::reference::ImageReference;
use crate::workload::ResourceIdentity;

pub use attestation::{
    AttestationPolicy, AttestationRequirement, EVALUATION_BUDGET, Evaluation, MAX_STATEMENT_BYTES,
    PolicyLanguage, predicate_uri,
};
pub use error::{LoadError, LoadErrorKind};
pub use export::{CrioExport, ExportError, ExportFinding, Severity, Unmatched, export_crio};
pub use glob::{GlobError, ImageGlob};
pub use load::{CompiledDocument, Format, MAX_NAMESPACE_FILES, detect_format};
pub use model::{
    Authority, AuthorityKind, CertificateIdentity, FailureAction, IdentityRule, ImagePolicy,
    KeyAuthority, KeylessAuthority, Matcher, Mode, MultiArch, Placeholder, REJECT_MESSAGE,
    ResultPolicy, RsaDigest, Scope, SignatureFormat, SignatureLocation, SignatureSource,
    StaticAction, StaticAuthority, TrustedKey,
};
pub use notation::{
    Action as NotationAction, Enforcement as NotationEnforcement, NotationAuthority,
    NotationIdentity, NotationTrustPolicy, NotationTrustStore, StoreKind as NotationStoreKind,
    TRUST_POLICY_FILES, TimestampOption as NotationTimestamp,
};
pub use secret_refs::{
    ClusterSecrets, MAX_SECRET_BYTES, MAX_SECRETS, PolicySecrets, PullSecretData, SecretContent,
};
pub use sigstore::{LabelOperator, LabelRequirement, ResourceMatch};
pub use trust::{
    CertificateAuthority, DEFAULT_TRUST_ROOT, KeylessTrust, LogKey, MAX_CHAIN_CERTIFICATES,
    PUBLIC_GOOD_SNAPSHOT, PUBLIC_GOOD_TRUST_ROOT, TimeRange, TrustError, TrustRoots,
};

use load::{Builder, check_size, check_valid, policy_files, read_limited};
use sigstore::parse;

/// A policy file larger than this is refused.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// At most this many cluster-wide policies (containers-policy.json: requirements) in a set.
/// Namespaced `ImagePolicy` objects have budgets of their own (this many per namespace at
/// most, and the composer's `--max-policies-per-namespace`), so no namespace can crowd out
/// the cluster's policies.
pub const MAX_POLICIES: usize = 100_000;

/// The source name of policies loaded from text without a file.
const EMBEDDED: &str = "embedded";
/// File extensions read from a directory.
const EXTENSIONS: &[&str] = &["yaml", "yml", "json"];

/// A loaded, validated and compiled set of policies.
#[derive(Debug, Clone)]
pub struct PolicySet {
    policies: Vec<ImagePolicy>,
    /// Which policies may cover an image, without a scan of every policy.
    index: index::PolicyIndex,
    /// Selected by containers-policy.json scope rather than by glob.
    by_scope: bool,
    /// Per-namespace sets that replace this one in their namespace.
    namespaces: BTreeMap<String, PolicySet>,
    /// What was read but does not apply (transports other than `docker`), for `policy check`.
    notes: Vec<String>,
    /// Namespaces whose `ImagePolicy` objects were not all loaded (over their limit).
    over_limit: BTreeMap<String, NamespaceOverLimit>,
    /// `--notation-trust-policy`: its statement for an image applies besides the policies
    /// selected above, in every namespace.
    notation: Option<std::sync::Arc<NotationTrustPolicy>>,
    /// Whether a policy's `spec.policy` reads the reviewed object (`includeSpec`, ...): then the
    /// server must decode the whole object, not only the fields image extraction needs.
    reads_objects: bool,
    /// Whether a policy selects the objects it applies to (`spec.match`): then a decision
    /// depends on the object, not only on the image and the namespace.
    selects_objects: bool,
    fingerprint: String,
}

/// A namespace with more `ImagePolicy` objects than its limit: the refused ones are not
/// loaded, so the engine admits none of the namespace's images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceOverLimit {
    /// The limit (`--max-policies-per-namespace`).
    pub limit: usize,
    /// The names of the refused objects, sorted.
    pub refused: Vec<String>,
}

impl Default for PolicySet {
    fn default() -> Self {
        Builder::default().finish()
    }
}

impl PolicySet {
    /// Load files or directories (`*.yaml`, `*.yml`, `*.json` inside, not recursive, hidden
    /// entries such as Kubernetes' `..data` skipped, sorted). Each file is either a
    /// containers-policy.json (then the only file) or multi-document YAML of policy objects;
    /// documents of other kinds are an error naming the file and kind.
    pub fn load(paths: &[PathBuf]) -> Result<PolicySet, LoadError> {
        Self::load_with_trust_roots(paths, &TrustRoots::default())
    }

    /// [`PolicySet::load`] with the trust roots keyless authorities may name.
    pub fn load_with_trust_roots(
        paths: &[PathBuf],
        roots: &TrustRoots,
    ) -> Result<PolicySet, LoadError> {
        Self::load_with_documents(paths, [], roots)
    }

    /// [`PolicySet::load_with_trust_roots`] plus policy `documents` given as `(source, text)`
    /// (for example the cluster's policy objects): one set, so a name defined twice across
    /// files and documents is refused like a name defined twice in one file.
    pub fn load_with_documents<'a>(
        paths: &[PathBuf],
        documents: impl IntoIterator<Item = (&'a str, &'a str)>,
        roots: &TrustRoots,
    ) -> Result<PolicySet, LoadError> {
        let mut builder = Builder::with_files(paths, roots)?;
        for (source, text) in documents {
            check_size(text.len() as u64, source)?;
            builder.add(text, source)?;
        }
        Ok(builder.finish())
    }

    /// [`PolicySet::load_with_documents`] with documents compiled before (with `roots`).
    pub fn load_with_compiled<'a>(
        paths: &[PathBuf],
        documents: impl IntoIterator<Item = &'a CompiledDocument>,
        roots: &TrustRoots,
    ) -> Result<PolicySet, LoadError> {
        let mut builder = Builder::with_files(paths, roots)?;
        for document in documents {
            builder.add_compiled(document)?;
        }
        Ok(builder.finish())
    }

    /// Load policies from `text` (YAML policy objects, or a containers-policy.json); `source`
    /// names it in errors (a path, or `"embedded"`).
    pub fn from_yaml(text: &str, source: &str) -> Result<PolicySet, LoadError> {
        Self::from_yaml_with_trust_roots(text, source, &TrustRoots::default())
    }

    /// [`PolicySet::from_yaml`] with the trust roots keyless authorities may name.
    pub fn from_yaml_with_trust_roots(
        text: &str,
        source: &str,
        roots: &TrustRoots,
    ) -> Result<PolicySet, LoadError> {
        let source = if source.is_empty() { EMBEDDED } else { source };
        check_size(text.len() as u64, source)?;
        let mut builder = Builder::with_roots(roots);
        builder.add(text, source)?;
        Ok(builder.finish())
    }

    /// This set with the per-namespace files of `dir` (CRI-O's `signature_policy_dir`):
    /// `<dir>/<namespace>.json`, in either format, governs its namespace instead of this set.
    pub fn with_namespace_dir(
        self,
        dir: &Path,
        roots: &TrustRoots,
    ) -> Result<PolicySet, LoadError> {
        let namespaces = load::namespace_sets(dir, roots)?;
        Ok(self.with_namespaces(namespaces))
    }

    fn with_namespaces(mut self, namespaces: BTreeMap<String, PolicySet>) -> PolicySet {
        let pairs: Vec<(&str, &str)> = namespaces
            .iter()
            .map(|(ns, set)| (ns.as_str(), set.fingerprint()))
            .collect();
        self.fingerprint = fingerprint::fingerprint(&self.policies, self.by_scope, &pairs);
        self.namespaces = namespaces;
        self
    }

    /// This set with `over_limit`: namespaces whose `ImagePolicy` objects beyond their limit
    /// were refused.
    pub fn with_namespace_over_limit(
        mut self,
        over_limit: BTreeMap<String, NamespaceOverLimit>,
    ) -> PolicySet {
        self.fingerprint = fingerprint::with_over_limit(&self.fingerprint, &over_limit);
        self.over_limit = over_limit;
        self
    }

    /// This set with the statements of a Notation trust policy: the statement governing an
    /// image (see [`NotationTrustPolicy::policy_for`]) applies besides this set's policies.
    pub fn with_notation(mut self, trust_policy: NotationTrustPolicy) -> PolicySet {
        let prints: Vec<[u8; 32]> = trust_policy
            .statements()
            .map(|(_, p)| *p.fingerprint())
            .collect();
        self.fingerprint = fingerprint::with_notation(&self.fingerprint, &prints);
        self.notation = Some(std::sync::Arc::new(trust_policy));
        self
    }

    /// The Notation trust policy given, if any.
    pub fn notation(&self) -> Option<&NotationTrustPolicy> {
        self.notation.as_deref()
    }

    /// Whether `namespace` holds more `ImagePolicy` objects than its limit, and which were
    /// refused.
    pub fn namespace_over_limit(&self, namespace: &str) -> Option<&NamespaceOverLimit> {
        self.over_limit.get(namespace)
    }

    /// The policies, in load order (for a containers-policy.json: `default`, then each scope's
    /// requirements). Per-namespace sets are in [`PolicySet::namespace_sets`].
    pub fn policies(&self) -> &[ImagePolicy] {
        &self.policies
    }

    /// Whether this set came from a containers-policy.json (selected by scope).
    pub fn is_containers_policy(&self) -> bool {
        self.by_scope
    }

    /// The per-namespace sets, by namespace.
    pub fn namespace_sets(&self) -> impl Iterator<Item = (&str, &PolicySet)> {
        self.namespaces.iter().map(|(ns, set)| (ns.as_str(), set))
    }

    /// The policies that apply to `image` in `namespace`: those of the namespace's own file if
    /// it has one, else this set's. In a `ClusterImagePolicy` set, every policy whose glob
    /// matches (namespaced `ImagePolicy` objects only in their namespace); in a
    /// containers-policy.json, the requirements of the most specific scope.
    pub fn matching<'a>(
        &'a self,
        image: &ImageReference,
        namespace: Option<&str>,
    ) -> Vec<&'a ImagePolicy> {
        self.matching_for(image, namespace, None)
    }

    /// [`PolicySet::matching`] for the images of `object`: a policy with `spec.match` applies
    /// only to the objects it selects (every policy applies when `object` is unknown).
    pub fn matching_for<'a>(
        &'a self,
        image: &ImageReference,
        namespace: Option<&str>,
        object: Option<&ResourceIdentity>,
    ) -> Vec<&'a ImagePolicy> {
        let set = self.governing(namespace);
        let mut selected = set.select(image, namespace);
        selected.retain(|p| p.applies_to(object));
        let notation = self.notation.as_ref().and_then(|n| n.policy_for(image));
        selected.extend(notation);
        selected
    }

    /// Every policy that applies in `namespace`, whatever the image: the placeholders they
    /// name are exempt there (see `engine::placeholders`).
    pub fn in_namespace<'a>(&'a self, namespace: Option<&str>) -> Vec<&'a ImagePolicy> {
        let set = self.governing(namespace);
        set.policies
            .iter()
            .filter(|p| p.namespace.is_none() || p.namespace.as_deref() == namespace)
            .collect()
    }

    /// The policies of [`PolicySet::in_namespace`] that name placeholders, in the same order:
    /// looked up in an index, so a review does not scan every policy for them.
    pub fn naming_placeholders<'a>(&'a self, namespace: Option<&str>) -> Vec<&'a ImagePolicy> {
        let set = self.governing(namespace);
        set.index
            .placeholders()
            .map(|i| &set.policies[i])
            .filter(|p| p.namespace.is_none() || p.namespace.as_deref() == namespace)
            .collect()
    }

    /// Does a policy that governs `namespace` read the reviewed object itself (a `spec.policy`
    /// with `includeSpec`, `includeObjectMeta` or `includeTypeMeta`)? Then a review must be
    /// decoded whole: the fast decoder keeps only what image extraction reads.
    pub fn reads_objects_in(&self, namespace: Option<&str>) -> bool {
        self.reads_objects || self.governing(namespace).reads_objects
    }

    /// Does a policy that governs `namespace` select the objects it applies to
    /// (`spec.match`)? Then what an image decides depends on the object too.
    pub fn selects_objects_in(&self, namespace: Option<&str>) -> bool {
        self.selects_objects || self.governing(namespace).selects_objects
    }

    /// The set that governs `namespace`: its own file's if it has one, else this one.
    fn governing(&self, namespace: Option<&str>) -> &PolicySet {
        namespace
            .and_then(|ns| self.namespaces.get(ns))
            .unwrap_or(self)
    }

    fn select<'a>(
        &'a self,
        image: &ImageReference,
        namespace: Option<&str>,
    ) -> Vec<&'a ImagePolicy> {
        if self.by_scope {
            return scope::select(&self.policies, image, |s| self.index.scope(s));
        }
        if self.policies.len() <= SCAN_AT_MOST {
            return self.scan(image, namespace);
        }
        self.index
            .candidates(image)
            .into_iter()
            .map(|i| &self.policies[i])
            .filter(|p| covers(p, image, namespace))
            .collect()
    }

    /// [`PolicySet::select`] by a scan of every policy: what the index must agree with.
    #[cfg(test)]
    fn select_by_scan<'a>(
        &'a self,
        image: &ImageReference,
        namespace: Option<&str>,
    ) -> Vec<&'a ImagePolicy> {
        if self.by_scope {
            return scope::select_by_scan(&self.policies, image);
        }
        self.scan(image, namespace)
    }

    /// The policies covering `image` in `namespace`, by a scan of every glob.
    fn scan<'a>(&'a self, image: &ImageReference, namespace: Option<&str>) -> Vec<&'a ImagePolicy> {
        let policies = self.policies.iter();
        policies.filter(|p| covers(p, image, namespace)).collect()
    }

    /// Hex sha256 over a canonical serialisation of everything that affects a verdict (the
    /// per-namespace sets included), so caches keyed by it never serve a stale verdict after a
    /// policy change.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Whether the set holds no policy.
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }
}

/// Most policies a set scans rather than looking them up in its index: the index only narrows
/// (the candidates are matched anyway), and for a few policies its lookup costs more than the
/// scan it saves.
const SCAN_AT_MOST: usize = 4;

/// Whether `policy` applies in `namespace` and has a glob matching `image`.
fn covers(policy: &ImagePolicy, image: &ImageReference, namespace: Option<&str>) -> bool {
    (policy.namespace.is_none() || policy.namespace.as_deref() == namespace)
        && policy.images.iter().any(|glob| glob.matches(image))
}

/// Parse and validate every document of `text` as policy-controller would, without compiling
/// (so policies Signet cannot enforce yet can still be checked for validity).
pub fn validate_document(text: &str, source: &str) -> Result<(), LoadError> {
    check_size(text.len() as u64, source)?;
    for doc in parse::parse_documents(text, source)? {
        check_valid(&doc, source)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
