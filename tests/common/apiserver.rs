//! A recorded-shapes Kubernetes API server for the few tests a real kube-apiserver cannot serve:
//! one that answers 503 on demand ([`TestApiServer::set_unavailable`]: tests/it/webhook_pull_secrets.rs,
//! tests/it/cluster_policies.rs), an upstream behind a blackhole proxy that must never be reached
//! (tests/it/webhook_events.rs, tests/it/webhook_pull_secrets.rs), and policy objects the shipped
//! CRDs refuse or prune, which Signet must still judge safely where older or schemaless CRDs
//! are installed (tests/it/namespaced_policies.rs). Everything else runs against the real
//! kube-apiserver (tests/common/control_plane.rs, tests/common/shared_plane.rs); see
//! docs/testing-with-kube-apiserver.md.
//!
//! It answers list, get, watch (chunked watch events), create, replace, merge-patch (status
//! subresource included) and delete of any resource with JSON in the shape the kube-apiserver
//! gives (see tests/fixtures/kube-api/PROVENANCE.md). Point a `kube::Client` at it with
//! [`TestApiServer::client`].
//!
//! Objects live in memory, keyed by resource path; every change bumps one resourceVersion
//! counter and appends a watch event, so a watch from resourceVersion N replays what came after N
//! and then streams live changes. Every request is recorded so a test can assert what was read.
//! Lists honour `limit` and `metadata.continue` as the apiserver does. Not supported:
//! label/field selectors (ignored), validation, server-side apply semantics (an apply patch is
//! merged like a merge patch).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// A request the server answered.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: String,
}

/// Where a resource lives: `/api/v1` or `/apis/<group>/<version>`, its plural, its namespace.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    prefix: String,
    plural: String,
    namespace: Option<String>,
    name: String,
}

#[derive(Debug, Clone)]
struct Event {
    rv: u64,
    key: Key,
    kind: &'static str,
    object: Value,
}

#[derive(Default)]
struct Store {
    rv: u64,
    objects: BTreeMap<Key, Value>,
    log: Vec<Event>,
}

struct Shared {
    store: Mutex<Store>,
    live: broadcast::Sender<Event>,
    requests: Mutex<Vec<RecordedRequest>>,
    unavailable: Mutex<bool>,
}

/// The running server; stops when dropped.
pub struct TestApiServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for TestApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestApiServer {
    /// Start on a free port of 127.0.0.1 with an empty store.
    pub async fn start() -> TestApiServer {
        let (live, _) = broadcast::channel(1024);
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::default()),
            live,
            requests: Mutex::new(Vec::new()),
            unavailable: Mutex::new(false),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        TestApiServer { addr, shared, task }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kube client for this server (plain HTTP, no auth, default namespace `default`).
    pub fn client(&self) -> kube::Client {
        let config = kube::Config::new(self.url().parse().unwrap());
        kube::Client::try_from(config).unwrap()
    }

    /// Create or replace `object` under the resource `plural` (its apiVersion, namespace and
    /// name come from the object). Sets resourceVersion (and uid, creationTimestamp, generation
    /// when missing) as the apiserver does, and emits ADDED or MODIFIED to watchers.
    pub fn apply(&self, plural: &str, object: Value) -> Value {
        let key = key_of(plural, &object);
        commit(&self.shared, key, object)
    }

    /// Delete an object, emitting DELETED. Returns whether it existed.
    pub fn delete(
        &self,
        api_version: &str,
        plural: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> bool {
        let key = Key {
            prefix: prefix_of(api_version),
            plural: plural.to_string(),
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
        };
        remove(&self.shared, &key).is_some()
    }

    /// The stored object, if any.
    pub fn get(
        &self,
        api_version: &str,
        plural: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let key = Key {
            prefix: prefix_of(api_version),
            plural: plural.to_string(),
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
        };
        self.shared.store.lock().unwrap().objects.get(&key).cloned()
    }

    /// Every request answered so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Requests whose path contains `fragment`.
    pub fn requests_to(&self, fragment: &str) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.contains(fragment))
            .collect()
    }

    /// While true, every request is answered 503 with a Status body.
    pub fn set_unavailable(&self, unavailable: bool) {
        *self.shared.unavailable.lock().unwrap() = unavailable;
    }
}

