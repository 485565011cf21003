//! A registry front with the OCI 1.1 referrers API that Debian's distribution 2.8 lacks: it
//! answers configured paths (a referrers index, or any document) itself, answers other
//! `/referrers/` paths 404 as a registry without the API does, and forwards everything else to
//! the real registry (the pattern of `flip.rs`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Response, StatusCode};

struct Front {
    upstream: String,
    answers: HashMap<String, Vec<u8>>,
    requests: Mutex<Vec<String>>,
    http: reqwest::Client,
}

/// The running front.
pub struct ReferrersFront {
    pub addr: SocketAddr,
    state: Arc<Front>,
    task: tokio::task::JoinHandle<()>,
}

impl ReferrersFront {
    /// Front `upstream_host` (plain HTTP); `answers` maps a path (no query) to the OCI image
    /// index served for it.
    pub async fn start(upstream_host: &str, answers: HashMap<String, Vec<u8>>) -> ReferrersFront {
        let state = Arc::new(Front {
            upstream: format!("http://{upstream_host}"),
            answers,
            requests: Mutex::new(Vec::new()),
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client"),
        });
        let app = Router::new().fallback(answer).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        ReferrersFront { addr, state, task }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.addr.port())
    }

    /// How many requests (`METHOD /path?query`) contained `needle`.
    pub fn requests_containing(&self, needle: &str) -> usize {
        let requests = self.state.requests.lock().expect("request log");
        requests.iter().filter(|r| r.contains(needle)).count()
    }
}

impl Drop for ReferrersFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(State(front): State<Arc<Front>>, request: Request) -> Response<Body> {
    let path = request.uri().path().to_owned();
    let query = request
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    front
        .requests
        .lock()
        .expect("request log")
        .push(format!("{} {path}{query}", request.method()));
    if let Some(body) = front.answers.get(&path) {
        return Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/vnd.oci.image.index.v1+json")
            .header("content-length", body.len())
            .body(Body::from(body.clone()))
            .expect("response");
    }
    if path.contains("/referrers/") {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .body(Body::empty())
            .expect("response");
    }
    let mut upstream = front.http.request(
        request.method().clone(),
        format!("{}{path}{query}", front.upstream),
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
    let mut response = Response::builder().status(reply.status());
    for name in [
        "content-type",
        "docker-content-digest",
        "content-length",
        "www-authenticate",
    ] {
        if let Some(value) = reply.headers().get(name) {
            response = response.header(name, value);
        }
    }
    let bytes = reply.bytes().await.unwrap_or_default();
    response.body(Body::from(bytes)).expect("response")
}
