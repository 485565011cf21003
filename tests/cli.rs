//! The `signet` binary as a CI pipeline uses it: `review` and `verify` against a real registry,
//! exit codes, table and JSON output, and clear errors for bad policies.

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Output;

use common::audit::{signet, text};
use common::webhook::{container, key_policy, pod_review};
use common::{TestKey, TestRegistry, push_image, sign_image};

struct Repo {
    registry: TestRegistry,
    dir: tempfile::TempDir,
    signed: String,
}

/// A registry with a signed `demo/app:v1` and an unsigned `demo/tool:v1`, and a policy file.
async fn repo() -> Repo {
    let registry = TestRegistry::start();
    let key = TestKey::generate();
    let signed = push_image(&registry, "demo/app:v1", "app").await;
    sign_image(&registry, "demo/app", &signed, &key).await;
    push_image(&registry, "demo/tool:v1", "tool").await;
    let dir = tempfile::tempdir().unwrap();
    let policy = key_policy("demo", &format!("{}/**", registry.host()), &key.public_pem);
    std::fs::write(dir.path().join("policy.yaml"), policy).unwrap();
    Repo {
        registry,
        dir,
        signed,
    }
}

impl Repo {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn write(&self, name: &str, content: &str) -> String {
        std::fs::write(self.dir.path().join(name), content).unwrap();
        self.path(name)
    }

    fn deployment(&self, image_repo: &str) -> String {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: {}/{image_repo}:v1\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n",
            self.registry.host()
        )
    }

    async fn review(&self, file: &str, extra: &[&str]) -> Output {
        let policy = self.path("policy.yaml");
        let host = self.registry.host();
        let mut args = vec!["review", "--policy", &policy, "--insecure-registry", &host];
        args.extend_from_slice(extra);
        args.push(file);
        signet(&args).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn review_of_a_signed_deployment_exits_zero_and_prints_the_digest() {
    let repo = repo().await;
    let file = repo.write("ok.yaml", &repo.deployment("demo/app"));
    let out = repo.review(&file, &[]).await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("admit"), "{stdout}");
    assert!(stdout.contains(&repo.signed), "{stdout}");
    assert!(
        stdout.contains("spec.template.spec.containers[0] (web)"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn review_of_an_unsigned_deployment_exits_one_with_the_reason_as_json() {
    let repo = repo().await;
    let file = repo.write("bad.yaml", &repo.deployment("demo/tool"));
    let out = repo.review(&file, &["--output", "json"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    let object = &json[0];
    assert_eq!(object["object"], "Deployment/web");
    assert_eq!(object["allowed"], false);
    assert_eq!(object["images"][0]["outcome"], "deny");
    assert_eq!(object["images"][0]["reason"], "NoSignature");
    assert!(
        object["message"]
            .as_str()
            .unwrap()
            .starts_with("SignatureValidationFailed: spec.template.spec.containers[0] (web)")
    );
    assert_eq!(
        json.as_array().unwrap().len(),
        1,
        "the Service is not reviewed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn review_accepts_admission_review_files_with_the_same_verdict() {
    let repo = repo().await;
    let image = format!("{}/demo/tool:v1", repo.registry.host());
    let review = pod_review("from-file", vec![container("tool", &image)], vec![]);
    let file = repo.write("review.json", &review.to_string());
    let out = repo.review(&file, &["--output", "json"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["images"][0]["reason"], "NoSignature");
    assert!(json[0]["object"].as_str().unwrap().contains("from-file"));
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_prints_what_it_found_for_one_image() {
    let repo = repo().await;
    let policy = repo.path("policy.yaml");
    let host = repo.registry.host();
    let good = format!("{host}/demo/app:v1");
    let out = signet(&[
        "verify",
        "--policy",
        &policy,
        "--insecure-registry",
        &host,
        &good,
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("signed by key sha256:"),
        "{}",
        text(&out.stdout)
    );
    let bad = format!("{host}/demo/tool:v1");
    let out = signet(&[
        "verify",
        "--policy",
        &policy,
        "--insecure-registry",
        &host,
        &bad,
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("A signature was required, but no signature exists"));
}

#[tokio::test(flavor = "multi_thread")]
async fn unsupported_policy_fields_are_refused_naming_file_object_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("kms.yaml");
    std::fs::write(
        &policy,
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: cloud-keys\nspec:\n  images:\n  - glob: \"**\"\n  authorities:\n  - key:\n      kms: awskms:///arn:aws:kms:us-east-1:111122223333:key/abc\n",
    )
    .unwrap();
    let manifest = dir.path().join("pod.yaml");
    std::fs::write(&manifest, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: nginx}]}\n").unwrap();
    let out = signet(&["review", "--policy", path(&policy), path(&manifest)]).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("kms.yaml"), "{stderr}");
    assert!(stderr.contains("cloud-keys"), "{stderr}");
    assert!(stderr.contains("spec.authorities[0].key.kms"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_embedded_example_policy_loads_without_flags() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("pod.yaml");
    std::fs::write(&manifest, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: registry.k8s.io/pause:3.10}]}\n").unwrap();
    let out = signet(&["review", "--output", "json", path(&manifest)]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    assert_eq!(json[0]["object"], "Pod/p");
    assert_eq!(json[0]["images"][0]["outcome"], "admit");
    assert!(
        stderr.contains("embedded"),
        "says it uses the embedded policy: {stderr}"
    );
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}