fn prefix_of(api_version: &str) -> String {
    if api_version.contains('/') {
        format!("/apis/{api_version}")
    } else {
        format!("/api/{api_version}")
    }
}

fn key_of(plural: &str, object: &Value) -> Key {
    let meta = &object["metadata"];
    Key {
        prefix: prefix_of(object["apiVersion"].as_str().unwrap_or("v1")),
        plural: plural.to_string(),
        namespace: meta["namespace"].as_str().map(str::to_string),
        name: meta["name"].as_str().unwrap_or_default().to_string(),
    }
}

/// Store `object` under `key` with a new resourceVersion and tell the watchers.
fn commit(shared: &Shared, key: Key, mut object: Value) -> Value {
    let mut store = shared.store.lock().unwrap();
    store.rv += 1;
    let rv = store.rv;
    let previous = store.objects.get(&key).cloned();
    let meta = &mut object["metadata"];
    meta["resourceVersion"] = json!(rv.to_string());
    let old_meta = previous
        .as_ref()
        .map(|p| p["metadata"].clone())
        .unwrap_or(Value::Null);
    for (field, fresh) in [
        ("uid", json!(format!("00000000-0000-4000-8000-{rv:012}"))),
        ("creationTimestamp", json!("2026-01-01T00:00:00Z")),
        ("generation", json!(1)),
    ] {
        if meta.get(field).is_none() {
            meta[field] = old_meta.get(field).cloned().unwrap_or(fresh);
        }
    }
    let kind = if previous.is_some() {
        "MODIFIED"
    } else {
        "ADDED"
    };
    store.objects.insert(key.clone(), object.clone());
    let event = Event {
        rv,
        key,
        kind,
        object: object.clone(),
    };
    store.log.push(event.clone());
    let _ = shared.live.send(event);
    object
}

fn remove(shared: &Shared, key: &Key) -> Option<Value> {
    let mut store = shared.store.lock().unwrap();
    let mut object = store.objects.remove(key)?;
    store.rv += 1;
    let rv = store.rv;
    object["metadata"]["resourceVersion"] = json!(rv.to_string());
    let event = Event {
        rv,
        key: key.clone(),
        kind: "DELETED",
        object: object.clone(),
    };
    store.log.push(event.clone());
    let _ = shared.live.send(event);
    Some(object)
}

