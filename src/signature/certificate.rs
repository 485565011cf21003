//! Fulcio signing certificates: parse the leaf a keyless signature carries (its key, validity,
//! code-signing EKU, OIDC issuer in both encodings, SAN emails and URIs, and the GitHub workflow
//! and build extensions Fulcio adds), and check that it chains to a trusted CA at a given time
//! with rustls-webpki. It decides nothing about identities or logs, and reads no clock: the time
//! is the transparency log's `integratedTime`, passed in.

use std::collections::BTreeMap;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, UnixTime};
use sha2::{Digest, Sha256};
use sigstore::crypto::CosignVerificationKey;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use webpki::{EndEntityCert, KeyUsage};
use x509_cert::Certificate;
use x509_cert::der::asn1::Utf8StringRef;
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{ExtendedKeyUsage, SubjectAltName};

use crate::policy::{CertificateAuthority, KeylessTrust, MAX_CHAIN_CERTIFICATES};

/// Largest certificate annotation accepted (real ones are about 1 KiB).
pub const MAX_CERTIFICATE_PEM_BYTES: usize = 16 * 1024;
/// Largest chain annotation accepted.
pub const MAX_CHAIN_PEM_BYTES: usize = 64 * 1024;

/// id-kp-codeSigning, and its DER contents for webpki.
const CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
const CODE_SIGNING_DER: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];
/// Fulcio's extension arc, 1.3.6.1.4.1.57264.1.
const FULCIO_ARC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1");
/// The raw-UTF-8 extensions (arcs 1..=6) and the DER UTF8String ones (8 and up), by arc.
const FULCIO_EXTENSIONS: &[(u32, &str)] = &[
    (1, "issuer"),
    (2, "githubWorkflowTrigger"),
    (3, "githubWorkflowSha"),
    (4, "githubWorkflowName"),
    (5, "githubWorkflowRepository"),
    (6, "githubWorkflowRef"),
    (8, "issuerV2"),
    (9, "buildSignerURI"),
    (10, "buildSignerDigest"),
    (11, "runnerEnvironment"),
    (12, "sourceRepositoryURI"),
    (13, "sourceRepositoryDigest"),
    (14, "sourceRepositoryRef"),
    (15, "sourceRepositoryIdentifier"),
    (16, "sourceRepositoryOwnerURI"),
    (17, "sourceRepositoryOwnerIdentifier"),
    (18, "buildConfigURI"),
    (19, "buildConfigDigest"),
    (20, "buildTrigger"),
    (21, "runInvocationURI"),
    (22, "sourceRepositoryVisibilityAtSigning"),
    (23, "deploymentEnvironment"),
];

/// What a Fulcio certificate says about its holder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FulcioIdentity {
    /// The OIDC issuer (1.3.6.1.4.1.57264.1.8, else the deprecated raw 1.1).
    pub issuer: Option<String>,
    /// SAN email addresses.
    pub emails: Vec<String>,
    /// SAN URIs (workload identities such as GitHub workflow URLs).
    pub uris: Vec<String>,
    /// Every Fulcio extension by name (`githubWorkflowRepository`, `sourceRepositoryURI`, ...);
    /// unknown arcs 9 and up by dotted OID.
    pub extensions: BTreeMap<String, String>,
}

impl FulcioIdentity {
    /// The subjects identities are matched against: emails, then URIs.
    pub fn subjects(&self) -> impl Iterator<Item = &str> {
        self.emails.iter().chain(&self.uris).map(String::as_str)
    }

    /// `issuer "…" subject "…"` as deny messages show it.
    pub fn describe(&self) -> String {
        let issuer = match &self.issuer {
            Some(issuer) => format!("{issuer:?}"),
            None => "(none)".into(),
        };
        let subjects: Vec<String> = self.subjects().map(|s| format!("{s:?}")).collect();
        let subject = match subjects.is_empty() {
            true => "(none)".to_string(),
            false => subjects.join(", "),
        };
        format!("issuer {issuer} subject {subject}")
    }
}

