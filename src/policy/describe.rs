//! What a loaded policy set says, in lines a person can check against the file (`signet policy
//! check`): for each policy or scope its requirements, key fingerprints and algorithms, keyless
//! identities, and the fingerprints of the trust material (CA roots, Rekor log IDs).

use sha2::{Digest, Sha256};

use super::PolicySet;
use super::model::{
    Authority, AuthorityKind, IdentityRule, ImagePolicy, KeylessAuthority, Mode, StaticAction,
};

impl PolicySet {
    /// One line per policy (or scope requirement) and per authority, indented; the
    /// per-namespace sets follow, each under its namespace.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        match self.by_scope {
            true => lines.push(
                "format: containers-policy.json (only the most specific scope applies)".into(),
            ),
            false => lines.push(
                "format: ClusterImagePolicy (every policy whose glob covers an image applies)"
                    .into(),
            ),
        }
        lines.extend(self.notes.iter().map(|n| format!("note: {n}")));
        for policy in &self.policies {
            lines.push(policy_line(policy));
            for authority in &policy.authorities {
                lines.push(format!("    {}", authority_line(authority)));
            }
        }
        if let Some(notation) = &self.notation {
            lines.push(format!(
                "Notation trust policy {} (the statement naming an image's repository applies, \
                 else the \"*\" one):",
                notation.source
            ));
            for (scopes, policy) in notation.statements() {
                lines.push(format!(
                    "  statement {:?}: registryScopes {}",
                    policy.name,
                    scopes.join(", ")
                ));
                for authority in &policy.authorities {
                    lines.push(format!("    {}", authority_line(authority)));
                }
            }
        }
        for (namespace, set) in &self.namespaces {
            lines.push(format!(
                "namespace {namespace} (replaces the global policy there):"
            ));
            lines.extend(set.describe().into_iter().map(|l| format!("  {l}")));
        }
        lines
    }
}

fn policy_line(policy: &ImagePolicy) -> String {
    if let Some(scope) = &policy.scope {
        return format!("  {scope}: requirement {}", policy.name);
    }
    let globs: Vec<&str> = policy.images.iter().map(|g| g.normalised()).collect();
    let mode = match policy.mode {
        Mode::Enforce => "enforce",
        Mode::Warn => "warn",
    };
    let objects = match policy.resources.is_empty() {
        true => String::new(),
        false => {
            let shown: Vec<String> = policy.resources.iter().map(|r| r.describe()).collect();
            format!("; only for {}", shown.join(" or "))
        }
    };
    format!(
        "  {} (from {}): images {}{objects}; mode {mode}; any one authority admits",
        policy.display_name(),
        policy.source,
        globs.join(", ")
    )
}

fn authority_line(authority: &Authority) -> String {
    let what = match &authority.kind {
        AuthorityKind::Static(s) => match (s.action, &s.message) {
            (StaticAction::Pass, _) => "admits every image (static pass)".to_string(),
            (StaticAction::Fail, Some(m)) if s.unusable => format!("admits nothing: {m}"),
            (StaticAction::Fail, Some(m)) => format!("denies every image (static fail: {m})"),
            (StaticAction::Fail, None) => "denies every image (static fail)".to_string(),
        },
        AuthorityKind::Key(k) => {
            let keys: Vec<String> = k
                .keys
                .iter()
                .map(|key| format!("{} ({})", key.fingerprint, key.algorithm))
                .collect();
            let rekor = match &k.rekor {
                Some(trust) => {
                    let logs: Vec<&str> = trust.rekor_keys.keys().map(String::as_str).collect();
                    format!("; Rekor bundle required from logs {}", logs.join(", "))
                }
                None => String::new(),
            };
            format!(
                "signed by any of {} key(s): {}; signedIdentity {}{rekor}",
                keys.len(),
                keys.join(", "),
                identity_words(&k.identity)
            )
        }
        AuthorityKind::Keyless(k) => keyless_words(k),
        AuthorityKind::Notation(n) => notation_words(n),
    };
    let source = authority
        .source
        .as_ref()
        .map(|s| {
            let places: Vec<String> = s
                .locations
                .iter()
                .map(|l| {
                    let repository = l.repository.as_deref().unwrap_or("the image's repository");
                    match l.tag_prefix.is_empty() {
                        true => repository.to_string(),
                        false => format!("{repository} (tags {}sha256-….sig)", l.tag_prefix),
                    }
                })
                .collect();
            let place = format!(" (signatures in {}", places.join(" or "));
            let names: Vec<&str> = s.pull_secrets.iter().map(|p| p.name.as_str()).collect();
            match names.is_empty() {
                true => format!("{place})"),
                false => format!("{place}, read with Secrets {})", names.join(", ")),
            }
        })
        .unwrap_or_default();
    format!(
        "{}: {what}{source}{}",
        authority.name,
        attestation_words(authority)
    )
}

