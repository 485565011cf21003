//! The two file formats trust roots come in, read into [`KeylessTrust`]: policy-controller's
//! `TrustRoot` object (`spec.sigstoreKeys`, PEM stored base64 as Go's `[]byte` fields are) and
//! sigstore's `trusted_root.json` (protobuf-specs `TrustedRoot`, DER stored base64). Errors name
//! the field, as policy errors do. Pure; reads no files and no network.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::policy::trust::{
    self, CertificateAuthority, KeylessTrust, LogKey, MAX_TRUST_ENTRIES, TimeRange, TrustError,
};

/// The `mediaType` prefix of a `trusted_root.json`.
pub(super) const TRUSTED_ROOT_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.trustedroot+json";

/// A field path and what is wrong there.
pub(super) type FieldFailure = (String, TrustError);

/// policy-controller `TrustRoot.spec`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct TrustRootSpec {
    #[serde(default)]
    pub remote: Option<serde_yaml::Value>,
    #[serde(default)]
    pub repository: Option<serde_yaml::Value>,
    #[serde(default)]
    pub sigstore_keys: Option<SigstoreKeys>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct SigstoreKeys {
    #[serde(default)]
    certificate_authorities: Vec<CrCertificateAuthority>,
    #[serde(default, rename = "tLogs")]
    t_logs: Vec<CrLog>,
    #[serde(default, rename = "ctLogs")]
    ct_logs: Vec<CrLog>,
    #[serde(default)]
    timestamp_authorities: Vec<CrCertificateAuthority>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CrCertificateAuthority {
    #[serde(default)]
    #[allow(dead_code, reason = "part of the closed schema; informational")]
    subject: Option<serde_yaml::Value>,
    #[serde(default)]
    uri: Option<String>,
    #[serde(default)]
    cert_chain: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CrLog {
    #[serde(default, rename = "baseURL")]
    base_url: Option<String>,
    #[serde(default)]
    #[allow(
        dead_code,
        reason = "part of the closed schema; logs hash with sha-256"
    )]
    hash_algorithm: Option<String>,
    #[serde(default)]
    public_key: String,
}

/// `TrustRoot.spec.sigstoreKeys` as trust material; errors carry the field path.
pub(super) fn from_sigstore_keys(
    keys: &SigstoreKeys,
    origin: &str,
) -> Result<KeylessTrust, FieldFailure> {
    let at = "spec.sigstoreKeys";
    Ok(KeylessTrust {
        origin: origin.to_string(),
        certificate_authorities: cr_authorities(
            &keys.certificate_authorities,
            &format!("{at}.certificateAuthorities"),
        )?,
        rekor_keys: cr_logs(&keys.t_logs, &format!("{at}.tLogs"))?,
        ct_keys: cr_logs(&keys.ct_logs, &format!("{at}.ctLogs"))?,
        timestamp_authorities: cr_authorities(
            &keys.timestamp_authorities,
            &format!("{at}.timestampAuthorities"),
        )?,
        sct_required: false,
    })
}

fn cr_authorities(
    authorities: &[CrCertificateAuthority],
    at: &str,
) -> Result<Vec<CertificateAuthority>, FieldFailure> {
    limit(authorities.len(), at, "")?;
    let mut out = Vec::new();
    for (i, ca) in authorities.iter().enumerate() {
        let field = format!("{at}[{i}].certChain");
        let pem = pem_field(&ca.cert_chain).map_err(|e| (field.clone(), e))?;
        let chain = trust::certificates_from_pem(&pem).map_err(|e| (field.clone(), e))?;
        let authority = trust::authority_from_chain(chain, ca.uri.clone(), TimeRange::default());
        out.push(authority.map_err(|e| (field, e))?);
    }
    Ok(out)
}

