//! `key.data`: PEM public keys, checked as policy-controller checks them (`PUBLIC KEY` PKIX or
//! `RSA PUBLIC KEY` PKCS#1 blocks that parse), then turned into sigstore verification keys with
//! the signature scheme `key.hashAlgorithm` asks for. DER is read by hand, only as far as needed.

use std::sync::Arc;

use base64::Engine;
use sha2::{Digest, Sha256};
use sigstore::crypto::CosignVerificationKey;

use crate::policy::model::{RsaDigest, TrustedKey};

const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const OID_X25519: &[u8] = &[0x2b, 0x65, 0x6e];
const OID_DSA: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01];
const OID_P224: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x21];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];

/// A public key parsed from one PEM block.
#[derive(Debug, Clone)]
pub(super) struct PublicKey {
    /// SubjectPublicKeyInfo DER (PKCS#1 RSA keys are wrapped into one).
    pub spki: Vec<u8>,
    pub algorithm: Algorithm,
}

/// The key algorithms Go's `x509.ParsePKIXPublicKey` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Algorithm {
    Rsa { bits: usize },
    Ecdsa { curve: Curve },
    Ed25519,
    X25519,
    Dsa,
}

/// NIST curves Go supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Curve {
    P224,
    P256,
    P384,
    P521,
}

impl Algorithm {
    /// `ECDSA P-256`, `RSA 2048`, `Ed25519`, ...
    pub(super) fn describe(&self) -> String {
        match self {
            Self::Rsa { bits } => format!("RSA {bits}"),
            Self::Ecdsa { curve } => format!("ECDSA {}", curve.name()),
            Self::Ed25519 => "Ed25519".into(),
            Self::X25519 => "X25519".into(),
            Self::Dsa => "DSA".into(),
        }
    }
}

impl Curve {
    fn name(&self) -> &'static str {
        match self {
            Self::P224 => "P-224",
            Self::P256 => "P-256",
            Self::P384 => "P-384",
            Self::P521 => "P-521",
        }
    }

    fn coordinate_len(&self) -> usize {
        match self {
            Self::P224 => 28,
            Self::P256 => 32,
            Self::P384 => 48,
            Self::P521 => 66,
        }
    }
}

/// Every public key in `data`, in order. Fails with a reason on the first block that is not one
/// (policy-controller checks the first block at admission and every block when it builds its
/// verifiers), or when there is no PEM block at all.
pub(super) fn parse_public_keys(data: &str) -> Result<Vec<PublicKey>, String> {
    let blocks = pem_blocks(data)?;
    if blocks.is_empty() {
        return Err("no PEM block found".into());
    }
    let many = blocks.len() > 1;
    blocks
        .iter()
        .enumerate()
        .map(|(i, (label, der))| {
            parse_block(label, der).map_err(|e| match many {
                true => format!("PEM block {}: {e}", i + 1),
                false => e,
            })
        })
        .collect()
}

/// The PEM blocks of `data` as (label, DER), skipping text around them as Go's `pem.Decode` does.
fn pem_blocks(data: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut blocks = Vec::new();
    let mut rest = data;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + "-----BEGIN ".len()..];
        let (label, body) = after.split_once("-----").ok_or("malformed PEM header")?;
        let end_marker = format!("-----END {label}-----");
        let (body, tail) = body
            .split_once(&end_marker)
            .ok_or("PEM block has no END line")?;
        let text: String = body
            .lines()
            .filter(|l| !l.contains(':'))
            .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| format!("corrupt PEM: the body is not base64 ({e})"))?;
        blocks.push((label.to_string(), der));
        rest = tail;
    }
    Ok(blocks)
}

fn parse_block(label: &str, der: &[u8]) -> Result<PublicKey, String> {
    match label {
        "PUBLIC KEY" => parse_spki(der).map_err(|e| match e.contains("malformed") {
            true => format!("corrupt PEM: the public key does not parse ({e})"),
            false => e,
        }),
        "RSA PUBLIC KEY" => {
            let bits = rsa_bits(der)?;
            Ok(PublicKey {
                spki: wrap_pkcs1(der),
                algorithm: Algorithm::Rsa { bits },
            })
        }
        other if other.contains("PRIVATE KEY") => Err(format!(
            "this is a private key (PEM block {other:?}), not a public key: give the public half \
             (cosign.pub, or `cosign public-key --key cosign.key`), and keep the private key secret"
        )),
        other if other.contains("CERTIFICATE") => Err(format!(
            "this is a certificate (PEM block {other:?}), not a public key: give its key \
             (`openssl x509 -pubkey -noout -in cert.pem`), or a keyless authority for certificates"
        )),
        other => Err(format!(
            "PEM block type {other:?} is not a public key (want \"PUBLIC KEY\")"
        )),
    }
}

