//! The policy-set fingerprint: sha256 over a canonical, length-prefixed serialisation of
//! everything that can change a verdict or its message (names, globs as normalised, modes,
//! authorities, key fingerprints and schemes, identity rules, signature sources). The file a
//! policy came from is left out: moving a file changes no verdict.

use sha2::{Digest, Sha256};
use sigstore::crypto::CosignVerificationKey;

use super::model::{
    Authority, AuthorityKind, FailureAction, IdentityRule, ImagePolicy, KeylessAuthority, Matcher,
    Mode, RsaDigest, StaticAction,
};
use super::trust::{KeylessTrust, LogKey, TimeRange};

/// Bump when the serialisation changes, so old cache keys can never collide with new ones.
const FORMAT: &str = "signet-policy-set/v7";

/// Hex sha256 of the canonical form of `policies`, selected by scope (containers-policy.json)
/// or by glob, with the fingerprints of the per-namespace sets (`namespaces`: name and
/// fingerprint, sorted).
pub(super) fn fingerprint(
    policies: &[ImagePolicy],
    by_scope: bool,
    namespaces: &[(&str, &str)],
) -> String {
    let mut c = Canonical(Sha256::new());
    c.text(FORMAT);
    c.text(if by_scope { "scopes" } else { "globs" });
    c.count(policies.len());
    for policy in policies {
        write_policy(&mut c, policy);
    }
    c.count(namespaces.len());
    for (namespace, fingerprint) in namespaces {
        c.text(namespace);
        c.text(fingerprint);
    }
    hex::encode(c.0.finalize())
}

/// The set fingerprint `base` with the namespaces over their `ImagePolicy` limit (whose images
/// are all denied).
pub(super) fn with_over_limit(
    base: &str,
    over_limit: &std::collections::BTreeMap<String, super::NamespaceOverLimit>,
) -> String {
    if over_limit.is_empty() {
        return base.to_string();
    }
    let mut c = Canonical(Sha256::new());
    c.text(base);
    c.count(over_limit.len());
    for (namespace, over) in over_limit {
        c.text(namespace);
        c.count(over.limit);
        c.count(over.refused.len());
        for name in &over.refused {
            c.text(name);
        }
    }
    hex::encode(c.0.finalize())
}

/// The set fingerprint `base` with the fingerprints of a Notation trust policy's statements.
pub(super) fn with_notation(base: &str, statements: &[[u8; 32]]) -> String {
    let mut c = Canonical(Sha256::new());
    c.text(base);
    c.text("notation");
    c.count(statements.len());
    for statement in statements {
        c.bytes(statement);
    }
    hex::encode(c.0.finalize())
}

/// sha256 of the canonical form of one policy: what a verdict cache keys on.
pub(super) fn policy_fingerprint(policy: &ImagePolicy) -> [u8; 32] {
    let mut c = Canonical(Sha256::new());
    c.text(FORMAT);
    write_policy(&mut c, policy);
    c.0.finalize().into()
}

struct Canonical(Sha256);

impl Canonical {
    fn text(&mut self, s: &str) {
        self.count(s.len());
        self.0.update(s.as_bytes());
    }

    fn bytes(&mut self, b: &[u8]) {
        self.count(b.len());
        self.0.update(b);
    }

    fn count(&mut self, n: usize) {
        self.0.update((n as u64).to_be_bytes());
    }

    fn optional(&mut self, s: Option<&str>) {
        match s {
            Some(s) => {
                self.text("some");
                self.text(s);
            }
            None => self.text("none"),
        }
    }
}

fn write_policy(c: &mut Canonical, p: &ImagePolicy) {
    c.optional(p.namespace.as_deref());
    c.text(&p.name);
    c.count(p.images.len());
    for glob in &p.images {
        c.text(glob.normalised());
    }
    c.optional(p.scope.as_ref().map(ToString::to_string).as_deref());
    c.text(match p.mode {
        Mode::Enforce => "enforce",
        Mode::Warn => "warn",
    });
    c.text(match p.on_registry_error {
        FailureAction::Deny => "deny",
        FailureAction::Warn => "warn",
    });
    c.text(p.multi_arch.as_str());
    c.text(if p.require_digest { "digest" } else { "tag" });
    c.count(p.placeholders.len());
    for placeholder in &p.placeholders {
        c.text(&placeholder.image);
        c.text(&placeholder.injector);
        for names in [&placeholder.containers, &placeholder.namespaces] {
            c.count(names.len());
            names.iter().for_each(|name| c.text(name));
        }
    }
    c.count(p.authorities.len());
    for authority in &p.authorities {
        write_authority(c, authority);
    }
    c.count(p.resources.len());
    for resource in &p.resources {
        // Debug quotes and escapes every string: unambiguous.
        c.text(&format!("{resource:?}"));
    }
    match &p.result_policy {
        None => c.count(0),
        Some(r) => {
            c.count(1);
            c.text(r.policy.language.as_str());
            c.text(&r.policy.text);
            let flags = [r.include_spec, r.include_object_meta, r.include_type_meta];
            c.text(&format!("{flags:?}"));
        }
    }
}

