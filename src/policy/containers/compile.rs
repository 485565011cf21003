//! A parsed containers-policy.json compiled to Signet's model: each requirement of a scope is one
//! [`ImagePolicy`] with one authority, so "every matching policy must be satisfied" is
//! containers/image's "all requirements of the scope must hold". `insecureAcceptAnything` is a
//! static pass, `reject` a static fail with containers/image's words, `sigstoreSigned` a key
//! authority (requiring a Rekor bundle when Rekor keys are given) or a keyless one. Keys verify with SHA-256 whatever their type, as containers/image verifies
//! them; a key Signet cannot verify that way is refused at load.

use std::io::Read as _;
use std::sync::Arc;

use super::policy_json::{
    Fulcio, Material, MaterialSource, PolicyJson, Problem, Requirement, RequirementKind,
    SignedIdentity, Sigstore, SigstoreTrust,
};
use crate::policy::model::{
    AuthorityKind, CertificateIdentity, IdentityRule, ImagePolicy, KeyAuthority, KeylessAuthority,
    Matcher, REJECT_MESSAGE, Scope, StaticAction, StaticAuthority, TrustedKey,
};
use crate::policy::scope::valid_remap_prefix;
use crate::policy::sigstore::compile::MAX_KEYS;
use crate::policy::strict_json::FieldProblem;
use crate::policy::trust::KeylessTrust;
use crate::reference::ImageReference;

/// Largest key or certificate file read for `keyPath`, `caPath`, `rekorPublicKeyPath`.
pub(super) const MAX_MATERIAL_BYTES: u64 = 64 * 1024;

/// Every requirement of `policy`, in file order: `default`, then the docker scopes.
pub(crate) fn compile(policy: &PolicyJson, source: &str) -> Result<Vec<ImagePolicy>, Problem> {
    let mut out = Vec::new();
    let sections = std::iter::once((Scope::Default, &policy.default)).chain(
        policy.docker.iter().map(|(scope, reqs)| {
            let scope = match scope.is_empty() {
                true => Scope::DockerDefault,
                false => Scope::Docker(scope.clone()),
            };
            (scope, reqs)
        }),
    );
    for (scope, requirements) in sections {
        for (i, requirement) in requirements.iter().enumerate() {
            out.push(compile_requirement(requirement, &scope, i, source)?);
        }
    }
    Ok(out)
}

fn compile_requirement(
    requirement: &Requirement,
    scope: &Scope,
    index: usize,
    source: &str,
) -> Result<ImagePolicy, Problem> {
    let (name, kind) = match &requirement.kind {
        RequirementKind::InsecureAcceptAnything => (
            "insecureAcceptAnything",
            static_kind(StaticAction::Pass, None),
        ),
        RequirementKind::Reject => (
            "reject",
            static_kind(StaticAction::Fail, Some(REJECT_MESSAGE.to_string())),
        ),
        RequirementKind::Sigstore(sigstore) => (
            "sigstoreSigned",
            compile_sigstore(sigstore, &requirement.path, source)?,
        ),
    };
    Ok(ImagePolicy::of_one_authority(
        (format!("{scope}[{index}]"), source, Some(scope.clone())),
        name.to_string(),
        kind,
    ))
}

fn static_kind(action: StaticAction, message: Option<String>) -> AuthorityKind {
    AuthorityKind::Static(StaticAuthority {
        action,
        message,
        unusable: false,
    })
}

fn compile_sigstore(s: &Sigstore, at: &str, source: &str) -> Result<AuthorityKind, Problem> {
    let identity = identity_rule(&s.identity, &format!("{at}.signedIdentity"))?;
    match &s.trust {
        SigstoreTrust::Keys(materials) => {
            let keys = compile_keys(materials)?;
            let rekor = match s.rekor.is_empty() {
                true => None,
                false => Some(Arc::new(rekor_trust(&s.rekor, &format!("{source} {at}"))?)),
            };
            Ok(AuthorityKind::Key(KeyAuthority {
                keys,
                identity,
                rekor,
                threshold: 1,
                timestamps: None,
            }))
        }
        SigstoreTrust::Fulcio(fulcio) => {
            let origin = format!("{source} {at}.fulcio");
            let trust = fulcio_trust(fulcio, &s.rekor, &origin, &format!("{at}.fulcio"))?;
            Ok(AuthorityKind::Keyless(KeylessAuthority {
                identities: vec![CertificateIdentity {
                    issuer: Matcher::Exact(fulcio.oidc_issuer.clone()),
                    subject: Matcher::Email(fulcio.subject_email.clone()),
                }],
                trust: Arc::new(trust),
                identity,
                threshold: 1,
            }))
        }
    }
}

fn compile_keys(materials: &[Material]) -> Result<Vec<TrustedKey>, Problem> {
    if materials.len() > MAX_KEYS {
        let field = materials
            .first()
            .map(|m| m.field.as_str())
            .unwrap_or_default();
        let reason = format!("more than {MAX_KEYS} keys (Signet's limit)");
        return Err(Problem::Unsupported(FieldProblem::new(field, reason)));
    }
    let mut keys = Vec::new();
    for material in materials {
        let pem = single_pem(material)?;
        let key = TrustedKey::from_pem(&pem, "sha256").map_err(|e| {
            let reason = format!("{e} (containers/image verifies every key type with SHA-256)");
            match e.contains("cannot be verified yet") {
                true => Problem::Unsupported(FieldProblem::new(&material.field, reason)),
                false => invalid(&material.field, e),
            }
        })?;
        keys.extend(key);
    }
    Ok(keys)
}

