//! Policy files are re-read when their content changes: the `--policy` files, the trust roots,
//! and the per-namespace directory (`--signature-policy-dir`: a file added, changed or removed
//! there changes the hash too). A broken new file is refused, logged and counted; the policy in
//! force stays.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest as _, Sha256};

mod composer;

pub use composer::{Applied, DEFAULT_MAX_POLICIES_PER_NAMESPACE, Namespaced, PolicyComposer};

use crate::engine::Engine;
use crate::policy::{LoadError, NotationTrustPolicy, PolicySet, TrustRoots};

/// Where a policy set comes from.
#[derive(Debug, Clone, Default)]
pub struct PolicySources {
    /// `--policy` files or directories; empty: the embedded example.
    pub paths: Vec<PathBuf>,
    /// `--trust-root` files or directories.
    pub trust_roots: Vec<PathBuf>,
    /// `--signature-policy-dir`: `<dir>/<namespace>.json` per namespace.
    pub namespace_dir: Option<PathBuf>,
    /// `--notation-trust-policy` and `--notation-trust-store`.
    pub notation: Option<NotationSources>,
}

/// A Notation trust policy and the trust store directory its statements name.
#[derive(Debug, Clone)]
pub struct NotationSources {
    /// The trust policy file (or Notation's configuration directory).
    pub policy: PathBuf,
    /// The trust store directory (`x509/...` below it).
    pub store: PathBuf,
}

impl NotationSources {
    /// Read the trust policy and its stores.
    pub fn load(&self) -> Result<NotationTrustPolicy, LoadError> {
        NotationTrustPolicy::load(&self.policy, &self.store)
    }

    /// Add the trust policy to `set` (last: the set's fingerprint must be final).
    pub fn apply(sources: Option<&Self>, set: PolicySet) -> Result<PolicySet, LoadError> {
        match sources {
            Some(notation) => Ok(set.with_notation(notation.load()?)),
            None => Ok(set),
        }
    }
}

impl PolicySources {
    /// Every path whose content is watched.
    pub fn watched(&self) -> Vec<PathBuf> {
        let dir = self.namespace_dir.iter().cloned();
        // The store directory's files are hashed one level down only: its certificates sit in
        // x509/<type>/<name>/, so each named store directory is watched.
        let notation = self.notation.iter().flat_map(|n| {
            let stores = notation_store_dirs(&n.store);
            std::iter::once(n.policy.clone()).chain(stores)
        });
        self.paths
            .iter()
            .chain(&self.trust_roots)
            .cloned()
            .chain(dir)
            .chain(notation)
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
        let set = match &self.namespace_dir {
            Some(dir) => set.with_namespace_dir(dir, &roots)?,
            None => set,
        };
        NotationSources::apply(self.notation.as_ref(), set)
    }
}

/// `{store}/x509/<type>/<name>` for every named store present now.
fn notation_store_dirs(store: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for kind in ["ca", "signingAuthority", "tsa"] {
        let Ok(entries) = std::fs::read_dir(store.join("x509").join(kind)) else {
            continue;
        };
        let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        dirs.sort();
        out.extend(dirs);
    }
    out
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
/// `report(ok)` after each attempt. The files are read when this is called, so a change written
/// after the call (even before the returned future first runs) is always seen.
pub fn watch_policies(
    paths: Vec<PathBuf>,
    engine: Arc<Engine>,
    interval: Duration,
    report: impl Fn(bool) + Send + 'static,
) -> impl Future<Output = ()> + Send + 'static {
    watch_policy_sources(paths, Vec::new(), engine, interval, report)
}

/// [`watch_policies`] for policies that may name trust roots: a change to a policy file or to
/// a `--trust-root` file reloads both.
pub fn watch_policy_sources(
    paths: Vec<PathBuf>,
    trust_roots: Vec<PathBuf>,
    engine: Arc<Engine>,
    interval: Duration,
    report: impl Fn(bool) + Send + 'static,
) -> impl Future<Output = ()> + Send + 'static {
    let sources = PolicySources {
        paths,
        trust_roots,
        namespace_dir: None,
        notation: None,
    };
    watch_sources(sources, None, engine, interval, report)
}

/// Poll every path of `sources` every `interval`; on a content change load the whole set again
/// (with `embedded` when there are no policy files) and swap it in, or keep the one in force.
/// The files are read when this is called (see [`watch_policies`]).
pub fn watch_sources(
    sources: PolicySources,
    embedded: Option<(&'static str, &'static str)>,
    engine: Arc<Engine>,
    interval: Duration,
    report: impl Fn(bool) + Send + 'static,
) -> impl Future<Output = ()> + Send + 'static {
    let watched = sources.watched();
    on_content_change(watched, interval, move || match sources.load(embedded) {
        Ok(policies) => {
            engine.replace_policies(policies);
            tracing::info!("policy reloaded");
            report(true);
        }
        Err(error) => {
            tracing::warn!(%error, "new policy refused; keeping the policy in force");
            report(false);
        }
    })
}

/// Poll `watched` every `interval` and call `changed` whenever their content differs from the
/// last poll. Polling content rather than watching file events also sees Kubernetes' `..data`
/// symlink swaps of mounted ConfigMaps and Secrets. The first content is read now, not when the
/// returned future first runs: a watcher spawned just before a write cannot miss it.
fn on_content_change(
    watched: Vec<PathBuf>,
    interval: Duration,
    mut changed: impl FnMut() + Send + 'static,
) -> impl Future<Output = ()> + Send + 'static {
    let mut last = content_hash(&watched);
    async move {
        loop {
            tokio::time::sleep(interval).await;
            let now = content_hash(&watched);
            if now != last {
                last = now;
                changed();
            }
        }
    }
}
