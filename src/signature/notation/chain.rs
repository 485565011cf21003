//! The envelope's certificate chain and signature, judged as notation-core-go's
//! `ValidateCodeSigningCertChain` and envelope `Verify` judge them (signature-specification.md,
//! "Certificate Requirements"): a complete chain, signing certificate first and a self-signed
//! root last (or one self-signed signing certificate); each certificate issued and signed by
//! the next; the signing certificate not a CA, its key usage critical and digital signature
//! only, no server, client, e-mail, timestamping or OCSP extended key usage, its key one the
//! specification allows and matching the envelope's algorithm; each CA with `ca: true`, a path
//! length that allows the certificates below it, and a critical key usage with certificate
//! signing. Validity periods are judged by the authentic-timestamp check, not here.

use der::asn1::UintRef;
use der::{Decode, Encode, Sequence};
use rustls::pki_types::SignatureVerificationAlgorithm;
use webpki::aws_lc_rs as alg;
use x509_cert::Certificate;
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage};

use super::envelope::{Algorithm, MAX_CERTIFICATE_BYTES};
use super::errors::{NotationEnvelopeError, malformed};

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
/// Extended key usages a signing certificate must not have (notation-core-go's list).
const EXCLUDED_EKUS: &[(&str, &str)] = &[
    ("1.3.6.1.5.5.7.3.1", "ServerAuth"),
    ("1.3.6.1.5.5.7.3.2", "ClientAuth"),
    ("1.3.6.1.5.5.7.3.4", "EmailProtection"),
    ("1.3.6.1.5.5.7.3.8", "Timestamping"),
    ("1.3.6.1.5.5.7.3.9", "OCSPSigning"),
];

/// One certificate of the chain.
pub(super) struct ChainCertificate {
    pub der: Vec<u8>,
    pub cert: Certificate,
    /// notBefore and notAfter, Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    /// The subject as RFC 4514 text, for messages.
    pub subject: String,
}

/// Parse the chain's certificates (strict DER, bounded).
pub(super) fn parse(chain: &[Vec<u8>]) -> Result<Vec<ChainCertificate>, NotationEnvelopeError> {
    if chain.is_empty() {
        return Err(malformed("the envelope carries no certificate chain"));
    }
    chain.iter().map(|der| parse_one(der)).collect()
}

fn parse_one(der: &[u8]) -> Result<ChainCertificate, NotationEnvelopeError> {
    if der.len() > MAX_CERTIFICATE_BYTES {
        return Err(NotationEnvelopeError::Oversized {
            what: "a certificate of the chain",
            limit: MAX_CERTIFICATE_BYTES,
        });
    }
    let cert = Certificate::from_der(der)
        .map_err(|e| malformed(format!("a certificate of the chain is not X.509 DER: {e}")))?;
    // Re-encoding must give the same bytes: signatures are then checked over exactly the
    // TBS bytes the certificate carries.
    if cert.to_der().ok().as_deref() != Some(der) {
        return Err(malformed(
            "a certificate of the chain is not in canonical DER",
        ));
    }
    let validity = cert.tbs_certificate().validity();
    let seconds = |d: std::time::Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
    Ok(ChainCertificate {
        not_before: seconds(validity.not_before.to_unix_duration()),
        not_after: seconds(validity.not_after.to_unix_duration()),
        subject: cert.tbs_certificate().subject().to_string(),
        der: der.to_vec(),
        cert,
    })
}

/// Why the chain does not meet the specification's certificate requirements.
pub(super) fn validate(chain: &[ChainCertificate]) -> Result<(), String> {
    let Some((leaf, issuers)) = chain.split_first() else {
        return Err("the certificate chain is empty".into());
    };
    if issuers.is_empty() {
        if !issued_by(leaf, leaf) {
            return Err(format!(
                "the only certificate of the chain ({:?}) is not self-signed: the chain must end \
                 with a root certificate",
                leaf.subject
            ));
        }
        return leaf_requirements(leaf);
    }
    for (i, cert) in chain.iter().enumerate() {
        match chain.get(i + 1) {
            None => {
                if !issued_by(cert, cert) {
                    return Err(format!(
                        "the chain must end with a self-signed root certificate, but {:?} is not \
                         self-signed",
                        cert.subject
                    ));
                }
            }
            Some(parent) => {
                if issued_by(cert, cert) {
                    let role = if i == 0 { "signing" } else { "intermediate" };
                    return Err(format!(
                        "the {role} certificate {:?} is self-signed: only the last certificate \
                         of the chain may be",
                        cert.subject
                    ));
                }
                if !issued_by(cert, parent) {
                    return Err(format!(
                        "the certificate {:?} is not issued and signed by the next certificate \
                         of the chain, {:?}",
                        cert.subject, parent.subject
                    ));
                }
            }
        }
        match i {
            0 => leaf_requirements(cert)?,
            _ => ca_requirements(cert, i - 1)?,
        }
    }
    Ok(())
}

