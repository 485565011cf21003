//! Pushing small fake images, multi-arch indexes and arbitrary manifests with oci-client.
//!
//! Manifests are serialised with `serde_json::to_vec` and pushed with `push_manifest_raw`, so the
//! digest returned is the sha256 of the exact bytes the registry stored (its `Docker-Content-Digest`).
//! oci-client's own `push`/`push_manifest` re-serialise as canonical JSON (see spike §6).

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::manifest::{OCI_IMAGE_INDEX_MEDIA_TYPE, OCI_IMAGE_MEDIA_TYPE};
use oci_client::{Client, Reference};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::registry::TestRegistry;

pub const OCI_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";

/// "sha256:<hex>" of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// An oci-client that speaks plain HTTP to this registry (and HTTPS to anything else).
pub fn oci_client(reg: &TestRegistry) -> Client {
    Client::new(ClientConfig {
        protocol: ClientProtocol::HttpsExcept(vec![reg.host()]),
        ..Default::default()
    })
}

/// Parses `<host>/<repo_ref>`, where `repo_ref` is `repo:tag`, `repo@sha256:..` or `repo`.
pub fn reference(reg: &TestRegistry, repo_ref: &str) -> Reference {
    format!("{}/{repo_ref}", reg.host())
        .parse()
        .unwrap_or_else(|e| panic!("parse reference {}/{repo_ref}: {e}", reg.host()))
}

/// "<host>/<repo>@<digest>", the form the product receives after resolution.
pub fn digest_ref(reg: &TestRegistry, repo: &str, digest: &str) -> String {
    format!("{}/{repo}@{digest}", reg.host())
}

/// A client with the registry's credentials stored (no-op for anonymous registries). Needed
/// because `push_blob`/`push_manifest_raw` take no auth argument.
async fn authed_client(reg: &TestRegistry) -> Client {
    let client = oci_client(reg);
    client.store_auth_if_needed(&reg.host(), &reg.auth()).await;
    client
}

/// Uploads `bytes` as a blob in `repo` and returns its descriptor JSON (mediaType, digest, size).
pub async fn push_blob(reg: &TestRegistry, repo: &str, media_type: &str, bytes: Vec<u8>) -> Value {
    let digest = sha256_digest(&bytes);
    let size = bytes.len();
    authed_client(reg)
        .await
        .push_blob(&reference(reg, repo), bytes, &digest)
        .await
        .unwrap_or_else(|e| panic!("push blob {digest} to {repo}: {e}"));
    json!({ "mediaType": media_type, "digest": digest, "size": size })
}

/// Pushes `manifest` verbatim (`serde_json::to_vec`) under `repo_ref` (`repo:tag` or
/// `repo@digest`) and returns the digest of the bytes pushed.
pub async fn push_manifest(
    reg: &TestRegistry,
    repo_ref: &str,
    media_type: &str,
    manifest: &Value,
) -> String {
    let bytes = serde_json::to_vec(manifest).expect("serialise manifest");
    push_manifest_bytes(reg, repo_ref, media_type, bytes).await
}

pub async fn push_manifest_bytes(
    reg: &TestRegistry,
    repo_ref: &str,
    media_type: &str,
    bytes: Vec<u8>,
) -> String {
    let digest = sha256_digest(&bytes);
    let content_type = media_type
        .parse()
        .expect("media type is a valid header value");
    authed_client(reg)
        .await
        .push_manifest_raw(&reference(reg, repo_ref), bytes, content_type)
        .await
        .unwrap_or_else(|e| panic!("push manifest {digest} as {repo_ref}: {e}"));
    digest
}

/// Pulls the raw manifest bytes and the registry's digest for `repo_ref`.
pub async fn pull_manifest(reg: &TestRegistry, repo_ref: &str) -> (Vec<u8>, String) {
    let (bytes, digest) = oci_client(reg)
        .pull_manifest_raw(
            &reference(reg, repo_ref),
            &reg.auth(),
            &[OCI_IMAGE_MEDIA_TYPE, OCI_IMAGE_INDEX_MEDIA_TYPE],
        )
        .await
        .unwrap_or_else(|e| panic!("pull manifest {repo_ref}: {e}"));
    (bytes.to_vec(), digest)
}

/// The registry's `Docker-Content-Digest` for `repo_ref` (HEAD).
pub async fn registry_digest(reg: &TestRegistry, repo_ref: &str) -> String {
    oci_client(reg)
        .fetch_manifest_digest(&reference(reg, repo_ref), &reg.auth())
        .await
        .unwrap_or_else(|e| panic!("resolve {repo_ref}: {e}"))
}

