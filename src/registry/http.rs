//! Every registry read Signet makes (manifest HEADs and GETs, API documents, blobs) goes through
//! here, so each one is bounded the same way: the body is refused as soon as its declared length
//! or the bytes received pass the limit; redirects follow `redirect.rs`; a 429 pauses the
//! registry (`backoff.rs`); the whole call has the registry's deadline. Authentication: the
//! configured basic credentials of exactly this registry, or anonymous; on a bearer challenge
//! (401 with `WWW-Authenticate: Bearer`) oci-client fetches a token for the repository, which is
//! reused for a minute. Decides nothing about what the bytes mean (`content.rs` checks them).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use oci_client::secrets::RegistryAuth;
use oci_client::{Reference, RegistryOperation};
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, Response, StatusCode};

use super::error::from_transport;
use super::{AuthKey, Registry, RegistryError};

/// How long a bearer token is reused (registries issue them for 5 minutes or more).
const TOKEN_TTL: Duration = Duration::from_secs(60);
/// Tokens held at once.
const MAX_TOKENS: usize = 1024;

/// A document fetched within its limit.
#[derive(Debug)]
pub(super) struct Fetched {
    /// The body, at most the limit asked for (empty for a HEAD).
    pub bytes: Vec<u8>,
    /// `Content-Type` without parameters.
    pub content_type: Option<String>,
    /// `Docker-Content-Digest`, as sent.
    pub docker_digest: Option<String>,
}

/// What a bounded GET found.
#[derive(Debug)]
pub(super) enum Answer {
    /// 200 with a body within the limit.
    Found(Fetched),
    /// 404: the document (or, for an API path, the API) does not exist.
    NotFound,
    /// Another 4xx that registries without the API answer (400, 405, 406, 501).
    Unsupported,
}

/// One read of `path` (starting with `/v2/`) at `reference`'s registry.
pub(super) struct Get<'a> {
    /// Which repository the call is for (its registry is asked; its scope authenticates).
    pub reference: &'a Reference,
    /// Path and query, such as `/v2/<name>/manifests/<tag>`.
    pub path: String,
    /// The media types accepted.
    pub accept: &'a [&'a str],
    /// Largest body accepted.
    pub limit: usize,
    /// What is fetched, for messages: "referrers index".
    pub what: &'static str,
    /// HEAD instead of GET.
    pub head: bool,
}

/// (registry, repository, the credential the token was obtained with).
type TokenKey = (String, String, AuthKey);

/// Bearer tokens by registry, repository and credential, each with the time it was obtained: a
/// token one tenant's credential obtained is never presented for another tenant (or for an
/// anonymous request), even for the same repository.
#[derive(Default)]
pub(super) struct Tokens {
    by_repository: Mutex<HashMap<TokenKey, (String, Instant)>>,
}

impl Tokens {
    fn get(&self, key: &TokenKey) -> Option<String> {
        let tokens = self.by_repository.lock().ok()?;
        let (token, at) = tokens.get(key)?;
        (at.elapsed() < TOKEN_TTL).then(|| token.clone())
    }

    fn put(&self, key: TokenKey, token: String) {
        if let Ok(mut tokens) = self.by_repository.lock() {
            if tokens.len() >= MAX_TOKENS {
                tokens.retain(|_, (_, at)| at.elapsed() < TOKEN_TTL);
                if tokens.len() >= MAX_TOKENS {
                    tokens.clear();
                }
            }
            tokens.insert(key, (token, Instant::now()));
        }
    }
}

impl Registry {
    /// Steps: 1. refuse at once while the registry is paused after a 429; 2. send with this
    /// registry's credential (and once more with a bearer token if challenged); 3. classify the
    /// status; 4. refuse a declared length over the limit; 5. stream the body, stopping past the
    /// limit. The whole call is bounded by the registry's call deadline.
    pub(super) async fn bounded_get(&self, get: &Get<'_>) -> Result<Answer, RegistryError> {
        let registry = get.reference.resolve_registry();
        if self.backoff.paused(registry) {
            return Err(RegistryError::RateLimited {
                registry: registry.to_string(),
            });
        }
        self.deadline(get.what, self.bounded_get_inner(get)).await?
    }

