//! RFC 3161 timestamps carried in a bundle (`timestampVerificationData.rfc3161Timestamps`),
//! verified offline against the trust root's timestamp authorities. A verified timestamp is a
//! trusted signing time: a Rekor v2 entry has no signed `integratedTime`, so its certificate is
//! judged at the timestamp's time. Steps for one timestamp:
//!
//! 1. it parses (a `TimeStampResp` with status granted, or a bare `TimeStampToken`) as CMS
//!    SignedData holding a `TSTInfo` of version 1, with exactly one signer;
//! 2. the `TSTInfo` message imprint is the hash of the bundle's signature bytes;
//! 3. the signed attributes name the `TSTInfo` content type, carry its digest, and name the
//!    signing certificate (ESS `signingCertificate` or `signingCertificateV2`);
//! 4. one timestamp authority of the trust root, judged on its own as sigstore-go does, whose
//!    `validFor` holds `genTime` (inclusive): its signing certificate (the first of its chain
//!    when that is not a CA, else the one the token embeds) is the one the signer identifier
//!    and the ESS attribute name and any embedded copy is, and its key verifies the signature
//!    over the signed attributes;
//! 5. that certificate chains, for time stamping, through the authority's own intermediates to
//!    its root, every certificate (the root included) valid at `genTime`.
//!
//! Parsing is done by RustCrypto's `cms` and `der`; signature and chain checks by rustls-webpki.

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::{BitString, GeneralizedTime, Int, ObjectIdentifier, OctetString};
use der::{Any, Decode, Encode, Sequence, Tagged};
use rustls::pki_types::{CertificateDer, SignatureVerificationAlgorithm};
use sha2::{Digest, Sha256, Sha384, Sha512};
use webpki::EndEntityCert;
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, SubjectKeyIdentifier};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::time::Time;

use crate::policy::{CertificateAuthority, KeylessTrust};

use super::super::certificate::{self, rfc3339};
use super::BundleError;

/// Largest timestamp accepted (real ones are 2 to 5 KiB).
pub const MAX_TIMESTAMP_BYTES: usize = 32 * 1024;
/// Most timestamps read from one bundle.
pub const MAX_TIMESTAMPS: usize = 8;

const SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const CONTENT_TYPE_ATTR: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const MESSAGE_DIGEST_ATTR: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
/// ESS `signingCertificate` (RFC 2634 §5.4, SHA-1 ESSCertID) and `signingCertificateV2`
/// (RFC 5035 §3, RFC 5816), one of which RFC 3161 §2.4.1 requires in a timestamp token.
const SIGNING_CERTIFICATE_ATTR: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.12");
const SIGNING_CERTIFICATE_V2_ATTR: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
/// id-kp-timeStamping (1.3.6.1.5.5.7.3.8), and its DER contents for webpki.
const TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
const TIME_STAMPING_DER: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08];

/// RFC 3161 `TimeStampResp`.
#[derive(Sequence)]
struct TimeStampResp {
    status: PkiStatusInfo,
    #[asn1(optional = "true")]
    token: Option<ContentInfo>,
}

/// RFC 4210 `PKIStatusInfo`.
#[derive(Sequence)]
struct PkiStatusInfo {
    status: u32,
    #[asn1(optional = "true")]
    #[allow(dead_code, reason = "read to consume the field")]
    status_string: Option<Vec<Any>>,
    #[asn1(optional = "true")]
    #[allow(dead_code, reason = "read to consume the field")]
    fail_info: Option<BitString>,
}

/// RFC 3161 `TSTInfo` (`genTime` read raw: TSAs may add fractions of a second).
#[derive(Sequence)]
#[allow(dead_code, reason = "fields read to consume the structure")]
struct TstInfo {
    version: u8,
    policy: ObjectIdentifier,
    message_imprint: MessageImprint,
    serial_number: Int,
    gen_time: Any,
    #[asn1(optional = "true")]
    accuracy: Option<Accuracy>,
    #[asn1(optional = "true")]
    ordering: Option<bool>,
    #[asn1(optional = "true")]
    nonce: Option<Int>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    tsa: Option<GeneralName>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    extensions: Option<Vec<x509_cert::ext::Extension>>,
}

#[derive(Sequence)]
struct MessageImprint {
    hash_algorithm: AlgorithmIdentifierOwned,
    hashed_message: OctetString,
}

#[derive(Sequence)]
struct Accuracy {
    #[asn1(optional = "true")]
    seconds: Option<u64>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    millis: Option<u16>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    micros: Option<u16>,
}

