//! Notation's trust store directory, read as notation-go's `x509TrustStore` reads it:
//! `{root}/x509/{ca|signingAuthority|tsa}/{name}/` holding certificate files (PEM, any number of
//! `CERTIFICATE` blocks, or one DER certificate each); every certificate must be a CA or
//! self-signed, and those of a `tsa` store roots. Hidden entries are skipped and symbolic links
//! followed (Notation refuses links; Kubernetes mounts Secrets and ConfigMaps through them).
//! Bounded: files per store, bytes per file, certificates per store.

use std::path::{Path, PathBuf};

use der::Decode as _;
use der::oid::ObjectIdentifier;
use x509_cert::Certificate;
use x509_cert::ext::pkix::BasicConstraints;

/// Most files read in one named store.
pub const MAX_STORE_FILES: usize = 64;
/// Largest certificate file read.
pub const MAX_CERTIFICATE_FILE_BYTES: u64 = 256 * 1024;
/// Most certificates in one named store.
pub const MAX_STORE_CERTIFICATES: usize = 128;

const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");

/// The three kinds of trust store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StoreKind {
    /// `ca`: roots (and intermediates) of signing certificates (scheme `notary.x509`).
    Ca,
    /// `signingAuthority`: roots of signing authorities (`notary.x509.signingAuthority`).
    SigningAuthority,
    /// `tsa`: roots of RFC 3161 timestamp authorities.
    Tsa,
}

impl StoreKind {
    /// The spelling in a trust policy and in the directory layout.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ca => "ca",
            Self::SigningAuthority => "signingAuthority",
            Self::Tsa => "tsa",
        }
    }

    /// Parse the spelling in a trust policy.
    pub fn parse(text: &str) -> Option<StoreKind> {
        [Self::Ca, Self::SigningAuthority, Self::Tsa]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// One named trust store, read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NotationTrustStore {
    /// Its kind.
    pub kind: StoreKind,
    /// Its name (`[a-zA-Z0-9_.-]+`).
    pub name: String,
    /// Its certificates (DER), in file name order.
    pub certificates: Vec<Vec<u8>>,
}

impl NotationTrustStore {
    /// `ca:name`, as a trust policy names it.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.kind.as_str(), self.name)
    }
}

/// Whether `name` is a store name Notation accepts (`[a-zA-Z0-9_.-]+`).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// The directory of store `kind:name` under `root`.
pub fn directory(root: &Path, kind: StoreKind, name: &str) -> PathBuf {
    root.join("x509").join(kind.as_str()).join(name)
}

/// Read store `kind:name` under `root`; the error says what is wrong and where.
pub fn load(root: &Path, kind: StoreKind, name: &str) -> Result<NotationTrustStore, String> {
    let store = format!("{}:{name}", kind.as_str());
    let dir = directory(root, kind, name);
    let shown = dir.display();
    let entries = std::fs::read_dir(&dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!(
            "the trust store {store:?} does not exist: create {shown} and put its certificates there (notation cert add --type {} --store {name} FILE)",
            kind.as_str()
        ),
        _ => format!("the trust store {store:?} ({shown}) cannot be read: {e}"),
    })?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    files.sort();
    if files.len() > MAX_STORE_FILES {
        return Err(format!(
            "the trust store {store:?} holds {} files, more than {MAX_STORE_FILES} (Signet's limit)",
            files.len()
        ));
    }
    let mut certificates = Vec::new();
    for file in files {
        let file_name = file.file_name().map(|n| n.to_string_lossy().to_string());
        let file_name = file_name.unwrap_or_default();
        if file.is_dir() {
            return Err(format!(
                "trusted certificate {file_name} in trust store {store:?} is not a regular file (directories are not supported)"
            ));
        }
        let bytes = read_bounded(&file).map_err(|e| {
            format!(
                "failed to read the trusted certificate {file_name} in trust store {store:?}: {e}"
            )
        })?;
        let found = parse_certificates(&bytes).map_err(|e| {
            format!(
                "failed to read the trusted certificate {file_name} in trust store {store:?}: {e}"
            )
        })?;
        for der in found {
            check_certificate(&der, kind).map_err(|e| {
                format!("trusted certificate {file_name} in trust store {store:?} is invalid: {e}")
            })?;
            if certificates.len() == MAX_STORE_CERTIFICATES {
                return Err(format!(
                    "the trust store {store:?} holds more than {MAX_STORE_CERTIFICATES} certificates (Signet's limit)"
                ));
            }
            certificates.push(der);
        }
    }
    if certificates.is_empty() {
        return Err(format!(
            "no x509 certificates were found in trust store {store:?} ({shown})"
        ));
    }
    Ok(NotationTrustStore {
        kind,
        name: name.to_string(),
        certificates,
    })
}

