//! Registry credentials from a docker `config.json` (`auths`) or pull secrets, looked up for an
//! image as the kubelet looks them up (`keyring.rs`): keys may name a path (`host/project`) and
//! glob hosts (`*.example.com`); the most specific matching key wins, so the credentials of
//! registry A are never presented to registry B, nor a project's to another project.

mod keyring;
mod provider;

use std::collections::HashMap;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use keyring::Pattern;

pub use provider::{
    CredentialProviders, DEFAULT_PROVIDER_TIMEOUT, MAX_PROVIDER_RESPONSE_BYTES, ProviderError,
};

/// Which credential a request to one registry presents, as a hash: caches of what a registry
/// answered (bearer tokens, tag digests) are keyed by it, so an answer obtained with one
/// tenant's credential never serves a request made with another's (or with none). Never shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AuthKey([u8; 32]);

impl AuthKey {
    /// One key for several (the credentials presented to each registry an image is read
    /// from, mirrors included): equal only when every part is.
    pub fn combine(keys: impl IntoIterator<Item = AuthKey>) -> AuthKey {
        let mut hash = Sha256::new();
        hash.update(b"signet-registry-auth-list/v1\0");
        for key in keys {
            hash.update(key.0);
        }
        AuthKey(hash.finalize().into())
    }
}

/// Sources of credentials in the order the kubelet consults them (a pod's pull secrets, then
/// the node's config): the first source with a key matching the image serves it, and within a
/// source the most specific key (reverse lexicographic order, as the kubelet sorts them).
#[derive(Clone, Default)]
pub struct Credentials {
    sources: Vec<Vec<Keyed>>,
}

/// One key and its username and password.
#[derive(Clone)]
struct Keyed {
    pattern: Pattern,
    pair: (String, String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&str> = self
            .sources
            .iter()
            .flatten()
            .map(|k| k.pattern.key.as_str())
            .collect();
        f.debug_struct("Credentials")
            .field("registries", &keys)
            .finish()
    }
}

/// Why a docker config could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// The file could not be read.
    #[error("cannot read registry config {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Not a docker config.json.
    #[error("registry config {path} is not a docker config.json: {detail}")]
    Format {
        /// The path.
        path: String,
        /// What was wrong.
        detail: String,
    },
}

#[derive(Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
}

#[derive(Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

impl Credentials {
    /// Read a docker `config.json`.
    pub fn from_docker_config(path: &Path) -> Result<Self, CredentialsError> {
        let shown = path.display().to_string();
        let text = std::fs::read(path).map_err(|source| CredentialsError::Io {
            path: shown.clone(),
            source,
        })?;
        Self::from_docker_config_json(&text).map_err(|detail| CredentialsError::Format {
            path: shown,
            detail,
        })
    }

    /// Parse the bytes of a docker `config.json` (also the `.dockerconfigjson` of a pull secret).
    /// A key naming no host is skipped, as the kubelet skips it.
    pub fn from_docker_config_json(bytes: &[u8]) -> Result<Self, String> {
        let config: DockerConfig = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let mut keyed = Vec::new();
        for (key, entry) in config.auths {
            let pair = decode_entry(&entry).map_err(|e| format!("auths[{key:?}]: {e}"))?;
            match Pattern::parse(&key, registry_host) {
                Some(pattern) => keyed.push(Keyed { pattern, pair }),
                None => tracing::warn!(key, "registry config key names no host; ignored"),
            }
        }
        Ok(Self {
            sources: vec![sorted(keyed)],
        })
    }

    /// Credentials from `(key, (username, password))` pairs (a credential provider's `auth`
    /// map); a key naming no host is skipped, as the kubelet skips it.
    fn from_pairs(pairs: impl IntoIterator<Item = (String, (String, String))>) -> Self {
        let keyed = pairs
            .into_iter()
            .filter_map(|(key, pair)| match Pattern::parse(&key, registry_host) {
                Some(pattern) => Some(Keyed { pattern, pair }),
                None => {
                    tracing::warn!(key, "credential provider key names no host; ignored");
                    None
                }
            })
            .collect();
        Self {
            sources: vec![sorted(keyed)],
        }
    }

    /// Parse a legacy `.dockercfg` (`kubernetes.io/dockercfg` secrets): the `auths` map alone.
    pub fn from_dockercfg_json(bytes: &[u8]) -> Result<Self, String> {
        let entries: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let wrapped = serde_json::json!({ "auths": entries });
        Self::from_docker_config_json(wrapped.to_string().as_bytes())
    }

    /// These credentials first, then those of `other` for images these have no key for (a pod's
    /// pull secrets before the node's config, as the kubelet consults them).
    pub fn or(mut self, other: &Credentials) -> Credentials {
        self.sources.extend(other.sources.iter().cloned());
        self
    }