/// RFC 2634 `SigningCertificate`.
#[derive(Sequence)]
struct SigningCertificateV1 {
    certs: Vec<EssCertId>,
    #[asn1(optional = "true")]
    #[allow(dead_code, reason = "read to consume the field")]
    policies: Option<Vec<Any>>,
}

/// RFC 2634 `ESSCertID` (SHA-1 of the certificate).
#[derive(Sequence)]
struct EssCertId {
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<IssuerSerial>,
}

/// RFC 5035 `SigningCertificateV2`.
#[derive(Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    #[allow(dead_code, reason = "read to consume the field")]
    policies: Option<Vec<Any>>,
}

/// RFC 5035 `ESSCertIDv2` (hash algorithm defaults to SHA-256).
#[derive(Sequence)]
struct EssCertIdV2 {
    #[asn1(optional = "true")]
    hash_algorithm: Option<AlgorithmIdentifierOwned>,
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<IssuerSerial>,
}

/// RFC 2634 `IssuerSerial`.
#[derive(Sequence, Clone)]
struct IssuerSerial {
    issuer: Vec<GeneralName>,
    serial_number: SerialNumber,
}

/// The certificate a token's ESS attribute names as its signer: the first `ESSCertID(v2)`.
struct SignerBinding {
    hash_algorithm: ObjectIdentifier,
    cert_hash: Vec<u8>,
    issuer_serial: Option<IssuerSerial>,
}

impl SignerBinding {
    /// Is `cert` (DER `der`) the certificate the attribute names?
    fn names(&self, cert: &Certificate, der: &[u8]) -> Result<bool, BundleError> {
        let hash = match self.hash_algorithm {
            // Only here: RFC 2634's ESSCertID hashes the certificate with SHA-1. Imprints and
            // signed digests stay SHA-2.
            SHA1 => <sha1::Sha1 as sha1::Digest>::digest(der).to_vec(),
            ref other => digest(other, der)?,
        };
        if hash != self.cert_hash {
            return Ok(false);
        }
        let Some(issuer_serial) = &self.issuer_serial else {
            return Ok(true);
        };
        let tbs = cert.tbs_certificate();
        let issuer_named = issuer_serial.issuer.iter().any(|name| match name {
            GeneralName::DirectoryName(name) => name == tbs.issuer(),
            _ => false,
        });
        Ok(issuer_named && issuer_serial.serial_number == *tbs.serial_number())
    }
}

/// Steps 1–5 for one timestamp over `signature` (the bundle's signature bytes): the verified
/// `genTime` (Unix seconds).
pub fn verify(der: &[u8], signature: &[u8], trust: &KeylessTrust) -> Result<i64, BundleError> {
    verify_detailed(der, signature, trust).map(|verified| verified.gen_time)
}

/// What [`verify_detailed`] found.
pub struct VerifiedTimestamp {
    /// `genTime`, Unix seconds.
    pub gen_time: i64,
    /// The accuracy in whole seconds (rounded up): the token's `accuracy` field, else 1 second
    /// under the RFC 3628 baseline policy, else 0 (the Notary Project specification's rule for
    /// the timestamp's range).
    pub accuracy: u64,
    /// DER of the certificate that signed the token.
    pub signer: Vec<u8>,
}

