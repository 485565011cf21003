//! One `ClusterImagePolicy` as containers-policy.json requirements: its authorities (any one
//! admits) become the requirements of a scope (all must hold). Exact where the meaning is the
//! same (one authority; several key authorities with one identity rule, which are one
//! `sigstoreSigned` with several `keyDatas`; a `static: pass` beside others, which is a pass);
//! everything else is reported, and what is exported then is the narrower reading (fewer images
//! admitted), never a wider one.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use sigstore::crypto::CosignVerificationKey;

use super::{ExportFinding, Severity};
use crate::policy::model::{
    Authority, AuthorityKind, FailureAction, IdentityRule, ImagePolicy, KeyAuthority,
    KeylessAuthority, Matcher, Mode, StaticAction, TrustedKey,
};

/// The requirements for `policy` and what could not be said exactly.
pub(super) fn requirements(policy: &ImagePolicy, findings: &mut Vec<ExportFinding>) -> Vec<Value> {
    let mut report = |severity, message: String| {
        findings.push(ExportFinding {
            severity,
            policy: policy.display_name(),
            message,
        });
    };
    if policy.on_registry_error == FailureAction::Warn {
        report(
            Severity::Inexact,
            "onRegistryError: warn cannot be expressed: CRI-O fails the pull when the registry does not answer".into(),
        );
    }
    if policy.mode == Mode::Warn {
        report(
            Severity::Inexact,
            "mode: warn cannot be expressed (containers-policy.json never warns); exported as \
             insecureAcceptAnything, which admits as warn mode does but without the warning"
                .into(),
        );
        return vec![json!({"type": "insecureAcceptAnything"})];
    }
    let is_static =
        |a: &&Authority, action| matches!(&a.kind, AuthorityKind::Static(s) if s.action == action);
    if let Some(pass) = policy
        .authorities
        .iter()
        .find(|a| is_static(a, StaticAction::Pass))
    {
        if policy.authorities.len() > 1 {
            report(
                Severity::Note,
                format!(
                    "static pass authority {} admits every image, so the others never matter",
                    pass.name
                ),
            );
        }
        return vec![json!({"type": "insecureAcceptAnything"})];
    }
    let fails: Vec<&Authority> = policy
        .authorities
        .iter()
        .filter(|a| is_static(a, StaticAction::Fail))
        .collect();
    let checks: Vec<&Authority> = policy
        .authorities
        .iter()
        .filter(|a| !is_static(a, StaticAction::Fail))
        .filter(|a| attestations_left_out(a, &mut report))
        .collect();
    if !fails.is_empty() {
        let names: Vec<&str> = fails.iter().map(|a| a.name.as_str()).collect();
        let message = match checks.is_empty() {
            true => format!(
                "static fail ({}) exported as reject; its message is not kept",
                names.join(", ")
            ),
            false => format!(
                "static fail authorities ({}) never admit and are left out",
                names.join(", ")
            ),
        };
        report(Severity::Note, message);
    }
    let Some(first) = checks.first() else {
        return vec![json!({"type": "reject"})];
    };
    if let Some(merged) = merged_keys(&checks) {
        return vec![key_requirement(&merged.0, merged.1, &mut report)];
    }
    if checks.len() > 1 {
        report(
            Severity::Refuses,
            format!(
                "{} authorities are alternatives (any one admits), but the requirements of a \
                 containers-policy.json scope must all hold; only authority {} is exported",
                checks.len(),
                first.name
            ),
        );
    }
    vec![authority_requirement(first, &mut report)]
}

/// An authority satisfied by attestations cannot be exported: containers-policy.json checks
/// signatures only, and a signature requirement in its place would admit images without the
/// attestation. It is left out (never a wider reading); `false` when it was.
fn attestations_left_out(a: &Authority, report: &mut impl FnMut(Severity, String)) -> bool {
    if a.attestations.is_empty() {
        return true;
    }
    let names: Vec<String> = a
        .attestations
        .iter()
        .map(|t| format!("{} ({})", t.name, t.predicate_type))
        .collect();
    report(
        Severity::Refuses,
        format!(
            "authority {} requires attestations [{}], which containers-policy.json cannot carry \
             (CRI-O checks signatures only); it is left out, so the node refuses what only it admits",
            a.name,
            names.join(", ")
        ),
    );
    false
}