/// The signing certificate's requirements.
fn leaf_requirements(cert: &ChainCertificate) -> Result<(), String> {
    let tbs = cert.cert.tbs_certificate();
    let bad = |what: &str| format!("the signing certificate {:?} {what}", cert.subject);
    not_ca(cert).map_err(|what| bad(&what))?;
    digital_signature_only(&key_usage(cert)?).map_err(|what| bad(&what))?;
    match tbs.get_extension::<ExtendedKeyUsage>() {
        Ok(Some((_, ekus))) => {
            for eku in &ekus.0 {
                let text = eku.to_string();
                if let Some((_, name)) = EXCLUDED_EKUS.iter().find(|(oid, _)| *oid == text) {
                    return Err(bad(&format!(
                        "has the {name} extended key usage, which a code-signing certificate \
                         must not have"
                    )));
                }
            }
        }
        Ok(None) => {}
        Err(_) => return Err(bad("has an unreadable extended key usage")),
    }
    key_algorithm(cert).map(|_| ())
}

/// The requirements of the certificate that signed an RFC 3161 timestamp (notation-core-go
/// `validateTimestampingLeafCertificate`): not a CA, key usage digital signature only,
/// exactly one extended key usage, time stamping, marked critical (RFC 3161 §2.3), a key the
/// specification allows. Its chain to the `tsa` root is checked by the timestamp verifier.
pub(super) fn timestamping_leaf_requirements(der: &[u8]) -> Result<(), String> {
    let cert = parse_one(der).map_err(|e| e.to_string())?;
    let bad = |what: &str| {
        format!(
            "the timestamp's signing certificate {:?} {what}",
            cert.subject
        )
    };
    not_ca(&cert).map_err(|what| bad(&what))?;
    let tbs = cert.cert.tbs_certificate();
    match tbs.get_extension::<KeyUsage>() {
        Ok(Some((_, usage))) => digital_signature_only(&usage).map_err(|what| bad(&what))?,
        _ => return Err(bad("has no readable key usage extension")),
    }
    match tbs.get_extension::<ExtendedKeyUsage>() {
        Ok(Some((true, ekus))) if ekus.0.len() == 1 && ekus.0.contains(&TIME_STAMPING) => {}
        _ => {
            return Err(bad(
                "must have exactly the Timestamping extended key usage, marked critical",
            ));
        }
    }
    key_algorithm(&cert).map(|_| ())
}

/// Basic constraints, when present, say `ca: false`.
fn not_ca(cert: &ChainCertificate) -> Result<(), String> {
    match cert
        .cert
        .tbs_certificate()
        .get_extension::<BasicConstraints>()
    {
        Ok(Some((_, constraints))) if constraints.ca => {
            Err("is a CA (basic constraints ca: true)".into())
        }
        Ok(_) => Ok(()),
        Err(_) => Err("has unreadable basic constraints".into()),
    }
}

/// Digital signature set; nothing but it and non-repudiation.
fn digital_signature_only(usage: &KeyUsage) -> Result<(), String> {
    if !usage.digital_signature() {
        return Err("lacks the Digital Signature key usage".into());
    }
    let extra = [
        (usage.key_encipherment(), "KeyEncipherment"),
        (usage.data_encipherment(), "DataEncipherment"),
        (usage.key_agreement(), "KeyAgreement"),
        (usage.key_cert_sign(), "CertSign"),
        (usage.crl_sign(), "CRLSign"),
        (usage.encipher_only(), "EncipherOnly"),
        (usage.decipher_only(), "DecipherOnly"),
    ];
    let extra: Vec<&str> = extra
        .iter()
        .filter(|(set, _)| *set)
        .map(|(_, n)| *n)
        .collect();
    match extra.is_empty() {
        true => Ok(()),
        false => Err(format!(
            "has key usages other than Digital Signature: {}",
            extra.join(", ")
        )),
    }
}

