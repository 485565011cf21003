//! Sigstore bundles as cosign 3 makes them, built offline with the test Fulcio and Rekor of
//! `keyless.rs`: a DSSE envelope over an in-toto statement for an image digest, a `dsse` 0.0.1
//! log entry, an RFC 6962 Merkle tree holding it among a few other leaves, an inclusion proof,
//! a checkpoint (signed note) and a SET signed by the log. Every part is data, so tests can
//! forge any of them. Also attaches bundles to a real registry as OCI 1.1 referrers by the
//! referrers tag schema (`<repo>:sha256-<hex>` holding an image index).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use oci_client::manifest::{OCI_IMAGE_INDEX_MEDIA_TYPE, OCI_IMAGE_MEDIA_TYPE};
use rcgen::{KeyPair, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::images::{pull_manifest, push_blob, push_manifest};
use super::keyless::{SIGNED_AT, TestRekor, TestSigner};
use super::registry::TestRegistry;

pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// v0.2, whose verification material is a certificate chain (leaf first).
pub const BUNDLE_V02_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle+json;version=0.2";
pub const SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
const IN_TOTO: &str = "application/vnd.in-toto+json";
/// Leaves in the test log's tree; the entry is leaf `ENTRY_LEAF`.
const TREE_SIZE: usize = 5;
const ENTRY_LEAF: usize = 3;

/// cosign 3's image-signature statement for `digest` (`sha256:<hex>`), byte for byte as cosign
/// writes it (no subject name).
pub fn image_statement(digest: &str) -> Vec<u8> {
    statement(digest, SIGN_PREDICATE)
}

/// An in-toto v1 statement for `digest` with any predicate type.
pub fn statement(digest: &str, predicate_type: &str) -> Vec<u8> {
    let hex = digest.trim_start_matches("sha256:");
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{ "digest": { "sha256": hex }, "annotations": {} }],
        "predicateType": predicate_type,
    });
    serde_json::to_vec(&statement).expect("serialise statement")
}

/// Makes an RFC 3161 timestamp (DER) over a bundle's signature bytes.
pub type Stamper = Box<dyn Fn(&[u8]) -> Vec<u8>>;

/// What a forged bundle changes; `Forgery::default()` makes a valid bundle.
#[derive(Default)]
pub struct Forgery {
    /// A v0.2 bundle whose `x509CertificateChain` is the leaf followed by these certificates.
    pub presented_chain: Option<Vec<Vec<u8>>>,
    /// The entry's `integratedTime` (default a minute after `SIGNED_AT`).
    pub integrated_time: Option<i64>,
    /// No SET: the entry is proved by its inclusion proof alone, as a Rekor v2 entry is.
    pub without_set: bool,
    /// The `logIndex` the entry states (default the log's next index).
    pub stated_log_index: Option<i64>,
    /// RFC 3161 timestamps, each made over the signature bytes.
    pub timestamps: Vec<Stamper>,
    /// Replace the envelope payload after signing (a tampered bundle).
    pub payload_after_signing: Option<Vec<u8>>,
    /// Prove the leaf next to the entry instead of the entry.
    pub proof_for_another_leaf: bool,
    /// Sign the checkpoint with this key (keeping the log's key hint).
    pub checkpoint_key: Option<KeyPair>,
}

