//! Reading policy files: format detection by content (a JSON object with `default` is a
//! containers-policy.json, anything with `apiVersion`/`kind` a `ClusterImagePolicy` stream), the
//! builder that refuses duplicates and mixed formats, per-namespace files (CRI-O's
//! `signature_policy_dir`), and bounded reads.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::containers::compile as containers_compile;
use super::containers::policy_json::{self as containers_policy, Problem};
use super::error::{LoadError, LoadErrorKind};
use super::model::{AuthorityKind, ImagePolicy};
use super::secret_refs::PolicySecrets;
use super::sigstore::compile_secrets;
use super::sigstore::{cluster_image_policy, compile, parse, validate};
use super::strict_json::FieldProblem;
use super::trust::TrustRoots;
use super::{EXTENSIONS, MAX_FILE_BYTES, MAX_POLICIES, PolicySet, fingerprint};

/// Most files in a `--signature-policy-dir`.
pub const MAX_NAMESPACE_FILES: usize = 1000;

/// The two policy formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// containers-policy.json (CRI-O, podman): scopes, the most specific one applies.
    ContainersPolicy,
    /// sigstore policy-controller `ClusterImagePolicy`/`ImagePolicy` YAML or JSON.
    ClusterImagePolicy,
}

/// Which format `text` is in: a JSON object without `apiVersion`/`kind` that has `default` or
/// `transports` is a containers-policy.json; everything else is read as Kubernetes objects.
pub fn detect_format(text: &str) -> Format {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(text) else {
        return Format::ClusterImagePolicy;
    };
    let kubernetes = map.contains_key("apiVersion") || map.contains_key("kind");
    let containers = map.contains_key("default") || map.contains_key("transports");
    match containers && !kubernetes {
        true => Format::ContainersPolicy,
        false => Format::ClusterImagePolicy,
    }
}

/// Accumulates policies file by file, refusing duplicates and enforcing the set limit.
#[derive(Default)]
pub(super) struct Builder {
    policies: Vec<ImagePolicy>,
    seen: HashMap<String, String>,
    roots: TrustRoots,
    /// The containers-policy.json this set was read from, if it was.
    containers_policy: Option<String>,
    notes: Vec<String>,
    budget: Budget,
}

/// How many policies a set holds, cluster-wide and per namespace: separate budgets, so
/// namespaced `ImagePolicy` objects can never use up the cluster policies' one.
struct Budget {
    cluster: usize,
    namespaced: HashMap<String, usize>,
    /// [`MAX_POLICIES`]; smaller in tests, which cannot afford to compile 100,000 policies.
    limit: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            cluster: 0,
            namespaced: HashMap::new(),
            limit: MAX_POLICIES,
        }
    }
}

impl Budget {
    /// Count a policy of `namespace` (`None`: cluster-wide); the refusal when its budget is
    /// spent.
    fn count(&mut self, namespace: Option<&str>) -> Option<String> {
        let (used, what) = match namespace {
            None => (&mut self.cluster, "cluster-wide policies".to_string()),
            Some(namespace) => {
                let used = self.namespaced.entry(namespace.to_string()).or_default();
                let what = format!("ImagePolicy objects in namespace {namespace:?}");
                (used, what)
            }
        };
        if *used == self.limit {
            let limit = self.limit;
            return Some(format!("more than {limit} {what} (Signet's limit)"));
        }
        *used += 1;
        None
    }
}

/// The policy objects of one document, parsed, validated and compiled on their own, to be
/// combined into sets without compiling them again: the cluster's objects change one at a
/// time, and each change should cost one document, not all of them. Compiled with the trust
/// roots of that moment; compile again when they change.
#[derive(Debug, Clone)]
pub struct CompiledDocument {
    source: String,
    policies: Vec<ImagePolicy>,
    /// What loading it noted (SCTs not verified, ...), said again with every set it is in.
    notes: Vec<String>,
}

impl CompiledDocument {
    /// Compile the policy objects of `text` (`source` names it in errors). A
    /// containers-policy.json is refused: it is a whole policy, not an object.
    pub fn compile(text: &str, source: &str, roots: &TrustRoots) -> Result<Self, LoadError> {
        check_size(text.len() as u64, source)?;
        if detect_format(text) == Format::ContainersPolicy {
            let message = "a containers-policy.json is a whole policy, not a policy object: give it with --policy".to_string();
            return Err(LoadError::file(source, LoadErrorKind::Unsupported(message)));
        }
        let mut builder = Builder::with_roots(roots);
        builder.add(text, source)?;
        Ok(Self {
            source: source.to_string(),
            policies: builder.policies,
            notes: builder.notes,
        })
    }
}

