//! Self-tests of the shared harness in `tests/common`, against a real `docker-registry`.
//! If these fail, every integration test built on the harness is suspect.
// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::common::{
    Mode, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE, SigLayer, TcpProxy, TestKey,
    TestRegistry, append_signature_layers, delete_manifest, https_client, move_tag, oci_client,
    pull_manifest, pull_signature_layers, push_image, push_index, push_signature_layers, reference,
    registry_digest, retag, sig_tag, sign, sign_image, simple_signing_payload,
};
use oci_client::secrets::RegistryAuth;
use serde_json::Value;
use sigstore::cosign::verification_constraint::{PublicKeyVerifier, VerificationConstraintVec};
use sigstore::cosign::{ClientBuilder, CosignCapabilities, verify_constraints};
use sigstore::crypto::signing_key::SigStoreKeyPair;
use sigstore::crypto::{CosignVerificationKey, Signature, SigningScheme};
use sigstore::registry::{Auth, ClientConfig, ClientProtocol, OciReference};

fn plain_http() -> reqwest::Client {
    crate::common::install_crypto_provider();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("build plain HTTP client")
}

#[tokio::test]
async fn registry_listens_on_a_free_port_and_answers_v2() {
    let reg = TestRegistry::start();
    assert_ne!(reg.port(), 0);
    assert_eq!(reg.host(), format!("127.0.0.1:{}", reg.port()));
    let response = plain_http()
        .get(format!("{}/v2/", reg.url()))
        .send()
        .await
        .expect("GET /v2/");
    assert_eq!(response.status().as_u16(), 200);
    assert!(reg.log().contains("listening on"), "log: {}", reg.log());
}

#[tokio::test]
async fn pushed_image_digest_is_the_registry_digest_and_follows_the_seed() {
    let reg = TestRegistry::start();
    let digest = push_image(&reg, "demo/app:v1", "one").await;
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    assert_eq!(registry_digest(&reg, "demo/app:v1").await, digest);

    let (bytes, pulled) = pull_manifest(&reg, &format!("demo/app@{digest}")).await;
    assert_eq!(pulled, digest);
    let manifest: Value = serde_json::from_slice(&bytes).expect("manifest JSON");
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(manifest["layers"].as_array().map(Vec::len), Some(1));

    let same_seed = push_image(&reg, "demo/app:v1-copy", "one").await;
    let other_seed = push_image(&reg, "demo/app:v2", "two").await;
    assert_eq!(same_seed, digest, "same seed, same digest");
    assert_ne!(other_seed, digest, "other seed, other digest");
}

#[tokio::test]
async fn image_pushed_without_tag_is_reachable_only_by_digest() {
    let reg = TestRegistry::start();
    let digest = push_image(&reg, "demo/untagged", "x").await;
    assert_eq!(
        registry_digest(&reg, &format!("demo/untagged@{digest}")).await,
        digest
    );
    let latest = oci_client(&reg)
        .fetch_manifest_digest(
            &reference(&reg, "demo/untagged:latest"),
            &RegistryAuth::Anonymous,
        )
        .await;
    assert!(latest.is_err(), "no tag was pushed: {latest:?}");
}

