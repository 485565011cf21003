//! Offline trust material for keyless authorities: the Fulcio certificate authorities a signing
//! certificate must chain to, the Rekor (transparency log) keys that sign entry timestamps, by
//! log ID, and CT log keys. Built once at load from TrustRoot objects, `trusted_root.json` files
//! or PEM (CRI-O's `caData` / `rekorPublicKeyData`), validated there, and never fetched: this
//! module does no network and no TUF. It holds material only; checking signatures against it is
//! the signature stage's job.
//!
//! This folder: the material (here); the named roots given with `--trust-root` (`trust_root`),
//! their two file formats parsed and validated into [`KeylessTrust`] (`trust_root_formats`); and
//! the Sigstore public-good root built into the binary (`public_good`). Both policy formats
//! compile their keyless authorities against these.

mod public_good;
mod trust_root;
mod trust_root_formats;

pub use public_good::{PUBLIC_GOOD_SNAPSHOT, PUBLIC_GOOD_TRUST_ROOT};
pub use trust_root::{DEFAULT_TRUST_ROOT, TrustRoots};

use std::collections::BTreeMap;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use sha2::{Digest, Sha256};
use sigstore::crypto::CosignVerificationKey;
use x509_cert::Certificate;
use x509_cert::der::Decode;

/// Most certificates in one CA chain or PEM bundle.
pub const MAX_CHAIN_CERTIFICATES: usize = 10;
/// Largest DER certificate or key accepted.
pub const MAX_DER_BYTES: usize = 64 * 1024;
/// Most CAs or logs of one kind in one trust root.
pub const MAX_TRUST_ENTRIES: usize = 100;

/// Everything a keyless authority trusts.
#[derive(Debug, Clone, Default)]
pub struct KeylessTrust {
    /// Where the material came from, for messages: `TrustRoot sigstore-public-good`.
    pub origin: String,
    /// Fulcio (or private) CAs; a certificate must chain to one of them.
    pub certificate_authorities: Vec<CertificateAuthority>,
    /// Rekor keys by log ID (hex sha256 of the key's SubjectPublicKeyInfo DER).
    pub rekor_keys: BTreeMap<String, LogKey>,
    /// Certificate-transparency log keys by log ID: the logs whose SCTs are trusted.
    pub ct_keys: BTreeMap<String, LogKey>,
    /// Whether a signing certificate must carry an SCT by one of `ct_keys`, valid at the SCT's
    /// time: set per keyless authority at load (policy-controller requires one unless
    /// `insecureIgnoreSCT: true`; Signet where the trust root lists CT logs), never by a trust
    /// root file itself.
    pub sct_required: bool,
    /// RFC 3161 timestamp authorities: each chain's root is the anchor, and its first
    /// certificate, when not a CA, the only one that may sign timestamps for that entry
    /// (`timestampAuthorities` in `trusted_root.json`), as sigstore-go reads them.
    pub timestamp_authorities: Vec<CertificateAuthority>,
}

/// One certificate authority: a trust anchor and the intermediates it issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateAuthority {
    /// The CA's URL (informational; never contacted).
    pub uri: Option<String>,
    /// DER of the trust anchor (the last certificate of the chain).
    pub root: Vec<u8>,
    /// DER of the intermediates, leaf-most first.
    pub intermediates: Vec<Vec<u8>>,
    /// When certificates issued by this CA may be used (`validFor` in `trusted_root.json`).
    pub valid_for: TimeRange,
    /// Whether intermediates the signer presents (a `.sig` chain annotation, a bundle's
    /// certificate chain, certificates embedded in a timestamp) may complete a chain to `root`.
    /// Only for a bare PEM anchor (`keyless.ca-cert`, CRI-O `caData`), which names no
    /// intermediates, as cosign and containers/image use them. Never for a trust-root entry
    /// (`trusted_root.json`, TrustRoot `certChain`): as in sigstore-go, an entry is judged by
    /// its own certificates only, so an intermediate the trust root retired cannot come back
    /// by being presented.
    pub presented_intermediates: bool,
}

/// A transparency-log public key.
#[derive(Debug, Clone)]
pub struct LogKey {
    /// Hex sha256 of `spki`, the ID log entries name.
    pub log_id: String,
    /// The log's URL (informational; never contacted).
    pub base_url: Option<String>,
    /// SubjectPublicKeyInfo DER.
    pub spki: Vec<u8>,
    /// The verification key (ECDSA or Ed25519).
    pub key: Arc<CosignVerificationKey>,
    /// When entries signed by this key are accepted.
    pub valid_for: TimeRange,
}

/// A closed interval of Unix seconds; an absent end is open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    /// First second (inclusive).
    pub start: Option<i64>,
    /// Last second (inclusive).
    pub end: Option<i64>,
}

impl TimeRange {
    /// Whether `t` (Unix seconds) is inside the range.
    pub fn contains(&self, t: i64) -> bool {
        self.start.is_none_or(|s| s <= t) && self.end.is_none_or(|e| t <= e)
    }
}

