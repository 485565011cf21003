//! Offline verification of one Sigstore bundle (v0.1 to v0.3) against trusted keys or a Fulcio
//! and Rekor trust root, for any artifact: what was signed, by whom, and proof that the log
//! recorded exactly that. What the signed content must say about an image (statement type,
//! subject digest, identity) is checked by the caller (`bundle.rs`), as are the allowed
//! certificate identities. Pure: no network, no clock (certificates are judged at every trusted
//! time: the SET's integratedTime and each verified RFC 3161 timestamp).

use sha2::{Digest, Sha256};
use sigstore::crypto::{CosignVerificationKey, Signature};

use crate::policy::{KeylessTrust, TrustedKey};
use crate::signature::key_verify::key_verifies;

use super::super::certificate::{self, CertificateError, SigningCertificate};
use super::BundleError;
use super::dsse::{self, Statement};
use super::timestamp;
use super::tlog::{self, Logged, LoggedBody};
use super::wire::{self, Version};

/// Whose signature a bundle must carry.
#[derive(Clone, Copy)]
pub enum Signer<'a> {
    /// A Fulcio certificate chaining to `trust`, logged in one of its Rekor logs.
    Keyless(&'a KeylessTrust),
    /// One of `keys`; when `log` is given the bundle must also be logged there.
    Keys {
        /// The trusted keys.
        keys: &'a [TrustedKey],
        /// Rekor keys the entry must verify with, if a log is required.
        log: Option<&'a KeylessTrust>,
    },
}

/// What a bundle proved.
#[derive(Debug)]
pub struct VerifiedBundle {
    /// What was signed.
    pub content: SignedContent,
    /// The signing certificate (keyless), valid and trusted at the log time.
    pub certificate: Option<SigningCertificate>,
    /// `sha256:` fingerprint of the key that verified the signature.
    pub key_fingerprint: String,
    /// The log entry's index and the signing time (the earliest trusted time: the SET's
    /// integratedTime or a verified RFC 3161 timestamp), when a log was checked.
    pub log: Option<(i64, i64)>,
    /// The DSSE payload exactly as signed (the in-toto Statement), for envelopes.
    pub payload: Option<Vec<u8>>,
}

/// The signed content of a bundle.
#[derive(Debug)]
pub enum SignedContent {
    /// `messageSignature`: a signature over an artifact (a blob), given by the caller.
    Message,
    /// `dsseEnvelope` with an in-toto statement.
    Statement(Statement),
}

/// The content and its one signature, as the bundle carries them.
enum Content {
    Message {
        signature: Vec<u8>,
        digest: Option<(String, Vec<u8>)>,
    },
    Envelope {
        payload_type: String,
        payload: Vec<u8>,
        signature: Vec<u8>,
    },
}

/// The key a signature is checked with.
enum Verifier<'a> {
    Certificate(SigningCertificate),
    Key(&'a TrustedKey),
}