/// A parsed signing certificate.
#[derive(Debug)]
pub struct SigningCertificate {
    /// The DER bytes.
    pub der: Vec<u8>,
    /// The certificate's public key, which must verify the signature.
    pub key: CosignVerificationKey,
    /// `sha256:<hex>` of the SubjectPublicKeyInfo DER.
    pub key_fingerprint: String,
    /// notBefore, Unix seconds.
    pub not_before: i64,
    /// notAfter, Unix seconds.
    pub not_after: i64,
    /// Issuer, SANs and extensions.
    pub identity: FulcioIdentity,
}

/// Why a certificate cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CertificateError {
    /// Over a size limit.
    #[error("{what} is over the {limit}-byte limit")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// Not PEM, not exactly what was expected, or not DER X.509.
    #[error("{0}")]
    Malformed(String),
    /// Lacks the code-signing extended key usage.
    #[error("the certificate is not for code signing (no id-kp-codeSigning extended key usage)")]
    NotCodeSigning,
    /// An extension that is duplicated or contradicts another.
    #[error("{0}")]
    Extension(String),
}

/// Parse the one certificate of a `dev.sigstore.cosign/certificate` annotation.
pub fn parse_signing_certificate(pem: &str) -> Result<SigningCertificate, CertificateError> {
    if pem.len() > MAX_CERTIFICATE_PEM_BYTES {
        return Err(CertificateError::TooLarge {
            what: "certificate annotation",
            limit: MAX_CERTIFICATE_PEM_BYTES,
        });
    }
    let der = match pem_certificates(pem)?.as_slice() {
        [one] => one.clone(),
        _ => return Err(malformed("want exactly one PEM certificate")),
    };
    signing_certificate_from_der(der)
}

/// Parse a DER signing certificate (a Sigstore bundle's `verificationMaterial.certificate`).
pub fn signing_certificate_from_der(der: Vec<u8>) -> Result<SigningCertificate, CertificateError> {
    if der.len() > MAX_CERTIFICATE_PEM_BYTES {
        return Err(CertificateError::TooLarge {
            what: "certificate",
            limit: MAX_CERTIFICATE_PEM_BYTES,
        });
    }
    let cert = Certificate::from_der(&der).map_err(|e| malformed(format!("not X.509: {e}")))?;
    let tbs = cert.tbs_certificate();
    let spki = tbs.subject_public_key_info();
    let key = CosignVerificationKey::try_from(spki)
        .map_err(|e| malformed(format!("unusable public key: {e}")))?;
    let spki_der = spki.to_der().map_err(|e| malformed(e.to_string()))?;
    let eku = tbs.get_extension::<ExtendedKeyUsage>();
    match eku.map_err(|e| malformed(format!("extended key usage: {e}")))? {
        Some((_, eku)) if eku.0.contains(&CODE_SIGNING) => {}
        _ => return Err(CertificateError::NotCodeSigning),
    }
    Ok(SigningCertificate {
        key_fingerprint: format!("sha256:{}", hex::encode(Sha256::digest(&spki_der))),
        not_before: unix(tbs.validity().not_before.to_unix_duration())?,
        not_after: unix(tbs.validity().not_after.to_unix_duration())?,
        identity: identity(&cert)?,
        key,
        der,
    })
}

/// The DER certificates of a `dev.sigstore.cosign/chain` annotation (intermediates, maybe the
/// root), bounded in size and count. They are only ever untrusted intermediates, and complete a
/// chain only to a bare PEM anchor (never to a trust-root entry, which has its own).
pub fn parse_chain(pem: &str) -> Result<Vec<Vec<u8>>, CertificateError> {
    if pem.len() > MAX_CHAIN_PEM_BYTES {
        return Err(CertificateError::TooLarge {
            what: "certificate chain annotation",
            limit: MAX_CHAIN_PEM_BYTES,
        });
    }
    let chain = pem_certificates(pem)?;
    if chain.len() > MAX_CHAIN_CERTIFICATES {
        let detail = format!("chain of {} certificates is over the limit", chain.len());
        return Err(malformed(detail));
    }
    Ok(chain)
}