/// Several key authorities with the same identity rule and signature source are one
/// requirement trusting all their keys.
fn merged_keys<'a>(checks: &[&'a Authority]) -> Option<(Vec<&'a TrustedKey>, &'a Authority)> {
    let first = checks.first()?;
    let AuthorityKind::Key(first_key) = &first.kind else {
        return None;
    };
    let mut keys = Vec::new();
    for authority in checks {
        match &authority.kind {
            AuthorityKind::Key(k)
                if k.identity == first_key.identity
                    && authority.source == first.source
                    && logs(k) == logs(first_key) =>
            {
                keys.extend(k.keys.iter());
            }
            _ => return None,
        }
    }
    Some((keys, first))
}

/// The Rekor log IDs a key authority requires a bundle from (none: no Rekor).
fn logs(k: &KeyAuthority) -> Vec<&str> {
    k.rekor
        .iter()
        .flat_map(|t| t.rekor_keys.keys().map(String::as_str))
        .collect()
}

fn authority_requirement(a: &Authority, report: &mut impl FnMut(Severity, String)) -> Value {
    match &a.kind {
        AuthorityKind::Key(KeyAuthority { keys, .. }) => {
            let keys: Vec<&TrustedKey> = keys.iter().collect();
            key_requirement(&keys, a, report)
        }
        AuthorityKind::Keyless(k) => keyless_requirement(k, a, report),
        AuthorityKind::Static(_) => json!({"type": "reject"}),
        AuthorityKind::Notation(n) => {
            report(
                Severity::Refuses,
                format!(
                    "authority {}: Notary Project (Notation) signatures (statement {:?}) are not \
                     carried: containers-policy.json cannot verify them, so CRI-O would refuse \
                     what this authority admits; exported as reject",
                    a.name, n.statement
                ),
            );
            json!({"type": "reject"})
        }
    }
}

fn key_requirement(
    keys: &[&TrustedKey],
    a: &Authority,
    report: &mut impl FnMut(Severity, String),
) -> Value {
    source_finding(a, report);
    let mut datas = Vec::new();
    for key in keys {
        let (spki, scheme) = spki(key);
        if !matches!(scheme, "sha256") {
            report(
                Severity::Refuses,
                format!(
                    "authority {}: a key verified with {scheme} in Signet; CRI-O verifies every key \
                     with sha256, so signatures made with {scheme} will not verify on the node",
                    a.name
                ),
            );
        }
        datas.push(Value::String(BASE64.encode(pem("PUBLIC KEY", spki))));
    }
    let (identity, rekor) = match &a.kind {
        AuthorityKind::Key(k) => (&k.identity, k.rekor.as_deref()),
        _ => (&IdentityRule::MatchRepository, None),
    };
    if matches!(&a.kind, AuthorityKind::Key(k) if k.timestamps.is_some()) {
        report(
            Severity::Refuses,
            format!(
                "authority {}: RFC 3161 timestamps (rfc3161timestamp) cannot be expressed; CRI-O \
                 would admit signatures without one",
                a.name
            ),
        );
    }
    let mut requirement = json!({
        "type": "sigstoreSigned",
        "keyDatas": datas,
        "signedIdentity": signed_identity(identity, &a.name, report),
    });
    if let Some(trust) = rekor {
        let keys: Vec<Value> = trust
            .rekor_keys
            .values()
            .map(|log| Value::String(BASE64.encode(pem("PUBLIC KEY", &log.spki))))
            .collect();
        requirement["rekorPublicKeyDatas"] = Value::Array(keys);
    }
    requirement
}

