//! containers-policy.json (CRI-O's and podman's `policy.json`, containers/image
//! `signature/policy_config.go` and `policy_config_sigstore.go`) read into typed requirements,
//! with containers/image's rules: unknown or duplicate keys, a missing `default`, an empty
//! requirement list, an unknown requirement or identity type, and every "exactly one of" rule
//! refuse the file. What the file says but Signet cannot enforce (`signedBy` GPG keys,
//! `signedBaseLayer`, `sigstoreSigned` with `pki`) is refused too, by field: a requirement is
//! never skipped.
//!
//! Only the `docker` transport governs what the kubelet pulls (CRI-O pulls through `docker:`);
//! the sections of other transports (`docker-daemon`, `dir`, `oci`, …) are checked for known
//! requirement types and otherwise ignored.

use crate::policy::strict_json::{FieldProblem, Json, Obj, array};

/// Most scopes in the `docker` transport.
pub(super) const MAX_SCOPES: usize = 1000;
/// Most requirements in one scope.
pub(super) const MAX_REQUIREMENTS: usize = 100;
/// The requirement types containers/image knows.
const KNOWN_TYPES: &[&str] = &[
    "insecureAcceptAnything",
    "reject",
    "signedBy",
    "signedBaseLayer",
    "sigstoreSigned",
];

/// A parsed containers-policy.json.
#[derive(Debug)]
pub(crate) struct PolicyJson {
    /// `default`.
    pub(super) default: Vec<Requirement>,
    /// `transports.docker`, in file order; the key `""` is the transport default.
    pub(super) docker: Vec<(String, Vec<Requirement>)>,
    /// Other transports, which never govern a kubelet pull.
    pub ignored_transports: Vec<String>,
}

/// One requirement and where it is.
#[derive(Debug)]
pub(super) struct Requirement {
    /// `transports.docker["quay.io/crio"][0]`.
    pub path: String,
    pub kind: RequirementKind,
}

#[derive(Debug)]
pub(super) enum RequirementKind {
    InsecureAcceptAnything,
    Reject,
    Sigstore(Sigstore),
}

/// `sigstoreSigned`, with exactly one source of trust.
#[derive(Debug)]
pub(super) struct Sigstore {
    pub trust: SigstoreTrust,
    /// Rekor public keys (`rekorPublicKey*`), with the field they came from.
    pub rekor: Vec<Material>,
    pub identity: SignedIdentity,
}

#[derive(Debug)]
pub(super) enum SigstoreTrust {
    /// `keyPath`, `keyPaths`, `keyData` or `keyDatas`: public keys.
    Keys(Vec<Material>),
    /// `fulcio`.
    Fulcio(Fulcio),
}

/// `fulcio`: the CA, the OIDC issuer and the email the certificate must carry.
#[derive(Debug)]
pub(super) struct Fulcio {
    pub ca: Material,
    pub oidc_issuer: String,
    pub subject_email: String,
}

/// PEM given inline or by path, with the field that gave it.
#[derive(Debug, Clone)]
pub(super) struct Material {
    pub field: String,
    pub source: MaterialSource,
}

#[derive(Debug, Clone)]
pub(super) enum MaterialSource {
    Path(String),
    Data(Vec<u8>),
}

/// `signedIdentity`, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SignedIdentity {
    MatchExact,
    MatchRepoDigestOrExact,
    MatchRepository,
    ExactReference(String),
    ExactRepository(String),
    RemapIdentity {
        prefix: String,
        signed_prefix: String,
    },
}

/// Problems: invalid (containers/image refuses the file too) or unsupported (valid, but Signet
/// cannot enforce it).
#[derive(Debug)]
pub(crate) enum Problem {
    Invalid(FieldProblem),
    Unsupported(FieldProblem),
}

impl From<FieldProblem> for Problem {
    fn from(p: FieldProblem) -> Self {
        Problem::Invalid(p)
    }
}

fn invalid(field: &str, reason: impl Into<String>) -> Problem {
    Problem::Invalid(FieldProblem::new(field, reason))
}

fn unsupported(field: &str, reason: impl Into<String>) -> Problem {
    Problem::Unsupported(FieldProblem::new(field, reason))
}

/// Parse and check a whole file.
pub(crate) fn parse(text: &str) -> Result<PolicyJson, Problem> {
    let value = Json::parse(text).map_err(|e| invalid("", format!("not valid JSON: {e}")))?;
    let top = Obj::of(&value, "")?;
    top.only(&["default", "transports"])?;
    let default = top
        .get("default")
        .ok_or_else(|| invalid("default", "Default policy is missing"))?;
    let default = requirements(default, "default", true)?;
    let mut docker = Vec::new();
    let mut ignored_transports = Vec::new();
    if let Some(transports) = top.get("transports") {
        let transports = Obj::of(transports, "transports")?;
        for (name, scopes) in transports.entries {
            let at = transports.at(name);
            match name.as_str() {
                "docker" => docker = docker_scopes(scopes, &at)?,
                _ => {
                    check_ignored(scopes, &at)?;
                    ignored_transports.push(name.clone());
                }
            }
        }
    }
    Ok(PolicyJson {
        default,
        docker,
        ignored_transports,
    })
}

