//! RFC 3161 timestamps carried in a bundle (`timestampVerificationData.rfc3161Timestamps`),
//! verified offline against the trust root's timestamp authorities. A verified timestamp is a
//! trusted signing time: a Rekor v2 entry has no signed `integratedTime`, so its certificate is
//! judged at the timestamp's time. Steps for one timestamp:
//!
//! 1. it parses (a `TimeStampResp` with status granted, or a bare `TimeStampToken`) as CMS
//!    SignedData holding a `TSTInfo`, with exactly one signer;
//! 2. the `TSTInfo` message imprint is the hash of the bundle's signature bytes;
//! 3. the signed attributes name the `TSTInfo` content type and carry its digest;
//! 4. the signer's certificate (embedded, or the first of a trusted TSA chain) is the one the
//!    signer identifier names, and its key verifies the signature over the signed attributes;
//! 5. that certificate chains, for time stamping, to a TSA root of the trust root whose
//!    `validFor` holds `genTime` (inclusive), every certificate valid at `genTime`.
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
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use x509_cert::ext::pkix::name::GeneralName;
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
/// id-kp-timeStamping (1.3.6.1.5.5.7.3.8), DER contents for webpki.
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
#[allow(dead_code, reason = "fields read to consume the structure")]
struct Accuracy {
    #[asn1(optional = "true")]
    seconds: Option<u64>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    millis: Option<u16>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    micros: Option<u16>,
}

/// Steps 1–5 for one timestamp over `signature` (the bundle's signature bytes): the verified
/// `genTime` (Unix seconds).
pub fn verify(der: &[u8], signature: &[u8], trust: &KeylessTrust) -> Result<i64, BundleError> {
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
    let gen_time = gen_time(&tst.gen_time)?;
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
    // 3. The signed attributes bind the TSTInfo.
    let attributes = signed_attributes(signer, tst_der.as_bytes())?;
    // 4. The signer's certificate and signature.
    let candidates = candidates(&signed, trust);
    let cert = candidates
        .iter()
        .find(|c| names(&signer.sid, c))
        .ok_or_else(|| {
            untrusted("the timestamp's signing certificate is neither embedded nor trusted")
        })?;
    let cert_der = cert.to_der().map_err(|e| malformed(&e.to_string()))?;
    let leaf = CertificateDer::from(cert_der.as_slice());
    let end_entity = EndEntityCert::try_from(&leaf)
        .map_err(|e| malformed(&format!("the timestamp's signing certificate: {e}")))?;
    let signature_bytes = signer.signature.as_bytes();
    let verified = algorithms(signer)?.iter().any(|alg| {
        end_entity
            .verify_signature(*alg, &attributes, signature_bytes)
            .is_ok()
    });
    if !verified {
        return Err(untrusted(
            "the RFC 3161 timestamp's signature does not verify with its signing certificate",
        ));
    }
    // 5. The certificate chains to a TSA trusted at genTime.
    let authorities: Vec<&CertificateAuthority> = trust
        .timestamp_authorities
        .iter()
        .filter(|ca| ca.valid_for.contains(gen_time))
        .collect();
    if authorities.is_empty() {
        return Err(untrusted(&format!(
            "no timestamp authority of {} is trusted at the timestamp's time {}",
            trust.origin,
            rfc3339(gen_time)
        )));
    }
    let embedded = embedded(&signed);
    let usage = webpki::KeyUsage::required(TIME_STAMPING_DER);
    certificate::chains_to(&cert_der, &embedded, &authorities, gen_time, usage).map_err(|e| {
        untrusted(&format!(
            "the RFC 3161 timestamp's certificate does not chain to a timestamp authority \
                 of {} valid at {} ({e})",
            trust.origin,
            rfc3339(gen_time)
        ))
    })?;
    Ok(gen_time)
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
/// the TSTInfo content type and carry the digest of `content`.
fn signed_attributes(signer: &SignerInfo, content: &[u8]) -> Result<Vec<u8>, BundleError> {
    let attributes = signer
        .signed_attrs
        .as_ref()
        .ok_or_else(|| malformed("the timestamp's signer has no signed attributes"))?;
    let value = |oid: ObjectIdentifier| -> Result<&Any, BundleError> {
        let mut found = attributes.iter().filter(|a| a.oid == oid);
        match (found.next(), found.next()) {
            (Some(attribute), None) => match attribute.values.as_slice() {
                [one] => Ok(one),
                _ => Err(malformed("a signed attribute without exactly one value")),
            },
            _ => Err(malformed(
                "a required signed attribute is missing or repeated",
            )),
        }
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
    attributes.to_der().map_err(|e| malformed(&e.to_string()))
}

/// Certificates that may have signed: the embedded ones, then every certificate of the trusted
/// TSA chains (a token need not embed its signer's certificate).
fn candidates(signed: &SignedData, trust: &KeylessTrust) -> Vec<Certificate> {
    let trusted = trust
        .timestamp_authorities
        .iter()
        .flat_map(|ca| ca.intermediates.iter().chain(std::iter::once(&ca.root)))
        .filter_map(|der| Certificate::from_der(der).ok());
    embedded_certificates(signed).chain(trusted).collect()
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

/// The DER of the embedded certificates (untrusted intermediates for the chain check).
fn embedded(signed: &SignedData) -> Vec<Vec<u8>> {
    embedded_certificates(signed)
        .filter_map(|cert| cert.to_der().ok())
        .collect()
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
