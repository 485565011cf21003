//! Policy files are re-read when their content changes: the `--policy` files, the trust roots,
//! and the per-namespace directory (`--signature-policy-dir`: a file added, changed or removed
//! there changes the hash too). A broken new file is refused, logged and counted; the policy in
//! force stays.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest as _, Sha256};

use crate::engine::Engine;
use crate::policy::{LoadError, PolicySet, TrustRoots};

/// Where a policy set comes from.
#[derive(Debug, Clone, Default)]
pub struct PolicySources {
    /// `--policy` files or directories; empty: the embedded example.
    pub paths: Vec<PathBuf>,
    /// `--trust-root` files or directories.
    pub trust_roots: Vec<PathBuf>,
    /// `--signature-policy-dir`: `<dir>/<namespace>.json` per namespace.
    pub namespace_dir: Option<PathBuf>,
}

impl PolicySources {
    /// Every path whose content is watched.
    pub fn watched(&self) -> Vec<PathBuf> {
        let dir = self.namespace_dir.iter().cloned();
        self.paths
            .iter()
            .chain(&self.trust_roots)
            .cloned()
            .chain(dir)
            .collect()
    }

    /// Load the set: the files (or `embedded`, `(text, source)`, when there are none), the
    /// trust roots, and the per-namespace files.
    pub fn load(&self, embedded: Option<(&str, &str)>) -> Result<PolicySet, LoadError> {
        let roots = TrustRoots::load(&self.trust_roots)?;
        let set = match (self.paths.is_empty(), embedded) {
            (true, Some((text, source))) => {
                PolicySet::from_yaml_with_trust_roots(text, source, &roots)?
            }
            _ => PolicySet::load_with_trust_roots(&self.paths, &roots)?,
        };
        match &self.namespace_dir {
            Some(dir) => set.with_namespace_dir(dir, &roots),
            None => Ok(set),
        }
    }
}

/// Hash of the bytes of every policy file under `paths` (directories listed, sorted).
pub fn content_hash(paths: &[PathBuf]) -> String {
    let mut hasher = Sha256::new();
    for path in expand(paths) {
        hasher.update(path.display().to_string().as_bytes());
        hasher.update(std::fs::read(&path).unwrap_or_default());
    }
    hex::encode(hasher.finalize())
}

fn expand(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for path in paths {
        match std::fs::read_dir(path) {
            Ok(entries) => {
                let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
                files.sort();
                out.extend(files);
            }
            Err(_) => out.push(path.clone()),
        }
    }
    out
}

/// Poll `paths` every `interval`; on a content change load and swap the policy set, calling
/// `report(ok)` after each attempt.
pub async fn watch_policies(
    paths: Vec<PathBuf>,
    engine: Arc<Engine>,
    interval: Duration,
    report: impl Fn(bool) + Send + 'static,
) {
    watch_policy_sources(paths, Vec::new(), engine, interval, report).await;
}

/// [`watch_policies`] for policies that may name trust roots: a change to a policy file or to
/// a `--trust-root` file reloads both.
pub async fn watch_policy_sources(
    paths: Vec<PathBuf>,
    trust_roots: Vec<PathBuf>,
    engine: Arc<Engine>,
    interval: Duration,
    report: impl Fn(bool) + Send + 'static,
) {
    let sources = PolicySources {
        paths,
        trust_roots,
        namespace_dir: None,
    };
    watch_sources(sources, None, engine, interval, report).await;
}

/// Poll every path of `sources` every `interval`; on a content change load the whole set again
/// (with `embedded` when there are no policy files) and swap it in, or keep the one in force.
pub async fn watch_sources(
    sources: PolicySources,
    embedded: Option<(&'static str, &'static str)>,
    engine: Arc<Engine>,
    interval: Duration,
    report: impl Fn(bool) + Send + 'static,
) {
    on_content_change(sources.watched(), interval, || {
        match sources.load(embedded) {
            Ok(policies) => {
                engine.replace_policies(policies);
                tracing::info!("policy reloaded");
                report(true);
            }
            Err(error) => {
                tracing::warn!(%error, "new policy refused; keeping the policy in force");
                report(false);
            }
        }
    })
    .await;
}

/// Poll `watched` every `interval` and call `changed` whenever their content differs from the
/// last poll. Polling content rather than watching file events also sees Kubernetes' `..data`
/// symlink swaps of mounted ConfigMaps and Secrets.
async fn on_content_change(watched: Vec<PathBuf>, interval: Duration, mut changed: impl FnMut()) {
    let mut last = content_hash(&watched);
    loop {
        tokio::time::sleep(interval).await;
        let now = content_hash(&watched);
        if now != last {
            last = now;
            changed();
        }
    }
}

/// Policy files plus documents another source pushes (the cluster's policy objects, by a key
/// such as `ClusterImagePolicy.policy.sigstore.dev/name`), loaded into one set and swapped into
/// the engine under one lock, so a file reload and a document change never undo each other.
pub struct PolicyComposer {
    sources: PolicySources,
    engine: Arc<Engine>,
    /// The documents in force, by key: `(source name, text)`.
    documents: Mutex<BTreeMap<String, (String, String)>>,
}

impl PolicyComposer {
    /// A composer over the files of `sources` (no embedded example: with documents from
    /// elsewhere, no files means no file policies).
    pub fn new(sources: PolicySources, engine: Arc<Engine>) -> Self {
        Self {
            sources,
            engine,
            documents: Mutex::new(BTreeMap::new()),
        }
    }

    /// Apply `change` to a copy of the documents, load the whole set, and on success keep the
    /// copy and swap the set into the engine; on failure keep both as they were.
    pub fn update(
        &self,
        change: impl FnOnce(&mut BTreeMap<String, (String, String)>),
    ) -> Result<(), LoadError> {
        let mut documents = self.documents.lock().unwrap_or_else(|e| e.into_inner());
        let mut candidate = documents.clone();
        change(&mut candidate);
        let set = self.load(&candidate)?;
        self.engine.replace_policies(set);
        *documents = candidate;
        Ok(())
    }

    /// The text in force for `key`, if any.
    pub fn document(&self, key: &str) -> Option<String> {
        let documents = self.documents.lock().unwrap_or_else(|e| e.into_inner());
        documents.get(key).map(|(_, text)| text.clone())
    }

    /// The keys in force.
    pub fn keys(&self) -> Vec<String> {
        let documents = self.documents.lock().unwrap_or_else(|e| e.into_inner());
        documents.keys().cloned().collect()
    }

    fn load(&self, documents: &BTreeMap<String, (String, String)>) -> Result<PolicySet, LoadError> {
        let roots = TrustRoots::load(&self.sources.trust_roots)?;
        let texts = documents
            .values()
            .map(|(source, text)| (source.as_str(), text.as_str()));
        let set = PolicySet::load_with_documents(&self.sources.paths, texts, &roots)?;
        match &self.sources.namespace_dir {
            Some(dir) => set.with_namespace_dir(dir, &roots),
            None => Ok(set),
        }
    }

    /// Poll the files every `interval`; on a content change reload files and documents
    /// together, calling `report(ok)`.
    pub async fn watch_files(
        self: Arc<Self>,
        interval: Duration,
        report: impl Fn(bool) + Send + 'static,
    ) {
        on_content_change(self.sources.watched(), interval, || {
            let result = self.update(|_| {});
            if let Err(error) = &result {
                tracing::warn!(%error, "new policy refused; keeping the policy in force");
            }
            report(result.is_ok());
        })
        .await;
    }
}