fn docker_scopes(value: &Json, at: &str) -> Result<Vec<(String, Vec<Requirement>)>, Problem> {
    let scopes = Obj::of(value, at)?;
    if scopes.entries.len() > MAX_SCOPES {
        let reason = format!("more than {MAX_SCOPES} scopes (Signet's limit)");
        return Err(unsupported(at, reason));
    }
    scopes
        .entries
        .iter()
        .map(|(scope, reqs)| Ok((scope.clone(), requirements(reqs, &scopes.at(scope), true)?)))
        .collect()
}

/// A transport Signet ignores: requirement lists must still be non-empty lists of known types.
fn check_ignored(value: &Json, at: &str) -> Result<(), Problem> {
    let scopes = Obj::of(value, at)?;
    for (scope, reqs) in scopes.entries {
        requirements(reqs, &scopes.at(scope), false)?;
    }
    Ok(())
}

fn requirements(value: &Json, at: &str, honour: bool) -> Result<Vec<Requirement>, Problem> {
    let items = array(value, at)?;
    if items.is_empty() {
        return Err(invalid(
            at,
            "List of verification policy requirements must not be empty",
        ));
    }
    if items.len() > MAX_REQUIREMENTS {
        let reason = format!("more than {MAX_REQUIREMENTS} requirements (Signet's limit)");
        return Err(unsupported(at, reason));
    }
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("{at}[{i}]");
        let obj = Obj::of(item, &path)?;
        let kind = obj.required_string("type")?;
        if !KNOWN_TYPES.contains(&kind) {
            let reason = format!("Unknown policy requirement type {kind:?}");
            return Err(invalid(&obj.at("type"), reason));
        }
        if honour {
            let kind = requirement(&obj, kind)?;
            out.push(Requirement { path, kind });
        }
    }
    Ok(out)
}

fn requirement(obj: &Obj<'_>, kind: &str) -> Result<RequirementKind, Problem> {
    match kind {
        "insecureAcceptAnything" => {
            obj.only(&["type"])?;
            Ok(RequirementKind::InsecureAcceptAnything)
        }
        "reject" => {
            obj.only(&["type"])?;
            Ok(RequirementKind::Reject)
        }
        "sigstoreSigned" => sigstore(obj).map(RequirementKind::Sigstore),
        "signedBy" => Err(unsupported(
            &obj.at("type"),
            "signedBy (GPG \"simple signing\" signatures) is not supported: Signet verifies \
             sigstore signatures only; use sigstoreSigned",
        )),
        _ => Err(unsupported(
            &obj.at("type"),
            "signedBaseLayer is not supported: Signet does not check base-layer signatures",
        )),
    }
}

const SIGSTORE_FIELDS: &[&str] = &[
    "type",
    "keyPath",
    "keyPaths",
    "keyData",
    "keyDatas",
    "fulcio",
    "pki",
    "rekorPublicKeyPath",
    "rekorPublicKeyPaths",
    "rekorPublicKeyData",
    "rekorPublicKeyDatas",
    "signedIdentity",
];

fn sigstore(obj: &Obj<'_>) -> Result<Sigstore, Problem> {
    obj.only(SIGSTORE_FIELDS)?;
    let identity = match obj.get("signedIdentity") {
        Some(value) => signed_identity(value, &obj.at("signedIdentity"))?,
        None => SignedIdentity::MatchRepoDigestOrExact,
    };
    let mut sources = material_sources(obj, ["keyPath", "keyPaths", "keyData", "keyDatas"])?;
    let fulcio = obj.get("fulcio");
    let pki = obj.get("pki");
    let count = sources.len() + usize::from(fulcio.is_some()) + usize::from(pki.is_some());
    if count != 1 {
        return Err(invalid(
            &obj.path,
            "exactly one of keyPath, keyPaths, keyData, keyDatas, fulcio, and pki must be specified",
        ));
    }
    let mut rekor = material_sources(
        obj,
        [
            "rekorPublicKeyPath",
            "rekorPublicKeyPaths",
            "rekorPublicKeyData",
            "rekorPublicKeyDatas",
        ],
    )?;
    if rekor.len() > 1 {
        return Err(invalid(
            &obj.path,
            "at most one of rekorPublicKeyPath, rekorPublicKeyPaths, rekorPublicKeyData and \
             rekorPublicKeyDatas can be used simultaneously",
        ));
    }
    let rekor = rekor.pop().map(|(_, m)| m).unwrap_or_default();
    if let Some(pki) = pki {
        return Err(unsupported(
            &obj.at("pki"),
            format!(
                "sigstoreSigned with pki (a private CA without Fulcio) is not supported yet{}",
                if matches!(pki, Json::Object(_)) {
                    ""
                } else {
                    " (and it must be an object)"
                }
            ),
        ));
    }
    let trust = match (fulcio, sources.pop()) {
        (Some(fulcio), _) => {
            if rekor.is_empty() {
                return Err(invalid(
                    &obj.path,
                    "At least one of rekorPublicKeyPath, rekorPublicKeyPaths, rekorPublicKeyData \
                     and rekorPublicKeyDatas must be specified if fulcio is used",
                ));
            }
            SigstoreTrust::Fulcio(parse_fulcio(fulcio, &obj.at("fulcio"))?)
        }
        (None, Some((_, keys))) => SigstoreTrust::Keys(keys),
        (None, None) => return Err(invalid(&obj.path, "no key source")),
    };
    Ok(Sigstore {
        trust,
        rekor,
        identity,
    })
}