    async fn bounded_get_inner(&self, get: &Get<'_>) -> Result<Answer, RegistryError> {
        let registry = get.reference.resolve_registry().to_string();
        let mut response = self.send_authenticated(get).await?;
        // 3. The status.
        match response.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Ok(Answer::NotFound),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(RegistryError::Unauthorized { registry });
            }
            StatusCode::TOO_MANY_REQUESTS => {
                let after = header(response.headers(), RETRY_AFTER.as_str());
                let after = super::backoff::retry_after(after.as_deref());
                self.backoff
                    .pause(&registry, after, self.config.rate_limit_pause);
                return Err(RegistryError::RateLimited { registry });
            }
            StatusCode::BAD_REQUEST
            | StatusCode::METHOD_NOT_ALLOWED
            | StatusCode::NOT_ACCEPTABLE
            | StatusCode::NOT_IMPLEMENTED => return Ok(Answer::Unsupported),
            other => {
                return Err(RegistryError::Unavailable {
                    registry,
                    detail: format!("HTTP {} for the {}", other.as_u16(), get.what),
                });
            }
        }
        let headers = response.headers();
        let content_type = header(headers, CONTENT_TYPE.as_str())
            .map(|t| t.split(';').next().unwrap_or_default().trim().to_string());
        let docker_digest = header(headers, "docker-content-digest");
        let bytes = match get.head {
            true => Vec::new(),
            false => read_capped(&mut response, get, &registry).await?,
        };
        Ok(Answer::Found(Fetched {
            bytes,
            content_type,
            docker_digest,
        }))
    }

    /// Send with the credential for this registry; on a bearer challenge, get a token for the
    /// repository and send once more.
    async fn send_authenticated(&self, get: &Get<'_>) -> Result<Response, RegistryError> {
        let registry = get.reference.resolve_registry().to_string();
        let key = (
            registry.clone(),
            get.reference.repository().to_string(),
            self.auth_key(&registry),
        );
        let token = self.tokens.get(&key);
        let response = self.send(get, token.as_deref()).await?;
        let challenged = response.status() == StatusCode::UNAUTHORIZED
            && header(response.headers(), "www-authenticate")
                .is_some_and(|h| h.trim_start().to_ascii_lowercase().starts_with("bearer"));
        if !challenged || token.is_some() {
            return Ok(response);
        }
        let auth = self.auth_for(&registry);
        let obtained = self
            .client
            .auth(get.reference, &auth, RegistryOperation::Pull)
            .await
            .map_err(|e| RegistryError::from_oci(&registry, e))?;
        let Some(token) = obtained else {
            return Ok(response);
        };
        self.tokens.put(key, token.clone());
        self.send(get, Some(&token)).await
    }

    /// One request: the bearer token if there is one, else this registry's basic credentials.
    async fn send(&self, get: &Get<'_>, token: Option<&str>) -> Result<Response, RegistryError> {
        let registry = get.reference.resolve_registry().to_string();
        let http = self.http.as_ref().map_err(|e| RegistryError::Unavailable {
            registry: registry.clone(),
            detail: format!("no HTTP client: {e}"),
        })?;
        let scheme = match self.config.insecure.contains(&registry) {
            true => "http",
            false => "https",
        };
        let url = format!("{scheme}://{registry}{}", get.path);
        let method = if get.head { Method::HEAD } else { Method::GET };
        let request = http
            .request(method, &url)
            .header(ACCEPT, get.accept.join(", "));
        with_credential(request, token, self.auth_for(&registry))
            .send()
            .await
            .map_err(|e| from_transport(&registry, &e))
    }
}

fn with_credential(
    request: RequestBuilder,
    token: Option<&str>,
    auth: RegistryAuth,
) -> RequestBuilder {
    match (token, auth) {
        (Some(token), _) => request.bearer_auth(token),
        (None, RegistryAuth::Basic(user, password)) => request.basic_auth(user, Some(password)),
        (None, _) => request,
    }
}

/// The body, refused when its declared length or the bytes received pass the limit.
async fn read_capped(
    response: &mut Response,
    get: &Get<'_>,
    registry: &str,
) -> Result<Vec<u8>, RegistryError> {
    let too_large = |size: String| RegistryError::TooLarge {
        what: format!("{} ({size})", get.what),
        limit: get.limit,
    };
    let declared =
        header(response.headers(), CONTENT_LENGTH.as_str()).and_then(|v| v.parse::<u64>().ok());
    if let Some(length) = declared.filter(|l| *l > get.limit as u64) {
        return Err(too_large(format!("{length} bytes declared")));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| RegistryError::Unavailable {
            registry: registry.to_string(),
            detail: format!(
                "reading the {}: {}",
                get.what,
                super::error::transport_detail(&e)
            ),
        })?
    {
        if bytes.len() + chunk.len() > get.limit {
            return Err(too_large("more bytes than that sent".to_string()));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The HTTP client for all registry reads: the same timeouts and user agent as oci-client's,
/// and the redirect rules of `redirect.rs`. Never falls back to plain HTTP or an unverified
/// certificate: only the registries configured insecure are reached over HTTP.
pub(super) fn client(config: &super::RegistryConfig) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(config.call_timeout)
        .read_timeout(config.call_timeout)
        .redirect(super::redirect::policy(config.insecure.clone()))
        .user_agent(concat!("signet/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::registry::Credentials;

    #[test]
    fn a_token_is_only_found_with_the_credential_that_obtained_it() {
        let tenant = Credentials::from_docker_config_json(
            br#"{"auths":{"r.io":{"username":"x","password":"1"}}}"#,
        )
        .unwrap();
        let tokens = Tokens::default();
        let key = |c: &Credentials| ("r.io".to_string(), "app".to_string(), c.auth_key("r.io"));
        tokens.put(key(&tenant), "token-of-x".into());
        assert_eq!(tokens.get(&key(&tenant)).as_deref(), Some("token-of-x"));
        assert_eq!(tokens.get(&key(&Credentials::default())), None);
    }
}
