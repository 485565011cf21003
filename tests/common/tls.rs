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
