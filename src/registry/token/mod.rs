//! Bearer tokens (the Docker token protocol): a registry answers 401 with `WWW-Authenticate:
//! Bearer realm=...`, and the realm issues a token for the scope asked. The realm is a URL the
//! registry chooses, so it is fetched like every other place a registry sends Signet: through
//! Signet's own clients (`clients.rs`), with the registry call's deadline, an answer of at most
//! 64 KiB, the scheme and address rules of redirects, and names checked after DNS resolution.
//! The registry's Basic credential goes to the realm only over HTTPS, or to the very
//! `host:port` given to `--insecure-registry`. A failure names the registry and a fixed cause,
//! never what the realm answered: the log has the realm and the details for the operator.

mod cache;
mod challenge;

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;

use super::addresses::internal_host;
use super::clients::{Clients, Credential, SendError};
use super::http::{ReadFailure, read_within};
use super::redirect::{self, RedirectRefused};
use super::{Registry, RegistryError};

pub(super) use cache::Tokens;
pub(super) use challenge::{BearerChallenge, bearer};

/// Largest token service answer read.
pub const MAX_TOKEN_ANSWER_BYTES: usize = 64 * 1024;
/// Longest token presented (JWTs of the big registries are 1-4 KiB).
const MAX_TOKEN_CHARS: usize = 16 * 1024;

/// The token service's answer (Docker token protocol; `access_token` is the OAuth2 spelling).
#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// A token, with how long its service says it lives.
pub(super) struct Token {
    pub value: Arc<str>,
    pub lifetime: Duration,
}

/// The scope Signet asks for: pulling one repository.
pub(super) fn scope(repository: &str) -> String {
    format!("repository:{repository}:pull")
}

impl Registry {
    /// A token for `scope` at `registry` (whose own host is `home`) from the realm of
    /// `challenge`, presenting this client's credential for `repository` at `registry`.
    pub(super) async fn obtain_token(
        &self,
        registry: &str,
        repository: &str,
        home: &str,
        scope: &str,
        challenge: &BearerChallenge,
    ) -> Result<Token, RegistryError> {
        let clients = self.clients(registry)?;
        let refused = |why| RegistryError::TokenRealmRefused {
            registry: registry.to_string(),
            why,
        };
        let unavailable = |why| RegistryError::TokenUnavailable {
            registry: registry.to_string(),
            why,
        };
        let mut url = realm_url(&challenge.realm, home, clients).map_err(refused)?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("scope", scope);
            if let Some(asked) = challenge.scope.as_deref().filter(|s| *s != scope) {
                query.append_pair("scope", asked);
            }
            if let Some(service) = &challenge.service {
                query.append_pair("service", service);
            }
        }
        let realm = redirect::shown(&url);
        let log = |cause: &dyn std::fmt::Display| {
            tracing::warn!(registry, realm, %cause, "no token from the registry's token service");
        };
        let credential = self.credential_for(registry, repository);
        let sent = clients.send(Method::GET, url, home, "application/json", &credential);
        let mut response = sent.await.map_err(|e| {
            log(&format!("{e:?}"));
            match e {
                SendError::Redirect(_) => refused(REDIRECT_REFUSED),
                SendError::Transport(e) if super::error::has_source::<RedirectRefused>(&e) => {
                    refused(REDIRECT_REFUSED)
                }
                SendError::Transport(e) if e.is_timeout() => unavailable("it timed out"),
                SendError::Transport(_) => unavailable("it could not be reached"),
            }
        })?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(RegistryError::Unauthorized {
                    registry: registry.to_string(),
                });
            }
            StatusCode::TOO_MANY_REQUESTS => {
                return Err(RegistryError::RateLimited {
                    registry: registry.to_string(),
                });
            }
            status => {
                log(&status);
                return Err(unavailable("it answered an error status"));
            }
        }
        let bytes = read_within(&mut response, MAX_TOKEN_ANSWER_BYTES)
            .await
            .map_err(|e| match e {
                ReadFailure::TooLarge(_) => unavailable("its answer is larger than 64 KiB"),
                ReadFailure::Broken(e) => {
                    log(&e);
                    unavailable("its answer broke off")
                }
            })?;
        let answer: TokenAnswer = serde_json::from_slice(&bytes)
            .map_err(|_| unavailable("its answer is not a token document"))?;
        let value = [answer.token, answer.access_token]
            .into_iter()
            .flatten()
            .find(|t| !t.is_empty())
            .ok_or_else(|| unavailable("its answer holds no token"))?;
        let presentable = value.len() <= MAX_TOKEN_CHARS
            && !value.contains(' ')
            && HeaderValue::from_str(&value).is_ok();
        if !presentable {
            return Err(unavailable("its token is not a valid header value"));
        }
        Ok(Token {
            value: value.into(),
            lifetime: answer
                .expires_in
                .map_or(cache::TOKEN_TTL, Duration::from_secs),
        })
    }

    /// What this client presents for `repository` to `registry` itself (and to its token
    /// service).
    pub(super) fn credential_for(&self, registry: &str, repository: &str) -> Credential {
        match self.auth_for(registry, repository) {
            oci_client::secrets::RegistryAuth::Basic(user, password) => {
                Credential::Basic(user, password)
            }
            _ => Credential::Anonymous,
        }
    }
}