/// A v0.3 bundle: `signer` signs `payload` (a statement) as DSSE, `rekor` logs it.
pub fn dsse_bundle(
    signer: &TestSigner,
    rekor: &TestRekor,
    payload: &[u8],
    forgery: Forgery,
) -> Vec<u8> {
    let signature = signer.key.sign(&pae(IN_TOTO, payload)).expect("sign");
    let body = dsse_entry(payload, &signature, &signer.cert_pem);
    let time = forgery.integrated_time.unwrap_or(SIGNED_AT + 60);
    let index = forgery
        .stated_log_index
        .unwrap_or_else(|| rekor.next_index());
    let (proof, root) = tree_proof(&body, forgery.proof_for_another_leaf);
    let checkpoint = checkpoint(rekor, &root, forgery.checkpoint_key.as_ref());
    let set = set(rekor, &body, time, index);
    let timestamps: Vec<Value> = forgery
        .timestamps
        .iter()
        .map(|stamp| json!({ "signedTimestamp": BASE64.encode(stamp(&signature)) }))
        .collect();
    let payload = forgery
        .payload_after_signing
        .unwrap_or_else(|| payload.to_vec());
    let leaf = pem_der(&signer.cert_pem);
    let (media_type, certificate) = match &forgery.presented_chain {
        Some(chain) => {
            let certificates: Vec<Value> = std::iter::once(&leaf)
                .chain(chain)
                .map(|der| json!({ "rawBytes": BASE64.encode(der) }))
                .collect();
            let chain = json!({ "certificates": certificates });
            (BUNDLE_V02_MEDIA_TYPE, ("x509CertificateChain", chain))
        }
        None => {
            let leaf = json!({ "rawBytes": BASE64.encode(&leaf) });
            (BUNDLE_MEDIA_TYPE, ("certificate", leaf))
        }
    };
    let mut entry = json!({
        "logIndex": index.to_string(),
        "logId": { "keyId": BASE64.encode(hex::decode(rekor.log_id()).expect("hex")) },
        "kindVersion": { "kind": "dsse", "version": "0.0.1" },
        "integratedTime": time.to_string(),
        "inclusionPromise": { "signedEntryTimestamp": BASE64.encode(set) },
        "inclusionProof": {
            "logIndex": ENTRY_LEAF.to_string(),
            "rootHash": BASE64.encode(root),
            "treeSize": TREE_SIZE.to_string(),
            "hashes": proof.iter().map(|h| BASE64.encode(h)).collect::<Vec<_>>(),
            "checkpoint": { "envelope": checkpoint },
        },
        "canonicalizedBody": BASE64.encode(&body),
    });
    if forgery.without_set {
        if let Some(entry) = entry.as_object_mut() {
            entry.remove("inclusionPromise");
            entry.insert("integratedTime".into(), json!("0"));
        }
    }
    let mut material = json!({ "tlogEntries": [entry] });
    material[certificate.0] = certificate.1;
    if !timestamps.is_empty() {
        material["timestampVerificationData"] = json!({ "rfc3161Timestamps": timestamps });
    }
    let bundle = json!({
        "mediaType": media_type,
        "verificationMaterial": material,
        "dsseEnvelope": {
            "payload": BASE64.encode(payload),
            "payloadType": IN_TOTO,
            "signatures": [{ "sig": BASE64.encode(&signature), "keyid": "" }],
        },
    });
    serde_json::to_vec(&bundle).expect("serialise bundle")
}

/// The index of the test log's entry in the tree its inclusion proof is for.
pub const PROVED_LOG_INDEX: i64 = ENTRY_LEAF as i64;

/// DSSE v1 pre-authentication encoding.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// A `dsse` 0.0.1 entry body as Rekor canonicalises it.
fn dsse_entry(payload: &[u8], signature: &[u8], cert_pem: &str) -> Vec<u8> {
    let hash = |b: &[u8]| hex::encode(Sha256::digest(b));
    let body = json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": { "algorithm": "sha256", "value": hash(payload) },
            "payloadHash": { "algorithm": "sha256", "value": hash(payload) },
            "signatures": [{
                "signature": BASE64.encode(signature),
                "verifier": BASE64.encode(cert_pem),
            }],
        },
    });
    serde_json::to_vec(&body).expect("serialise entry")
}

fn leaf_hash(leaf: &[u8]) -> Vec<u8> {
    Sha256::new()
        .chain_update([0u8])
        .chain_update(leaf)
        .finalize()
        .to_vec()
}

fn node_hash(left: &[u8], right: &[u8]) -> Vec<u8> {
    Sha256::new()
        .chain_update([1u8])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .to_vec()
}

/// RFC 6962 §2.1 MTH.
fn mth(leaves: &[Vec<u8>]) -> Vec<u8> {
    if leaves.len() == 1 {
        return leaves[0].clone();
    }
    let k = leaves.len().next_power_of_two() / 2;
    node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
}

/// RFC 6962 §2.1.1 PATH(m, D[n]).
fn path(m: usize, leaves: &[Vec<u8>]) -> Vec<Vec<u8>> {
    if leaves.len() == 1 {
        return Vec::new();
    }
    let k = leaves.len().next_power_of_two() / 2;
    let (mut p, sibling) = match m < k {
        true => (path(m, &leaves[..k]), mth(&leaves[k..])),
        false => (path(m - k, &leaves[k..]), mth(&leaves[..k])),
    };
    p.push(sibling);
    p
}