    /// These credentials and `other` as one source (several pull secrets of one pod, which the
    /// kubelet reads into one keyring): the most specific key of either wins; for the same key,
    /// these.
    pub fn merge(self, other: &Credentials) -> Credentials {
        let all = self
            .sources
            .into_iter()
            .chain(other.sources.iter().cloned())
            .flatten()
            .collect();
        Credentials {
            sources: vec![sorted(all)],
        }
    }

    /// Whether no registry is named.
    pub fn is_empty(&self) -> bool {
        self.sources.iter().all(Vec::is_empty)
    }

    /// The username and password presented for `repository` at `registry`, if any.
    fn pair_for(&self, registry: &str, repository: &str) -> Option<&(String, String)> {
        let registry = host_of(registry);
        self.sources.iter().find_map(|source| {
            source
                .iter()
                .find(|k| k.pattern.matches(registry, repository))
                .map(|k| &k.pair)
        })
    }

    /// The [`AuthKey`] of what [`Credentials::auth_for`] presents for `repository` at
    /// `registry`: equal for equal username and password (tenants sharing one robot account
    /// share its tokens), distinct from anonymous.
    pub fn auth_key(&self, registry: &str, repository: &str) -> AuthKey {
        let mut hash = Sha256::new();
        hash.update(b"signet-registry-auth/v1\0");
        hash.update(host_of(registry).as_bytes());
        if let Some((user, pass)) = self.pair_for(registry, repository) {
            for part in [user, pass] {
                hash.update([1]);
                hash.update((part.len() as u64).to_be_bytes());
                hash.update(part.as_bytes());
            }
        }
        AuthKey(hash.finalize().into())
    }

    /// The auth to present for `repository` at `registry` (a host; Docker Hub's API host
    /// `index.docker.io`, which oci-client resolves `docker.io` to, finds the `docker.io` entry).
    pub fn auth_for(&self, registry: &str, repository: &str) -> RegistryAuth {
        match self.pair_for(registry, repository) {
            Some((user, pass)) => RegistryAuth::Basic(user.clone(), pass.clone()),
            None => RegistryAuth::Anonymous,
        }
    }
}

/// `keyed` in the kubelet's order (reverse lexicographic by key); for a key given twice, the
/// first.
fn sorted(mut keyed: Vec<Keyed>) -> Vec<Keyed> {
    keyed.sort_by(|a, b| b.pattern.key.cmp(&a.pattern.key));
    keyed.dedup_by(|later, first| later.pattern.key == first.pattern.key);
    keyed
}

/// Username and password from `auth` (base64 `user:pass`) or the explicit fields.
fn decode_entry(entry: &AuthEntry) -> Result<(String, String), String> {
    if let (Some(user), Some(pass)) = (&entry.username, &entry.password) {
        return Ok((user.clone(), pass.clone()));
    }
    let encoded = entry
        .auth
        .as_deref()
        .ok_or("no auth or username/password")?;
    let decoded = STANDARD
        .decode(encoded.trim())
        .map_err(|_| "auth is not base64".to_string())?;
    let text = String::from_utf8(decoded).map_err(|_| "auth is not UTF-8".to_string())?;
    let (user, pass) = text.split_once(':').ok_or("auth is not user:password")?;
    Ok((user.to_string(), pass.to_string()))
}

/// The host a config key names: keys may be URLs (`https://index.docker.io/v1/`).
fn registry_host(key: &str) -> String {
    host_of(key).to_string()
}