/// Steps 1 to 8 for `bytes`; `artifact` is the signed blob for message signatures (and, for
/// statements, a blob one of the subjects must name).
pub fn verify_sigstore_bundle(
    bytes: &[u8],
    artifact: Option<&[u8]>,
    signer: Signer<'_>,
) -> Result<VerifiedBundle, BundleError> {
    // 1. The bundle parses, in a version Signet knows.
    let bundle = wire::parse(bytes).map_err(BundleError::Malformed)?;
    let version = Version::from_media_type(&bundle.media_type).ok_or_else(|| {
        BundleError::Malformed(format!("unknown bundle media type {:?}", bundle.media_type))
    })?;
    // 2. Exactly one signed content with exactly one signature.
    let content = content(bundle.message_signature, bundle.dsse_envelope)?;
    let material = &bundle.verification_material;
    // 3. The signature verifies with the certificate's key or a trusted key: checked before the
    //    log entry, so a bundle that anyone can make costs one verification, not a checkpoint's.
    let signed = signed_bytes(&content, artifact)?;
    let verifier = match signer {
        Signer::Keyless(_) => Verifier::Certificate(leaf(material, version)?),
        Signer::Keys { keys, .. } => Verifier::Key(
            keys.iter()
                .find(|k| key_verifies(k, signature(&content), &signed))
                .ok_or_else(|| {
                    BundleError::Signature("signed by none of the trusted keys".into())
                })?,
        ),
    };
    if let Verifier::Certificate(cert) = &verifier {
        if !verifies(&cert.key, signature(&content), &signed) {
            return Err(BundleError::Signature(
                "the signature does not verify with the certificate's key".into(),
            ));
        }
    }
    // 4. The transparency-log entry, when the signer requires one.
    let log_trust = match signer {
        Signer::Keyless(trust) => Some(trust),
        Signer::Keys { log, .. } => log,
    };
    let logged = match log_trust {
        Some(trust) => Some(one_entry(&material.tlog_entries, version, trust)?),
        None => None,
    };
    // 5. The log entry records exactly this signature, verifier and content.
    if let Some(logged) = &logged {
        bind(logged, &content, &verifier, &signed)?;
    }
    // 6. Trusted times: the SET's integratedTime and each verified RFC 3161 timestamp.
    let times = match (&logged, log_trust) {
        (Some(logged), Some(trust)) => trusted_times(logged, material, trust, signature(&content))?,
        _ => Vec::new(),
    };
    // 7. The certificate chains to a trusted CA at every trusted time (there is at least one).
    if let Verifier::Certificate(_) = &verifier {
        if times.is_empty() {
            return Err(BundleError::Timestamp("no trusted signing time".into()));
        }
    }
    if let (Verifier::Certificate(cert), Some(trust)) = (&verifier, log_trust) {
        let presented = presented_intermediates(material);
        for at in &times {
            certificate::verify_chain(cert, &presented, trust, *at)
                .map_err(BundleError::Untrusted)?;
        }
    }
    // 8. What was signed.
    let (content, signed_payload) = match content {
        Content::Message { digest, .. } => {
            check_message_digest(digest, artifact)?;
            (SignedContent::Message, None)
        }
        Content::Envelope {
            payload_type,
            payload,
            ..
        } => {
            let statement =
                dsse::parse_statement(&payload_type, &payload).map_err(BundleError::Content)?;
            if let Some(blob) = artifact {
                let hex = hex::encode(Sha256::digest(blob));
                statement
                    .subject_for("sha256", &hex)
                    .ok_or_else(|| BundleError::Content("no subject names the artifact".into()))?;
            }
            (SignedContent::Statement(statement), Some(payload))
        }
    };
    let (certificate, key_fingerprint) = match verifier {
        Verifier::Certificate(cert) => {
            let fingerprint = cert.key_fingerprint.clone();
            (Some(cert), fingerprint)
        }
        Verifier::Key(key) => (None, key.fingerprint.clone()),
    };
    Ok(VerifiedBundle {
        content,
        certificate,
        key_fingerprint,
        log: logged.and_then(|l| Some((l.log_index, *times.iter().min()?))),
        payload: signed_payload,
    })
}

fn content(
    message: Option<wire::MessageSignature>,
    envelope: Option<wire::Envelope>,
) -> Result<Content, BundleError> {
    match (message, envelope) {
        (Some(m), None) => Ok(Content::Message {
            signature: m.signature,
            digest: m.message_digest.map(|d| (d.algorithm, d.digest)),
        }),
        (None, Some(mut e)) => match (e.signatures.pop(), e.signatures.is_empty()) {
            (Some(s), true) => Ok(Content::Envelope {
                payload_type: e.payload_type,
                payload: e.payload,
                signature: s.sig,
            }),
            _ => Err(BundleError::Malformed(
                "the DSSE envelope must carry exactly one signature".into(),
            )),
        },
        _ => Err(BundleError::Malformed(
            "a bundle carries exactly one of messageSignature and dsseEnvelope".into(),
        )),
    }
}

