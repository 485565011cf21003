//! A trusted key's check of one signature. Keys verify with the sigstore crate's scheme fixed
//! at load, except RSA keys whose `hashAlgorithm` is `sha384` or `sha512`, which that crate's
//! schemes do not offer: those verify PKCS#1 v1.5 over that digest with webpki's aws-lc-rs
//! algorithms, as cosign's `LoadVerifier` verifies an RSA key (PKCS#1 v1.5, never PSS).

use der::Decode;
use rustls::pki_types::SignatureVerificationAlgorithm;
use sigstore::crypto::Signature;
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use crate::policy::{RsaDigest, TrustedKey};

/// Whether `signature` (raw bytes) over `message` verifies under `key`.
pub(crate) fn key_verifies(key: &TrustedKey, signature: &[u8], message: &[u8]) -> bool {
    match key.rsa_digest {
        None => key
            .key
            .verify_signature(Signature::Raw(signature), message)
            .is_ok(),
        Some(digest) => rsa_verifies(key.spki(), digest, signature, message),
    }
}

fn rsa_verifies(spki: &[u8], digest: RsaDigest, signature: &[u8], message: &[u8]) -> bool {
    use webpki::aws_lc_rs as alg;
    let algorithm: &dyn SignatureVerificationAlgorithm = match digest {
        RsaDigest::Sha384 => alg::RSA_PKCS1_2048_8192_SHA384,
        RsaDigest::Sha512 => alg::RSA_PKCS1_2048_8192_SHA512,
    };
    let Ok(parsed) = SubjectPublicKeyInfoOwned::from_der(spki) else {
        return false;
    };
    let Some(public_key) = parsed.subject_public_key.as_bytes() else {
        return false;
    };
    algorithm
        .verify_signature(public_key, message, signature)
        .is_ok()
}
