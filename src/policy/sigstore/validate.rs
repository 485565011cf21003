//! policy-controller's validation of a `ClusterImagePolicy` / `ImagePolicy`
//! (`clusterimagepolicy_validation.go`, both API versions, after `SetDefaults`), with its
//! messages and field paths, plus the CRD-schema rule the API server applies first
//! (`keyless.identities` is required) and checks of Signet's own extensions. Pure; no network.

use regex::Regex;

use super::cluster_image_policy as wire;
use super::key;
use super::syntax::{
    is_request_uri, repository_name, repository_prefix, validate_kms, validate_oci,
};
use crate::policy::field_error::{FieldErrors, join};
use crate::policy::glob::ImageGlob;
use crate::policy::model::MultiArch;

const VALID_MODES: &[&str] = &["enforce", "warn"];
const VALID_ACTIONS: &[&str] = &["pass", "fail"];
const VALID_HASHES: &[&str] = &["sha224", "sha256", "sha384", "sha512"];
const VALID_RESOURCES: &[&str] = &[
    "replicasets",
    "deployments",
    "pods",
    "cronjobs",
    "jobs",
    "statefulsets",
    "daemonsets",
];
const VALID_PREDICATES: &[&str] = &[
    "custom",
    "slsaprovenance",
    "slsaprovenance02",
    "slsaprovenance1",
    "spdx",
    "spdxjson",
    "cyclonedx",
    "link",
    "vuln",
    "openvex",
];
const IDENTITY_TYPES: &[&str] = &[
    "matchRepository",
    "exactRepository",
    "remapIdentity",
    "anyRepository",
];

/// All errors policy-controller (and the API server before it) would report for `doc`.
pub(crate) fn validate(doc: &wire::Document) -> FieldErrors {
    let mut errs = FieldErrors::default();
    validate_metadata(doc, &mut errs);
    schema_rules(&doc.spec, &mut errs);
    validate_spec(&doc.spec, doc.is_namespaced(), &mut errs);
    errs
}

fn validate_metadata(doc: &wire::Document, errs: &mut FieldErrors) {
    if doc.metadata.name.is_empty() {
        errs.missing("metadata", &["name"]);
    }
    if doc.is_namespaced() && doc.metadata.namespace.is_empty() {
        errs.missing("metadata", &["namespace"]);
    }
}

/// The CRD schema: a `keyless` authority needs at least one identity.
fn schema_rules(spec: &wire::Spec, errs: &mut FieldErrors) {
    for (i, authority) in spec.authorities.iter().enumerate() {
        if let Some(keyless) = &authority.keyless {
            if keyless.identities.as_ref().is_none_or(Vec::is_empty) {
                let path = format!("spec.authorities[{i}].keyless.identities");
                errs.schema_invalid(&path, "\"null\": keyless needs at least one identity");
            }
        }
    }
}

fn validate_spec(spec: &wire::Spec, namespaced: bool, errs: &mut FieldErrors) {
    if spec.images.is_empty() {
        errs.missing("spec", &["images"]);
    }
    for (i, image) in spec.images.iter().enumerate() {
        validate_glob(&image.glob, &format!("spec.images[{i}]"), errs);
    }
    if spec.authorities.is_empty() {
        errs.missing("spec", &["authorities"]);
    }
    for (i, authority) in spec.authorities.iter().enumerate() {
        validate_authority(
            authority,
            &format!("spec.authorities[{i}]"),
            namespaced,
            errs,
        );
    }
    if !spec.mode.is_empty() && !VALID_MODES.contains(&spec.mode.as_str()) {
        let valid = VALID_MODES.join(" or ");
        errs.invalid_value(
            "spec.mode",
            &spec.mode,
            &format!("unsupported mode: use {valid}"),
        );
    }
    for (i, m) in spec.match_resources.iter().enumerate() {
        validate_match(m, &format!("spec.match[{i}]"), errs);
    }
    if let Some(policy) = &spec.policy {
        validate_policy(policy, "spec.policy", true, errs);
    }
    if let Some(action) = &spec.on_registry_error {
        if !["deny", "warn"].contains(&action.as_str()) {
            errs.invalid_value("spec.onRegistryError", action, "want deny or warn");
        }
    }
    validate_extensions(spec, errs);
}

