//! containers-policy.json parsing: containers/image's rules (`policy_config_test.go`,
//! `policy_config_sigstore_test.go`) and Signet's refusals, each naming its field.

use super::*;

const KEY_B64: &str = "LS0tLS1CRUdJTiBQVUJMSUMgS0VZLS0tLS0KTUZrd0V3WUhLb1pJemowQ0FRWUlLb1pJemowREFRY0RRZ0FFY0FEWGxlNW9taHFoZG8xdEZ4eEJnUHlJd1l3MApqaUdCZGUyNFNxc3hJT292N1gxMG8xemtCR0xka1pyK29HOG1CMW9lWmxvVlBjdXROWWVSRHkxVzZBPT0KLS0tLS1FTkQgUFVCTElDIEtFWS0tLS0tCg==";

fn problem(text: &str) -> (String, String, bool) {
    match parse(text).unwrap_err() {
        Problem::Invalid(p) => (p.field, p.reason, false),
        Problem::Unsupported(p) => (p.field, p.reason, true),
    }
}

fn docker(requirement: &str) -> String {
    format!(
        r#"{{"default": [{{"type": "reject"}}], "transports": {{"docker": {{"quay.io/x": [{requirement}]}}}}}}"#
    )
}

#[test]
fn minimal_policies_parse() {
    let p = parse(r#"{"default": [{"type": "insecureAcceptAnything"}]}"#).unwrap();
    assert!(matches!(
        p.default[..],
        [Requirement {
            kind: RequirementKind::InsecureAcceptAnything,
            ..
        }]
    ));
    let p = parse(&docker(&format!(
        r#"{{"type": "sigstoreSigned", "keyData": "{KEY_B64}"}}"#
    )))
    .unwrap();
    let (scope, reqs) = &p.docker[0];
    assert_eq!(scope, "quay.io/x");
    assert_eq!(reqs[0].path, "transports.docker[\"quay.io/x\"][0]");
    let RequirementKind::Sigstore(s) = &reqs[0].kind else {
        panic!()
    };
    assert_eq!(s.identity, SignedIdentity::MatchRepoDigestOrExact);
    assert!(matches!(&s.trust, SigstoreTrust::Keys(keys) if keys.len() == 1));
}

#[test]
fn containers_image_format_rules_refuse_the_file() {
    let cases: &[(&str, &str, &str)] = &[
        (
            r#"{"transports": {}}"#,
            "default",
            "Default policy is missing",
        ),
        (r#"{"default": []}"#, "default", "must not be empty"),
        (
            r#"{"default": [{"type": "reject"}], "extra": 1}"#,
            "extra",
            "unknown key \"extra\"",
        ),
        (
            r#"{"default": [{"type": "reject"}, {"type": "reject"}], "default": []}"#,
            "",
            "duplicate key",
        ),
        (
            r#"{"default": [{"type": "nope"}]}"#,
            "default[0].type",
            "Unknown policy requirement type \"nope\"",
        ),
        (
            r#"{"default": [{"type": "reject", "keyPath": "/k"}]}"#,
            "default[0].keyPath",
            "unknown key",
        ),
        (
            r#"{"default": [{"type": "insecureAcceptAnything"}], "transports": {"docker-daemon": {"": []}}}"#,
            "transports[\"docker-daemon\"][\"\"]",
            "must not be empty",
        ),
    ];
    for (text, field, words) in cases {
        let (got_field, reason, unsupported) = problem(text);
        assert!(!unsupported, "{text}");
        assert_eq!(&got_field, field, "{text}: {reason}");
        assert!(reason.contains(words), "{text}: {reason}");
    }
}

#[test]
fn sigstore_signed_needs_exactly_one_trust_source_and_fulcio_needs_rekor() {
    let cases = [
        (r#"{"type": "sigstoreSigned"}"#.to_string(), "exactly one of keyPath"),
        (format!(r#"{{"type": "sigstoreSigned", "keyPath": "/a", "keyData": "{KEY_B64}"}}"#), "exactly one of"),
        (r#"{"type": "sigstoreSigned", "keyPaths": []}"#.to_string(), "contains no entries"),
        (r#"{"type": "sigstoreSigned", "keyData": "%%%"}"#.to_string(), "not base64"),
        (r#"{"type": "sigstoreSigned", "fulcio": {"caData": "", "oidcIssuer": "i", "subjectEmail": "e"}}"#.to_string(),
            "must be specified if fulcio is used"),
        (r#"{"type": "sigstoreSigned", "keyPath": "/a", "rekorPublicKeyPath": "/r", "rekorPublicKeyData": ""}"#.to_string(),
            "at most one of rekorPublicKeyPath"),
        (r#"{"type": "sigstoreSigned", "fulcio": {"oidcIssuer": "i", "subjectEmail": "e"}, "rekorPublicKeyPath": "/r"}"#.to_string(),
            "At least one of caPath and caData"),
        (r#"{"type": "sigstoreSigned", "fulcio": {"caPath": "/c", "subjectEmail": "e"}, "rekorPublicKeyPath": "/r"}"#.to_string(),
            "oidcIssuer not specified"),
        (r#"{"type": "sigstoreSigned", "keyPath": "/a", "signedIdentity": {"type": "exactReference"}}"#.to_string(),
            "dockerReference is missing"),
        (r#"{"type": "sigstoreSigned", "keyPath": "/a", "signedIdentity": {"type": "matchExact", "x": 1}}"#.to_string(),
            "unknown key"),
        (r#"{"type": "sigstoreSigned", "keyPath": "/a", "signedIdentity": {"type": "anyRepository"}}"#.to_string(),
            "Unknown policy reference match type \"anyRepository\""),
    ];
    for (requirement, words) in cases {
        let (field, reason, unsupported) = problem(&docker(&requirement));
        assert!(!unsupported, "{requirement}: {field}: {reason}");
        assert!(
            field.starts_with("transports.docker[\"quay.io/x\"][0]"),
            "{field}"
        );
        assert!(reason.contains(words), "{requirement}: {reason}");
    }
}

#[test]
fn what_signet_cannot_enforce_is_refused_by_field() {
    let cases = [
        (
            r#"{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k"}"#,
            "[0].type",
            "signedBy (GPG",
        ),
        (
            r#"{"type": "signedBaseLayer", "baseLayerIdentity": {"type": "matchRepository"}}"#,
            "[0].type",
            "signedBaseLayer",
        ),
        (
            r#"{"type": "sigstoreSigned", "pki": {"caRootsPath": "/r", "subjectEmail": "e"}}"#,
            "[0].pki",
            "pki",
        ),
    ];
    for (requirement, field, words) in cases {
        let (got, reason, unsupported) = problem(&docker(requirement));
        assert!(unsupported, "{requirement}");
        assert_eq!(got, format!("transports.docker[\"quay.io/x\"]{field}"));
        assert!(reason.contains(words), "{reason}");
    }
}

#[test]
fn other_transports_are_checked_and_ignored() {
    let text = r#"{"default": [{"type": "reject"}], "transports": {
        "docker-daemon": {"": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k"}]},
        "dir": {"": [{"type": "insecureAcceptAnything"}]}}}"#;
    let p = parse(text).unwrap();
    assert_eq!(p.ignored_transports, ["docker-daemon", "dir"]);
    assert!(p.docker.is_empty());
}

#[test]
fn signed_identities_parse_with_their_fields() {
    let with = |identity: &str| {
        let text = docker(&format!(
            r#"{{"type": "sigstoreSigned", "keyPath": "/k", "signedIdentity": {identity}}}"#
        ));
        let p = parse(&text).unwrap();
        let RequirementKind::Sigstore(s) = &p.docker[0].1[0].kind else {
            panic!()
        };
        s.identity.clone()
    };
    assert_eq!(
        with(r#"{"type": "matchExact"}"#),
        SignedIdentity::MatchExact
    );
    assert_eq!(
        with(r#"{"type": "matchRepository"}"#),
        SignedIdentity::MatchRepository
    );
    assert_eq!(
        with(r#"{"type": "exactRepository", "dockerRepository": "quay.io/y"}"#),
        SignedIdentity::ExactRepository("quay.io/y".into())
    );
    assert_eq!(
        with(r#"{"type": "remapIdentity", "prefix": "m.io", "signedPrefix": "o.io"}"#),
        SignedIdentity::RemapIdentity {
            prefix: "m.io".into(),
            signed_prefix: "o.io".into()
        }
    );
}