/// [`verify`], with the accuracy and the signing certificate.
pub fn verify_detailed(
    der: &[u8],
    signature: &[u8],
    trust: &KeylessTrust,
) -> Result<VerifiedTimestamp, BundleError> {
    // 1. SignedData with a TSTInfo and one signer.
    if der.len() > MAX_TIMESTAMP_BYTES {
        return Err(malformed("the RFC 3161 timestamp is over 32 KiB"));
    }
    let token = token(der)?;
    if token.content_type != SIGNED_DATA {
        return Err(malformed("the timestamp token is not CMS SignedData"));
    }
    let signed = token
        .content
        .decode_as::<SignedData>()
        .map_err(|e| malformed(&format!("the timestamp's SignedData: {e}")))?;
    let encapsulated = &signed.encap_content_info;
    let tst_der = match (&encapsulated.econtent_type, &encapsulated.econtent) {
        (oid, Some(content)) if *oid == TST_INFO => {
            OctetString::from_der(&content.to_der().map_err(|e| malformed(&e.to_string()))?)
                .map_err(|e| malformed(&format!("the timestamp's content: {e}")))?
        }
        _ => return Err(malformed("the timestamp does not hold a TSTInfo")),
    };
    let tst = TstInfo::from_der(tst_der.as_bytes())
        .map_err(|e| malformed(&format!("the timestamp's TSTInfo: {e}")))?;
    if tst.version != 1 {
        return Err(malformed(&format!(
            "the timestamp's TSTInfo is version {}; RFC 3161 defines only version 1",
            tst.version
        )));
    }
    let gen_time = gen_time(&tst.gen_time)?;
    let accuracy = accuracy_seconds(&tst);
    let [signer] = signed.signer_infos.0.as_slice() else {
        return Err(malformed("the timestamp does not have exactly one signer"));
    };
    // 2. The imprint is this signature's.
    let imprint = &tst.message_imprint;
    let hashed = digest(&imprint.hash_algorithm.oid, signature)?;
    if hashed != imprint.hashed_message.as_bytes() {
        return Err(untrusted(
            "the RFC 3161 timestamp is for other data than this signature",
        ));
    }
    // 3. The signed attributes bind the TSTInfo and name the signing certificate.
    let (attributes, binding) = signed_attributes(signer, tst_der.as_bytes())?;
    // 4.–5. One timestamp authority trusted at genTime vouches for the signer.
    let authorities: Vec<&CertificateAuthority> = trust
        .timestamp_authorities
        .iter()
        .filter(|ca| ca.valid_for.contains(gen_time))
        .collect();
    let embedded: Vec<Certificate> = embedded_certificates(&signed).collect();
    let signed = Signed {
        signer,
        attributes: &attributes,
        binding: &binding,
        embedded: &embedded,
        gen_time,
        origin: &trust.origin,
    };
    let mut failure = untrusted(&format!(
        "no timestamp authority of {} is trusted at the timestamp's time {}",
        trust.origin,
        rfc3339(gen_time)
    ));
    for authority in authorities {
        match signed.by(authority) {
            Ok(signer) => {
                return Ok(VerifiedTimestamp {
                    gen_time,
                    accuracy,
                    signer,
                });
            }
            Err(e) => failure = e,
        }
    }
    Err(failure)
}

/// The RFC 3628 baseline time-stamp policy (0.4.0.2023.1.1), whose accuracy is 1 second.
const BASELINE_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.2023.1.1");

/// The token's accuracy in whole seconds, rounded up.
fn accuracy_seconds(tst: &TstInfo) -> u64 {
    match &tst.accuracy {
        Some(accuracy) => {
            let fraction = accuracy.millis.unwrap_or(0) > 0 || accuracy.micros.unwrap_or(0) > 0;
            accuracy
                .seconds
                .unwrap_or(0)
                .saturating_add(u64::from(fraction))
        }
        None if tst.policy == BASELINE_POLICY => 1,
        None => 0,
    }
}

/// What one timestamp's signer must be vouched for, by some timestamp authority.
struct Signed<'a> {
    signer: &'a SignerInfo,
    attributes: &'a [u8],
    binding: &'a SignerBinding,
    embedded: &'a [Certificate],
    gen_time: i64,
    origin: &'a str,
}

