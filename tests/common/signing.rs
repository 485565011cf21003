//! Key-based cosign signatures (`cosign sign --key`), built at a low level so tests can also
//! craft adversarial ones: any payload bytes, any annotations, any layer media type.
//!
//! Layout written (cosign's legacy "tag" scheme): in the image's repository, tag
//! `sha256-<hex>.sig` holds an OCI image manifest whose layers are simple-signing payload blobs,
//! each annotated with `dev.cosignproject.cosign/signature` = base64(signature over the blob).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use oci_client::manifest::OCI_IMAGE_MEDIA_TYPE;
use serde_json::{Value, json};
use sigstore::crypto::{CosignVerificationKey, SigStoreSigner, SigningScheme};
use zeroize::Zeroizing;

use super::images::{
    OCI_CONFIG_MEDIA_TYPE, oci_client, pull_manifest, push_blob, push_manifest, reference,
    sha256_digest,
};
use super::registry::TestRegistry;

pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The password of every `TestKey::encrypted_private_pem()`.
pub const TEST_KEY_PASSWORD: &[u8] = b"signet-test-password";

/// A fresh ECDSA P-256 key pair, the kind `cosign generate-key-pair` makes.
pub struct TestKey {
    signer: SigStoreSigner,
    /// "-----BEGIN PUBLIC KEY-----" (SPKI), what the product is configured with.
    pub public_pem: String,
    /// Unencrypted PKCS#8 "-----BEGIN PRIVATE KEY-----".
    pub private_pem: Zeroizing<String>,
    encrypted: OnceLock<String>,
}

impl TestKey {
    pub fn generate() -> TestKey {
        let signer = SigningScheme::ECDSA_P256_SHA256_ASN1
            .create_signer()
            .expect("generate an ECDSA P-256 signer");
        let pair = signer.to_sigstore_keypair().expect("export the key pair");
        TestKey {
            public_pem: pair.public_key_to_pem().expect("export the public key PEM"),
            private_pem: pair
                .private_key_to_pem()
                .expect("export the private key PEM"),
            encrypted: OnceLock::new(),
            signer,
        }
    }

    /// cosign's "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----" (scrypt + secretbox) with
    /// password `TEST_KEY_PASSWORD`. Computed on first use: scrypt is slow in debug builds.
    pub fn encrypted_private_pem(&self) -> &str {
        self.encrypted.get_or_init(|| {
            let pair = self
                .signer
                .to_sigstore_keypair()
                .expect("export the key pair");
            let pem = pair
                .private_key_to_encrypted_pem(TEST_KEY_PASSWORD)
                .expect("encrypt the private key");
            pem.to_string()
        })
    }

    pub fn verification_key(&self) -> CosignVerificationKey {
        CosignVerificationKey::try_from_pem(self.public_pem.as_bytes())
            .expect("parse our own public key PEM")
    }
}

/// A base64 ECDSA-P256-SHA256 (ASN.1 DER) signature over `payload`, as cosign stores it.
pub fn sign(key: &TestKey, payload: &[u8]) -> String {
    BASE64.encode(key.signer.sign(payload).expect("sign the payload"))
}

/// cosign's simple-signing payload, byte for byte:
/// `{"critical":{"identity":{"docker-reference":R},"image":{"docker-manifest-digest":D},"type":"cosign container image signature"},"optional":null}`
pub fn simple_signing_payload(docker_reference: &str, digest: &str) -> Vec<u8> {
    let payload = json!({
        "critical": {
            "identity": { "docker-reference": docker_reference },
            "image": { "docker-manifest-digest": digest },
            "type": "cosign container image signature",
        },
        "optional": null,
    });
    serde_json::to_vec(&payload).expect("serialise simple-signing payload")
}

/// The cosign signature tag of an image digest: "sha256:<hex>" -> "sha256-<hex>.sig".
pub fn sig_tag(digest: &str) -> String {
    format!("{}.sig", digest.replacen(':', "-", 1))
}

/// One layer of a `.sig` manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigLayer {
    pub payload: Vec<u8>,
    /// Usually `{SIGNATURE_ANNOTATION: base64 signature}`; cosign may add bundle/certificate.
    pub annotations: BTreeMap<String, String>,
    /// `SIMPLE_SIGNING_MEDIA_TYPE` unless a test wants a wrong one.
    pub media_type: String,
}

impl SigLayer {
    /// A layer carrying `signature` (base64) for `payload`.
    pub fn new(payload: Vec<u8>, signature: &str) -> SigLayer {
        SigLayer::unsigned(payload).with_annotation(SIGNATURE_ANNOTATION, signature)
    }

    /// A layer whose payload is signed by `key`.
    pub fn signed(key: &TestKey, payload: Vec<u8>) -> SigLayer {
        let signature = sign(key, &payload);
        SigLayer::new(payload, &signature)
    }

    /// A layer without any annotation.
    pub fn unsigned(payload: Vec<u8>) -> SigLayer {
        SigLayer {
            payload,
            annotations: BTreeMap::new(),
            media_type: SIMPLE_SIGNING_MEDIA_TYPE.to_owned(),
        }
    }

    pub fn with_annotation(mut self, key: &str, value: &str) -> SigLayer {
        self.annotations.insert(key.to_owned(), value.to_owned());
        self
    }