/// [`registry_host`] without a copy (reviews look credentials up for every image).
fn host_of(key: &str) -> &str {
    // `strip_prefix` with a literal, not `trim_start_matches`: this runs for every image of
    // every review (the tag cache's credential key), and a pattern searcher costs more than
    // the rest of it. Repeated schemes are stripped as trimming stripped them.
    let mut without_scheme = key;
    while let Some(rest) = without_scheme.strip_prefix("https://") {
        without_scheme = rest;
    }
    while let Some(rest) = without_scheme.strip_prefix("http://") {
        without_scheme = rest;
    }
    let host = without_scheme.split('/').next().unwrap_or(without_scheme);
    match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => "docker.io",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_url_keys_map_to_docker_io_and_others_stay_exact() {
        let json = br#"{"auths":{"https://index.docker.io/v1/":{"auth":"dTpw"},"127.0.0.1:5000":{"username":"a","password":"b"}}}"#;
        let creds = Credentials::from_docker_config_json(json).unwrap();
        assert!(
            matches!(creds.auth_for("docker.io", "library/a"), RegistryAuth::Basic(u, p) if u == "u" && p == "p")
        );
        assert!(
            matches!(creds.auth_for("127.0.0.1:5000", "a"), RegistryAuth::Basic(u, _) if u == "a")
        );
        assert!(matches!(
            creds.auth_for("127.0.0.1:5001", "a"),
            RegistryAuth::Anonymous
        ));
        assert!(matches!(
            creds.auth_for("evil.docker.io", "a"),
            RegistryAuth::Anonymous
        ));
        assert!(
            matches!(creds.auth_for("index.docker.io", "library/a"), RegistryAuth::Basic(u, _) if u == "u"),
            "the API host oci-client resolves docker.io to"
        );
        assert_eq!(
            creds.auth_key("index.docker.io", "a"),
            creds.auth_key("docker.io", "a")
        );
    }

    #[test]
    fn the_first_source_for_a_registry_wins_and_others_are_added() {
        let first = Credentials::from_docker_config_json(
            br#"{"auths":{"a.io":{"username":"first","password":"1"}}}"#,
        )
        .unwrap();
        let second = Credentials::from_dockercfg_json(
            br#"{"a.io":{"username":"second","password":"2"},"b.io":{"username":"b","password":"3"}}"#,
        )
        .unwrap();
        let merged = first.or(&second);
        assert!(matches!(merged.auth_for("a.io", "x"), RegistryAuth::Basic(u, _) if u == "first"));
        assert!(matches!(merged.auth_for("b.io", "x"), RegistryAuth::Basic(u, _) if u == "b"));
    }

    #[test]
    fn auth_keys_differ_by_credential_and_registry_and_match_for_equal_ones() {
        let a = Credentials::from_docker_config_json(
            br#"{"auths":{"r.io":{"username":"a","password":"1"}}}"#,
        )
        .unwrap();
        let same = Credentials::from_dockercfg_json(br#"{"r.io":{"username":"a","password":"1"}}"#)
            .unwrap();
        let other = Credentials::from_docker_config_json(
            br#"{"auths":{"r.io":{"username":"a","password":"2"}}}"#,
        )
        .unwrap();
        let none = Credentials::default();
        assert_eq!(a.auth_key("r.io", "x"), same.auth_key("r.io", "x"));
        assert_ne!(a.auth_key("r.io", "x"), other.auth_key("r.io", "x"));
        assert_ne!(a.auth_key("r.io", "x"), none.auth_key("r.io", "x"));
        assert_eq!(
            a.auth_key("s.io", "x"),
            none.auth_key("s.io", "x"),
            "r.io's secret plays no part at s.io"
        );
        assert_ne!(none.auth_key("r.io", "x"), none.auth_key("s.io", "x"));
    }

    fn user_of(creds: &Credentials, registry: &str, repository: &str) -> String {
        match creds.auth_for(registry, repository) {
            RegistryAuth::Basic(user, _) => user,
            _ => "anonymous".to_string(),
        }
    }

    #[test]
    fn a_project_key_wins_over_its_host_and_a_host_over_a_glob_in_any_order() {
        let json = br#"{"auths":{
            "*.example.com":{"username":"glob","password":"1"},
            "harbor.example.com":{"username":"host","password":"2"},
            "https://harbor.example.com/v2/team-a":{"username":"team-a","password":"3"},
            "harbor.example.com/team-a/app":{"username":"app","password":"4"}}}"#;
        let creds = Credentials::from_docker_config_json(json).unwrap();
        let user = |registry: &str, repository: &str| user_of(&creds, registry, repository);
        assert_eq!(user("harbor.example.com", "team-a/app"), "app");
        assert_eq!(user("harbor.example.com", "team-a/web"), "team-a");
        assert_eq!(user("harbor.example.com", "team-b/web"), "host");
        assert_eq!(user("gitlab.example.com", "team-b/web"), "glob");
        assert_eq!(user("a.b.example.com", "x"), "anonymous");
        assert_eq!(user("example.com", "x"), "anonymous");
        assert_ne!(
            creds.auth_key("harbor.example.com", "team-a/web"),
            creds.auth_key("harbor.example.com", "team-b/web")
        );
    }

    #[test]
    fn a_pod_source_serves_before_the_node_s_and_merged_secrets_compete_by_specificity() {
        let pod = Credentials::from_docker_config_json(
            br#"{"auths":{"r.io/team":{"username":"pod","password":"1"}}}"#,
        )
        .unwrap();
        let node = Credentials::from_docker_config_json(
            br#"{"auths":{"r.io/team/app":{"username":"node","password":"2"},"r.io":{"username":"node-host","password":"3"}}}"#,
        )
        .unwrap();
        let user = |c: &Credentials, repository: &str| user_of(c, "r.io", repository);
        let layered = pod.clone().or(&node);
        assert_eq!(user(&layered, "team/app"), "pod");
        assert_eq!(user(&layered, "other/app"), "node-host");
        let merged = pod.merge(&node);
        assert_eq!(user(&merged, "team/app"), "node");
    }

    #[test]
    fn malformed_auth_is_an_error_not_anonymous() {
        let json = br#"{"auths":{"r.io":{"auth":"!!!"}}}"#;
        assert!(Credentials::from_docker_config_json(json).is_err());
    }

    #[test]
    fn debug_output_never_shows_passwords() {
        let json = br#"{"auths":{"r.io":{"username":"a","password":"hunter2"}}}"#;
        let creds = Credentials::from_docker_config_json(json).unwrap();
        assert!(!format!("{creds:?}").contains("hunter2"));
    }
}
