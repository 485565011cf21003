//! The registry credentials a pod pulls with, as the kubelet finds them: the pod's own
//! `imagePullSecrets` first, then those of its service account (`default` when it names none),
//! every one read from the pod's own namespace only. Secrets of type
//! `kubernetes.io/dockerconfigjson` and the legacy `kubernetes.io/dockercfg` are read; a named
//! secret that does not exist is skipped, as the kubelet does. Lookups are cached briefly
//! (errors are not), so a burst of pods from one ReplicaSet costs one read per secret. Every
//! lookup has a deadline shorter than the review's: an API server that fails or never answers
//! gives a denial naming it, inside the webhook's timeout, never an admission.
//!
//! The result is a [`Credentials`] keyed by exact registry host, so credentials for registry A
//! are never presented to registry B.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use crate::expiring::{ExpiringCache, system_clock};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::api::Api;
use serde_json::Value;

use crate::engine::CredentialSource;
use crate::registry::Credentials;
use crate::server;
use crate::workload::WorkloadKind;

/// Where a pod's pull credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullIdentity {
    /// The pod's namespace: the only namespace secrets are read from.
    pub namespace: String,
    /// `serviceAccountName`, `default` when absent.
    pub service_account: String,
    /// The pod's own `imagePullSecrets`, in order.
    pub pull_secrets: Vec<String>,
}

impl PullIdentity {
    /// The identity of the pod spec inside `object` (a Pod or a workload's template).
    pub fn from_object(kind: WorkloadKind, namespace: &str, object: &Value) -> PullIdentity {
        let spec = kind
            .pod_spec_path()
            .iter()
            .fold(object, |value, key| &value[*key]);
        let service_account = spec["serviceAccountName"]
            .as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or("default");
        let pull_secrets = names(&spec["imagePullSecrets"]);
        PullIdentity {
            namespace: namespace.to_string(),
            service_account: service_account.to_string(),
            pull_secrets,
        }
    }
}

/// `[{"name": ...}]` as names, empty names dropped.
fn names(list: &Value) -> Vec<String> {
    let items = list.as_array().map(Vec::as_slice).unwrap_or_default();
    items
        .iter()
        .filter_map(|item| item["name"].as_str())
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

/// Why the credentials could not be read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PullSecretError {
    /// The API server refused or failed (other than "not found").
    #[error("cannot read {what} {namespace}/{name}: {detail}")]
    Api {
        /// `secret` or `serviceaccount`.
        what: &'static str,
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// The API error.
        detail: String,
    },
    /// The API server did not answer within the lookup deadline (it may be retrying a 503).
    #[error(
        "the Kubernetes API did not answer within {after:?} (reading the pull secrets of service account {namespace}/{service_account})"
    )]
    Timeout {
        /// The pod's namespace.
        namespace: String,
        /// The pod's service account.
        service_account: String,
        /// The deadline.
        after: Duration,
    },
    /// A pull secret that is not a docker config.
    #[error("pull secret {namespace}/{name} is unreadable: {detail}")]
    Format {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
        /// What was wrong.
        detail: String,
    },
}

/// How long a lookup (service account and secrets together) may take by default: well inside
/// the default 8 s review deadline.
pub const DEFAULT_LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);

/// Reads and caches pull secrets and service accounts through the API server. Clones share the
/// client and the caches.
#[derive(Clone)]
pub struct PullSecrets {
    client: kube::Client,
    timeout: Duration,
    ttl: Duration,
    secrets: Arc<Lookups<Arc<Credentials>>>,
    accounts: Arc<Lookups<Arc<Vec<String>>>>,
}

/// API server reads by (namespace, name), each remembered for the TTL.
type Lookups<T> = ExpiringCache<(String, String), T, PullSecretError>;

impl std::fmt::Debug for PullSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PullSecrets")
            .field("timeout", &self.timeout)
            .field("secrets_cached", &self.secrets.len())
            .field("accounts_cached", &self.accounts.len())
            .finish()
    }
}

impl PullSecrets {
    /// Look-ups through `client`, each remembered for `ttl`, at most `capacity` of each kind.
    pub fn new(client: kube::Client, ttl: Duration, capacity: u64) -> Self {
        Self {
            client,
            timeout: DEFAULT_LOOKUP_TIMEOUT,
            ttl,
            secrets: Arc::new(ExpiringCache::counted(capacity, system_clock())),
            accounts: Arc::new(ExpiringCache::counted(capacity, system_clock())),
        }
    }

