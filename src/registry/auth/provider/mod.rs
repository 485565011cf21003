//! The kubelet's image credential provider plugins (`--image-credential-provider-config`,
//! `--image-credential-provider-bin-dir`), run as the kubelet runs them (kubernetes
//! `pkg/credentialprovider/plugin`) so that ECR, Artifact Registry and ACR images are read with
//! the node's or the workload's cloud identity, exactly as the node pulls them.
//!
//! For an image, every provider whose `matchImages` matches it (the keyring's matching: host
//! parts as globs, equal ports, path prefix) is asked, in the configured order, unless a cached
//! answer covers it (looked up by image, then registry, then globally, as the kubelet does). An
//! answer is an `auth` map of keys like a docker config's, matched against each registry read
//! like any other credentials; for one key, the earlier provider wins. Each answer is cached for
//! its `cacheDuration` (or the provider's `defaultCacheDuration`; zero caches nothing) in a
//! bounded cache. A plugin that fails, times out or answers badly gives no credentials (the
//! registry is then asked without them and a refusal denies, naming the plugin's failure).

mod config;
mod exec;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use quick_cache::sync::Cache;
use serde::Deserialize;
use tokio::sync::Semaphore;

use super::Credentials;
use config::ProviderConfig;

pub use exec::MAX_RESPONSE_BYTES as MAX_PROVIDER_RESPONSE_BYTES;

/// Default deadline of one plugin run: within a review's default deadline (8 s), well above
/// what a cloud's token exchange takes.
pub const DEFAULT_PROVIDER_TIMEOUT: Duration = Duration::from_secs(5);

/// Most cached answers (each at most [`MAX_PROVIDER_RESPONSE_BYTES`]).
const MAX_CACHED_ANSWERS: usize = 256;

/// Most runs of one plugin at once, across all reviews; more wait (within the plugin's
/// deadline) and then usually find the answer of the run before them cached.
const MAX_RUNS_PER_PROVIDER: usize = 4;

/// Why the providers could not be set up (at start: Signet does not serve without them).
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The configuration is unreadable or invalid.
    #[error("credential provider config {path}: {detail}")]
    Config {
        /// The file.
        path: String,
        /// What is wrong, with the field.
        detail: String,
    },
    /// A configured plugin is not an executable file of the plugin directory.
    #[error(
        "credential provider {name}: {path} is not an executable file ({detail}); install the \
         plugin there or fix --image-credential-provider-bin-dir"
    )]
    Binary {
        /// The provider's name.
        name: String,
        /// Where it was looked for.
        path: String,
        /// Why it was refused.
        detail: String,
    },
}

/// The configured plugins and their cached answers. Shared by every review.
pub struct CredentialProviders {
    providers: Vec<Provider>,
    timeout: Duration,
    /// (provider index, cache key) -> answer.
    cache: Cache<(usize, CacheKey), Cached>,
}

struct Provider {
    config: ProviderConfig,
    binary: PathBuf,
    runs: Semaphore,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum CacheKey {
    Image(String),
    Registry(String),
    Global,
}

#[derive(Clone)]
struct Cached {
    credentials: Credentials,
    expires: Instant,
}

impl std::fmt::Debug for CredentialProviders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self
            .providers
            .iter()
            .map(|p| p.config.name.as_str())
            .collect();
        f.debug_struct("CredentialProviders")
            .field("providers", &names)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// What the providers gave for one image.
#[derive(Default)]
pub struct Provided {
    /// The credentials of every answer (the earlier provider first for one key).
    pub credentials: Credentials,
    /// Each provider that was asked and failed, with why.
    pub failures: Vec<String>,
}

/// A `CredentialProviderResponse`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    api_version: String,
    kind: String,
    cache_key_type: String,
    cache_duration: Option<String>,
    #[serde(default)]
    auth: BTreeMap<String, AuthConfig>,
}

#[derive(Deserialize)]
struct AuthConfig {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

impl CredentialProviders {
    /// Reads the configuration at `config` and finds each plugin in `bin_dir`; each run is
    /// killed after `timeout`.
    pub fn load(config: &Path, bin_dir: &Path, timeout: Duration) -> Result<Self, ProviderError> {
        let configs = config::read(config)?;
        let providers = configs
            .into_iter()
            .map(|config| {
                let binary = bin_dir.join(&config.name);
                check_executable(&binary).map_err(|detail| ProviderError::Binary {
                    name: config.name.clone(),
                    path: binary.display().to_string(),
                    detail,
                })?;
                Ok(Provider {
                    config,
                    binary,
                    runs: Semaphore::new(MAX_RUNS_PER_PROVIDER),
                })
            })
            .collect::<Result<_, ProviderError>>()?;
        Ok(Self {
            providers,
            timeout,
            cache: Cache::new(MAX_CACHED_ANSWERS),
        })
    }

