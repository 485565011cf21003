//! A registry front that answers one tag with digest A the first time and digest B after that,
//! forwarding everything else to a real registry: a registry that "answers differently on a
//! second lookup" (Kyverno's CVE-2022-47633 class).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Response, StatusCode};

struct Flip {
    upstream: String,
    tag_path: String,
    first: String,
    then: String,
    repo: String,
    tag_lookups: AtomicUsize,
    requests: Mutex<Vec<String>>,
    http: reqwest::Client,
}

/// The running front.
pub struct FlipRegistry {
    pub addr: SocketAddr,
    state: Arc<Flip>,
    task: tokio::task::JoinHandle<()>,
}

impl FlipRegistry {
    /// Front `upstream_host` (plain HTTP); `repo:tag` answers `first`, then `then` forever.
    pub async fn start(
        upstream_host: &str,
        repo: &str,
        tag: &str,
        first: &str,
        then: &str,
    ) -> FlipRegistry {
        let state = Arc::new(Flip {
            upstream: format!("http://{upstream_host}"),
            tag_path: format!("/v2/{repo}/manifests/{tag}"),
            first: first.to_owned(),
            then: then.to_owned(),
            repo: repo.to_owned(),
            tag_lookups: AtomicUsize::new(0),
            requests: Mutex::new(Vec::new()),
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client"),
        });
        let app = Router::new().fallback(forward).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FlipRegistry { addr, state, task }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.addr.port())
    }

    /// How many requests (`METHOD /path`) contained `needle`.
    pub fn requests_containing(&self, needle: &str) -> usize {
        let requests = self.state.requests.lock().expect("request log");
        requests.iter().filter(|r| r.contains(needle)).count()
    }

    /// How often the tag itself was looked up.
    pub fn tag_lookups(&self) -> usize {
        self.state.tag_lookups.load(Ordering::SeqCst)
    }
}

impl Drop for FlipRegistry {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(State(flip): State<Arc<Flip>>, request: Request) -> Response<Body> {
    let mut path = request.uri().path().to_owned();
    flip.requests
        .lock()
        .expect("request log")
        .push(format!("{} {path}", request.method()));
    if path == flip.tag_path {
        let n = flip.tag_lookups.fetch_add(1, Ordering::SeqCst);
        let digest = if n == 0 { &flip.first } else { &flip.then };
        path = format!("/v2/{}/manifests/{digest}", flip.repo);
    }
    let query = request
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let url = format!("{}{path}{query}", flip.upstream);
    let mut upstream = flip.http.request(request.method().clone(), url);
    for name in ["accept", "authorization"] {
        if let Some(value) = request.headers().get(name) {
            upstream = upstream.header(name, value);
        }
    }
    let answer = match upstream.send().await {
        Ok(answer) => answer,
        Err(_) => {
            return Response::builder()
                .status(StatusCode::BAD_GATEWAY)
                .body(Body::empty())
                .expect("response");
        }
    };
    let status = answer.status();
    let headers: HeaderMap = answer.headers().clone();
    let bytes = answer.bytes().await.unwrap_or_default();
    let mut response = Response::builder().status(status);
    for name in [
        "content-type",
        "docker-content-digest",
        "content-length",
        "www-authenticate",
    ] {
        if let Some(value) = headers.get(name) {
            response = response.header(name, value);
        }
    }
    response.body(Body::from(bytes)).expect("response")
}