    /// The same, with each lookup bounded by `timeout` instead of [`DEFAULT_LOOKUP_TIMEOUT`].
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self { timeout, ..self }
    }

    /// The credentials `who` pulls with: its own pull secrets, then its service account's;
    /// an error when the API server fails or does not answer within the deadline.
    pub async fn credentials(&self, who: &PullIdentity) -> Result<Credentials, PullSecretError> {
        tokio::time::timeout(self.timeout, self.look_up(who))
            .await
            .unwrap_or_else(|_| {
                Err(PullSecretError::Timeout {
                    namespace: who.namespace.clone(),
                    service_account: who.service_account.clone(),
                    after: self.timeout,
                })
            })
    }

    async fn look_up(&self, who: &PullIdentity) -> Result<Credentials, PullSecretError> {
        let mut names = who.pull_secrets.clone();
        for name in self.account_secrets(who).await?.iter() {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        let mut credentials = Credentials::default();
        for name in &names {
            let found = self.secret(&who.namespace, name).await?;
            credentials = credentials.merge(&found);
        }
        Ok(credentials)
    }

    async fn account_secrets(
        &self,
        who: &PullIdentity,
    ) -> Result<Arc<Vec<String>>, PullSecretError> {
        let key = (who.namespace.clone(), who.service_account.clone());
        let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), &who.namespace);
        let (ns, name) = key.clone();
        let read = async move {
            let account = api
                .get_opt(&name)
                .await
                .map_err(|e| api_error("serviceaccount", &(ns, name.clone()), e))?;
            let refs = account
                .and_then(|a| a.image_pull_secrets)
                .unwrap_or_default();
            let names = refs.into_iter().map(|r| r.name).filter(|n| !n.is_empty());
            Ok::<_, PullSecretError>(Arc::new(names.collect()))
        };
        self.accounts
            .get_or_fetch(key, |_| self.ttl, read)
            .await
            .map(|(names, _)| names)
            .map_err(|e| (*e).clone())
    }

    async fn secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Credentials>, PullSecretError> {
        let key = (namespace.to_string(), name.to_string());
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let (ns, owned) = (namespace.to_string(), name.to_string());
        let read = async move {
            let secret = api
                .get_opt(&owned)
                .await
                .map_err(|e| api_error("secret", &(ns.clone(), owned.clone()), e))?;
            let Some(secret) = secret else {
                tracing::warn!(namespace = %ns, secret = %owned, "pull secret not found; skipped");
                return Ok(Arc::new(Credentials::default()));
            };
            parse_secret(&secret)
                .map(Arc::new)
                .map_err(|detail| PullSecretError::Format {
                    namespace: ns,
                    name: owned,
                    detail,
                })
        };
        self.secrets
            .get_or_fetch(key, |_| self.ttl, read)
            .await
            .map(|(credentials, _)| credentials)
            .map_err(|e| (*e).clone())
    }
}

impl server::PodCredentials for PullSecrets {
    fn for_pod(
        &self,
        kind: WorkloadKind,
        namespace: &str,
        object: &Value,
    ) -> Box<dyn CredentialSource> {
        Box::new(PodCredentials {
            secrets: self.clone(),
            who: PullIdentity::from_object(kind, namespace, object),
        })
    }
}

/// One pod's pull credentials, as the engine asks for them: looked up only if a review needs
/// a registry.
pub struct PodCredentials {
    secrets: PullSecrets,
    who: PullIdentity,
}

impl CredentialSource for PodCredentials {
    fn credentials(&self) -> BoxFuture<'_, Result<Credentials, String>> {
        Box::pin(async {
            let found = self.secrets.credentials(&self.who).await;
            found.map_err(|e| e.to_string())
        })
    }
}

fn api_error(
    what: &'static str,
    (namespace, name): &(String, String),
    error: kube::Error,
) -> PullSecretError {
    PullSecretError::Api {
        what,
        namespace: namespace.clone(),
        name: name.clone(),
        detail: error.to_string(),
    }
}

/// The credentials in a docker-config secret; other secret types hold none.
fn parse_secret(secret: &Secret) -> Result<Credentials, String> {
    let data = secret.data.clone().unwrap_or_default();
    match secret.type_.as_deref() {
        Some("kubernetes.io/dockerconfigjson") => {
            let bytes = data
                .get(".dockerconfigjson")
                .ok_or("no .dockerconfigjson key")?;
            Credentials::from_docker_config_json(&bytes.0)
        }
        Some("kubernetes.io/dockercfg") => {
            let bytes = data.get(".dockercfg").ok_or("no .dockercfg key")?;
            Credentials::from_dockercfg_json(&bytes.0)
        }
        _ => Ok(Credentials::default()),
    }
}