/// A CA certificate's requirements; `below` CAs sit between it and the signing certificate.
fn ca_requirements(cert: &ChainCertificate, below: usize) -> Result<(), String> {
    let subject = &cert.subject;
    match cert
        .cert
        .tbs_certificate()
        .get_extension::<BasicConstraints>()
    {
        Ok(Some((_, constraints))) if constraints.ca => {
            if let Some(limit) = constraints.path_len_constraint {
                if usize::from(limit) < below {
                    return Err(format!(
                        "the CA certificate {subject:?} allows a path length of {limit}, but \
                         {below} CA certificates follow it"
                    ));
                }
            }
        }
        _ => {
            return Err(format!(
                "the certificate {subject:?} issues another but is not a CA (basic constraints \
                 must be present with ca: true)"
            ));
        }
    }
    if !key_usage(cert)?.key_cert_sign() {
        return Err(format!(
            "the CA certificate {subject:?} lacks the Certificate Sign key usage"
        ));
    }
    Ok(())
}

/// The key usage extension, which must be present and critical.
fn key_usage(cert: &ChainCertificate) -> Result<KeyUsage, String> {
    let subject = &cert.subject;
    match cert.cert.tbs_certificate().get_extension::<KeyUsage>() {
        Ok(Some((true, usage))) => Ok(usage),
        Ok(Some((false, _))) => Err(format!(
            "the certificate {subject:?} has a key usage extension not marked critical"
        )),
        Ok(None) => Err(format!(
            "the certificate {subject:?} has no key usage extension"
        )),
        Err(_) => Err(format!(
            "the certificate {subject:?} has an unreadable key usage extension"
        )),
    }
}

#[derive(Sequence)]
struct RsaPublicKey<'a> {
    modulus: UintRef<'a>,
    #[allow(dead_code, reason = "read to consume the field")]
    exponent: UintRef<'a>,
}

/// The signature algorithm the specification assigns to the certificate's key: RSA 2048, 3072,
/// 4096 bits to PS256, PS384, PS512; ECDSA P-256, P-384, P-521 to ES256, ES384, ES512.
pub(super) fn key_algorithm(cert: &ChainCertificate) -> Result<Algorithm, String> {
    let spki = cert.cert.tbs_certificate().subject_public_key_info();
    let subject = &cert.subject;
    let unsupported = |what: String| {
        format!(
            "the signing certificate {subject:?} has a key the specification does not allow: {what}"
        )
    };
    match spki.algorithm.oid {
        RSA_ENCRYPTION => {
            let key = spki
                .subject_public_key
                .as_bytes()
                .and_then(|bytes| RsaPublicKey::from_der(bytes).ok())
                .ok_or_else(|| unsupported("an unreadable RSA key".into()))?;
            let modulus = key.modulus.as_bytes();
            let bits = match modulus.first() {
                Some(first) => (modulus.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
                None => 0,
            };
            match bits {
                2048 => Ok(Algorithm::Ps256),
                3072 => Ok(Algorithm::Ps384),
                4096 => Ok(Algorithm::Ps512),
                other => Err(unsupported(format!("RSA {other} bits"))),
            }
        }
        EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
            match curve {
                Some(P256) => Ok(Algorithm::Es256),
                Some(P384) => Ok(Algorithm::Es384),
                Some(P521) => Ok(Algorithm::Es512),
                other => Err(unsupported(format!("elliptic curve {other:?}"))),
            }
        }
        other => Err(unsupported(format!("key algorithm {other}"))),
    }
}

/// Does the envelope's signature verify with the signing certificate's key, with the
/// algorithm the envelope names, which must be the one its key implies?
pub(super) fn verify_signature(
    leaf: &ChainCertificate,
    algorithm: Algorithm,
    message: &[u8],
    signature: &[u8],
) -> Result<(), String> {
    let implied = key_algorithm(leaf)?;
    if implied != algorithm {
        return Err(format!(
            "the envelope names algorithm {} but the signing certificate's key implies {}",
            algorithm.name(),
            implied.name()
        ));
    }
    let (verifier, der_signature): (&dyn SignatureVerificationAlgorithm, Vec<u8>) = match algorithm
    {
        Algorithm::Ps256 => (alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY, signature.to_vec()),
        Algorithm::Ps384 => (alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY, signature.to_vec()),
        Algorithm::Ps512 => (alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY, signature.to_vec()),
        Algorithm::Es256 => (alg::ECDSA_P256_SHA256, ecdsa_der(signature, 32)?),
        Algorithm::Es384 => (alg::ECDSA_P384_SHA384, ecdsa_der(signature, 48)?),
        Algorithm::Es512 => (alg::ECDSA_P521_SHA512, ecdsa_der(signature, 66)?),
    };
    let key = public_key(&leaf.cert);
    verifier
        .verify_signature(key, message, &der_signature)
        .map_err(|_| {
            "the signature does not verify with the signing certificate's key: the envelope \
             was altered or signed with another key"
                .to_string()
        })
}

