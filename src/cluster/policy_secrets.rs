//! The Secrets policies name (`key.secretRef`, `keyless.ca-cert.secretRef`,
//! `source[].signaturePullSecrets`) and the ConfigMaps (`policy.configMapRef`), watched in
//! Signet's own namespace only, as
//! policy-controller reads them from its system namespace. Every change (a Secret added,
//! edited or deleted) compiles the policies again, as a policy change does. Bounded: at most
//! [`MAX_SECRETS`] Secrets are kept, and a Secret larger than [`MAX_SECRET_BYTES`] is kept as
//! "too large" only, so a reference to it denies with that reason.
//!
//! RBAC: `get`, `list` and `watch` on secrets and configmaps in that namespace (a Role, not a ClusterRole);
//! `list`/`watch` cannot be limited to named Secrets, so Signet sees the others of its
//! namespace too, and keeps none it is not asked for beyond the bounds above.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
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

/// One event of either watch.
enum Watched {
    Secret(Result<watcher::Event<Secret>, watcher::Error>),
    ConfigMap(Result<watcher::Event<ConfigMap>, watcher::Error>),
}

/// Watch the Secrets and ConfigMaps of `namespace` until the process ends; give the composer
/// every change once both have been listed.
pub async fn watch_policy_secrets(
    client: kube::Client,
    namespace: String,
    composer: Arc<PolicyComposer>,
    sync: Arc<SecretSync>,
    report: impl Fn(bool) + Send + Sync + 'static,
) {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let config_maps: Api<ConfigMap> = Api::namespaced(client, &namespace);
    let secret_events = watcher(secrets, watcher::Config::default())
        .default_backoff()
        .map(Watched::Secret);
    let config_map_events = watcher(config_maps, watcher::Config::default())
        .default_backoff()
        .map(Watched::ConfigMap);
    let mut events = futures::stream::select(secret_events, config_map_events).boxed();
    let empty = ClusterSecrets {
        namespace: namespace.clone(),
        secrets: BTreeMap::new(),
        config_maps: BTreeMap::new(),
    };
    let (mut current, mut listing) = (empty.clone(), empty);
    let (mut secrets_listed, mut config_maps_listed) = (false, false);
    while let Some(event) = events.next().await {
        let changed = match event {
            Watched::Secret(event) => {
                secrets_listed |= matches!(event, Ok(watcher::Event::InitDone));
                secret_event(event, &mut current, &mut listing, &namespace)
            }
            // An older Role without configmaps: serve without them (a policy naming one
            // denies, saying it is not found) rather than never becoming ready.
            Watched::ConfigMap(Err(error)) if forbidden(&error) => {
                let first = !config_maps_listed;
                if first {
                    tracing::warn!(%error, %namespace, "Signet may not list ConfigMaps here; policies naming one (policy.configMapRef) deny until the Role grants configmaps get/list/watch");
                }
                config_maps_listed = true;
                first
            }
            Watched::ConfigMap(event) => {
                config_maps_listed |= matches!(event, Ok(watcher::Event::InitDone));
                config_map_event(event, &mut current, &mut listing, &namespace)
            }
        };
        if changed && secrets_listed && config_maps_listed {
            let secrets = PolicySecrets::Cluster(Arc::new(current.clone()));
            let result = composer.set_secrets(secrets);
            if let Err(error) = &result {
                tracing::warn!(%error, "policies refused with the new Secrets or ConfigMaps; the last valid ones stay in force");
            }
            report(result.is_ok());
            sync.synced.store(true, Ordering::SeqCst);
        }
    }
}

/// Whether the API server refused the list or watch (HTTP 403).
fn forbidden(error: &watcher::Error) -> bool {
    match error {
        watcher::Error::InitialListFailed(kube::Error::Api(status))
        | watcher::Error::WatchStartFailed(kube::Error::Api(status))
        | watcher::Error::WatchFailed(kube::Error::Api(status)) => status.code == 403,
        watcher::Error::WatchError(status) => status.code == 403,
        _ => false,
    }
}

/// Apply one Secret event; whether the Secrets in force changed.
fn secret_event(
    event: Result<watcher::Event<Secret>, watcher::Error>,
    current: &mut ClusterSecrets,
    listing: &mut ClusterSecrets,
    namespace: &str,
) -> bool {
    let maps = (&mut current.secrets, &mut listing.secrets);
    apply_event(event, maps, keep, ("Secrets", namespace))
}

/// Apply one ConfigMap event (`policy.configMapRef`); whether the ConfigMaps in force changed.
fn config_map_event(
    event: Result<watcher::Event<ConfigMap>, watcher::Error>,
    current: &mut ClusterSecrets,
    listing: &mut ClusterSecrets,
    namespace: &str,
) -> bool {
    let maps = (&mut current.config_maps, &mut listing.config_maps);
    apply_event(event, maps, keep_config_map, ("ConfigMaps", namespace))
}

/// One watch event over the objects in force (`current`) and those of a listing in progress;
/// `keep` stores one object (bounded), saying whether anything changed.
fn apply_event<K: kube::Resource, V>(
    event: Result<watcher::Event<K>, watcher::Error>,
    (current, listing): (&mut BTreeMap<String, V>, &mut BTreeMap<String, V>),
    keep: fn(&mut BTreeMap<String, V>, &K) -> bool,
    (what, namespace): (&str, &str),
) -> bool {
    match event {
        Ok(watcher::Event::Init) => {
            listing.clear();
            false
        }
        Ok(watcher::Event::InitApply(object)) => {
            keep(listing, &object);
            false
        }
        Ok(watcher::Event::InitDone) => {
            *current = std::mem::take(listing);
            true
        }
        Ok(watcher::Event::Apply(object)) => keep(current, &object),
        Ok(watcher::Event::Delete(object)) => {
            let name = object.meta().name.clone().unwrap_or_default();
            current.remove(&name).is_some()
        }
        Err(error) => {
            tracing::warn!(%error, %namespace, "watching the {what} policies name failed; retrying");
            false
        }
    }
}

/// Keep `map` (bounded like Secrets); whether anything changed.
fn keep_config_map(
    into: &mut BTreeMap<String, Result<BTreeMap<String, String>, usize>>,
    map: &ConfigMap,
) -> bool {
    let Some(name) = map.metadata.name.clone() else {
        return false;
    };
    if !into.contains_key(&name) && into.len() >= MAX_SECRETS {
        tracing::warn!(%name, limit = MAX_SECRETS, "too many ConfigMaps in Signet's namespace; this one is not read");
        return false;
    }
    let data = map.data.clone().unwrap_or_default();
    let size: usize = data.iter().map(|(k, v)| k.len() + v.len()).sum();
    let content = match size > MAX_SECRET_BYTES {
        true => Err(size),
        false => Ok(data.into_iter().collect()),
    };
    let changed = into.get(&name) != Some(&content);
    into.insert(name, content);
    changed
}

/// Keep `secret` (bounded); whether anything changed.
fn keep(into: &mut BTreeMap<String, SecretContent>, secret: &Secret) -> bool {
    let Some(name) = secret.metadata.name.clone() else {
        return false;
    };
    if !into.contains_key(&name) && into.len() >= MAX_SECRETS {
        tracing::warn!(%name, limit = MAX_SECRETS, "too many Secrets in Signet's namespace; this one is not read");
        return false;
    }
    let content = content(secret);
    let changed = into.get(&name) != Some(&content);
    into.insert(name, content);
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
