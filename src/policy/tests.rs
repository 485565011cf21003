//! Loading, selection and fingerprint tests for the policy set.

use std::fs;

use super::sigstore::compile;
use super::*;

const KEY: &str = "
        -----BEGIN PUBLIC KEY-----
        MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEcADXle5omhqhdo1tFxxBgPyIwYw0
        jiGBde24SqsxIOov7X10o1zkBGLdkZr+oG8mB1oeZloVPcutNYeRDy1W6A==
        -----END PUBLIC KEY-----";

/// A ClusterImagePolicy over `glob` with one key authority and `extra` spliced into the
/// authority (indented 4 spaces).
fn key_policy(name: &str, glob: &str, extra: &str) -> String {
    format!(
        "apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata:
  name: {name}
spec:
  images:
  - glob: \"{glob}\"
  authorities:
  - key:
      data: |{KEY}
{extra}"
    )
}

fn image(text: &str) -> ImageReference {
    ImageReference::parse(text).unwrap()
}

fn load_error(text: &str) -> LoadError {
    PolicySet::from_yaml(text, "p.yaml").unwrap_err()
}

#[test]
fn example_policy_file_compiles_to_the_model() {
    let text = include_str!("../../examples/policy.yaml");
    let set = PolicySet::from_yaml(text, "examples/policy.yaml").unwrap();
    assert_eq!(set.policies().len(), 2);
    let signed = &set.policies()[0];
    assert_eq!(signed.name, "signet-dev-images");
    assert_eq!(signed.mode, Mode::Enforce);
    assert_eq!(signed.on_registry_error, FailureAction::Deny);
    let AuthorityKind::Key(key) = &signed.authorities[0].kind else {
        panic!("want a key authority");
    };
    assert_eq!(signed.authorities[0].name, "release-key");
    assert_eq!(key.keys[0].algorithm, "ECDSA P-256");
    assert_eq!(key.identity, IdentityRule::MatchRepository);
    let pause = set.matching(&image("registry.k8s.io/pause:3.10"), Some("default"));
    assert_eq!(pause.len(), 1);
    assert!(matches!(
        pause[0].authorities[0].kind,
        AuthorityKind::Static(_)
    ));
}

#[test]
fn matching_selects_by_glob_and_namespace() {
    let namespaced = "---
apiVersion: policy.sigstore.dev/v1alpha1
kind: ImagePolicy
metadata: {name: team-a, namespace: a}
spec:
  images: [{glob: 'ghcr.io/**'}]
  authorities: [{static: {action: fail, message: nope}}]
";
    let text = format!("{}\n{namespaced}", key_policy("all-ghcr", "ghcr.io/**", ""));
    let set = PolicySet::from_yaml(&text, "").unwrap();
    assert_eq!(set.policies()[1].namespace.as_deref(), Some("a"));
    assert_eq!(set.policies()[1].source, "embedded");
    let img = image("ghcr.io/org/app:v1");
    assert_eq!(set.matching(&img, Some("a")).len(), 2);
    assert_eq!(set.matching(&img, Some("b")).len(), 1);
    assert_eq!(set.matching(&img, None).len(), 1);
    assert!(
        set.matching(&image("quay.io/org/app"), Some("a"))
            .is_empty()
    );
}

#[test]
fn extensions_compile_to_identity_rules_and_failure_actions() {
    let extra = "    signedIdentity:
      type: remapIdentity
      prefix: mirror.example.com/team
      signedPrefix: ghcr.io/team
    source:
    - oci: ghcr.io/team/signatures
  mode: warn
  onRegistryError: warn";
    let set =
        PolicySet::from_yaml(&key_policy("p", "mirror.example.com/team/**", extra), "p").unwrap();
    let policy = &set.policies()[0];
    assert_eq!(policy.mode, Mode::Warn);
    assert_eq!(policy.on_registry_error, FailureAction::Warn);
    let authority = &policy.authorities[0];
    assert_eq!(
        authority.source.as_ref().unwrap().locations[0]
            .repository
            .as_deref(),
        Some("ghcr.io/team/signatures")
    );
    let AuthorityKind::Key(key) = &authority.kind else {
        panic!()
    };
    assert_eq!(
        key.identity,
        IdentityRule::RemapRepository {
            prefix: "mirror.example.com/team".into(),
            signed_prefix: "ghcr.io/team".into()
        }
    );
}