/// Does `cert` chain to one certificate authority of `trust` at `at` (Unix seconds), for code
/// signing where it says what it is for? Each authority is judged on its own (see
/// [`chains_to`]); `presented` (the chain annotation, a bundle's chain) completes a chain only
/// to a bare PEM anchor.
pub fn verify_chain(
    cert: &SigningCertificate,
    presented: &[Vec<u8>],
    trust: &KeylessTrust,
    at: i64,
) -> Result<(), String> {
    if at < cert.not_before || at > cert.not_after {
        return Err(format!(
            "valid {} to {}, but the log recorded the signature at {}",
            rfc3339(cert.not_before),
            rfc3339(cert.not_after),
            rfc3339(at)
        ));
    }
    let usage = KeyUsage::required_if_present(CODE_SIGNING_DER);
    let authorities = &trust.certificate_authorities;
    let authority = chains_to(&cert.der, presented, authorities, at, usage)
        .map_err(|e| e.describe("certificate authority", &trust.origin, at))?;
    if !trust.sct_required {
        return Ok(());
    }
    let issuer = issuer_key(&cert.der, authority, presented)
        .ok_or("its issuing certificate cannot be read (for its SCT)")?;
    sct::verify_embedded(&cert.der, &issuer, &trust.ct_keys, &trust.origin)
}

/// The SubjectPublicKeyInfo DER of the certificate of `authority` (or, for a bare PEM anchor,
/// of `presented`) whose subject is `leaf`'s issuer: what an SCT's issuer key hash is over.
fn issuer_key(
    leaf: &[u8],
    authority: &CertificateAuthority,
    presented: &[Vec<u8>],
) -> Option<Vec<u8>> {
    let leaf = Certificate::from_der(leaf).ok()?;
    let presented = match authority.presented_intermediates {
        true => presented,
        false => &[],
    };
    authority
        .intermediates
        .iter()
        .chain(std::iter::once(&authority.root))
        .chain(presented)
        .filter_map(|der| Certificate::from_der(der).ok())
        .find(|c| c.tbs_certificate().subject() == leaf.tbs_certificate().issuer())?
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .ok()
}

/// Why a certificate chains to none of a trust root's authorities: the most telling reason
/// met over all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChainFailure {
    /// No authority's `validFor` holds the time: every one is retired or not yet in use.
    NoAuthorityAt,
    /// The path through an authority's own certificates failed (webpki's reason).
    Path(webpki::Error),
    /// An authority's root (the trust anchor, whose dates webpki does not check) was not valid
    /// at the time.
    RootNotValid {
        /// The root's notBefore, Unix seconds.
        not_before: i64,
        /// The root's notAfter, Unix seconds.
        not_after: i64,
    },
}

impl ChainFailure {
    /// How much the reason says: a dated failure over a path not found over no authority.
    fn weight(&self) -> u8 {
        match self {
            ChainFailure::NoAuthorityAt => 0,
            ChainFailure::Path(webpki::Error::UnknownIssuer) => 1,
            ChainFailure::Path(_) => 2,
            ChainFailure::RootNotValid { .. } => 3,
        }
    }

    /// The reason in words; `kind` names the authorities (`certificate authority`).
    pub(crate) fn describe(&self, kind: &str, origin: &str, at: i64) -> String {
        let when = rfc3339(at);
        match self {
            ChainFailure::NoAuthorityAt => format!(
                "does not chain to a {kind} of {origin} valid at {when}: no {kind} of {origin} \
                 is trusted then (each validFor window ends before it or starts after it)"
            ),
            ChainFailure::RootNotValid {
                not_before,
                not_after,
            } => format!(
                "a certificate of its chain was not valid at {when}: the root of the {kind} of \
                 {origin} is valid {} to {}",
                rfc3339(*not_before),
                rfc3339(*not_after)
            ),
            ChainFailure::Path(webpki::Error::UnknownIssuer) => format!(
                "does not chain to a {kind} of {origin} valid at {when} (a chain may use only \
                 one trust-root entry's own certificates: list a missing intermediate in that \
                 entry's certChain; a presented chain completes only a bare PEM anchor)"
            ),
            ChainFailure::Path(
                webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. },
            ) => format!("a certificate of its chain was not valid at {when}"),
            ChainFailure::Path(other) => {
                format!("does not chain to a {kind} of {origin} valid at {when} ({other:?})")
            }
        }
    }
}