/// Pushes a single-platform linux/amd64 OCI image to `repo_tag` (`repo:tag`, or `repo` alone to
/// push it by digest, untagged). The same `seed` always gives the same digest; different seeds
/// give different ones.
pub async fn push_image(reg: &TestRegistry, repo_tag: &str, seed: &str) -> String {
    push_platform_image(reg, repo_tag, seed, "linux", "amd64").await
}

/// Pushes a single-platform image for `os`/`arch` (`arch` may carry a variant: "arm/v7") to
/// `repo_ref` (`repo:tag`, or `repo` alone to push by digest only). Returns its digest.
pub async fn push_platform_image(
    reg: &TestRegistry,
    repo_ref: &str,
    seed: &str,
    os: &str,
    arch: &str,
) -> String {
    let manifest = image_manifest(reg, repo_of(repo_ref), seed, os, arch).await;
    let target = if repo_ref.contains(['@', ':']) {
        repo_ref.to_owned()
    } else {
        format!("{repo_ref}@{}", sha256_digest(&manifest))
    };
    push_manifest_bytes(reg, &target, OCI_IMAGE_MEDIA_TYPE, manifest).await
}

/// Uploads the layer and config blobs of a fake image to `repo` and returns the manifest bytes
/// (not pushed yet).
pub async fn image_manifest(
    reg: &TestRegistry,
    repo: &str,
    seed: &str,
    os: &str,
    arch: &str,
) -> Vec<u8> {
    let layer_bytes = fake_layer(seed);
    let diff_id = sha256_digest(&layer_bytes);
    let layer = push_blob(reg, repo, OCI_LAYER_MEDIA_TYPE, layer_bytes).await;
    let config = image_config(seed, os, arch, &diff_id);
    let config = push_blob(reg, repo, OCI_CONFIG_MEDIA_TYPE, config).await;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_IMAGE_MEDIA_TYPE,
        "config": config,
        "layers": [layer],
    });
    serde_json::to_vec(&manifest).expect("serialise image manifest")
}

/// Pushes one image per platform (by digest, untagged) and then an OCI image index under
/// `repo_tag`. Returns (index digest, child digests in the order of `platforms`).
pub async fn push_index(
    reg: &TestRegistry,
    repo_tag: &str,
    platforms: &[(&str, &str)],
) -> (String, Vec<String>) {
    let repo = repo_of(repo_tag);
    let mut entries = Vec::new();
    let mut children = Vec::new();
    for &(os, arch) in platforms {
        let seed = format!("{repo_tag} {os}/{arch}");
        let manifest = image_manifest(reg, repo, &seed, os, arch).await;
        let size = manifest.len();
        let by_digest = format!("{repo}@{}", sha256_digest(&manifest));
        let child = push_manifest_bytes(reg, &by_digest, OCI_IMAGE_MEDIA_TYPE, manifest).await;
        entries.push(index_entry(&child, size, os, arch));
        children.push(child);
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": OCI_IMAGE_INDEX_MEDIA_TYPE,
        "manifests": entries,
    });
    let digest = push_manifest(reg, repo_tag, OCI_IMAGE_INDEX_MEDIA_TYPE, &index).await;
    (digest, children)
}

/// Points `repo:new_tag` at the manifest `digest` already in `repo` (same bytes, same digest).
pub async fn retag(reg: &TestRegistry, repo: &str, digest: &str, new_tag: &str) {
    let (bytes, _) = pull_manifest(reg, &format!("{repo}@{digest}")).await;
    let media_type = media_type_of(&bytes);
    let pushed = push_manifest_bytes(reg, &format!("{repo}:{new_tag}"), &media_type, bytes).await;
    assert_eq!(pushed, digest, "retag must keep the digest");
}

/// Moves `repo:tag` to a fresh, unsigned image built from `new_seed`; returns its digest.
pub async fn move_tag(reg: &TestRegistry, repo: &str, tag: &str, new_seed: &str) -> String {
    push_image(reg, &format!("{repo}:{tag}"), new_seed).await
}

/// Deletes the manifest `digest` from `repo` (storage.delete is enabled). Tags pointing at it go too.
pub async fn delete_manifest(reg: &TestRegistry, repo: &str, digest: &str) {
    let url = format!("{}/v2/{repo}/manifests/{digest}", reg.url());
    let response = api_call(reg, reqwest::Method::DELETE, &url).await;
    assert_eq!(response.status().as_u16(), 202, "DELETE {url}");
}