fn cr_logs(logs: &[CrLog], at: &str) -> Result<BTreeMap<String, LogKey>, FieldFailure> {
    limit(logs.len(), at, "")?;
    let mut out = BTreeMap::new();
    for (i, log) in logs.iter().enumerate() {
        let field = format!("{at}[{i}].publicKey");
        let read = pem_field(&log.public_key)
            .and_then(|pem| trust::public_keys_from_pem(&pem))
            .and_then(|keys| match keys.as_slice() {
                [one] => trust::log_key(one, log.base_url.clone(), TimeRange::default()),
                _ => Err(TrustError::Pem("want exactly one PUBLIC KEY".into())),
            });
        let key = read.map_err(|e| (field, e))?;
        out.insert(key.log_id.clone(), key);
    }
    Ok(out)
}

/// A Go `[]byte` field holding PEM: base64 of the PEM text. PEM written directly is accepted
/// too (it cannot be mistaken for base64: `-` is not in its alphabet).
fn pem_field(value: &str) -> Result<Vec<u8>, TrustError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(TrustError::Missing("empty".into()));
    }
    if value.starts_with("-----BEGIN") {
        return Ok(value.as_bytes().to_vec());
    }
    let compact: String = value.split_whitespace().collect();
    BASE64
        .decode(compact)
        .map_err(|e| TrustError::Pem(format!("neither PEM nor base64 of PEM: {e}")))
}