impl Signed<'_> {
    /// Steps 4–5 against one timestamp authority (whose `validFor` holds genTime); the
    /// signing certificate's DER.
    fn by(&self, authority: &CertificateAuthority) -> Result<Vec<u8>, BundleError> {
        let named = self.embedded.iter().find(|c| names(&self.signer.sid, c));
        let cert = match signing_leaf(authority) {
            Some(leaf) => leaf,
            None => named.cloned().ok_or_else(|| {
                untrusted("the timestamp's signing certificate is neither embedded nor trusted")
            })?,
        };
        let cert_der = cert.to_der().map_err(|e| malformed(&e.to_string()))?;
        if !names(&self.signer.sid, &cert) {
            return Err(untrusted(&format!(
                "the RFC 3161 timestamp was not signed by the signing certificate of a timestamp \
                 authority of {} trusted at {}",
                self.origin,
                rfc3339(self.gen_time)
            )));
        }
        if named.is_some_and(|embedded| embedded.to_der().ok() != Some(cert_der.clone())) {
            return Err(untrusted(
                "the RFC 3161 timestamp embeds another certificate than its timestamp \
                 authority's signing certificate under the same name",
            ));
        }
        if !self.binding.names(&cert, &cert_der)? {
            return Err(untrusted(
                "the RFC 3161 timestamp's ESS signingCertificate attribute names another \
                 certificate than the one that signed it",
            ));
        }
        let leaf = CertificateDer::from(cert_der.as_slice());
        let end_entity = EndEntityCert::try_from(&leaf)
            .map_err(|e| malformed(&format!("the timestamp's signing certificate: {e}")))?;
        let signature_bytes = self.signer.signature.as_bytes();
        let verified = algorithms(self.signer)?.iter().any(|alg| {
            end_entity
                .verify_signature(*alg, self.attributes, signature_bytes)
                .is_ok()
        });
        if !verified {
            return Err(untrusted(
                "the RFC 3161 timestamp's signature does not verify with its signing certificate",
            ));
        }
        // The signing certificate must be for time stamping; CAs above it only when they
        // restrict their extended key usages at all (RFC 5280, as Go's x509 and so
        // sigstore-go and Notation judge them: real TSA intermediates carry no EKU), which
        // webpki's `required` would demand of every certificate of the path.
        if !is_for_time_stamping(&cert) {
            return Err(untrusted(
                "the RFC 3161 timestamp's signing certificate is not for time stamping (no \
                 id-kp-timeStamping extended key usage)",
            ));
        }
        let usage = webpki::KeyUsage::required_if_present(TIME_STAMPING_DER);
        let one = std::slice::from_ref(authority);
        // Certificates the token embeds complete a chain only to a bare anchor (a Notation
        // `tsa` trust store root), never to a trust-root entry (see `chains_to`).
        let presented: Vec<Vec<u8>> = self
            .embedded
            .iter()
            .filter_map(|c| c.to_der().ok())
            .collect();
        certificate::chains_to(&cert_der, &presented, one, self.gen_time, usage)
            .map(|_| cert_der.clone())
            .map_err(|e| {
                let detail = e.describe("timestamp authority", self.origin, self.gen_time);
                untrusted(&format!("the RFC 3161 timestamp's certificate {detail}"))
            })
    }
}

/// Does `cert` carry the id-kp-timeStamping extended key usage?
fn is_for_time_stamping(cert: &Certificate) -> bool {
    matches!(
        cert.tbs_certificate().get_extension::<ExtendedKeyUsage>(),
        Ok(Some((_, usages))) if usages.0.contains(&TIME_STAMPING)
    )
}

/// A timestamp authority's signing certificate: the first of its chain when that is not a CA
/// (as sigstore-go reads `timestampAuthorities`); `None` for a chain of CAs only.
fn signing_leaf(authority: &CertificateAuthority) -> Option<Certificate> {
    let first = Certificate::from_der(authority.intermediates.first()?).ok()?;
    let is_ca = matches!(
        first.tbs_certificate().get_extension::<BasicConstraints>(),
        Ok(Some((_, constraints))) if constraints.ca
    );
    (!is_ca).then_some(first)
}

/// The token of a `TimeStampResp` with a granted status, or a bare token.
fn token(der: &[u8]) -> Result<ContentInfo, BundleError> {
    if let Ok(token) = ContentInfo::from_der(der) {
        return Ok(token);
    }
    let response = TimeStampResp::from_der(der)
        .map_err(|e| malformed(&format!("not an RFC 3161 timestamp: {e}")))?;
    match (response.status.status, response.token) {
        (0 | 1, Some(token)) => Ok(token),
        (status, _) => Err(malformed(&format!(
            "the RFC 3161 response was not granted (status {status})"
        ))),
    }
}