impl Builder {
    pub(super) fn with_roots(roots: &TrustRoots) -> Self {
        Self {
            roots: roots.clone(),
            ..Self::default()
        }
    }

    /// A builder whose budgets are `limit` policies instead of [`MAX_POLICIES`] (the refusals
    /// are tested at a size a test can load; [`MAX_POLICIES`] itself in `budget_tests`).
    #[cfg(test)]
    pub(super) fn with_limit(limit: usize) -> Self {
        let mut builder = Self::default();
        builder.budget.limit = limit;
        builder
    }

    /// A builder holding the policy files (or directories) `paths`.
    pub(super) fn with_files(paths: &[PathBuf], roots: &TrustRoots) -> Result<Self, LoadError> {
        let mut builder = Self::with_roots(roots);
        for path in paths {
            for file in policy_files(path)? {
                let name = file.display().to_string();
                builder.add(&read_limited(&file, &name)?, &name)?;
            }
        }
        Ok(builder)
    }

    pub(super) fn add(&mut self, text: &str, source: &str) -> Result<(), LoadError> {
        if let Some(first) = &self.containers_policy {
            return Err(mixed(source, first));
        }
        if detect_format(text) == Format::ContainersPolicy {
            return self.add_containers_policy(text, source);
        }
        for doc in parse::parse_documents(text, source)? {
            check_valid(&doc, source)?;
            let namespace = doc
                .is_namespaced()
                .then_some(doc.metadata.namespace.as_str());
            self.admit(&doc.object_id(), namespace, source)?;
            self.policies
                .push(compile_document(&doc, source, &self.roots)?);
            self.note_unverified_scts(&doc, source);
            if matches!(self.roots.secrets(), PolicySecrets::Checked) {
                self.notes
                    .extend(compile_secrets::check_notes(&doc, source));
            }
        }
        Ok(())
    }

    /// Add the objects of a document compiled before.
    pub(super) fn add_compiled(&mut self, document: &CompiledDocument) -> Result<(), LoadError> {
        let source = &document.source;
        if let Some(first) = &self.containers_policy {
            return Err(mixed(source, first));
        }
        for policy in &document.policies {
            let namespace = policy.namespace.as_deref();
            let kind = match namespace {
                Some(_) => "ImagePolicy",
                None => "ClusterImagePolicy",
            };
            let object =
                cluster_image_policy::object_id(kind, namespace.unwrap_or_default(), &policy.name);
            self.admit(&object, namespace, source)?;
            self.policies.push(policy.clone());
        }
        self.notes.extend(document.notes.iter().cloned());
        Ok(())
    }

    /// Refuse an object defined twice, or beyond its budget.
    fn admit(
        &mut self,
        object: &str,
        namespace: Option<&str>,
        source: &str,
    ) -> Result<(), LoadError> {
        if let Some(first) = self.seen.insert(object.to_string(), source.to_string()) {
            let message = format!("defined twice (first in {first})");
            return Err(invalid(source, object, None, message));
        }
        if let Some(message) = self.budget.count(namespace) {
            let kind = LoadErrorKind::Unsupported(message);
            return Err(LoadError::object(
                source,
                Some(object.to_string()),
                None,
                kind,
            ));
        }
        Ok(())
    }

    /// policy-controller requires an embedded SCT (a CT log's promise that Fulcio published
    /// the certificate) from a keyless authority that does not set `insecureIgnoreSCT: true`.
    /// Signet verifies it against the trust root's CT logs; where the trust root lists none it
    /// cannot, and requires the Rekor entry only. Said at load (log and `policy check`) for
    /// every such authority, so the difference is never silent.
    fn note_unverified_scts(&mut self, doc: &cluster_image_policy::Document, source: &str) {
        let object = doc.object_id();
        let Some(compiled) = self.policies.last() else {
            return;
        };
        let mut notes = Vec::new();
        let wire = doc.spec.authorities.iter();
        for (i, (authority, compiled)) in wire.zip(&compiled.authorities).enumerate() {
            let (Some(keyless), AuthorityKind::Keyless(k)) = (&authority.keyless, &compiled.kind)
            else {
                continue;
            };
            if keyless.insecure_ignore_sct.is_some() || k.trust.sct_required {
                continue;
            }
            let field = format!("spec.authorities[{i}].keyless");
            tracing::warn!(
                source,
                object = %object,
                %field,
                "SCTs are not verified: the trust root lists no CT log; policy-controller would \
                 require one; Signet requires the Rekor entry instead (set insecureIgnoreSCT: \
                 true to say so)"
            );
            notes.push(format!(
                "{source} {object} {field}: SCTs are not verified ({} lists no CT log; \
                 policy-controller would require an embedded SCT, since insecureIgnoreSCT is \
                 not set); Signet requires the Rekor entry instead. Add ctLogs to the trust \
                 root, or set insecureIgnoreSCT: true to say so and silence this note",
                k.trust.origin
            ));
        }
        self.notes.extend(notes);
    }