/// What a request path names.
#[derive(Debug, Clone)]
struct Target {
    prefix: String,
    plural: String,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

fn parse_path(path: &str) -> Option<Target> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (prefix, rest) = match parts.as_slice() {
        ["api", version, rest @ ..] => (format!("/api/{version}"), rest),
        ["apis", group, version, rest @ ..] => (format!("/apis/{group}/{version}"), rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, plural, rest @ ..] => {
            (Some(ns.to_string()), [&[*plural][..], rest].concat())
        }
        other => (None, other.to_vec()),
    };
    let plural = rest.first()?.to_string();
    Some(Target {
        prefix,
        plural,
        namespace,
        name: rest.get(1).map(|s| s.to_string()),
        subresource: rest.get(2).map(|s| s.to_string()),
    })
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or_default().to_string();
    let body = axum::body::to_bytes(request.into_body(), 16 << 20)
        .await
        .unwrap_or_default();
    shared.requests.lock().unwrap().push(RecordedRequest {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    if *shared.unavailable.lock().unwrap() {
        return status(
            503,
            "ServiceUnavailable",
            "the server is currently unable to handle the request",
            None,
        );
    }
    let Some(target) = parse_path(&path) else {
        return status(
            404,
            "NotFound",
            "the server could not find the requested resource",
            None,
        );
    };
    route(&shared, method, target, &query, body)
}

fn route(
    shared: &Arc<Shared>,
    method: Method,
    target: Target,
    query: &str,
    body: Bytes,
) -> Response {
    let watching = matches!(query_param(query, "watch"), Some("true" | "1"));
    match (method, &target.name) {
        (Method::GET, None) if watching => watch(shared, &target, query),
        (Method::GET, None) => list(shared, &target, query),
        (Method::GET, Some(_)) => get(shared, &target),
        (Method::POST, None) => create(shared, &target, &body),
        (Method::PUT, Some(_)) => replace(shared, &target, &body),
        (Method::PATCH, Some(_)) => patch(shared, &target, &body),
        (Method::DELETE, Some(_)) => delete(shared, &target),
        _ => status(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
            None,
        ),
    }
}

fn object_key(target: &Target) -> Key {
    Key {
        prefix: target.prefix.clone(),
        plural: target.plural.clone(),
        namespace: target.namespace.clone(),
        name: target.name.clone().unwrap_or_default(),
    }
}

/// Whether `key` is in the collection `target` names (all namespaces when it names none).
fn in_collection(target: &Target, key: &Key) -> bool {
    key.prefix == target.prefix
        && key.plural == target.plural
        && (target.namespace.is_none() || target.namespace == key.namespace)
}

/// Built-in types lose `kind`/`apiVersion` in list items; custom resources keep them.
fn builtin(prefix: &str) -> bool {
    match prefix.strip_prefix("/apis/") {
        None => true,
        Some(rest) => {
            let group = rest.split('/').next().unwrap_or_default();
            !group.contains('.') || group.ends_with(".k8s.io")
        }
    }
}

fn api_version(prefix: &str) -> String {
    prefix
        .trim_start_matches("/apis/")
        .trim_start_matches("/api/")
        .to_string()
}

/// One page of the collection: from the `continue` token's offset, at most `limit` items, with
/// a `continue` token when more remain.
fn list(shared: &Shared, target: &Target, query: &str) -> Response {
    let size = query_param(query, "limit")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|l| *l > 0)
        .unwrap_or(usize::MAX);
    let offset = match query_param(query, "continue").filter(|c| !c.is_empty()) {
        None => 0,
        Some(token) => match token.strip_prefix("page-").and_then(|n| n.parse().ok()) {
            Some(offset) => offset,
            None => return status(400, "BadRequest", "invalid continue token", None),
        },
    };
    let store = shared.store.lock().unwrap();
    let strip = builtin(&target.prefix);
    let mut kind = None;
    let all: Vec<&Value> = store
        .objects
        .iter()
        .filter(|(key, _)| in_collection(target, key))
        .map(|(_, object)| object)
        .collect();
    let items: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(size)
        .map(|object| {
            kind.get_or_insert_with(|| object["kind"].as_str().unwrap_or_default().to_string());
            let mut item = (*object).clone();
            if strip {
                if let Some(map) = item.as_object_mut() {
                    map.remove("kind");
                    map.remove("apiVersion");
                }
            }
            item
        })
        .collect();
    let kind = kind.unwrap_or_else(|| "List".to_string());
    let list_kind = if kind == "List" {
        kind
    } else {
        format!("{kind}List")
    };
    let mut metadata = json!({"resourceVersion": store.rv.to_string()});
    let next = offset.saturating_add(items.len());
    if next < all.len() {
        metadata["continue"] = json!(format!("page-{next}"));
        metadata["remainingItemCount"] = json!(all.len() - next);
    }
    json_response(
        200,
        &json!({
            "kind": list_kind,
            "apiVersion": api_version(&target.prefix),
            "metadata": metadata,
            "items": items
        }),
    )
}

fn not_found(target: &Target) -> Response {
    let name = target.name.clone().unwrap_or_default();
    status(
        404,
        "NotFound",
        &format!("{} \"{name}\" not found", target.plural),
        Some(json!({"name": name, "kind": target.plural})),
    )
}

fn get(shared: &Shared, target: &Target) -> Response {
    match shared
        .store
        .lock()
        .unwrap()
        .objects
        .get(&object_key(target))
    {
        Some(object) => json_response(200, object),
        None => not_found(target),
    }
}

fn create(shared: &Shared, target: &Target, body: &[u8]) -> Response {
    let Ok(mut object) = serde_json::from_slice::<Value>(body) else {
        return status(400, "BadRequest", "the body is not JSON", None);
    };
    if let Some(ns) = &target.namespace {
        object["metadata"]["namespace"] = json!(ns);
    }
    let key = Key {
        name: object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        ..object_key(target)
    };
    if shared.store.lock().unwrap().objects.contains_key(&key) {
        let message = format!("{} \"{}\" already exists", key.plural, key.name);
        return status(
            409,
            "AlreadyExists",
            &message,
            Some(json!({"name": key.name, "kind": key.plural})),
        );
    }
    json_response(201, &commit(shared, key, object))
}

fn replace(shared: &Shared, target: &Target, body: &[u8]) -> Response {
    let Ok(object) = serde_json::from_slice::<Value>(body) else {
        return status(400, "BadRequest", "the body is not JSON", None);
    };
    json_response(200, &commit(shared, object_key(target), object))
}

/// A merge patch (RFC 7386); on the `status` subresource only `status` changes, as in the
/// apiserver. Apply and strategic-merge patches are treated the same way here.
fn patch(shared: &Shared, target: &Target, body: &[u8]) -> Response {
    let Ok(patch) = serde_json::from_slice::<Value>(body) else {
        return status(400, "BadRequest", "the patch is not JSON", None);
    };
    let key = object_key(target);
    let Some(mut object) = shared.store.lock().unwrap().objects.get(&key).cloned() else {
        return not_found(target);
    };
    match target.subresource.as_deref() {
        Some("status") => merge(&mut object["status"], &patch["status"]),
        _ => merge(&mut object, &patch),
    }
    json_response(200, &commit(shared, key, object))
}

fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(fields) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    for (name, value) in fields {
        match value {
            Value::Null => {
                target.as_object_mut().map(|m| m.remove(name));
            }
            _ => merge(&mut target[name.as_str()], value),
        }
    }
}

