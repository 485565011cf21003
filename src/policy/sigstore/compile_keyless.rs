//! `keyless:` authorities compiled into [`KeylessAuthority`]: identities as full-match matchers
//! and trust material resolved, offline, from the trust roots given at start. Whatever would
//! need the network (Fulcio or Rekor by URL only, TUF), a Secret, or a check Signet cannot do
//! (SCTs required of a trust root without CT logs) is reported by field, never dropped; so is a
//! keyless authority whose trust material cannot be found or whose identity would match any
//! certificate.

use std::sync::Arc;

use super::cluster_image_policy as wire;
use super::compile::{Findings, compile_threshold};
use super::compile_secrets::SECRET_KEY_REASON;
use crate::policy::field_error::join;
use crate::policy::model::{CertificateIdentity, IdentityRule, KeylessAuthority, Matcher};
use crate::policy::trust::{
    self, CertificateAuthority, DEFAULT_TRUST_ROOT, KeylessTrust, TrustRoots,
};

/// At most this many identities per keyless authority.
pub(super) const MAX_IDENTITIES: usize = 100;

/// Compile `a.keyless` (the authority at `at`).
pub(super) fn compile_keyless(
    a: &wire::Authority,
    k: &wire::KeylessRef,
    at: &str,
    roots: &TrustRoots,
    identity: IdentityRule,
    findings: &mut Findings,
) -> Option<KeylessAuthority> {
    let keyless_at = join(at, "keyless");
    let identities = compile_identities(k, &keyless_at, findings);
    let trust = compile_trust(a, k, at, roots, findings)
        .and_then(|trust| sct_requirement(trust, k.insecure_ignore_sct, &keyless_at, findings));
    let identities = identities?;
    let threshold = compile_threshold(
        k.threshold,
        identities.len(),
        "identities",
        &keyless_at,
        findings,
    );
    Some(KeylessAuthority {
        identities,
        trust: Arc::new(trust?),
        identity,
        threshold: threshold?,
    })
}

/// An SCT is required, as policy-controller requires it, unless `insecureIgnoreSCT: true`; it
/// can only be checked against the CT logs of the trust root, so without any there it is not
/// required (said at load by a note) unless `insecureIgnoreSCT: false` asks for it explicitly,
/// which is then refused.
fn sct_requirement(
    mut trust: KeylessTrust,
    ignore: Option<bool>,
    at: &str,
    findings: &mut Findings,
) -> Option<KeylessTrust> {
    let logs = !trust.ct_keys.is_empty();
    if ignore == Some(false) && !logs {
        findings.add(
            &join(at, "insecureIgnoreSCT"),
            format!(
                "SCTs are required, but {} lists no CT log (ctLogs) to verify them with: add \
                 one to the trust root, or set insecureIgnoreSCT: true to rely on the Rekor entry",
                trust.origin
            ),
        );
        return None;
    }
    trust.sct_required = ignore != Some(true) && logs;
    Some(trust)
}

fn compile_identities(
    k: &wire::KeylessRef,
    at: &str,
    findings: &mut Findings,
) -> Option<Vec<CertificateIdentity>> {
    let identities = k.identities.as_deref().unwrap_or_default();
    let path = join(at, "identities");
    if identities.is_empty() {
        findings.add(&path, "a keyless authority needs at least one identity");
        return None;
    }
    if identities.len() > MAX_IDENTITIES {
        let reason = format!(
            "{} identities exceed Signet's limit of {MAX_IDENTITIES}",
            identities.len()
        );
        findings.add(&path, reason);
        return None;
    }
    let compiled: Vec<CertificateIdentity> = identities
        .iter()
        .enumerate()
        .filter_map(|(i, id)| compile_identity(id, &format!("{path}[{i}]"), findings))
        .collect();
    (compiled.len() == identities.len()).then_some(compiled)
}

/// Both the issuer and the subject must be constrained (policy-controller requires both); an
/// identity constraining neither would admit any certificate the CA ever issued.
fn compile_identity(
    id: &wire::Identity,
    at: &str,
    findings: &mut Findings,
) -> Option<CertificateIdentity> {
    let issuer = matcher(
        &id.issuer,
        &id.issuer_reg_exp,
        &join(at, "issuerRegExp"),
        findings,
    );
    let subject = matcher(
        &id.subject,
        &id.subject_reg_exp,
        &join(at, "subjectRegExp"),
        findings,
    );
    match (issuer, subject) {
        (Ok(issuer), Ok(subject)) => Some(CertificateIdentity { issuer, subject }),
        (Err(true), Err(true)) => {
            findings.add(
                at,
                "an identity needs a subject and an issuer constraint; without them it would match any certificate",
            );
            None
        }
        (Err(true), _) => missing(at, "issuer", findings),
        (_, Err(true)) => missing(at, "subject", findings),
        _ => None,
    }
}

fn missing(at: &str, what: &str, findings: &mut Findings) -> Option<CertificateIdentity> {
    let reason = format!("an identity needs a {what} or {what}RegExp constraint");
    findings.add(at, reason);
    None
}

/// `Err(true)` when neither form is given, `Err(false)` when the pattern is refused.
fn matcher(
    exact: &str,
    pattern: &str,
    pattern_at: &str,
    findings: &mut Findings,
) -> Result<Matcher, bool> {
    match (exact.is_empty(), pattern.is_empty()) {
        (false, _) => Ok(Matcher::Exact(exact.to_string())),
        (true, false) => Matcher::regex(pattern).map_err(|e| {
            findings.add(pattern_at, format!("regex is not usable: {e}"));
            false
        }),
        (true, true) => Err(true),
    }
}

