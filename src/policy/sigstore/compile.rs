//! Validated wire documents to the compiled model. Everything policy-controller accepts but
//! Signet cannot enforce yet is reported here, by field, never dropped: a policy that silently
//! lost an authority or an attestation would admit what its author meant to deny.

use std::sync::Arc;

use super::attestation_compile::{compile_attestations, compile_result_policy};
use super::cluster_image_policy as wire;
use super::compile_keyless::{compile_keyless, lookup};
use super::compile_secrets::{
    Inlined, PULL_SECRETS_REASON, SECRET_KEY_REASON, inline_key_secrets, unusable_authority,
};
use super::key::{self, Algorithm, Curve};
use super::resource_match::compile_match;
use super::syntax::{repository_name, repository_prefix};
use super::validate::normalise_hash;
use crate::policy::field_error::join;
use crate::policy::glob::ImageGlob;
use crate::policy::model::{
    Authority, AuthorityKind, FailureAction, IdentityRule, ImagePolicy, KeyAuthority, MAX_SOURCES,
    Mode, MultiArch, Placeholder, SignatureFormat, SignatureLocation, SignatureSource,
    StaticAction, StaticAuthority, TrustedKey,
};
use crate::policy::secret_refs::{PolicySecrets, PullSecretData};
use crate::policy::trust::{KeylessTrust, TrustRoots};

/// Why `kms` is refused, and what to do instead.
pub(super) const KMS_REASON: &str = "KMS keys are refused: verifying with one calls the cloud \
     provider's API (and needs its credentials) at every review, and Signet never calls out; \
     export the public key (`cosign public-key --key <kms-uri> > key.pub`) and put the PEM in key.data";
/// How an `ImagePolicy` reads Secrets: never (Signet's namespace is not its users').
static NAMESPACED_SECRETS: PolicySecrets = PolicySecrets::Refused;

/// At most this many authorities per policy.
pub(crate) const MAX_AUTHORITIES: usize = 100;
/// At most this many keys per authority.
pub(crate) const MAX_KEYS: usize = 100;

/// A field Signet cannot enforce, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub field: String,
    pub reason: String,
}

#[derive(Default)]
pub(super) struct Findings(Vec<Finding>);

impl Findings {
    pub(super) fn add(&mut self, field: &str, reason: impl Into<String>) {
        self.0.push(Finding {
            field: field.to_string(),
            reason: reason.into(),
        });
    }
}

/// Compile one validated document; `source` is the file it came from and `roots` the trust roots
/// keyless authorities may refer to.
pub(crate) fn compile(
    doc: &wire::Document,
    source: &str,
    roots: &TrustRoots,
) -> Result<ImagePolicy, Vec<Finding>> {
    let mut findings = Findings::default();
    let spec = &doc.spec;
    let secrets = match doc.is_namespaced() {
        true => &NAMESPACED_SECRETS,
        false => roots.secrets(),
    };
    spec_findings(spec, &mut findings);
    let result_policy = spec
        .policy
        .as_ref()
        .and_then(|p| compile_result_policy(p, secrets, &mut findings));
    let images = spec
        .images
        .iter()
        .enumerate()
        .filter_map(|(i, image)| compile_glob(&image.glob, i, &mut findings))
        .collect();
    let authorities = spec
        .authorities
        .iter()
        .enumerate()
        .filter_map(|(i, a)| compile_authority(a, i, roots, secrets, &mut findings))
        .collect();
    let resources = compile_match(&spec.match_resources, &mut findings);
    if !findings.0.is_empty() {
        return Err(findings.0);
    }
    Ok(ImagePolicy {
        name: doc.metadata.name.clone(),
        namespace: doc.is_namespaced().then(|| doc.metadata.namespace.clone()),
        source: source.to_string(),
        images,
        scope: None,
        authorities,
        mode: if spec.mode == "warn" {
            Mode::Warn
        } else {
            Mode::Enforce
        },
        on_registry_error: match spec.on_registry_error.as_deref() {
            Some("warn") => FailureAction::Warn,
            _ => FailureAction::Deny,
        },
        fingerprint: [0; 32],
        // policy-controller verifies the digest the reference resolves to (an index's own):
        // its kind keeps that default; Signet's modes are opt-in.
        multi_arch: spec
            .multi_arch
            .as_deref()
            .and_then(MultiArch::parse)
            .unwrap_or(MultiArch::Index),
        require_digest: spec.require_digest,
        placeholders: spec
            .placeholders
            .iter()
            .map(|p| Placeholder {
                image: p.image.clone(),
                injector: p.injector.clone(),
                containers: p.containers.clone(),
                namespaces: p.namespaces.clone(),
            })
            .collect(),
        resources,
        result_policy,
    })
}

