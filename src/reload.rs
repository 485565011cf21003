//! Policy files are re-read when their content changes. A broken new file is refused, logged
//! and counted; the policy in force stays.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest as _, Sha256};

use crate::engine::Engine;
use crate::policy::{LoadError, PolicySet, TrustRoots};

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
    let watched: Vec<PathBuf> = paths.iter().chain(&trust_roots).cloned().collect();
    let mut last = content_hash(&watched);
    loop {
        tokio::time::sleep(interval).await;
        let now = content_hash(&watched);
        if now == last {
            continue;
        }
        match load(&paths, &trust_roots) {
            Ok(policies) => {
                engine.replace_policies(policies);
                tracing::info!("policy reloaded");
                last = now;
                report(true);
            }
            Err(error) => {
                tracing::warn!(%error, "new policy refused; keeping the policy in force");
                last = now;
                report(false);
            }
        }
    }
}

fn load(paths: &[PathBuf], trust_roots: &[PathBuf]) -> Result<PolicySet, LoadError> {
    PolicySet::load_with_trust_roots(paths, &TrustRoots::load(trust_roots)?)
}