fn write_authority(c: &mut Canonical, a: &Authority) {
    c.text(&a.name);
    let locations = a.source.iter().flat_map(|s| &s.locations);
    c.count(locations.clone().count());
    for location in locations {
        c.optional(location.repository.as_deref());
        c.text(&location.tag_prefix);
    }
    let pull_secrets = a.source.iter().flat_map(|s| &s.pull_secrets);
    c.count(pull_secrets.clone().count());
    for secret in pull_secrets {
        c.text(&secret.name);
        c.text(&secret.kind);
        c.bytes(&secret.config);
    }
    c.text(a.format.as_str());
    match &a.kind {
        AuthorityKind::Static(s) => {
            c.text("static");
            c.text(match s.action {
                StaticAction::Pass => "pass",
                StaticAction::Fail => "fail",
            });
            c.optional(s.message.as_deref());
            c.text(if s.unusable { "unusable" } else { "static" });
        }
        AuthorityKind::Key(k) => {
            c.text("key");
            write_identity(c, &k.identity);
            c.count(k.threshold);
            c.count(k.keys.len());
            for key in &k.keys {
                c.text(&key.fingerprint);
                c.text(scheme(&key.key));
                c.optional(key.rsa_digest.map(RsaDigest::as_str));
            }
            match &k.rekor {
                Some(trust) => {
                    c.text("rekor");
                    write_trust(c, trust);
                }
                None => c.text("no-rekor"),
            }
            match &k.timestamps {
                Some(trust) => {
                    c.text("rfc3161");
                    write_trust(c, trust);
                }
                None => c.text("no-rfc3161"),
            }
        }
        AuthorityKind::Keyless(k) => write_keyless(c, k),
        AuthorityKind::Notation(n) => {
            c.text("notation");
            // Debug spells every field, quoted and escaped: unambiguous.
            c.text(&format!("{n:?}"));
        }
    }
    c.count(a.attestations.len());
    for attestation in &a.attestations {
        c.text(&attestation.name);
        c.text(&attestation.predicate_uri);
        match &attestation.policy {
            Some(policy) => {
                c.text(policy.language.as_str());
                c.text(&policy.text);
            }
            None => c.text("no-policy"),
        }
    }
}

/// Identities, the payload identity rule, and every byte of trust material.
fn write_keyless(c: &mut Canonical, k: &KeylessAuthority) {
    c.text("keyless");
    write_identity(c, &k.identity);
    c.count(k.threshold);
    c.count(k.identities.len());
    for id in &k.identities {
        write_matcher(c, &id.issuer);
        write_matcher(c, &id.subject);
    }
    write_trust(c, &k.trust);
}

fn write_matcher(c: &mut Canonical, m: &Matcher) {
    match m {
        Matcher::Exact(value) => {
            c.text("exact");
            c.text(value);
        }
        Matcher::Email(value) => {
            c.text("email");
            c.text(value);
        }
        Matcher::Regex { pattern, .. } => {
            c.text("regex");
            c.text(pattern);
        }
    }
}

/// Every CA (Fulcio's and the timestamp authorities') and log key: a verdict judged with other
/// trust material must never be reused.
fn write_trust(c: &mut Canonical, t: &KeylessTrust) {
    for authorities in [&t.certificate_authorities, &t.timestamp_authorities] {
        c.count(authorities.len());
        for ca in authorities {
            c.bytes(&ca.root);
            c.count(ca.intermediates.len());
            for der in &ca.intermediates {
                c.bytes(der);
            }
            write_range(c, ca.valid_for);
            c.count(usize::from(ca.presented_intermediates));
        }
    }
    c.count(usize::from(t.sct_required));
    for logs in [&t.rekor_keys, &t.ct_keys] {
        c.count(logs.len());
        for LogKey {
            log_id,
            spki,
            key,
            valid_for,
            ..
        } in logs.values()
        {
            c.text(log_id);
            c.bytes(spki);
            c.text(scheme(key));
            write_range(c, *valid_for);
        }
    }
}

fn write_range(c: &mut Canonical, range: TimeRange) {
    for bound in [range.start, range.end] {
        c.optional(bound.map(|t| t.to_string()).as_deref());
    }
}

fn write_identity(c: &mut Canonical, rule: &IdentityRule) {
    match rule {
        IdentityRule::MatchRepository => c.text("matchRepository"),
        IdentityRule::MatchExact => c.text("matchExact"),
        IdentityRule::MatchRepoDigestOrExact => c.text("matchRepoDigestOrExact"),
        IdentityRule::AnyRepository => c.text("anyRepository"),
        IdentityRule::ExactReference(r) => {
            c.text("exactReference");
            c.text(r);
        }
        IdentityRule::ExactRepository(r) => {
            c.text("exactRepository");
            c.text(r);
        }
        IdentityRule::RemapIdentity {
            prefix,
            signed_prefix,
        } => {
            c.text("remapIdentity");
            c.text(prefix);
            c.text(signed_prefix);
        }
        IdentityRule::RemapRepository {
            prefix,
            signed_prefix,
        } => {
            c.text("remapRepository");
            c.text(prefix);
            c.text(signed_prefix);
        }
    }
}

/// The signature scheme a key verifies with (the hash is part of what a signature must be).
pub(super) fn scheme(key: &CosignVerificationKey) -> &'static str {
    match key {
        CosignVerificationKey::RSA_PSS_SHA256(_) => "RSA_PSS_SHA256",
        CosignVerificationKey::RSA_PKCS1_SHA256(_) => "RSA_PKCS1_SHA256",
        CosignVerificationKey::ECDSA_P256_SHA256_ASN1(_) => "ECDSA_P256_SHA256_ASN1",
        CosignVerificationKey::ECDSA_P384_SHA384_ASN1(_) => "ECDSA_P384_SHA384_ASN1",
        CosignVerificationKey::ECDSA_P521_SHA512_ASN1(_) => "ECDSA_P521_SHA512_ASN1",
        CosignVerificationKey::ED25519(_) => "ED25519",
    }
}