/// Why trust material was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TrustError {
    /// Not PEM, or no block of the expected kind.
    #[error("{0}")]
    Pem(String),
    /// A certificate that does not parse or cannot be a trust anchor.
    #[error("certificate {index}: {detail}")]
    Certificate {
        /// 1-based position in its bundle.
        index: usize,
        /// What is wrong.
        detail: String,
    },
    /// A key that does not parse or is not a usable log key.
    #[error("{0}")]
    Key(String),
    /// Over a limit.
    #[error("{0}")]
    Limit(String),
    /// A required part is missing.
    #[error("{0}")]
    Missing(String),
    /// Valid elsewhere, but Signet cannot use it offline (yet).
    #[error("{0}")]
    Unsupported(String),
}

impl KeylessTrust {
    /// CRI-O's `fulcio.caData` plus `rekorPublicKeyData` (containers-policy.json): every
    /// certificate of `ca_pem` is a trust anchor (as containers/image pools them), and each
    /// PEM of `rekor_pems` holds one or more Rekor public keys. At least one of each is required.
    pub fn from_pem(
        origin: &str,
        ca_pem: &[u8],
        rekor_pems: &[&[u8]],
    ) -> Result<KeylessTrust, TrustError> {
        let certificate_authorities = anchors_from_pem(ca_pem)?;
        Ok(KeylessTrust {
            certificate_authorities,
            ..Self::rekor_only(origin, rekor_pems)?
        })
    }

    /// Rekor public keys only (containers-policy.json `rekorPublicKey*` beside `keyPath`): each
    /// PEM of `rekor_pems` holds one or more keys; at least one is required.
    pub fn rekor_only(origin: &str, rekor_pems: &[&[u8]]) -> Result<KeylessTrust, TrustError> {
        let mut rekor_keys = BTreeMap::new();
        for pem in rekor_pems {
            for spki in public_keys_from_pem(pem)? {
                let key = log_key(&spki, None, TimeRange::default())?;
                rekor_keys.insert(key.log_id.clone(), key);
            }
        }
        if rekor_keys.is_empty() {
            return Err(TrustError::Missing("no Rekor public key".into()));
        }
        Ok(KeylessTrust {
            origin: origin.to_string(),
            certificate_authorities: Vec::new(),
            rekor_keys,
            ..KeylessTrust::default()
        })
    }
}

/// One CA per certificate of `pem`, each its own trust anchor (`keyless.ca-cert.data`).
pub fn anchors_from_pem(pem: &[u8]) -> Result<Vec<CertificateAuthority>, TrustError> {
    let certificates = certificates_from_pem(pem)?;
    Ok(certificates
        .into_iter()
        .map(|root| CertificateAuthority {
            uri: None,
            root,
            intermediates: Vec::new(),
            valid_for: TimeRange::default(),
            presented_intermediates: true,
        })
        .collect())
}

/// A CA from a chain ordered leaf-most first with the root last (TrustRoot `certChain`,
/// `trusted_root.json` `certChain.certificates`).
pub fn authority_from_chain(
    mut chain: Vec<Vec<u8>>,
    uri: Option<String>,
    valid_for: TimeRange,
) -> Result<CertificateAuthority, TrustError> {
    if chain.len() > MAX_CHAIN_CERTIFICATES {
        return Err(too_many_certificates(chain.len()));
    }
    for (i, der) in chain.iter().enumerate() {
        check_certificate(der, i + 1)?;
    }
    let root = chain
        .pop()
        .ok_or_else(|| TrustError::Missing("empty certificate chain".into()))?;
    Ok(CertificateAuthority {
        uri,
        root,
        intermediates: chain,
        valid_for,
        presented_intermediates: false,
    })
}

/// The DER certificates of every `CERTIFICATE` block of `pem`, checked.
pub fn certificates_from_pem(pem: &[u8]) -> Result<Vec<Vec<u8>>, TrustError> {
    let mut reader = pem;
    let mut out = Vec::new();
    for item in rustls_pemfile::certs(&mut reader) {
        let der = item.map_err(|e| TrustError::Pem(format!("malformed PEM: {e}")))?;
        if out.len() == MAX_CHAIN_CERTIFICATES {
            return Err(too_many_certificates(MAX_CHAIN_CERTIFICATES + 1));
        }
        check_certificate(&der, out.len() + 1)?;
        out.push(der.to_vec());
    }
    if out.is_empty() {
        return Err(TrustError::Pem("no PEM CERTIFICATE block found".into()));
    }
    Ok(out)
}

