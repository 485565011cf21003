//! Optional client-certificate authentication (`signet serve --client-ca`): the webhook port is
//! reachable from every pod, and only kube-apiserver has business there. With a CA bundle, the
//! TLS handshake itself requires a client certificate that chains to it (kube-apiserver presents
//! one from its AdmissionConfiguration's kubeconfig, docs/hardening.md), so a caller without one
//! never reaches HTTP. The refusals are counted by reason in `signet_client_refusals_total`.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, pem::PemObject};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;

use super::tls::TlsError;

/// Refusal reason: the client sent no certificate.
pub const MISSING: &str = "client_certificate_missing";
/// Refusal reason: the client's certificate does not chain to the CA (or is expired, or not
/// for client authentication).
pub const INVALID: &str = "client_certificate_invalid";

/// A verifier that requires a client certificate chaining to one of the CA certificates in
/// `ca_pem` (a PEM bundle: during a rotation, old and new CA side by side).
pub fn verifier(ca_pem: &[u8]) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let invalid = |what: String| TlsError::Invalid(format!("client CA bundle: {what}"));
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(ca_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| invalid(e.to_string()))?;
    if certs.is_empty() {
        return Err(invalid(
            "no certificate in the PEM; give the CA that issued kube-apiserver's client certificate"
                .into(),
        ));
    }
    let mut roots = RootCertStore::empty();
    for (index, cert) in certs.into_iter().enumerate() {
        roots
            .add(cert)
            .map_err(|e| invalid(format!("certificate {}: {e}", index + 1)))?;
    }
    let verifier = WebPkiClientVerifier::builder(Arc::new(roots))
        .build()
        .map_err(|e| invalid(e.to_string()))?;
    Ok(verifier)
}

/// The refusal reason of a failed handshake when the client's certificate was the cause.
pub fn refusal(error: &std::io::Error) -> Option<&'static str> {
    let tls = error.get_ref()?.downcast_ref::<rustls::Error>()?;
    match tls {
        rustls::Error::NoCertificatesPresented => Some(MISSING),
        rustls::Error::InvalidCertificate(_) => Some(INVALID),
        _ => None,
    }
}