/// The SET's integratedTime, if the entry has one, and the time of every RFC 3161 timestamp,
/// each verified against the trust root's timestamp authorities. A trust root without any
/// timestamp authority cannot verify a timestamp, so there timestamps are ignored (never a
/// reason to accept); otherwise every timestamp must verify. An entry without a SET (Rekor v2)
/// needs at least one verified timestamp, and its log's key must be valid at each.
fn trusted_times(
    logged: &Logged,
    material: &wire::VerificationMaterial,
    trust: &KeylessTrust,
    signature: &[u8],
) -> Result<Vec<i64>, BundleError> {
    let data = material.timestamp_verification_data.as_ref();
    let stamps = data.map(|d| &d.rfc3161_timestamps[..]).unwrap_or_default();
    if stamps.len() > timestamp::MAX_TIMESTAMPS {
        return Err(BundleError::Malformed(
            "too many RFC 3161 timestamps".into(),
        ));
    }
    let mut stamp_times = Vec::new();
    if !trust.timestamp_authorities.is_empty() {
        for stamp in stamps {
            stamp_times.push(timestamp::verify(
                &stamp.signed_timestamp,
                signature,
                trust,
            )?);
        }
    }
    let Some(integrated_time) = logged.integrated_time else {
        if stamp_times.is_empty() {
            return Err(BundleError::Timestamp(
                "the log entry has no signed entry timestamp (Rekor v2) and the bundle no \
                 verified RFC 3161 timestamp: no trusted signing time"
                    .into(),
            ));
        }
        if let Some(at) = stamp_times
            .iter()
            .find(|t| !logged.key_valid_for.contains(**t))
        {
            return Err(BundleError::Log(format!(
                "the log's key was not trusted at the timestamp's time {}",
                certificate::rfc3339(*at)
            )));
        }
        return Ok(stamp_times);
    };
    stamp_times.push(integrated_time);
    Ok(stamp_times)
}

fn one_entry(
    entries: &[wire::TlogEntry],
    version: Version,
    trust: &KeylessTrust,
) -> Result<Logged, BundleError> {
    match entries {
        [entry] => tlog::verify_entry(entry, version, trust),
        [] => Err(BundleError::Log(
            "the bundle has no transparency-log entry".into(),
        )),
        _ => Err(BundleError::Unsupported(
            "bundles with several transparency-log entries".into(),
        )),
    }
}

fn signature(content: &Content) -> &[u8] {
    match content {
        Content::Message { signature, .. } | Content::Envelope { signature, .. } => signature,
    }
}

/// The bytes the signature is over: the artifact, or the envelope's PAE.
fn signed_bytes(content: &Content, artifact: Option<&[u8]>) -> Result<Vec<u8>, BundleError> {
    match content {
        Content::Message { .. } => artifact.map(<[u8]>::to_vec).ok_or_else(|| {
            BundleError::Content("a message signature signs a blob, not an image".into())
        }),
        Content::Envelope {
            payload_type,
            payload,
            ..
        } => Ok(dsse::pae(payload_type, payload)),
    }
}

fn verifies(key: &CosignVerificationKey, signature: &[u8], signed: &[u8]) -> bool {
    key.verify_signature(Signature::Raw(signature), signed)
        .is_ok()
}

/// The signing certificate: v0.3's `certificate`, or the first of an older chain, which must
/// hold no root (roots come only from the trust root).
fn leaf(
    material: &wire::VerificationMaterial,
    version: Version,
) -> Result<SigningCertificate, BundleError> {
    let der = match (
        &material.certificate,
        &material.x509_certificate_chain,
        version,
    ) {
        (Some(cert), None, Version::V03) => cert.raw_bytes.clone(),
        (None, Some(chain), Version::V01 | Version::V02) => {
            if chain
                .certificates
                .iter()
                .any(|c| certificate::is_self_issued(&c.raw_bytes))
            {
                return Err(BundleError::Malformed(
                    "the certificate chain contains a root certificate".into(),
                ));
            }
            let first = chain.certificates.first();
            first
                .map(|c| c.raw_bytes.clone())
                .ok_or_else(|| BundleError::Malformed("the certificate chain is empty".into()))?
        }
        (None, None, _) if material.public_key.is_some() => {
            return Err(BundleError::Certificate(CertificateError::Malformed(
                "the bundle is signed with a key, not a certificate".into(),
            )));
        }
        (None, None, _) => {
            return Err(BundleError::Malformed(
                "the bundle carries no certificate".into(),
            ));
        }
        _ => {
            return Err(BundleError::Malformed(
                "the bundle's verification material does not fit its version".into(),
            ));
        }
    };
    certificate::signing_certificate_from_der(der).map_err(BundleError::Certificate)
}