/// The DER of the signed attributes (what the signature covers), after checking that they name
/// the TSTInfo content type and carry the digest of `content`, and the signing certificate
/// their ESS attribute names.
fn signed_attributes(
    signer: &SignerInfo,
    content: &[u8],
) -> Result<(Vec<u8>, SignerBinding), BundleError> {
    let attributes = signer
        .signed_attrs
        .as_ref()
        .ok_or_else(|| malformed("the timestamp's signer has no signed attributes"))?;
    let optional = |oid: ObjectIdentifier| -> Result<Option<&Any>, BundleError> {
        let mut found = attributes.iter().filter(|a| a.oid == oid);
        match (found.next(), found.next()) {
            (Some(attribute), None) => match attribute.values.as_slice() {
                [one] => Ok(Some(one)),
                _ => Err(malformed("a signed attribute without exactly one value")),
            },
            (None, _) => Ok(None),
            _ => Err(malformed("a signed attribute is repeated")),
        }
    };
    let value = |oid: ObjectIdentifier| -> Result<&Any, BundleError> {
        optional(oid)?.ok_or_else(|| malformed("a required signed attribute is missing"))
    };
    let content_type = value(CONTENT_TYPE_ATTR)?
        .decode_as::<ObjectIdentifier>()
        .map_err(|e| malformed(&e.to_string()))?;
    if content_type != TST_INFO {
        return Err(malformed(
            "the timestamp's signed content type is not TSTInfo",
        ));
    }
    let expected = value(MESSAGE_DIGEST_ATTR)?
        .decode_as::<OctetString>()
        .map_err(|e| malformed(&e.to_string()))?;
    if digest(&signer.digest_alg.oid, content)? != expected.as_bytes() {
        return Err(untrusted(
            "the timestamp's signed digest is not its TSTInfo's (altered content)",
        ));
    }
    let binding = match (
        optional(SIGNING_CERTIFICATE_V2_ATTR)?,
        optional(SIGNING_CERTIFICATE_ATTR)?,
    ) {
        (Some(v2), _) => signer_binding_v2(v2)?,
        (None, Some(v1)) => signer_binding_v1(v1)?,
        (None, None) => {
            return Err(malformed(
                "the timestamp names no signing certificate (no ESS signingCertificate or \
                 signingCertificateV2 attribute, which RFC 3161 requires)",
            ));
        }
    };
    let der = attributes.to_der().map_err(|e| malformed(&e.to_string()))?;
    Ok((der, binding))
}

fn signer_binding_v2(value: &Any) -> Result<SignerBinding, BundleError> {
    let attribute = value
        .decode_as::<SigningCertificateV2>()
        .map_err(|e| malformed(&format!("the timestamp's signingCertificateV2: {e}")))?;
    let first = attribute.certs.into_iter().next().ok_or_else(no_cert_id)?;
    Ok(SignerBinding {
        hash_algorithm: first.hash_algorithm.map_or(SHA256, |a| a.oid),
        cert_hash: first.cert_hash.as_bytes().to_vec(),
        issuer_serial: first.issuer_serial,
    })
}

fn signer_binding_v1(value: &Any) -> Result<SignerBinding, BundleError> {
    let attribute = value
        .decode_as::<SigningCertificateV1>()
        .map_err(|e| malformed(&format!("the timestamp's signingCertificate: {e}")))?;
    let first = attribute.certs.into_iter().next().ok_or_else(no_cert_id)?;
    Ok(SignerBinding {
        hash_algorithm: SHA1,
        cert_hash: first.cert_hash.as_bytes().to_vec(),
        issuer_serial: first.issuer_serial,
    })
}

fn no_cert_id() -> BundleError {
    malformed("the timestamp's ESS signingCertificate attribute lists no certificate")
}

fn embedded_certificates(signed: &SignedData) -> impl Iterator<Item = Certificate> + '_ {
    signed
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|choice| match choice {
            CertificateChoices::Certificate(cert) => Some(cert.clone()),
            CertificateChoices::Other(_) => None,
        })
}

/// Does the signer identifier name `cert`?
fn names(sid: &SignerIdentifier, cert: &Certificate) -> bool {
    let tbs = cert.tbs_certificate();
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(id) => {
            id.issuer == *tbs.issuer() && id.serial_number == *tbs.serial_number()
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            matches!(tbs.get_extension::<SubjectKeyIdentifier>(), Ok(Some((_, own))) if own == *ski)
        }
    }
}