    /// A containers-policy.json is a whole policy: it must be the only file of its set.
    fn add_containers_policy(&mut self, text: &str, source: &str) -> Result<(), LoadError> {
        if let Some(first) = self.seen.values().next() {
            return Err(mixed(source, first));
        }
        let parsed = containers_policy::parse(text).map_err(|p| problem(source, p))?;
        for transport in &parsed.ignored_transports {
            self.notes.push(format!(
                "transports.{transport} ignored: it never governs a kubelet pull (CRI-O pulls through docker:)"
            ));
        }
        let policies =
            containers_compile::compile(&parsed, source).map_err(|p| problem(source, p))?;
        if policies.len() > MAX_POLICIES {
            let message = format!("more than {MAX_POLICIES} requirements (Signet's limit)");
            return Err(LoadError::file(source, LoadErrorKind::Unsupported(message)));
        }
        self.policies = policies;
        self.containers_policy = Some(source.to_string());
        Ok(())
    }

    pub(super) fn finish(mut self) -> PolicySet {
        for policy in &mut self.policies {
            policy.refresh_fingerprint();
        }
        let by_scope = self.containers_policy.is_some();
        let fingerprint = fingerprint::fingerprint(&self.policies, by_scope, &[]);
        let reads_objects = self
            .policies
            .iter()
            .any(|p| p.result_policy.as_ref().is_some_and(|r| r.reads_object()));
        let selects_objects = self.policies.iter().any(|p| !p.resources.is_empty());
        PolicySet {
            reads_objects,
            selects_objects,
            index: super::index::PolicyIndex::build(&self.policies),
            policies: self.policies,
            by_scope,
            namespaces: BTreeMap::new(),
            notes: self.notes,
            over_limit: BTreeMap::new(),
            notation: None,
            fingerprint,
        }
    }
}

pub(super) fn check_valid(
    doc: &cluster_image_policy::Document,
    source: &str,
) -> Result<(), LoadError> {
    let errs = validate::validate(doc);
    if errs.is_empty() {
        return Ok(());
    }
    Err(invalid(
        source,
        &doc.object_id(),
        errs.first_path(),
        errs.render(),
    ))
}

fn compile_document(
    doc: &cluster_image_policy::Document,
    source: &str,
    roots: &TrustRoots,
) -> Result<ImagePolicy, LoadError> {
    compile::compile(doc, source, roots).map_err(|findings| {
        let field = findings.first().map(|f| f.field.clone());
        let mut message = findings
            .first()
            .map(|f| f.reason.clone())
            .unwrap_or_default();
        let others: Vec<&str> = findings.iter().skip(1).map(|f| f.field.as_str()).collect();
        if !others.is_empty() {
            message.push_str(&format!(" (also not supported: {})", others.join(", ")));
        }
        LoadError::object(
            source,
            Some(doc.object_id()),
            field,
            LoadErrorKind::Unsupported(message),
        )
    })
}

fn mixed(source: &str, first: &str) -> LoadError {
    let message = format!(
        "a containers-policy.json is a whole policy and cannot be combined with other policy \
         files (also given: {first}); give one containers-policy.json, or ClusterImagePolicy files"
    );
    LoadError::file(source, LoadErrorKind::Unsupported(message))
}

/// A containers-policy.json problem as a load error naming the file and the field.
fn problem(source: &str, problem: Problem) -> LoadError {
    let (FieldProblem { field, reason }, kind): (FieldProblem, fn(String) -> LoadErrorKind) =
        match problem {
            Problem::Invalid(p) => (p, LoadErrorKind::Invalid),
            Problem::Unsupported(p) => (p, LoadErrorKind::Unsupported),
        };
    let field = (!field.is_empty()).then_some(field);
    LoadError::object(source, None, field, kind(reason))
}