fn read_bounded(file: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    let opened = std::fs::File::open(file).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    opened
        .take(MAX_CERTIFICATE_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_CERTIFICATE_FILE_BYTES {
        return Err(format!(
            "larger than {MAX_CERTIFICATE_FILE_BYTES} bytes (Signet's limit)"
        ));
    }
    Ok(bytes)
}

/// The certificates of one file: every PEM `CERTIFICATE` block, or the file as one DER
/// certificate.
pub fn parse_certificates(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let text_start = bytes.iter().position(|b| !b.is_ascii_whitespace());
    let is_pem = text_start.is_some_and(|i| bytes[i..].starts_with(b"-----BEGIN"));
    let found = match is_pem {
        true => {
            let mut reader = bytes;
            let mut out = Vec::new();
            for item in rustls_pemfile::certs(&mut reader) {
                let der = item.map_err(|e| format!("malformed PEM: {e}"))?;
                out.push(der.to_vec());
            }
            out
        }
        false => vec![bytes.to_vec()],
    };
    if found.is_empty() {
        return Err("no PEM CERTIFICATE block found".into());
    }
    Ok(found)
}

/// A trust store certificate must parse, be a CA or self-issued, and (for a TSA store) be a
/// root: its subject its issuer.
fn check_certificate(der: &[u8], kind: StoreKind) -> Result<(), String> {
    let cert = Certificate::from_der(der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
    let tbs = cert.tbs_certificate();
    let self_issued = tbs.subject() == tbs.issuer();
    let is_ca = tbs
        .extensions()
        .into_iter()
        .flatten()
        .filter(|e| e.extn_id == BASIC_CONSTRAINTS)
        .filter_map(|e| BasicConstraints::from_der(e.extn_value.as_bytes()).ok())
        .any(|bc| bc.ca);
    if kind == StoreKind::Tsa && !self_issued {
        return Err(format!(
            "certificate with subject {:?} is not a root CA certificate: issuer and subject are not the same",
            tbs.subject().to_string()
        ));
    }
    if !is_ca && !self_issued {
        return Err(format!(
            "certificate with subject {:?} is not a CA certificate or self-signed signing certificate",
            tbs.subject().to_string()
        ));
    }
    Ok(())
}

/// A store given inline (a `ClusterImagePolicy`'s `notation.trustStores[]`): `data` holds PEM
/// certificates, checked as a store directory's files are.
pub fn from_pem(name: &str, kind: StoreKind, data: &str) -> Result<NotationTrustStore, String> {
    if !valid_name(name) {
        return Err(format!(
            "name {name:?} must follow [a-zA-Z0-9_.-]+ (a store name, for messages)"
        ));
    }
    let store = format!("{}:{name}", kind.as_str());
    let certificates = parse_certificates(data.as_bytes())
        .map_err(|e| format!("trust store {store:?}: data: {e}"))?;
    if certificates.len() > MAX_STORE_CERTIFICATES {
        return Err(format!(
            "trust store {store:?} holds more than {MAX_STORE_CERTIFICATES} certificates (Signet's limit)"
        ));
    }
    for der in &certificates {
        check_certificate(der, kind).map_err(|e| format!("trust store {store:?}: {e}"))?;
    }
    Ok(NotationTrustStore {
        kind,
        name: name.to_string(),
        certificates,
    })
}