/// The webpki algorithms the signer's signature algorithm (and digest) may mean.
fn algorithms(
    signer: &SignerInfo,
) -> Result<&'static [&'static dyn SignatureVerificationAlgorithm], BundleError> {
    use webpki::aws_lc_rs as alg;
    const ECDSA_SHA256: &[&dyn SignatureVerificationAlgorithm] =
        &[alg::ECDSA_P256_SHA256, alg::ECDSA_P384_SHA256];
    const ECDSA_SHA384: &[&dyn SignatureVerificationAlgorithm] =
        &[alg::ECDSA_P256_SHA384, alg::ECDSA_P384_SHA384];
    const ECDSA_SHA512: &[&dyn SignatureVerificationAlgorithm] = &[alg::ECDSA_P521_SHA512];
    const RSA_SHA256: &[&dyn SignatureVerificationAlgorithm] = &[alg::RSA_PKCS1_2048_8192_SHA256];
    const RSA_SHA384: &[&dyn SignatureVerificationAlgorithm] = &[alg::RSA_PKCS1_2048_8192_SHA384];
    const RSA_SHA512: &[&dyn SignatureVerificationAlgorithm] = &[alg::RSA_PKCS1_2048_8192_SHA512];
    const ED25519: &[&dyn SignatureVerificationAlgorithm] = &[alg::ED25519];
    let digest = signer.digest_alg.oid.to_string();
    let found = match (
        signer.signature_algorithm.oid.to_string().as_str(),
        digest.as_str(),
    ) {
        ("1.2.840.10045.4.3.2", _) => ECDSA_SHA256,
        ("1.2.840.10045.4.3.3", _) => ECDSA_SHA384,
        ("1.2.840.10045.4.3.4", _) => ECDSA_SHA512,
        ("1.2.840.10045.2.1", "2.16.840.1.101.3.4.2.1") => ECDSA_SHA256,
        ("1.2.840.10045.2.1", "2.16.840.1.101.3.4.2.2") => ECDSA_SHA384,
        ("1.2.840.10045.2.1", "2.16.840.1.101.3.4.2.3") => ECDSA_SHA512,
        ("1.2.840.113549.1.1.11", _) => RSA_SHA256,
        ("1.2.840.113549.1.1.12", _) => RSA_SHA384,
        ("1.2.840.113549.1.1.13", _) => RSA_SHA512,
        ("1.2.840.113549.1.1.1", "2.16.840.1.101.3.4.2.1") => RSA_SHA256,
        ("1.2.840.113549.1.1.1", "2.16.840.1.101.3.4.2.2") => RSA_SHA384,
        ("1.2.840.113549.1.1.1", "2.16.840.1.101.3.4.2.3") => RSA_SHA512,
        ("1.3.101.112", _) => ED25519,
        (other, _) => {
            return Err(BundleError::Unsupported(format!(
                "RFC 3161 signature algorithm {other}"
            )));
        }
    };
    Ok(found)
}

/// `data` hashed with the SHA-2 function `oid` names.
fn digest(oid: &ObjectIdentifier, data: &[u8]) -> Result<Vec<u8>, BundleError> {
    match *oid {
        SHA256 => Ok(Sha256::digest(data).to_vec()),
        SHA384 => Ok(Sha384::digest(data).to_vec()),
        SHA512 => Ok(Sha512::digest(data).to_vec()),
        _ => Err(BundleError::Unsupported(format!(
            "RFC 3161 digest algorithm {oid}"
        ))),
    }
}

/// `genTime` to Unix seconds (fractions of a second dropped).
fn gen_time(value: &Any) -> Result<i64, BundleError> {
    let bad = || malformed("the timestamp's genTime is not a GeneralizedTime");
    if value.tag() != der::Tag::GeneralizedTime {
        return Err(bad());
    }
    let text = std::str::from_utf8(value.value()).map_err(|_| bad())?;
    parse_generalized_time(text).ok_or_else(bad)
}

/// `YYYYMMDDHHMMSS[.fff…]Z` to Unix seconds (fractions dropped), through `der`'s own
/// GeneralizedTime for the whole seconds.
fn parse_generalized_time(text: &str) -> Option<i64> {
    let text = text.strip_suffix('Z')?;
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    if fraction.is_some_and(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let mut der = vec![0x18, 15];
    der.extend_from_slice(whole.as_bytes());
    der.push(b'Z');
    let time = GeneralizedTime::from_der(&der).ok()?;
    let seconds = Time::GeneralTime(time).to_unix_duration().as_secs();
    i64::try_from(seconds).ok()
}

fn malformed(detail: &str) -> BundleError {
    BundleError::Malformed(detail.to_string())
}

fn untrusted(detail: &str) -> BundleError {
    BundleError::Timestamp(detail.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generalized_times_with_and_without_fractions() {
        assert_eq!(parse_generalized_time("19700101000001Z"), Some(1));
        assert_eq!(
            parse_generalized_time("20230120205131.123Z"),
            Some(1_674_247_891)
        );
        assert_eq!(parse_generalized_time("20230120205131"), None);
        assert_eq!(parse_generalized_time("2023012020513Z"), None);
        assert_eq!(parse_generalized_time("20230120205131.Z"), None);
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let trust = KeylessTrust::default();
        for der in [
            &[][..],
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
            &[0x30, 0x00],
        ] {
            assert!(matches!(
                verify(der, b"sig", &trust),
                Err(BundleError::Malformed(_))
            ));
        }
    }
}