/// SubjectPublicKeyInfo ::= SEQUENCE { AlgorithmIdentifier, BIT STRING }.
fn parse_spki(der: &[u8]) -> Result<PublicKey, String> {
    let (spki, trailing) = read(der, 0x30)?;
    if !trailing.is_empty() {
        return Err("trailing data after the public key".into());
    }
    let (algorithm_id, rest) = read(spki, 0x30)?;
    let (bits, _) = read(rest, 0x03)?;
    let key = match bits.split_first() {
        Some((0, key)) => key,
        _ => return Err("malformed public key bit string".into()),
    };
    let (oid, params) = read(algorithm_id, 0x06)?;
    let algorithm = classify(oid, params, key)?;
    Ok(PublicKey {
        spki: der.to_vec(),
        algorithm,
    })
}

fn classify(oid: &[u8], params: &[u8], key: &[u8]) -> Result<Algorithm, String> {
    match oid {
        OID_RSA => Ok(Algorithm::Rsa {
            bits: rsa_bits(key)?,
        }),
        OID_EC => ec_algorithm(params, key),
        OID_ED25519 if key.len() == 32 => Ok(Algorithm::Ed25519),
        OID_X25519 if key.len() == 32 => Ok(Algorithm::X25519),
        OID_ED25519 | OID_X25519 => Err("wrong key length".into()),
        OID_DSA => Ok(Algorithm::Dsa),
        _ => Err("unknown public key algorithm".into()),
    }
}

fn ec_algorithm(params: &[u8], point: &[u8]) -> Result<Algorithm, String> {
    let (curve_oid, _) = read(params, 0x06)?;
    let curve = match curve_oid {
        OID_P224 => Curve::P224,
        OID_P256 => Curve::P256,
        OID_P384 => Curve::P384,
        OID_P521 => Curve::P521,
        _ => return Err("unsupported elliptic curve".into()),
    };
    // Go accepts the uncompressed form only: 0x04 || X || Y.
    if point.first() != Some(&4) || point.len() != 1 + 2 * curve.coordinate_len() {
        return Err(format!("malformed {} point", curve.name()));
    }
    Ok(Algorithm::Ecdsa { curve })
}

/// RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }; returns modulus bits.
fn rsa_bits(der: &[u8]) -> Result<usize, String> {
    let (seq, _) = read(der, 0x30)?;
    let (modulus, rest) = read(seq, 0x02)?;
    let (exponent, _) = read(rest, 0x02)?;
    let modulus: Vec<u8> = modulus.iter().copied().skip_while(|b| *b == 0).collect();
    match modulus.first() {
        Some(top) if !exponent.is_empty() => Ok(modulus.len() * 8 - top.leading_zeros() as usize),
        _ => Err("malformed RSA public key".into()),
    }
}

/// Read one DER element with tag `tag`; returns (contents, rest).
fn read(der: &[u8], tag: u8) -> Result<(&[u8], &[u8]), String> {
    let malformed = || "malformed DER".to_string();
    let (&found, rest) = der.split_first().ok_or_else(malformed)?;
    if found != tag {
        return Err(malformed());
    }
    let (&first, rest) = rest.split_first().ok_or_else(malformed)?;
    let (len, rest) = match first {
        n if n < 0x80 => (usize::from(n), rest),
        0x81..=0x83 => {
            let count = usize::from(first - 0x80);
            let (bytes, rest) = rest.split_at_checked(count).ok_or_else(malformed)?;
            let len = bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, rest)
        }
        _ => return Err(malformed()),
    };
    rest.split_at_checked(len).ok_or_else(malformed)
}

/// Wrap a PKCS#1 RSAPublicKey into a SubjectPublicKeyInfo.
fn wrap_pkcs1(pkcs1: &[u8]) -> Vec<u8> {
    let mut algorithm = tlv(0x06, OID_RSA);
    algorithm.extend([0x05, 0x00]);
    let mut bits = vec![0];
    bits.extend_from_slice(pkcs1);
    let mut body = tlv(0x30, &algorithm);
    body.extend(tlv(0x03, &bits));
    tlv(0x30, &body)
}

fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = contents.len();
    match len {
        0..=0x7f => out.push(len as u8),
        0x80..=0xff => out.extend([0x81, len as u8]),
        _ => out.extend([0x82, (len >> 8) as u8, len as u8]),
    }
    out.extend_from_slice(contents);
    out
}

