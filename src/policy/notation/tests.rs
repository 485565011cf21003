//! Trust policy rules as notation-go states them, the trust store layout, and statement
//! selection.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

use super::level::{Action, resolve};
use super::*;
use crate::reference::ImageReference;

fn policy(statements: &str) -> String {
    format!(r#"{{"version": "1.0", "trustPolicies": [{statements}]}}"#)
}

fn statement(name: &str, scopes: &str, verification: &str, rest: &str) -> String {
    format!(
        r#"{{"name": "{name}", "registryScopes": [{scopes}], "signatureVerification": {verification}{rest}}}"#
    )
}

const STORES: &str = r#", "trustStores": ["ca:acme"], "trustedIdentities": ["*"]"#;

fn self_signed(ca: bool) -> Vec<u8> {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, "acme");
    if ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    }
    let key = KeyPair::generate().unwrap();
    params.self_signed(&key).unwrap().der().to_vec()
}

fn leaf_signed_by_other() -> Vec<u8> {
    let mut root = CertificateParams::default();
    root.distinguished_name.push(DnType::CommonName, "root");
    root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let root_key = KeyPair::generate().unwrap();
    let issuer = rcgen::CertifiedIssuer::self_signed(root, root_key).unwrap();
    let mut leaf = CertificateParams::default();
    leaf.distinguished_name.push(DnType::CommonName, "leaf");
    let key = KeyPair::generate().unwrap();
    leaf.signed_by(&key, &issuer).unwrap().der().to_vec()
}

fn pem(der: &[u8]) -> String {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

/// A trust store directory with `ca:acme` holding one self-signed CA (PEM).
fn store() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let acme = dir.path().join("x509/ca/acme");
    std::fs::create_dir_all(&acme).unwrap();
    std::fs::write(acme.join("acme.pem"), pem(&self_signed(true))).unwrap();
    dir
}

fn load(text: &str, store: &Path) -> Result<NotationTrustPolicy, String> {
    NotationTrustPolicy::parse(text, "trustpolicy.json", store).map_err(|e| e.to_string())
}

