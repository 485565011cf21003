//! Every registry read Signet makes (manifest HEADs and GETs, API documents, blobs) goes through
//! here, so each one is bounded the same way: the body is refused as soon as its declared length
//! or the bytes received pass the limit; redirects follow `clients.rs` and `redirect.rs`; a 429
//! pauses the registry (`backoff.rs`); requests in flight to one host are capped (`fanout.rs`);
//! the whole call has the registry's deadline. Authentication: the configured basic credentials
//! of exactly this registry, or anonymous; on a bearer challenge (401 with `WWW-Authenticate:
//! Bearer`) a token for the repository is fetched through the same clients and bounds
//! (`token/`), and reused for a minute at most. Decides nothing about what the bytes mean
//! (`content.rs` checks them).

use oci_client::Reference;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{Method, Response, StatusCode, Url};

use super::clients::{Clients, Credential, SendError};
use super::error::from_transport;
use super::{Registry, RegistryError, token};

/// A document fetched within its limit.
#[derive(Debug)]
pub(super) struct Fetched {
    /// The body, at most the limit asked for (empty for a HEAD).
    pub bytes: Vec<u8>,
    /// `Content-Type` without parameters.
    pub content_type: Option<String>,
    /// `Docker-Content-Digest`, as sent; `None` when absent or empty (some registries send it
    /// empty, which says nothing).
    pub docker_digest: Option<String>,
    /// `Link` (pagination of the referrers API), as sent.
    pub link: Option<String>,
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

impl Registry {
    /// Steps: 1. refuse at once while the registry is paused after a 429; 2. wait for one of the
    /// registry host's request slots (`fanout.rs`; the wait counts against the review's deadline,
    /// not the call's); 3. send with this registry's credential (and once more with a bearer
    /// token if challenged); 4. classify the status; 5. refuse a declared length over the limit;
    /// 6. stream the body, stopping past the limit. Steps 3-6 are bounded by the call deadline.
    pub(super) async fn bounded_get(&self, get: &Get<'_>) -> Result<Answer, RegistryError> {
        let registry = get.reference.resolve_registry();
        if self.backoff.paused(registry) {
            return Err(RegistryError::RateLimited {
                registry: registry.to_string(),
            });
        }
        let _slot = self.hosts.slot(registry).await;
        self.deadline(get.what, self.bounded_get_inner(get)).await?
    }

    async fn bounded_get_inner(&self, get: &Get<'_>) -> Result<Answer, RegistryError> {
        let registry = get.reference.resolve_registry().to_string();
        let mut response = self.send_authenticated(get).await?;
        // 4. The status.
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
        let docker_digest =
            header(headers, "docker-content-digest").filter(|d| !d.trim().is_empty());
        let link = header(headers, "link");
        let bytes = match get.head {
            true => Vec::new(),
            false => read_capped(&mut response, get, &registry).await?,
        };
        Ok(Answer::Found(Fetched {
            bytes,
            content_type,
            docker_digest,
            link,
        }))
    }

    /// Send with the credential for this registry (or the token held for this repository); on
    /// a bearer challenge in the 401 of this very request, get a token for the repository from
    /// the challenge's realm, service and scope (`token/`), and send once more. A held token the
    /// registry refuses (expired, revoked, `insufficient_scope`) is forgotten and replaced once;
    /// a fresh token refused as `insufficient_scope` for another scope the registry names
    /// (per-repository scopes, Artifactory's path method) is replaced once more. So one read
    /// makes at most three requests and asks the token service at most twice.
    async fn send_authenticated(&self, get: &Get<'_>) -> Result<Response, RegistryError> {
        let registry = get.reference.resolve_registry();
        let scope = token::scope(get.reference.repository());
        let repository = get.reference.repository();
        let key = (
            registry.to_string(),
            scope.clone(),
            self.auth_key(registry, repository),
        );
        let cached = self.tokens.get(&key);
        let credential = match &cached {
            Some(token) => Credential::Bearer(token.to_string()),
            None => self.credential_for(registry, repository),
        };
        let url = self.url(registry, &get.path)?;
        let home = url.host_str().unwrap_or_default().to_string();
        let mut response = self.send(get, &url, &credential).await?;
        let mut answered: Option<token::BearerChallenge> = None;
        for _ in 0..2 {
            if response.status() != StatusCode::UNAUTHORIZED {
                break;
            }
            let challenge = token::bearer(response.headers()).map_err(|why| {
                RegistryError::TokenRealmRefused {
                    registry: registry.to_string(),
                    why,
                }
            })?;
            let Some(challenge) = challenge else {
                break;
            };
            if let Some(previous) = &answered {
                let rescoped = challenge.error.as_deref() == Some("insufficient_scope")
                    && challenge.scope.is_some()
                    && challenge.scope != previous.scope;
                if !rescoped {
                    break;
                }
            }
            if cached.is_some() && answered.is_none() {
                tracing::info!(
                    registry,
                    "the registry refused a held token; asking for a new one"
                );
                self.tokens.forget(&key);
            }
            let token = self
                .obtain_token(registry, repository, &home, &scope, &challenge)
                .await?;
            self.tokens
                .put(key.clone(), token.value.clone(), token.lifetime);
            let bearer = Credential::Bearer(token.value.to_string());
            response = self.send(get, &url, &bearer).await?;
            answered = Some(challenge);
        }
        Ok(response)
    }