/// Does the certificate `leaf` chain to one of `authorities` at `at` (Unix seconds), for
/// `usage`? Shared by signing certificates (code signing) and timestamp authorities (time
/// stamping). Each authority is judged on its own, as sigstore-go does: its `validFor` must hold
/// `at`; the chain may use only its own intermediates (plus `presented` for a bare PEM anchor,
/// which names none); and every certificate must be valid at `at`, the root included (webpki
/// checks the others, never the anchor's dates). The first authority that holds is returned.
pub(crate) fn chains_to<'a>(
    leaf: &[u8],
    presented: &[Vec<u8>],
    authorities: &'a [CertificateAuthority],
    at: i64,
    usage: KeyUsage,
) -> Result<&'a CertificateAuthority, ChainFailure> {
    let leaf = CertificateDer::from(leaf);
    let end_entity = EndEntityCert::try_from(&leaf).map_err(ChainFailure::Path)?;
    let when = UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(at).unwrap_or(0)));
    let mut failure = ChainFailure::NoAuthorityAt;
    for authority in authorities.iter().filter(|ca| ca.valid_for.contains(at)) {
        let outcome = chains_to_one(&end_entity, presented, authority, at, when, usage);
        match outcome {
            Ok(()) => return Ok(authority),
            Err(e) if e.weight() >= failure.weight() => failure = e,
            Err(_) => {}
        }
    }
    Err(failure)
}

/// One authority: its root valid at `at`, then the path through its own intermediates.
fn chains_to_one(
    end_entity: &EndEntityCert<'_>,
    presented: &[Vec<u8>],
    authority: &CertificateAuthority,
    at: i64,
    when: UnixTime,
    usage: KeyUsage,
) -> Result<(), ChainFailure> {
    let (not_before, not_after) = validity(&authority.root).ok_or(ChainFailure::NoAuthorityAt)?;
    if at < not_before || at > not_after {
        return Err(ChainFailure::RootNotValid {
            not_before,
            not_after,
        });
    }
    let root = CertificateDer::from(authority.root.as_slice());
    let anchor = webpki::anchor_from_trusted_cert(&root).map_err(ChainFailure::Path)?;
    let presented = match authority.presented_intermediates {
        true => presented,
        false => &[],
    };
    let intermediates: Vec<CertificateDer<'_>> = authority
        .intermediates
        .iter()
        .chain(presented)
        .map(|der| CertificateDer::from(der.as_slice()))
        .collect();
    end_entity
        .verify_for_usage(
            ALGORITHMS,
            &[anchor],
            &intermediates,
            when,
            usage,
            None,
            None,
        )
        .map(|_| ())
        .map_err(ChainFailure::Path)
}

/// notBefore and notAfter of a DER certificate, Unix seconds.
pub(crate) fn validity(der: &[u8]) -> Option<(i64, i64)> {
    let cert = Certificate::from_der(der).ok()?;
    let validity = cert.tbs_certificate().validity();
    let not_before = unix(validity.not_before.to_unix_duration()).ok()?;
    let not_after = unix(validity.not_after.to_unix_duration()).ok()?;
    Some((not_before, not_after))
}

/// Signature algorithms a certificate chain may use.
static ALGORITHMS: &[&dyn rustls::pki_types::SignatureVerificationAlgorithm] = &[
    webpki::aws_lc_rs::ECDSA_P256_SHA256,
    webpki::aws_lc_rs::ECDSA_P256_SHA384,
    webpki::aws_lc_rs::ECDSA_P384_SHA256,
    webpki::aws_lc_rs::ECDSA_P384_SHA384,
    webpki::aws_lc_rs::ECDSA_P521_SHA512,
    webpki::aws_lc_rs::ED25519,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA384,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA512,
    webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
    webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
];

