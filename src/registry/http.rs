//! Bounded GETs of registry manifests and API documents that oci-client would read whole: the
//! body is refused as soon as its declared length or the bytes received pass the limit, so a
//! hostile registry cannot make Signet buffer more than the limit. Authentication is oci-client's
//! (bearer token for the repository, or the configured basic credentials); the call itself is
//! made here so the body can be streamed. Decides nothing about what the bytes mean.

use oci_client::secrets::RegistryAuth;
use oci_client::{Reference, RegistryOperation};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_LENGTH};

use super::{Registry, RegistryError};

/// A document fetched within its limit.
#[derive(Debug)]
pub(super) struct Fetched {
    /// The body, at most the limit asked for.
    pub bytes: Vec<u8>,
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

/// How a request authenticates: oci-client's bearer token for the repository, the configured
/// basic credentials, or nothing. Obtained once per series of calls.
pub(super) enum Credential {
    Bearer(String),
    Basic(String, String),
    Anonymous,
}

/// A GET of `path` (starting with `/v2/`) at `reference`'s registry.
pub(super) struct Get<'a> {
    /// Which repository the call is for.
    pub reference: &'a Reference,
    /// How it authenticates (see [`Registry::credential`]).
    pub credential: &'a Credential,
    /// Path and query, such as `/v2/<name>/manifests/<tag>`.
    pub path: String,
    /// The media types accepted.
    pub accept: &'a [&'a str],
    /// Largest body accepted.
    pub limit: usize,
    /// What is fetched, for messages: "referrers index".
    pub what: &'static str,
}

impl Registry {
    /// The credential for pulls from `reference`'s repository, as oci-client would present it
    /// (one call to the registry's `/v2/` and, for a token service, one to it), under the
    /// per-call deadline.
    pub(super) async fn credential(
        &self,
        reference: &Reference,
    ) -> Result<Credential, RegistryError> {
        let auth = self.auth_for(reference.registry());
        let call = self.client.auth(reference, &auth, RegistryOperation::Pull);
        let token = self
            .deadline("authenticate", call)
            .await?
            .map_err(|e| RegistryError::from_oci(reference.resolve_registry(), e))?;
        Ok(match (token, auth) {
            (Some(token), _) => Credential::Bearer(token),
            (None, RegistryAuth::Basic(user, password)) => Credential::Basic(user, password),
            (None, _) => Credential::Anonymous,
        })
    }

    /// Steps: 1. present the credential; 2. send under the per-call deadline;
    /// 3. classify the status; 4. refuse a declared length over the limit; 5. stream the body,
    /// stopping past the limit. The whole call is bounded by the registry's call deadline.
    pub(super) async fn bounded_get(&self, get: Get<'_>) -> Result<Answer, RegistryError> {
        self.deadline(get.what, self.bounded_get_inner(&get))
            .await?
    }

    async fn bounded_get_inner(&self, get: &Get<'_>) -> Result<Answer, RegistryError> {
        let registry = get.reference.resolve_registry().to_string();
        let unavailable = |detail: String| RegistryError::Unavailable {
            registry: registry.clone(),
            detail,
        };
        let http = self
            .http
            .as_ref()
            .map_err(|e| unavailable(format!("no HTTP client: {e}")))?;
        let scheme = match self.config.insecure.contains(&registry) {
            true => "http",
            false => "https",
        };
        let url = format!("{scheme}://{registry}{}", get.path);
        // 1. The credential.
        let request = http.get(&url).header(ACCEPT, get.accept.join(", "));
        let request = match get.credential {
            Credential::Bearer(token) => request.bearer_auth(token),
            Credential::Basic(user, password) => request.basic_auth(user, Some(password)),
            Credential::Anonymous => request,
        };
        // 2. The request.
        let mut response = request
            .send()
            .await
            .map_err(|e| unavailable(super::error::transport_detail(&e)))?;
        // 3. The status.
        match response.status() {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Ok(Answer::NotFound),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(RegistryError::Unauthorized { registry });
            }
            StatusCode::TOO_MANY_REQUESTS => return Err(RegistryError::RateLimited { registry }),
            StatusCode::BAD_REQUEST
            | StatusCode::METHOD_NOT_ALLOWED
            | StatusCode::NOT_ACCEPTABLE
            | StatusCode::NOT_IMPLEMENTED => return Ok(Answer::Unsupported),
            other => return Err(unavailable(format!("HTTP {}", other.as_u16()))),
        }
        let too_large = |size: String| RegistryError::TooLarge {
            what: format!("{} ({size})", get.what),
            limit: get.limit,
        };
        // 4. The declared length.
        let declared = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if let Some(length) = declared.filter(|l| *l > get.limit as u64) {
            return Err(too_large(format!("{length} bytes declared")));
        }
        // 5. The body, never more than the limit.
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| unavailable(format!("reading the {}: {e}", get.what)))?
        {
            if bytes.len() + chunk.len() > get.limit {
                return Err(too_large("more bytes than that sent".to_string()));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Answer::Found(Fetched { bytes }))
    }
}

/// The HTTP client for bounded GETs: the same timeouts and user agent as oci-client's.
pub(super) fn client(config: &super::RegistryConfig) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(config.call_timeout)
        .read_timeout(config.call_timeout)
        .user_agent(concat!("signet/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
}