#[test]
fn exact_repository_is_normalised() {
    let extra = "    signedIdentity: {type: exactRepository, dockerRepository: nginx}";
    let set = PolicySet::from_yaml(&key_policy("p", "**", extra), "p").unwrap();
    let AuthorityKind::Key(key) = &set.policies()[0].authorities[0].kind else {
        panic!()
    };
    assert_eq!(
        key.identity,
        IdentityRule::ExactRepository("docker.io/library/nginx".into())
    );
}

#[test]
fn unknown_signed_identity_type_is_invalid() {
    let extra = "    signedIdentity: {type: matchExact}";
    let err = load_error(&key_policy("p", "**", extra));
    assert!(matches!(err.kind, LoadErrorKind::Invalid(_)), "{err}");
    assert_eq!(
        err.field.as_deref(),
        Some("spec.authorities[0].signedIdentity.type")
    );
}

#[test]
fn unsupported_fields_are_named_with_file_object_and_field() {
    let text = "apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: keyless}
spec:
  images: [{glob: '**'}]
  policy: {type: cue, data: 'x: 1', fetchConfigFile: true}
  authorities:
  - keyless:
      identities: [{issuer: https://issuer, subject: me}]
    rfc3161timestamp: {trustRootRef: tsa}
";
    let err = load_error(text);
    assert!(matches!(err.kind, LoadErrorKind::Unsupported(_)), "{err}");
    assert_eq!(err.field.as_deref(), Some("spec.policy.fetchConfigFile"));
    let shown = err.to_string();
    assert!(
        shown.starts_with("p.yaml: ClusterImagePolicy keyless: spec.policy.fetchConfigFile: "),
        "{shown}"
    );
    assert!(
        shown.contains("also not supported: spec.authorities[0].rfc3161timestamp"),
        "{shown}"
    );
}

#[test]
fn unsupported_companions_of_key_authorities_are_named() {
    let cases = [
        (
            "    ctlog: {trustRootRef: nope}",
            "spec.authorities[0].ctlog.trustRootRef",
        ),
        (
            "    rfc3161timestamp: {trustRootRef: tsa}",
            "spec.authorities[0].rfc3161timestamp.trustRootRef",
        ),
        (
            "    source: [{oci: ghcr.io/a/b, tagPrefix: -x}]",
            "spec.authorities[0].source[0].tagPrefix",
        ),
        (
            "    source: [{signaturePullSecrets: [{name: s}]}]",
            "spec.authorities[0].source[0].signaturePullSecrets",
        ),
        (
            "    signatureFormat: bundle",
            "spec.authorities[0].signatureFormat",
        ),
        (
            "    attestations: [{name: a, predicateType: vuln, policy: {type: cue, configMapRef: {name: c, key: k}}}]",
            "spec.authorities[0].attestations[0].policy.configMapRef",
        ),
        (
            "    attestations: [{name: a, predicateType: vuln, policy: {type: rego, remote: {url: 'https://x'}}}]",
            "spec.authorities[0].attestations[0].policy.remote",
        ),
        (
            "    attestations: [{name: a, predicateType: vuln, policy: {type: cue, data: 'a: [1]'}}]",
            "spec.authorities[0].attestations[0].policy.data",
        ),
        (
            "  policy: {type: rego, remote: {url: 'https://x'}}",
            "spec.policy.remote",
        ),
        (
            "  policy: {type: cue, configMapRef: {name: c, key: k}}",
            "spec.policy.configMapRef",
        ),
        ("  policy: {type: cue, data: 'a: [1]'}", "spec.policy.data"),
    ];
    for (extra, field) in cases {
        let err = load_error(&key_policy("p", "**", extra));
        assert!(
            matches!(err.kind, LoadErrorKind::Unsupported(_)),
            "{extra}: {err}"
        );
        assert_eq!(err.field.as_deref(), Some(field), "{extra}");
    }
}

#[test]
fn kms_and_secret_keys_are_unsupported() {
    for (key, field) in [
        ("kms: hashivault://k", "kms"),
        ("secretRef: {name: s}", "secretRef"),
    ] {
        let text = format!(
            "apiVersion: policy.sigstore.dev/v1alpha1
kind: ClusterImagePolicy
metadata: {{name: p}}
spec:
  images: [{{glob: '**'}}]
  authorities: [{{key: {{{key}}}}}]
"
        );
        let err = load_error(&text);
        assert!(matches!(err.kind, LoadErrorKind::Unsupported(_)), "{err}");
        // The message says why and what to do instead.
        let shown = err.to_string();
        assert!(
            shown.contains("key.data") || shown.contains("data field"),
            "{shown}"
        );
        assert_eq!(
            err.field.unwrap(),
            format!("spec.authorities[0].key.{field}")
        );
    }
}

/// `signatureFormat` as policy-controller defines it: `legacy` or `bundle`, the bundle format
/// on keyless authorities only; anything else is refused by field.
#[test]
fn signature_format_is_compiled_or_refused_by_field() {
    use crate::policy::SignatureFormat;
    let format = |extra: &str| {
        PolicySet::from_yaml(&key_policy("p", "**", extra), "p.yaml")
            .map(|set| set.policies()[0].authorities[0].format)
    };
    assert_eq!(format("").unwrap(), SignatureFormat::Any);
    assert_eq!(
        format("    signatureFormat: legacy").unwrap(),
        SignatureFormat::Legacy
    );
    for bad in ["bundle", "Bundle", "protobuf"] {
        let err = format(&format!("    signatureFormat: {bad}")).unwrap_err();
        assert!(matches!(err.kind, LoadErrorKind::Unsupported(_)), "{err}");
        assert_eq!(
            err.field.as_deref(),
            Some("spec.authorities[0].signatureFormat")
        );
    }
    let keyless = "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: p}\n\
                   spec:\n  images: [{glob: '**'}]\n  authorities:\n  - signatureFormat: bundle\n    keyless:\n\
                   \x20     identities: [{issuer: https://i, subject: s}]\n";
    let set = PolicySet::from_yaml(keyless, "p.yaml").unwrap();
    assert_eq!(
        set.policies()[0].authorities[0].format,
        SignatureFormat::Bundle
    );
}

#[test]
fn hash_algorithm_the_verifier_cannot_use_is_unsupported() {
    let text = key_policy("p", "**", "").replace(
        "      data: |",
        "      hashAlgorithm: sha512\n      data: |",
    );
    let err = load_error(&text);
    assert!(matches!(err.kind, LoadErrorKind::Unsupported(_)), "{err}");
    assert_eq!(
        err.field.as_deref(),
        Some("spec.authorities[0].key.hashAlgorithm")
    );
    let ok = key_policy("p", "**", "").replace(
        "      data: |",
        "      hashAlgorithm: SHA256\n      data: |",
    );
    assert!(PolicySet::from_yaml(&ok, "p").is_ok());
}

#[test]
fn other_kinds_unknown_fields_and_duplicates_are_refused() {
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n";
    let err = load_error(deployment);
    assert!(err.to_string().contains("\"Deployment\""), "{err}");
    assert!(matches!(err.kind, LoadErrorKind::Invalid(_)));
    let trust_root =
        "apiVersion: policy.sigstore.dev/v1alpha1\nkind: TrustRoot\nmetadata: {name: t}\n";
    assert!(matches!(
        load_error(trust_root).kind,
        LoadErrorKind::Unsupported(_)
    ));
    let unknown = key_policy("p", "**", "    keyz: 1");
    let err = load_error(&unknown);
    assert!(err.to_string().contains("unknown field `keyz`"), "{err}");
    let twice = format!(
        "{}\n---\n{}",
        key_policy("p", "a/*", ""),
        key_policy("p", "b/*", "")
    );
    assert!(load_error(&twice).to_string().contains("defined twice"));
    let broken = "spec: [unclosed";
    assert!(matches!(load_error(broken).kind, LoadErrorKind::Yaml(_)));
}

#[test]
fn namespaced_policy_needs_a_namespace() {
    let text = "apiVersion: policy.sigstore.dev/v1alpha1
kind: ImagePolicy
metadata: {name: p}
spec: {images: [{glob: '**'}], authorities: [{static: {action: pass}}]}
";
    let err = load_error(text);
    assert_eq!(err.field.as_deref(), Some("metadata.namespace"));
}

#[test]
fn fingerprint_changes_with_anything_that_affects_a_verdict() {
    let base = key_policy("p", "ghcr.io/**", "");
    let fp = |text: &str| {
        PolicySet::from_yaml(text, "a")
            .unwrap()
            .fingerprint()
            .to_string()
    };
    let original = fp(&base);
    assert_eq!(original.len(), 64);
    assert_eq!(
        original,
        PolicySet::from_yaml(&base, "elsewhere.yaml")
            .unwrap()
            .fingerprint()
    );
    assert_ne!(original, fp(&key_policy("p", "quay.io/**", "")));
    assert_ne!(original, fp(&key_policy("p", "ghcr.io/**", "  mode: warn")));
    assert_ne!(
        original,
        fp(&key_policy("p", "ghcr.io/**", "  onRegistryError: warn"))
    );
    assert_ne!(
        original,
        fp(&key_policy("p", "ghcr.io/**", "    name: other"))
    );
    assert_ne!(
        original,
        fp(&key_policy(
            "p",
            "ghcr.io/**",
            "    signedIdentity: {type: anyRepository}"
        ))
    );
    // Different spellings of the same glob are the same policy.
    assert_eq!(
        fp(&key_policy("p", "nginx", "")),
        fp(&key_policy("p", "index.docker.io/library/nginx", ""))
    );
    assert_ne!(PolicySet::default().fingerprint(), original);
}

#[test]
fn load_reads_directories_sorted_and_skips_other_files() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("b.yaml"), key_policy("b", "b/*", "")).unwrap();
    fs::write(dir.path().join("a.yml"), key_policy("a", "a/*", "")).unwrap();
    fs::write(dir.path().join("notes.txt"), "not yaml").unwrap();
    fs::write(dir.path().join(".hidden.yaml"), "garbage: [").unwrap();
    fs::create_dir(dir.path().join("nested.yaml")).unwrap();
    let set = PolicySet::load(&[dir.path().to_path_buf()]).unwrap();
    let names: Vec<&str> = set.policies().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert!(set.policies()[0].source.ends_with("a.yml"));
}