const REDIRECT_REFUSED: &str = "its token service redirected to a place Signet does not go";

/// The realm as a URL Signet may ask, or why not: http(s) only, no user info; plain HTTP only to
/// a `host:port` given to `--insecure-registry`; a loopback, private, link-local or
/// cluster-internal address (literal or by name) only on the registry's own host or a
/// configured one. Names that look public are checked again after DNS (`resolver.rs`).
fn realm_url(realm: &str, home: &str, clients: &Clients) -> Result<Url, &'static str> {
    let url = Url::parse(realm).map_err(|_| "its realm is not an absolute URL")?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("its realm URL carries a user name or password");
    }
    let host = url.host_str().ok_or("its realm names no host")?;
    let configured = clients.configured(&redirect::authority(&url));
    match url.scheme() {
        "https" => {}
        "http" if configured => {}
        "http" => {
            return Err(
                "its realm is plain http (realms are used over https, or at a host:port given to --insecure-registry)",
            );
        }
        _ => return Err("its realm is not an http(s) URL"),
    }
    if host.eq_ignore_ascii_case(home) || configured || !internal_host(host) {
        return Ok(url);
    }
    Err("its realm is a loopback, private, link-local or cluster-internal address")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::RegistryConfig;

    fn judged(realm: &str, insecure: &[&str]) -> Result<Url, &'static str> {
        let config = RegistryConfig {
            insecure: insecure.iter().map(|s| s.to_string()).collect(),
            ..RegistryConfig::default()
        };
        let clients = Clients::new(&config).unwrap();
        realm_url(realm, "registry.example", &clients)
    }

    #[test]
    fn public_https_realms_and_the_registry_s_own_host_are_used() {
        for realm in [
            "https://auth.docker.io/token",
            "https://registry.example/token",
            "https://REGISTRY.example:5001/token",
            "https://93.184.216.34/token",
        ] {
            assert!(judged(realm, &[]).is_ok(), "{realm}");
        }
    }

    #[test]
    fn plain_http_realms_are_used_only_at_a_configured_host_and_port() {
        assert!(judged("http://auth.example/token", &[]).is_err());
        assert!(judged("http://registry.example/token", &[]).is_err());
        assert!(judged("http://auth.example:5001/t", &["auth.example:5000"]).is_err());
        assert!(judged("http://auth.example:5001/t", &["auth.example:5001"]).is_ok());
        assert!(judged("http://127.0.0.1:5001/t", &["127.0.0.1:5001"]).is_ok());
    }

    #[test]
    fn internal_realms_are_refused_in_every_spelling() {
        for realm in [
            "https://127.0.0.1/token",
            "https://127.1/token",
            "https://2130706433/token",
            "https://0x7f000001/token",
            "https://0177.0.0.1/token",
            "https://0.0.0.0/token",
            "https://[::1]/token",
            "https://[::ffff:127.0.0.1]/token",
            "https://[::ffff:7f00:1]/token",
            "https://169.254.169.254/latest",
            "https://[fd00::1]/t",
            "https://10.1.2.3/t",
            "https://localhost/t",
            "https://LOCALHOST./t",
            "https://auth.localhost/t",
            "https://keycloak.auth.svc/t",
            "https://keycloak.auth.svc.cluster.local./t",
            "https://metadata.google.internal/t",
            "https://keycloak/t",
        ] {
            assert!(judged(realm, &[]).is_err(), "{realm} was used");
        }
    }

    #[test]
    fn odd_realms_are_refused() {
        for realm in [
            "/token",
            "ftp://auth.example/t",
            "file:///etc/passwd",
            "https://user:pass@auth.example/t",
            "https://user@auth.example/t",
            "data:text/plain,x",
        ] {
            assert!(judged(realm, &[]).is_err(), "{realm} was used");
        }
    }
}