/// Signet's `multiArch` and `placeholders`.
fn validate_extensions(spec: &wire::Spec, errs: &mut FieldErrors) {
    if let Some(mode) = &spec.multi_arch {
        if MultiArch::parse(mode).is_none() {
            let want = "want index, indexOrPlatform or allPlatforms";
            errs.invalid_value("spec.multiArch", mode, want);
        }
    }
    for (i, p) in spec.placeholders.iter().enumerate() {
        let at = format!("spec.placeholders[{i}]");
        if p.image.is_empty() || p.injector.is_empty() {
            errs.missing(&at, &["image", "injector"]);
        } else if p.image.contains(['/', ':', '@']) {
            let why = "a placeholder is a bare word such as auto, never a pullable reference";
            errs.invalid_value(&join(&at, "image"), &p.image, why);
        } else if p.containers.is_empty() && p.namespaces.is_empty() {
            let why = "set containers or namespaces (or both) to where the injector works: a placeholder exempt everywhere would be a global allow";
            errs.invalid_value(&join(&at, "injector"), &p.injector, why);
        }
    }
}

fn validate_glob(glob: &str, at: &str, errs: &mut FieldErrors) {
    if glob.is_empty() {
        return errs.missing(at, &["glob"]);
    }
    if let Err(e) = ImageGlob::parse(glob) {
        errs.invalid_value(&join(at, "glob"), glob, &e.to_string());
    }
}

fn validate_match(m: &wire::MatchResource, at: &str, errs: &mut FieldErrors) {
    if !m.resource.is_empty() && !VALID_RESOURCES.contains(&m.resource.as_str()) {
        errs.invalid_value(
            &join(at, "resource"),
            &m.resource,
            "unsupported resource name",
        );
    }
    let no_resource = m.resource.is_empty() && m.version.is_empty() && m.group.is_empty();
    if m.selector.is_some() && no_resource {
        let details = "selector requires a resource type to match the labels";
        errs.invalid_value(&join(at, "selector"), "", details);
    }
}

fn validate_authority(a: &wire::Authority, at: &str, namespaced: bool, errs: &mut FieldErrors) {
    let set = [
        a.key.is_some(),
        a.keyless.is_some(),
        a.static_ref.is_some(),
        a.notation.is_some(),
    ];
    let kinds = ["key", "keyless", "static", "notation"];
    match set.iter().filter(|s| **s).count() {
        0 => return errs.missing_one_of(at, &kinds),
        1 => {}
        _ => return errs.multiple_one_of(at, &kinds),
    }
    if a.notation.is_some() {
        // Notation signatures are found and judged on their own terms.
        let format = [(a.signature_format.is_some(), "signatureFormat")];
        for (present, field) in companions(a).into_iter().chain(format) {
            if present {
                errs.multiple_one_of(at, &["notation", field]);
            }
        }
    }
    if let Some(k) = &a.key {
        validate_key(k, &join(at, "key"), namespaced, false, errs);
    }
    if let Some(keyless) = &a.keyless {
        validate_keyless(keyless, &join(at, "keyless"), errs);
    }
    if let Some(s) = &a.static_ref {
        validate_static(a, s, at, errs);
    }
    validate_sources(&a.sources, at, namespaced, errs);
    for (i, attestation) in a.attestations.iter().enumerate() {
        validate_attestation(attestation, &format!("{at}.attestations[{i}]"), errs);
    }
    if let Some(identity) = &a.signed_identity {
        validate_signed_identity(identity, &join(at, "signedIdentity"), errs);
    }
}