#[test]
fn oversized_files_and_missing_paths_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.yaml");
    fs::write(&big, format!("# {}\n", "x".repeat(MAX_FILE_BYTES as usize))).unwrap();
    let err = PolicySet::load(&[big]).unwrap_err();
    assert!(matches!(err.kind, LoadErrorKind::Unsupported(_)), "{err}");
    let err = PolicySet::load(&[dir.path().join("missing.yaml")]).unwrap_err();
    assert!(matches!(err.kind, LoadErrorKind::Io(_)));
}

#[test]
fn too_many_authorities_is_refused() {
    let authorities = "  - static: {action: pass}\n".repeat(compile::MAX_AUTHORITIES + 1);
    let text = format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {{name: p}}\nspec:\n  images: [{{glob: '**'}}]\n  authorities:\n{authorities}"
    );
    let err = load_error(&text);
    assert_eq!(err.field.as_deref(), Some("spec.authorities"));
}

#[test]
fn empty_documents_are_skipped_and_empty_text_is_an_empty_set() {
    let set = PolicySet::from_yaml("# only a comment\n---\n---\n", "p").unwrap();
    assert!(set.is_empty());
}

/// The policy limit the limit tests load up to: `MAX_POLICIES` (100,000) is too many for a
/// test to compile; `load::budget_tests` counts up to it.
const TEST_LIMIT: usize = 1000;