fn spec_findings(spec: &wire::Spec, findings: &mut Findings) {
    if spec.authorities.len() > MAX_AUTHORITIES {
        findings.add(
            "spec.authorities",
            format!(
                "{} authorities exceed Signet's limit of {MAX_AUTHORITIES}",
                spec.authorities.len()
            ),
        );
    }
}

fn compile_glob(glob: &str, i: usize, findings: &mut Findings) -> Option<ImageGlob> {
    ImageGlob::parse(glob)
        .map_err(|e| findings.add(&format!("spec.images[{i}].glob"), e.to_string()))
        .ok()
}

fn compile_authority(
    a: &wire::Authority,
    i: usize,
    roots: &TrustRoots,
    secrets: &PolicySecrets,
    findings: &mut Findings,
) -> Option<Authority> {
    let at = format!("spec.authorities[{i}]");
    let a = match inline_key_secrets(a, &at, secrets, findings) {
        Inlined::Ready(a) => a,
        Inlined::Unusable(reason) => return Some(unusable_authority(a, i, reason)),
        Inlined::Refused => return None,
    };
    let a: &wire::Authority = &a;
    companion_findings(a, &at, findings);
    let source = match compile_sources(&a.sources, &at, secrets, findings) {
        Ok(source) => source,
        Err(Some(reason)) => return Some(unusable_authority(a, i, reason)),
        Err(None) => return None,
    };
    let kind = if let Some(s) = &a.static_ref {
        Some(AuthorityKind::Static(compile_static(s)))
    } else if let Some(k) = &a.key {
        let identity = compile_identity(a.signed_identity.as_ref(), &at, findings);
        let key_at = join(&at, "key");
        let rekor = key_rekor(a.ctlog.as_ref(), &at, roots, findings);
        let timestamps = key_timestamps(a.rfc3161timestamp.as_ref(), &at, roots, findings);
        compile_key(k, &key_at, findings).and_then(|keys| {
            let threshold = compile_threshold(k.threshold, keys.len(), "keys", &key_at, findings)?;
            Some(AuthorityKind::Key(KeyAuthority {
                keys,
                identity,
                rekor: rekor?,
                threshold,
                timestamps: timestamps?,
            }))
        })
    } else if let Some(k) = &a.keyless {
        let identity = compile_identity(a.signed_identity.as_ref(), &at, findings);
        compile_keyless(a, k, &at, roots, identity, findings).map(AuthorityKind::Keyless)
    } else if let Some(n) = &a.notation {
        let name = match a.name.is_empty() {
            true => format!("authority-{i}"),
            false => a.name.clone(),
        };
        let stores = n
            .trust_stores
            .iter()
            .map(|s| (s.name.as_str(), s.kind.as_str(), s.data.as_str()));
        let statement = crate::policy::notation::InlineStatement {
            name: &name,
            level: &n.level,
            overrides: &n.overrides,
            verify_timestamp: &n.verify_timestamp,
            identities: &n.trusted_identities,
        };
        crate::policy::notation::compile_inline(statement, stores)
            .map(AuthorityKind::Notation)
            .map_err(|e| findings.add(&join(&at, "notation"), e))
            .ok()
    } else {
        None
    };
    let name = match a.name.is_empty() {
        true => format!("authority-{i}"),
        false => a.name.clone(),
    };
    let format = compile_format(a, &at, findings);
    let attestations = compile_attestations(&a.attestations, &at, secrets, findings);
    Some(Authority {
        name,
        kind: kind?,
        source,
        format: format?,
        attestations: attestations?,
    })
}