/// A trusted key for `public` verified with `hash` (`sha224`...`sha512`, lower case), or why
/// Signet's verifier cannot verify such signatures.
pub(super) fn trusted_key(public: &PublicKey, hash: &str) -> Result<TrustedKey, String> {
    let rsa_digest = match (public.algorithm, hash) {
        (Algorithm::Rsa { .. }, "sha384") => Some(RsaDigest::Sha384),
        (Algorithm::Rsa { .. }, "sha512") => Some(RsaDigest::Sha512),
        _ => None,
    };
    let supported = match public.algorithm {
        Algorithm::Rsa { .. } => hash == "sha256" || rsa_digest.is_some(),
        Algorithm::Ecdsa { curve: Curve::P256 } => hash == "sha256",
        Algorithm::Ecdsa { curve: Curve::P384 } => hash == "sha384",
        Algorithm::Ecdsa { curve: Curve::P521 } => hash == "sha512",
        Algorithm::Ed25519 => true,
        _ => false,
    };
    let algorithm = public.algorithm.describe();
    if !supported {
        return Err(unsupported_scheme(&algorithm, hash));
    }
    let key = CosignVerificationKey::try_from_der(&public.spki).map_err(|e| e.to_string())?;
    Ok(TrustedKey {
        key: Arc::new(key),
        fingerprint: format!("sha256:{}", hex::encode(Sha256::digest(&public.spki))),
        algorithm,
        rsa_digest,
    })
}

impl TrustedKey {
    /// The key's SubjectPublicKeyInfo DER.
    pub fn spki(&self) -> &[u8] {
        match self.key.as_ref() {
            CosignVerificationKey::RSA_PSS_SHA256(k)
            | CosignVerificationKey::RSA_PKCS1_SHA256(k)
            | CosignVerificationKey::ECDSA_P256_SHA256_ASN1(k)
            | CosignVerificationKey::ECDSA_P384_SHA384_ASN1(k)
            | CosignVerificationKey::ECDSA_P521_SHA512_ASN1(k)
            | CosignVerificationKey::ED25519(k) => k,
        }
    }

    /// Every public key in `pem` (one or more `PUBLIC KEY` / `RSA PUBLIC KEY` blocks), verified
    /// with `hash` (`sha256` … `sha512`), as `key.data` is read. For other policy formats
    /// (containers-policy.json) and tests that build authorities directly.
    pub fn from_pem(pem: &str, hash: &str) -> Result<Vec<TrustedKey>, String> {
        parse_public_keys(pem)?
            .iter()
            .map(|public| trusted_key(public, hash))
            .collect()
    }
}

fn unsupported_scheme(algorithm: &str, hash: &str) -> String {
    let hint = match algorithm {
        a if a.starts_with("RSA") => "RSA keys verify with sha256, sha384 or sha512",
        "ECDSA P-256" => "P-256 keys verify with sha256 only",
        "ECDSA P-384" => {
            "P-384 keys verify with sha384 only; set hashAlgorithm: sha384 if that is what signed"
        }
        "ECDSA P-521" => {
            "P-521 keys verify with sha512 only; set hashAlgorithm: sha512 if that is what signed"
        }
        _ => "supported keys are RSA, ECDSA P-256/P-384/P-521 and Ed25519",
    };
    format!("{algorithm} signatures over {hash} cannot be verified yet ({hint})")
}

#[cfg(test)]
mod tests {
    use super::*;

    const P256: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEZxAfzrQG1EbWyCI8LiSB7YgSFXoI
FNGTyQGKHFc6/H8TQumT9VLS78pUwtv3w7EfKoyFZoP32KrO7nzUy2q6Cw==
-----END PUBLIC KEY-----
";

    #[test]
    fn p256_key_parses_with_fingerprint_and_algorithm() {
        let keys = parse_public_keys(P256).unwrap();
        let key = trusted_key(&keys[0], "sha256").unwrap();
        assert_eq!(key.algorithm, "ECDSA P-256");
        assert!(key.fingerprint.starts_with("sha256:") && key.fingerprint.len() == 71);
    }

    #[test]
    fn several_blocks_give_several_keys() {
        let keys = parse_public_keys(&format!("{P256}\n{P256}")).unwrap();
        assert_eq!(keys.len(), 2);
    }

    #[test]
    fn garbage_and_wrong_block_types_are_refused() {
        assert!(parse_public_keys("---somedata---").is_err());
        let cert = P256.replace("PUBLIC KEY", "CERTIFICATE");
        assert!(
            parse_public_keys(&cert)
                .unwrap_err()
                .contains("CERTIFICATE")
        );
        let truncated = P256.replace("Cw==", "");
        assert!(parse_public_keys(&truncated).is_err());
    }

    #[test]
    fn p256_with_sha512_is_unsupported_with_a_reason() {
        let keys = parse_public_keys(P256).unwrap();
        let err = trusted_key(&keys[0], "sha512").unwrap_err();
        assert!(err.contains("ECDSA P-256 signatures over sha512"), "{err}");
    }