/// A fixed-size `r || s` ECDSA signature (JWS, COSE) as the DER `Ecdsa-Sig-Value` webpki reads.
fn ecdsa_der(signature: &[u8], half: usize) -> Result<Vec<u8>, String> {
    if signature.len() != half * 2 {
        return Err(format!(
            "the ECDSA signature is {} bytes, not {}",
            signature.len(),
            half * 2
        ));
    }
    let (r, s) = signature.split_at(half);
    let integer = |bytes: &[u8]| -> Vec<u8> {
        let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
        let mut body = Vec::with_capacity(trimmed.len() + 1);
        if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
            body.push(0);
        }
        body.extend(trimmed);
        let mut out = vec![0x02];
        push_length(&mut out, body.len());
        out.extend(body);
        out
    };
    let body = [integer(r), integer(s)].concat();
    let mut out = vec![0x30];
    push_length(&mut out, body.len());
    out.extend(body);
    Ok(out)
}

fn push_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        out.extend([0x81, len as u8]);
    }
}

fn public_key(cert: &Certificate) -> &[u8] {
    cert.tbs_certificate()
        .subject_public_key_info()
        .subject_public_key
        .raw_bytes()
}

/// Is `cert` issued by `issuer` (names match) and signed with its key?
fn issued_by(cert: &ChainCertificate, issuer: &ChainCertificate) -> bool {
    let tbs = cert.cert.tbs_certificate();
    let names_match =
        tbs.issuer().to_der().ok() == issuer.cert.tbs_certificate().subject().to_der().ok();
    let Ok(tbs_der) = tbs.to_der() else {
        return false;
    };
    let key = public_key(&issuer.cert);
    let signature = cert.cert.signature().raw_bytes();
    names_match
        && certificate_algorithms(&cert.cert)
            .iter()
            .any(|a| a.verify_signature(key, &tbs_der, signature).is_ok())
}

type Algorithms = &'static [&'static dyn SignatureVerificationAlgorithm];

const RSA_SHA256: Algorithms = &[alg::RSA_PKCS1_2048_8192_SHA256];
const RSA_SHA384: Algorithms = &[alg::RSA_PKCS1_2048_8192_SHA384];
const RSA_SHA512: Algorithms = &[alg::RSA_PKCS1_2048_8192_SHA512];
const RSA_PSS: Algorithms = &[
    alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
    alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
];
const ECDSA_SHA256: Algorithms = &[
    alg::ECDSA_P256_SHA256,
    alg::ECDSA_P384_SHA256,
    alg::ECDSA_P521_SHA256,
];
const ECDSA_SHA384: Algorithms = &[
    alg::ECDSA_P256_SHA384,
    alg::ECDSA_P384_SHA384,
    alg::ECDSA_P521_SHA384,
];
const ECDSA_SHA512: Algorithms = &[
    alg::ECDSA_P256_SHA512,
    alg::ECDSA_P384_SHA512,
    alg::ECDSA_P521_SHA512,
];
const ED25519: Algorithms = &[alg::ED25519];

/// The webpki algorithms a certificate's signature algorithm may mean (the wrong curve or
/// hash simply fails to verify).
fn certificate_algorithms(cert: &Certificate) -> Algorithms {
    match cert.signature_algorithm().oid.to_string().as_str() {
        "1.2.840.113549.1.1.11" => RSA_SHA256,
        "1.2.840.113549.1.1.12" => RSA_SHA384,
        "1.2.840.113549.1.1.13" => RSA_SHA512,
        "1.2.840.113549.1.1.10" => RSA_PSS,
        "1.2.840.10045.4.3.2" => ECDSA_SHA256,
        "1.2.840.10045.4.3.3" => ECDSA_SHA384,
        "1.2.840.10045.4.3.4" => ECDSA_SHA512,
        "1.3.101.112" => ED25519,
        _ => &[],
    }
}