/// `; attests instead of signing: name (predicate URI, rego policy), …`.
fn attestation_words(authority: &Authority) -> String {
    if authority.attestations.is_empty() {
        return String::new();
    }
    let entries: Vec<String> = authority
        .attestations
        .iter()
        .map(|a| {
            let policy = a.policy.as_ref().map_or("no policy".to_string(), |p| {
                format!("{} policy", p.language.as_str())
            });
            format!("{} ({}, {policy})", a.name, a.predicate_uri)
        })
        .collect();
    format!(
        "; satisfied by attestations instead of signatures: {}",
        entries.join(", ")
    )
}

fn keyless_words(k: &KeylessAuthority) -> String {
    let identities: Vec<String> = k.identities.iter().map(|i| i.describe()).collect();
    let cas: Vec<String> = k
        .trust
        .certificate_authorities
        .iter()
        .map(|ca| format!("sha256:{}", hex::encode(Sha256::digest(&ca.root))))
        .collect();
    let logs: Vec<&str> = k.trust.rekor_keys.keys().map(String::as_str).collect();
    format!(
        "keyless, any of: {}; CA roots {}; Rekor logs {}; trust from {}; signedIdentity {}",
        identities.join(" or "),
        cas.join(", "),
        logs.join(", "),
        k.trust.origin,
        identity_words(&k.identity)
    )
}

/// The rule as containers-policy.json spells it.
pub(super) fn identity_words(rule: &IdentityRule) -> String {
    match rule {
        IdentityRule::MatchRepository => "matchRepository".into(),
        IdentityRule::MatchExact => "matchExact".into(),
        IdentityRule::MatchRepoDigestOrExact => "matchRepoDigestOrExact".into(),
        IdentityRule::ExactReference(r) => format!("exactReference {r}"),
        IdentityRule::ExactRepository(r) => format!("exactRepository {r}"),
        IdentityRule::RemapIdentity {
            prefix,
            signed_prefix,
        } => format!("remapIdentity {prefix} -> {signed_prefix} (then matchRepoDigestOrExact)"),
        IdentityRule::RemapRepository {
            prefix,
            signed_prefix,
        } => format!("remapIdentity {prefix} -> {signed_prefix} (then matchRepository)"),
        IdentityRule::AnyRepository => "anyRepository".into(),
    }
}

/// `Notation signature, level strict (...), trust stores "ca:x", identities ...`.
fn notation_words(n: &super::notation::NotationAuthority) -> String {
    let e = &n.enforcement;
    let identities: Vec<String> = n.identities.iter().map(|i| i.describe()).collect();
    format!(
        "Notation signature at level {} (integrity {}, authenticity {}, authenticTimestamp {}, \
         expiry {}, revocation {}: never checked, Signet makes no OCSP/CRL requests); trust \
         stores {}; trusted identities {}",
        n.level,
        e.integrity.as_str(),
        e.authenticity.as_str(),
        e.authentic_timestamp.as_str(),
        e.expiry.as_str(),
        e.revocation.as_str(),
        n.store_names(),
        identities.join(" | ")
    )
}