/// The audit path of the entry (or of its neighbour) in a small tree, and the tree's root.
fn tree_proof(body: &[u8], another_leaf: bool) -> (Vec<Vec<u8>>, Vec<u8>) {
    let leaves: Vec<Vec<u8>> = (0..TREE_SIZE)
        .map(|i| match i {
            ENTRY_LEAF => leaf_hash(body),
            other => leaf_hash(format!("other entry {other}").as_bytes()),
        })
        .collect();
    let proved = if another_leaf {
        ENTRY_LEAF - 1
    } else {
        ENTRY_LEAF
    };
    (path(proved, &leaves), mth(&leaves))
}

/// A signed note: `rekor.test - 1\n<size>\n<root>\n\n— rekor.test <hint+signature>\n`.
fn checkpoint(rekor: &TestRekor, root: &[u8], key: Option<&KeyPair>) -> String {
    let body = format!("rekor.test - 1\n{TREE_SIZE}\n{}\n", BASE64.encode(root));
    let signature = match key {
        Some(key) => key.sign(body.as_bytes()).expect("sign"),
        None => rekor.sign_raw(body.as_bytes()),
    };
    let mut signed = hex::decode(&rekor.log_id()[..8]).expect("hex");
    signed.extend(signature);
    format!("{body}\n\u{2014} rekor.test {}\n", BASE64.encode(signed))
}

/// The SET over the canonical `{body,integratedTime,logID,logIndex}`.
fn set(rekor: &TestRekor, body: &[u8], time: i64, index: i64) -> Vec<u8> {
    let canonical = format!(
        r#"{{"body":"{}","integratedTime":{time},"logID":"{}","logIndex":{index}}}"#,
        BASE64.encode(body),
        rekor.log_id()
    );
    rekor.sign_raw(canonical.as_bytes())
}

fn pem_der(pem: &str) -> Vec<u8> {
    let mut reader = pem.as_bytes();
    rustls_pemfile::certs(&mut reader)
        .next()
        .expect("a certificate")
        .expect("PEM")
        .to_vec()
}

/// Pushes `bundle` as a referrer manifest of `image_digest` in `repo` (by digest, untagged) and
/// returns its index entry (descriptor with `artifactType`).
pub async fn push_referrer(
    reg: &TestRegistry,
    repo: &str,
    image_digest: &str,
    bundle: Vec<u8>,
) -> Value {
    let (image, _) = pull_manifest(reg, &format!("{repo}@{image_digest}")).await;
    let config = push_blob(reg, repo, EMPTY_MEDIA_TYPE, b"{}".to_vec()).await;
    let layer = push_blob(reg, repo, BUNDLE_MEDIA_TYPE, bundle).await;
    let annotations = json!({
        "dev.sigstore.bundle.content": "dsse-envelope",
        "dev.sigstore.bundle.predicateType": SIGN_PREDICATE,
    });
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_IMAGE_MEDIA_TYPE,
        "artifactType": BUNDLE_MEDIA_TYPE,
        "config": config,
        "layers": [layer],
        "subject": { "mediaType": OCI_IMAGE_MEDIA_TYPE, "digest": image_digest, "size": image.len() },
        "annotations": annotations,
    });
    let bytes = serde_json::to_vec(&manifest).expect("serialise");
    let digest = push_manifest(
        reg,
        &format!("{repo}@{}", super::sha256_digest(&bytes)),
        OCI_IMAGE_MEDIA_TYPE,
        &manifest,
    )
    .await;
    json!({
        "mediaType": OCI_IMAGE_MEDIA_TYPE,
        "digest": digest,
        "size": bytes.len(),
        "artifactType": BUNDLE_MEDIA_TYPE,
        "annotations": annotations,
    })
}

/// An image index listing `entries`, as the referrers API or tag schema serves it.
pub fn referrers_index(entries: Vec<Value>) -> Value {
    json!({ "schemaVersion": 2, "mediaType": OCI_IMAGE_INDEX_MEDIA_TYPE, "manifests": entries })
}

/// Attaches `bundles` to `repo@image_digest` by the referrers tag schema: each as a referrer
/// manifest, all listed in the index under tag `sha256-<hex>` (replacing any earlier index).
pub async fn attach_bundles(
    reg: &TestRegistry,
    repo: &str,
    image_digest: &str,
    bundles: Vec<Vec<u8>>,
) {
    let mut entries = Vec::new();
    for bundle in bundles {
        entries.push(push_referrer(reg, repo, image_digest, bundle).await);
    }
    let tag = image_digest.replacen(':', "-", 1);
    push_manifest(
        reg,
        &format!("{repo}:{tag}"),
        OCI_IMAGE_INDEX_MEDIA_TYPE,
        &referrers_index(entries),
    )
    .await;
}
