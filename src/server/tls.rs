//! Serving certificates: loaded from PEM files (and re-read when their content changes, which
//! also catches Kubernetes' `..data` symlink swap for mounted Secrets), or self-signed with rcgen
//! when none are given, for local use.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};

/// Where the serving certificate comes from.
#[derive(Debug, Clone)]
pub enum TlsSource {
    /// PEM files: certificate chain (leaf first) and private key.
    Files {
        /// Certificate chain path.
        cert: PathBuf,
        /// Private key path.
        key: PathBuf,
    },
    /// A self-signed certificate for `localhost` and `127.0.0.1`, made at start.
    SelfSigned,
}

/// Why TLS material could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The PEM did not hold what was expected.
    #[error("invalid TLS material: {0}")]
    Invalid(String),
}

/// Certificate chain and key PEM bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct PemPair {
    /// Certificate chain PEM.
    pub cert: Vec<u8>,
    /// Private key PEM.
    pub key: Vec<u8>,
}

impl TlsSource {
    /// Read (or make) the PEM pair.
    pub fn read(&self) -> Result<PemPair, TlsError> {
        match self {
            Self::Files { cert, key } => Ok(PemPair {
                cert: read(cert)?,
                key: read(key)?,
            }),
            Self::SelfSigned => self_signed(),
        }
    }
}

fn read(path: &PathBuf) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.display().to_string(),
        source,
    })
}

fn self_signed() -> Result<PemPair, TlsError> {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let made =
        rcgen::generate_simple_self_signed(names).map_err(|e| TlsError::Invalid(e.to_string()))?;
    Ok(PemPair {
        cert: made.cert.pem().into_bytes(),
        key: made.signing_key.serialize_pem().into_bytes(),
    })
}

/// A rustls server config (HTTP/2 and HTTP/1.1) from a PEM pair; checks that the key matches.
pub fn server_config(pair: &PemPair) -> Result<Arc<ServerConfig>, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pair.cert)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Invalid(format!("certificate: {e}")))?;
    if certs.is_empty() {
        return Err(TlsError::Invalid("no certificate in the PEM".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(&pair.key)
        .map_err(|e| TlsError::Invalid(format!("private key: {e}")))?;
    let mut config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Invalid(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Poll the certificate files every `interval` and swap the config in when their content
/// changes. A broken new pair is logged and the old one kept; connections in flight keep the
/// config they started with. `loaded` is told of each pair put in service (the expiry metric).
pub async fn watch(
    source: TlsSource,
    current: PemPair,
    live: RustlsConfig,
    interval: Duration,
    loaded: impl Fn(&PemPair) + Send + 'static,
) {
    let TlsSource::Files { .. } = source else {
        return;
    };
    let mut last = current;
    loop {
        tokio::time::sleep(interval).await;
        let Ok(pair) = source.read() else { continue };
        if pair == last {
            continue;
        }
        match server_config(&pair) {
            Ok(config) => {
                live.reload_from_config(config);
                loaded(&pair);
                tracing::info!("serving certificate reloaded");
                last = pair;
            }
            Err(error) => {
                tracing::warn!(%error, "new serving certificate refused; keeping the old one")
            }
        }
    }
}