/// `fulcio.caPath`/`caData` and the Rekor keys, as containers/image pools them: every CA
/// certificate a trust anchor, each Rekor entry one public key.
fn fulcio_trust(
    fulcio: &Fulcio,
    rekor: &[Material],
    origin: &str,
    at: &str,
) -> Result<KeylessTrust, Problem> {
    let ca = read_material(&fulcio.ca)?;
    let rekor_pems = rekor
        .iter()
        .map(single_pem)
        .collect::<Result<Vec<_>, _>>()?;
    let rekor_bytes: Vec<&[u8]> = rekor_pems.iter().map(String::as_bytes).collect();
    KeylessTrust::from_pem(origin, &ca, &rekor_bytes).map_err(|e| {
        let field = match e.to_string().contains("Rekor") || e.to_string().contains("RSA") {
            true => rekor.first().map_or(at.to_string(), |m| m.field.clone()),
            false => fulcio.ca.field.clone(),
        };
        invalid(&field, e.to_string())
    })
}

/// The Rekor keys beside public keys: the signature must carry a Rekor bundle of one of them.
fn rekor_trust(rekor: &[Material], origin: &str) -> Result<KeylessTrust, Problem> {
    let pems = rekor
        .iter()
        .map(single_pem)
        .collect::<Result<Vec<_>, _>>()?;
    let bytes: Vec<&[u8]> = pems.iter().map(String::as_bytes).collect();
    KeylessTrust::rekor_only(origin, &bytes).map_err(|e| {
        let field = rekor.first().map(|m| m.field.as_str()).unwrap_or_default();
        invalid(field, e.to_string())
    })
}

/// The PEM text of a key source, which must hold exactly one block (containers/image reads the
/// first block only; trusting more than it does would admit more than CRI-O).
fn single_pem(material: &Material) -> Result<String, Problem> {
    let bytes = read_material(material)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| invalid(&material.field, "not PEM text (not UTF-8)"))?;
    match text.matches("-----BEGIN ").count() {
        0 => Err(invalid(&material.field, "no PEM block found")),
        1 => Ok(text),
        n => Err(invalid(
            &material.field,
            format!(
                "{n} PEM blocks: containers/image reads only the first; give one key per entry \
                 (keyPaths / keyDatas / rekorPublicKeyDatas take several)"
            ),
        )),
    }
}

/// Inline data, or the file at a path (relative paths from the working directory, as
/// containers/image opens them), at most [`MAX_MATERIAL_BYTES`].
fn read_material(material: &Material) -> Result<Vec<u8>, Problem> {
    let path = match &material.source {
        MaterialSource::Data(bytes) => {
            if bytes.len() as u64 > MAX_MATERIAL_BYTES {
                return Err(too_large(&material.field));
            }
            return Ok(bytes.clone());
        }
        MaterialSource::Path(path) => path,
    };
    let io = |e: std::io::Error| invalid(&material.field, format!("cannot read {path}: {e}"));
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(MAX_MATERIAL_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_MATERIAL_BYTES {
        return Err(too_large(&material.field));
    }
    Ok(bytes)
}

fn too_large(field: &str) -> Problem {
    let reason = format!("larger than {MAX_MATERIAL_BYTES} bytes (Signet's limit)");
    Problem::Unsupported(FieldProblem::new(field, reason))
}

/// `signedIdentity` to the model, checked as containers/image checks it at load.
fn identity_rule(identity: &SignedIdentity, at: &str) -> Result<IdentityRule, Problem> {
    Ok(match identity {
        SignedIdentity::MatchExact => IdentityRule::MatchExact,
        SignedIdentity::MatchRepoDigestOrExact => IdentityRule::MatchRepoDigestOrExact,
        SignedIdentity::MatchRepository => IdentityRule::MatchRepository,
        SignedIdentity::ExactReference(reference) => {
            let field = format!("{at}.dockerReference");
            let parsed = ImageReference::parse(reference).map_err(|e| {
                invalid(
                    &field,
                    format!("Invalid format of dockerReference {reference:?}: {e}"),
                )
            })?;
            let last = reference.rsplit('/').next().unwrap_or(reference);
            if !reference.contains('@') && !last.contains(':') {
                let reason =
                    format!("dockerReference {reference:?} contains neither a tag nor digest");
                return Err(invalid(&field, reason));
            }
            IdentityRule::ExactReference(parsed.to_string())
        }
        SignedIdentity::ExactRepository(repository) => {
            let field = format!("{at}.dockerRepository");
            let parsed = ImageReference::parse(repository).map_err(|e| {
                invalid(
                    &field,
                    format!("Invalid format of dockerRepository {repository:?}: {e}"),
                )
            })?;
            IdentityRule::ExactRepository(parsed.name())
        }
        SignedIdentity::RemapIdentity {
            prefix,
            signed_prefix,
        } => {
            for (value, key) in [(prefix, "prefix"), (signed_prefix, "signedPrefix")] {
                if !valid_remap_prefix(value) {
                    return Err(invalid(
                        &format!("{at}.{key}"),
                        format!("prefix {value:?} is not valid"),
                    ));
                }
            }
            IdentityRule::RemapIdentity {
                prefix: prefix.clone(),
                signed_prefix: signed_prefix.clone(),
            }
        }
    })
}

fn invalid(field: &str, reason: impl Into<String>) -> Problem {
    Problem::Invalid(FieldProblem::new(field, reason))
}
