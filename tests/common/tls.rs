//! HTTPS client side for tests that talk to the real server.

use std::sync::Once;

/// Installs aws-lc-rs as rustls's process-wide provider (once; later calls are no-ops).
pub fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Err means another provider was installed first (e.g. by the product's own code).
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
}

/// A reqwest client that trusts only the CA certificate(s) in `ca_pem` and bypasses proxies.
pub fn https_client(ca_pem: &[u8]) -> reqwest::Client {
    install_crypto_provider();
    let roots = reqwest::Certificate::from_pem_bundle(ca_pem).expect("parse CA PEM bundle");
    assert!(!roots.is_empty(), "no certificate in the CA PEM");
    reqwest::Client::builder()
        .tls_certs_only(roots)
        .no_proxy()
        .build()
        .expect("build HTTPS test client")
}

/// A server configuration on free loopback ports serving `tls`, with the defaults of
/// `signet serve` and quick test timings (certificate files re-read every 100 ms).
pub fn loopback_serve_config(tls: signet::server::TlsSource) -> signet::server::ServeConfig {
    use std::time::Duration;
    signet::server::ServeConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        metrics_listen: "127.0.0.1:0".parse().expect("address"),
        tls,
        client_ca: None,
        max_body_bytes: signet::server::DEFAULT_MAX_BODY_BYTES,
        limits: signet::server::Limits::default(),
        dry_run: false,
        shutdown_delay: Duration::ZERO,
        shutdown_grace: Duration::from_secs(5),
        tls_reload_interval: Duration::from_millis(100),
        readiness: Vec::new(),
        enable_mutation: false,
        would_deny: None,
        pull_secrets: None,
    }
}
