//! The one registry front of the tests: forwards to a real registry, except for requests whose
//! path contains a configured needle, which get a fault instead: an error status, a redirect, a
//! body that lies about its size, never ends, trickles, breaks off, or was rewritten, a document
//! the real registry cannot serve (the OCI 1.1 referrers API Debian's distribution 2.8 lacks:
//! [`FaultFront::referrers`]), or another path's answer (a tag that answers differently on a
//! second lookup: [`FaultFront::flipping`]). Every request is logged with its `Authorization`
//! header, so tests can count requests and see which credentials went where. Served over plain
//! HTTP, or over HTTPS with a certificate nobody trusts.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Response, StatusCode};
use futures::stream::{self, StreamExt};

/// Rewrites a forwarded body.
pub type Rewrite = Arc<dyn Fn(&[u8]) -> Vec<u8> + Send + Sync>;
/// Headers that replace the upstream's (`None` removes one).
pub type Headers = Vec<(&'static str, Option<String>)>;

/// What a matching request gets.
#[derive(Clone)]
pub enum Fault {
    /// This status and these headers, empty body (500; 429 with `Retry-After`).
    Status(u16, Vec<(&'static str, String)>),
    /// 307 to this base URL followed by the request's path.
    Redirect(String),
    /// `Content-Length` claims this many bytes; a few are sent, then the body never ends.
    Declared(u64),
    /// Chunked, never ending, 16 KiB per chunk.
    Endless,
    /// One byte per second, forever, with a plausible `Content-Length`.
    Trickle,
    /// `Content-Length` 1000, 100 bytes sent, then the connection breaks.
    ResetMidBody,
    /// A registry with a token service: a request with `Authorization: Bearer <token>` is
    /// forwarded, any other gets 401 with this `WWW-Authenticate`.
    Challenge {
        www_authenticate: String,
        token: String,
    },
    /// Forward, then rewrite the body; `headers` replace the upstream's (a `None` value removes
    /// the header). The `Content-Length` follows the new body.
    Rewrite(Rewrite, Headers),
    /// This status, these headers and this body.
    Body(u16, Vec<(&'static str, String)>, Vec<u8>),
    /// Forward, but ask the registry for this path (and the request's query) instead.
    Reroute(String),
}

/// Which requests a fault is for.
#[derive(Clone)]
struct Matcher {
    /// Only this method (`HEAD`), or any.
    method: Option<String>,
    /// What the request's path is compared with.
    needle: String,
    scope: Scope,
    /// Requests it still applies to (`None`: every one).
    remaining: Option<usize>,
}

/// How a [`Matcher`]'s needle is compared.
#[derive(Clone, Copy)]
enum Scope {
    /// The path contains it.
    Contains,
    /// The path (whatever the query) is it.
    Path,
    /// The path and query are it.
    PathAndQuery,
}

impl Matcher {
    fn matches(&self, method: &str, path: &str, path_and_query: &str) -> bool {
        let method_ok = self.method.as_deref().is_none_or(|m| m == method);
        let path_ok = match self.scope {
            Scope::Contains => path.contains(self.needle.as_str()),
            Scope::Path => path == self.needle,
            Scope::PathAndQuery => path_and_query == self.needle,
        };
        method_ok && path_ok
    }
}

/// One logged request.
#[derive(Clone, Debug)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
}

struct Front {
    upstream: String,
    faults: Mutex<Vec<(Matcher, Fault)>>,
    log: Mutex<Vec<Logged>>,
    http: reqwest::Client,
}

/// The running front.
pub struct FaultFront {
    pub addr: SocketAddr,
    state: Arc<Front>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultFront {
    /// Front `upstream_host` (plain HTTP) over plain HTTP.
    pub async fn start(upstream_host: &str) -> FaultFront {
        Self::start_on("127.0.0.1", upstream_host).await
    }

    /// [`FaultFront::start`] listening on another loopback address (`127.0.0.2`).
    pub async fn start_on(ip: &str, upstream_host: &str) -> FaultFront {
        let state = front(upstream_host);
        let app = Router::new().fallback(answer).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FaultFront { addr, state, task }
    }

    /// Front `upstream_host` over HTTPS with a self-signed certificate nobody trusts.
    pub async fn start_untrusted_tls(upstream_host: &str) -> FaultFront {
        super::tls::install_crypto_provider();
        let state = front(upstream_host);
        let app = Router::new().fallback(answer).with_state(state.clone());
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).expect("cert");
        let tls = axum_server::tls_rustls::RustlsConfig::from_pem(
            made.cert.pem().into_bytes(),
            made.signing_key.serialize_pem().into_bytes(),
        )
        .await
        .expect("tls config");
        let handle = axum_server::Handle::new();
        let server = axum_server::bind_rustls("127.0.0.1:0".parse().expect("addr"), tls)
            .handle(handle.clone())
            .serve(app.into_make_service());
        let task = tokio::spawn(async move {
            let _ = server.await;
        });
        let addr = handle.listening().await.expect("listening");
        FaultFront { addr, state, task }
    }

    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Requests whose path contains `needle` get `fault` from now on (the first match wins).
    pub fn fail(&self, needle: &str, fault: Fault) {
        self.add(None, needle, Scope::Contains, None, fault);
    }

    /// Requests with this method whose path contains `needle` get `fault` from now on.
    pub fn fail_method(&self, method: &str, needle: &str, fault: Fault) {
        self.add(Some(method), needle, Scope::Contains, None, fault);
    }

    /// Requests whose path and query are exactly `path_and_query` get `fault` from now on.
    pub fn fail_exact(&self, path_and_query: &str, fault: Fault) {
        self.add(None, path_and_query, Scope::PathAndQuery, None, fault);
    }

    /// Requests whose path and query are exactly `path_and_query` get `fault`, the next
    /// `times` of them only.
    pub fn fail_exact_times(&self, path_and_query: &str, times: usize, fault: Fault) {
        self.add(
            None,
            path_and_query,
            Scope::PathAndQuery,
            Some(times),
            fault,
        );
    }

    fn add(
        &self,
        method: Option<&str>,
        needle: &str,
        scope: Scope,
        remaining: Option<usize>,
        fault: Fault,
    ) {
        let matcher = Matcher {
            method: method.map(str::to_owned),
            needle: needle.to_owned(),
            scope,
            remaining,
        };
        self.state
            .faults
            .lock()
            .expect("faults")
            .push((matcher, fault));
    }

    /// Forward everything again.
    pub fn heal(&self) {
        self.state.faults.lock().expect("faults").clear();
    }

    /// Every request so far.
    pub fn log(&self) -> Vec<Logged> {
        self.state.log.lock().expect("log").clone()
    }

    /// How many requests had `needle` in their path.
    pub fn requests_containing(&self, needle: &str) -> usize {
        self.log()
            .iter()
            .filter(|r| r.path.contains(needle))
            .count()
    }

    /// How many requests were for exactly `path`.
    pub fn requests_to(&self, path: &str) -> usize {
        self.log().iter().filter(|r| r.path == path).count()
    }

    /// A front with the OCI 1.1 referrers API: `answers` maps a path to the image index served
    /// for it; other `/referrers/` paths get 404, as from a registry without the API.
    pub async fn referrers(upstream_host: &str, answers: HashMap<String, Vec<u8>>) -> FaultFront {
        let front = Self::start(upstream_host).await;
        let index = "application/vnd.oci.image.index.v1+json".to_string();
        for (path, body) in answers {
            let fault = Fault::Body(200, vec![("content-type", index.clone())], body);
            front.add(None, &path, Scope::Path, None, fault);
        }
        front.fail("/referrers/", Fault::Status(404, vec![]));
        front
    }

    /// A front whose `repo:tag` answers `first` on its first lookup and `then` on every later
    /// one: a registry that answers differently on a second lookup (Kyverno's CVE-2022-47633
    /// class). [`FaultFront::tag_lookups`] counts the lookups.
    pub async fn flipping(
        upstream_host: &str,
        repo: &str,
        tag: &str,
        first: &str,
        then: &str,
    ) -> FaultFront {
        let front = Self::start(upstream_host).await;
        let tag_path = format!("/v2/{repo}/manifests/{tag}");
        let to = |digest: &str| Fault::Reroute(format!("/v2/{repo}/manifests/{digest}"));
        front.fail_exact_times(&tag_path, 1, to(first));
        front.fail_exact(&tag_path, to(then));
        front
    }

    /// Lookups of `repo:tag` (for [`FaultFront::flipping`]).
    pub fn tag_lookups(&self, repo: &str, tag: &str) -> usize {
        self.requests_to(&format!("/v2/{repo}/manifests/{tag}"))
    }
}

impl Drop for FaultFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn front(upstream_host: &str) -> Arc<Front> {
    Arc::new(Front {
        upstream: format!("http://{upstream_host}"),
        faults: Mutex::new(Vec::new()),
        log: Mutex::new(Vec::new()),
        http: reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client"),
    })
}

async fn answer(State(front): State<Arc<Front>>, request: Request) -> Response<Body> {
    let path = request.uri().path().to_owned();
    let path_and_query = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let method = request.method().to_string();
    let authorization = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    front.log.lock().expect("log").push(Logged {
        method: request.method().to_string(),
        path: path.clone(),
        authorization,
    });
    let fault = {
        let mut faults = front.faults.lock().expect("faults");
        faults
            .iter_mut()
            .filter(|(matcher, _)| matcher.remaining != Some(0))
            .find(|(matcher, _)| matcher.matches(&method, &path, &path_and_query))
            .map(|(matcher, f)| {
                matcher.remaining = matcher.remaining.map(|n| n - 1);
                f.clone()
            })
    };
    match fault {
        Some(Fault::Challenge {
            www_authenticate,
            token,
        }) => {
            let presented = request
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok());
            match presented == Some(format!("Bearer {token}").as_str()) {
                true => forward(&front, request, None, None).await,
                false => Response::builder()
                    .status(StatusCode::UNAUTHORIZED)
                    .header("www-authenticate", www_authenticate)
                    .body(Body::empty())
                    .expect("response"),
            }
        }
        None => forward(&front, request, None, None).await,
        Some(Fault::Rewrite(rewrite, headers)) => {
            forward(&front, request, None, Some((rewrite, headers))).await
        }
        Some(Fault::Reroute(to)) => forward(&front, request, Some(to), None).await,
        Some(fault) => faulty(fault, &path),
    }
}

fn faulty(fault: Fault, path: &str) -> Response<Body> {
    let builder = Response::builder();
    match fault {
        Fault::Status(code, headers) => {
            let mut builder = builder.status(code);
            for (name, value) in headers {
                builder = builder.header(name, value);
            }
            builder.body(Body::empty())
        }
        Fault::Redirect(location) => builder
            .status(StatusCode::TEMPORARY_REDIRECT)
            .header("location", format!("{location}{path}"))
            .body(Body::empty()),
        Fault::Declared(length) => builder
            .header("content-length", length)
            .header("content-type", "application/octet-stream")
            .body(endless(1024, Duration::from_millis(10))),
        Fault::Endless => builder
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .body(endless(16 * 1024, Duration::ZERO)),
        Fault::Trickle => builder
            .header("content-length", 2000)
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .body(endless(1, Duration::from_secs(1))),
        Fault::ResetMidBody => {
            let part = stream::iter([Ok::<_, std::io::Error>(Bytes::from(vec![b'{'; 100]))]);
            let broken = stream::once(async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Err(std::io::Error::other("connection reset by the fault front"))
            });
            builder
                .header("content-length", 1000)
                .header("content-type", "application/vnd.oci.image.manifest.v1+json")
                .body(Body::from_stream(part.chain(broken)))
        }
        Fault::Body(code, headers, body) => {
            let mut builder = builder.status(code);
            for (name, value) in headers {
                builder = builder.header(name, value);
            }
            builder.body(Body::from(body))
        }
        Fault::Rewrite(..) | Fault::Challenge { .. } | Fault::Reroute(_) => {
            unreachable!("answered by `answer`")
        }
    }
    .expect("response")
}

/// `chunk` bytes every `every`, forever.
fn endless(chunk: usize, every: Duration) -> Body {
    let chunks = stream::repeat(()).then(move |()| async move {
        if !every.is_zero() {
            tokio::time::sleep(every).await;
        }
        Ok::<_, Infallible>(Bytes::from(vec![b' '; chunk]))
    });
    Body::from_stream(chunks)
}

/// Forward `request` to the registry (at path `to` instead of its own, when given).
async fn forward(
    front: &Front,
    request: Request,
    to: Option<String>,
    rewrite: Option<(Rewrite, Headers)>,
) -> Response<Body> {
    let path_and_query = match to {
        Some(path) => {
            let query = request.uri().query().map(|q| format!("?{q}"));
            format!("{path}{}", query.unwrap_or_default())
        }
        None => request
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
    };
    let mut upstream = front.http.request(
        request.method().clone(),
        format!("{}{path_and_query}", front.upstream),
    );
    for name in ["accept", "authorization"] {
        if let Some(value) = request.headers().get(name) {
            upstream = upstream.header(name, value);
        }
    }
    let Ok(reply) = upstream.send().await else {
        return Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(Body::empty())
            .expect("response");
    };
    let status = reply.status();
    let mut headers: HeaderMap = HeaderMap::new();
    for name in [
        "content-type",
        "docker-content-digest",
        "content-length",
        "www-authenticate",
        "location",
        "link",
    ] {
        if let Some(value) = reply.headers().get(name) {
            headers.insert(name, value.clone());
        }
    }
    let mut bytes = reply.bytes().await.unwrap_or_default().to_vec();
    if let Some((rewrite, replaced)) = rewrite {
        bytes = rewrite(&bytes);
        headers.insert("content-length", bytes.len().into());
        for (name, value) in replaced {
            match value {
                Some(value) => headers.insert(name, value.parse().expect("header value")),
                None => headers.remove(name),
            };
        }
    }
    let mut response = Response::builder().status(status);
    *response.headers_mut().expect("headers") = headers;
    response.body(Body::from(bytes)).expect("response")
}