/// The SubjectPublicKeyInfo DER of every `PUBLIC KEY` block of `pem`.
pub fn public_keys_from_pem(pem: &[u8]) -> Result<Vec<Vec<u8>>, TrustError> {
    let mut reader = pem;
    let mut out = Vec::new();
    for item in rustls_pemfile::read_all(&mut reader) {
        match item.map_err(|e| TrustError::Pem(format!("malformed PEM: {e}")))? {
            rustls_pemfile::Item::SubjectPublicKeyInfo(spki) => out.push(spki.to_vec()),
            _ => return Err(TrustError::Pem("PEM block is not a PUBLIC KEY".into())),
        }
        if out.len() > MAX_TRUST_ENTRIES {
            return Err(TrustError::Limit(format!(
                "more than {MAX_TRUST_ENTRIES} keys (Signet's limit)"
            )));
        }
    }
    if out.is_empty() {
        return Err(TrustError::Pem("no PEM PUBLIC KEY block found".into()));
    }
    Ok(out)
}

/// A transparency-log key from SPKI DER. Logs sign with ECDSA or Ed25519; RSA keys are refused
/// as containers/image refuses them.
pub fn log_key(
    spki: &[u8],
    base_url: Option<String>,
    valid_for: TimeRange,
) -> Result<LogKey, TrustError> {
    if spki.len() > MAX_DER_BYTES {
        return Err(TrustError::Limit("public key over 64 KiB".into()));
    }
    let key = CosignVerificationKey::try_from_der(spki)
        .map_err(|e| TrustError::Key(format!("not a usable public key: {e}")))?;
    if matches!(
        key,
        CosignVerificationKey::RSA_PKCS1_SHA256(_) | CosignVerificationKey::RSA_PSS_SHA256(_)
    ) {
        return Err(TrustError::Key(
            "transparency-log keys must be ECDSA or Ed25519, not RSA".into(),
        ));
    }
    Ok(LogKey {
        log_id: spki_log_id(spki),
        base_url,
        spki: spki.to_vec(),
        key: Arc::new(key),
        valid_for,
    })
}

/// The log ID of a key as Rekor v1 and CT logs derive it: hex SHA-256 of the SPKI DER. (A
/// Rekor v2 log's ID is its signed-note key ID, which `trusted_root.json` states.)
pub fn spki_log_id(spki: &[u8]) -> String {
    hex::encode(Sha256::digest(spki))
}

/// A certificate must parse as X.509 and be usable as a webpki trust anchor.
fn check_certificate(der: &[u8], index: usize) -> Result<(), TrustError> {
    let fail = |detail: String| TrustError::Certificate { index, detail };
    if der.len() > MAX_DER_BYTES {
        return Err(fail("over 64 KiB".into()));
    }
    Certificate::from_der(der).map_err(|e| fail(format!("not an X.509 certificate: {e}")))?;
    webpki::anchor_from_trusted_cert(&CertificateDer::from(der))
        .map_err(|e| fail(format!("cannot be a trust anchor: {e}")))?;
    Ok(())
}

fn too_many_certificates(count: usize) -> TrustError {
    TrustError::Limit(format!(
        "{count} certificates exceed Signet's limit of {MAX_CHAIN_CERTIFICATES} per chain"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = "../shared/fixtures/third_party";

    fn fixture(path: &str) -> Vec<u8> {
        std::fs::read(format!("{FIXTURES}/{path}")).unwrap()
    }

    // containers/image signature/fixtures: fulcio_v1.crt.pem, rekor.pub, some-rsa-key.pub.
    #[test]
    fn crio_ca_data_and_rekor_key_build_trust_with_the_public_good_log_id() {
        let ca = fixture("containers-image/signature/fixtures/fulcio_v1.crt.pem");
        let rekor = fixture("containers-image/signature/fixtures/rekor.pub");
        let trust = KeylessTrust::from_pem("test", &ca, &[&rekor]).unwrap();
        assert_eq!(trust.certificate_authorities.len(), 1);
        let ids: Vec<&String> = trust.rekor_keys.keys().collect();
        assert_eq!(
            ids,
            ["c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d"]
        );
    }

    #[test]
    fn rsa_rekor_keys_garbage_and_empty_material_are_refused() {
        let ca = fixture("containers-image/signature/fixtures/fulcio_v1.crt.pem");
        let rsa = fixture("containers-image/signature/fixtures/some-rsa-key.pub");
        let err = KeylessTrust::from_pem("t", &ca, &[&rsa]).unwrap_err();
        assert!(err.to_string().contains("not RSA"), "{err}");
        assert!(KeylessTrust::from_pem("t", b"invalid", &[&rsa]).is_err());
        assert_eq!(
            KeylessTrust::from_pem("t", &ca, &[]).unwrap_err(),
            TrustError::Missing("no Rekor public key".into())
        );
        let key_as_ca = fixture("containers-image/signature/fixtures/rekor.pub");
        assert!(KeylessTrust::from_pem("t", &key_as_ca, &[&key_as_ca]).is_err());
    }

    #[test]
    fn time_ranges_are_inclusive_and_open_ended() {
        let range = TimeRange {
            start: Some(10),
            end: Some(20),
        };
        assert!(range.contains(10) && range.contains(20));
        assert!(!range.contains(9) && !range.contains(21));
        assert!(TimeRange::default().contains(i64::MIN));
    }
}
