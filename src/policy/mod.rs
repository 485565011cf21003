//! Policies: sigstore policy-controller `ClusterImagePolicy` / `ImagePolicy` files loaded into
//! Signet's typed model, and the choice of policies that cover an image.
//!
//! Loading has two steps. *Parse and validate* applies policy-controller's own rules (and the
//! API server's CRD schema before them) and refuses what a cluster would refuse, with the same
//! field paths (`LoadErrorKind::Invalid`). *Compile* turns a valid policy into the model and
//! refuses, by field, whatever Signet cannot enforce yet (`LoadErrorKind::Unsupported`): nothing
//! is silently ignored. Reads local files only; no network.

mod cluster_image_policy;
mod compile;
mod compile_keyless;
mod error;
mod field_error;
mod fingerprint;
mod glob;
mod key;
mod model;
mod parse;
mod syntax;
mod trust;
mod trust_root;
mod trust_root_formats;
mod validate;

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::reference::ImageReference;

pub use error::{LoadError, LoadErrorKind};
pub use glob::{GlobError, ImageGlob};
pub use model::{
    Authority, AuthorityKind, CertificateIdentity, FailureAction, IdentityRule, ImagePolicy,
    KeyAuthority, KeylessAuthority, Matcher, Mode, SignatureSource, StaticAction, StaticAuthority,
    TrustedKey,
};
pub use trust::{
    CertificateAuthority, KeylessTrust, LogKey, MAX_CHAIN_CERTIFICATES, TimeRange, TrustError,
};
pub use trust_root::{DEFAULT_TRUST_ROOT, TrustRoots};

/// A policy file larger than this is refused.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// At most this many policies in a set.
pub const MAX_POLICIES: usize = 1000;

/// The source name of policies loaded from text without a file.
const EMBEDDED: &str = "embedded";
/// File extensions read from a directory.
const EXTENSIONS: &[&str] = &["yaml", "yml", "json"];

/// A loaded, validated and compiled set of policies.
#[derive(Debug, Clone)]
pub struct PolicySet {
    policies: Vec<ImagePolicy>,
    fingerprint: String,
}

impl Default for PolicySet {
    fn default() -> Self {
        Builder::default().finish()
    }
}

impl PolicySet {
    /// Load files or directories (`*.yaml`, `*.yml`, `*.json` inside, not recursive, hidden
    /// entries such as Kubernetes' `..data` skipped, sorted). Files are multi-document YAML;
    /// documents of other kinds are an error naming the file and kind.
    pub fn load(paths: &[PathBuf]) -> Result<PolicySet, LoadError> {
        Self::load_with_trust_roots(paths, &TrustRoots::default())
    }

    /// [`PolicySet::load`] with the trust roots keyless authorities may name.
    pub fn load_with_trust_roots(
        paths: &[PathBuf],
        roots: &TrustRoots,
    ) -> Result<PolicySet, LoadError> {
        let mut builder = Builder::with_roots(roots);
        for path in paths {
            for file in policy_files(path)? {
                let name = file.display().to_string();
                builder.add(&read_limited(&file, &name)?, &name)?;
            }
        }
        Ok(builder.finish())
    }

    /// Load policies from YAML `text`; `source` names it in errors (a path, or `"embedded"`).
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

    /// The policies, in load order.
    pub fn policies(&self) -> &[ImagePolicy] {
        &self.policies
    }

    /// Policies whose globs match `image` (and, for namespaced `ImagePolicy`, whose namespace
    /// equals `namespace`).
    pub fn matching<'a>(
        &'a self,
        image: &ImageReference,
        namespace: Option<&str>,
    ) -> Vec<&'a ImagePolicy> {
        self.policies
            .iter()
            .filter(|p| p.namespace.is_none() || p.namespace.as_deref() == namespace)
            .filter(|p| p.images.iter().any(|glob| glob.matches(image)))
            .collect()
    }

    /// Hex sha256 over a canonical serialisation of everything that affects a verdict, so caches
    /// keyed by it never serve a stale verdict after a policy change.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Whether the set holds no policy.
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }
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

/// Accumulates policies file by file, refusing duplicates and enforcing the set limit.
#[derive(Default)]
struct Builder {
    policies: Vec<ImagePolicy>,
    seen: HashMap<String, String>,
    roots: TrustRoots,
}

impl Builder {
    fn with_roots(roots: &TrustRoots) -> Self {
        Self {
            roots: roots.clone(),
            ..Self::default()
        }
    }

    fn add(&mut self, text: &str, source: &str) -> Result<(), LoadError> {
        for doc in parse::parse_documents(text, source)? {
            check_valid(&doc, source)?;
            let object = doc.object_id();
            if let Some(first) = self.seen.insert(object.clone(), source.to_string()) {
                let message = format!("defined twice (first in {first})");
                return Err(invalid(source, &object, None, message));
            }
            if self.policies.len() == MAX_POLICIES {
                let message = format!("more than {MAX_POLICIES} policies (Signet's limit)");
                let kind = LoadErrorKind::Unsupported(message);
                return Err(LoadError::object(source, Some(object), None, kind));
            }
            self.policies
                .push(compile_document(&doc, source, &self.roots)?);
        }
        Ok(())
    }

    fn finish(self) -> PolicySet {
        let fingerprint = fingerprint::fingerprint(&self.policies);
        PolicySet {
            policies: self.policies,
            fingerprint,
        }
    }
}

fn check_valid(doc: &cluster_image_policy::Document, source: &str) -> Result<(), LoadError> {
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

fn invalid(source: &str, object: &str, field: Option<String>, message: String) -> LoadError {
    LoadError::object(
        source,
        Some(object.to_string()),
        field,
        LoadErrorKind::Invalid(message),
    )
}

/// The files to read for one configured path.
fn policy_files(path: &Path) -> Result<Vec<PathBuf>, LoadError> {
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
fn read_limited(file: &Path, name: &str) -> Result<String, LoadError> {
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

fn check_size(len: u64, source: &str) -> Result<(), LoadError> {
    if len <= MAX_FILE_BYTES {
        return Ok(());
    }
    let message = format!("policy file larger than {MAX_FILE_BYTES} bytes (Signet's limit)");
    Err(LoadError::file(source, LoadErrorKind::Unsupported(message)))
}

#[cfg(test)]
mod tests;