/// sigstore protobuf-specs `TrustedRoot` (`trusted_root.json`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TrustedRoot {
    #[serde(default)]
    tlogs: Vec<TransparencyLog>,
    #[serde(default)]
    certificate_authorities: Vec<JsonCertificateAuthority>,
    #[serde(default)]
    ctlogs: Vec<TransparencyLog>,
    #[serde(default)]
    timestamp_authorities: Vec<JsonCertificateAuthority>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TransparencyLog {
    #[serde(default)]
    base_url: Option<String>,
    public_key: JsonPublicKey,
    #[serde(default)]
    log_id: Option<JsonLogId>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonLogId {
    #[serde(default)]
    key_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonPublicKey {
    #[serde(default)]
    raw_bytes: String,
    #[serde(default)]
    valid_for: Option<JsonTimeRange>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonCertificateAuthority {
    #[serde(default)]
    uri: Option<String>,
    cert_chain: JsonCertChain,
    #[serde(default)]
    valid_for: Option<JsonTimeRange>,
}

#[derive(Debug, Deserialize)]
struct JsonCertChain {
    #[serde(default)]
    certificates: Vec<JsonRawBytes>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonRawBytes {
    raw_bytes: String,
}

#[derive(Debug, Deserialize)]
struct JsonTimeRange {
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    end: Option<String>,
}

/// A `trusted_root.json` as trust material; errors carry the JSON field path.
pub(super) fn from_trusted_root(
    root: &TrustedRoot,
    origin: &str,
) -> Result<KeylessTrust, FieldFailure> {
    Ok(KeylessTrust {
        origin: origin.to_string(),
        certificate_authorities: json_authorities(
            &root.certificate_authorities,
            "certificateAuthorities",
        )?,
        rekor_keys: json_logs(&root.tlogs, "tlogs")?,
        ct_keys: json_ct_logs(&root.ctlogs, origin)?,
        timestamp_authorities: json_authorities(
            &root.timestamp_authorities,
            "timestampAuthorities",
        )?,
        sct_required: false,
    })
}

fn json_authorities(
    authorities: &[JsonCertificateAuthority],
    at: &str,
) -> Result<Vec<CertificateAuthority>, FieldFailure> {
    limit(authorities.len(), at, "")?;
    authorities
        .iter()
        .enumerate()
        .map(|(i, ca)| json_authority(ca, &format!("{at}[{i}]")))
        .collect()
}

fn json_authority(
    ca: &JsonCertificateAuthority,
    at: &str,
) -> Result<CertificateAuthority, FieldFailure> {
    let valid_for = time_range(ca.valid_for.as_ref(), &format!("{at}.validFor"))?;
    let field = format!("{at}.certChain.certificates");
    let mut chain = Vec::new();
    for (j, cert) in ca.cert_chain.certificates.iter().enumerate() {
        let der = der_field(&cert.raw_bytes).map_err(|e| (format!("{field}[{j}]"), e))?;
        chain.push(der);
    }
    trust::authority_from_chain(chain, ca.uri.clone(), valid_for).map_err(|e| (field, e))
}

/// Transparency logs (`tlogs`), strictly: every key must be usable. A log is found by the
/// `logId.keyId` the trust root states (a Rekor v2 log's ID is its signed-note key ID, not a hash
/// of the key), else by the hash of its key.
fn json_logs(logs: &[TransparencyLog], at: &str) -> Result<BTreeMap<String, LogKey>, FieldFailure> {
    limit(logs.len(), at, "")?;
    let mut out = BTreeMap::new();
    for (i, log) in logs.iter().enumerate() {
        let key = json_log(log, &format!("{at}[{i}]"))?;
        out.insert(key.log_id.clone(), key);
    }
    Ok(out)
}

/// Certificate-transparency logs (`ctlogs`). A CT log key Signet cannot use (an RSA key in
/// PKCS#1 form, as the staging roots carry) is skipped with a logged note instead of making the
/// whole trust root unusable (an SCT by that log is then not trusted); the transparency-log and
/// CA entries stay strict.
fn json_ct_logs(
    logs: &[TransparencyLog],
    origin: &str,
) -> Result<BTreeMap<String, LogKey>, FieldFailure> {
    limit(logs.len(), "ctlogs", "")?;
    let mut out = BTreeMap::new();
    for (i, log) in logs.iter().enumerate() {
        match json_log(log, &format!("ctlogs[{i}]")) {
            Ok(key) => {
                out.insert(key.log_id.clone(), key);
            }
            Err((field, e)) => {
                tracing::warn!(trust_root = origin, %field, error = %e, "CT log key skipped");
            }
        }
    }
    Ok(out)
}

fn json_log(log: &TransparencyLog, at: &str) -> Result<LogKey, FieldFailure> {
    let field = format!("{at}.publicKey");
    let valid_for = time_range(
        log.public_key.valid_for.as_ref(),
        &format!("{field}.validFor"),
    )?;
    let key = der_field(&log.public_key.raw_bytes)
        .and_then(|spki| trust::log_key(&spki, log.base_url.clone(), valid_for))
        .map_err(|e| (format!("{field}.rawBytes"), e))?;
    match log.log_id.as_ref().filter(|id| !id.key_id.is_empty()) {
        Some(id) => {
            let declared = der_field(&id.key_id).map_err(|e| (format!("{at}.logId.keyId"), e))?;
            Ok(LogKey {
                log_id: hex::encode(declared),
                ..key
            })
        }
        None => Ok(key),
    }
}

fn der_field(value: &str) -> Result<Vec<u8>, TrustError> {
    BASE64
        .decode(value.trim())
        .map_err(|e| TrustError::Pem(format!("rawBytes is not base64: {e}")))
}

fn time_range(range: Option<&JsonTimeRange>, at: &str) -> Result<TimeRange, FieldFailure> {
    let Some(range) = range else {
        return Ok(TimeRange::default());
    };
    let parse = |value: &Option<String>, name: &str| -> Result<Option<i64>, FieldFailure> {
        value
            .as_deref()
            .map(|text| {
                OffsetDateTime::parse(text, &Rfc3339)
                    .map(OffsetDateTime::unix_timestamp)
                    .map_err(|e| {
                        let detail = TrustError::Pem(format!("{text:?} is not RFC 3339: {e}"));
                        (format!("{at}.{name}"), detail)
                    })
            })
            .transpose()
    };
    // A TimeRange's start is required: a range without one is malformed, not unbounded.
    let start = parse(&range.start, "start")?.ok_or_else(|| {
        let detail = TrustError::Missing("validFor has no start".into());
        (format!("{at}.start"), detail)
    })?;
    Ok(TimeRange {
        start: Some(start),
        end: parse(&range.end, "end")?,
    })
}

fn limit(count: usize, at: &str, name: &str) -> Result<(), FieldFailure> {
    if count <= MAX_TRUST_ENTRIES {
        return Ok(());
    }
    let field = [at, name]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(".");
    let detail = format!("{count} entries exceed Signet's limit of {MAX_TRUST_ENTRIES}");
    Err((field, TrustError::Limit(detail)))
}
