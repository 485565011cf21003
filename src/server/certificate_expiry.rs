//! When the serving certificate stops being valid, for `signet_tls_certificate_expiry_timestamp_seconds`.
//! Kubernetes keeps a pod Ready while its certificate has expired (the probes skip TLS
//! verification), and every review then fails in kube-apiserver's TLS handshake: an alert on
//! this gauge (docs/hardening.md, "Certificate expiry") fires weeks before that.

use der::Decode;
use rustls::pki_types::{CertificateDer, pem::PemObject};

/// The `notAfter` of the first (leaf) certificate of a PEM chain, as Unix seconds; None when
/// there is no certificate or it does not parse.
pub fn leaf_not_after(chain_pem: &[u8]) -> Option<i64> {
    let leaf = CertificateDer::pem_slice_iter(chain_pem).next()?.ok()?;
    let certificate = x509_cert::Certificate::from_der(leaf.as_ref()).ok()?;
    let not_after = certificate.tbs_certificate().validity().not_after;
    i64::try_from(not_after.to_unix_duration().as_secs()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The leaf's notAfter, not the CA's behind it in the chain; garbage gives None.
    #[test]
    fn reads_the_leaf_not_after() {
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.not_after = rcgen::date_time_ymd(2040, 1, 1);
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::from_params(&ca, &ca_key);
        let mut leaf = rcgen::CertificateParams::new(vec!["signet.test".to_string()]).unwrap();
        leaf.not_after = rcgen::date_time_ymd(2031, 6, 30);
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf_cert = leaf.signed_by(&leaf_key, &issuer).unwrap();
        let chain = format!("{}{}", leaf_cert.pem(), ca_cert.pem());
        // 2031-06-30T00:00:00Z
        assert_eq!(leaf_not_after(chain.as_bytes()), Some(1_940_544_000));
        assert_eq!(leaf_not_after(b"not a certificate"), None);
        assert_eq!(leaf_not_after(b""), None);
    }
}