/// The Rekor keys a key authority's signatures must be logged with, as policy-controller's
/// `rekorClientAndKeysFromAuthority` picks them: `ctlog.trustRootRef`'s, else (a `ctlog.url`)
/// public Rekor's, else none. `Some(None)`: no Rekor; `None`: refused (reported). Offline, the
/// signature's Rekor bundle (SET) is required: there is no online lookup.
fn key_rekor(
    ctlog: Option<&wire::TLog>,
    at: &str,
    roots: &TrustRoots,
    findings: &mut Findings,
) -> Option<Option<Arc<KeylessTrust>>> {
    let Some(ctlog) = ctlog else {
        return Some(None);
    };
    let path = join(at, "ctlog.trustRootRef");
    let root = match (ctlog.trust_root_ref.is_empty(), &ctlog.url) {
        (false, _) => lookup(roots, &ctlog.trust_root_ref, &path, findings)?,
        (true, Some(_)) => roots.public_good()?.clone(),
        (true, None) => return Some(None),
    };
    if root.rekor_keys.is_empty() {
        findings.add(&path, format!("{} has no Rekor (tLogs) keys", root.origin));
        return None;
    }
    Some(Some(root))
}

/// The timestamp authorities a key authority's signatures must be timestamped by:
/// `rfc3161timestamp.trustRootRef`'s (`Some(None)`: no `rfc3161timestamp`; `None`: refused,
/// reported). policy-controller reads the TrustRoot's `timestampAuthorities` the same way.
fn key_timestamps(
    timestamp: Option<&wire::Rfc3161Timestamp>,
    at: &str,
    roots: &TrustRoots,
    findings: &mut Findings,
) -> Option<Option<Arc<KeylessTrust>>> {
    let Some(timestamp) = timestamp else {
        return Some(None);
    };
    let path = join(at, "rfc3161timestamp.trustRootRef");
    if timestamp.trust_root_ref.is_empty() {
        findings.add(
            &path,
            "name the TrustRoot whose timestampAuthorities sign the timestamps",
        );
        return None;
    }
    let root = lookup(roots, &timestamp.trust_root_ref, &path, findings)?;
    if root.timestamp_authorities.is_empty() {
        findings.add(
            &path,
            format!("{} has no timestampAuthorities", root.origin),
        );
        return None;
    }
    Some(Some(root))
}

/// Settings next to `key`/`keyless` that change what a signature must prove.
fn companion_findings(a: &wire::Authority, at: &str, findings: &mut Findings) {
    if a.rfc3161timestamp.is_some() && a.key.is_none() {
        findings.add(
            &join(at, "rfc3161timestamp"),
            "RFC 3161 timestamps are verified on key authorities; a keyless authority's \
             timestamps come from its trust root's timestampAuthorities (Sigstore bundles)",
        );
    }
}

/// `signatureFormat`: `legacy` (cosign `.sig` layers) or `bundle` (Sigstore bundles, keyless
/// only, as policy-controller's `checkOptsFromAuthority` requires).
fn compile_format(
    a: &wire::Authority,
    at: &str,
    findings: &mut Findings,
) -> Option<SignatureFormat> {
    let path = join(at, "signatureFormat");
    match a.signature_format.as_deref() {
        None | Some("") => Some(SignatureFormat::Any),
        Some("legacy") => Some(SignatureFormat::Legacy),
        Some("bundle") if a.key.is_some() => {
            findings.add(
                &path,
                "the bundle format needs a keyless authority (policy-controller refuses it on key authorities too)",
            );
            None
        }
        Some("bundle") => Some(SignatureFormat::Bundle),
        Some(other) => {
            findings.add(
                &path,
                format!("{other:?} is not a signature format; want legacy or bundle"),
            );
            None
        }
    }
}