/// Fulcio CAs from `keyless.trustRootRef`, `keyless.ca-cert.data`, or (neither given, as
/// policy-controller's default of public Fulcio) the public-good root; Rekor keys from
/// `ctlog.trustRootRef`, else the keyless trust root, else (`ca-cert`) the trust root named
/// `default` or the public-good root, as policy-controller uses public Rekor by default.
fn compile_trust(
    a: &wire::Authority,
    k: &wire::KeylessRef,
    at: &str,
    roots: &TrustRoots,
    findings: &mut Findings,
) -> Option<KeylessTrust> {
    let keyless_at = join(at, "keyless");
    let keyless_root = match (k.trust_root_ref.is_empty(), &k.ca_cert) {
        (false, _) => lookup(
            roots,
            &k.trust_root_ref,
            &join(&keyless_at, "trustRootRef"),
            findings,
        ),
        (true, None) => public_good(roots, &keyless_at, findings),
        (true, Some(_)) => None,
    };
    let authorities = certificate_authorities(k, &keyless_at, keyless_root.as_ref(), findings);
    let ctlog_name = a.ctlog.as_ref().map_or("", |c| c.trust_root_ref.as_str());
    let (rekor_root, reported) = if !ctlog_name.is_empty() {
        let found = lookup(roots, ctlog_name, &join(at, "ctlog.trustRootRef"), findings);
        let reported = found.is_none();
        (found, reported)
    } else if keyless_root.is_some() || k.ca_cert.is_none() {
        // A missing root was reported where it was looked up.
        (keyless_root.clone(), keyless_root.is_none())
    } else {
        let fallback = roots.get(DEFAULT_TRUST_ROOT).or(roots.public_good());
        (fallback.cloned(), false)
    };
    let rekor = rekor_root.filter(|r| !r.rekor_keys.is_empty());
    if rekor.is_none() && !reported {
        findings.add(
            &keyless_at,
            "no Rekor public key: keyless signatures are verified offline against their Rekor bundle; \
             give a trust root with tLogs (keyless.trustRootRef, ctlog.trustRootRef, or a --trust-root named default)",
        );
    }
    let (authorities, rekor) = (authorities?, rekor?);
    let material_root = keyless_root.as_ref().or(roots.get(DEFAULT_TRUST_ROOT));
    let ct_keys = material_root.map(|r| r.ct_keys.clone()).unwrap_or_default();
    let timestamp_authorities = material_root
        .map(|r| r.timestamp_authorities.clone())
        .unwrap_or_default();
    let ca_origin = keyless_root.map_or("keyless.ca-cert.data".to_string(), |r| r.origin.clone());
    let origin = match ca_origin == rekor.origin {
        true => ca_origin,
        false => format!("{ca_origin} with the Rekor keys of {}", rekor.origin),
    };
    Some(KeylessTrust {
        origin,
        certificate_authorities: authorities,
        rekor_keys: rekor.rekor_keys.clone(),
        ct_keys,
        timestamp_authorities,
        sct_required: false,
    })
}

/// The public-good root (given, or embedded) for a keyless authority naming no trust.
fn public_good(roots: &TrustRoots, at: &str, findings: &mut Findings) -> Option<Arc<KeylessTrust>> {
    let found = roots.public_good().cloned();
    if found.is_none() {
        findings.add(
            at,
            "the embedded Sigstore public-good trust root is unusable; give one with --trust-root \
             (a trusted_root.json named sigstore-public-good.json) or set trustRootRef or ca-cert.data",
        );
    }
    found
}

fn certificate_authorities(
    k: &wire::KeylessRef,
    at: &str,
    keyless_root: Option<&Arc<KeylessTrust>>,
    findings: &mut Findings,
) -> Option<Vec<CertificateAuthority>> {
    match (&k.ca_cert, k.trust_root_ref.is_empty()) {
        (Some(_), false) => {
            findings.add(at, "give either trustRootRef or ca-cert, not both");
            None
        }
        (None, _) => {
            let root = keyless_root?;
            if root.certificate_authorities.is_empty() {
                let reason = format!("{} has no certificateAuthorities", root.origin);
                findings.add(&join(at, "trustRootRef"), reason);
                return None;
            }
            Some(root.certificate_authorities.clone())
        }
        (Some(ca), true) => ca_cert(ca, &join(at, "ca-cert"), findings),
    }
}

fn ca_cert(
    ca: &wire::KeyRef,
    at: &str,
    findings: &mut Findings,
) -> Option<Vec<CertificateAuthority>> {
    if ca.secret_ref.is_some() {
        findings.add(&join(at, "secretRef"), SECRET_KEY_REASON);
        return None;
    }
    if ca.threshold.is_some() {
        findings.add(
            &join(at, "threshold"),
            "a threshold belongs to keyless (distinct identities), not to ca-cert",
        );
        return None;
    }
    if !ca.kms.is_empty() {
        findings.add(
            &join(at, "kms"),
            "a KMS key is not a CA certificate, and Signet never calls a cloud KMS; put the CA's PEM in ca-cert.data",
        );
        return None;
    }
    trust::anchors_from_pem(ca.data.as_bytes())
        .map_err(|e| findings.add(&join(at, "data"), e.to_string()))
        .ok()
}

/// The root called `name`, or a finding at `at` naming the roots there are.
pub(super) fn lookup(
    roots: &TrustRoots,
    name: &str,
    at: &str,
    findings: &mut Findings,
) -> Option<Arc<KeylessTrust>> {
    if name.is_empty() {
        return None;
    }
    let found = roots.get(name).cloned();
    if found.is_none() {
        let known = match roots.names() {
            names if names.is_empty() => "none was given (--trust-root)".to_string(),
            names => format!("known: {}", names.join(", ")),
        };
        findings.add(at, format!("no trust root named {name:?}; {known}"));
    }
    found
}

#[cfg(test)]
mod tests;
