//! `signet export crio` and `signet policy check`, as an operator runs them: a ClusterImagePolicy
//! set (key and keyless authorities, a namespaced ImagePolicy) exported with the real binary,
//! loaded back as containers-policy.json (`--policy policy.json --signature-policy-dir
//! namespaces`), and the same verdicts on the same images from a real registry. Also the
//! docs/crio.md's CRI-O example (`examples/crio-policy.json`) loading unchanged, judged on
//! containers/image's public-good Fulcio signature (fixtures:
//! `../shared/fixtures/third_party/containers-image`, containers/image @ `df7e80d2d198`).
// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use signet::engine::{Engine, EngineSettings};
use signet::policy::{AuthorityKind, Matcher, PolicySet};
use signet::reference::ImageReference;
use signet::registry::{Credentials, Registry, RegistryConfig};
use signet::reload::PolicySources;
use signet::signature::{Mismatch, Subject, check_keyless_authority};
use signet::workload::ImageUse;

use crate::common::audit::{signet, text};
use crate::common::containers_image::{manifest_digest, signature};
use crate::common::keyless::{
    GITHUB_ISSUER, Leaf, TestFulcio, TestRekor, signed_layer, trust_root_yaml,
};
use crate::common::webhook::{indent, key_policy};
use crate::common::{
    TestKey, TestRegistry, push_image, push_signature_layers, sign_image, simple_signing_payload,
};

const EMAIL: &str = "release@example.com";

fn engine(policies: PolicySet, host: &str) -> Engine {
    let config = RegistryConfig {
        insecure: vec![host.to_string()],
        ..RegistryConfig::default()
    };
    Engine::new(
        policies,
        Registry::new(config, Credentials::default()),
        EngineSettings::default(),
    )
}

async fn admitted(engine: &Engine, namespace: &str, image: &str) -> bool {
    let usage = ImageUse {
        path: "spec.containers[0]".into(),
        container: "app".into(),
        image: image.into(),
    };
    engine.review(Some(namespace), &[usage]).await.allowed()
}

/// The ClusterImagePolicy set: `team` images need key A, `keyless` images a certificate for
/// EMAIL, and in namespace `ops` team images also need key B.
fn cluster_policies(host: &str, a: &TestKey, b: &TestKey) -> String {
    let team = key_policy("team", &format!("{host}/team"), &a.public_pem).replace(
        "  images:\n",
        &format!("  images:\n  - glob: \"{host}/team/**\"\n"),
    );
    let keyless = [
        "apiVersion: policy.sigstore.dev/v1beta1",
        "kind: ClusterImagePolicy",
        "metadata:",
        "  name: keyless",
        "spec:",
        "  images:",
        &format!("  - glob: \"{host}/keyless\""),
        &format!("  - glob: \"{host}/keyless/**\""),
        "  authorities:",
        "  - keyless:",
        "      trustRootRef: test-sigstore",
        &format!("      identities: [{{issuer: {GITHUB_ISSUER}, subject: {EMAIL}}}]"),
        "",
    ]
    .join("\n");
    let ops = format!(
        "apiVersion: policy.sigstore.dev/v1alpha1\nkind: ImagePolicy\nmetadata:\n  name: ops-review\n  namespace: ops\n\
         spec:\n  images:\n  - glob: \"{host}/team\"\n  - glob: \"{host}/team/**\"\n  authorities:\n  - key:\n      data: |\n{}",
        indent(&b.public_pem, 8)
    );
    format!("{team}---\n{keyless}---\n{ops}")
}