fn compile_static(s: &wire::StaticRef) -> StaticAuthority {
    StaticAuthority {
        action: if s.action == "pass" {
            StaticAction::Pass
        } else {
            StaticAction::Fail
        },
        message: (!s.message.is_empty()).then(|| s.message.clone()),
        unusable: false,
    }
}

fn compile_key(k: &wire::KeyRef, at: &str, findings: &mut Findings) -> Option<Vec<TrustedKey>> {
    if !k.kms.is_empty() {
        findings.add(&join(at, "kms"), KMS_REASON);
        return None;
    }
    if k.secret_ref.is_some() {
        // Inlined before compiling; still here only if that step was skipped.
        findings.add(&join(at, "secretRef"), SECRET_KEY_REASON);
        return None;
    }
    let data_path = join(at, "data");
    let public_keys = key::parse_public_keys(&k.data)
        .map_err(|e| findings.add(&data_path, e))
        .ok()?;
    if public_keys.len() > 1 && k.threshold.is_none() {
        let reason = format!(
            "{} PEM blocks: policy-controller verifies with the first one only, Signet would accept any, \
             so the two would not agree; give one key per authority (several authorities are any-of), \
             or set Signet's threshold to require that many of these keys",
            public_keys.len()
        );
        findings.add(&data_path, reason);
        return None;
    }
    if public_keys.len() > MAX_KEYS {
        let reason = format!(
            "{} keys exceed Signet's limit of {MAX_KEYS}",
            public_keys.len()
        );
        findings.add(&data_path, reason);
        return None;
    }
    let hash = normalise_hash(&k.hash_algorithm);
    let keys: Vec<TrustedKey> = public_keys
        .iter()
        .filter_map(|pk| {
            key::trusted_key(pk, &hash)
                .map_err(|e| findings.add(&key_field(at, pk.algorithm), e))
                .ok()
        })
        .collect();
    (keys.len() == public_keys.len()).then_some(keys)
}

/// Signet's `threshold` (at `at`.threshold): absent is 1; otherwise 1 to `available` (the
/// number of keys or identities, named `what`).
pub(super) fn compile_threshold(
    threshold: Option<i64>,
    available: usize,
    what: &str,
    at: &str,
    findings: &mut Findings,
) -> Option<usize> {
    let Some(k) = threshold else { return Some(1) };
    let path = join(at, "threshold");
    match usize::try_from(k) {
        Ok(k) if k >= 1 && k <= available => Some(k),
        Ok(k) if k >= 1 => {
            let reason = format!("{k} signers required, but only {available} {what} are trusted");
            findings.add(&path, reason);
            None
        }
        _ => {
            findings.add(&path, format!("must be at least 1, got {k}"));
            None
        }
    }
}

/// Blame `hashAlgorithm` when the key type is supported and only the hash is not.
fn key_field(at: &str, algorithm: Algorithm) -> String {
    match algorithm {
        Algorithm::Rsa { .. }
        | Algorithm::Ecdsa {
            curve: Curve::P256 | Curve::P384 | Curve::P521,
        } => join(at, "hashAlgorithm"),
        _ => join(at, "data"),
    }
}