/// Issuer (both encodings, which must agree), SANs and the other Fulcio extensions.
fn identity(cert: &Certificate) -> Result<FulcioIdentity, CertificateError> {
    let tbs = cert.tbs_certificate();
    let mut out = FulcioIdentity::default();
    let mut seen = Vec::new();
    for ext in tbs.extensions().map(|e| e.as_slice()).unwrap_or_default() {
        if seen.contains(&ext.extn_id) {
            let detail = format!("extension {} appears twice", ext.extn_id);
            return Err(CertificateError::Extension(detail));
        }
        seen.push(ext.extn_id);
        if let Some((name, value)) = fulcio_extension(ext.extn_id, ext.extn_value.as_bytes())? {
            out.extensions.insert(name, value);
        }
    }
    let (v1, v2) = (out.extensions.get("issuer"), out.extensions.get("issuerV2"));
    if let (Some(v1), Some(v2)) = (v1, v2) {
        if v1 != v2 {
            let detail = format!("OIDC issuer extensions disagree ({v1:?} and {v2:?})");
            return Err(CertificateError::Extension(detail));
        }
    }
    out.issuer = v2.or(v1).cloned();
    let sans = tbs.get_extension::<SubjectAltName>();
    let sans = sans.map_err(|e| malformed(format!("subject alternative name: {e}")))?;
    for name in sans.map(|(_, san)| san.0).unwrap_or_default() {
        match name {
            GeneralName::Rfc822Name(email) => out.emails.push(email.to_string()),
            GeneralName::UniformResourceIdentifier(uri) => out.uris.push(uri.to_string()),
            _ => {}
        }
    }
    Ok(out)
}

/// The name and text of a Fulcio extension, `None` for other extensions.
fn fulcio_extension(
    oid: ObjectIdentifier,
    value: &[u8],
) -> Result<Option<(String, String)>, CertificateError> {
    if oid.parent() != Some(FULCIO_ARC) {
        return Ok(None);
    }
    let Some(arc) = oid.arcs().last() else {
        return Ok(None);
    };
    let name = FULCIO_EXTENSIONS
        .iter()
        .find(|(a, _)| *a == arc)
        .map(|(_, name)| (*name).to_string());
    let bad = |what: &str| CertificateError::Extension(format!("extension {oid} is not {what}"));
    let text = match arc {
        1..=6 => std::str::from_utf8(value).map_err(|_| bad("UTF-8"))?,
        8.. => Utf8StringRef::from_der(value)
            .map_err(|_| bad("a DER UTF8String"))?
            .as_str(),
        _ => return Ok(None),
    };
    Ok(Some((
        name.unwrap_or_else(|| oid.to_string()),
        text.to_string(),
    )))
}

/// Whether a DER certificate is self-issued (subject equals issuer): a root, which only the
/// trust root may supply.
pub fn is_self_issued(der: &[u8]) -> bool {
    Certificate::from_der(der)
        .is_ok_and(|c| c.tbs_certificate().subject() == c.tbs_certificate().issuer())
}

fn pem_certificates(pem: &str) -> Result<Vec<Vec<u8>>, CertificateError> {
    let mut reader = pem.as_bytes();
    let mut out = Vec::new();
    for item in rustls_pemfile::certs(&mut reader) {
        let der = item.map_err(|e| malformed(format!("malformed PEM: {e}")))?;
        if out.len() > MAX_CHAIN_CERTIFICATES {
            return Err(malformed("too many certificates"));
        }
        out.push(der.to_vec());
    }
    if out.is_empty() {
        return Err(malformed("no PEM certificate"));
    }
    Ok(out)
}

fn unix(since_epoch: Duration) -> Result<i64, CertificateError> {
    i64::try_from(since_epoch.as_secs()).map_err(|_| malformed("validity out of range"))
}

/// `2023-01-20T20:51:31Z` for messages.
pub(super) fn rfc3339(t: i64) -> String {
    OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("{t} (Unix time)"))
}

fn malformed(detail: impl Into<String>) -> CertificateError {
    CertificateError::Malformed(detail.into())
}

mod sct;

#[cfg(test)]
mod tests;
