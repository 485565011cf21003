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

/// What the TLS server is made of: the serving pair and, with `--client-ca`, the CA bundle that
/// client certificates must chain to.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsMaterial {
    /// The serving certificate and key.
    pub pair: PemPair,
    /// The client CA bundle (PEM); `None`: no client certificate is asked for.
    pub client_ca: Option<Vec<u8>>,
}

impl TlsMaterial {
    /// Read the serving pair from `source` and the client CA bundle from `client_ca`.
    pub fn read(source: &TlsSource, client_ca: Option<&PathBuf>) -> Result<Self, TlsError> {
        Ok(Self {
            pair: source.read()?,
            client_ca: client_ca.map(read).transpose()?,
        })
    }

    /// The rustls config these make.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        server_config_for(&self.pair, self.client_ca.as_deref())
    }
}

/// A rustls server config (HTTP/2 and HTTP/1.1) from a PEM pair; checks that the key matches.
pub fn server_config(pair: &PemPair) -> Result<Arc<ServerConfig>, TlsError> {
    server_config_for(pair, None)
}

/// As [`server_config`], and with `client_ca` every client must present a certificate that
/// chains to it, or the handshake fails.
pub fn server_config_for(
    pair: &PemPair,
    client_ca: Option<&[u8]>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pair.cert)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Invalid(format!("certificate: {e}")))?;
    if certs.is_empty() {
        return Err(TlsError::Invalid("no certificate in the PEM".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(&pair.key)
        .map_err(|e| TlsError::Invalid(format!("private key: {e}")))?;
    let builder = ServerConfig::builder();
    let builder = match client_ca {
        Some(ca) => builder.with_client_cert_verifier(super::client_auth::verifier(ca)?),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Invalid(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Poll the certificate files (and the client CA bundle, when there is one) every `interval` and
/// swap the config in when their content changes. A broken new set is logged and the old one
/// kept; connections in flight keep the config they started with. `loaded` is told of each
/// serving pair put in service (the expiry metric).
pub async fn watch(
    source: TlsSource,
    client_ca: Option<PathBuf>,
    current: TlsMaterial,
    live: RustlsConfig,
    interval: Duration,
    loaded: impl Fn(&PemPair) + Send + 'static,
) {
    if matches!(source, TlsSource::SelfSigned) && client_ca.is_none() {
        return;
    }
    let mut last = current;
    loop {
        tokio::time::sleep(interval).await;
        let pair = match source {
            TlsSource::Files { .. } => source.read(),
            // Made once at start; only the client CA can change.
            TlsSource::SelfSigned => Ok(last.pair.clone()),
        };
        let client_ca = client_ca.as_ref().map(read).transpose();
        let (Ok(pair), Ok(client_ca)) = (pair, client_ca) else {
            continue;
        };
        let material = TlsMaterial { pair, client_ca };
        if material == last {
            continue;
        }
        match material.server_config() {
            Ok(config) => {
                live.reload_from_config(config);
                loaded(&material.pair);
                tracing::info!(
                    client_ca = material.client_ca.is_some(),
                    "serving certificate and client CA reloaded"
                );
                last = material;
            }
            Err(error) => {
                tracing::warn!(%error, "new TLS material refused; keeping the old one")
            }
        }
    }
}