/// `source[]`: where the authority's signatures live and the Secrets read them. `Ok(None)`:
/// next to the image, with the review's credentials. `Err(Some(reason))`: a pull Secret cannot
/// be used (the authority admits nothing); `Err(None)`: refused (reported).
fn compile_sources(
    sources: &[wire::Source],
    at: &str,
    secrets: &PolicySecrets,
    findings: &mut Findings,
) -> Result<Option<SignatureSource>, Option<String>> {
    if sources.len() > MAX_SOURCES {
        let reason = format!(
            "{} sources exceed Signet's limit of {MAX_SOURCES}",
            sources.len()
        );
        findings.add(&join(at, "source"), reason);
        return Err(None);
    }
    let mut locations = Vec::new();
    let mut pull_secrets: Vec<PullSecretData> = Vec::new();
    let mut refused = false;
    for (j, s) in sources.iter().enumerate() {
        let path = format!("{at}.source[{j}]");
        if !s.signature_pull_secrets.is_empty() {
            let field = join(&path, "signaturePullSecrets");
            let names: Vec<&str> = s
                .signature_pull_secrets
                .iter()
                .map(|r| r.name.as_str())
                .collect();
            match secrets.pull_secrets(&names, &field) {
                Ok(found) => pull_secrets.extend(found),
                Err(Some(reason)) => return Err(Some(reason)),
                Err(None) => {
                    findings.add(&field, PULL_SECRETS_REASON);
                    refused = true;
                }
            }
        }
        match compile_location(s, &path) {
            Ok(location) => locations.push(location),
            Err((field, reason)) => {
                findings.add(&field, reason);
                refused = true;
            }
        }
    }
    let only_own = locations
        .iter()
        .all(|l| l.repository.is_none() && l.tag_prefix.is_empty());
    match (refused, only_own && pull_secrets.is_empty()) {
        (true, _) => Err(None),
        (false, true) => Ok(None),
        (false, false) => Ok(Some(SignatureSource {
            locations,
            pull_secrets,
        })),
    }
}

/// One `source[]` entry at `path`, or the field at fault and why.
fn compile_location(s: &wire::Source, path: &str) -> Result<SignatureLocation, (String, String)> {
    let repository = match s.oci.is_empty() {
        true => None,
        false => Some(source_repository(&s.oci).map_err(|e| (join(path, "oci"), e))?),
    };
    check_tag_prefix(&s.tag_prefix).map_err(|e| (join(path, "tagPrefix"), e))?;
    Ok(SignatureLocation {
        repository,
        tag_prefix: s.tag_prefix.clone(),
    })
}

/// A tag prefix must keep `<prefix>sha256-<64 hex>.sig` a valid tag: tag characters, and at
/// most 128 characters in all.
fn check_tag_prefix(prefix: &str) -> Result<(), String> {
    const SIGNATURE_TAG_LEN: usize = "sha256-.sig".len() + 64;
    let max = 128 - SIGNATURE_TAG_LEN;
    let valid_first = prefix
        .chars()
        .next()
        .is_none_or(|c| c.is_ascii_alphanumeric() || c == '_');
    let valid_rest = prefix
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    match (valid_first && valid_rest, prefix.len() <= max) {
        (true, true) => Ok(()),
        (false, _) => Err(format!(
            "{prefix:?} cannot start a tag: use letters, digits, `_`, `.` and `-` (not first)"
        )),
        (true, false) => Err(format!(
            "{} characters; at most {max}, so that the signature tag stays within 128",
            prefix.len()
        )),
    }
}

fn source_repository(oci: &str) -> Result<String, String> {
    if !oci.contains('/') {
        return Err("a source naming only a registry is not supported; name the repository".into());
    }
    repository_name(oci)
}

fn compile_identity(
    id: Option<&wire::SignedIdentity>,
    at: &str,
    findings: &mut Findings,
) -> IdentityRule {
    let Some(id) = id else {
        return IdentityRule::MatchRepository;
    };
    let path = join(at, "signedIdentity");
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let rule = match id.identity_type.as_str() {
        "exactRepository" => {
            repository_name(&value(&id.docker_repository)).map(IdentityRule::ExactRepository)
        }
        "remapIdentity" => repository_prefix(&value(&id.prefix)).and_then(|prefix| {
            let signed_prefix = repository_prefix(&value(&id.signed_prefix))?;
            Ok(IdentityRule::RemapRepository {
                prefix,
                signed_prefix,
            })
        }),
        "anyRepository" => Ok(IdentityRule::AnyRepository),
        _ => Ok(IdentityRule::MatchRepository),
    };
    rule.unwrap_or_else(|e| {
        findings.add(&path, e);
        IdentityRule::MatchRepository
    })
}
