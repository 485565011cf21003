//! A registry that signs every digest it is asked about: `GET /v2/<repo>/manifests/sha256-<hex>.sig`
//! answers a cosign signature manifest whose one layer is a simple-signing payload for
//! `<host>/<repo>@sha256:<hex>`, signed on the spot with the given key, and the layer blob is
//! served from memory. For memory benchmarks that need 100k distinct signed digests, which a
//! real registry would store as a million files. Pod images name digests, so no manifest is ever
//! resolved. Everything else is 404 (no referrers API, no tags).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Response, StatusCode};
use oci_client::manifest::OCI_IMAGE_MEDIA_TYPE;
use serde_json::json;

use super::images::sha256_digest;
use super::signing::{SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE, TestKey, sign};
use super::simple_signing_payload;

struct Generator {
    key: TestKey,
    host: String,
    /// Payloads by blob digest, kept until fetched once.
    blobs: Mutex<HashMap<String, Vec<u8>>>,
    signatures: AtomicU64,
}

/// The running registry.
pub struct GeneratedRegistry {
    pub addr: SocketAddr,
    state: Arc<Generator>,
    task: tokio::task::JoinHandle<()>,
}

impl GeneratedRegistry {
    /// Serve on 127.0.0.1, signing with `key`.
    pub async fn start(key: TestKey) -> GeneratedRegistry {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(Generator {
            key,
            host: addr.to_string(),
            blobs: Mutex::new(HashMap::new()),
            signatures: AtomicU64::new(0),
        });
        let app = Router::new().fallback(answer).with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        GeneratedRegistry { addr, state, task }
    }

    pub fn host(&self) -> String {
        self.state.host.clone()
    }

    /// The public key (PEM) every signature verifies with.
    pub fn public_pem(&self) -> String {
        self.state.key.public_pem.clone()
    }

    /// Signature manifests made so far.
    pub fn signatures(&self) -> u64 {
        self.state.signatures.load(Ordering::SeqCst)
    }
}

impl Drop for GeneratedRegistry {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(State(generator): State<Arc<Generator>>, request: Request) -> Response<Body> {
    let path = request.uri().path();
    if path == "/v2/" {
        return found("application/json", b"{}".to_vec());
    }
    let Some(rest) = path.strip_prefix("/v2/") else {
        return not_found();
    };
    if let Some((repo, tag)) = rest.split_once("/manifests/") {
        return match tag
            .strip_prefix("sha256-")
            .and_then(|t| t.strip_suffix(".sig"))
        {
            Some(hex) => signature_manifest(&generator, repo, hex),
            None => not_found(),
        };
    }
    if let Some((_, digest)) = rest.split_once("/blobs/") {
        let blob = generator.blobs.lock().expect("blobs").remove(digest);
        return match blob {
            Some(bytes) => found("application/octet-stream", bytes),
            None => not_found(),
        };
    }
    not_found()
}

fn signature_manifest(generator: &Generator, repo: &str, hex: &str) -> Response<Body> {
    let reference = format!("{}/{repo}", generator.host);
    let payload = simple_signing_payload(&reference, &format!("sha256:{hex}"));
    let signature = sign(&generator.key, &payload);
    let layer_digest = sha256_digest(&payload);
    let layer = json!({
        "mediaType": SIMPLE_SIGNING_MEDIA_TYPE,
        "digest": layer_digest,
        "size": payload.len(),
        "annotations": { SIGNATURE_ANNOTATION: signature },
    });
    let config = b"{}".to_vec();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_IMAGE_MEDIA_TYPE,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": sha256_digest(&config),
            "size": config.len(),
        },
        "layers": [layer],
    });
    generator
        .blobs
        .lock()
        .expect("blobs")
        .insert(layer_digest, payload);
    generator.signatures.fetch_add(1, Ordering::SeqCst);
    let bytes = serde_json::to_vec(&manifest).expect("manifest json");
    let mut response = found(OCI_IMAGE_MEDIA_TYPE, bytes.clone());
    let digest = sha256_digest(&bytes).parse().expect("digest header");
    response
        .headers_mut()
        .insert("docker-content-digest", digest);
    response
}

fn found(content_type: &str, bytes: Vec<u8>) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", content_type)
        .header("content-length", bytes.len())
        .body(Body::from(bytes))
        .expect("response")
}

fn not_found() -> Response<Body> {
    Response::builder()
        .status(StatusCode::NOT_FOUND)
        .header("content-type", "application/json")
        .body(Body::from(r#"{"errors":[{"code":"MANIFEST_UNKNOWN"}]}"#))
        .expect("response")
}