fn keyless_requirement(
    k: &KeylessAuthority,
    a: &Authority,
    report: &mut impl FnMut(Severity, String),
) -> Value {
    source_finding(a, report);
    if k.identities.len() > 1 {
        report(
            Severity::Refuses,
            format!(
                "authority {}: {} identities are alternatives; fulcio takes one issuer and one \
                 email, so only the first is exported",
                a.name,
                k.identities.len()
            ),
        );
    }
    let id = &k.identities[..1.min(k.identities.len())];
    let (issuer, email) = match id {
        [first] => match (&first.issuer, &first.subject) {
            (Matcher::Exact(i), Matcher::Exact(s) | Matcher::Email(s)) if is_email(s) => (i, s),
            _ => {
                report(
                    Severity::Refuses,
                    format!(
                        "authority {}: identity {} cannot be expressed (fulcio needs an exact issuer \
                         and an exact email subject); exported as reject",
                        a.name,
                        first.describe()
                    ),
                );
                return json!({"type": "reject"});
            }
        },
        _ => return json!({"type": "reject"}),
    };
    let trust = &k.trust;
    let mut ca = String::new();
    for authority in &trust.certificate_authorities {
        for der in authority.intermediates.iter().chain([&authority.root]) {
            ca.push_str(&pem("CERTIFICATE", der));
        }
        if authority.valid_for.start.is_some() || authority.valid_for.end.is_some() {
            report(
                Severity::Inexact,
                format!(
                    "authority {}: the CA's validity window (validFor) cannot be expressed",
                    a.name
                ),
            );
        }
    }
    let mut rekor = Vec::new();
    for log in trust.rekor_keys.values() {
        rekor.push(Value::String(BASE64.encode(pem("PUBLIC KEY", &log.spki))));
        if log.valid_for.start.is_some() || log.valid_for.end.is_some() {
            report(
                Severity::Inexact,
                format!(
                    "authority {}: the Rekor key's validity window cannot be expressed",
                    a.name
                ),
            );
        }
    }
    json!({
        "type": "sigstoreSigned",
        "fulcio": {"caData": BASE64.encode(ca), "oidcIssuer": issuer, "subjectEmail": email},
        "rekorPublicKeyDatas": rekor,
        "signedIdentity": signed_identity(&k.identity, &a.name, report),
    })
}

fn is_email(subject: &str) -> bool {
    subject.contains('@') && !subject.contains("://")
}

fn source_finding(a: &Authority, report: &mut impl FnMut(Severity, String)) {
    if let Some(source) = &a.source {
        let places: Vec<&str> = source
            .locations
            .iter()
            .map(|l| {
                l.repository
                    .as_deref()
                    .unwrap_or("the image's own repository")
            })
            .collect();
        let repository = places.join(", ");
        report(
            Severity::Refuses,
            format!(
                "authority {}: signatures stored in {} cannot be expressed (CRI-O looks next to \
                 the image; configure registries.d to match)",
                a.name, repository
            ),
        );
    }
}

fn signed_identity(
    rule: &IdentityRule,
    authority: &str,
    report: &mut impl FnMut(Severity, String),
) -> Value {
    match rule {
        IdentityRule::MatchRepository => json!({"type": "matchRepository"}),
        IdentityRule::MatchExact => json!({"type": "matchExact"}),
        IdentityRule::MatchRepoDigestOrExact => json!({"type": "matchRepoDigestOrExact"}),
        IdentityRule::ExactReference(r) => json!({"type": "exactReference", "dockerReference": r}),
        IdentityRule::ExactRepository(r) => {
            json!({"type": "exactRepository", "dockerRepository": r})
        }
        IdentityRule::RemapIdentity {
            prefix,
            signed_prefix,
        } => {
            json!({"type": "remapIdentity", "prefix": prefix, "signedPrefix": signed_prefix})
        }
        IdentityRule::RemapRepository {
            prefix,
            signed_prefix,
        } => {
            report(
                Severity::Refuses,
                format!(
                    "authority {authority}: Signet's remapIdentity compares repositories, \
                     containers-policy.json's also needs the signed tag, which cosign signatures \
                     do not carry; exported as remapIdentity"
                ),
            );
            json!({"type": "remapIdentity", "prefix": prefix, "signedPrefix": signed_prefix})
        }
        IdentityRule::AnyRepository => {
            report(
                Severity::Refuses,
                format!(
                    "authority {authority}: anyRepository cannot be expressed; exported as \
                     matchRepository (a signature must name the image's own repository)"
                ),
            );
            json!({"type": "matchRepository"})
        }
    }
}

/// The SubjectPublicKeyInfo DER of a key and the hash it verifies with.
fn spki(trusted: &TrustedKey) -> (&[u8], &'static str) {
    if let Some(digest) = trusted.rsa_digest {
        return (trusted.spki(), digest.as_str());
    }
    match trusted.key.as_ref() {
        CosignVerificationKey::RSA_PSS_SHA256(k)
        | CosignVerificationKey::RSA_PKCS1_SHA256(k)
        | CosignVerificationKey::ECDSA_P256_SHA256_ASN1(k)
        | CosignVerificationKey::ED25519(k) => (k, "sha256"),
        CosignVerificationKey::ECDSA_P384_SHA384_ASN1(k) => (k, "sha384"),
        CosignVerificationKey::ECDSA_P521_SHA512_ASN1(k) => (k, "sha512"),
    }
}

/// PEM with 64-character lines.
pub(super) fn pem(label: &str, der: &[u8]) -> String {
    let body = BASE64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