    /// `scheme://registry/path`: plain HTTP only for the registries configured insecure.
    fn url(&self, registry: &str, path: &str) -> Result<Url, RegistryError> {
        let scheme = match self.config.insecure.iter().any(|i| i == registry) {
            true => "http",
            false => "https",
        };
        Url::parse(&format!("{scheme}://{registry}{path}")).map_err(|e| RegistryError::Invalid {
            registry: registry.to_string(),
            detail: format!("not a registry URL: {e}"),
        })
    }

    /// One request to the registry (following its redirects by `clients.rs`).
    async fn send(
        &self,
        get: &Get<'_>,
        url: &Url,
        credential: &Credential,
    ) -> Result<Response, RegistryError> {
        let registry = get.reference.resolve_registry();
        let clients = self.clients(registry)?;
        let method = if get.head { Method::HEAD } else { Method::GET };
        let home = url.host_str().unwrap_or_default();
        let accept = get.accept.join(", ");
        clients
            .send(method, url.clone(), home, &accept, credential)
            .await
            .map_err(|e| match e {
                SendError::Transport(e) => from_transport(registry, &e),
                SendError::Redirect(refused) => RegistryError::RedirectRefused {
                    registry: registry.to_string(),
                    detail: refused.to_string(),
                },
            })
    }

    /// The HTTP clients, or why there are none (an error for `registry`).
    pub(super) fn clients(&self, registry: &str) -> Result<&Clients, RegistryError> {
        self.clients
            .as_deref()
            .map_err(|e| RegistryError::Unavailable {
                registry: registry.to_string(),
                detail: format!("no HTTP client: {e}"),
            })
    }
}

/// Why a body was not read whole.
pub(super) enum ReadFailure {
    /// Its declared length (`Some`) or the bytes sent passed the limit.
    TooLarge(Option<u64>),
    /// The connection broke.
    Broken(reqwest::Error),
}

/// The body, refused as soon as its declared length or the bytes received pass `limit`: never
/// more than `limit` bytes are kept (plus one chunk read).
pub(super) async fn read_within(
    response: &mut Response,
    limit: usize,
) -> Result<Vec<u8>, ReadFailure> {
    let declared =
        header(response.headers(), CONTENT_LENGTH.as_str()).and_then(|v| v.parse::<u64>().ok());
    if let Some(length) = declared.filter(|l| *l > limit as u64) {
        return Err(ReadFailure::TooLarge(Some(length)));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(ReadFailure::Broken)? {
        if bytes.len() + chunk.len() > limit {
            return Err(ReadFailure::TooLarge(None));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// [`read_within`] the limit of `get`, failures named for it.
async fn read_capped(
    response: &mut Response,
    get: &Get<'_>,
    registry: &str,
) -> Result<Vec<u8>, RegistryError> {
    read_within(response, get.limit).await.map_err(|e| match e {
        ReadFailure::TooLarge(declared) => {
            let size = match declared {
                Some(length) => format!("{length} bytes declared"),
                None => "more bytes than that sent".to_string(),
            };
            RegistryError::TooLarge {
                what: format!("{} ({size})", get.what),
                limit: get.limit,
            }
        }
        ReadFailure::Broken(e) => RegistryError::Unavailable {
            registry: registry.to_string(),
            detail: format!(
                "reading the {}: {}",
                get.what,
                super::error::transport_detail(&e)
            ),
        },
    })
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}
