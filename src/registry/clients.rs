//! The two HTTP clients behind every registry read and token request. The registry an image names
//! is reached whatever its name resolves to (in-cluster and private registries are normal, and
//! the kubelet pulls from them too); every other host a registry sends Signet to (blob storage
//! after a redirect, a token realm elsewhere) is judged by its URL (`redirect.rs`) and reached
//! through a client whose resolver refuses internal addresses (`resolver.rs`). A redirect from
//! the registry's own host to another is therefore not followed by the first client: it comes
//! back here, is judged, and is followed by the second, without any credential.

use reqwest::header::{ACCEPT, LOCATION};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};

use super::redirect::{self, RedirectRefused};
use super::resolver::PublicOnly;

/// What a request presents to the origin it is sent to (never to a redirect target elsewhere).
#[derive(Clone)]
pub(super) enum Credential {
    /// Nothing.
    Anonymous,
    /// Username and password.
    Basic(String, String),
    /// A token from the registry's token service.
    Bearer(String),
}

/// Why a request gave no answer.
#[derive(Debug)]
pub(super) enum SendError {
    /// Connection, TLS, DNS (a refused address included), or a hop refused inside the client.
    Transport(reqwest::Error),
    /// The registry redirected to a place Signet does not go.
    Redirect(RedirectRefused),
}

/// The client for the registry's own host and the client for everywhere else.
pub(super) struct Clients {
    home: reqwest::Client,
    elsewhere: reqwest::Client,
    /// `host[:port]`s the operator named: reached over plain HTTP and wherever they resolve.
    configured: Vec<String>,
}

impl Clients {
    /// Both clients, with the registry call timeouts and Signet's user agent. Neither falls back
    /// to plain HTTP or an unverified certificate.
    pub fn new(config: &super::RegistryConfig) -> Result<Clients, String> {
        let builder = || {
            reqwest::Client::builder()
                .connect_timeout(config.call_timeout)
                .read_timeout(config.call_timeout)
                .user_agent(concat!("signet/", env!("CARGO_PKG_VERSION")))
        };
        let home = builder()
            .redirect(redirect::same_origin_only())
            .build()
            .map_err(|e| e.to_string())?;
        let elsewhere = builder()
            .redirect(redirect::policy(config.insecure.clone()))
            .dns_resolver(PublicOnly::new(&config.insecure))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Clients {
            home,
            elsewhere,
            configured: config.insecure.clone(),
        })
    }

    /// Whether `authority` (`host[:port]`) was named by the operator.
    pub fn configured(&self, authority: &str) -> bool {
        self.configured.iter().any(|c| c == authority)
    }

    /// `method` on `url`, presenting `credential` to `url`'s origin only. `home` is the host whose
    /// addresses are trusted (the registry the image names); a redirect away from it is judged
    /// and followed anonymously through the client that checks addresses after DNS.
    pub async fn send(
        &self,
        method: Method,
        url: Url,
        home: &str,
        accept: &str,
        credential: &Credential,
    ) -> Result<Response, SendError> {
        let at_home = url.host_str().is_some_and(|h| h.eq_ignore_ascii_case(home));
        let client = if at_home { &self.home } else { &self.elsewhere };
        let request = client.request(method.clone(), url).header(ACCEPT, accept);
        let response = present(request, credential)
            .send()
            .await
            .map_err(SendError::Transport)?;
        let Some(target) = at_home.then(|| redirected_to(&response)).flatten() else {
            return Ok(response);
        };
        redirect::judge(&target, Some(response.url()), 1, &self.configured)
            .map_err(SendError::Redirect)?;
        self.elsewhere
            .request(method, target)
            .header(ACCEPT, accept)
            .send()
            .await
            .map_err(SendError::Transport)
    }
}

/// Where a redirect the home client did not follow points (resolved against the answer's URL).
fn redirected_to(response: &Response) -> Option<Url> {
    let redirect = matches!(
        response.status(),
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    );
    let location = response.headers().get(LOCATION)?.to_str().ok()?;
    redirect
        .then(|| response.url().join(location).ok())
        .flatten()
}

fn present(request: RequestBuilder, credential: &Credential) -> RequestBuilder {
    match credential {
        Credential::Anonymous => request,
        Credential::Basic(user, password) => request.basic_auth(user, Some(password)),
        Credential::Bearer(token) => request.bearer_auth(token),
    }
}
