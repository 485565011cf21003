//! The Secrets policies name (`key.secretRef`, `keyless.ca-cert.secretRef`,
//! `source[].signaturePullSecrets`), watched in Signet's own namespace only, as
//! policy-controller reads them from its system namespace. Every change (a Secret added,
//! edited or deleted) compiles the policies again, as a policy change does. Bounded: at most
//! [`MAX_SECRETS`] Secrets are kept, and a Secret larger than [`MAX_SECRET_BYTES`] is kept as
//! "too large" only, so a reference to it denies with that reason.
//!
//! RBAC: `get`, `list` and `watch` on secrets in that namespace (a Role, not a ClusterRole);
//! `list`/`watch` cannot be limited to named Secrets, so Signet sees the others of its
//! namespace too, and keeps none it is not asked for beyond the bounds above.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};

use crate::policy::{ClusterSecrets, MAX_SECRET_BYTES, MAX_SECRETS, PolicySecrets, SecretContent};
use crate::reload::PolicyComposer;

/// Whether the Secrets of Signet's namespace have been listed once (readiness waits for it,
/// so no policy is first enforced without the Secrets it names).
#[derive(Debug, Default)]
pub struct SecretSync {
    synced: AtomicBool,
}

impl crate::server::ReadinessGate for SecretSync {
    fn is_ready(&self) -> bool {
        self.synced.load(Ordering::SeqCst)
    }
}

/// Watch the Secrets of `namespace` until the process ends; give the composer every change.
pub async fn watch_policy_secrets(
    client: kube::Client,
    namespace: String,
    composer: Arc<PolicyComposer>,
    sync: Arc<SecretSync>,
    report: impl Fn(bool) + Send + Sync + 'static,
) {
    let api: Api<Secret> = Api::namespaced(client, &namespace);
    let mut events = watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut current = ClusterSecrets {
        namespace: namespace.clone(),
        secrets: BTreeMap::new(),
    };
    let mut listing = ClusterSecrets {
        namespace: namespace.clone(),
        secrets: BTreeMap::new(),
    };
    while let Some(event) = events.next().await {
        let changed = match event {
            Ok(watcher::Event::Init) => {
                listing.secrets.clear();
                false
            }
            Ok(watcher::Event::InitApply(secret)) => {
                keep(&mut listing, &secret);
                false
            }
            Ok(watcher::Event::InitDone) => {
                current.secrets = std::mem::take(&mut listing.secrets);
                true
            }
            Ok(watcher::Event::Apply(secret)) => keep(&mut current, &secret),
            Ok(watcher::Event::Delete(secret)) => {
                let name = secret.metadata.name.unwrap_or_default();
                current.secrets.remove(&name).is_some()
            }
            Err(error) => {
                tracing::warn!(%error, %namespace, "watching the Secrets policies name failed; retrying");
                false
            }
        };
        if changed {
            let secrets = PolicySecrets::Cluster(Arc::new(current.clone()));
            let result = composer.set_secrets(secrets);
            if let Err(error) = &result {
                tracing::warn!(%error, "policies refused with the new Secrets; the last valid ones stay in force");
            }
            report(result.is_ok());
            sync.synced.store(true, Ordering::SeqCst);
        }
    }
}

/// Keep `secret` (bounded); whether anything changed.
fn keep(into: &mut ClusterSecrets, secret: &Secret) -> bool {
    let Some(name) = secret.metadata.name.clone() else {
        return false;
    };
    if !into.secrets.contains_key(&name) && into.secrets.len() >= MAX_SECRETS {
        tracing::warn!(%name, limit = MAX_SECRETS, "too many Secrets in Signet's namespace; this one is not read");
        return false;
    }
    let content = content(secret);
    let changed = into.secrets.get(&name) != Some(&content);
    into.secrets.insert(name, content);
    changed
}

fn content(secret: &Secret) -> SecretContent {
    let data = secret.data.clone().unwrap_or_default();
    let size: usize = data.iter().map(|(k, v)| k.len() + v.0.len()).sum();
    if size > MAX_SECRET_BYTES {
        return SecretContent::TooLarge(size);
    }
    SecretContent::Data {
        kind: secret.type_.clone().unwrap_or_else(|| "Opaque".to_string()),
        data: data.into_iter().map(|(k, v)| (k, v.0)).collect(),
    }
}