/// `<dir>/<namespace>.json` for every namespace that has one, loaded with `roots`. A missing
/// directory has no files (CRI-O then uses the global policy for every namespace). Files whose
/// name is not a namespace name can never be looked up and are skipped.
pub(super) fn namespace_sets(
    dir: &Path,
    roots: &TrustRoots,
) -> Result<BTreeMap<String, PolicySet>, LoadError> {
    let shown = dir.display().to_string();
    let io = |e| LoadError::file(&shown, LoadErrorKind::Io(e));
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!(dir = %shown, "--signature-policy-dir does not exist: every namespace uses the global policy");
            return Ok(BTreeMap::new());
        }
        Err(e) => return Err(io(e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let file = entry.map_err(io)?.path();
        if let Some(namespace) = namespace_of(&file) {
            files.push((namespace, file));
        }
    }
    if files.len() > MAX_NAMESPACE_FILES {
        let message = format!("more than {MAX_NAMESPACE_FILES} namespace files (Signet's limit)");
        return Err(LoadError::file(&shown, LoadErrorKind::Unsupported(message)));
    }
    let mut sets = BTreeMap::new();
    for (namespace, file) in files {
        let name = file.display().to_string();
        let mut builder = Builder::with_roots(roots);
        builder.add(&read_limited(&file, &name)?, &name)?;
        sets.insert(namespace, builder.finish());
    }
    Ok(sets)
}

/// The namespace `<namespace>.json` is for: a visible regular file whose stem is a DNS-1123
/// label, as Kubernetes namespace names are.
fn namespace_of(file: &Path) -> Option<String> {
    let name = file.file_name()?.to_str()?;
    let stem = name.strip_suffix(".json")?;
    let label = !stem.is_empty()
        && stem.len() <= 63
        && stem
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !stem.starts_with('-')
        && !stem.ends_with('-');
    (label && file.is_file()).then(|| stem.to_string())
}

pub(super) fn invalid(
    source: &str,
    object: &str,
    field: Option<String>,
    message: String,
) -> LoadError {
    LoadError::object(
        source,
        Some(object.to_string()),
        field,
        LoadErrorKind::Invalid(message),
    )
}

/// The files to read for one configured path.
pub(super) fn policy_files(path: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let io = |e| LoadError::file(&path.display().to_string(), LoadErrorKind::Io(e));
    if !fs::metadata(path).map_err(io)?.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in fs::read_dir(path).map_err(io)? {
        let file = entry.map_err(io)?.path();
        if is_policy_file(&file) {
            files.push(file);
        }
    }
    files.sort();
    Ok(files)
}

fn is_policy_file(file: &Path) -> bool {
    let visible = file
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| !n.starts_with('.'));
    let extension = file
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
    visible && extension && file.is_file()
}

/// Read a file of at most `MAX_FILE_BYTES` as UTF-8.
pub(super) fn read_limited(file: &Path, name: &str) -> Result<String, LoadError> {
    let io = |e| LoadError::file(name, LoadErrorKind::Io(e));
    let mut bytes = Vec::new();
    fs::File::open(file)
        .map_err(io)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    check_size(bytes.len() as u64, name)?;
    String::from_utf8(bytes)
        .map_err(|_| LoadError::file(name, LoadErrorKind::Yaml("file is not UTF-8".into())))
}

pub(super) fn check_size(len: u64, source: &str) -> Result<(), LoadError> {
    if len <= MAX_FILE_BYTES {
        return Ok(());
    }
    let message = format!("policy file larger than {MAX_FILE_BYTES} bytes (Signet's limit)");
    Err(LoadError::file(source, LoadErrorKind::Unsupported(message)))
}

#[cfg(test)]
mod budget_tests {
    use super::{Budget, MAX_POLICIES};

    /// The real limit: `MAX_POLICIES` cluster-wide policies and as many in each namespace,
    /// counted apart, and not one more.
    #[test]
    fn the_budgets_hold_max_policies_each() {
        assert_eq!(MAX_POLICIES, 100_000);
        let mut budget = Budget::default();
        for _ in 0..MAX_POLICIES {
            assert_eq!(budget.count(None), None);
            assert_eq!(budget.count(Some("a")), None);
        }
        assert!(
            budget
                .count(None)
                .is_some_and(|m| m.contains("100000 cluster-wide"))
        );
        assert!(
            budget
                .count(Some("a"))
                .is_some_and(|m| m.contains("namespace \"a\""))
        );
        assert_eq!(budget.count(Some("b")), None);
    }
}