fn delete(shared: &Shared, target: &Target) -> Response {
    match remove(shared, &object_key(target)) {
        Some(object) => json_response(200, &object),
        None => not_found(target),
    }
}

/// A chunked stream of watch events after `resourceVersion`, then live ones, for at most
/// `timeoutSeconds` (default 30 s), one JSON object per line as the apiserver sends them.
fn watch(shared: &Arc<Shared>, target: &Target, query: &str) -> Response {
    let since: u64 = query_param(query, "resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let timeout: u64 = query_param(query, "timeoutSeconds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let mut live = shared.live.subscribe();
    let backlog: Vec<Event> = {
        let store = shared.store.lock().unwrap();
        store
            .log
            .iter()
            .filter(|e| e.rv > since && in_collection(target, &e.key))
            .cloned()
            .collect()
    };
    let target = target.clone();
    let last = backlog.last().map_or(since, |e| e.rv);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, Infallible>>(64);
    tokio::spawn(async move {
        for event in backlog {
            if tx.send(Ok(event_line(&event))).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::sleep(Duration::from_secs(timeout));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                event = live.recv() => match event {
                    Ok(event) if event.rv > last && in_collection(&target, &event.key) => {
                        if tx.send(Ok(event_line(&event))).await.is_err() { return; }
                    }
                    Ok(_) => {}
                    Err(_) => return,
                },
            }
        }
    });
    let stream = tokio_stream_from(rx);
    Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .unwrap()
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, Infallible>>,
) -> impl futures::Stream<Item = Result<Bytes, Infallible>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed()
}

fn event_line(event: &Event) -> Bytes {
    let mut line = json!({"type": event.kind, "object": event.object}).to_string();
    line.push('\n');
    Bytes::from(line)
}

fn json_response(code: u16, body: &Value) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap())
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// A `metav1.Status` failure, as the apiserver sends with every error code.
fn status(code: u16, reason: &str, message: &str, details: Option<Value>) -> Response {
    let mut body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code
    });
    if let Some(details) = details {
        body["details"] = details;
    }
    json_response(code, &body)
}