#[tokio::test(flavor = "multi_thread")]
async fn exported_policies_give_the_same_verdicts_as_the_cluster_image_policies() {
    let registry = TestRegistry::start();
    let host = registry.host();
    let (a, b) = (TestKey::generate(), TestKey::generate());
    let (fulcio, rekor) = (TestFulcio::new(), TestRekor::new());
    let mut images = Vec::new();
    for (repo, keys) in [
        ("team/signed", vec![&a]),
        ("team/both", vec![&a, &b]),
        ("team/by-b", vec![&b]),
        ("team/unsigned", vec![]),
        ("elsewhere/app", vec![&a]),
    ] {
        let digest = push_image(&registry, &format!("{repo}:v1"), repo).await;
        for key in keys {
            sign_image(&registry, repo, &digest, key).await;
        }
        images.push(format!("{host}/{repo}:v1"));
    }
    for (repo, email) in [
        ("keyless/app", EMAIL),
        ("keyless/other", "mallory@example.com"),
    ] {
        let digest = push_image(&registry, &format!("{repo}:v1"), repo).await;
        let signer = fulcio.issue(&Leaf::email(email, GITHUB_ISSUER));
        let payload = simple_signing_payload(&format!("{host}/{repo}"), &digest);
        push_signature_layers(
            &registry,
            repo,
            &digest,
            vec![signed_layer(&fulcio, &signer, &rekor, payload)],
        )
        .await;
        images.push(format!("{host}/{repo}:v1"));
    }
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let cip = write("cip.yaml", &cluster_policies(&host, &a, &b));
    let root = write(
        "trust-root.yaml",
        &trust_root_yaml("test-sigstore", &fulcio, &rekor),
    );
    let out = dir.path().join("crio");
    let (cip_s, root_s, out_s) = (path(&cip), path(&root), path(&out));
    let run = signet(&[
        "export",
        "crio",
        "--policy",
        &cip_s,
        "--trust-root",
        &root_s,
        "--out",
        &out_s,
        "--strict",
    ])
    .await;
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    assert!(
        out.join("namespaces/ops.json").is_file(),
        "{}",
        text(&run.stderr)
    );

    let original = PolicySources {
        paths: vec![cip],
        trust_roots: vec![root],
        namespace_dir: None,
        notation: None,
    };
    let exported = PolicySources {
        paths: vec![out.join("policy.json")],
        trust_roots: Vec::new(),
        namespace_dir: Some(out.join("namespaces")),
        notation: None,
    };
    let exported_set = exported.load(None).unwrap();
    assert!(exported_set.is_containers_policy());
    let (before, after) = (
        engine(original.load(None).unwrap(), &host),
        engine(exported_set, &host),
    );
    let expected = [
        (
            "default",
            vec![true, true, false, false, false, true, false],
        ),
        ("ops", vec![false, true, false, false, false, true, false]),
    ];
    for (namespace, want) in expected {
        for (image, want) in images.iter().zip(want) {
            let (cip, crio) = (
                admitted(&before, namespace, image).await,
                admitted(&after, namespace, image).await,
            );
            assert_eq!(cip, want, "ClusterImagePolicy, {namespace}: {image}");
            assert_eq!(
                crio, cip,
                "exported containers-policy.json, {namespace}: {image}"
            );
        }
    }
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn strict_export_fails_on_what_containers_policy_cannot_say_and_writes_nothing() {
    let key = TestKey::generate();
    let dir = tempfile::tempdir().unwrap();
    let policy = key_policy("odd", "ghcr.io/*/app", &key.public_pem) + "  mode: warn\n";
    let file = dir.path().join("p.yaml");
    std::fs::write(&file, policy).unwrap();
    let out = dir.path().join("out");
    let (file_s, out_s) = (path(&file), path(&out));
    let strict = signet(&[
        "export", "crio", "--policy", &file_s, "--out", &out_s, "--strict",
    ])
    .await;
    let stderr = text(&strict.stderr);
    assert_eq!(strict.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("inexact: ClusterImagePolicy odd: mode: warn cannot be expressed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("glob ghcr.io/*/app is not a containers-policy.json scope"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing written");
    let lenient = signet(&["export", "crio", "--policy", &file_s, "--out", &out_s]).await;
    let stderr = text(&lenient.stderr);
    assert_eq!(lenient.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("refuses: ClusterImagePolicy odd: glob ghcr.io/*/app is not a containers-policy.json scope"),
        "{stderr}"
    );
    assert!(
        stderr.contains("signet: cannot export: with these files CRI-O would refuse images Signet admits (1 finding(s) marked `refuses` above); nothing written."),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing written without --strict either");
    let warn_only = key_policy("odd", "ghcr.io/team/**", &key.public_pem) + "  mode: warn\n";
    std::fs::write(&file, warn_only).unwrap();
    let lenient = signet(&["export", "crio", "--policy", &file_s, "--out", &out_s]).await;
    assert_eq!(lenient.status.code(), Some(0), "{}", text(&lenient.stderr));
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("policy.json")).unwrap()).unwrap();
    assert_eq!(
        written["transports"]["docker"]["ghcr.io/team"],
        serde_json::json!([{"type": "insecureAcceptAnything"}])
    );
}

/// The example policy admits `registry.k8s.io/pause*` by a static pass whose glob is no scope:
/// exported under `default: reject`, nodes would refuse the pause image, so nothing is written.
#[tokio::test(flavor = "multi_thread")]
async fn export_that_would_refuse_the_pause_image_signet_admits_fails() {
    let example = format!("{}/examples/policy.yaml", env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let run = signet(&["export", "crio", "--policy", &example, "--out", &path(&out)]).await;
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("signet: refuses: ClusterImagePolicy kubernetes-pause: glob registry.k8s.io/pause* is not a containers-policy.json scope"),
        "{stderr}"
    );
    assert!(stderr.contains("signet: cannot export: "), "{stderr}");
    assert!(!out.join("policy.json").exists(), "nothing written");
}

#[tokio::test(flavor = "multi_thread")]
async fn policy_check_prints_what_it_understood_and_exits_one_on_an_invalid_file() {
    let example = format!("{}/examples/crio-policy.json", env!("CARGO_MANIFEST_DIR"));
    let fixture = format!(
        "{}/../shared/fixtures/third_party/containers-image/signature/fixtures/policy.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let ok = signet(&["policy", "check", &example]).await;
    let stdout = text(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    for words in [
        "ok, 2 requirement(s)",
        "format: containers-policy.json",
        "transports.docker['quay.io/crio/signed']: requirement transports.docker['quay.io/crio/signed'][0]",
        "issuer \"https://github.com/login/oauth\" subjectEmail \"sgrunert@redhat.com\"",
        "Rekor logs c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d",
        "signedIdentity matchRepository",
        "default: requirement default[0]",
    ] {
        assert!(stdout.contains(words), "missing {words:?} in:\n{stdout}");
    }
    let bad = signet(&["policy", "check", &example, &fixture]).await;
    assert_eq!(bad.status.code(), Some(1));
    let stderr = text(&bad.stderr);
    assert!(
        stderr.contains("invalid: ")
            && stderr.contains("transports.docker[\"example.com/production\"][0].type: signedBy"),
        "{stderr}"
    );
}

/// docs/crio.md's CRI-O example: the Kubernetes blog's policy with the public-good Fulcio root
/// and Rekor key, loaded unchanged; containers/image's public-good signature (mitr@redhat.com)
/// judged under it for `quay.io/crio/signed` is refused in the blog's words.
#[test]
fn the_readme_crio_example_loads_unchanged_and_judges_a_public_good_signature() {
    let example: PathBuf = [env!("CARGO_MANIFEST_DIR"), "examples", "crio-policy.json"]
        .iter()
        .collect();
    let set = PolicySet::load(&[example]).unwrap();
    let fixture = "dir-img-cosign-fulcio-rekor-valid";
    let digest = manifest_digest(fixture);
    let image = ImageReference::parse(&format!("quay.io/crio/signed@{digest}")).unwrap();
    let matching = set.matching(&image, None);
    let AuthorityKind::Keyless(keyless) = &matching[0].authorities[0].kind else {
        panic!("a keyless requirement");
    };
    assert!(
        matches!(&keyless.identities[0].subject, Matcher::Email(e) if e == "sgrunert@redhat.com")
    );
    let layer = signature(&format!("{fixture}/signature-1")).layer;
    let verdict = check_keyless_authority(
        keyless,
        Subject {
            image: &image,
            digest: &digest,
        },
        &[layer],
    );
    assert_eq!(
        verdict.unwrap_err(),
        Mismatch::EmailNotFound {
            required: "sgrunert@redhat.com".into(),
            found: vec!["mitr@redhat.com".into()],
        }
    );
    let other = ImageReference::parse("quay.io/crio/unsigned").unwrap();
    assert_eq!(set.matching(&other, None)[0].authorities[0].name, "reject");
}