    const RSA_SPKI: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtWAZccty/AZIU8JCO/5M
AxJhd/JaZpmtg73GejDF5i7Z8zaWQkJbdw4kfkuTrSAhqzZAKxLV0n6TE+ewzPcc
QSasS+FBBAqA+sxpU3m9YiKwT9J6Oecrb5Vqpfb57dT2iZ3PiGvkLxe40hqQYHh7
wIRWQV5eEyZJjmRf+MQxssRpwAfUmlglOPc2XD0tz5/DQuy4Qgna3MaZIZbH59nf
IhOIHDVW2iyBLYNJk3pmXvbYV3A0QZF4ICDJ0LU4SXQpWNm2K+Za6jKKTGPx7GBj
iorLsH0pBKWNaKzm9X3Mk5veUF6DRN7/4KHiOSc+CSytrNibXauvVTg0cYlyLwnN
IwIDAQAB
-----END PUBLIC KEY-----";

    /// The same RSA key as `RSA_SPKI`, written as PKCS#1.
    const RSA_PKCS1: &str = "-----BEGIN RSA PUBLIC KEY-----
MIIBCgKCAQEAtWAZccty/AZIU8JCO/5MAxJhd/JaZpmtg73GejDF5i7Z8zaWQkJb
dw4kfkuTrSAhqzZAKxLV0n6TE+ewzPccQSasS+FBBAqA+sxpU3m9YiKwT9J6Oecr
b5Vqpfb57dT2iZ3PiGvkLxe40hqQYHh7wIRWQV5eEyZJjmRf+MQxssRpwAfUmlgl
OPc2XD0tz5/DQuy4Qgna3MaZIZbH59nfIhOIHDVW2iyBLYNJk3pmXvbYV3A0QZF4
ICDJ0LU4SXQpWNm2K+Za6jKKTGPx7GBjiorLsH0pBKWNaKzm9X3Mk5veUF6DRN7/
4KHiOSc+CSytrNibXauvVTg0cYlyLwnNIwIDAQAB
-----END RSA PUBLIC KEY-----";

    const P384: &str = "-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAELQw1F2d4aU7bm9AAAPbc7y/lzmN3w48g
bo/ubsU6+kzsxNK66EuOEOB7LkaCM4kowUumuXSBNhBJ3gB3VysPp/TB7slBxTJh
wIyLQorQh2eM9NIVlAUGyj18Xlh8BdCp
-----END PUBLIC KEY-----";

    const P224: &str = "-----BEGIN PUBLIC KEY-----
ME4wEAYHKoZIzj0CAQYFK4EEACEDOgAEIQgbKKBZ93YttKSlHKRYtTfAatJWBT/L
FPeTyuTkJaTqe0WflvmSev8wCtuVukRgRf2qEXvFO6I=
-----END PUBLIC KEY-----";

    const ED25519: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAXGhuVmDXQ8I8wcCu4XNodWjL1AJpZ9AtsxsPDu4L6y0=
-----END PUBLIC KEY-----";

    fn trusted(pem: &str, hash: &str) -> Result<TrustedKey, String> {
        let keys = parse_public_keys(pem)?;
        trusted_key(keys.first().ok_or("no key")?, hash)
    }

    #[test]
    fn one_rsa_key_in_either_encoding_has_one_fingerprint() {
        let spki = trusted(RSA_SPKI, "sha256").unwrap();
        let pkcs1 = trusted(RSA_PKCS1, "sha256").unwrap();
        assert_eq!(spki.algorithm, "RSA 2048");
        assert_eq!(spki.fingerprint, pkcs1.fingerprint);
        assert!(matches!(
            *pkcs1.key,
            CosignVerificationKey::RSA_PKCS1_SHA256(_)
        ));
    }

    #[test]
    fn schemes_follow_key_type_and_hash_algorithm() {
        assert!(
            trusted(P384, "sha256")
                .unwrap_err()
                .contains("set hashAlgorithm: sha384")
        );
        let p384 = trusted(P384, "sha384").unwrap();
        assert!(matches!(
            *p384.key,
            CosignVerificationKey::ECDSA_P384_SHA384_ASN1(_)
        ));
        assert_eq!(trusted(ED25519, "sha512").unwrap().algorithm, "Ed25519");
        // Valid for policy-controller (Go parses P-224), not verifiable by Signet.
        assert!(trusted(P224, "sha256").unwrap_err().contains("ECDSA P-224"));
    }

    #[test]
    fn pkcs1_rsa_keys_are_wrapped_to_spki() {
        // A tiny RSA key body: modulus 0x00c3 (8 bits), exponent 3.
        let pkcs1 = [0x30, 0x07, 0x02, 0x02, 0x00, 0xc3, 0x02, 0x01, 0x03];
        let spki = wrap_pkcs1(&pkcs1);
        let parsed = parse_spki(&spki).unwrap();
        assert_eq!(parsed.algorithm, Algorithm::Rsa { bits: 8 });
    }
}