fn presented_intermediates(material: &wire::VerificationMaterial) -> Vec<Vec<u8>> {
    let chain = material.x509_certificate_chain.as_ref();
    let certificates = chain.map(|c| &c.certificates[..]).unwrap_or_default();
    certificates
        .iter()
        .skip(1)
        .map(|c| c.raw_bytes.clone())
        .collect()
}

/// Does the entry record this signature, by this verifier, over this content?
fn bind(
    logged: &Logged,
    content: &Content,
    verifier: &Verifier<'_>,
    signed: &[u8],
) -> Result<(), BundleError> {
    let not_bound = |what: &str| BundleError::Log(format!("the log entry records {what}"));
    match (&logged.body, content) {
        // A hashedrekord entry records a signature over the signed bytes' digest: the
        // artifact's, or (as Rekor v2 logs DSSE signatures) the envelope's PAE.
        (LoggedBody::Rekord(entry), content) => {
            entry
                .binds(signature(content), signed)
                .map_err(|e| BundleError::Log(e.to_string()))?;
            match verifier {
                Verifier::Certificate(cert) => entry
                    .binds_certificate(&cert.der)
                    .map_err(|e| BundleError::Log(e.to_string())),
                Verifier::Key(key) => match same_key(&entry.public_key_pem, key) {
                    true => Ok(()),
                    false => Err(not_bound("another public key")),
                },
            }
        }
        (
            LoggedBody::Envelope(entry),
            Content::Envelope {
                payload, signature, ..
            },
        ) => {
            if entry.payload_hash[..] != Sha256::digest(payload)[..] {
                return Err(not_bound("another DSSE payload"));
            }
            match entry.signatures.as_slice() {
                [(logged_sig, _)] if logged_sig != signature => Err(not_bound("another signature")),
                [(_, pem)] if !same_verifier(pem, verifier) => {
                    Err(not_bound("another certificate or key"))
                }
                [_] => Ok(()),
                _ => Err(not_bound("another number of signatures")),
            }
        }
        _ => Err(not_bound("another kind of content than the bundle carries")),
    }
}

fn same_verifier(pem: &[u8], verifier: &Verifier<'_>) -> bool {
    match verifier {
        Verifier::Certificate(cert) => {
            let mut reader = pem;
            let certs: Vec<_> = rustls_pemfile::certs(&mut reader).collect();
            matches!(certs.as_slice(), [Ok(one)] if one.as_ref() == cert.der)
        }
        Verifier::Key(key) => same_key(pem, key),
    }
}

/// Is `pem` exactly `key` (same SubjectPublicKeyInfo)?
fn same_key(pem: &[u8], key: &TrustedKey) -> bool {
    let mut reader = pem;
    match rustls_pemfile::read_one(&mut reader) {
        Ok(Some(rustls_pemfile::Item::SubjectPublicKeyInfo(spki))) => {
            format!("sha256:{}", hex::encode(Sha256::digest(spki.as_ref()))) == key.fingerprint
        }
        _ => false,
    }
}

/// A message digest, when given, must be the artifact's (a consistency check: it is not signed).
fn check_message_digest(
    digest: Option<(String, Vec<u8>)>,
    artifact: Option<&[u8]>,
) -> Result<(), BundleError> {
    match (digest, artifact) {
        (Some((algorithm, digest)), Some(blob)) if algorithm == "SHA2_256" => {
            match digest[..] == Sha256::digest(blob)[..] {
                true => Ok(()),
                false => Err(BundleError::Content(
                    "the message digest is not the artifact's".into(),
                )),
            }
        }
        (Some((algorithm, _)), Some(_)) => Err(BundleError::Unsupported(format!(
            "message digest algorithm {algorithm}"
        ))),
        _ => Ok(()),
    }
}