/// Copies manifest `from_ref` (`repo:tag` or `repo@digest`) of `from`, with the config and layer
/// blobs it names, to `to` under `to_ref`, byte for byte as `skopeo copy --preserve-digests`
/// would, so the digest (and any signature naming it) stays valid. Returns the digest.
pub async fn copy_manifest(
    from: &TestRegistry,
    from_ref: &str,
    to: &TestRegistry,
    to_ref: &str,
) -> String {
    let (bytes, _) = pull_manifest(from, from_ref).await;
    let manifest: Value = serde_json::from_slice(&bytes).expect("manifest is JSON");
    let layers = manifest["layers"].as_array().cloned().unwrap_or_default();
    for descriptor in std::iter::once(&manifest["config"]).chain(&layers) {
        let (Some(digest), Some(media_type)) = (
            descriptor["digest"].as_str(),
            descriptor["mediaType"].as_str(),
        ) else {
            continue;
        };
        let blob = pull_blob(from, repo_of(from_ref), digest).await;
        push_blob(to, repo_of(to_ref), media_type, blob).await;
    }
    let media_type = media_type_of(&bytes);
    push_manifest_bytes(to, to_ref, &media_type, bytes).await
}

/// The blob `digest` of `repo`, read over the registry API.
async fn pull_blob(reg: &TestRegistry, repo: &str, digest: &str) -> Vec<u8> {
    let url = format!("{}/v2/{repo}/blobs/{digest}", reg.url());
    let response = api_call(reg, reqwest::Method::GET, &url).await;
    assert_eq!(response.status().as_u16(), 200, "GET {url}");
    response.bytes().await.expect("blob body").to_vec()
}

/// One plain-HTTP registry API call with the registry's basic credentials, if it has any.
async fn api_call(reg: &TestRegistry, method: reqwest::Method, url: &str) -> reqwest::Response {
    let mut request = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("build plain HTTP client")
        .request(method.clone(), url);
    if let Some((user, pass)) = reg.credentials() {
        request = request.basic_auth(user, Some(pass));
    }
    request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

/// The repository part of `repo:tag` / `repo@digest` (the registry host is not included).
pub fn repo_of(repo_ref: &str) -> &str {
    let without_digest = repo_ref.split('@').next().unwrap_or(repo_ref);
    match without_digest.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => without_digest,
    }
}

/// 1–2 KiB of bytes derived from `seed` (a sha256 chain): deterministic, distinct per seed.
fn fake_layer(seed: &str) -> Vec<u8> {
    let mut block = Sha256::digest(format!("signet-test-layer:{seed}")).to_vec();
    let len = 1024 + usize::from(block[0]) * 4;
    let mut bytes = Vec::with_capacity(len + 32);
    while bytes.len() < len {
        bytes.extend_from_slice(&block);
        block = Sha256::digest(&block).to_vec();
    }
    bytes.truncate(len);
    bytes
}

fn image_config(seed: &str, os: &str, arch: &str, diff_id: &str) -> Vec<u8> {
    let (architecture, variant) = split_variant(arch);
    let mut config = json!({
        "architecture": architecture,
        "os": os,
        "config": { "Labels": { "dev.signet.test/seed": seed } },
        "rootfs": { "type": "layers", "diff_ids": [diff_id] },
    });
    if let Some(variant) = variant {
        config["variant"] = json!(variant);
    }
    serde_json::to_vec(&config).expect("serialise image config")
}

fn index_entry(digest: &str, size: usize, os: &str, arch: &str) -> Value {
    let (architecture, variant) = split_variant(arch);
    let mut platform = json!({ "architecture": architecture, "os": os });
    if let Some(variant) = variant {
        platform["variant"] = json!(variant);
    }
    json!({ "mediaType": OCI_IMAGE_MEDIA_TYPE, "digest": digest, "size": size, "platform": platform })
}

fn split_variant(arch: &str) -> (&str, Option<&str>) {
    match arch.split_once('/') {
        Some((arch, variant)) => (arch, Some(variant)),
        None => (arch, None),
    }
}

fn media_type_of(manifest: &[u8]) -> String {
    let value: Value = serde_json::from_slice(manifest).expect("manifest is JSON");
    value["mediaType"]
        .as_str()
        .unwrap_or(OCI_IMAGE_MEDIA_TYPE)
        .to_owned()
}