/// The fields of a cosign signature authority (which of them `a` sets).
fn companions(a: &wire::Authority) -> [(bool, &'static str); 5] {
    [
        (!a.attestations.is_empty(), "attestations"),
        (!a.sources.is_empty(), "source"),
        (a.ctlog.is_some(), "ctlog"),
        (a.rfc3161timestamp.is_some(), "rfc3161timestamp"),
        (a.signed_identity.is_some(), "signedIdentity"),
    ]
}

fn validate_static(a: &wire::Authority, s: &wire::StaticRef, at: &str, errs: &mut FieldErrors) {
    let path = join(at, "static");
    if s.action.is_empty() {
        errs.missing(&path, &["action"]);
    } else if !VALID_ACTIONS.contains(&s.action.as_str()) {
        errs.invalid_value(&join(&path, "action"), &s.action, "unsupported action");
    }
    // Attestations, sources, transparency logs and identities make no sense with a fixed answer.
    for (present, field) in companions(a) {
        if present {
            errs.multiple_one_of(at, &["static", field]);
        }
    }
}

fn validate_key(
    k: &wire::KeyRef,
    at: &str,
    namespaced: bool,
    ca_cert: bool,
    errs: &mut FieldErrors,
) {
    let (data, kms, secret) = (
        !k.data.is_empty(),
        !k.kms.is_empty(),
        k.secret_ref.is_some(),
    );
    if !data && !kms && !secret {
        errs.missing_one_of(at, &["data", "kms", "secretref"]);
    }
    if !k.hash_algorithm.is_empty()
        && !VALID_HASHES.contains(&normalise_hash(&k.hash_algorithm).as_str())
    {
        errs.invalid_value(&join(at, "hashAlgorithm"), &k.hash_algorithm, "");
    }
    if (data && (kms || secret)) || (kms && secret) {
        errs.multiple_one_of(at, &["data", "kms", "secretref"]);
    }
    if data && !ca_cert {
        if let Err(why) = key::parse_public_keys(&k.data) {
            errs.invalid_value(&join(at, "data"), &k.data, &why);
        }
    }
    if kms {
        if let Err(details) = validate_kms(&k.kms) {
            errs.invalid_value(&join(at, "kms"), &k.kms, &details);
        }
    }
    let no_namespace = k
        .secret_ref
        .as_ref()
        .is_some_and(|s| s.namespace.is_empty());
    if namespaced && no_namespace {
        errs.invalid_value(
            &join(at, "secretref.namespace"),
            "",
            "secretref.namespace is invalid.",
        );
    }
}

/// `hashAlgorithm` as policy-controller reads it: trimmed, lower case, `sha256` when empty.
pub(super) fn normalise_hash(hash: &str) -> String {
    match hash.trim().to_ascii_lowercase() {
        h if h.is_empty() => "sha256".into(),
        h => h,
    }
}

fn validate_keyless(k: &wire::KeylessRef, at: &str, errs: &mut FieldErrors) {
    // SetDefaults gives a keyless authority without url and ca-cert the public Fulcio URL, so
    // "url or ca-cert missing" cannot happen after defaulting.
    if k.url.is_some() && k.ca_cert.is_some() {
        errs.multiple_one_of(at, &["url", "ca-cert"]);
    }
    if let Some(ca) = &k.ca_cert {
        validate_key(ca, &join(at, "ca-cert"), false, true, errs);
    }
    let identities = k.identities.as_deref().unwrap_or_default();
    if identities.is_empty() {
        errs.missing(at, &["identities"]);
    }
    for (i, identity) in identities.iter().enumerate() {
        validate_identity(identity, &format!("{at}.identities[{i}]"), errs);
    }
}

fn validate_identity(id: &wire::Identity, at: &str, errs: &mut FieldErrors) {
    if !id.issuer.is_empty() && !id.issuer_reg_exp.is_empty() {
        errs.multiple_one_of(at, &["issuer", "issuerRegExp"]);
    }
    if !id.subject.is_empty() && !id.subject_reg_exp.is_empty() {
        errs.multiple_one_of(at, &["subject", "subjectRegExp"]);
    }
    for (pattern, field) in [
        (&id.issuer_reg_exp, "issuerRegExp"),
        (&id.subject_reg_exp, "subjectRegExp"),
    ] {
        if let Err(e) = compile_regex(pattern) {
            errs.invalid_value(
                &join(at, field),
                pattern,
                &format!("regex is invalid: {}", one_line(&e)),
            );
        }
    }
    if id.subject.is_empty() && id.subject_reg_exp.is_empty() {
        errs.missing(at, &["subject", "subjectRegExp"]);
    }
    if id.issuer.is_empty() && id.issuer_reg_exp.is_empty() {
        errs.missing(at, &["issuer", "issuerRegExp"]);
    }
}

/// The last line of a regex error (`repetition operator missing expression`), not its ASCII art.
fn one_line(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text.lines().last().unwrap_or_default();
    last.strip_prefix("error: ").unwrap_or(last).to_string()
}

fn compile_regex(pattern: &str) -> Result<(), regex::Error> {
    if pattern.is_empty() {
        return Ok(());
    }
    Regex::new(pattern).map(|_| ())
}

fn validate_sources(sources: &[wire::Source], at: &str, namespaced: bool, errs: &mut FieldErrors) {
    if namespaced && sources.len() > 1 {
        return errs.invalid_value(
            &join(at, "source"),
            "source",
            "only single source is supported",
        );
    }
    for (i, source) in sources.iter().enumerate() {
        let path = format!("{at}.source[{i}]");
        if !source.oci.is_empty() {
            if let Err(details) = validate_oci(&source.oci) {
                errs.invalid_value(&join(&path, "oci"), &source.oci, &details);
            }
        }
        for (j, secret) in source.signature_pull_secrets.iter().enumerate() {
            if secret.name.is_empty() {
                errs.missing(&format!("{path}.signaturePullSecrets[{j}]"), &["name"]);
            }
        }
    }
}

fn validate_attestation(a: &wire::Attestation, at: &str, errs: &mut FieldErrors) {
    if a.name.is_empty() {
        errs.missing(at, &["name"]);
    }
    if a.predicate_type.is_empty() {
        errs.missing(at, &["predicateType"]);
    } else if !VALID_PREDICATES.contains(&a.predicate_type.as_str())
        && !is_request_uri(&a.predicate_type)
    {
        let path = join(at, "predicateType");
        errs.invalid_value(&path, &a.predicate_type, "unsupported predicate type");
    }
    if let Some(policy) = &a.policy {
        validate_policy(policy, &join(at, "policy"), false, errs);
    }
}

fn validate_policy(p: &wire::Policy, at: &str, in_spec: bool, errs: &mut FieldErrors) {
    // `cel` is Signet's own, for attestations and `spec.policy` alike.
    if !["cue", "rego", "cel"].contains(&p.policy_type.as_str()) {
        let details = "only [cue,rego] (policy-controller) and cel (Signet) are supported";
        errs.invalid_value(&join(at, "type"), &p.policy_type, details);
    }
    let sources = [
        !p.data.is_empty(),
        p.config_map_ref.is_some(),
        p.remote.is_some(),
    ];
    match sources.iter().filter(|s| **s).count() {
        0 => errs.missing(at, &["data", "configMapRef"]),
        1 => {}
        _ => errs.multiple_one_of(at, &["data", "configMapRef", "remote"]),
    }
    if let Some(cm) = &p.config_map_ref {
        let path = join(at, "configMapRef");
        if cm.name.is_empty() {
            errs.missing(&path, &["name"]);
        }
        if cm.key.is_empty() {
            errs.missing(&path, &["key"]);
        }
    }
    let spec_only = [
        (p.fetch_config_file.is_some(), "fetchConfigFile"),
        (p.include_spec.is_some(), "includeSpec"),
        (p.include_object_meta.is_some(), "includeObjectMeta"),
        (p.include_type_meta.is_some(), "includeTypeMeta"),
    ];
    for (present, field) in spec_only {
        if present && !in_spec {
            errs.disallowed(at, &[field]);
        }
    }
}

/// Signet's `signedIdentity`: a known type with exactly the fields that type uses.
fn validate_signed_identity(id: &wire::SignedIdentity, at: &str, errs: &mut FieldErrors) {
    let t = id.identity_type.as_str();
    if t.is_empty() {
        return errs.missing(at, &["type"]);
    }
    if !IDENTITY_TYPES.contains(&t) {
        let details = format!("want one of {}", IDENTITY_TYPES.join(", "));
        return errs.invalid_value(&join(at, "type"), t, &details);
    }
    let fields = [
        (
            id.docker_repository.as_deref(),
            "dockerRepository",
            t == "exactRepository",
        ),
        (id.prefix.as_deref(), "prefix", t == "remapIdentity"),
        (
            id.signed_prefix.as_deref(),
            "signedPrefix",
            t == "remapIdentity",
        ),
    ];
    for (value, field, wanted) in fields {
        match (value.filter(|v| !v.is_empty()), wanted) {
            (None, true) => errs.missing(at, &[field]),
            (Some(_), false) => errs.disallowed(at, &[field]),
            (Some(v), true) => check_identity_value(v, &join(at, field), field, errs),
            (None, false) => {}
        }
    }
}

fn check_identity_value(value: &str, path: &str, field: &str, errs: &mut FieldErrors) {
    let checked = match field {
        "dockerRepository" => repository_name(value).map(|_| ()),
        _ => repository_prefix(value).map(|_| ()),
    };
    if let Err(details) = checked {
        errs.invalid_value(path, value, &details);
    }
}