/// Load `text` with budgets of `TEST_LIMIT` policies.
fn load_with_test_limit(text: &str) -> Result<PolicySet, LoadError> {
    let mut builder = Builder::with_limit(TEST_LIMIT);
    builder.add(text, "p.yaml")?;
    Ok(builder.finish())
}

#[test]
fn too_many_policies_and_keys_are_refused() {
    let policy = |i: usize| {
        format!(
            "---\napiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {{name: p{i}}}\nspec: {{images: [{{glob: '**'}}], authorities: [{{static: {{action: pass}}}}]}}\n"
        )
    };
    let text: String = (0..=TEST_LIMIT).map(policy).collect();
    let err = load_with_test_limit(&text).unwrap_err();
    assert!(matches!(err.kind, LoadErrorKind::Unsupported(_)), "{err}");
    assert_eq!(err.object.as_deref(), Some("ClusterImagePolicy/p1000"));

    let keys = KEY.repeat(compile::MAX_KEYS + 1);
    let err = load_error(&key_policy("p", "**", "").replace(KEY, &keys));
    assert_eq!(
        err.field.as_deref(),
        Some("spec.authorities[0].key.data"),
        "{err}"
    );
}

#[test]
fn a_policy_fingerprint_follows_content_not_file_or_neighbours() {
    let one = key_policy("a", "registry.example/**", "");
    let other = key_policy("b", "other.example/**", "");
    let set = PolicySet::from_yaml(&one, "first.yaml").unwrap();
    let moved = PolicySet::from_yaml(&format!("{one}\n---\n{other}"), "second.yaml").unwrap();
    assert_eq!(
        set.policies()[0].fingerprint(),
        moved.policies()[0].fingerprint(),
        "same content in another file, next to another policy"
    );
    assert_ne!(set.policies()[0].fingerprint(), &[0; 32]);
    let warn = PolicySet::from_yaml(&one.replace("spec:\n", "spec:\n  mode: warn\n"), "w").unwrap();
    assert_ne!(
        set.policies()[0].fingerprint(),
        warn.policies()[0].fingerprint()
    );
}