    pub fn signature(&self) -> Option<&str> {
        self.annotations
            .get(SIGNATURE_ANNOTATION)
            .map(String::as_str)
    }
}

/// Writes `<repo>:sha256-<hex>.sig` with exactly `layers`, replacing any existing signatures.
/// Returns the digest of the signature manifest.
pub async fn push_signature_layers(
    reg: &TestRegistry,
    repo: &str,
    image_digest: &str,
    layers: Vec<SigLayer>,
) -> String {
    let mut descriptors = Vec::new();
    for layer in layers {
        descriptors.push(push_sig_layer(reg, repo, layer).await);
    }
    push_sig_manifest(reg, repo, image_digest, descriptors).await
}

/// Like `push_signature_layers`, but keeps the layers already under the `.sig` tag (as cosign
/// does when an image is signed again). Returns the digest of the signature manifest.
pub async fn append_signature_layers(
    reg: &TestRegistry,
    repo: &str,
    image_digest: &str,
    layers: Vec<SigLayer>,
) -> String {
    let mut descriptors = existing_sig_descriptors(reg, repo, image_digest).await;
    for layer in layers {
        descriptors.push(push_sig_layer(reg, repo, layer).await);
    }
    push_sig_manifest(reg, repo, image_digest, descriptors).await
}

/// Signs `repo@digest` like `cosign sign --key`: the payload names `<host>/<repo>` (no tag) and
/// the layer is appended to the existing signatures. Returns the layer that was added.
pub async fn sign_image(reg: &TestRegistry, repo: &str, digest: &str, key: &TestKey) -> SigLayer {
    let payload = simple_signing_payload(&format!("{}/{repo}", reg.host()), digest);
    let layer = SigLayer::signed(key, payload);
    append_signature_layers(reg, repo, digest, vec![layer.clone()]).await;
    layer
}

/// Reads the `.sig` layers back the way sigstore-rs does: oci-client `pull` accepting only the
/// simple-signing media type, then each manifest layer (in manifest order, with its annotations)
/// matched to downloaded data by digest, since `pull` returns blobs in completion order.
/// Panics if the tag is missing or a layer has another media type.
pub async fn pull_signature_layers(
    reg: &TestRegistry,
    repo: &str,
    image_digest: &str,
) -> Vec<SigLayer> {
    let sig_ref = reference(reg, &format!("{repo}:{}", sig_tag(image_digest)));
    let image = oci_client(reg)
        .pull(&sig_ref, &reg.auth(), vec![SIMPLE_SIGNING_MEDIA_TYPE])
        .await
        .unwrap_or_else(|e| panic!("pull {sig_ref}: {e}"));
    let manifest = image.manifest.expect("pull returns the manifest");
    manifest
        .layers
        .into_iter()
        .map(|descriptor| {
            let data = image
                .layers
                .iter()
                .find(|l| sha256_digest(&l.data) == descriptor.digest)
                .unwrap_or_else(|| panic!("no blob pulled for layer {}", descriptor.digest));
            SigLayer {
                payload: data.data.to_vec(),
                annotations: descriptor.annotations.unwrap_or_default(),
                media_type: descriptor.media_type,
            }
        })
        .collect()
}

async fn push_sig_layer(reg: &TestRegistry, repo: &str, layer: SigLayer) -> Value {
    let mut descriptor = push_blob(reg, repo, &layer.media_type, layer.payload).await;
    if !layer.annotations.is_empty() {
        descriptor["annotations"] = json!(layer.annotations);
    }
    descriptor
}

async fn push_sig_manifest(
    reg: &TestRegistry,
    repo: &str,
    image_digest: &str,
    layers: Vec<Value>,
) -> String {
    let config = push_blob(reg, repo, OCI_CONFIG_MEDIA_TYPE, sig_config(&layers)).await;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_IMAGE_MEDIA_TYPE,
        "config": config,
        "layers": layers,
    });
    let tag = sig_tag(image_digest);
    push_manifest(
        reg,
        &format!("{repo}:{tag}"),
        OCI_IMAGE_MEDIA_TYPE,
        &manifest,
    )
    .await
}

/// The config blob cosign writes next to signature layers.
fn sig_config(layers: &[Value]) -> Vec<u8> {
    let diff_ids: Vec<&Value> = layers.iter().map(|l| &l["digest"]).collect();
    let config = json!({
        "architecture": "",
        "config": {},
        "created": "0001-01-01T00:00:00Z",
        "history": [{ "created": "0001-01-01T00:00:00Z" }],
        "os": "",
        "rootfs": { "type": "layers", "diff_ids": diff_ids },
    });
    serde_json::to_vec(&config).expect("serialise signature config")
}

async fn existing_sig_descriptors(
    reg: &TestRegistry,
    repo: &str,
    image_digest: &str,
) -> Vec<Value> {
    let sig_ref = format!("{repo}:{}", sig_tag(image_digest));
    let client = oci_client(reg);
    let exists = client
        .fetch_manifest_digest(&reference(reg, &sig_ref), &reg.auth())
        .await
        .is_ok();
    if !exists {
        return Vec::new();
    }
    let (bytes, _) = pull_manifest(reg, &sig_ref).await;
    let manifest: Value = serde_json::from_slice(&bytes).expect("signature manifest is JSON");
    manifest["layers"].as_array().cloned().unwrap_or_default()
}