    /// The credentials the matching providers give for `repository` at `registry`.
    pub async fn credentials_for(&self, registry: &str, repository: &str) -> Provided {
        let image = format!("{registry}/{repository}");
        let host = super::registry_host(registry);
        let mut provided = Provided::default();
        for (index, provider) in self.providers.iter().enumerate() {
            let config = &provider.config;
            if !config
                .match_images
                .iter()
                .any(|p| p.matches(&host, repository))
            {
                continue;
            }
            let credentials = match self.cached(index, &image, registry) {
                Some(credentials) => credentials,
                None => match self.ask(index, provider, &image, registry).await {
                    Ok(credentials) => credentials,
                    Err(why) => {
                        let failure =
                            format!("credential provider {} for {image}: {why}", config.name);
                        tracing::warn!(provider = %config.name, %image, %why, "credential provider failed; no credentials from it");
                        provided.failures.push(failure);
                        continue;
                    }
                },
            };
            provided.credentials = provided.credentials.merge(&credentials);
        }
        provided
    }

    /// A live cached answer: by image, then registry, then global.
    fn cached(&self, index: usize, image: &str, registry: &str) -> Option<Credentials> {
        let now = Instant::now();
        [
            CacheKey::Image(image.to_string()),
            CacheKey::Registry(registry.to_string()),
            CacheKey::Global,
        ]
        .into_iter()
        .find_map(|key| {
            let key = (index, key);
            let cached = self.cache.get(&key)?;
            if cached.expires > now {
                return Some(cached.credentials);
            }
            self.cache.remove(&key);
            None
        })
    }

    /// Runs the plugin for `image` (unless a run it waited for cached an answer that covers
    /// it), checks its answer and caches it.
    async fn ask(
        &self,
        index: usize,
        provider: &Provider,
        image: &str,
        registry: &str,
    ) -> Result<Credentials, String> {
        let config = &provider.config;
        let Ok(Ok(_run)) = tokio::time::timeout(self.timeout, provider.runs.acquire()).await else {
            return Err(format!(
                "{MAX_RUNS_PER_PROVIDER} runs of it were in flight for longer than {:?}",
                self.timeout
            ));
        };
        if let Some(credentials) = self.cached(index, image, registry) {
            return Ok(credentials);
        }
        let request = serde_json::json!({
            "apiVersion": config.api_version,
            "kind": "CredentialProviderRequest",
            "image": image,
        });
        tracing::debug!(provider = %config.name, image, "running credential provider");
        let output = exec::run(
            &provider.binary,
            &config.args,
            &config.env,
            request.to_string().into_bytes(),
            self.timeout,
        )
        .await
        .map_err(|e| e.to_string())?;
        let response: Response = serde_json::from_slice(&output)
            // Not shown: the output may hold credentials.
            .map_err(|_| "its answer is not a CredentialProviderResponse (JSON)".to_string())?;
        if response.api_version != config.api_version {
            return Err(format!(
                "it answered apiVersion {:?}, not the {:?} it was asked in",
                response.api_version, config.api_version
            ));
        }
        if response.kind != "CredentialProviderResponse" {
            return Err(format!(
                "it answered kind {:?}, not CredentialProviderResponse",
                response.kind
            ));
        }
        let key = match response.cache_key_type.as_str() {
            "Image" => CacheKey::Image(image.to_string()),
            "Registry" => CacheKey::Registry(registry.to_string()),
            "Global" => CacheKey::Global,
            other => {
                return Err(format!(
                    "cacheKeyType {other:?} is not Image, Registry or Global"
                ));
            }
        };
        let lifetime = match &response.cache_duration {
            None => config.default_cache_duration,
            Some(text) => config::parse_go_duration(text)
                .ok_or_else(|| format!("cacheDuration {text:?} is not a duration"))?,
        };
        let credentials = Credentials::from_pairs(
            response
                .auth
                .into_iter()
                .map(|(key, auth)| (key, (auth.username, auth.password))),
        );
        if !lifetime.is_zero()
            && let Some(expires) = Instant::now().checked_add(lifetime)
        {
            let cached = Cached {
                credentials: credentials.clone(),
                expires,
            };
            self.cache.insert((index, key), cached);
        }
        Ok(credentials)
    }
}

/// Whether `path` is a regular file Signet may execute.
fn check_executable(path: &Path) -> Result<(), String> {
    let metadata = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !metadata.is_file() {
        return Err("not a regular file".into());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if metadata.permissions().mode() & 0o111 == 0 {
            return Err("not executable".into());
        }
    }
    Ok(())
}