#[test]
fn case_extensions_compile_with_their_defaults() {
    let set = PolicySet::from_yaml(&key_policy("p", "ghcr.io/**", ""), "p").unwrap();
    let policy = &set.policies()[0];
    assert_eq!(
        policy.multi_arch,
        MultiArch::Index,
        "policy-controller's default"
    );
    assert!(!policy.require_digest && policy.placeholders.is_empty());
    let extra = "  multiArch: allPlatforms
  requireDigest: true
  placeholders:
  - image: auto
    injector: istio-sidecar-injector
    containers: [istio-proxy]";
    let set = PolicySet::from_yaml(&key_policy("p", "ghcr.io/**", extra), "p").unwrap();
    let policy = &set.policies()[0];
    assert_eq!(policy.multi_arch, MultiArch::AllPlatforms);
    assert!(policy.require_digest);
    assert_eq!(policy.placeholders[0].injector, "istio-sidecar-injector");
    assert!(policy.placeholders[0].covers("istio-proxy", Some("any")));
    assert!(!policy.placeholders[0].covers("app", Some("any")));
}

#[test]
fn unknown_multi_arch_modes_and_pullable_placeholders_are_refused() {
    let error = load_error(&key_policy("p", "ghcr.io/**", "  multiArch: anyPlatform"));
    assert!(error.to_string().contains("spec.multiArch"), "{error}");
    let extra = "  placeholders:\n  - image: docker.io/library/auto\n    injector: x";
    let error = load_error(&key_policy("p", "ghcr.io/**", extra));
    assert!(
        error.to_string().contains("spec.placeholders[0].image"),
        "{error}"
    );
    let everywhere = "  placeholders:\n  - image: auto\n    injector: x";
    let error = load_error(&key_policy("p", "ghcr.io/**", everywhere));
    assert!(error.to_string().contains("containers"), "{error}");
}