/// The present sources among `[path, paths, data, datas]`, each as (field, materials).
fn material_sources(
    obj: &Obj<'_>,
    [path, paths, data, datas]: [&str; 4],
) -> Result<Vec<(String, Vec<Material>)>, Problem> {
    let mut out = Vec::new();
    let material = |field: String, source| Material { field, source };
    if let Some(p) = obj.string(path)?.filter(|p| !p.is_empty()) {
        let field = obj.at(path);
        out.push((
            field.clone(),
            vec![material(field, MaterialSource::Path(p.into()))],
        ));
    }
    if let Some(list) = obj.strings(paths)? {
        let at = obj.at(paths);
        if list.is_empty() {
            return Err(invalid(&at, format!("{paths:?} contains no entries")));
        }
        let items = list.iter().enumerate();
        let items =
            items.map(|(i, p)| material(format!("{at}[{i}]"), MaterialSource::Path(p.to_string())));
        out.push((at.clone(), items.collect()));
    }
    if let Some(bytes) = obj.bytes(data)? {
        let field = obj.at(data);
        out.push((
            field.clone(),
            vec![material(field, MaterialSource::Data(bytes))],
        ));
    }
    if let Some(list) = obj.bytes_list(datas)? {
        let at = obj.at(datas);
        if list.is_empty() {
            return Err(invalid(&at, format!("{datas:?} contains no entries")));
        }
        let items = list.into_iter().enumerate();
        let items = items.map(|(i, b)| material(format!("{at}[{i}]"), MaterialSource::Data(b)));
        out.push((at.clone(), items.collect()));
    }
    Ok(out)
}

fn parse_fulcio(value: &Json, at: &str) -> Result<Fulcio, Problem> {
    let obj = Obj::of(value, at)?;
    obj.only(&["caPath", "caData", "oidcIssuer", "subjectEmail"])?;
    let mut ca = material_sources(&obj, ["caPath", "", "caData", ""])?;
    if ca.len() != 1 {
        let reason = match ca.len() {
            0 => "At least one of caPath and caData must be specified",
            _ => "caPath and caData cannot be used simultaneously",
        };
        return Err(invalid(at, reason));
    }
    let ca = ca.pop().and_then(|(_, mut m)| m.pop());
    let ca = ca.ok_or_else(|| invalid(at, "no CA"))?;
    let non_empty = |key: &str, what: &str| -> Result<String, Problem> {
        match obj.string(key)? {
            Some(v) if !v.is_empty() => Ok(v.to_string()),
            _ => Err(invalid(&obj.at(key), format!("{what} not specified"))),
        }
    };
    Ok(Fulcio {
        ca,
        oidc_issuer: non_empty("oidcIssuer", "oidcIssuer")?,
        subject_email: non_empty("subjectEmail", "subjectEmail")?,
    })
}

fn signed_identity(value: &Json, at: &str) -> Result<SignedIdentity, Problem> {
    let obj = Obj::of(value, at)?;
    let kind = obj.required_string("type")?;
    let exact_fields = |fields: &[&str]| -> Result<(), Problem> {
        obj.only(fields)?;
        match fields.iter().find(|f| obj.get(f).is_none()) {
            Some(missing) => Err(invalid(&obj.at(missing), format!("{missing} is missing"))),
            None => Ok(()),
        }
    };
    let identity = match kind {
        "matchExact" => SignedIdentity::MatchExact,
        "matchRepoDigestOrExact" => SignedIdentity::MatchRepoDigestOrExact,
        "matchRepository" => SignedIdentity::MatchRepository,
        "exactReference" => {
            exact_fields(&["type", "dockerReference"])?;
            SignedIdentity::ExactReference(obj.required_string("dockerReference")?.into())
        }
        "exactRepository" => {
            exact_fields(&["type", "dockerRepository"])?;
            SignedIdentity::ExactRepository(obj.required_string("dockerRepository")?.into())
        }
        "remapIdentity" => {
            exact_fields(&["type", "prefix", "signedPrefix"])?;
            SignedIdentity::RemapIdentity {
                prefix: obj.required_string("prefix")?.into(),
                signed_prefix: obj.required_string("signedPrefix")?.into(),
            }
        }
        other => {
            let reason = format!("Unknown policy reference match type {other:?}");
            return Err(invalid(&obj.at("type"), reason));
        }
    };
    if matches!(
        kind,
        "matchExact" | "matchRepoDigestOrExact" | "matchRepository"
    ) {
        exact_fields(&["type"])?;
    }
    Ok(identity)
}

#[cfg(test)]
mod tests;