#[tokio::test]
async fn index_points_at_one_child_per_platform() {
    let reg = TestRegistry::start();
    let platforms = [("linux", "amd64"), ("linux", "arm64"), ("linux", "arm/v7")];
    let (index, children) = push_index(&reg, "demo/multi:v1", &platforms).await;
    assert_eq!(registry_digest(&reg, "demo/multi:v1").await, index);
    assert_eq!(children.len(), 3);

    let (bytes, _) = pull_manifest(&reg, "demo/multi:v1").await;
    let index_json: Value = serde_json::from_slice(&bytes).expect("index JSON");
    assert_eq!(
        index_json["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let entries = index_json["manifests"].as_array().expect("manifests array");
    for (entry, child) in entries.iter().zip(&children) {
        assert_eq!(entry["digest"], child.as_str());
        let (child_bytes, _) = pull_manifest(&reg, &format!("demo/multi@{child}")).await;
        assert_eq!(entry["size"], child_bytes.len(), "index size of {child}");
    }
    assert_eq!(entries[1]["platform"]["architecture"], "arm64");
    assert_eq!(entries[2]["platform"]["architecture"], "arm");
    assert_eq!(entries[2]["platform"]["variant"], "v7");
}

#[tokio::test]
async fn retag_keeps_the_digest_and_move_tag_changes_it() {
    let reg = TestRegistry::start();
    let first = push_image(&reg, "demo/app:v1", "first").await;
    retag(&reg, "demo/app", &first, "stable").await;
    assert_eq!(registry_digest(&reg, "demo/app:stable").await, first);

    let moved = move_tag(&reg, "demo/app", "stable", "second").await;
    assert_ne!(moved, first);
    assert_eq!(registry_digest(&reg, "demo/app:stable").await, moved);
    assert_eq!(
        registry_digest(&reg, "demo/app:v1").await,
        first,
        "v1 untouched"
    );
}

#[tokio::test]
async fn deleted_manifest_is_gone_and_its_tags_with_it() {
    let reg = TestRegistry::start();
    let digest = push_image(&reg, "demo/app:v1", "doomed").await;
    delete_manifest(&reg, "demo/app", &digest).await;
    let resolve = |r: &str| {
        let client = oci_client(&reg);
        let image = reference(&reg, r);
        async move {
            client
                .fetch_manifest_digest(&image, &RegistryAuth::Anonymous)
                .await
        }
    };
    assert!(resolve("demo/app:v1").await.is_err(), "tag must be gone");
    assert!(
        resolve(&format!("demo/app@{digest}")).await.is_err(),
        "digest must be gone"
    );
}

#[test]
#[should_panic(expected = "address already in use")]
fn restart_on_a_taken_port_panics_with_the_registry_log() {
    let mut reg = TestRegistry::start();
    reg.stop();
    let _squatter = std::net::TcpListener::bind(reg.addr()).expect("take the registry's port");
    reg.restart();
}

#[test]
fn payload_has_cosign_layout_and_sig_tag_is_derived_from_the_digest() {
    let digest = "sha256:3dec0000000000000000000000000000000000000000000000000000000000ab";
    let payload = simple_signing_payload("127.0.0.1:5000/demo/app", digest);
    let expected = format!(
        r#"{{"critical":{{"identity":{{"docker-reference":"127.0.0.1:5000/demo/app"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":null}}"#
    );
    assert_eq!(String::from_utf8(payload).expect("UTF-8 payload"), expected);
    assert_eq!(
        sig_tag(digest),
        "sha256-3dec0000000000000000000000000000000000000000000000000000000000ab.sig"
    );
}

#[test]
fn signature_verifies_only_with_the_signing_key_and_payload() {
    let key = TestKey::generate();
    let other = TestKey::generate();
    let payload = simple_signing_payload("r/x", "sha256:00");
    let sig = sign(&key, &payload);

    let verifier =
        CosignVerificationKey::try_from_pem(key.public_pem.as_bytes()).expect("parse PEM");
    let check = |k: &CosignVerificationKey, msg: &[u8]| {
        k.verify_signature(Signature::Base64Encoded(sig.as_bytes()), msg)
    };
    check(&verifier, &payload).expect("signature verifies with the signing key");
    assert!(
        check(&verifier, b"tampered").is_err(),
        "other payload must fail"
    );
    assert!(
        check(&other.verification_key(), &payload).is_err(),
        "other key must fail"
    );
    assert!(key.public_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    assert!(key.private_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
}

#[test]
fn encrypted_private_key_is_cosign_format_and_round_trips() {
    let key = TestKey::generate();
    let started = Instant::now();
    let pem = key.encrypted_private_pem();
    eprintln!("scrypt encryption took {:?}", started.elapsed());
    assert!(
        pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"),
        "{pem}"
    );
    let pair = SigStoreKeyPair::from_encrypted_pem(
        pem.as_bytes(),
        crate::common::signing::TEST_KEY_PASSWORD,
    )
    .expect("decrypt with the test password");
    assert_eq!(
        pair.public_key_to_pem().expect("public PEM"),
        key.public_pem
    );
    assert!(SigStoreKeyPair::from_encrypted_pem(pem.as_bytes(), b"wrong").is_err());
}

#[tokio::test]
async fn signed_image_pulls_back_with_layer_and_annotation() {
    let reg = TestRegistry::start();
    let key = TestKey::generate();
    let digest = push_image(&reg, "demo/app:v1", "signed").await;
    let pushed = sign_image(&reg, "demo/app", &digest, &key).await;

    let layers = pull_signature_layers(&reg, "demo/app", &digest).await;
    assert_eq!(layers, vec![pushed.clone()]);
    let layer = &layers[0];
    assert_eq!(layer.media_type, SIMPLE_SIGNING_MEDIA_TYPE);
    let payload: Value = serde_json::from_slice(&layer.payload).expect("payload JSON");
    assert_eq!(
        payload["critical"]["identity"]["docker-reference"],
        format!("{}/demo/app", reg.host())
    );
    assert_eq!(
        payload["critical"]["image"]["docker-manifest-digest"],
        digest.as_str()
    );
    let sig = layer
        .annotations
        .get(SIGNATURE_ANNOTATION)
        .expect("signature annotation");
    key.verification_key()
        .verify_signature(Signature::Base64Encoded(sig.as_bytes()), &layer.payload)
        .expect("pulled signature verifies with the public key");
}

#[tokio::test]
async fn sigstore_client_accepts_the_pushed_signature_with_the_right_key_only() {
    let reg = TestRegistry::start();
    let key = TestKey::generate();
    let digest = push_image(&reg, "demo/app:v1", "e2e").await;
    sign_image(&reg, "demo/app", &digest, &key).await;

    let config = ClientConfig {
        protocol: ClientProtocol::HttpsExcept(vec![reg.host()]),
        ..Default::default()
    };
    let mut client = ClientBuilder::default()
        .with_oci_client_config(config)
        .build()
        .expect("build sigstore client");
    let image: OciReference = format!("{}/demo/app:v1", reg.host())
        .parse()
        .expect("reference");
    let layers = client
        .trusted_signature_layers(&Auth::Anonymous, &image)
        .await
        .expect("fetch signature layers");
    assert_eq!(layers.len(), 1);
    assert_eq!(
        layers[0].oci_digest,
        crate::common::sha256_digest(
            &pull_signature_layers(&reg, "demo/app", &digest).await[0].payload
        )
    );

    let verifier = |k: &TestKey| -> VerificationConstraintVec {
        let v = PublicKeyVerifier::new(
            k.public_pem.as_bytes(),
            &SigningScheme::ECDSA_P256_SHA256_ASN1,
        )
        .expect("public key verifier");
        vec![Box::new(v)]
    };
    verify_constraints(&layers, verifier(&key).iter()).expect("right key verifies");
    assert!(verify_constraints(&layers, verifier(&TestKey::generate()).iter()).is_err());
}

#[tokio::test]
async fn append_keeps_signatures_and_push_replaces_them() {
    let reg = TestRegistry::start();
    let (a, b) = (TestKey::generate(), TestKey::generate());
    let digest = push_image(&reg, "demo/app:v1", "multi-sig").await;
    sign_image(&reg, "demo/app", &digest, &a).await;
    sign_image(&reg, "demo/app", &digest, &b).await;
    assert_eq!(
        pull_signature_layers(&reg, "demo/app", &digest).await.len(),
        2
    );

    // An adversarial layer: a signature over another digest, extra annotation.
    let forged = SigLayer::signed(&a, simple_signing_payload("x/y", "sha256:ff"))
        .with_annotation("dev.signet.test/note", "forged");
    push_signature_layers(&reg, "demo/app", &digest, vec![forged.clone()]).await;
    assert_eq!(
        pull_signature_layers(&reg, "demo/app", &digest).await,
        vec![forged.clone()]
    );

    let unsigned = SigLayer::unsigned(b"{}".to_vec());
    append_signature_layers(&reg, "demo/app", &digest, vec![unsigned.clone()]).await;
    let layers = pull_signature_layers(&reg, "demo/app", &digest).await;
    assert_eq!(layers, vec![forged, unsigned]);
    assert_eq!(layers[1].signature(), None);
}

#[tokio::test]
async fn registry_restarts_on_the_same_port_with_the_same_storage() {
    let mut reg = TestRegistry::start();
    let port = reg.port();
    let digest = push_image(&reg, "demo/app:v1", "persist").await;

    reg.stop();
    assert!(!reg.is_running());
    let down = oci_client(&reg)
        .fetch_manifest_digest(&reference(&reg, "demo/app:v1"), &RegistryAuth::Anonymous)
        .await;
    assert!(down.is_err(), "stopped registry must not answer");
    assert!(
        std::net::TcpStream::connect(reg.addr()).is_err(),
        "port is closed"
    );

    reg.restart();
    assert_eq!(reg.port(), port);
    assert_eq!(registry_digest(&reg, "demo/app:v1").await, digest);
}

#[tokio::test]
async fn htpasswd_registry_rejects_anonymous_and_accepts_basic_auth() {
    let reg = TestRegistry::start_with_htpasswd("alice", "s3cret");
    let digest = push_image(&reg, "private/app:v1", "auth").await;
    let image = reference(&reg, "private/app:v1");
    let resolve = |auth: RegistryAuth| {
        let client = oci_client(&reg);
        let image = image.clone();
        async move { client.fetch_manifest_digest(&image, &auth).await }
    };

    let basic = resolve(RegistryAuth::Basic("alice".into(), "s3cret".into())).await;
    assert_eq!(basic.expect("basic auth resolves"), digest);
    assert!(
        resolve(RegistryAuth::Anonymous).await.is_err(),
        "anonymous must be rejected"
    );
    let wrong = RegistryAuth::Basic("alice".into(), "wrong".into());
    assert!(
        resolve(wrong).await.is_err(),
        "wrong password must be rejected"
    );

    let v2 = plain_http()
        .get(format!("{}/v2/", reg.url()))
        .send()
        .await
        .expect("GET /v2/");
    assert_eq!(v2.status().as_u16(), 401);
}

#[tokio::test]
async fn proxy_forwards_with_delay_counts_and_injects_faults() {
    let reg = TestRegistry::start();
    let delay = Duration::from_millis(150);
    let proxy = TcpProxy::start(reg.addr(), delay);
    let url = format!("http://{}/v2/", proxy.host());

    let started = Instant::now();
    let response = plain_http()
        .get(&url)
        .send()
        .await
        .expect("GET through proxy");
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        started.elapsed() >= 2 * delay,
        "request and response each delayed: {:?}",
        started.elapsed()
    );
    assert_eq!(proxy.connections(), 1);
    assert!(proxy.bytes_to_upstream() > 0 && proxy.bytes_to_client() > 0);

    let digest = push_image(&reg, "demo/app:v1", "via-proxy").await;
    let through_proxy = oci_client::Client::new(oci_client::client::ClientConfig {
        protocol: oci_client::client::ClientProtocol::HttpsExcept(vec![proxy.host()]),
        ..Default::default()
    });
    let image = format!("{}/demo/app:v1", proxy.host())
        .parse()
        .expect("reference");
    let resolved = through_proxy
        .fetch_manifest_digest(&image, &RegistryAuth::Anonymous)
        .await
        .expect("resolve through the proxy");
    assert_eq!(resolved, digest);
    let connections = proxy.connections();
    assert!(connections >= 2, "oci-client connected through the proxy");

    proxy.set_mode(Mode::Refuse);
    assert!(
        plain_http().get(&url).send().await.is_err(),
        "refused connection"
    );
    assert_eq!(proxy.connections(), connections + 1);

    proxy.set_mode(Mode::Blackhole);
    let hung = plain_http()
        .get(&url)
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .expect_err("blackholed request must time out");
    assert!(hung.is_timeout(), "{hung:?}");
    assert_eq!(proxy.connections(), connections + 2);
}

#[tokio::test]
async fn https_client_trusts_only_the_given_ca() {
    let server =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("self-signed cert");
    let other =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("other cert");
    let addr = serve_tls_once(&server, 2);
    let url = format!("https://localhost:{}/", addr.port());

    let trusted = https_client(server.cert.pem().as_bytes());
    let body = trusted
        .get(&url)
        .send()
        .await
        .expect("trusted TLS request")
        .text()
        .await
        .expect("body");
    assert_eq!(body, "ok");
    let untrusted = https_client(other.cert.pem().as_bytes())
        .get(&url)
        .send()
        .await;
    assert!(
        untrusted.is_err(),
        "a server outside the given CA must be rejected"
    );
}

/// A blocking rustls server on a thread: answers `connections` connections with "ok".
fn serve_tls_once(key: &rcgen::CertifiedKey<rcgen::KeyPair>, connections: usize) -> SocketAddr {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    crate::common::install_crypto_provider();
    let cert = key.cert.der().clone();
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.signing_key.serialize_der()));
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert], private)
        .expect("server TLS config");
    let config = std::sync::Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind TLS test server");
    let addr = listener.local_addr().expect("TLS server address");
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections).flatten() {
            let conn = rustls::ServerConnection::new(config.clone()).expect("server connection");
            let mut tls = rustls::StreamOwned::new(conn, stream);
            let mut head = [0u8; 1024];
            if tls.read(&mut head).is_ok() {
                let _ = tls.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
                let _ = tls.flush();
            }
        }
    });
    addr
}