/// Namespaced `ImagePolicy` objects have budgets of their own: a namespace full of them never
/// stops a cluster-wide policy from loading, and one namespace holds at most the limit.
#[test]
fn namespaced_policies_never_use_up_the_cluster_policies_budget() {
    let policy = |kind: &str, namespace: &str, i: usize| {
        let namespace = match namespace {
            "" => String::new(),
            ns => format!(", namespace: {ns}"),
        };
        format!(
            "---\napiVersion: signet.dev/v1alpha1\nkind: {kind}\nmetadata: {{name: p{i}{namespace}}}\n\
             spec: {{images: [{{glob: '**'}}], authorities: [{{static: {{action: pass}}}}]}}\n"
        )
    };
    let namespaced =
        |ns: &str, n: usize| -> String { (0..n).map(|i| policy("ImagePolicy", ns, i)).collect() };
    let crowded = format!(
        "{}{}",
        namespaced("crowd", TEST_LIMIT),
        policy("ClusterImagePolicy", "", 0)
    );
    let set = load_with_test_limit(&crowded).unwrap();
    assert_eq!(set.policies().len(), TEST_LIMIT + 1);
    assert!(set.policies().iter().any(|p| p.namespace.is_none()));

    let err = load_with_test_limit(&namespaced("crowd", TEST_LIMIT + 1)).unwrap_err();
    assert!(matches!(err.kind, LoadErrorKind::Unsupported(_)), "{err}");
    assert_eq!(err.object.as_deref(), Some("ImagePolicy/crowd/p1000"));
    assert!(err.to_string().contains("namespace \"crowd\""), "{err}");
}

/// policy-controller verifies with the first PEM block of `key.data` only; Signet would accept
/// any, so several blocks are refused unless Signet's `threshold` says what they mean.
#[test]
fn several_pem_blocks_in_key_data_need_a_threshold() {
    let second = "
        -----BEGIN PUBLIC KEY-----
        MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAExB6+H6054/W1SJgs5JR6AJr6J35J
        RCTfQ5s1kD+hGMSE1rH7s46hmXEeyhnlRnaGF8eMU/SBJE/2NKPnxE7WzQ==
        -----END PUBLIC KEY-----";
    let two = key_policy("p", "**", "").replace(KEY, &format!("{KEY}{second}"));
    let err = load_error(&two);
    assert!(matches!(err.kind, LoadErrorKind::Unsupported(_)), "{err}");
    assert_eq!(err.field.as_deref(), Some("spec.authorities[0].key.data"));
    assert!(err.to_string().contains("first one only"), "{err}");
    let with_threshold = two.replace("      data: |", "      threshold: 1\n      data: |");
    let set = PolicySet::from_yaml(&with_threshold, "p.yaml").unwrap();
    let AuthorityKind::Key(k) = &set.policies()[0].authorities[0].kind else {
        panic!("key authority expected")
    };
    assert_eq!(k.keys.len(), 2);
}

#[test]
fn attestations_compile_into_the_model_with_their_policies() {
    let set = PolicySet::from_yaml(
        &key_policy(
            "p",
            "**",
            "    attestations:\n    - {name: prov, predicateType: slsaprovenance1, policy: {type: cel, data: \"predicateType != ''\"}}\n    - {name: scan, predicateType: 'https://example.com/scan/v1'}",
        ),
        "p.yaml",
    )
    .unwrap();
    let attestations = &set.policies()[0].authorities[0].attestations;
    assert_eq!(attestations.len(), 2);
    assert_eq!(
        attestations[0].predicate_uri,
        "https://slsa.dev/provenance/v1"
    );
    assert_eq!(
        attestations[0].policy.as_ref().unwrap().language,
        PolicyLanguage::Cel
    );
    assert_eq!(attestations[1].predicate_uri, "https://example.com/scan/v1");
    assert!(attestations[1].policy.is_none());
    // The policy text is part of the fingerprint: a verdict cached under one never serves the other.
    let other = PolicySet::from_yaml(
        &key_policy(
            "p",
            "**",
            "    attestations:\n    - {name: prov, predicateType: slsaprovenance1, policy: {type: cel, data: \"predicateType == ''\"}}\n    - {name: scan, predicateType: 'https://example.com/scan/v1'}",
        ),
        "p.yaml",
    )
    .unwrap();
    assert_ne!(
        set.policies()[0].fingerprint(),
        other.policies()[0].fingerprint()
    );
    // A Rego syntax error names the field and the attestation.
    let err = load_error(&key_policy(
        "p",
        "**",
        "    attestations: [{name: prov, predicateType: vuln, policy: {type: rego, data: 'package sigstore\n\n      isCompliant {'}}]",
    ));
    assert_eq!(
        err.field.as_deref(),
        Some("spec.authorities[0].attestations[0].policy.data")
    );
    assert!(
        err.to_string()
            .contains("rego policy of attestation \"prov\""),
        "{err}"
    );
}