fn permissive(scopes: &str) -> String {
    statement("s", scopes, r#"{"level": "permissive"}"#, STORES)
}

#[test]
fn levels_give_notation_go_actions_and_overrides_follow_its_rules() {
    use Action::{Enforce, Log, Skip};
    let none = BTreeMap::new();
    let strict = resolve("strict", &none).unwrap().unwrap();
    assert_eq!(
        [
            strict.authenticity,
            strict.authentic_timestamp,
            strict.expiry,
            strict.revocation
        ],
        [Enforce; 4]
    );
    let permissive = resolve("permissive", &none).unwrap().unwrap();
    assert_eq!(
        [
            permissive.integrity,
            permissive.authenticity,
            permissive.expiry,
            permissive.revocation
        ],
        [Enforce, Enforce, Log, Log]
    );
    let audit = resolve("audit", &none).unwrap().unwrap();
    assert_eq!([audit.integrity, audit.authenticity], [Enforce, Log]);
    assert_eq!(resolve("skip", &none).unwrap(), None);
    let with = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
    let overridden = resolve("strict", &with("revocation", "skip"))
        .unwrap()
        .unwrap();
    assert_eq!(overridden.revocation, Skip);
    for (level, key, value, says) in [
        ("strict", "integrity", "log", "can not be overridden"),
        ("strict", "expiry", "skip", "can not be skipped"),
        ("strict", "revocations", "log", "is not supported"),
        ("strict", "expiry", "warn", "is not supported"),
        ("skip", "expiry", "log", "can't be used to customize"),
        (
            "lenient",
            "expiry",
            "log",
            "invalid signature verification level",
        ),
        ("", "expiry", "log", "empty or missing"),
    ] {
        let error = resolve(level, &with(key, value)).unwrap_err();
        assert!(error.contains(says), "{level} {key}={value}: {error}");
    }
}

#[test]
fn trusted_identities_are_parsed_as_notation_parses_distinguished_names() {
    let parsed = identity::parse("x509.subject: C=US, S=WA, O=acme\\, inc., CN=builder").unwrap();
    assert_eq!(
        parsed,
        NotationIdentity::Subject(vec![
            ("C".into(), "US".into()),
            ("ST".into(), "WA".into()),
            ("O".into(), "acme, inc.".into()),
            ("CN".into(), "builder".into()),
        ])
    );
    for (entry, says) in [
        (
            "x509.subject: C=US, O=acme",
            "mandatory RDN attribute for \"ST\"",
        ),
        (
            "x509.subject: C=US, ST=WA, ST=OR, O=acme",
            "duplicate RDN attribute",
        ),
        ("x509.subject: C=US+ST=WA, O=acme", "multi-valued"),
        ("x509.subject: C=US, ST=WA, O=#0403616263", "=#"),
        ("x509.subject:", "without an identity value"),
        ("x509.subject C=US", "missing separator"),
        ("", "empty trusted identity"),
    ] {
        let error = identity::parse(entry).unwrap_err();
        assert!(error.contains(says), "{entry:?}: {error}");
    }
    let overlapping = [
        "x509.subject: C=US, ST=WA, O=acme".to_string(),
        "x509.subject: C=US, ST=WA, O=acme, CN=builder".to_string(),
    ];
    let error = identity::parse_all(&overlapping).unwrap_err();
    assert!(error.contains("overlapping"), "{error}");
    let wildcard = ["*".to_string(), overlapping[0].clone()];
    assert!(
        identity::parse_all(&wildcard)
            .unwrap_err()
            .contains("wildcard")
    );
}

#[test]
fn documents_are_refused_with_notation_go_words() {
    let store = store();
    let acme = statement(
        "a",
        r#""r.example/app""#,
        r#"{"level": "permissive"}"#,
        STORES,
    );
    let cases = [
        (r#"{"trustPolicies": []}"#.to_string(), "empty version"),
        (
            r#"{"version": "2.0", "trustPolicies": []}"#.to_string(),
            "unsupported version \"2.0\"",
        ),
        (policy(""), "zero trust policy statements"),
        (
            policy(&format!("{acme}, {acme}")),
            "use the same name \"a\"",
        ),
        (
            policy(&statement("", r#""*""#, r#"{"level": "audit"}"#, STORES)),
            "missing a name",
        ),
        (
            policy(&statement("s", r#""*""#, r#"{"level": "skip"}"#, STORES)),
            "skip signature verification but configured with trust stores",
        ),
        (
            policy(&statement("s", r#""*""#, r#"{"level": "audit"}"#, "")),
            "missing trust stores or trusted identities",
        ),
        (
            policy(&statement(
                "s",
                r#""*""#,
                r#"{"level": "audit"}"#,
                r#", "trustStores": ["acme"], "trustedIdentities": ["*"]"#,
            )),
            "malformed trust store value \"acme\"",
        ),
        (
            policy(&statement(
                "s",
                r#""*""#,
                r#"{"level": "audit"}"#,
                r#", "trustStores": ["x509:acme"], "trustedIdentities": ["*"]"#,
            )),
            "unsupported trust store type \"x509\"",
        ),
        (
            policy(&statement(
                "s",
                r#""*""#,
                r#"{"level": "audit"}"#,
                r#", "trustStores": ["ca:ac/me"], "trustedIdentities": ["*"]"#,
            )),
            "unsupported trust store name",
        ),
        (
            policy(&statement(
                "s",
                r#""*""#,
                r#"{"level": "audit", "verifyTimestamp": "never"}"#,
                STORES,
            )),
            "verifyTimestamp must be",
        ),
        (policy(&permissive("")), "zero registry scopes"),
        (
            policy(&permissive(r#""*", "r.example/app""#)),
            "cannot be used in conjunction",
        ),
        (
            policy(&permissive(r#""r.example/*""#)),
            "with wild card(s) is not valid",
        ),
        (
            policy(&permissive(r#""r.example""#)),
            "is not valid, make sure",
        ),
        (
            policy(&permissive(r#""https://r.example/app""#)),
            "is not valid",
        ),
        (policy(&permissive(r#""r.example/App""#)), "is not valid"),
        (
            policy(&format!(
                "{}, {}",
                permissive(r#""r.example/app""#),
                statement("t", r#""r.example/app""#, r#"{"level": "audit"}"#, STORES)
            )),
            "present in multiple oci trust policy statements",
        ),
        (
            policy(&statement(
                "s",
                r#""*""#,
                r#"{"level": "audit", "overide": {}}"#,
                STORES,
            )),
            "unknown field `overide`",
        ),
        ("{not json".to_string(), "malformed trust policy"),
    ];
    for (text, says) in cases {
        let error = load(&text, store.path()).unwrap_err();
        assert!(error.contains(says), "{text}\n=> {error}");
        assert!(error.starts_with("trustpolicy.json: "), "{error}");
    }
}

#[test]
fn strict_revocation_is_refused_unless_the_policy_skips_or_logs_it() {
    let store = store();
    let strict = policy(&statement(
        "quick",
        r#""*""#,
        r#"{"level": "strict"}"#,
        STORES,
    ));
    let error = load(&strict, store.path()).unwrap_err();
    assert!(error.contains("enforces revocation checking"), "{error}");
    assert!(
        error.contains(r#""override": {"revocation": "log"}"#),
        "says what to write: {error}"
    );
    let enforced = r#"{"level": "permissive", "override": {"revocation": "enforce"}}"#;
    let error = load(
        &policy(&statement("p", r#""*""#, enforced, STORES)),
        store.path(),
    );
    assert!(error.unwrap_err().contains("enforces revocation checking"));
    for action in ["log", "skip"] {
        let verification =
            format!(r#"{{"level": "strict", "override": {{"revocation": "{action}"}}}}"#);
        let text = policy(&statement("s", r#""*""#, &verification, STORES));
        let loaded = load(&text, store.path()).unwrap();
        let (_, statement) = loaded.statements().next().unwrap();
        let AuthorityKind::Notation(n) = &statement.authorities[0].kind else {
            panic!("not a notation authority");
        };
        assert_eq!(n.enforcement.expiry, Action::Enforce);
        assert_eq!(n.level, "strict");
    }
}

#[test]
fn the_statement_naming_the_repository_wins_over_the_wildcard() {
    let store = store();
    let text = policy(&format!(
        "{}, {}, {}",
        statement("global", r#""*""#, r#"{"level": "audit"}"#, STORES),
        statement(
            "app",
            r#""r.example:5000/team/app""#,
            r#"{"level": "permissive"}"#,
            STORES
        ),
        statement(
            "unsigned",
            r#""r.example:5000/unsigned""#,
            r#"{"level": "skip"}"#,
            ""
        ),
    ));
    let loaded = load(&text, store.path()).unwrap();
    let pick = |image: &str| {
        let image = ImageReference::parse(image).unwrap();
        loaded.policy_for(&image).map(|p| p.name.clone())
    };
    assert_eq!(pick("r.example:5000/team/app:1").as_deref(), Some("app"));
    assert_eq!(pick("r.example:5000/team/app@sha256:0000000000000000000000000000000000000000000000000000000000000000").as_deref(), Some("app"));
    assert_eq!(
        pick("r.example:5000/team/other:1").as_deref(),
        Some("global")
    );
    assert_eq!(pick("r.example:5000/team:1").as_deref(), Some("global"));
    let unsigned = ImageReference::parse("r.example:5000/unsigned:1").unwrap();
    let skip = loaded.policy_for(&unsigned).unwrap();
    assert!(
        matches!(&skip.authorities[0].kind, AuthorityKind::Static(s) if s.action == StaticAction::Pass)
    );
    assert!(
        skip.display_name()
            .starts_with("Notation trust policy statement")
    );
    let only_app = policy(&statement(
        "app",
        r#""r.example:5000/team/app""#,
        r#"{"level": "audit"}"#,
        STORES,
    ));
    let loaded = load(&only_app, store.path()).unwrap();
    let other = ImageReference::parse("r.example:5000/team/other:1").unwrap();
    assert!(loaded.policy_for(&other).is_none());
}

#[test]
fn trust_stores_are_read_from_notations_layout() {
    let store = store();
    let dir = store.path();
    // DER beside PEM, two PEM blocks in one file, hidden entries skipped.
    let two = dir.join("x509/ca/two");
    std::fs::create_dir_all(&two).unwrap();
    std::fs::write(two.join("root.der"), self_signed(true)).unwrap();
    let both = pem(&self_signed(true)) + &pem(&self_signed(false));
    std::fs::write(two.join("both.crt"), both).unwrap();
    std::fs::write(two.join(".hidden"), "not a certificate").unwrap();
    let text = policy(&statement(
        "s",
        r#""*""#,
        r#"{"level": "audit"}"#,
        r#", "trustStores": ["ca:acme", "ca:two"], "trustedIdentities": ["*"]"#,
    ));
    let loaded = load(&text, dir).unwrap();
    let (_, p) = loaded.statements().next().unwrap();
    let AuthorityKind::Notation(n) = &p.authorities[0].kind else {
        panic!("not a notation authority");
    };
    assert_eq!(n.certificates(StoreKind::Ca).len(), 4);
    assert_eq!(n.store_names(), r#""ca:acme", "ca:two""#);

    let with_store = |store: &str| {
        policy(&statement(
            "s",
            r#""*""#,
            r#"{"level": "audit"}"#,
            &format!(r#", "trustStores": ["{store}"], "trustedIdentities": ["*"]"#),
        ))
    };
    let error = load(&with_store("ca:missing"), dir).unwrap_err();
    assert!(
        error.contains("does not exist") && error.contains("x509/ca/missing"),
        "{error}"
    );
    let leaf = dir.join("x509/ca/leaf");
    std::fs::create_dir_all(&leaf).unwrap();
    std::fs::write(leaf.join("leaf.pem"), pem(&leaf_signed_by_other())).unwrap();
    let error = load(&with_store("ca:leaf"), dir).unwrap_err();
    assert!(
        error.contains("not a CA certificate or self-signed"),
        "{error}"
    );
    let tsa = dir.join("x509/tsa/leaf");
    std::fs::create_dir_all(&tsa).unwrap();
    std::fs::write(tsa.join("leaf.pem"), pem(&leaf_signed_by_other())).unwrap();
    let error = load(&with_store("tsa:leaf"), dir).unwrap_err();
    assert!(error.contains("not a root CA certificate"), "{error}");
    let empty = dir.join("x509/signingAuthority/empty");
    std::fs::create_dir_all(&empty).unwrap();
    let error = load(&with_store("signingAuthority:empty"), dir).unwrap_err();
    assert!(error.contains("no x509 certificates were found"), "{error}");
    let junk = dir.join("x509/ca/junk");
    std::fs::create_dir_all(&junk).unwrap();
    std::fs::write(junk.join("junk.crt"), "hello").unwrap();
    let error = load(&with_store("ca:junk"), dir).unwrap_err();
    assert!(error.contains("not an X.509 certificate"), "{error}");
}

#[test]
fn a_blob_trust_policy_is_refused_as_not_for_images() {
    let store = store();
    let blob = r#"{"version": "1.0", "trustPolicies": [{"name": "b", "signatureVerification": {"level": "audit"}, "globalPolicy": true, "trustStores": ["ca:acme"], "trustedIdentities": ["*"]}]}"#;
    let error = load(blob, store.path()).unwrap_err();
    assert!(error.contains("blob trust policy"), "{error}");
}

#[test]
fn a_configuration_directory_is_read_as_notation_reads_it() {
    let store = store();
    let config = tempfile::tempdir().unwrap();
    let permissive = policy(&permissive(r#""*""#));
    std::fs::write(config.path().join("trustpolicy.json"), &permissive).unwrap();
    assert!(NotationTrustPolicy::load(config.path(), store.path()).is_ok());
    // trustpolicy.oci.json first, as notation-go's LoadOCIDocument.
    std::fs::write(config.path().join("trustpolicy.oci.json"), "{}").unwrap();
    let error = NotationTrustPolicy::load(config.path(), store.path()).unwrap_err();
    assert!(
        error.to_string().contains("trustpolicy.oci.json"),
        "{error}"
    );
    let empty = tempfile::tempdir().unwrap();
    let error = NotationTrustPolicy::load(empty.path(), store.path()).unwrap_err();
    assert!(error.to_string().contains("holds neither"), "{error}");
}

fn cluster_policy(notation: &str) -> String {
    format!(
        "apiVersion: signet.dev/v1alpha1
kind: ClusterImagePolicy
metadata:
  name: either
spec:
  images:
  - glob: r.example/**
  authorities:
  - name: notation-ca
    notation:
{notation}"
    )
}

fn indented(pem: &str, by: usize) -> String {
    pem.lines()
        .map(|l| format!("{}{l}\n", " ".repeat(by)))
        .collect()
}

#[test]
fn a_cluster_image_policy_may_name_a_notation_authority() {
    let ca = indented(&pem(&self_signed(true)), 10);
    let good = format!(
        "      level: permissive
      trustStores:
      - name: acme
        data: |
{ca}      trustedIdentities: [\"x509.subject: C=US, ST=WA, O=acme\"]
"
    );
    let set = crate::policy::PolicySet::from_yaml(&cluster_policy(&good), "p.yaml").unwrap();
    let AuthorityKind::Notation(n) = &set.policies()[0].authorities[0].kind else {
        panic!("not a notation authority");
    };
    assert_eq!(n.store_names(), r#""ca:acme""#);
    assert_eq!(n.enforcement.authenticity, Action::Enforce);
    for (notation, says) in [
        (
            good.replace("permissive", "strict"),
            "enforces revocation checking",
        ),
        (good.replace("permissive", "skip"), "static: {action: pass}"),
        (
            good.replace("x509.subject: C=US, ST=WA, O=acme", "x509.subject: O=acme"),
            "mandatory RDN",
        ),
        (
            good.replace("- name: acme", "- name: acme\n        type: x509"),
            "is not ca, signingAuthority or tsa",
        ),
        (
            good.replace(&ca, &indented(&pem(&leaf_signed_by_other()), 10)),
            "not a CA certificate",
        ),
    ] {
        let error = crate::policy::PolicySet::from_yaml(&cluster_policy(&notation), "p.yaml")
            .unwrap_err()
            .to_string();
        assert!(error.contains(says), "{notation}\n=> {error}");
    }
    let with_key = cluster_policy(&good).replace(
        "    notation:\n",
        "    ctlog: {url: \"https://rekor.example\"}\n    notation:\n",
    );
    let error = crate::policy::PolicySet::from_yaml(&with_key, "p.yaml").unwrap_err();
    assert!(error.to_string().contains("notation"), "{error}");
}
