//! Certificate rotation the way the kubelet does it for a mounted Secret: the files are never
//! rewritten; a new timestamped directory is written and the `..data` symlink is swapped to it
//! atomically. Under a steady load of reviews, no request may fail, and new connections must get
//! the new certificate.

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::load::Load;
use crate::common::tls::{https_client, install_crypto_provider, loopback_serve_config};
use crate::common::webhook::{container, pod_review};
use signet::engine::{Engine, EngineSettings};
use signet::policy::PolicySet;
use signet::registry::{Credentials, Registry, RegistryConfig};
use signet::server::{self, Metrics, TlsSource};

struct Pair {
    cert: String,
    key: String,
}

fn self_signed() -> Pair {
    let made =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    Pair {
        cert: made.cert.pem(),
        key: made.signing_key.serialize_pem(),
    }
}

/// Write `pair` into a new `..<stamp>` directory and point `..data` at it, as the kubelet's
/// AtomicWriter does (the visible `tls.crt`/`tls.key` are symlinks through `..data`).
fn kubelet_write(dir: &Path, stamp: &str, pair: &Pair) {
    let data = dir.join(format!("..{stamp}"));
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("tls.crt"), &pair.cert).unwrap();
    std::fs::write(data.join("tls.key"), &pair.key).unwrap();
    let tmp = dir.join("..data_tmp");
    symlink(format!("..{stamp}"), &tmp).unwrap();
    std::fs::rename(&tmp, dir.join("..data")).unwrap();
    for name in ["tls.crt", "tls.key"] {
        let link = dir.join(name);
        if std::fs::symlink_metadata(&link).is_err() {
            symlink(format!("..data/{name}"), &link).unwrap();
        }
    }
}

/// A server on loopback ports with the certificate files in `dir`, re-read every `interval`.
fn serve_config(dir: &Path, interval: Duration) -> server::ServeConfig {
    server::ServeConfig {
        tls_reload_interval: interval,
        ..loopback_serve_config(TlsSource::Files {
            cert: dir.join("tls.crt"),
            key: dir.join("tls.key"),
        })
    }
}

fn engine() -> Arc<Engine> {
    let policy = "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: all}\nspec:\n  images: [{glob: \"**\"}]\n  authorities: [{static: {action: pass}}]\n";
    let policies = PolicySet::from_yaml(policy, "test").unwrap();
    let registry = Registry::new(RegistryConfig::default(), Credentials::default());
    Arc::new(Engine::new(policies, registry, EngineSettings::default()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kubelet_symlink_swap_rotates_the_certificate_without_failing_a_request() {
    install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (self_signed(), self_signed());
    kubelet_write(dir.path(), "2026_11_23_10_00_00.1", &old);
    let config = serve_config(dir.path(), Duration::from_millis(100));
    let running = server::start(engine(), Arc::new(Metrics::new()), config)
        .await
        .unwrap();
    let url = format!("https://127.0.0.1:{}/validate", running.addr.port());
    let both = format!("{}{}", old.cert, new.cert);
    let review = pod_review("load", vec![container("a", "ghcr.io/org/app:1")], vec![]);

    let load = Load::start(|| https_client(both.as_bytes()), &url, &review, 200, 4);
    load.answered_more(30).await;
    let new_only = https_client(new.cert.as_bytes());
    assert!(
        new_only.post(&url).json(&review).send().await.is_err(),
        "the new certificate is not served yet"
    );

    kubelet_write(dir.path(), "2026_11_23_11_00_00.2", &new);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // A fresh client each time: a new TLS handshake sees whatever is served now.
        let fresh = https_client(new.cert.as_bytes());
        if fresh.post(&url).json(&review).send().await.is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the rotated certificate was never served"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    load.answered_more(30).await;
    let (ok, failed) = load.finish().await;
    let old_only = https_client(old.cert.as_bytes());
    assert!(
        old_only.post(&url).json(&review).send().await.is_err(),
        "the old certificate is no longer served"
    );
    println!("reviews during rotation: {ok} answered, {failed} failed");
    assert_eq!(failed, 0);
    running.shutdown().await.unwrap();
}

/// A self-signed pair valid until 00:00 UTC on `year`-01-01.
fn expiring(year: i32) -> Pair {
    let mut params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    params.not_after = rcgen::date_time_ymd(year, 1, 1);
    let key = rcgen::KeyPair::generate().unwrap();
    Pair {
        cert: params.self_signed(&key).unwrap().pem(),
        key: key.serialize_pem(),
    }
}

/// `signet_tls_certificate_expiry_timestamp_seconds` on the metrics port, once it shows `want`.
async fn expiry_reaches(metrics: std::net::SocketAddr, want: i64) -> bool {
    let line = format!("signet_tls_certificate_expiry_timestamp_seconds {want}\n");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let text = reqwest::get(format!("http://{metrics}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if text.contains(&line) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The expiry gauge is the notAfter of the certificate in service: set at start, moved by a
/// rotation, and kept when the new files are refused (a key that does not match).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_expiry_metric_follows_the_certificate_in_service() {
    install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    kubelet_write(dir.path(), "2026_12_05_10_00_00.1", &expiring(2031));
    let config = serve_config(dir.path(), Duration::from_millis(50));
    let running = server::start(engine(), Arc::new(Metrics::new()), config)
        .await
        .unwrap();
    // 2031-01-01T00:00:00Z, then 2033-01-01T00:00:00Z.
    assert!(expiry_reaches(running.metrics_addr, 1_924_992_000).await);
    kubelet_write(dir.path(), "2026_12_05_11_00_00.2", &expiring(2033));
    assert!(expiry_reaches(running.metrics_addr, 1_988_150_400).await);
    let (later, other) = (expiring(2035), expiring(2035));
    let mismatched = Pair {
        cert: later.cert,
        key: other.key,
    };
    kubelet_write(dir.path(), "2026_12_05_12_00_00.3", &mismatched);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        expiry_reaches(running.metrics_addr, 1_988_150_400).await,
        "a refused certificate moved the gauge"
    );
    running.shutdown().await.unwrap();
}
